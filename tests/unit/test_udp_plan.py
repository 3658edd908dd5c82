"""The planner's udp part: the daemon's peer table, the MTU, the port option and its front door."""

import json

import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import options, planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings


def host(name, ip, mtu=None):
    return HostInput(name=name, public_ip=ip, iface="eth0", iface_mtu=mtu, public_net="192.0.2.0/24")


def test_udp_state_lists_every_peer_with_its_subnet_address_and_port():
    plan, _ = planner.build_plan(Settings(backend="udp"), [host("n1", "192.0.2.11"), host("n2", "192.0.2.12"),
                                                           host("n3", "192.0.2.13", mtu=9000)])
    assert plan["udp_port"] == 8285
    assert planner.udp_state(plan, "n1") == {
        "device": "flannel0",
        "port": 8285,
        "listen": "192.0.2.11",
        "mtu": 1472,  # the underlay's 1500 minus IPv4 and UDP headers
        "address": "10.244.1.0/16",  # the cluster network routed to flannel0
        "cluster_network": "10.244.0.0/16",
        "local_subnet": "10.244.1.0/24",
        "peers": [
            {"name": "n2", "subnet": "10.244.2.0/24", "ip": "192.0.2.12", "port": 8285},
            {"name": "n3", "subnet": "10.244.3.0/24", "ip": "192.0.2.13", "port": 8285},
        ],
    }
    assert planner.udp_state(plan, "n3")["mtu"] == 8972


def test_udp_port_is_an_option_and_opens_only_to_peers():
    assert options.BY_NAME["udp_port"].default == 8285
    plan, _ = planner.build_plan(Settings(backend="udp", udp_port=9999), [host("n1", "192.0.2.11"),
                                                                          host("n2", "192.0.2.12")])
    assert planner.udp_state(plan, "n2")["peers"][0]["port"] == 9999
    (front,) = [c for c in planner.firewall_state(plan, "n1")["chains"] if c["chain"] == "FABRIC-INPUT"]
    assert front["rules"] == ["-s 192.0.2.12/32 -p udp -m udp --dport 9999 -j ACCEPT",
                              "-p udp -m udp --dport 9999 -j DROP"]
    forward = [c for c in planner.firewall_state(plan, "n1")["chains"] if c["chain"] == "FABRIC-FORWARD"][0]
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel0 -j ACCEPT" in forward["rules"]


def test_udp_port_out_of_range_is_refused():
    with pytest.raises(PlanError, match="fabric_udp_port 0 is outside 1..65535"):
        planner.build_plan(Settings(backend="udp", udp_port=0), [host("n1", "192.0.2.11")])


def test_other_backends_plan_no_udp_port():
    plan, _ = planner.build_plan(Settings(), [host("n1", "192.0.2.11")])
    assert "udp_port" not in plan


# --------------------------------------------------------------------------- switching to and from udp

# planner.transition_plan is what roles/backend/tasks/preflight.yml sets as backend_transition_plan
# (tests/playbooks/test_backend_switch.py runs that shipped task file through ansible-playbook).
def transition_plan(plan, found):
    """The plan of the transition's forward rules (``found``: the other backends' roles on the host)."""
    return planner.transition_plan(plan, found)


@pytest.mark.parametrize("planned, found", [("udp", ["vxlan"]), ("vxlan", ["udp"]), ("host-gw", ["udp"]),
                                            ("udp", ["hostgw"])])
def test_a_switch_to_or_from_udp_accepts_flannel0_and_its_port_during_the_transition(planned, found):
    """Until every host has switched, traffic arrives through flannel0 (from hosts still on, or already
    on, udp) and on port 8285 as well as the other backend's way: the transition accepts both."""
    plan, _ = planner.build_plan(Settings(backend=planned), [host("n1", "192.0.2.11"), host("n2", "192.0.2.12")])
    chains = {c["chain"]: c["rules"] for c in planner.firewall_state(transition_plan(plan, found), "n1")["chains"]}
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel0 -j ACCEPT" in chains["FABRIC-FORWARD"]
    assert "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o flannel0 -j ACCEPT" in chains["FABRIC-FORWARD"]
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel0 -j ACCEPT" in chains["FABRIC-PREROUTING"]
    # and the other backend's ways in: the tunnel, and the underlay peers unencapsulated
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT" in chains["FABRIC-FORWARD"]
    assert "-s 10.244.2.0/24 -d 10.244.1.0/24 -i eth0 -j ACCEPT" in chains["FABRIC-FORWARD"]
    assert chains["FABRIC-INPUT"] == [
        "-s 192.0.2.12/32 -p udp -m udp --dport 8472 -j ACCEPT", "-p udp -m udp --dport 8472 -j DROP",
        "-s 192.0.2.12/32 -p udp -m udp --dport 8285 -j ACCEPT", "-p udp -m udp --dport 8285 -j DROP"]


