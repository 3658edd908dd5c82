"""The overlay's front door, from the lab host outside the fabric (issue 6 items 12 and 13,
issue 14), and the fabric's rules across a `systemctl restart docker`.

vxlan-outside is on the same lab network as the nodes but not in the fabric. With NET_ADMIN
(molecule.yml) it builds its own VXLAN device with the fabric's VNI and port, points it at
vxlan-node1 with node1's VTEP MAC, and pings node1's workload through it, sourced from its own
address so that an answer could come straight back. No answer may come, and node1's front door
(FABRIC-INPUT) must count the drops. Then it routes the cluster network via node1 (an underlay
neighbour doing direct routing): no workload answers. Cross-node traffic keeps flowing, also
after Docker restarts on node1 and re-inserts its own jumps.
"""

from __future__ import annotations

import time

import pytest
from conftest import OUTSIDE
from fabric_lab import node, outside_pings, pings, reached_via, start_web, traffic_faults

TARGET = "vxlan-node1"
OTHER = "vxlan-node2"


def front_door_drops(host) -> int:
    out = host.check_output("iptables -w -L FABRIC-INPUT -v -x -n")
    return sum(int(line.split()[0]) for line in out.splitlines()[2:] if " DROP " in f" {line} ")


@pytest.fixture(scope="module")
def outsider(plan):
    host = node(OUTSIDE)
    yield host
    host.run("ip link del vx-evil")
    host.run(f"ip route del {plan['network']}")


def test_vxlan_injection_from_outside_gets_no_answer_and_is_counted(plan, webs, outsider, outside_address):
    me = plan["hosts"][TARGET]
    target = node(TARGET)
    before = front_door_drops(target)
    outsider.check_output(
        f"ip link add vx-evil type vxlan id {plan['vxlan_vni']} dstport {plan['vxlan_port']}"
        f" local {outside_address} dev eth0 nolearning"
    )
    outsider.check_output("ip link set vx-evil up")
    outsider.check_output(f"ip neigh add {me['vtep_ip']} lladdr {me['vtep_mac']} dev vx-evil nud permanent")
    outsider.check_output(f"bridge fdb append {me['vtep_mac']} dev vx-evil dst {me['public_ip']}")
    outsider.check_output(
        f"ip route add {webs[TARGET]}/32 via {me['vtep_ip']} dev vx-evil onlink src {outside_address}"
    )
    assert not outside_pings(outsider, webs[TARGET]), "the outsider's VXLAN frames reached node1's workload"
    assert front_door_drops(target) >= before + 3, "node1's front door did not count the outsider's frames"
    outsider.run("ip link del vx-evil")
    # the peers' own traffic still flows, both ways
    assert not traffic_faults(plan, webs, [(OTHER, TARGET), (TARGET, OTHER)])


def test_underlay_neighbour_routing_via_a_node_reaches_no_workload(plan, webs, outsider):
    reached = reached_via(outsider, plan["network"], plan["hosts"][TARGET]["public_ip"], webs)
    assert not reached, f"an underlay neighbour routing via {TARGET} reached the workloads of {reached}"


def test_rules_stay_effective_after_docker_restarts(plan, webs, outsider):
    target = node(TARGET)
    target.check_output("systemctl restart docker")
    deadline = time.monotonic() + 60
    while target.run("docker info").rc != 0 and time.monotonic() < deadline:
        time.sleep(1)
    webs[TARGET] = start_web(target)
    assert not traffic_faults(plan, webs, [(OTHER, TARGET), (TARGET, OTHER)]), "fabric traffic after a Docker restart"
    assert pings(node(OTHER), webs[TARGET])
    reached = reached_via(outsider, plan["network"], plan["hosts"][TARGET]["public_ip"], {TARGET: webs[TARGET]})
    assert not reached, "an underlay neighbour reached node1's workload after a Docker restart"
