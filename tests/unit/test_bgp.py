"""Unit tests of the BGP part of the plan: every topology and every refusal. No Ansible, no BIRD."""

import json

import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp, planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.bgp import BgpInput, BgpSettings
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings

NET = "10.244.0.0/16"


def make_plan(inputs, settings=None, public_net="192.0.2.0/24"):
    """A bgp plan: fabric hosts are the inputs that are not routers."""
    hosts = [HostInput(i.name, public_ip=i.public_ip, iface="eth0", public_net=public_net)
             for i in inputs if not i.router]
    plan, _ = planner.build_plan(Settings(backend="bgp"), hosts)
    section, warnings = bgp.plan_bgp(NET, inputs, settings or BgpSettings())
    return bgp.attach(plan, section), warnings


def mesh(n, **kw):
    return [BgpInput("node%d" % i, "192.0.2.%d" % (10 + i), **kw) for i in range(1, n + 1)]


def problems(inputs, settings=None):
    with pytest.raises(PlanError) as exc:
        bgp.plan_bgp(NET, inputs, settings or BgpSettings())
    return "\n".join(exc.value.problems)


def by_peer(state):
    return {s["peer"] or s["address"]: s for s in state["sessions"]}


# --------------------------------------------------------------------------- mesh


def test_mesh_every_host_peers_with_every_other_by_ibgp_and_announces_its_subnet():
    plan, warnings = make_plan(mesh(3))
    assert warnings == []
    state = bgp.bgp_state(plan, "node1")
    assert state["router_id"] == "192.0.2.11" and state["asn"] == 64512
    assert state["subnet"] == plan["hosts"]["node1"]["subnet"] == "10.244.1.0/24"
    s = by_peer(state)
    assert sorted(s) == ["node2", "node3"]
    assert s["node2"]["address"] == "192.0.2.12" and s["node2"]["local_address"] == "192.0.2.11"
    assert s["node2"]["ibgp"] and s["node2"]["direct"] and s["node2"]["next_hop_self"] is True
    assert not s["node2"]["rr_client"] and s["node2"]["password"] is None
    assert state["accept"] == {"network": NET, "min_len": 16, "max_len": 24}
    assert state["graceful_restart"] is True and state["ipip"] is None
    # Every host sees the same mesh from its side: n(n-1) session ends.
    assert sum(len(bgp.bgp_state(plan, h)["sessions"]) for h in plan["hosts"]) == 6


def test_mesh_peer_off_the_segment_is_multihop_to_its_public_ip():
    inputs = mesh(2)
    inputs.append(BgpInput("far", "198.51.100.7"))
    hosts = [HostInput(i.name, public_ip=i.public_ip, iface="eth0",
                       public_net="198.51.100.0/24" if i.name == "far" else "192.0.2.0/24") for i in inputs]
    plan, _ = planner.build_plan(Settings(backend="bgp"), hosts)
    bgp.attach(plan, bgp.plan_bgp(NET, inputs, BgpSettings())[0])
    s = by_peer(bgp.bgp_state(plan, "node1"))
    assert s["node2"]["direct"] and s["node2"]["address"] == "192.0.2.12"
    assert not s["far"]["direct"] and s["far"]["address"] == "198.51.100.7" and s["far"]["local_address"] is None


def test_session_address_is_the_one_on_a_shared_segment_from_facts():
    inputs = [BgpInput("a", "192.0.2.1", addresses=["192.0.2.1/24", "10.9.0.1/24"]),
              BgpInput("b", "198.51.100.2", addresses=["198.51.100.2/24", "10.9.0.2/24"])]
    plan, _ = make_plan(inputs, public_net=None)
    s = by_peer(bgp.bgp_state(plan, "a"))["b"]
    assert (s["address"], s["local_address"], s["direct"]) == ("10.9.0.2", "10.9.0.1", True)


