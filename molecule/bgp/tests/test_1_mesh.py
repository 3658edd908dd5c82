"""A full iBGP mesh of three nodes: sessions, kernel routes and container traffic.

On each node BIRD must show an Established session to each other node; the kernel must hold each
peer's subnet via that peer's address, tagged proto bird; the node's own subnet must be served by
docker0's connected route alone (BIRD holds it as a blackhole, never in the kernel). From each node's
busybox workload: ping every other node's workload and open a TCP connection to it; the server must
see the client container's own address (no NAT inside the cluster network).
"""

from __future__ import annotations

import pathlib
import sys

from bgp_lab import bird_routes, routes_to, traffic_faults_parallel, wait_all_sessions
from fabric_lab import RECAP_FILE, all_pairs, node

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
from check_recap import assert_check_mode_clean  # noqa: E402 - the check recap every scenario asserts


def test_converge_in_check_mode_changed_nothing():
    assert_check_mode_clean(RECAP_FILE)


def test_every_session_is_established(plan):
    faults = []
    for name, states in sorted(wait_all_sessions(plan["hosts"]).items()):
        want = {"fabric_" + peer.replace("-", "_") for peer in plan["hosts"] if peer != name}
        if set(states) != want:
            faults.append(f"{name}: BGP protocols {sorted(states)}, expected {sorted(want)}")
        faults += [f"{name}: {line}" for line in states.values() if "Established" not in line]
    assert not faults, "birdc show protocols:\n  " + "\n  ".join(faults)


def test_each_kernel_holds_the_peer_subnets_and_docker0_alone_serves_its_own(plan):
    faults = []
    for name, me in sorted(plan["hosts"].items()):
        host = node(name)
        routes = bird_routes(host)
        want = {p["subnet"]: p["public_ip"] for n, p in plan["hosts"].items() if n != name}
        got = {dst: r.get("gateway") for dst, r in routes.items()}
        if got != want:
            faults.append(f"{name}: proto bird routes {got}, expected {want}")
        own = routes_to(host, me["subnet"])
        if [(r.get("dev"), r.get("protocol")) for r in own] != [("docker0", "kernel")]:
            faults.append(f"{name}: routes to its own subnet {me['subnet']}: {own} (want docker0's alone)")
    assert not faults, "\n".join(faults)


def test_workloads_reach_each_other_both_ways_without_nat(plan, webs):
    faults = traffic_faults_parallel(plan, webs, all_pairs(plan["hosts"]))
    assert not faults, "cross-node container traffic over BGP routes:\n  " + "\n  ".join(faults)
