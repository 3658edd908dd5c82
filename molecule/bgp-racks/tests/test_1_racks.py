"""Two racks, one AS each, the top-of-rack routers as route reflectors configured by the collection.

Each host has one BGP session, to its rack's router, Established; each router has one to each host
of its rack and one (eBGP) to the other router. The routers' kernels carry every container subnet;
each host's kernel carries the other hosts' subnets. Containers reach containers of every other
host, across racks too, and the server sees the client container's own address.
"""

from __future__ import annotations

import pathlib
import sys

from bgp_lab import bird_routes, traffic_faults_parallel, wait_all_sessions
from fabric_lab import RECAP_FILE, all_pairs, node

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
from check_recap import assert_check_mode_clean  # noqa: E402 - the check recap every scenario asserts

ROUTERS = {"racks-tor-a": "a", "racks-tor-b": "b"}


def proto(name: str) -> str:
    return "fabric_" + name.replace("-", "_")


def test_converge_in_check_mode_changed_nothing():
    assert_check_mode_clean(RECAP_FILE)


def test_hosts_peer_only_with_their_rack_router_and_routers_with_each_other(plan):
    speakers = plan["bgp"]["speakers"]
    assert {n for n, s in speakers.items() if s["router"]} == set(ROUTERS)
    seen = wait_all_sessions(speakers, timeout=90)
    faults = []
    for name, me in sorted(speakers.items()):
        if me["router"]:
            want = {proto(n) for n, s in speakers.items() if s["rack"] == me["rack"] and not s["router"]}
            want |= {proto(r) for r in ROUTERS if r != name}
        else:
            want = {proto(r) for r, rack in ROUTERS.items() if rack == me["rack"]}
        states = seen[name]
        if set(states) != want:
            faults.append(f"{name}: BGP protocols {sorted(states)}, expected {sorted(want)}")
        faults += [f"{name}: {line}" for line in states.values() if "Established" not in line]
    assert not faults, "birdc show protocols:\n  " + "\n  ".join(faults)


def test_routers_carry_every_subnet_and_hosts_every_other(plan):
    subnets = {n: h["subnet"] for n, h in plan["hosts"].items()}
    faults = []
    for router in ROUTERS:
        have = set(bird_routes(node(router)))
        if have != set(subnets.values()):
            faults.append(f"{router}: proto bird routes {sorted(have)}, expected {sorted(subnets.values())}")
    for name in subnets:
        have = set(bird_routes(node(name)))
        want = {s for n, s in subnets.items() if n != name}
        if have != want:
            faults.append(f"{name}: proto bird routes {sorted(have)}, expected {sorted(want)}")
    assert not faults, "\n".join(faults)


def test_containers_reach_each_other_across_racks_without_nat(plan, webs):
    faults = traffic_faults_parallel(plan, webs, all_pairs(plan["hosts"]))
    assert not faults, "container traffic across racks:\n  " + "\n  ".join(faults)
