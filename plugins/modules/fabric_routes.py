#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fabric_routes
short_description: Converge the fabric's tagged routes on a host (backends made of routes only)
version_added: "0.2.0"
description:
  - Owns the routes of table main whose protocol is O(route_protocol) (C(proto 244) by default),
    for the backends of crosshost.fabric that are routes and nothing else (C(host-gw); later
    C(bgp)'s static part). C(crosshost.fabric.hostgw_state) computes O(routes) on the controller.
  - Reads the live routes with C(ip -j), computes the difference and applies it in one
    C(ip -batch -) (deletions first, then C(ip route replace)). A run with nothing to do changes
    nothing and reports C(changed=false). Check and diff mode are supported.
  - 'What the module owns: every route of table main with protocol O(route_protocol), whichever
    backend of the fabric installed it (all backends tag their routes alike, so a switch of
    backend replaces a route in place). Routes with another protocol are never touched, and a
    desired route whose place (destination, metric) is held by one is refused, not replaced.'
  - Everything is validated before anything changes. A route to C(0.0.0.0/0), outside
    O(cluster_network) or overlapping O(local_subnet) is refused.
  - With O(require_adjacent=true) every gateway must be directly reachable (C(ip route get VIA)
    answers with no gateway, out of the route's device) before anything changes; otherwise the
    module fails and names every route, gateway and peer that is not.
  - Optionally writes a boot script O(persist_file) that restores exactly the desired routes
    without Ansible; the C(crosshost.fabric.hostgw) role runs it at boot from
    C(crosshost-fabric-routes.service), before Docker starts.
  - The same route code (C(module_utils/routes.py)) serves M(crosshost.fabric.fabric_vxlan).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - crosshost.fabric.attributes
  - crosshost.fabric.routes
options:
  state:
    description:
      - V(present) converges the owned routes to O(routes).
      - V(absent) removes every owned route (unless O(purge_routes=false)) and the boot script.
    type: str
    choices: [present, absent]
    default: present
  require_adjacent:
    description:
      - Refuse, before any change, unless every gateway is directly reachable on the route's
        device (no router in between), the precondition of C(host-gw).
      - Checked in check mode too, so that a C(check_mode=true) run of the module is the
        precondition check of a play.
    type: bool
    default: false
  purge_routes:
    description:
      - With O(state=absent), delete every owned route. V(false) leaves them (another backend
        of the fabric takes them over) and removes only the boot script.
    type: bool
    default: true
  persist:
    description:
      - Write the boot script O(persist_file) (POSIX sh) whose content is exactly the desired
        routes; written atomically and only when it differs; removed with O(state=absent).
      - When V(false), an existing script is left alone.
    type: bool
    default: true
  persist_file:
    description: Path of the boot script.
    type: path
    default: /etc/crosshost-fabric/routes.sh
notes:
  - The script replaces every route with C(ip -force -batch) (it adds, it never deletes; at boot
    there is nothing to delete).
seealso:
  - name: flannel host-gw backend
    description: The design this module serves.
    link: https://github.com/flannel-io/flannel/blob/master/Documentation/backends.md#host-gw
author:
  - crosshost.fabric developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: host-gw routes to two peers on the same segment
  crosshost.fabric.fabric_routes:
    cluster_network: 10.244.0.0/16
    local_subnet: 10.244.1.0/24
    require_adjacent: true
    routes:
      - {dst: 10.244.2.0/24, via: 192.0.2.12, dev: eth0, peer: node2}
      - {dst: 10.244.3.0/24, via: 192.0.2.13, dev: eth0, peer: node3}

- name: From the controller's plan (what the crosshost.fabric.hostgw role does)
  crosshost.fabric.fabric_routes:
    route_protocol: "{{ _gw.route_protocol }}"
    cluster_network: "{{ _gw.cluster_network }}"
    local_subnet: "{{ _gw.local_subnet }}"
    require_adjacent: true
    routes: "{{ _gw.routes }}"
  vars:
    _gw: "{{ fabric_plan | crosshost.fabric.hostgw_state(inventory_hostname) }}"

- name: Remove every fabric route and the boot script
  crosshost.fabric.fabric_routes:
    state: absent
"""

RETURN = r"""
added:
  description: Routes added or replaced (or that would be), one a line.
  returned: always
  type: list
  elements: str
  sample: ["10.244.3.0/24 via 192.0.2.13 dev eth0 proto 244"]
removed:
  description: Routes removed or replaced (or that would be), one a line.
  returned: always
  type: list
  elements: str
  sample: ["10.244.9.0/24 via 192.0.2.19 dev eth0 proto 244"]
batch:
  description: The C(ip -batch) lines applied (or that would be), in order; empty when nothing changes.
  returned: always
  type: list
  elements: str
  sample: ["route replace 10.244.3.0/24 via 192.0.2.13 dev eth0 proto 244"]
script:
  description: Path of the boot script, or null when O(persist=false).
  returned: always
  type: str
  sample: /etc/crosshost-fabric/routes.sh
script_changed:
  description: Whether the boot script was (or would be) written or removed.
  returned: always
  type: bool
route_choice:
  description: For each route destination with O(routes[].direct), C(direct) or C(tunnel) (the given route).
  returned: when a route has O(routes[].direct)
  type: dict
  sample: {"10.244.2.0/24": direct, "10.244.3.0/24": tunnel}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_native  # noqa: E402

from ansible_collections.crosshost.fabric.plugins.module_utils import iproute, persist, routes  # noqa: E402

C_ENV = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


def render_script(want, protocol):
    comments = [
        "Managed by Ansible (crosshost.fabric.fabric_routes). Do not edit: the next run",
        "rewrites it. Restores the fabric routes (proto %d) exactly as last applied. Run at" % protocol,
        "boot by crosshost-fabric-routes.service, before Docker; safe to run again at any time.",
    ]
    body = ["rc=0", ""] + routes.script_lines(want, protocol)
    return persist.shell_script(comments, body)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent"]),
            route_protocol=dict(type="int", default=244),
            routes=routes.routes_argument_spec(),
            cluster_network=dict(type="str"),
            local_subnet=dict(type="str"),
            require_adjacent=dict(type="bool", default=False),
            purge_routes=dict(type="bool", default=True),
            persist=dict(type="bool", default=True),
            persist_file=dict(type="path", default="/etc/crosshost-fabric/routes.sh"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    ip = module.get_bin_path("ip", required=True)

    def run(argv, data=None):
        return module.run_command(argv, data=data, binary_data=True, environ_update=C_ENV, expand_user_and_vars=False)

    present = p["state"] == "present"
    try:
        proto = routes.check_protocol(p["route_protocol"])
        want = routes.desired(p["routes"], None, p["cluster_network"], p["local_subnet"]) if present else {}
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))

    route_choice = {}
    try:
        if present and any(rec["direct"] for rec in want.values()):
            want, route_choice = routes.resolve_direct(run, ip, want)
        if present and p["require_adjacent"]:
            problems = routes.not_adjacent(run, ip, want)
            if problems:
                module.fail_json(
                    msg="these peers are not directly reachable from this host, which host-gw needs "
                    "(no router between hosts); nothing was changed. Use fabric_backend=vxlan with "
                    "fabric_vxlan_direct_routing=true instead: it routes directly where it can and "
                    "tunnels elsewhere.\n  - " + "\n  - ".join(problems),
                    not_adjacent=problems,
                )
        owned = routes.read_owned(run, ip, proto)
        if present:
            plan = routes.reconcile(run, ip, proto, want, owned)
        elif p["purge_routes"]:
            plan = routes.purge(owned, proto)
        else:
            plan = routes.RoutePlan()
            plan.before = ["route " + routes.route_text(rec, proto) for rec in owned]
            plan.after = plan.before
    except routes.RouteConflict as exc:
        module.fail_json(msg=to_native(exc))
    except iproute.IprouteError as exc:
        module.fail_json(**exc.as_dict())

    script = p["persist_file"] if p["persist"] else None
    script_diff = None
    content = render_script(want, proto) if present else None
    if script:
        script_diff = persist.diff_item(script, content)
    batch = plan.deletes + plan.replaces
    changed = bool(batch) or script_diff is not None

    if changed and not module.check_mode:
        try:
            iproute.run_batch(run, ip, batch)
        except iproute.IprouteError as exc:
            result = exc.as_dict()
            result["msg"] = "applying the route change failed: %s" % exc.msg
            module.fail_json(changed=True, batch=batch, **result)
        if script_diff is not None:
            try:
                persist.write(script, content, mode=0o755)
            except (IOError, OSError) as exc:
                module.fail_json(msg="cannot write %s: %s" % (script, to_native(exc)), changed=True)

    result = dict(
        changed=changed,
        added=plan.added,
        removed=plan.removed,
        batch=batch,
        script=script,
        script_changed=script_diff is not None,
    )
    if route_choice:
        result["route_choice"] = route_choice
    if module._diff:
        after = plan.after if present or not p["purge_routes"] else []
        result["diff"] = [
            {
                "before_header": "routes proto %d (live)" % proto,
                "after_header": "routes proto %d (desired)" % proto,
                "before": "".join(line + "\n" for line in sorted(plan.before)),
                "after": "".join(line + "\n" for line in sorted(after)),
            }
        ]
        if script_diff is not None:
            result["diff"].append(script_diff)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
