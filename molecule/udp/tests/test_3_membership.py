"""A node leaves and comes back while traffic flows between the two others, which never notice.

A workload on udp-node1 pings one on udp-node2 every 0.1 s, and streams a line every 0.1 s to it over
one TCP connection. site.yml runs without udp-node3 in the inventory, then with it again. Through
both: the daemons of udp-node1 and udp-node2 are reloaded (SIGHUP), never restarted (same PID), and
their peers follow the plan; the ping loses nothing (longest gap between two answers printed and
bounded) and the TCP connection is the same one and still carries data. udp-node3 gets its old subnet
back and its containers talk to the others both ways.
"""

from __future__ import annotations

import time

import pytest
from fabric_lab import (assert_tcp_alive, converge, inventory_without, load_leases, load_plan, node, tcp_received,
                        traffic_with)
from udp_lab import Pinger, expected_peers, main_pid, status

A, B, GONE = "udp-node1", "udp-node2", "udp-node3"
MAX_GAP = 0.5
TCP_PORT = 9000


@pytest.fixture(scope="module")
def flows(plan):
    client, server = node(A), node(B)
    server.run("docker rm -f fabric-tcp-server")
    client.run("docker rm -f fabric-tcp-client")
    server.check_output(
        "docker run -d --name fabric-tcp-server busybox sh -c "
        f"'tail -f /dev/null | nc -l -p {TCP_PORT} > /tmp/received'")
    tcp_addr = server.check_output("docker inspect -f '{{.NetworkSettings.IPAddress}}' fabric-tcp-server")
    time.sleep(0.5)
    client.check_output(
        "docker run -d --name fabric-tcp-client busybox sh -c "
        f"'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done | nc {tcp_addr} {TCP_PORT}'")
    pinger = Pinger(client, server)
    pids = {n: main_pid(node(n)) for n in (A, B)}
    assert_tcp_alive(client, server, wait=1.0, label="before")
    yield client, server, pinger, pids
    pinger.stop()
    server.run("docker rm -f fabric-tcp-server")
    client.run("docker rm -f fabric-tcp-client")


def test_a_node_removed_is_dropped_from_the_peers_by_a_reload(plan, flows, tmp_path_factory):
    _client, _server, _pinger, pids = flows
    start = time.monotonic()
    converge(inventory=inventory_without(GONE, tmp_path_factory.mktemp("inventory")), what=f"converge without {GONE}")
    print(f"\nconverge without {GONE}: {time.monotonic() - start:.1f} s")
    now = load_plan()
    assert sorted(now["hosts"]) == [A, B]
    assert load_leases().get(GONE) == plan["hosts"][GONE]["subnet"], f"{GONE} lost its lease"
    for name in (A, B):
        host = node(name)
        assert main_pid(host) == pids[name], f"{name}: the daemon was restarted"
        assert [p["name"] for p in status(host)["peers"]] == [p["name"] for p in expected_peers(now, name)]


def test_a_node_added_back_while_traffic_flows_interrupts_nothing(plan, flows):
    client, server, pinger, pids = flows
    start = time.monotonic()
    converge(what=f"converge with {GONE} back")
    print(f"converge with {GONE} back: {time.monotonic() - start:.1f} s")
    now = load_plan()
    assert now["hosts"][GONE]["subnet"] == plan["hosts"][GONE]["subnet"], "not its old subnet"
    for name in (A, B):
        host = node(name)
        assert main_pid(host) == pids[name], f"{name}: the daemon was restarted"
        assert [p["name"] for p in status(host)["peers"]] == [p["name"] for p in expected_peers(now, name)]
        assert "reloaded /etc/crosshost-fabric/udp.json: 2 peers (added" in host.check_output(
            "journalctl -u crosshost-fabric-udp.service --no-pager -o cat")
    assert_tcp_alive(client, server, wait=1.0, label=f"after {GONE} came back")
    gap, answered, sent = pinger.gap()
    print(f"ping {A} -> {B} every 0.1 s while {GONE} left and came back: {answered} of {sent} answered, "
          f"longest gap {gap:.1f} s; TCP lines received {tcp_received(server)}")
    assert gap <= MAX_GAP, f"traffic between {A} and {B} stopped for {gap:.1f} s"
    faults = traffic_with(now, GONE)
    assert not faults, "traffic with the node added back:\n  " + "\n  ".join(faults)