def test_a_switch_between_other_backends_opens_nothing_of_udp():
    plan, _ = planner.build_plan(Settings(backend="host-gw"), [host("n1", "192.0.2.11"), host("n2", "192.0.2.12")])
    chains = {c["chain"]: c["rules"] for c in planner.firewall_state(transition_plan(plan, ["vxlan"]), "n1")["chains"]}
    assert not any("flannel0" in r or "8285" in r for rules in chains.values() for r in rules)


def test_the_transition_plan_plans_vxlan_with_direct_routing_and_keeps_the_rest():
    plan, _ = planner.build_plan(Settings(backend="bgp"), [host("n1", "192.0.2.11"), host("n2", "192.0.2.12")])
    moved = planner.transition_plan(plan, ["hostgw"])
    assert moved == dict(plan, backend="vxlan", vxlan_direct_routing=True, transition_backends=[])
    assert plan["backend"] == "bgp" and "transition_backends" not in plan  # the plan itself is untouched
    # the planned backend among the found ones (a read that lists it) changes nothing
    assert planner.transition_plan(plan, ["bgp", "hostgw"]) == moved


def test_the_transition_plan_filter_refuses_what_is_not_a_plan_or_a_list_of_backends():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.crosshost.fabric.plugins.filter.fabric import FilterModule

    transition = FilterModule().filters()["transition_plan"]
    plan, _ = planner.build_plan(Settings(backend="udp"), [host("n1", "192.0.2.11")])
    assert transition(plan, ["vxlan"])["transition_backends"] == ["udp"]
    with pytest.raises(AnsibleFilterError, match="expected the fabric_plan fact"):
        transition({}, ["vxlan"])
    with pytest.raises(AnsibleFilterError, match="expected a list of backend role names, got 'vxlan'"):
        transition(plan, "vxlan")


def test_leaving_udp_the_transition_opens_the_port_the_old_daemons_run_with():
    """The new plan has no udp port: it comes from udp's peer file found on the host (bug: 8285 was
    opened whatever fabric_udp_port the old fabric had)."""
    hosts = [host("n1", "192.0.2.11"), host("n2", "192.0.2.12")]
    old, _ = planner.build_plan(Settings(backend="udp", udp_port=9999), hosts)
    plan, _ = planner.build_plan(Settings(backend="vxlan"), hosts)
    record = json.dumps(planner.udp_state(old, "n1"))
    for given in (record, json.loads(record)):
        moved = planner.transition_plan(plan, ["udp"], given)
        assert moved["udp_port"] == 9999
        assert planner.backend_ports(moved) == [("udp", 8472), ("udp", 9999)]
    # no record, or one that names no valid port: udp's default, as before
    for bad in (None, "", "not json", "[]", json.dumps({"port": 0}), json.dumps({"port": "x"})):
        assert planner.backend_ports(planner.transition_plan(plan, ["udp"], bad)) == [("udp", 8472), ("udp", 8285)]
    # entering udp, the new plan's port is the one opened; a record is not read
    new, _ = planner.build_plan(Settings(backend="udp", udp_port=7777), hosts)
    assert planner.backend_ports(planner.transition_plan(new, ["vxlan"], record)) == [("udp", 8472), ("udp", 7777)]
    # a record left beside another old backend only counts when udp is among the old ones
    assert "udp_port" not in planner.transition_plan(plan, ["hostgw"], record)


def test_udp_record_port_reads_the_daemons_peer_file():
    assert planner.udp_record_port('{"port": 9999, "peers": []}') == 9999
    assert planner.udp_record_port({"port": "4000"}) == 4000
    assert planner.udp_record_port({"port": 70000}) is None
    assert planner.udp_record_port(b"{}") is None
    assert planner.udp_record_port(None) is None
