"""flannel's DirectRouting: peers on the same segment are reached without VXLAN.

direct-a1 and direct-a2 share segment a; direct-b1 sits on segment b, behind direct-router. With
fabric_vxlan_direct_routing, each node routes a same-segment peer's subnet straight to the peer's
public address on eth0 (proto 244), and a peer behind the router through flannel.1 as usual. The
traffic checks count the packets flannel.1 sends: none for a1 <-> a2, all of them for a <-> b.
"""

from __future__ import annotations

import json
import pathlib
import sys

import pytest
from fabric_lab import (
    DEVICE,
    RECAP_FILE,
    all_pairs,
    fabric_entries,
    node,
    traffic_faults,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
from check_recap import assert_check_mode_clean  # noqa: E402 - the check recap every scenario asserts

SEGMENT = {"direct-a1": "a", "direct-a2": "a", "direct-b1": "b"}
PINGS = 20


def expected_routes(plan: dict, me: str) -> set:
    """(subnet, gateway, device) of each peer: direct on the same segment, else via flannel.1."""
    routes = set()
    for name, peer in plan["hosts"].items():
        if name == me:
            continue
        if SEGMENT[name] == SEGMENT[me]:
            routes.add((peer["subnet"], peer["public_ip"], plan["hosts"][me]["iface"]))
        else:
            routes.add((peer["subnet"], peer["vtep_ip"], DEVICE))
    return routes


def tx_packets(host, dev: str) -> int:
    (link,) = json.loads(host.check_output(f"ip -j -s link show {dev}"))
    return int(link["stats64"]["tx"]["packets"])


def test_converge_in_check_mode_changed_nothing():
    """Changed, failed, ignored and unreachable results of `molecule check`: none."""
    assert_check_mode_clean(RECAP_FILE)


def test_the_plan_knows_direct_routing_and_the_segments(plan):
    assert plan["vxlan_direct_routing"] is True
    nets = {name: h["public_net"] for name, h in plan["hosts"].items()}
    assert nets["direct-a1"] == nets["direct-a2"] != nets["direct-b1"], nets


@pytest.mark.parametrize("me", sorted(SEGMENT))
def test_same_segment_peers_are_routed_directly_others_through_flannel_1(plan, me):
    entries = fabric_entries(node(me))
    assert entries["routes"] == expected_routes(plan, me)
    # The neighbour and FDB entries of every peer stay, direct or not (unused while direct).
    peers = [h for name, h in plan["hosts"].items() if name != me]
    assert entries["neigh"] == {(p["vtep_ip"], p["vtep_mac"]) for p in peers}
    assert entries["fdb"] == {(p["vtep_mac"], p["public_ip"]) for p in peers}
    # Routes to the tunnel keep onlink; direct ones do not need it.
    for route in json.loads(node(me).check_output("ip -j route show proto 244")):
        assert ("onlink" in route.get("flags", [])) == (route["dev"] == DEVICE), route


def test_workloads_talk_across_nodes_unmasqueraded(plan, webs):
    faults = traffic_faults(plan, webs, all_pairs(plan["hosts"]))
    assert not faults, "container traffic:\n  " + "\n  ".join(faults)


@pytest.mark.parametrize(
    ("src", "dst", "tunnel"),
    [
        ("direct-a1", "direct-a2", False),
        ("direct-a2", "direct-a1", False),
        ("direct-a1", "direct-b1", True),
        ("direct-b1", "direct-a2", True),
    ],
)
def test_flannel_1_carries_only_the_traffic_to_the_other_segment(plan, webs, src, dst, tunnel):
    host = node(src)
    iface = plan["hosts"][src]["iface"]
    route = json.loads(host.check_output(f"ip -j route get {webs[dst]}"))[0]
    assert route["dev"] == (DEVICE if tunnel else iface), route
    vx0, eth0 = tx_packets(host, DEVICE), tx_packets(host, iface)
    host.check_output(f"docker exec fabric-web ping -q -c {PINGS} -i 0.2 -W 2 {webs[dst]}")
    vx, eth = tx_packets(host, DEVICE) - vx0, tx_packets(host, iface) - eth0
    print(f"{src} -> {dst}: flannel.1 sent {vx} packets, {iface} sent {eth} packets")
    assert eth >= PINGS
    if tunnel:
        assert vx >= PINGS, f"{src} -> {dst} should go through {DEVICE}, which sent only {vx} packets"
    else:
        assert vx == 0, f"{src} -> {dst} should bypass {DEVICE}, which sent {vx} packets"
