"""A node restarts and its routes come back before Docker starts, without Ansible.

`docker restart hostgw-node2` (systemd shuts down and boots again). After boot, with no Ansible
run: crosshost-fabric-routes.service ran and finished before Docker started; the node holds the
same routes as before; and container traffic flows between it and the others both ways.
"""

from __future__ import annotations

import pytest
from fabric_lab import node, restart_node, traffic_with, unit
from hostgw_lab import ROUTES_UNIT, expected_routes, routes

NODE = "hostgw-node2"


@pytest.fixture(scope="module")
def before(plan) -> set:
    seen = routes(node(NODE))
    assert seen == expected_routes(plan, NODE), "the fabric is not converged before the restart"
    restart_node(NODE, plan)
    return seen


def test_the_routes_unit_ran_before_docker(before):
    host = node(NODE)
    docker = unit(host, "docker.service", "ExecMainStartTimestampMonotonic", "ActiveState")
    assert docker["ActiveState"] == "active"
    u = unit(host, ROUTES_UNIT, "ActiveState", "Result", "ActiveEnterTimestampMonotonic")
    assert (u["ActiveState"], u["Result"]) == ("active", "success"), u
    assert 0 < int(u["ActiveEnterTimestampMonotonic"]) < int(docker["ExecMainStartTimestampMonotonic"]), (u, docker)


def test_the_routes_are_back(before):
    assert routes(node(NODE)) == before


def test_traffic_flows_again(plan, before):
    faults = traffic_with(plan, NODE)
    assert not faults, "traffic after the restart:\n  " + "\n  ".join(faults)
