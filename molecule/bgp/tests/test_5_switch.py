"""Switching a running lab between host-gw and bgp with site.yml (fabric_backend), both ways: after
each switch nothing of the old backend is left on any node, the new one carries the containers'
traffic both ways without NAT, and BGP's port is open only while BGP runs.

host-gw's leftovers: its routes (proto 244), its boot script and unit. bgp's: BIRD running or
enabled, routes of proto bird, the collection's BIRD files, the BGP front door (tcp 179)."""

from __future__ import annotations

import json

from bgp_lab import CONFIG, SECRETS, bird_routes, converge, wait_sessions
from fabric_lab import all_pairs, node, traffic_faults, start_webs, stop_web

PROTO = 244
HOSTGW_SCRIPT = "/etc/crosshost-fabric/routes.sh"
HOSTGW_UNIT = "/etc/systemd/system/crosshost-fabric-routes.service"
DROPIN = "/etc/systemd/system/bird.service.d/crosshost-fabric.conf"


def tagged_routes(host) -> dict[str, str]:
    out = host.check_output(f"ip -4 -j route show proto {PROTO}")
    return {r["dst"]: r.get("gateway") for r in json.loads(out or "[]")}


def bgp_port_rules(host) -> list[str]:
    return [line for line in host.check_output("iptables -w -S").splitlines() if "--dport 179" in line]


def switch(backend: str) -> None:
    proc = converge(extra_vars={"fabric_backend": backend})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-3000:]


def traffic(plan) -> list[str]:
    webs = start_webs(plan)
    try:
        return traffic_faults(plan, webs, all_pairs(plan["hosts"]))
    finally:
        for name in webs:
            stop_web(node(name))


def test_bgp_to_host_gw_leaves_nothing_of_bgp(plan):
    switch("host-gw")
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
        left = [f for f in (CONFIG, SECRETS, DROPIN) if host.file(f).exists]
        if left:
            faults.append(f"{name}: BIRD files left: {left}")
        if bgp_port_rules(host):
            faults.append(f"{name}: BGP port rules left: {bgp_port_rules(host)}")
    assert not faults, "\n".join(faults)
    faults = traffic(plan)
    assert not faults, "traffic over host-gw after the switch:\n  " + "\n  ".join(faults)


def test_host_gw_to_bgp_leaves_nothing_of_host_gw(plan):
    switch("bgp")
    faults = []
    for name in sorted(plan["hosts"]):
        host = node(name)
        states = wait_sessions(host, want_established=True, timeout=90)
        faults += [f"{name}: {line}" for line in states.values() if "Established" not in line]
        want = {p["subnet"]: p["public_ip"] for n, p in plan["hosts"].items() if n != name}
        got = {dst: r.get("gateway") for dst, r in bird_routes(host).items()}
        if got != want:
            faults.append(f"{name}: proto bird routes {got}, expected {want}")
        if tagged_routes(host):
            faults.append(f"{name}: host-gw routes (proto {PROTO}) left: {tagged_routes(host)}")
        left = [f for f in (HOSTGW_SCRIPT, HOSTGW_UNIT) if host.file(f).exists]
        if left:
            faults.append(f"{name}: host-gw files left: {left}")
        peers = sorted(p["public_ip"] for n, p in plan["hosts"].items() if n != name)
        accepted = sorted(line.split("-s ")[1].split("/")[0] for line in bgp_port_rules(host) if "ACCEPT" in line)
        if accepted != peers:
            faults.append(f"{name}: BGP port accepted from {accepted}, expected the peers {peers}")
    assert not faults, "\n".join(faults)
    faults = traffic(plan)
    assert not faults, "traffic over BGP after the switch back:\n  " + "\n  ".join(faults)
