"""Switching a running lab between bgp and host-gw with site.yml (fabric_backend), both ways, with a
TCP connection open; the way back lands in fabric_bgp_mode peers against a router the collection
does not manage (one converge proves both).

A workload on bgp-node1 streams a line every 0.1 s over one TCP connection to a workload on
bgp-node2, and another pings it every 0.1 s (as host-gw's tests/test_3_switch.py). After each
switch nothing of the old backend is left on any node, the new one carries the containers' traffic
both ways without NAT, BGP's port is open only while BGP runs and only to the peers, and the TCP
connection is the same one and still carries data. The longest gap between two answered pings is
printed and bounded.

host-gw's leftovers: its routes (proto 244), its boot script and unit. bgp's: BIRD running or
enabled, routes of proto bird, the collection's BIRD files (bird.conf is the host's own again),
the BGP front door (tcp 179).

peers mode: the test configures BIRD 2 on the lab's plain router container by hand, as a site's
network team would (AS 65000, a session per node with its own MD5 password, the fabric's subnets in
and out, routes to its kernel); each node must then have one session, to the router, Established,
and no fabric session; the router's kernel must hold every node's subnet."""

from __future__ import annotations

import json
import textwrap
import time

import pytest
from bgp_lab import CONFIG, SECRETS, bird_routes, converge, sessions, traffic_faults_parallel, wait_all_sessions
from fabric_lab import (assert_stream_kept, all_pairs, assert_tcp_alive, load_plan, node, node_address,
                        start_webs, stop_web, tcp_stream)

PROTO = 244
HOSTGW_SCRIPT = "/etc/crosshost-fabric/routes.sh"
HOSTGW_UNIT = "/etc/systemd/system/crosshost-fabric-routes.service"
DROPIN = "/etc/systemd/system/bird.service.d/crosshost-fabric.conf"
KEPT = "/etc/bird/bird.conf.crosshost-fabric-kept"
CLIENT, SERVER = "bgp-node1", "bgp-node2"
MAX_GAP = 20.0  # seconds between two answered pings, across both switches
ROUTER = "bgp-router"
ROUTER_AS = 65000
ROUTER_PASSWORD = "router-md5-Pass"


def tagged_routes(host) -> dict[str, str]:
    out = host.check_output(f"ip -4 -j route show proto {PROTO}")
    return {r["dst"]: r.get("gateway") for r in json.loads(out or "[]")}


def bgp_port_rules(host) -> list[str]:
    return [line for line in host.check_output("iptables -w -S").splitlines() if "--dport 179" in line]


def switch(*, label: str, **extra_vars) -> None:
    start = time.monotonic()
    proc = converge(extra_vars=extra_vars)
    print(f"\n{label}: site.yml took {time.monotonic() - start:.1f} s")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]
    assert ROUTER_PASSWORD not in proc.stdout + proc.stderr


def traffic(plan) -> list[str]:
    webs = start_webs(plan)
    try:
        return traffic_faults_parallel(plan, webs, all_pairs(plan["hosts"]))
    finally:
        for name in webs:
            stop_web(node(name))


@pytest.fixture(scope="module")
def stream(plan):
    yield from tcp_stream(plan, CLIENT, SERVER)


def router_config(plan: dict) -> str:
    net = plan["network"]
    prefixes = "[ %s{%s,%d} ]" % (net, net.split("/")[1], plan["subnet_len"])  # the fabric's subnets
    sessions_conf = "".join(
        textwrap.dedent(f"""
        protocol bgp node_{i} {{
          local as {ROUTER_AS};
          neighbor {h['public_ip']} as 64512;
          password "{ROUTER_PASSWORD}";
          ipv4 {{ import where net ~ {prefixes}; export where net ~ {prefixes}; }};
        }}
        """)
        for i, (_name, h) in enumerate(sorted(plan["hosts"].items())))
    return textwrap.dedent(f"""
        router id {node_address(ROUTER)};
        protocol device {{ }}
        protocol kernel {{ ipv4 {{ export all; }}; }}
        """) + sessions_conf


