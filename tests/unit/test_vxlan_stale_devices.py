"""Which of the collection's VTEPs a host must lose (issue 11: a change of fabric_vxlan_vni left the old
VTEP behind): planner.vxlan_stale_devices and its filter, which roles/backend/tasks/main.yml and reset.yml
give the vxlan role. The VTEPs are named by the boot scripts the one read of the host lists."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.fabric.plugins.filter.fabric import FilterModule
from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, Settings

DIR = "/etc/crosshost-fabric/"
FILTER = FilterModule().filters()["vxlan_stale_devices"]


def plan_for(backend, vni=1):
    hosts = [HostInput(name="n1", public_ip="192.0.2.11", iface="eth0", public_net="192.0.2.0/24")]
    return planner.build_plan(Settings(backend=backend, vxlan_vni=vni), hosts)[0]


def scripts(*vnis):
    return [DIR + "flannel.%s.sh" % v for v in vnis]


def test_a_new_vni_makes_the_old_vtep_stale_and_keeps_the_planned_one():
    assert planner.vxlan_stale_devices(scripts(1, 2), plan_for("vxlan", 2)) == ["flannel.1"]
    assert planner.vxlan_stale_devices(scripts(2), plan_for("vxlan", 2)) == []
    # The planned VTEP not built yet (first run after the change): the old one is stale all the same.
    assert planner.vxlan_stale_devices(scripts(1), plan_for("vxlan", 2)) == ["flannel.1"]


def test_on_another_backend_and_without_a_plan_every_vtep_goes_in_vni_order():
    found = scripts(10, 2, 1)
    for backend in ("host-gw", "bgp", "udp"):
        assert planner.vxlan_stale_devices(found, plan_for(backend, 2)) == ["flannel.1", "flannel.2", "flannel.10"]
    assert planner.vxlan_stale_devices(found) == ["flannel.1", "flannel.2", "flannel.10"]
    assert planner.vxlan_stale_devices(found, {}) == ["flannel.1", "flannel.2", "flannel.10"]


def test_only_the_collections_script_names_count_each_once():
    others = [DIR + name for name in (
        "flannel.0.sh", "flannel.01.sh", "flannel.16777216.sh", "flannel.123456789.sh", "flannel.x.sh",
        "flannel.1.sh.bak", ".flannel.1.sh.tmp", "flannel.1", "routes.sh", "flannel0.sh", "flannel.-1.sh")]
    assert planner.vxlan_stale_devices(others) == []
    assert planner.vxlan_stale_devices(others + scripts(16777215, 7) + ["flannel.7.sh"]) == [
        "flannel.7", "flannel.16777215"]
    assert planner.vxlan_stale_devices([]) == [] and planner.vxlan_stale_devices(None) == []


def test_the_filter_takes_the_read_list_and_an_optional_plan():
    assert FILTER(scripts(1, 2), plan_for("vxlan", 2)) == ["flannel.1"]
    assert FILTER(scripts(1, 2)) == ["flannel.1", "flannel.2"]
    assert FILTER([]) == []
    for bad in (DIR + "flannel.1.sh", {"a": 1}, [1, 2]):
        with pytest.raises(AnsibleFilterError, match="expected a list of boot script paths"):
            FILTER(bad)
    with pytest.raises(AnsibleFilterError, match="expected the fabric_plan fact"):
        FILTER(scripts(1), {"backend": "vxlan"})


def forward_rules(plan, host="n1"):
    chains = planner.firewall_state(plan, host)["chains"]
    return next(c["rules"] for c in chains if c["chain"] == "FABRIC-FORWARD")


def test_leaving_vxlan_the_transition_accepts_the_vtep_found_not_the_planned_vni():
    """vxlan with VNI 5 on the host, host-gw with VNI 1 in the inventory: while the peers still send
    through the tunnel, their traffic arrives on flannel.5, which the transition must accept."""
    plan = plan_for("host-gw", 1)
    moved = planner.transition_plan(plan, ["vxlan"], None, ["flannel.5"])
    assert moved["vxlan_vni"] == 5
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.5 -j ACCEPT" in forward_rules(moved)
    assert not any("flannel.1" in rule for rule in forward_rules(moved))
    # The plan's own VTEP among those found, or none found: the plan's VNI.
    assert planner.transition_plan(plan, ["vxlan"], None, ["flannel.1", "flannel.5"])["vxlan_vni"] == 1
    assert planner.transition_plan(plan, ["vxlan"], None, [])["vxlan_vni"] == 1
    assert planner.transition_plan(plan, ["vxlan"], None, ["flannel.2", "flannel.5"])["vxlan_vni"] == 5
    # Entering vxlan, or another switch: the VTEPs found do not matter (the planned VTEP is the tunnel).
    assert planner.transition_plan(plan_for("vxlan", 2), ["hostgw"], None, ["flannel.5"])["vxlan_vni"] == 2
    assert planner.transition_plan(plan_for("bgp", 1), ["hostgw"], None, ["flannel.5"])["vxlan_vni"] == 1


def test_the_transition_filter_takes_the_vteps():
    transition = FilterModule().filters()["transition_plan"]
    assert transition(plan_for("host-gw", 1), ["vxlan"], "", ["flannel.5"])["vxlan_vni"] == 5
    assert transition(plan_for("host-gw", 1), ["vxlan"])["vxlan_vni"] == 1
    with pytest.raises(AnsibleFilterError, match="expected a list of VXLAN device names"):
        transition(plan_for("host-gw", 1), ["vxlan"], "", "flannel.5")


def test_a_change_of_vni_accepts_the_old_and_the_new_vtep_during_the_transition():
    """VNI 1 on the hosts, VNI 2 in the inventory (vxlan both): the peers' traffic arrives on flannel.1 until
    their routes move and on flannel.2 after. The transition's rules, applied before any host's routes move,
    accept both ways (bug: no transition ran for a VNI change, so new connections into a host arriving on
    the new VTEP were dropped until the forward role put it in FABRIC-FORWARD)."""
    plan = plan_for("vxlan", 2)
    moved = planner.transition_plan(plan, [], None, ["flannel.1"])
    assert moved["transition_vteps"] == ["flannel.1"]
    # A VNI change alone: the plan otherwise as it is (no direct routing, no other backend's way in).
    assert moved == dict(plan, transition_backends=[], transition_vteps=["flannel.1"])
    chains = {c["chain"]: c["rules"] for c in planner.firewall_state(moved, "n1")["chains"]}
    for chain in ("FABRIC-FORWARD", "FABRIC-PREROUTING"):
        assert chains[chain][:2] == ["-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.2 -j ACCEPT",
                                     "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT"]
    assert "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o flannel.1 -j ACCEPT" in chains["FABRIC-FORWARD"]
    assert not any("-i eth0" in rule for rule in chains["FABRIC-FORWARD"])
    # The planned VTEP already there (a run after the change) or no VTEP found: the plan's rules alone.
    for found in ([], ["flannel.2"]):
        assert planner.firewall_state(planner.transition_plan(plan, [], None, found), "n1") == \
            planner.firewall_state(plan, "n1")
    # Entering vxlan with a VTEP of another VNI still there: both VTEPs and the old backend's way in.
    moved = planner.transition_plan(plan, ["hostgw"], None, ["flannel.2", "flannel.5"])
    assert moved["transition_vteps"] == ["flannel.5"] and moved["vxlan_direct_routing"] is True
    # Leaving vxlan: the VTEP found is the tunnel (vxlan_vni), no extra VTEP key.
    assert "transition_vteps" not in planner.transition_plan(plan_for("host-gw", 1), ["vxlan"], None, ["flannel.5"])


def test_the_transition_filter_passes_the_vteps_of_a_vni_change():
    transition = FilterModule().filters()["transition_plan"]
    assert transition(plan_for("vxlan", 2), [], "", ["flannel.1"])["transition_vteps"] == ["flannel.1"]
