"""planner's per-host firewall and host-gw states compared whole, and their corners.

Mutation testing (make mutation) showed these unpinned: a plan written without ``backend`` (the
default is vxlan), the segment bounds of VXLAN direct routing and of host-gw's adjacency, the order
of routes and problems (numeric, not text), the words of host-gw's refusals, and which values of
``docker`` mean Docker runs.
"""

import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp, planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.bgp import BgpInput, BgpSettings
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings

NET = "10.244.0.0/16"
MASQ = {"table": "nat", "chain": "FABRIC-POSTROUTING", "hook": "POSTROUTING", "position": "first",
        "rules": ["-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN",
                  "-s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
                  "! -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN",
                  "! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE --random-fully"]}


def three(backend="vxlan", far="198.51.100", **kw):
    hosts = [HostInput("a", public_ip="192.0.2.1", iface="eth0", public_net="192.0.2.0/24"),
             HostInput("b", public_ip="192.0.2.2", iface="eth0", public_net="192.0.2.0/24"),
             HostInput("c", public_ip=far + ".3", iface="eth0", public_net=far + ".0/24")]
    plan, _ = planner.build_plan(Settings(backend=backend, **kw), hosts)
    return plan


def test_firewall_state_of_vxlan_with_direct_routing_whole():
    plan = three(vxlan_direct_routing=True)
    inbound = ["-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT",
               "-s 10.244.2.0/24 -d 10.244.1.0/24 -i eth0 -j ACCEPT"]
    assert planner.firewall_state(plan, "a") == {"chains": [
        {"table": "filter", "chain": "FABRIC-INPUT", "hook": "INPUT", "position": "first",
         "rules": ["-s 192.0.2.2/32 -p udp -m udp --dport 8472 -j ACCEPT",
                   "-s 198.51.100.3/32 -p udp -m udp --dport 8472 -j ACCEPT",
                   "-p udp -m udp --dport 8472 -j DROP"]},
        {"table": "filter", "chain": "FABRIC-FORWARD", "hook": "FORWARD", "create_hook": False, "position": "first",
         "rules": inbound + ["-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o flannel.1 -j ACCEPT",
                             "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o eth0 -j ACCEPT"]},
        {"table": "raw", "chain": "FABRIC-PREROUTING", "hook": "PREROUTING", "position": "first", "rules": inbound},
        MASQ,
    ]}
    # A plan written before the backend was recorded is a VXLAN plan.
    old = dict(plan)
    del old["backend"]
    assert planner.firewall_state(old, "a") == planner.firewall_state(plan, "a")
    assert planner.backend_ports(old) == [("udp", 8472)]


def test_vxlan_without_direct_routing_has_no_underlay_peers():
    plan = three()
    assert planner._underlay_peers(plan, "a", plan["hosts"]["a"]) == []
    state = planner.firewall_state(plan, "a")
    assert state["chains"][1]["rules"] == ["-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT",
                                           "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o flannel.1 -j ACCEPT"]


def test_direct_routing_segment_bounds_are_inclusive():
    me = {"public_ip": "192.0.2.1", "public_net": "192.0.2.0/30"}
    plan = {"backend": "vxlan", "vxlan_direct_routing": True, "hosts": {
        "me": me, "first": {"public_ip": "192.0.2.0"}, "last": {"public_ip": "192.0.2.3"},
        "after": {"public_ip": "192.0.2.4"}, "before": {"public_ip": "192.0.1.255"}}}
    assert planner._underlay_peers(plan, "me", me) == [{"public_ip": "192.0.2.0"}, {"public_ip": "192.0.2.3"}]
    del plan["backend"]
    assert planner._underlay_peers(plan, "me", me) == [{"public_ip": "192.0.2.0"}, {"public_ip": "192.0.2.3"}]
    plan["vxlan_direct_routing"] = False
    assert planner._underlay_peers(plan, "me", me) == []


def test_backend_ports_of_each_backend():
    assert planner.backend_ports({"backend": "vxlan", "vxlan_port": 4789}) == [("udp", 4789)]
    assert planner.backend_ports({"backend": "nosuch"}) == []
    assert planner.backend_ports({"backend": "host-gw"}) == []


@pytest.mark.parametrize("docker, hook", [
    (None, "FORWARD"), (False, "FORWARD"), (0, "FORWARD"), ("", "FORWARD"), (" False ", "FORWARD"),
    ("NONE", "FORWARD"), ("none", "FORWARD"), ("false", "FORWARD"),
    (True, "DOCKER-USER"), ("28.5.2", "DOCKER-USER"), (20, "DOCKER-USER"), ("yes", "DOCKER-USER"),
])
def test_which_docker_values_mean_docker_runs(docker, hook):
    chain = planner.firewall_state(three(), "a", docker=docker)["chains"][1]
    assert (chain["hook"], chain["create_hook"]) == (hook, hook == "DOCKER-USER")


def test_underlay_peers_without_an_interface_are_refused_word_for_word():
    plan = three(backend="host-gw", far="192.0.2")
    plan["hosts"]["a"]["iface"] = None
    for state in (planner.firewall_state, planner.hostgw_state):
        with pytest.raises(PlanError) as exc:
            state(plan, "a")
        assert exc.value.problems == ["host a: no underlay interface known (set fabric_iface or gather facts)"]


