"""A node leaves the inventory, then comes back.

Converge with an inventory that no longer lists hostgw-node3 (the same lease file): the others hold
no route of protocol 244 to its subnet or via its address. Its lease stays reserved. Converge with
the full inventory again: it gets its old subnet back, every node routes to every peer again, and
container traffic flows between it and the others both ways.
"""

from __future__ import annotations

from fabric_lab import converge, inventory_without, load_leases, load_plan, node, traffic_with
from hostgw_lab import expected_routes, routes

GONE = "hostgw-node3"


def test_a_node_removed_from_the_inventory_leaves_no_route_for_it(plan, tmp_path_factory):
    gone = plan["hosts"][GONE]
    converge(inventory=inventory_without(GONE, tmp_path_factory.mktemp("inventory")), what=f"converge without {GONE}")
    now = load_plan()
    assert sorted(now["hosts"]) == sorted(set(plan["hosts"]) - {GONE})
    assert load_leases().get(GONE) == gone["subnet"], f"{GONE} lost its lease"
    faults = []
    for name in sorted(now["hosts"]):
        have = routes(node(name))
        faults += [f"{name}: still routes {r}" for r in have if gone["subnet"] in r or gone["public_ip"] in r]
        if have != expected_routes(now, name):
            faults.append(f"{name}: routes {have} != {expected_routes(now, name)}")
    assert not faults, "\n".join(faults)


def test_the_node_added_back_gets_its_old_subnet_and_traffic_flows(plan):
    converge(what=f"converge with {GONE} back")
    now = load_plan()
    assert now["hosts"][GONE]["subnet"] == plan["hosts"][GONE]["subnet"], "not its old subnet"
    assert {name: routes(node(name)) for name in now["hosts"]} == {
        name: expected_routes(now, name) for name in now["hosts"]
    }
    faults = traffic_with(now, GONE)
    assert not faults, "traffic with the node added back:\n  " + "\n  ".join(faults)
