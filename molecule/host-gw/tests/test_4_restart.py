"""A node restarts and its routes come back before Docker starts, without Ansible.

`docker restart hostgw-node2` (systemd shuts down and boots again). After boot, with no Ansible
run: crosshost-fabric-routes.service ran and finished before Docker started; the node holds the
same routes as before; and container traffic flows between it and the others both ways.
"""

from __future__ import annotations

import pytest
from fabric_lab import boot_unit_faults, node, restart_converged, traffic_with
from hostgw_lab import ROUTES_UNIT, expected_routes, routes

NODE = "hostgw-node2"


@pytest.fixture(scope="module")
def before(plan) -> set:
    return restart_converged(NODE, plan, routes, expected_routes)


def test_the_routes_unit_ran_before_docker(before):
    faults = boot_unit_faults(node(NODE), [ROUTES_UNIT])
    assert not faults, "\n".join(faults)


def test_the_routes_are_back(before):
    assert routes(node(NODE)) == before


def test_traffic_flows_again(plan, before):
    faults = traffic_with(plan, NODE)
    assert not faults, "traffic after the restart:\n  " + "\n  ".join(faults)
