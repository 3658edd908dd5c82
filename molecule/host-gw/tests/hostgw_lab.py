"""What the host-gw checks read on a node, beside the vxlan scenario's helpers (fabric_lab.py)."""

from __future__ import annotations

import json

from fabric_lab import PROTO

ROUTES_UNIT = "crosshost-fabric-routes.service"
ROUTES_SCRIPT = "/etc/crosshost-fabric/routes.sh"
VXLAN_UNIT = "crosshost-fabric-vxlan.service"


def routes(host) -> set[tuple]:
    """(dst, gateway, dev, onlink) of every route of the fabric's protocol on a node."""
    out = host.check_output(f"ip -j route show proto {PROTO}") or "[]"
    return {(r["dst"], r.get("gateway"), r.get("dev"), "onlink" in r.get("flags", [])) for r in json.loads(out)}


def expected_routes(plan: dict, me: str) -> set[tuple]:
    """host-gw: each peer's subnet via its public address, out of this node's underlay interface."""
    iface = plan["hosts"][me]["iface"]
    return {(p["subnet"], p["public_ip"], iface, False) for name, p in plan["hosts"].items() if name != me}


def expected_route_lines(plan: dict, me: str) -> set[str]:
    """The same, as `ip route` prints it."""
    iface = plan["hosts"][me]["iface"]
    return {
        f"{p['subnet']} via {p['public_ip']} dev {iface} proto {PROTO}"
        for name, p in plan["hosts"].items()
        if name != me
    }


def route_lines(host) -> set[str]:
    return {line.strip() for line in host.check_output("ip route show").splitlines() if f"proto {PROTO}" in line}


def has_link(host, name: str) -> bool:
    return host.run(f"ip link show {name}").rc == 0


def vxlan_leftovers(host) -> list[str]:
    """Anything the vxlan backend leaves on a node: a VXLAN device, a VTEP boot script (of any VNI), the unit."""
    found = []
    for link in json.loads(host.check_output("ip -j link show type vxlan") or "[]"):
        found.append(f"device {link['ifname']}")
    for name in host.run("ls /etc/crosshost-fabric").stdout.split():
        if name.startswith("flannel.") and name.endswith(".sh"):
            found.append(f"boot script {name}")
    if host.file(f"/etc/systemd/system/{VXLAN_UNIT}").exists:
        found.append(f"unit {VXLAN_UNIT}")
    return found


def hostgw_leftovers(host) -> list[str]:
    found = []
    if host.file(ROUTES_SCRIPT).exists:
        found.append(f"boot script {ROUTES_SCRIPT}")
    if host.file(f"/etc/systemd/system/{ROUTES_UNIT}").exists:
        found.append(f"unit {ROUTES_UNIT}")
    return found


def route_mentions(have: set[tuple], peer: dict) -> list[str]:
    """The routes of a node that still point at a peer (its subnet or its address)."""
    return [
        f"route {' '.join(str(v) for v in r)}"
        for r in sorted(have, key=str)
        if {peer["subnet"], peer["public_ip"]} & set(r)
    ]
