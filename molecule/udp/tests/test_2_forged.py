"""Forged datagrams are dropped and counted.

- From the lab host outside the fabric, one datagram to udp-node1's port 8285 carrying a ping from
  udp-node2's subnet to udp-node1's workload: FABRIC-INPUT drops it (its DROP rule counts it) and the
  daemon never sees it.
- The same with the firewall opened to the outside host for the test (one rule, removed after): the
  daemon drops it itself as "not_peer", and counts it; nothing is written to flannel0.
- From udp-node2, a fabric peer, a ping that claims to come from udp-node3's subnet: the daemon drops
  it as "bad_source" and counts it.
The drops are in the daemon's journal too.
"""

from __future__ import annotations

import ipaddress
import subprocess
import time

import pytest
from fabric_lab import node, node_address, start_web, stop_web
from udp_lab import PORT, UNIT, forge_script, front_door_drops, status

OUTSIDE, TARGET, PEER, OTHER = "udp-outside", "udp-node1", "udp-node2", "udp-node3"


@pytest.fixture(scope="module")
def target_web():
    host = node(TARGET)
    addr = start_web(host)
    yield addr
    stop_web(host)


def send_from_outside(script: str) -> None:
    subprocess.run(["docker", "exec", OUTSIDE, "python3", "-c", script], check=True, capture_output=True, timeout=30)


def settle() -> None:
    time.sleep(0.5)


def test_a_datagram_from_outside_the_fabric_is_dropped_at_the_front_door(plan, target_web):
    host = node(TARGET)
    outside = node_address(OUTSIDE)
    assert ipaddress.ip_address(outside) not in ipaddress.ip_network(plan["network"])
    inner_src = str(ipaddress.ip_network(plan["hosts"][PEER]["subnet"])[5])
    before_drops, before = front_door_drops(host), status(host)
    send_from_outside(forge_script(plan["hosts"][TARGET]["public_ip"], PORT, inner_src, target_web))
    settle()
    after = status(host)
    assert front_door_drops(host) == before_drops + 1
    assert after["drops"] == before["drops"] and after["counters"]["rx_packets"] == before["counters"]["rx_packets"]


def test_the_daemon_itself_drops_and_counts_a_datagram_from_a_non_peer(plan, target_web):
    host = node(TARGET)
    outside = node_address(OUTSIDE)
    rule = f"INPUT -s {outside}/32 -p udp -m udp --dport {PORT} -j ACCEPT"
    inner_src = str(ipaddress.ip_network(plan["hosts"][PEER]["subnet"])[5])
    host.check_output(f"iptables -w -I {rule}")
    try:
        before = status(host)
        send_from_outside(forge_script(plan["hosts"][TARGET]["public_ip"], PORT, inner_src, target_web))
        settle()
        after = status(host)
    finally:
        host.check_output(f"iptables -w -D {rule}")
    assert after["drops"]["not_peer"] == before["drops"]["not_peer"] + 1, after["drops"]
    assert after["counters"]["rx_packets"] == before["counters"]["rx_packets"]
    assert f"dropped (not_peer): {outside}:" in host.check_output(f"journalctl -u {UNIT} --no-pager -o cat")


def test_a_peer_speaking_for_another_peers_subnet_is_dropped_and_counted(plan, target_web):
    host, peer = node(TARGET), node(PEER)
    inner_src = str(ipaddress.ip_network(plan["hosts"][OTHER]["subnet"])[5])  # not PEER's
    before = status(host)
    script = forge_script(plan["hosts"][TARGET]["public_ip"], PORT, inner_src, target_web)
    peer.check_output(f"python3 -c {_quote(script)}")
    settle()
    after = status(host)
    assert after["drops"]["bad_source"] == before["drops"]["bad_source"] + 1, after["drops"]
    journal = host.check_output(f"journalctl -u {UNIT} --no-pager -o cat")
    assert f"dropped (bad_source): from {PEER} ({plan['hosts'][PEER]['public_ip']}): {inner_src} -> " in journal
    text = host.check_output("crosshost-fabric-udp status")
    assert "bad_source 1" in text or f"bad_source {after['drops']['bad_source']}" in text, text


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