def test_a_peer_without_facts_still_gets_a_direct_session_on_my_segment():
    """--limit: peers limited out of the run have no facts; their sessions must not change."""
    with_facts = [BgpInput("a", "192.0.2.1", addresses=["192.0.2.1/24"]),
                  BgpInput("b", "192.0.2.2", addresses=["192.0.2.2/24"])]
    limited = [BgpInput("a", "192.0.2.1", addresses=["192.0.2.1/24"]), BgpInput("b", "192.0.2.2")]
    states = []
    for inputs in (with_facts, limited):
        plan, _ = make_plan(inputs, public_net=None)
        states.append(bgp.bgp_state(plan, "a"))
    assert states[0] == states[1]
    s = by_peer(states[1])["b"]
    assert (s["address"], s["local_address"], s["direct"]) == ("192.0.2.2", "192.0.2.1", True)


def test_mesh_warns_above_100_hosts_and_recommends_reflectors():
    inputs = [BgpInput("n%03d" % i, "192.0.%d.%d" % (2 + i // 200, 1 + i % 200)) for i in range(101)]
    _section, warnings = bgp.plan_bgp(NET, inputs, BgpSettings())
    assert len(warnings) == 1 and "101 hosts" in warnings[0] and "5050 BGP sessions" in warnings[0]
    assert "route-reflector" in warnings[0]
    assert bgp.plan_bgp(NET, inputs[:100], BgpSettings())[1] == []


def test_mesh_ignores_reflector_routers_and_hosts_must_share_one_as():
    inputs = mesh(2) + [BgpInput("tor", "192.0.2.1", router=True, reflector=True, rack="a")]
    plan, _ = make_plan(inputs)
    assert "tor" not in plan["bgp"]["speakers"]
    assert [s["peer"] for s in bgp.bgp_state(plan, "node1")["sessions"]] == ["node2"]
    bad = mesh(2)
    bad[1].asn = 65001
    assert "fabric_bgp_asn differs between hosts of the mesh" in problems(bad)


# --------------------------------------------------------------------------- route reflectors


def two_racks():
    """Rack a: routers tor-a (reflector, no containers) + hosts a1, a2; rack b: b1 reflects for b2."""
    return [
        BgpInput("tor-a", "192.0.2.1", addresses=["192.0.2.1/24", "203.0.113.1/24"], rack="a", asn=65001,
                 reflector=True, router=True),
        BgpInput("a1", "192.0.2.11", addresses=["192.0.2.11/24"], rack="a", asn=65001),
        BgpInput("a2", "192.0.2.12", addresses=["192.0.2.12/24"], rack="a", asn=65001),
        BgpInput("tor-b", "198.51.100.1", addresses=["198.51.100.1/24", "203.0.113.2/24"], rack="b", asn=65002,
                 reflector=True, router=True),
        BgpInput("b1", "198.51.100.11", addresses=["198.51.100.11/24"], rack="b", asn=65002, reflector=True),
        BgpInput("b2", "198.51.100.12", addresses=["198.51.100.12/24"], rack="b", asn=65002),
    ]


def test_route_reflector_hosts_peer_only_with_their_racks_reflectors():
    plan, _ = make_plan(two_racks(), BgpSettings(mode="route-reflector"), public_net=None)
    assert "tor-a" not in plan["hosts"] and "tor-a" in plan["bgp"]["speakers"]
    a1 = bgp.bgp_state(plan, "a1")
    assert [(s["peer"], s["address"], s["ibgp"], s["direct"]) for s in a1["sessions"]] == [
        ("tor-a", "192.0.2.1", True, True)]
    assert a1["asn"] == 65001 and a1["subnet"] and not a1["reflector"]
    b2 = bgp.bgp_state(plan, "b2")
    assert sorted(s["peer"] for s in b2["sessions"]) == ["b1", "tor-b"]


def test_route_reflector_reflects_for_its_rack_and_speaks_ebgp_to_other_racks():
    plan, _ = make_plan(two_racks(), BgpSettings(mode="route-reflector"), public_net=None)
    assert plan["bgp"]["clusters"] == {"a": "192.0.2.1", "b": "198.51.100.1"}
    tor = bgp.bgp_state(plan, "tor-a")
    assert tor["subnet"] is None and tor["reflector"] and tor["router_id"] == "192.0.2.1"
    # A router without containers forwards the cluster network's traffic, and accepts BGP only from
    # its sessions' peers; fabric hosts get theirs from the forward role.
    assert [c["chain"] for c in tor["router_forward"]] == ["FABRIC-INPUT", "FABRIC-FORWARD"]
    assert tor["router_forward"][0]["rules"] == [
        "-s 192.0.2.11/32 -p tcp -m tcp --dport 179 -j ACCEPT",
        "-s 192.0.2.12/32 -p tcp -m tcp --dport 179 -j ACCEPT",
        "-s 198.51.100.11/32 -p tcp -m tcp --dport 179 -j ACCEPT",
        "-s 203.0.113.2/32 -p tcp -m tcp --dport 179 -j ACCEPT",
        "-p tcp -m tcp --dport 179 -j DROP"]
    assert bgp.bgp_peer_addresses(plan, "tor-a") == ["192.0.2.11", "192.0.2.12", "198.51.100.11", "203.0.113.2"]
    assert tor["router_forward"][1]["rules"] == ["-s 10.244.0.0/16 -j ACCEPT", "-d 10.244.0.0/16 -j ACCEPT"]
    assert bgp.bgp_state(plan, "b1")["router_forward"] is None
    s = by_peer(tor)
    assert sorted(s) == ["a1", "a2", "b1", "tor-b"]
    for client in ("a1", "a2"):
        assert s[client]["rr_client"] and s[client]["rr_cluster_id"] == "192.0.2.1"
        assert s[client]["ibgp"] and s[client]["next_hop_self"] == "ebgp"
    # Reflectors of rack b, over the spine: eBGP from the spine address.
    assert not s["tor-b"]["ibgp"] and s["tor-b"]["asn"] == 65002
    assert (s["tor-b"]["address"], s["tor-b"]["local_address"], s["tor-b"]["direct"]) == (
        "203.0.113.2", "203.0.113.1", True)
    assert not s["b1"]["ibgp"] and not s["b1"]["direct"] and not s["b1"]["rr_client"]
    # b1 is a fabric host and a reflector: it announces its subnet and reflects for b2.
    b1 = by_peer(bgp.bgp_state(plan, "b1"))
    assert b1["b2"]["rr_client"] and b1["b2"]["rr_cluster_id"] == "198.51.100.1"
    assert b1["tor-b"]["ibgp"] and not b1["tor-b"]["rr_client"] and b1["tor-b"]["next_hop_self"] is False
    assert not b1["tor-a"]["ibgp"]


def test_route_reflector_refusals_name_hosts_and_racks():
    inputs = two_racks()
    inputs[0].rack = None  # a reflector with no rack: rack a has no reflector any more
    inputs[2].rack = None  # a host with no rack
    inputs.append(BgpInput("c1", "192.0.2.31", rack="c", asn=65003))
    text = problems(inputs, BgpSettings(mode="route-reflector"))
    assert "reflector tor-a has no fabric_rack" in text
    assert "host a2 has no fabric_rack" in text
    assert "rack a has no route reflector (hosts a1)" in text
    assert "rack c has no route reflector (hosts c1)" in text


def test_route_reflector_one_as_per_rack():
    inputs = two_racks()
    inputs[2].asn = 65009
    text = problems(inputs, BgpSettings(mode="route-reflector"))
    assert "rack a: its hosts and reflectors disagree on fabric_bgp_asn (65001 on a1, tor-a; 65009 on a2)" in text


def test_reflector_router_needs_an_ip_router_id():
    inputs = two_racks()
    inputs[0].public_ip = "tor-a.example.net"
    assert "reflector tor-a has no usable IPv4 public IP ('tor-a.example.net')" in problems(
        inputs, BgpSettings(mode="route-reflector"))


# --------------------------------------------------------------------------- peers


def test_peers_mode_each_host_peers_only_with_its_routers():
    inputs = mesh(2)
    inputs[0].peers = [{"address": "192.0.2.1", "asn": 65000}, {"address": "192.0.2.2", "asn": 65000,
                                                                  "password": "r0uter"}]
    inputs[1].peers = [{"address": "192.0.2.1", "asn": 64512}]
    plan, _ = make_plan(inputs, BgpSettings(mode="peers", password="gl0bal"))
    n1 = bgp.bgp_state(plan, "node1")
    assert [(s["name"], s["address"], s["asn"], s["ibgp"], s["direct"], s["password"]) for s in n1["sessions"]] == [
        ("peer_192_0_2_1", "192.0.2.1", 65000, False, True, "FABRIC_PW"),
        ("peer_192_0_2_2", "192.0.2.2", 65000, False, True, "FABRIC_PW_PEER_1"),
    ]
    assert all(s["allow_local_as"] for s in n1["sessions"])  # a router passes other hosts' subnets (same AS)
    n2 = bgp.bgp_state(plan, "node2")
    assert [(s["address"], s["ibgp"], s["allow_local_as"]) for s in n2["sessions"]] == [("192.0.2.1", True, False)]
    # The passwords are nowhere in the plan (it is written to plan.json).
    text = json.dumps(plan)
    assert "r0uter" not in text and "gl0bal" not in text


def test_peers_are_added_to_the_mesh_too():
    inputs = mesh(2)
    inputs[0].peers = [{"address": "192.0.2.1", "asn": 65000}]
    plan, _ = make_plan(inputs)
    assert sorted(by_peer(bgp.bgp_state(plan, "node1"))) == ["192.0.2.1", "node2"]


def test_peer_refusals():
    inputs = mesh(3)
    inputs[0].peers = [{"address": "10.244.7.1", "asn": 65000}, {"address": "192.0.2.12", "asn": 0},
                       {"address": "router", "asn": 65000, "colour": "red"}, "192.0.2.1"]
    inputs[1].peers = {"address": "192.0.2.1"}
    text = problems(inputs, BgpSettings(mode="peers"))
    assert "host node1: fabric_bgp_peers[0]: address 10.244.7.1 lies inside fabric_network 10.244.0.0/16" in text
    assert "host node1: fabric_bgp_peers[1]: asn 0 is out of range" in text
    assert "host node1: fabric_bgp_peers[2]: address 'router' is not an IPv4 address" in text
    assert "host node1: fabric_bgp_peers[2] has unknown keys: colour" in text
    assert "host node1: fabric_bgp_peers[3] is not a mapping" in text
    assert "host node2: fabric_bgp_peers must be a list" in text
    assert "host node2 has no fabric_bgp_peers" in text
    assert "host node3 has no fabric_bgp_peers" in text
    assert "host node1 has no fabric_bgp_peers" not in text


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("asn", [0, -1, 23456, 4294967295, "abc", True, 1.5])
def test_asn_out_of_range_is_refused(asn):
    inputs = mesh(2)
    inputs[1].asn = asn
    assert "host node2: fabric_bgp_asn %r is out of range" % (asn,) in problems(inputs)


@pytest.mark.parametrize("asn", [1, 64512, 65535 + 1, 4294967294, "65001"])
def test_asn_in_range_is_taken(asn):
    inputs = mesh(2)
    for i in inputs:
        i.asn = asn
    plan, _ = make_plan(inputs)
    assert bgp.bgp_state(plan, "node1")["asn"] == int(asn)


def test_duplicate_router_ids_are_refused():
    inputs = two_racks()
    inputs[3].public_ip = "192.0.2.11"  # tor-b's router id is a1's public IP
    assert "duplicate BGP router id 192.0.2.11 (the public IP) on a1, tor-b" in problems(
        inputs, BgpSettings(mode="route-reflector"))


def test_unknown_mode_and_encap_are_refused():
    text = problems(mesh(2), BgpSettings(mode="full", encap="gre"))
    assert "fabric_bgp_mode 'full' is unknown (choose one of: mesh, route-reflector, peers)" in text
    assert "fabric_bgp_encap 'gre' is unknown (choose one of: none, ipip)" in text


@pytest.mark.parametrize("password", ['a"b', "a\\b", "a\nb", "x" * 81, 1234])
def test_bad_passwords_are_refused_without_printing_them(password):
    inputs = mesh(2)
    inputs[0].peers = [{"address": "192.0.2.1", "asn": 65000, "password": password}]
    text = problems(inputs, BgpSettings(password=password))
    assert "fabric_bgp_password: the BGP password" in text
    assert "host node1: fabric_bgp_peers[0]: the BGP password" in text
    assert str(password) not in text


def test_bgp_state_refuses_hosts_outside_the_plan_and_plans_without_bgp():
    plan, _ = make_plan(mesh(2))
    with pytest.raises(PlanError, match="host ghost is not in the fabric plan"):
        bgp.bgp_state(plan, "ghost")
    vx, _ = planner.build_plan(Settings(), [HostInput("a", public_ip="192.0.2.1")])
    with pytest.raises(PlanError, match="no BGP section"):
        bgp.bgp_state(vx, "a")


def test_protocol_names_are_bird_identifiers_and_unique():
    inputs = [BgpInput("node-1", "192.0.2.1"), BgpInput("node_1", "192.0.2.2"), BgpInput("node.1", "192.0.2.3"),
              BgpInput("x", "192.0.2.4")]
    plan, _ = make_plan(inputs)
    names = [s["name"] for s in bgp.bgp_state(plan, "x")["sessions"]]
    assert names == ["fabric_node_1", "fabric_node_1_2", "fabric_node_1_3"]


# --------------------------------------------------------------------------- ipip


def test_ipip_lowers_the_mtu_and_names_the_tunnel_and_the_segments():
    plan, _ = make_plan(mesh(2), BgpSettings(encap="ipip"))
    assert plan["hosts"]["node1"]["mtu"] == 1480
    state = bgp.bgp_state(plan, "node1")
    assert state["ipip"] == {"device": "tunl0", "address": "10.244.1.0/32", "mtu": 1480,
                             "segments": ["192.0.2.0/24"]}


def test_addresses_from_facts_skip_loopback_and_fabric_devices():
    facts = {
        "interfaces": ["lo", "eth0", "eth1", "docker0", "flannel.1", "tunl0"],
        "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
        "eth0": {"ipv4": {"address": "192.0.2.5", "netmask": "255.255.255.0"},
                 "ipv4_secondaries": [{"address": "192.0.2.6", "netmask": "255.255.255.0"}]},
        "eth1": {"ipv4": {"address": "203.0.113.5", "netmask": "255.255.255.252"}},
        "docker0": {"ipv4": {"address": "10.244.1.1", "netmask": "255.255.255.0"}},
        "flannel_1": {"ipv4": {"address": "10.244.1.0", "netmask": "255.255.255.255"}},
        "tunl0": {"ipv4": {"address": "10.244.1.0", "netmask": "255.255.255.255"}},
    }
    assert bgp.addresses_from_facts(facts) == ["192.0.2.5/24", "192.0.2.6/24", "203.0.113.5/30"]


# --------------------------------------------------------------------------- the front door


def front_door(plan, host):
    chains = {c["chain"]: c for c in planner.firewall_state(plan, host)["chains"]}
    return chains["FABRIC-INPUT"]["rules"]


def test_bgp_port_is_accepted_from_the_sessions_peers_only_routers_included():
    inputs = mesh(3)
    for i in inputs:
        i.peers = [{"address": "192.0.2.1", "asn": 65000}]
    plan, _ = make_plan(inputs, BgpSettings(mode="peers"))
    assert front_door(plan, "node1") == [
        "-s 192.0.2.1/32 -p tcp -m tcp --dport 179 -j ACCEPT", "-p tcp -m tcp --dport 179 -j DROP"]
    plan, _ = make_plan(mesh(3))
    assert front_door(plan, "node1") == [
        "-s 192.0.2.12/32 -p tcp -m tcp --dport 179 -j ACCEPT", "-s 192.0.2.13/32 -p tcp -m tcp --dport 179 -j ACCEPT",
        "-p tcp -m tcp --dport 179 -j DROP"]


def test_bgp_port_of_a_rack_host_is_open_to_its_reflector_only():
    plan, _ = make_plan(two_racks(), BgpSettings(mode="route-reflector"), public_net=None)
    assert front_door(plan, "a1") == [
        "-s 192.0.2.1/32 -p tcp -m tcp --dport 179 -j ACCEPT", "-p tcp -m tcp --dport 179 -j DROP"]
