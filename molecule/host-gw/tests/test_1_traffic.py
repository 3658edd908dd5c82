"""Containers talk across nodes over plain routes: no tunnel device, no NAT.

Each node holds, for every peer, `<peer subnet> via <peer address> dev eth0 proto 244` and nothing
else of the fabric's protocol; there is no flannel.1. From each node's workload: ping every other
node's workload and open a TCP connection to it (the server must see the client container's own
address). The boot unit and script are in place.

host-gw puts container addresses on the segment's wire, so a host of the segment that is not a
peer (hostgw-outside) could try the same: it routes the cluster network via a node and pings the
workloads. The node's own docker0 address answers it (the packets do arrive), no workload does, on
every engine: Docker 28's raw drops stay in force for everyone but the peers (issue 14).
"""

from __future__ import annotations

import pathlib
import sys

import pytest
from fabric_lab import RECAP_FILE, all_pairs, node, reached_via, traffic_faults
from hostgw_lab import ROUTES_SCRIPT, ROUTES_UNIT, expected_route_lines, expected_routes, route_lines, routes
from hostgw_lab import vxlan_leftovers

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
from check_recap import assert_check_mode_clean  # noqa: E402 - the check recap every scenario asserts

OUTSIDE = "hostgw-outside"  # on the segment, not in the fabric (molecule.yml)


def test_converge_in_check_mode_changed_nothing():
    assert_check_mode_clean(RECAP_FILE)


def test_the_plan_is_host_gw_with_the_full_mtu(plan):
    assert plan["backend"] == "host-gw"
    assert {h["mtu"] for h in plan["hosts"].values()} == {1500}


@pytest.mark.parametrize("me", ["hostgw-node1", "hostgw-node2", "hostgw-node3"])
def test_each_peer_is_routed_via_its_address_and_there_is_no_tunnel(plan, me):
    host = node(me)
    assert routes(host) == expected_routes(plan, me)
    assert route_lines(host) == expected_route_lines(plan, me)
    assert vxlan_leftovers(host) == []
    assert host.file(ROUTES_SCRIPT).mode == 0o755
    assert host.service(ROUTES_UNIT).is_enabled


def test_workloads_ping_and_connect_to_workloads_on_every_other_node_unmasqueraded(plan, webs):
    faults = traffic_faults(plan, webs, all_pairs(plan["hosts"]))
    assert not faults, "cross-node container traffic:\n  " + "\n  ".join(faults)


def test_a_host_of_the_segment_that_is_not_a_peer_reaches_no_workload(plan, webs):
    outsider = node(OUTSIDE)
    faults = []
    for name, entry in sorted(plan["hosts"].items()):
        # via each node: its own workload and docker0 (answers: the packets arrive); via the first, all workloads
        targets = dict(webs) if name == min(plan["hosts"]) else {name: webs[name]}
        targets["docker0"] = entry["gateway"]
        reached = reached_via(outsider, plan["network"], entry["public_ip"], targets)
        if reached != ["docker0"]:
            faults.append(f"routing via {name}, {OUTSIDE} got answers from {reached}, not from docker0 alone")
    assert not faults, "\n".join(faults)