def test_bgp_to_host_gw_leaves_nothing_of_bgp_and_keeps_the_connection(plan, stream):
    client, server = stream
    originals = {name: node(name).check_output(f"cat {KEPT}") for name in sorted(plan["hosts"])}
    switch(label="switch to host-gw", fabric_backend="host-gw")
    faults = []
    for name in sorted(plan["hosts"]):
        host = node(name)
        want = {p["subnet"]: p["public_ip"] for n, p in plan["hosts"].items() if n != name}
        if tagged_routes(host) != want:
            faults.append(f"{name}: host-gw routes {tagged_routes(host)}, expected {want}")
        state = host.run("systemctl is-active bird").stdout.strip()
        enabled = host.run("systemctl is-enabled bird").stdout.strip()
        if state == "active" or enabled == "enabled":
            faults.append(f"{name}: BIRD still {state}, {enabled}")
        if bird_routes(host):
            faults.append(f"{name}: routes of proto bird left: {bird_routes(host)}")
        left = [f for f in (SECRETS, DROPIN, KEPT) if host.file(f).exists]
        if left:
            faults.append(f"{name}: BIRD files left: {left}")
        if host.check_output(f"cat {CONFIG}") != originals[name]:
            faults.append(f"{name}: {CONFIG} is not the host's own again")
        if bgp_port_rules(host):
            faults.append(f"{name}: BGP port rules left: {bgp_port_rules(host)}")
    assert not faults, "\n".join(faults)
    assert_tcp_alive(client, server, "after the switch to host-gw")
    faults = traffic(plan)
    assert not faults, "traffic over host-gw after the switch:\n  " + "\n  ".join(faults)


def test_host_gw_to_bgp_peers_mode_leaves_nothing_of_host_gw_and_keeps_the_connection(plan, stream):
    client, server = stream
    router = node(ROUTER)
    address = node_address(ROUTER)
    router.check_output("mkdir -p /run/bird && cat > /etc/bird/router.conf <<'EOF'\n%s\nEOF" % router_config(plan))
    router.check_output("bird -p -c /etc/bird/router.conf")
    router.run("birdc down")
    router.check_output("bird -c /etc/bird/router.conf")
    peers = [{"address": address, "asn": ROUTER_AS, "password": ROUTER_PASSWORD}]
    switch(label="switch to bgp (peers mode)", fabric_backend="bgp", fabric_bgp_mode="peers",
           fabric_bgp_peers=peers)
    plan = load_plan()
    assert plan["backend"] == "bgp" and plan["bgp"]["mode"] == "peers"
    faults = []
    for name, states in sorted(wait_all_sessions(plan["hosts"], timeout=60).items()):
        if list(states) != ["peer_" + address.replace(".", "_")]:
            faults.append(f"{name}: BGP protocols {sorted(states)}, expected only the router's")
        faults += [f"{name}: {line}" for line in states.values() if "Established" not in line]
    want = {h["subnet"] for h in plan["hosts"].values()}
    have: set = set()
    for _ in range(150):
        have = {r["dst"] for r in json.loads(router.check_output("ip -4 -j route show proto bird") or "[]")}
        if want <= have:
            break
        time.sleep(0.2)
    if not want <= have:
        faults.append(f"router kernel: {have}, expected {want}")
    for name in sorted(plan["hosts"]):
        host = node(name)
        others = {h["subnet"] for n, h in plan["hosts"].items() if n != name}
        if set(bird_routes(host)) != others:
            faults.append(f"{name}: proto bird routes {sorted(bird_routes(host))}, expected {sorted(others)}")
        if tagged_routes(host):
            faults.append(f"{name}: host-gw routes (proto {PROTO}) left: {tagged_routes(host)}")
        left = [f for f in (HOSTGW_SCRIPT, HOSTGW_UNIT) if host.file(f).exists]
        if left:
            faults.append(f"{name}: host-gw files left: {left}")
        accepted = sorted(line.split("-s ")[1].split("/")[0] for line in bgp_port_rules(host) if "ACCEPT" in line)
        if accepted != [address]:
            faults.append(f"{name}: BGP port accepted from {accepted}, expected the router {address} only")
    assert not faults, "\n".join(faults)
    assert sessions(router)  # sanity: the helper reads the router's BIRD too
    assert_stream_kept(client, server, "after the switch back to bgp", MAX_GAP)
    faults = traffic(plan)
    assert not faults, "traffic over BGP (peers mode) after the switch back:\n  " + "\n  ".join(faults)
