"""A node restarts (`docker restart`: systemd shuts down and boots again) and, with no Ansible run,
BIRD starts before Docker, its sessions come back Established, the kernel holds the peers' subnets
again, container traffic flows both ways, and BGP's port is still accepted only from the peers: a
lab container that is no peer cannot open a TCP connection to it (its SYN is dropped)."""

from __future__ import annotations

import subprocess
import time

import pytest
from bgp_lab import bird_routes, wait_sessions
from fabric_lab import node, node_address, restart_node, traffic_with, unit

NODE = "bgp-node2"
OUTSIDER = "bgp-router"  # on the lab network, not a BGP peer in mesh mode


@pytest.fixture(scope="module")
def before(plan) -> dict:
    seen = bird_routes(node(NODE))
    assert set(seen) == {p["subnet"] for n, p in plan["hosts"].items() if n != NODE}, "not converged"
    restart_node(NODE, plan)
    return seen


def test_bird_started_before_docker(before):
    host = node(NODE)
    docker = unit(host, "docker.service", "ExecMainStartTimestampMonotonic", "ActiveState")
    bird = unit(host, "bird.service", "ActiveState", "ActiveEnterTimestampMonotonic")
    assert docker["ActiveState"] == "active" and bird["ActiveState"] == "active", (docker, bird)
    assert 0 < int(bird["ActiveEnterTimestampMonotonic"]) < int(docker["ExecMainStartTimestampMonotonic"])


def test_sessions_and_routes_are_back(before):
    host = node(NODE)
    states = wait_sessions(host, want_established=True, timeout=90)
    assert states and all("Established" in line for line in states.values()), states
    routes = {}
    for _ in range(150):
        routes = bird_routes(host)
        if set(routes) == set(before):
            break
        time.sleep(0.2)
    assert {d: r.get("gateway") for d, r in routes.items()} == {d: r.get("gateway") for d, r in before.items()}


def test_traffic_flows_again(plan, before):
    faults = traffic_with(plan, NODE)
    assert not faults, "traffic after the restart:\n  " + "\n  ".join(faults)


def drops(host) -> int:
    """Packets the front door's final DROP of BGP's port has counted."""
    out = host.check_output("iptables -w -L FABRIC-INPUT -n -v -x")
    return sum(int(line.split()[0]) for line in out.splitlines() if "DROP" in line and "dpt:179" in line)


def test_bgp_port_is_closed_to_a_non_peer(plan, before):
    """BIRD listens on every address and would accept the connection (it has no key for this address):
    only the firewall can make the outsider's connect time out (exit 124), and its DROP counts it."""
    host = node(NODE)
    target = plan["hosts"][NODE]["public_ip"]
    dropped = drops(host)
    probe = f"timeout 4 bash -c 'exec 3<>/dev/tcp/{target}/179'; echo $?"
    outsider = subprocess.run(["docker", "exec", OUTSIDER, "bash", "-c", probe], capture_output=True, text=True)
    assert outsider.stdout.strip() == "124", (node_address(OUTSIDER), outsider.stdout, outsider.stderr)
    assert drops(host) > dropped
