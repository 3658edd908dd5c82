"""What the udp checks read on a node, beside the vxlan scenario's helpers (fabric_lab.py)."""

from __future__ import annotations

import ipaddress
import json
import re
import time

from fabric_lab import PROTO, node

UNIT = "crosshost-fabric-udp.service"
DAEMON = "/usr/local/lib/crosshost-fabric/crosshost_fabric_udp.py"
COMMAND = "/usr/local/sbin/crosshost-fabric-udp"
PEER_FILE = "/etc/crosshost-fabric/udp.json"
DEVICE = "flannel0"
PORT = 8285
INTERVAL = 0.1


def status(host) -> dict:
    """The running daemon's status, as `crosshost-fabric-udp status --json` prints it."""
    return json.loads(host.check_output("crosshost-fabric-udp status --json"))


def main_pid(host) -> int:
    return int(host.check_output(f"systemctl show -p MainPID --value {UNIT}"))


def flannel0(host) -> tuple | None:
    """(address/prefix, mtu) of flannel0, None when there is no such device."""
    res = host.run(f"ip -j addr show dev {DEVICE}")
    if res.rc != 0:
        return None
    (link,) = json.loads(res.stdout)
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("family") == "inet"]
    return (addrs[0] if len(addrs) == 1 else addrs, link["mtu"])


def cluster_route(host, plan: dict) -> str:
    return host.check_output(f"ip route show {plan['network']}").strip()


def expected_peers(plan: dict, me: str) -> list[dict]:
    port = plan.get("udp_port", PORT)
    return sorted(
        ({"name": n, "subnet": h["subnet"], "ip": h["public_ip"], "port": port}
         for n, h in plan["hosts"].items() if n != me),
        key=lambda p: ipaddress.ip_network(p["subnet"]),
    )


def tagged_routes(host) -> list[str]:
    return [line for line in host.check_output(f"ip route show proto {PROTO}").splitlines() if line.strip()]


def udp_faults(plan: dict, me: str) -> list[str]:
    """The udp backend complete on a node: daemon, device, route, peer table; nothing of vxlan/host-gw."""
    host = node(me)
    faults = []
    net = ipaddress.ip_network(plan["network"])
    want = (f"{plan['hosts'][me]['vtep_ip']}/{net.prefixlen}", plan["hosts"][me]["mtu"])
    if flannel0(host) != want:
        faults.append(f"{me}: flannel0 is {flannel0(host)}, want {want}")
    route = cluster_route(host, plan)
    if not route.startswith(f"{plan['network']} dev {DEVICE}"):
        faults.append(f"{me}: the cluster network is routed {route!r}, not to {DEVICE}")
    if not host.service(UNIT).is_running or not host.service(UNIT).is_enabled:
        faults.append(f"{me}: {UNIT} is not running and enabled")
    else:
        peers = [{k: p[k] for k in ("name", "subnet", "ip", "port")} for p in status(host)["peers"]]
        if peers != expected_peers(plan, me):
            faults.append(f"{me}: the daemon's peers {peers} != {expected_peers(plan, me)}")
    faults += [f"{me}: route of the old backend: {r}" for r in tagged_routes(host)]
    faults += [f"{me}: {thing} left" for thing in other_leftovers(host)]
    return faults


def other_leftovers(host) -> list[str]:
    """Anything vxlan or host-gw leave on a node: device, boot scripts, units."""
    found = []
    if host.run("ip link show flannel.1").rc == 0:
        found.append("device flannel.1")
    for path in ("/etc/crosshost-fabric/flannel.1.sh", "/etc/crosshost-fabric/routes.sh",
                 "/etc/systemd/system/crosshost-fabric-vxlan.service",
                 "/etc/systemd/system/crosshost-fabric-routes.service"):
        if host.file(path).exists:
            found.append(path)
    return found


def udp_leftovers(host) -> list[str]:
    """Anything the udp backend leaves on a node: device, daemon, unit, peer file, socket, port rule."""
    found = []
    if flannel0(host) is not None:
        found.append("device flannel0")
    for path in (DAEMON, COMMAND, PEER_FILE, f"/etc/systemd/system/{UNIT}", "/run/crosshost-fabric/udp.sock"):
        if host.file(path).exists:
            found.append(path)
    if host.run(f"systemctl is-active {UNIT}").stdout.strip() == "active":
        found.append(f"{UNIT} running")
    if f"--dport {PORT}" in host.check_output("iptables -w -S"):
        found.append(f"iptables rule for port {PORT}")
    return found


def forge_script(dst_ip: str, dst_port: int, inner_src: str, inner_dst: str) -> str:
    """Python for a lab host: one UDP datagram to dst_ip:dst_port carrying an ICMP echo request
    inner_src -> inner_dst, in flannel's format (a bare IP packet)."""
    return (
        "import socket,struct,ipaddress as a\n"
        "def cs(b):\n"
        " b+=b'\\0'*(len(b)%2); s=sum(struct.unpack('!%dH'%(len(b)//2),b))\n"
        " while s>>16: s=(s&65535)+(s>>16)\n"
        " return ~s&65535\n"
        "icmp=struct.pack('!BBHHH',8,0,0,77,1)+b'forged'\n"
        "icmp=icmp[:2]+struct.pack('!H',cs(icmp))+icmp[4:]\n"
        f"ip=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(icmp),1,0,64,1,0,a.ip_address('{inner_src}').packed,"
        f"a.ip_address('{inner_dst}').packed)\n"
        "ip=ip[:10]+struct.pack('!H',cs(ip))+ip[12:]\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"s.sendto(ip+icmp,('{dst_ip}',{dst_port}))\n"
    )


def front_door_drops(host) -> int:
    """Packets the DROP rule of FABRIC-INPUT for the udp port has counted."""
    out = host.check_output("iptables -w -L FABRIC-INPUT -v -x -n")
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "DROP" and f"dpt:{PORT}" in line:
            return int(fields[0])
    raise AssertionError(f"no DROP rule for port {PORT} in FABRIC-INPUT:\n{out}")


class Pinger:
    """A workload on `client` pinging a workload of its own on `server` every INTERVAL s (neither is
    the web workload, which other checks restart); the longest gap between two answers."""

    def __init__(self, client, server, name: str = "fabric-pinger", target: str = "fabric-ping-target"):
        self.client, self.server, self.name, self.target = client, server, name, target
        client.run(f"docker rm -f {name}")
        server.run(f"docker rm -f {target}")
        server.check_output(f"docker run -d --name {target} busybox sleep 86400")
        addr = server.check_output(f"docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {target}")
        client.check_output(f"docker run -d --name {name} busybox ping -i {INTERVAL} {addr}")
        time.sleep(1)

    def gap(self) -> tuple[float, int, int]:
        log = self.client.check_output(f"docker logs {self.name} 2>&1")
        seqs = sorted({int(m) for m in re.findall(r"seq=(\d+)", log)})
        assert len(seqs) > 5, log[-2000:]
        return max(b - a for a, b in zip(seqs, seqs[1:], strict=False)) * INTERVAL, len(seqs), seqs[-1] + 1

    def stop(self) -> None:
        self.client.run(f"docker rm -f {self.name}")
        self.server.run(f"docker rm -f {self.target}")
