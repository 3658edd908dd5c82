"""Switching the backend of a running fabric: udp -> vxlan -> udp.

site.yml runs with fabric_backend=vxlan, then with the scenario's udp again. After each switch the new
backend is complete on every node and nothing of the old one is left: after vxlan, no flannel0, no
daemon, unit, peer file, status socket or port-8285 rule; after udp, no flannel.1, no VXLAN boot
script or unit and no route of the fabric's protocol. Containers on udp-node1 talk to the others both
ways after each switch. A workload pings across both switches every 0.1 s; the longest gap is printed
(not bounded: unlike vxlan <-> host-gw, flannel0 and flannel.1 are different devices and the switch
moves traffic from one to the other).
"""

from __future__ import annotations


import pytest
from fabric_lab import expected_entries, fabric_entries, node, switch_backend, traffic_with
from udp_lab import Pinger, udp_faults, udp_leftovers

A, B = "udp-node1", "udp-node2"


@pytest.fixture(scope="module")
def pinger(plan):
    p = Pinger(node(A), node(B))
    yield p
    p.stop()


def switch(backend: str | None) -> dict:
    return switch_backend(backend, "udp")


def test_switch_to_vxlan_leaves_nothing_of_udp(pinger):
    plan = switch("vxlan")
    faults = []
    for name in sorted(plan["hosts"]):
        host = node(name)
        if fabric_entries(host) != expected_entries(plan, name):
            faults.append(f"{name}: vxlan entries {fabric_entries(host)} != {expected_entries(plan, name)}")
        faults += [f"{name}: udp left {thing}" for thing in udp_leftovers(host)]
    assert not faults, "\n".join(faults)
    faults = traffic_with(plan, A)
    assert not faults, "traffic over vxlan:\n  " + "\n  ".join(faults)


def test_switch_back_to_udp_leaves_nothing_of_vxlan(pinger):
    plan = switch(None)
    faults = [f for name in sorted(plan["hosts"]) for f in udp_faults(plan, name)]
    assert not faults, "\n".join(faults)
    faults = traffic_with(plan, A)
    assert not faults, "traffic over udp again:\n  " + "\n  ".join(faults)
    gap, answered, sent = pinger.gap()
    print(f"ping {A} -> {B} every 0.1 s across both switches: {answered} of {sent} answered, "
          f"longest gap {gap:.1f} s")