def test_hostgw_routes_in_subnet_order_not_name_or_text_order():
    hosts = [HostInput("a", public_ip="192.0.2.1", iface="eth0", pinned_subnet="10.244.10.0/24"),
             HostInput("b", public_ip="192.0.2.2", iface="eth0", pinned_subnet="10.244.9.0/24"),
             HostInput("me", public_ip="192.0.2.3", iface="eth1", pinned_subnet="10.244.100.0/24")]
    plan, _ = planner.build_plan(Settings(backend="host-gw"), hosts)
    assert planner.hostgw_state(plan, "me") == {
        "route_protocol": 244,
        "cluster_network": NET,
        "local_subnet": "10.244.100.0/24",
        "routes": [{"dst": "10.244.9.0/24", "via": "192.0.2.2", "dev": "eth1", "peer": "b"},
                   {"dst": "10.244.10.0/24", "via": "192.0.2.1", "dev": "eth1", "peer": "a"}],
    }


def adjacency_problem(a_names, a_net, b_names, b_net):
    return ("fabric_backend=host-gw needs every pair of hosts on one underlay network, and hosts %s (%s) cannot "
            "reach hosts %s (%s) without a router; nothing was changed. Use fabric_backend=vxlan with "
            "fabric_vxlan_direct_routing=true: it routes directly where hosts share a segment and tunnels elsewhere"
            % (a_names, a_net, b_names, b_net))


def test_hostgw_adjacency_bounds_are_inclusive():
    # b's address is the last of both networks, a's the first of b's: each network holds the other's hosts.
    hosts = {"a": {"public_ip": "192.0.2.128", "public_net": "192.0.2.0/24"},
             "b": {"public_ip": "192.0.2.255", "public_net": "192.0.2.128/25"}}
    assert planner.hostgw_adjacency(hosts) == []


def test_hostgw_adjacency_problems_word_for_word_in_network_order():
    hosts = {"x2": {"public_ip": "10.0.0.2", "public_net": "10.0.0.0/8"},
             "x1": {"public_ip": "10.0.0.1", "public_net": "10.0.0.0/8"},
             "n": {"public_ip": "9.0.0.1", "public_net": "9.0.0.0/8"},
             "unknown": {"public_ip": "11.0.0.1", "public_net": None}}
    assert planner.hostgw_adjacency(hosts) == [adjacency_problem("n", "9.0.0.0/8", "x1, x2", "10.0.0.0/8")]


def test_bgp_front_door_in_address_order():
    assert bgp.front_door_rules(["192.0.2.10", "192.0.2.9", "192.0.2.10"]) == [
        "-s 192.0.2.9/32 -p tcp -m tcp --dport 179 -j ACCEPT",
        "-s 192.0.2.10/32 -p tcp -m tcp --dport 179 -j ACCEPT",
        "-p tcp -m tcp --dport 179 -j DROP"]
    inputs = [BgpInput("n%d" % i, "192.0.2.%d" % i) for i in (1, 9, 10)]
    hosts = [HostInput(i.name, public_ip=i.public_ip, iface="eth0", public_net="192.0.2.0/24") for i in inputs]
    plan, _ = planner.build_plan(Settings(backend="bgp"), hosts)
    bgp.attach(plan, bgp.plan_bgp(NET, inputs, BgpSettings())[0])
    assert bgp.bgp_peer_addresses(plan, "n1") == ["192.0.2.9", "192.0.2.10"]


def test_udp_backend_has_no_underlay_peers_even_with_the_vxlan_direct_routing_setting():
    plan = three(backend="udp", far="192.0.2", vxlan_direct_routing=True)
    assert plan["vxlan_direct_routing"] is True
    assert planner._underlay_peers(plan, "a", plan["hosts"]["a"]) == []
    assert planner.firewall_state(plan, "a", docker="  ")["chains"][1] == {
        "table": "filter", "chain": "FABRIC-FORWARD", "hook": "FORWARD", "create_hook": False, "position": "first",
        "rules": ["-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel0 -j ACCEPT",
                  "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o flannel0 -j ACCEPT"]}


def test_udp_state_peers_in_subnet_order_and_the_default_port():
    hosts = [HostInput("a", public_ip="192.0.2.1", iface="eth0", pinned_subnet="10.244.10.0/24"),
             HostInput("b", public_ip="192.0.2.2", iface="eth0", pinned_subnet="10.244.9.0/24"),
             HostInput("me", public_ip="192.0.2.3", iface="eth0", pinned_subnet="10.244.100.0/24")]
    plan, _ = planner.build_plan(Settings(backend="udp"), hosts)
    del plan["udp_port"]  # a plan written before the setting: flannel's port
    assert planner.udp_state(plan, "me") == {
        "device": "flannel0", "port": 8285, "listen": "192.0.2.3", "mtu": 1472, "address": "10.244.100.0/16",
        "cluster_network": NET, "local_subnet": "10.244.100.0/24",
        "peers": [{"name": "b", "subnet": "10.244.9.0/24", "ip": "192.0.2.2", "port": 8285},
                  {"name": "a", "subnet": "10.244.10.0/24", "ip": "192.0.2.1", "port": 8285}]}
