"""A node leaves the inventory, then comes back.

Converge with an inventory that no longer lists vxlan-node3 (the same lease file): vxlan-node1 and
vxlan-node2 must hold no neighbour, FDB entry or route of protocol 244 that points at it, only
each other's. Its lease stays reserved. Converge with the full inventory again: vxlan-node3 gets
its old subnet back and container traffic flows between it and the others both ways.
"""

from __future__ import annotations

import pytest

from fabric_lab import expected_entries, fabric_entries, leave_faults, mentions, return_faults

pytestmark = pytest.mark.engine_independent  # the kernel's entries and the planner: no engine takes part

GONE = "vxlan-node3"


def test_a_node_removed_from_the_inventory_leaves_no_entries_on_the_others(plan, tmp_path_factory):
    faults = leave_faults(plan, GONE, tmp_path_factory, fabric_entries, expected_entries, mentions)
    assert not faults, "\n".join(faults)


def test_the_node_added_back_gets_its_old_subnet_and_traffic_flows(plan):
    faults = return_faults(plan, GONE, fabric_entries, expected_entries)
    assert not faults, "with the node added back:\n  " + "\n  ".join(faults)
