"""Switching the backend of a running fabric: host-gw -> vxlan -> host-gw, with a TCP connection open.

A workload on hostgw-node1 streams a line every 0.1 s over one TCP connection to a workload on
hostgw-node2, and another pings it every 0.1 s. site.yml runs with fabric_backend=vxlan and
fabric_vxlan_vni=5, then with the scenario's host-gw again, whose plan says the inventory's VNI 1: the
VTEP to remove, and the tunnel the transition accepts, are the one found on the node, flannel.5 (issue
11: the old VNI's VTEP stayed, and no switch from vxlan was seen). After each switch: the new
backend's state is complete and nothing of the old one is left (device, entries, routes, boot script,
unit); the TCP connection is the same one and still carries data. The longest gap between two
answered pings is printed and bounded.

The switch changes Docker's MTU (50 bytes of VXLAN), so the docker role restarts Docker: the
containers keep running because the nodes have Docker's live-restore on (prepare.yml), as a host
must for any restart of Docker without restarting its containers.
"""

from __future__ import annotations


import pytest
from fabric_lab import (assert_stream_kept, assert_tcp_alive, expected_entries, fabric_entries, node,
                        switch_backend, tcp_stream)
from hostgw_lab import expected_routes, hostgw_leftovers, routes, vxlan_leftovers

CLIENT, SERVER = "hostgw-node1", "hostgw-node2"
MAX_GAP = 3.0  # seconds between two answered pings, across both switches


@pytest.fixture(scope="module")
def stream(plan):
    yield from tcp_stream(plan, CLIENT, SERVER)


VXLAN_VNI = ("-e", "fabric_vxlan_vni=5")  # not the inventory's (default) VNI 1


def switch(backend: str | None, *extra: str) -> dict:
    return switch_backend(backend, "host-gw", *extra)


def faults_after_switch(plan: dict) -> list[str]:
    """The new backend complete on every node, nothing of the old one left."""
    faults = []
    for name in sorted(plan["hosts"]):
        host = node(name)
        if plan["backend"] == "vxlan":
            device = f"flannel.{plan['vxlan_vni']}"
            have, want = fabric_entries(host, device), expected_entries(plan, name, device)
            leftovers = hostgw_leftovers(host)
        else:
            have, want, leftovers = routes(host), expected_routes(plan, name), vxlan_leftovers(host)
        if have != want:
            faults.append(f"{name}: {have} != {want}")
        faults += [f"{name}: the old backend left its {thing}" for thing in leftovers]
    return faults


def test_switch_to_vxlan_leaves_nothing_of_host_gw_and_keeps_the_connection(stream):
    client, server = stream
    plan = switch("vxlan", *VXLAN_VNI)
    assert plan["vxlan_vni"] == 5
    faults = faults_after_switch(plan)
    assert not faults, "\n".join(faults)
    assert_tcp_alive(client, server, "after the switch to vxlan")


def test_switch_back_to_host_gw_leaves_nothing_of_vxlan_and_keeps_the_connection(stream):
    client, server = stream
    faults = faults_after_switch(switch(None))
    assert not faults, "\n".join(faults)
    assert_stream_kept(client, server, "after the switch back to host-gw", MAX_GAP)
