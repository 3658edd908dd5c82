#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fabric_verify
short_description: Probe every peer's subnet over the fabric and check the backend's health on a host (read only)
version_added: "0.3.0"
description:
  - Pings every peer's docker0 gateway from this host's own gateway address (O(source)), all peers at
    once, so an answer proves the fabric's routes in both directions between the two subnets.
  - 'Compares what the host holds with the plan, per peer, for the backends that have a health check
    (C(module_utils/health.py)): C(vxlan) the VTEP, and per peer its permanent neighbour entry, its
    permanent FDB entry and its route; C(host-gw) per peer its route; C(bgp) per peer the BIRD sessions
    that carry its routes are Established (C(birdc show protocols)); C(udp) the daemon answering on
    its status socket with its counters (else C(daemon down)), the TUN device, and per peer its entry
    in the peer table of the daemon. Other backends are probed only (their checks plug into the same
    place).'
  - Changes nothing, in check mode or not (C(changed) is always false).
    M(crosshost.fabric.fabric_verify)'s results from every host are turned into the fabric's matrix
    by the filter C(crosshost.fabric.verify_report); C(playbooks/verify.yml) does both.
requirements:
  - iproute2 with JSON output (C(ip -j)) and C(ping) (iputils or busybox) on the managed host.
  - C(birdc) (BIRD 2) for backend C(bgp).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - crosshost.fabric.attributes
attributes:
  diff_mode:
    support: none
    details:
      - Nothing changes, so there is nothing to show.
options:
  backend:
    description: The fabric's backend (C(fabric_plan.backend)); selects the health check.
    type: str
    required: true
  source:
    description: This host's docker0 gateway, the source address of the probes.
    type: str
    required: true
  peers:
    description: Every peer, with the address to probe and what the plan puts on this host for it.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Inventory name of the peer.
        type: str
        required: true
      address:
        description: The peer's docker0 gateway.
        type: str
        required: true
      expect:
        description:
          - What this host must hold for the peer, by backend. C(vxlan) C(neighbour) (dst, lladdr),
            C(fdb) (lladdr, dst) and C(route); C(host-gw) C(route); C(udp) C(udp_peer) (subnet, ip,
            port). A C(route) is dst, via, dev, onlink,
            and optionally C(direct) (via, dev), the alternative of VXLAN's direct routing.
          - C(bgp) C(sessions), a list of (name, address, peer), the BIRD protocols that carry the peer's
            routes; each must be Established.
        type: dict
        default: {}
  device:
    description: The VTEP of backend C(vxlan) (C(flannel.<vni>)), the TUN device of C(udp) (C(flannel0)).
    type: str
  route_protocol:
    description: The protocol number tagging the fabric's routes.
    type: int
    default: 244
  probe:
    description: Ping the peers (false checks the entries only).
    type: bool
    default: true
  count:
    description: Pings per peer, 0.2 s apart; a peer answers when any one comes back.
    type: int
    default: 3
  timeout:
    description: Seconds to wait for the last reply.
    type: int
    default: 1
author:
  - crosshost.fabric developers (!UNKNOWN)
"""

EXAMPLES = r"""
# What playbooks/verify.yml does on every host: its part of the plan, from the verify_state filter.
- name: Probe every peer and check this host's entries
  crosshost.fabric.fabric_verify:
    backend: "{{ _v.backend }}"
    source: "{{ _v.source }}"
    device: "{{ _v.device }}"
    route_protocol: "{{ _v.route_protocol }}"
    peers: "{{ _v.peers }}"
  vars:
    _v: "{{ fabric_plan | crosshost.fabric.verify_state(inventory_hostname) }}"
  register: crosshost_verify_result
"""

RETURN = r"""
peers:
  description: Per peer (inventory name) the probe's result and the issues found on this host for that peer.
  returned: always
  type: dict
  sample:
    node2:
      probe: {ok: false, received: 0, sent: 3, address: 10.244.2.1}
      issues: [{kind: missing entry, msg: "no permanent neighbour entry for node2's VTEP 10.244.2.0 ..."}]
host_issues:
  description: Issues of this host that concern every peer (the VTEP missing or down, a read error).
  returned: always
  type: list
  elements: dict
checked:
  description: Whether the backend has a health check (false - probed only).
  returned: always
  type: bool
udp_daemon:
  description: Backend C(udp), the running daemon's counters and drops (what C(crosshost-fabric-udp status) shows).
  returned: when the backend is udp and its daemon answers
  type: dict
  sample: {counters: {tx_packets: 120, rx_packets: 118}, drops: {not_peer: 0, bad_source: 0}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.crosshost.fabric.plugins.module_utils import health

C_ENV = {"LC_ALL": "C", "LANG": "C"}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", required=True),
            source=dict(type="str", required=True),
            peers=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    name=dict(type="str", required=True),
                    address=dict(type="str", required=True),
                    expect=dict(type="dict", default={}),
                ),
            ),
            device=dict(type="str"),
            route_protocol=dict(type="int", default=244),
            probe=dict(type="bool", default=True),
            count=dict(type="int", default=3),
            timeout=dict(type="int", default=1),
        ),
        supports_check_mode=True,
    )
    p = module.params
    tools = {
        "ip": module.get_bin_path("ip", required=True),
        "bridge": module.get_bin_path("bridge") or "bridge",
        "birdc": module.get_bin_path("birdc") if p["backend"] == "bgp" else None,
    }

    def run(argv, data=None):
        return module.run_command(argv, data=data, binary_data=True, environ_update=C_ENV, expand_user_and_vars=False)

    host_issues, per_peer, checked = health.check(p["backend"], run, tools, p, p["peers"])
    probes = {}
    if p["probe"] and p["peers"]:
        ping = module.get_bin_path("ping")
        if ping:
            probes = health.probe_all(ping, p["source"], dict((x["name"], x["address"]) for x in p["peers"]),
                                      count=p["count"], timeout=p["timeout"])
        else:
            host_issues.append(health.issue(health.NO_PROBE, "no ping command on this host (install iputils-ping)"))
    peers = {}
    for peer in p["peers"]:
        name = peer["name"]
        peers[name] = {"probe": probes.get(name), "issues": per_peer.get(name, [])}
    extra = {}
    if p["backend"] == "udp" and not any(i["kind"] == health.DAEMON_DOWN for i in host_issues):
        try:
            status = health.read_udp_status()
            extra["udp_daemon"] = {"counters": status.get("counters"), "drops": status.get("drops")}
        except (OSError, ValueError):
            pass
    module.exit_json(changed=False, peers=peers, host_issues=host_issues, checked=checked, **extra)


if __name__ == "__main__":
    main()
