"""A node restarts and comes back without Ansible.

Restart the vxlan-node2 container (`docker restart`: systemd shuts down and boots again). With no
Ansible run, after boot: the boot units crosshost-fabric-forward.service and
crosshost-fabric-vxlan.service ran, both before Docker started; flannel.1 holds the same
neighbours, FDB entries and routes as before; the fabric's NAT and FORWARD rules are back and
forwarding is on; docker0 holds the node's gateway; and container traffic flows between the node
and the others, both ways, and out to the lab host, with the FORWARD policy DROP on every node.

About that policy: Docker sets it to DROP when it turns IPv4 forwarding on itself, as it did at the
first boot of every node (the lab boots them with forwarding off). After this restart the fabric's
sysctl file has turned forwarding on before Docker starts, so Docker leaves the policy alone; the
fabric's boot unit sets DROP again, since the forward role recorded DROP before its first change
(issue 11). So the traffic check finds DROP on every node without setting it: only the fabric's
FORWARD accepts can carry the traffic.
"""

from __future__ import annotations

import json

import pytest
from fabric_lab import (
    boot_unit_faults,
    expected_entries,
    fabric_entries,
    fabric_rules,
    node,
    restart_converged,
    seen_as,
    start_webs,
    stop_web,
    traffic_faults,
)

NODE = "vxlan-node2"
BOOT_UNITS = ("crosshost-fabric-forward.service", "crosshost-fabric-vxlan.service")


@pytest.fixture(scope="module")
def before(plan) -> dict:
    """What the node holds before the restart, then the restart itself."""
    rules = fabric_rules(node(NODE))
    assert rules, "no fabric rules before the restart"
    return {"rules": rules, "entries": restart_converged(NODE, plan, fabric_entries, expected_entries)}


def test_boot_units_ran_before_docker(before):
    faults = boot_unit_faults(node(NODE), BOOT_UNITS)
    assert not faults, "\n".join(faults)


def test_flannel_1_is_back_with_the_same_entries(before):
    host = node(NODE)
    assert host.interface("flannel.1").exists
    assert fabric_entries(host) == before["entries"]


def test_checksum_offload_workaround_is_back(before):
    # fabric_vxlan_checksum_offload_workaround: true in this scenario (flannel #1279, calico #3145).
    out = node(NODE).check_output("ethtool -k flannel.1")
    assert "tx-checksum-ip-generic: off" in out, out


def test_nat_and_forward_rules_are_back_and_forwarding_is_on(before):
    host = node(NODE)
    assert fabric_rules(host) == before["rules"]
    assert host.sysctl("net.ipv4.ip_forward") == 1


def test_docker0_holds_its_gateway(plan, before):
    entry = plan["hosts"][NODE]
    (link,) = json.loads(node(NODE).check_output("ip -j addr show docker0"))
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["family"] == "inet"]
    assert addrs == [f"{entry['gateway']}/{plan['subnet_len']}"]


def forward_policy(host) -> str:
    return host.check_output("iptables -w -S FORWARD").splitlines()[0]


def test_traffic_flows_again_under_a_forward_policy_drop(plan, before, outside_address):
    policies = {name: forward_policy(node(name)) for name in sorted(plan["hosts"])}
    assert set(policies.values()) == {"-P FORWARD DROP"}, policies
    webs = start_webs(plan)
    try:
        pairs = [(NODE, other) for other in sorted(webs) if other != NODE]
        faults = traffic_faults(plan, webs, pairs + [(b, a) for a, b in pairs])
        seen = seen_as(node(NODE), outside_address)
        if seen != plan["hosts"][NODE]["public_ip"]:
            faults.append(f"{NODE} -> outside host: seen as {seen or 'no connection'}")
    finally:
        for name in webs:
            stop_web(node(name))
    assert not faults, "traffic after the restart:\n  " + "\n  ".join(faults)
