"""A node restarts and its daemon comes back before Docker starts, without Ansible.

`docker restart udp-node2` (systemd shuts down and boots again). After boot, with no Ansible run:
crosshost-fabric-udp.service (Type=notify: ready once flannel0 is up) became active before Docker
started; flannel0 is back with its address and MTU; container traffic flows between the node and the
others both ways.
"""

from __future__ import annotations

import time

import pytest
from fabric_lab import node, restart_node, traffic_with, unit
from udp_lab import UNIT, udp_faults

NODE = "udp-node2"


@pytest.fixture(scope="module")
def restarted(plan):
    assert not udp_faults(plan, NODE), "the fabric is not converged before the restart"
    start = time.monotonic()
    restart_node(NODE, plan)
    print(f"\nrestart of {NODE} until booted: {time.monotonic() - start:.1f} s")
    return True


def test_the_daemon_was_ready_before_docker_started(restarted):
    host = node(NODE)
    docker = unit(host, "docker.service", "ExecMainStartTimestampMonotonic", "ActiveState")
    assert docker["ActiveState"] == "active"
    u = unit(host, UNIT, "ActiveState", "ActiveEnterTimestampMonotonic", "NRestarts")
    assert u["ActiveState"] == "active", u
    assert 0 < int(u["ActiveEnterTimestampMonotonic"]) < int(docker["ExecMainStartTimestampMonotonic"]), (u, docker)


def test_the_backend_is_back_and_traffic_flows(plan, restarted):
    faults = udp_faults(plan, NODE)
    assert not faults, "\n".join(faults)
    faults = traffic_with(plan, NODE)
    assert not faults, "traffic after the restart:\n  " + "\n  ".join(faults)
