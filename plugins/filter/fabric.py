# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the fabric plan into one host's desired state.

Thin wrappers: the per-peer work is done by the planner, tested there; the
roles only pass its output to the host-side modules. Docs: the YAML files
beside this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.fabric.plugins.filter.host_state import files_absent
from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp, planner, undo, verify


def _wrap(func):
    def filter_func(plan, host, *args, **kwargs):
        if planner.netaddr is None:
            raise AnsibleFilterError(planner.NETADDR_MISSING)
        if not isinstance(plan, dict) or "hosts" not in plan:
            raise AnsibleFilterError(
                "%s: expected the fabric_plan fact (run crosshost.fabric.plan first)" % func.__name__
            )
        try:
            return func(plan, host, *args, **kwargs)
        except planner.PlanError as exc:
            raise AnsibleFilterError(str(exc)) from None

    filter_func.__name__ = func.__name__
    filter_func.__doc__ = func.__doc__
    return filter_func


class FilterModule:
    def filters(self):
        filters = {
            name: _wrap(getattr(planner, name))
            for name in ("vxlan_state", "hostgw_state", "udp_state", "firewall_state", "docker_config", "subnet_env")
        }
        filters["bgp_state"] = _wrap(bgp.bgp_state)
        filters["verify_state"] = _wrap(verify.verify_state)
        filters["verify_report"] = verify_report
        filters["transition_plan"] = transition_plan
        filters["backend_absent_passes"] = backend_absent_passes
        filters["vxlan_stale_devices"] = vxlan_stale_devices
        filters["docker_undo"] = docker_undo
        filters["docker_restore"] = undo.docker_restore
        filters["docker_restart_config"] = undo.docker_restart_config
        filters["forward_record"] = forward_record
        filters["backend_role"] = backend_role
        return filters


def docker_undo(current, fabric, existed=True, subnet_env="", bridge=""):
    """The record of what the fabric changes in daemon.json and subnet.env (plugin_utils/undo.py)."""
    return undo.docker_undo(current, fabric, existed, subnet_env or None, bridge or None)


def verify_report(plan, hostvars, hosts, key="crosshost_verify_result"):
    """The verify matrix from every host's registered ``key`` (see plugin_utils/verify.py)."""
    _plan(plan, "verify_report")
    results = {}
    for h in hosts:
        try:
            results[h] = hostvars[h].get(key)
        except KeyError:
            results[h] = None
    return verify.verify_report(plan, results, hosts)


def _plan(plan, name):
    if not isinstance(plan, dict) or "hosts" not in plan:
        raise AnsibleFilterError("%s: expected the fabric_plan fact (run crosshost.fabric.plan first)" % name)
    return plan


def transition_plan(plan, switch_from, udp_record=None, vteps=None):
    """The plan of a backend switch's forward rules (plugin_utils/planner.py)."""
    if isinstance(switch_from, str) or not all(isinstance(b, str) for b in switch_from or []):
        raise AnsibleFilterError("transition_plan: expected a list of backend role names, got %r" % (switch_from,))
    if isinstance(vteps, str) or not all(isinstance(d, str) for d in vteps or []):
        raise AnsibleFilterError("transition_plan: expected a list of VXLAN device names, got %r" % (vteps,))
    return planner.transition_plan(_plan(plan, "transition_plan"), switch_from, udp_record or None, vteps or None)


def backend_absent_passes(plan, roles, state=None, footprints=None):
    """The other backends' removal passes (plugin_utils/planner.py), given the one read of the host
    (``state``, crosshost.fabric.fabric_host_state's result) and what each backend leaves (``footprints``,
    by role): a backend of which the read found none of its footprints has nothing left."""
    if isinstance(roles, str) or not all(isinstance(r, str) for r in roles or []):
        raise AnsibleFilterError("backend_absent_passes: expected a list of backend role names, got %r" % (roles,))
    footprints = footprints or {}
    left = {role: not files_absent(state or {}, footprints.get(role) or []) for role in roles}
    return planner.backend_absent_passes(_plan(plan, "backend_absent_passes"), list(roles), left)


def vxlan_stale_devices(scripts, plan=None):
    """The collection's VTEPs to remove, from the VTEP boot scripts found on a host (plugin_utils/planner.py)."""
    if isinstance(scripts, (str, bytes, dict)) or not all(isinstance(s, str) for s in scripts or []):
        raise AnsibleFilterError("vxlan_stale_devices: expected a list of boot script paths, got %r" % (scripts,))
    if plan:
        _plan(plan, "vxlan_stale_devices")
    return planner.vxlan_stale_devices(list(scripts or []), plan or None)


def forward_record(lines, ip_forward=None):
    """The forward record's values from the forward role's read (plugin_utils/undo.py)."""
    if isinstance(lines, (str, bytes, dict)):
        raise AnsibleFilterError("forward_record: expected the read's output lines (stdout_lines), got %r" % (lines,))
    return undo.forward_record(list(lines or []), ip_forward if ip_forward not in ("", None) else None)


def backend_role(backend):
    """The role that builds a backend on hosts (plugin_utils/planner.py): host-gw is built by hostgw."""
    if not isinstance(backend, str):
        raise AnsibleFilterError("backend_role: expected a backend name, got %r" % (backend,))
    return planner.backend_role(backend)
