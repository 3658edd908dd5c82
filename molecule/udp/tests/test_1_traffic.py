"""Containers talk across nodes through flannel0 and crosshost-fabric-udp: ping and TCP, no NAT.

Each node runs the daemon (enabled, running) with flannel0 at its subnet address with the cluster
network's prefix and MTU 1500 - 28; the whole cluster network is routed to flannel0 (docker0's subnet
stays local); the daemon's peers are the plan's; no route of the fabric's protocol, no flannel.1. The
udp port is accepted only from the peers. From each node's workload: ping every other node's workload
and open a TCP connection to it (the server must see the client container's own address).
"""

from __future__ import annotations

import pathlib
import sys
import time

import pytest
from fabric_lab import RECAP_FILE, all_pairs, node, traffic_faults
from udp_lab import PORT, udp_faults

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
from check_recap import assert_check_mode_clean  # noqa: E402 - the check recap every scenario asserts

NODES = ["udp-node1", "udp-node2", "udp-node3"]


def test_converge_in_check_mode_changed_nothing():
    assert_check_mode_clean(RECAP_FILE)


def test_the_plan_is_udp_with_the_mtu_less_28(plan):
    assert plan["backend"] == "udp" and plan["udp_port"] == PORT
    assert {h["mtu"] for h in plan["hosts"].values()} == {1472}


@pytest.mark.parametrize("me", NODES)
def test_each_node_runs_the_daemon_with_the_plans_peers(plan, me):
    faults = udp_faults(plan, me)
    assert not faults, "\n".join(faults)
    subnet = plan["hosts"][me]["subnet"]
    local = node(me).check_output(f"ip route show {subnet}")
    assert local.startswith(f"{subnet} dev docker0"), f"{me}: its own subnet is routed {local!r}"


@pytest.mark.parametrize("me", NODES)
def test_the_udp_port_is_accepted_only_from_the_peers(plan, me):
    rules = node(me).check_output("iptables -w -S FABRIC-INPUT").splitlines()
    accepted = sorted(r.split()[3] for r in rules if f"--dport {PORT} -j ACCEPT" in r)
    assert accepted == sorted(f"{h['public_ip']}/32" for n, h in plan["hosts"].items() if n != me), rules
    assert f"-A FABRIC-INPUT -p udp -m udp --dport {PORT} -j DROP" in rules, rules


def test_workloads_ping_and_connect_to_workloads_on_every_other_node_unmasqueraded(plan, webs):
    start = time.monotonic()
    faults = traffic_faults(plan, webs, all_pairs(plan["hosts"]))
    print(f"\ntraffic between every pair of nodes, both ways: {time.monotonic() - start:.1f} s")
    assert not faults, "cross-node container traffic:\n  " + "\n  ".join(faults)
