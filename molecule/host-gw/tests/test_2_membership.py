"""A node leaves the inventory, is refused on its way back while its Docker has the nftables
firewall backend, then comes back.

Converge with an inventory that no longer lists hostgw-node3 (the same lease file): the others hold
no route of protocol 244 to its subnet or via its address. Its lease stays reserved.

Then hostgw-node3's daemon.json names Docker's nftables firewall backend (`"firewall-backend":
"nftables"`, which the fabric cannot work with, issue 14) and site.yml runs with the full inventory:
it must stop, naming the host and the setting, before any host changes: every node's routes,
links, policy rules, iptables rules and fabric files are the same after the run (the others would
otherwise already route to hostgw-node3 when its refusal came).

On the other engines of the matrix only the refusal runs (with hostgw-node3 still in the fabric):
leaving and coming back are `engine_independent`.

With its daemon.json as it was, converge with the full inventory again: it gets its old subnet back,
every node routes to every peer again, and container traffic flows between it and the others both ways.
"""

from __future__ import annotations

import json

import pytest

from fabric_lab import ansible_playbook, changes, leave_faults, node, return_faults, snapshot, write_file
from hostgw_lab import expected_routes, route_mentions, routes

GONE = "hostgw-node3"
DAEMON_JSON = "/etc/docker/daemon.json"


@pytest.mark.engine_independent
def test_a_node_removed_from_the_inventory_leaves_no_route_for_it(plan, tmp_path_factory):
    faults = leave_faults(plan, GONE, tmp_path_factory, routes, expected_routes, route_mentions)
    assert not faults, "\n".join(faults)


def test_a_node_with_dockers_nftables_backend_is_refused_before_any_host_changes(plan):
    original = node(GONE).file(DAEMON_JSON).content_string
    config = dict(json.loads(original or "{}"), **{"firewall-backend": "nftables"})
    write_file(GONE, DAEMON_JSON, json.dumps(config, indent=2) + "\n")
    try:
        before = {name: snapshot(name) for name in sorted(plan["hosts"])}
        run = ansible_playbook()
        after = {name: snapshot(name) for name in sorted(plan["hosts"])}
    finally:
        write_file(GONE, DAEMON_JSON, original)
    out = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0, out[-3000:]
    assert f"host {GONE}:" in out and '"firewall-backend": "nftables"' in out, out[-3000:]
    assert "nothing was changed" in out
    assert not changes(before, after), "the refused run changed hosts:\n" + "\n".join(changes(before, after))


@pytest.mark.engine_independent
def test_the_node_added_back_gets_its_old_subnet_and_traffic_flows(plan):
    faults = return_faults(plan, GONE, routes, expected_routes)
    assert not faults, "with the node added back:\n  " + "\n  ".join(faults)
