"""The backend role's dispatch after building the planned backend: which other backends' removal
passes run and whether they purge the fabric's tagged routes (planner.backend_absent_passes and its
filter, which roles/backend/tasks/main.yml loops over)."""

import itertools

import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, Settings

ROLES = ["vxlan", "hostgw", "bgp", "udp"]


def plan_for(backend):
    hosts = [HostInput(name="n1", public_ip="192.0.2.11", iface="eth0", public_net="192.0.2.0/24")]
    return planner.build_plan(Settings(backend=backend), hosts)[0]


def old_rule(planned, other, nothing_found):
    """The rule roles/backend/tasks/main.yml wrote in Jinja before (its `when` and `*_purge_routes`)."""
    runs = not (nothing_found and (other in ["bgp", "udp"] or planned != "bgp"))
    return runs, planned == "bgp" and other in ("vxlan", "hostgw")


@pytest.mark.parametrize("planned", ["vxlan", "host-gw", "bgp", "udp"])
def test_the_passes_are_those_of_the_old_rule_for_every_read(planned):
    """Every combination of what the read found, for every planned backend: same passes, same order,
    same purge as the rule the role had in Jinja."""
    for found in itertools.product([True, False], repeat=len(ROLES)):
        nothing = dict(zip(ROLES, found, strict=True))
        passes = planner.backend_absent_passes(plan_for(planned), ROLES, {r: not n for r, n in nothing.items()})
        want = []
        for role in ROLES:
            if role == planned.replace("-", ""):
                continue
            runs, purge = old_rule(planned, role, nothing[role])
            if runs:
                want.append({"role": role, "purge_routes": purge})
        assert passes == want, (planned, nothing)


def test_without_a_read_every_other_pass_runs_and_only_entering_bgp_purges():
    assert planner.backend_absent_passes(plan_for("vxlan"), ROLES, {}) == [
        {"role": "hostgw", "purge_routes": False}, {"role": "bgp", "purge_routes": False},
        {"role": "udp", "purge_routes": False}]
    assert planner.backend_absent_passes(plan_for("bgp"), ROLES, {}) == [
        {"role": "vxlan", "purge_routes": True}, {"role": "hostgw", "purge_routes": True},
        {"role": "udp", "purge_routes": False}]


def test_entering_bgp_the_tagged_routes_go_even_when_the_read_found_nothing():
    nothing = {r: False for r in ROLES}
    assert planner.backend_absent_passes(plan_for("bgp"), ROLES, nothing) == [
        {"role": "vxlan", "purge_routes": True}, {"role": "hostgw", "purge_routes": True}]
    assert planner.backend_absent_passes(plan_for("host-gw"), ROLES, nothing) == []


def test_the_filter_reads_the_footprints_in_the_read():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.crosshost.fabric.plugins.filter.fabric import FilterModule

    passes = FilterModule().filters()["backend_absent_passes"]
    footprints = {"vxlan": ["/etc/a", "/sys/class/net/flannel.1"], "hostgw": ["/etc/b"], "bgp": ["/etc/c"],
                  "udp": ["/etc/d", "/etc/e"]}
    read = {"files": {"/etc/a": {"exists": False}, "/sys/class/net/flannel.1": {"exists": True},
                      "/etc/b": {"exists": False}, "/etc/c": {"exists": False}, "/etc/d": {"exists": False}}}
    # vxlan: its device is there; hostgw, bgp: nothing; udp: /etc/e was not read, so it may be there
    assert passes(plan_for("host-gw"), ROLES, read, footprints) == [
        {"role": "vxlan", "purge_routes": False}, {"role": "udp", "purge_routes": False}]
    assert [p["role"] for p in passes(plan_for("udp"), ROLES, {}, footprints)] == ["vxlan", "hostgw", "bgp"]
    with pytest.raises(AnsibleFilterError, match="expected the fabric_plan fact"):
        passes({}, ROLES, read, footprints)
    with pytest.raises(AnsibleFilterError, match="expected a list of backend role names"):
        passes(plan_for("vxlan"), "vxlan", read, footprints)
