"""The planner's host-gw part: per-host routes and the adjacency precondition. No Ansible."""

import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings

HOSTGW = Settings(backend="host-gw")


def host(name, ip, net="192.0.2.0/24", iface="eth0"):
    return HostInput(name=name, public_ip=ip, iface=iface, public_net=net)


def test_hostgw_state_routes_each_peer_subnet_via_its_public_ip():
    plan, _ = planner.build_plan(HOSTGW, [host("n1", "192.0.2.11"), host("n2", "192.0.2.12"),
                                          host("n3", "192.0.2.13", iface="ens3")])
    state = planner.hostgw_state(plan, "n3")
    assert state == {
        "route_protocol": 244,
        "cluster_network": "10.244.0.0/16",
        "local_subnet": "10.244.3.0/24",
        "routes": [
            {"dst": "10.244.1.0/24", "via": "192.0.2.11", "dev": "ens3", "peer": "n1"},
            {"dst": "10.244.2.0/24", "via": "192.0.2.12", "dev": "ens3", "peer": "n2"},
        ],
    }
    # no encapsulation: the full underlay MTU
    assert {h["mtu"] for h in plan["hosts"].values()} == {1500}


def test_hostgw_is_refused_across_a_router_naming_both_sides():
    hosts = [
        host("rack1-a", "192.0.2.11"),
        host("rack1-b", "192.0.2.12"),
        host("rack2-a", "198.51.100.21", net="198.51.100.0/24"),
    ]
    with pytest.raises(PlanError) as excinfo:
        planner.build_plan(HOSTGW, hosts)
    (problem,) = excinfo.value.problems
    assert "hosts rack1-a, rack1-b (192.0.2.0/24) cannot reach hosts rack2-a (198.51.100.0/24)" in problem
    assert "fabric_backend=vxlan with fabric_vxlan_direct_routing=true" in problem
    # the same hosts are fine for vxlan
    planner.build_plan(Settings(), hosts)


def test_one_sentence_per_pair_of_segments():
    hosts = [host("a", "192.0.2.1"), host("b", "198.51.100.1", "198.51.100.0/24"),
             host("c", "203.0.113.1", "203.0.113.0/24")]
    with pytest.raises(PlanError) as excinfo:
        planner.build_plan(HOSTGW, hosts)
    assert len(excinfo.value.problems) == 3


def test_a_segment_seen_with_two_prefix_lengths_is_one_segment_when_each_holds_the_other():
    # node b's interface says /16, a's says /24: both addresses are in both networks
    hosts = [host("a", "10.1.2.1", "10.1.2.0/24"), host("b", "10.1.2.2", "10.1.0.0/16")]
    planner.build_plan(Settings(backend="host-gw", network="10.244.0.0/16"), hosts)
    # but a /16 neighbour outside a's /24 is not reachable from a without a router
    hosts = [host("a", "10.1.2.1", "10.1.2.0/24"), host("b", "10.1.3.2", "10.1.0.0/16")]
    with pytest.raises(PlanError, match="cannot reach"):
        planner.build_plan(Settings(backend="host-gw"), hosts)


def test_hosts_without_facts_are_left_to_the_host_side_check():
    hosts = [host("a", "192.0.2.1"), HostInput(name="b", public_ip="198.51.100.1", iface="eth0")]
    plan, _ = planner.build_plan(HOSTGW, hosts)
    assert planner.hostgw_state(plan, "a")["routes"][0]["via"] == "198.51.100.1"


def test_adjacency_of_ten_thousand_hosts_on_one_segment_is_linear():
    hosts = {"n%d" % i: {"public_ip": "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255), "public_net": "10.0.0.0/8"}
             for i in range(1, 10001)}
    assert planner.hostgw_adjacency(hosts) == []


def test_vxlan_state_carries_the_route_bounds():
    plan, _ = planner.build_plan(Settings(), [host("n1", "192.0.2.11"), host("n2", "192.0.2.12")])
    state = planner.vxlan_state(plan, "n1")
    assert state["cluster_network"] == "10.244.0.0/16" and state["local_subnet"] == "10.244.1.0/24"
