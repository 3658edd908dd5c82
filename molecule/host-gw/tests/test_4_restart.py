"""A node restarts and its routes come back before Docker starts, without Ansible.

`docker restart hostgw-node2` (systemd shuts down and boots again). After boot, with no Ansible
run: crosshost-fabric-routes.service ran and finished before Docker started; the node holds the
same routes as before; and container traffic flows between it and the others both ways.
"""

from __future__ import annotations

import subprocess

import pytest
from fabric_lab import node, node_address, start_webs, stop_web, traffic_faults, wait_until_booted
from hostgw_lab import ROUTES_UNIT, expected_routes, routes

NODE = "hostgw-node2"


@pytest.fixture(scope="module")
def before(plan) -> set:
    seen = routes(node(NODE))
    assert seen == expected_routes(plan, NODE), "the fabric is not converged before the restart"
    subprocess.run(["docker", "restart", NODE], check=True, capture_output=True, timeout=180)
    wait_until_booted(NODE)
    if node_address(NODE) != plan["hosts"][NODE]["public_ip"]:
        pytest.fail(f"{NODE} came back with another lab address ({node_address(NODE)}): a lab artifact",
                    pytrace=False)
    return seen


def unit(host, name: str, *props: str) -> dict[str, str]:
    out = host.check_output(f"systemctl show {name} " + " ".join(f"-p {p}" for p in props))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


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
    webs = start_webs(plan)
    try:
        pairs = [(NODE, other) for other in sorted(webs) if other != NODE]
        faults = traffic_faults(plan, webs, pairs + [(b, a) for a, b in pairs])
    finally:
        for name in webs:
            stop_web(node(name))
    assert not faults, "traffic after the restart:\n  " + "\n  ".join(faults)
