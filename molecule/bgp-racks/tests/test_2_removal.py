"""Removing a host from the inventory withdraws its subnet everywhere after a converge: its rack's
router drops the session, so no remaining host and no router keeps a route to it."""

from __future__ import annotations

import time

from bgp_lab import bird_routes, converge
from fabric_lab import inventory_without, node

GONE = "racks-b2"


def test_a_host_removed_from_the_inventory_is_withdrawn_everywhere(plan, tmp_path):
    gone_subnet = plan["hosts"][GONE]["subnet"]
    others = [n for n in plan["bgp"]["speakers"] if n != GONE]
    assert all(gone_subnet in bird_routes(node(n)) for n in others if n in plan["hosts"] or "tor" in n)
    proc = converge(inventory=inventory_without(GONE, tmp_path / "inventory"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    deadline = time.monotonic() + 60
    while True:
        still = [n for n in others if gone_subnet in bird_routes(node(n))]
        if not still or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not still, f"{gone_subnet} of {GONE} still routed on {still}"
