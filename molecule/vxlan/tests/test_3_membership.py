"""A node leaves the inventory, then comes back.

Converge with an inventory that no longer lists vxlan-node3 (the same lease file): vxlan-node1 and
vxlan-node2 must hold no neighbour, FDB entry or route of protocol 244 that points at it, only
each other's. Its lease stays reserved. Converge with the full inventory again: vxlan-node3 gets
its old subnet back and container traffic flows between it and the others both ways.
"""

from __future__ import annotations

import pytest
from fabric_lab import (
    converge,
    expected_entries,
    fabric_entries,
    inventory_without,
    load_leases,
    load_plan,
    mentions,
    node,
    traffic_with,
)

GONE = "vxlan-node3"


@pytest.fixture(scope="module")
def before() -> dict:
    """The plan of the full fabric, before the node leaves."""
    return load_plan()


def test_a_node_removed_from_the_inventory_leaves_no_entries_on_the_others(before, tmp_path_factory):
    inventory = inventory_without(GONE, tmp_path_factory.mktemp("inventory"))
    converge(inventory=inventory, what=f"converge without {GONE}")

    plan = load_plan()
    assert sorted(plan["hosts"]) == sorted(set(before["hosts"]) - {GONE})
    assert load_leases().get(GONE) == before["hosts"][GONE]["subnet"], f"{GONE} lost its lease"
    faults = []
    for name in sorted(plan["hosts"]):
        entries = fabric_entries(node(name))
        faults += [f"{name}: still has {line}" for line in mentions(entries, before["hosts"][GONE])]
        if entries != expected_entries(plan, name):
            faults.append(f"{name}: flannel.1 entries {entries} != {expected_entries(plan, name)}")
    assert not faults, "\n".join(faults)


def test_the_node_added_back_gets_its_old_subnet_and_traffic_flows(before):
    converge(what=f"converge with {GONE} back")

    plan = load_plan()
    assert plan["hosts"][GONE]["subnet"] == before["hosts"][GONE]["subnet"], "not its old subnet"
    for name in sorted(plan["hosts"]):
        assert fabric_entries(node(name)) == expected_entries(plan, name), f"{name}: flannel.1 entries"

    faults = traffic_with(plan, GONE)
    assert not faults, "traffic with the node added back:\n  " + "\n  ".join(faults)
