"""A node restarts and its routes come back before Docker starts, without Ansible; then a reset.

`docker restart hostgw-node2` (systemd shuts down and boots again). After boot, with no Ansible
run: crosshost-fabric-routes.service ran and finished before Docker started; the node holds the
same routes as before; container traffic flows between it and the others both ways; and the
iptables FORWARD policy is DROP, as Docker set it at the node's first boot, before the fabric (the
lab boots its nodes with forwarding off). The fabric's sysctl file turns forwarding on at boot
before Docker starts, and Docker sets DROP only when it turns forwarding on itself: the fabric must
not leave the host's default more open than it found it (issue 11).

Last, reset.yml on the restarted node alone gives back its snapshot from before the first site.yml
(prepare.yml), on every engine: the reset restores what the fabric recorded before its first change.
The only differences allowed are what any reboot renews by itself: docker0's MAC address (the node's
Docker creates the bridge at each boot with a new random one) and the ports of the embedded DNS rules
(chains DOCKER_OUTPUT and DOCKER_POSTROUTING to and from 127.0.0.11: this machine's Docker puts them in
the node, a container on a user-defined lab network, with new random ports at each start of it).
The last test of the scenario: the other nodes keep their routes to this node, and destroy follows.
(That a second reset changes nothing is test_3_z_reset's proof; it is not repeated here, to keep the
scenario's time on each engine.)
"""

from __future__ import annotations

import difflib
import re

import pytest
from fabric_lab import (
    SNAPSHOT_BEFORE,
    SNAPSHOT_SCRIPT,
    boot_unit_faults,
    node,
    restart_converged,
    run_playbook,
    traffic_with,
)
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


def forward_policy(host) -> str:
    return host.check_output("iptables -w -S FORWARD").splitlines()[0]


def test_the_forward_policy_is_drop_as_before_the_fabric(before):
    host = node(NODE)
    # The snapshot taken before the first site.yml: Docker had set DROP (the node booted with forwarding off).
    assert ":FORWARD DROP []" in host.check_output(f"cat {SNAPSHOT_BEFORE}").splitlines()
    assert forward_policy(host) == "-P FORWARD DROP", "the fabric left FORWARD more open than it found it"


# What a reboot renews by itself, whatever the fabric does (see the module's docstring): docker0's MAC
# and the embedded DNS rules' ports (only in those two chains, only the ports).
DOCKER0_MAC = re.compile(r"^(docker0\s+\S+\s+)[0-9a-f]{2}(:[0-9a-f]{2}){5}")
DNS_PORT = re.compile(r"(127\.0\.0\.11:|--sport )[0-9]+")


def renewed(lines: list[str]) -> list[str]:
    lines = [DOCKER0_MAC.sub(r"\1<docker0 MAC>", line) for line in lines]
    return [
        DNS_PORT.sub(r"\1<port>", line) if line.startswith(("-A DOCKER_OUTPUT ", "-A DOCKER_POSTROUTING ")) else line
        for line in lines
    ]


def test_a_reset_after_the_restart_gives_the_node_back_as_before_the_first_site_yml(before):
    host = node(NODE)
    rc, out = run_playbook("playbooks/reset.yml", "--limit", NODE)
    assert rc == 0, out[-6000:]
    was = renewed(host.check_output(f"cat {SNAPSHOT_BEFORE}").splitlines())
    now = renewed(host.check_output(SNAPSHOT_SCRIPT).splitlines())
    diff = "\n".join(difflib.unified_diff(was, now, "before the first site.yml", "after restart + reset", lineterm=""))
    assert was == now, f"reset.yml after the restart left {NODE} different from before the first site.yml:\n{diff}"
