"""Data plane throughput of the udp backend's daemon beside VXLAN and host to host (prints figures only).

One TCP stream (iperf3, 4 s) between two "containers" on two "hosts", all network namespaces inside
one lab node container (the lab's node image has iperf3, python3 and iproute2; it runs with no
network at all, so nothing leaves it). The layout is the fabric's: per host a bridge docker0 with the
host's subnet (10.244.N.1/24) and a container behind it; the hosts share one veth "underlay"
(192.0.2.1 and .2, MTU 1500). Measured in one run:

  host to host          h2 -> h1 over the underlay
  VXLAN                 c2 -> c1 over flannel.1 (static FDB/neighbour/onlink route, MTU 1450)
  udp, naive            c2 -> c1 over flannel0 and roles/udp/files/crosshost_fabric_udp.py with one
                        read and one send per wake-up, no offload, default socket buffers
                        (--batch 1 --offload off --sock-buf 0): the naive proxy
  udp, drained          the same draining up to 64 packets per wake-up (--batch 64)
  udp, drained + 4 MiB  and 4 MiB socket buffers (--sock-buf 4194304)
  udp, offload          TUN TSO (IFF_VNET_HDR) split in the daemon + UDP GSO + UDP GRO joined into
                        TSO writes: the daemon's defaults (what the udp role runs)

Every udp variant keeps one IP packet per UDP datagram on the wire (flannel's format). Needs root,
Docker and the node image (`make setup`); run it through the lab lock:

    /work/helpers/labrun bench .venv/bin/python benchmarks/bench_udp.py     (or: make bench)

Noisy (a shared 2-core machine): compare the ratios within one run.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("LAB_IMAGE", "crosshost/fabric-node:bookworm")
NAME = "crosshost-bench-udp"
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
DAEMON = "/src/roles/udp/files/crosshost_fabric_udp.py"
VARIANTS = [
    ("udp, naive (1 read + 1 send per wake-up)", ["--batch", "1", "--offload", "off", "--sock-buf", "0"]),
    ("udp, drained (64 per wake-up)", ["--batch", "64", "--offload", "off", "--sock-buf", "0"]),
    ("udp, drained + 4 MiB socket buffers", ["--batch", "64", "--offload", "off", "--sock-buf", str(4 << 20)]),
    ("udp, TUN TSO + UDP GSO/GRO (default)", []),
    ("udp, kernel GSO (TUN TSO off) + UDP GSO/GRO", ["--tun-tso", "off", "--txqueuelen", "4000"]),
    ("udp, default + txqueuelen 4000", ["--txqueuelen", "4000"]),
    # the sender (h2) as the default, the receiver (h1) without offloads, i.e. one datagram per
    # receive and per TUN write, where the kernel checks every packet's TCP checksum, as behind a
    # flannel udp peer: proves the sender's segments are wire-correct packets
    ("udp, default sender -> plain receiver", {1: ["--offload", "off"], 2: []}),
]


def sh(*argv: str, check: bool = True, timeout: float = 120, **kw) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout.strip()


# --------------------------------------------------------------------------- inside the container


def ns(name: str, *argv: str, **kw) -> str:
    return sh("ip", "netns", "exec", name, *argv, **kw)


def build() -> None:
    sh("mount", "-o", "remount,rw", "/proc/sys")
    for n in ("h1", "h2", "c1", "c2"):
        sh("ip", "netns", "add", n)
        ns(n, "ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "u1", "netns", "h1", "type", "veth", "peer", "u2", "netns", "h2")
    for i in (1, 2):
        h, c = f"h{i}", f"c{i}"
        ns(h, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        ns(h, "ip", "addr", "add", f"192.0.2.{i}/24", "dev", f"u{i}")
        ns(h, "ip", "link", "set", f"u{i}", "up")
        ns(h, "ip", "link", "add", "docker0", "type", "bridge")
        ns(h, "ip", "addr", "add", f"10.244.{i}.1/24", "dev", "docker0")
        ns(h, "ip", "link", "set", "docker0", "up")
        ns(h, "ip", "link", "add", "veth0", "type", "veth", "peer", "eth0", "netns", c)
        ns(h, "ip", "link", "set", "veth0", "master", "docker0", "up")
        ns(c, "ip", "addr", "add", f"10.244.{i}.2/24", "dev", "eth0")
        ns(c, "ip", "link", "set", "eth0", "up")
        ns(c, "ip", "route", "add", "default", "via", f"10.244.{i}.1")


def set_mtu(mtu: int) -> None:
    for i in (1, 2):
        ns(f"h{i}", "ip", "link", "set", "docker0", "mtu", str(mtu))
        ns(f"h{i}", "ip", "link", "set", "veth0", "mtu", str(mtu))
        ns(f"c{i}", "ip", "link", "set", "eth0", "mtu", str(mtu))


def iperf(server: str, client: str, dst: str) -> float:
    srv = subprocess.Popen(["ip", "netns", "exec", server, "iperf3", "-s", "-1"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(30):
            proc = subprocess.run(["ip", "netns", "exec", client, "iperf3", "-J", "-c", dst, "-t", str(SECONDS)],
                                  capture_output=True, text=True, timeout=60)
            if proc.returncode == 0:
                report = json.loads(proc.stdout)
                if "sum_received" in report.get("end", {}):
                    return report["end"]["sum_received"]["bits_per_second"] / 1e9
            time.sleep(0.3)
        print(f"  iperf3 {client} -> {dst} failed: {proc.stdout[-600:]} {proc.stderr[-600:]}", flush=True)
        return float("nan")
    finally:
        srv.kill()
        srv.wait()


def vxlan(up: bool) -> None:
    for i, j in ((1, 2), (2, 1)):
        h = f"h{i}"
        if not up:
            ns(h, "ip", "link", "del", "flannel.1")
            continue
        mac = f"0e:fa:0a:f4:0{i}:00"
        ns(h, "ip", "link", "add", "flannel.1", "address", mac, "type", "vxlan", "id", "1", "local",
           f"192.0.2.{i}", "dev", f"u{i}", "dstport", "8472", "nolearning")
        ns(h, "ip", "link", "set", "flannel.1", "mtu", "1450", "up")
        ns(h, "ip", "addr", "add", f"10.244.{i}.0/32", "dev", "flannel.1")
        peer_mac = f"0e:fa:0a:f4:0{j}:00"
        ns(h, "ip", "neigh", "replace", f"10.244.{j}.0", "lladdr", peer_mac, "dev", "flannel.1", "nud", "permanent")
        ns(h, "bridge", "fdb", "append", peer_mac, "dev", "flannel.1", "dst", f"192.0.2.{j}")
        ns(h, "ip", "route", "add", f"10.244.{j}.0/24", "via", f"10.244.{j}.0", "dev", "flannel.1", "onlink")


# An older daemon to compare with in the same run (a file under the checkout, e.g. one written with
# `git show REV:roles/udp/files/crosshost_fabric_udp.py > .build/udp-baseline.py`): one more row with
# its defaults. Only the current daemon's rows run without it.
BASELINE = os.environ.get("BENCH_UDP_BASELINE", "")


def udp(flags: list[str] | dict[int, list[str]], tmp: pathlib.Path, daemon: str = DAEMON) -> list[subprocess.Popen]:
    procs = []
    for i, j in ((1, 2), (2, 1)):
        host_flags = flags[i] if isinstance(flags, dict) else flags
        conf = tmp / f"udp{i}.json"
        conf.write_text(json.dumps({
            "device": "flannel0", "port": 8285, "listen": f"192.0.2.{i}", "mtu": 1472,
            "address": f"10.244.{i}.0/16", "cluster_network": "10.244.0.0/16", "local_subnet": f"10.244.{i}.0/24",
            "peers": [{"name": f"h{j}", "subnet": f"10.244.{j}.0/24", "ip": f"192.0.2.{j}", "port": 8285}]}))
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", f"h{i}", "python3", daemon, "--config", str(conf), "--control",
             str(tmp / f"udp{i}.sock"), *host_flags], stdout=open(tmp / f"udp{i}.log", "a"), stderr=subprocess.STDOUT))
    for i in (1, 2):
        for _ in range(100):
            if (tmp / f"udp{i}.sock").exists():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("daemon h%d did not start:\n%s" % (i, (tmp / f"udp{i}.log").read_text()))
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=10)


def status(tmp: pathlib.Path, i: int) -> dict:
    out = ns(f"h{i}", "python3", DAEMON, "status", "--json", "--control", str(tmp / f"udp{i}.sock"))
    return json.loads(out)


def inner() -> int:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-udp-"))
    build()
    print(f"iperf3, one TCP stream, {SECONDS} s, namespaces in one lab node ({os.uname().release})", flush=True)
    rows = [("host to host (veth underlay, MTU 1500)", iperf("h1", "h2", "192.0.2.1"), "")]
    print(f"  host to host {rows[0][1]:6.2f} Gbit/s", flush=True)
    set_mtu(1450)
    vxlan(True)
    ping = subprocess.run(["ip", "netns", "exec", "c2", "ping", "-c", "2", "-W", "1", "10.244.1.2"],
                          capture_output=True, text=True)
    if ping.returncode:
        print("  VXLAN ping c2 -> c1 failed:", ping.stdout[-300:], flush=True)
    rows.append(("VXLAN (kernel, MTU 1450)", iperf("c1", "c2", "10.244.1.2"), ""))
    vxlan(False)
    set_mtu(1472)
    variants = [(label, flags, DAEMON) for label, flags in VARIANTS]
    if BASELINE:
        variants.append((f"udp, baseline daemon {BASELINE} (its defaults)", [], "/src/" + BASELINE))
    for label, flags, daemon in variants:
        procs = udp(flags, tmp, daemon)
        try:
            gbits = iperf("c1", "c2", "10.244.1.2")
            s2, s1 = status(tmp, 2), status(tmp, 1)
            print(f"  {label:<44} {gbits:6.2f} Gbit/s", flush=True)
        finally:
            stop(procs)
        note = "h2 sent %d packets in %d sends; h1 wrote them in %d TUN writes; drops %d" % (
            s2["counters"]["tx_packets"], s2["counters"]["tx_sends"], s1["counters"]["tun_writes"],
            sum(s1["drops"].values()) + sum(s2["drops"].values()))
        rows.append((label, gbits, note))
    host = rows[0][1]
    for label, gbits, note in rows:
        print(f"  {label:<44} {gbits:6.2f} Gbit/s   ratio to host {gbits / host:5.3f}   {note}")
    vx = rows[1][1]
    default = next(g for label, g, _n in rows if "(default)" in label)
    print(f"  udp (default) / VXLAN: {default / vx:5.2f}; udp default / naive: {default / rows[2][1]:5.2f}")
    return 0


# --------------------------------------------------------------------------- outside


def main() -> int:
    if "--inner" in sys.argv:
        return inner()
    if os.geteuid() != 0 or subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        print(f"skipped: needs root, Docker and the lab image {IMAGE} (make setup)")
        return 0
    sh("docker", "rm", "-f", NAME, check=False)
    try:
        sh("docker", "run", "-d", "--name", NAME, "--network", "none", "--label", "org.crosshost.lab=1",
           "--cap-add", "NET_ADMIN", "--cap-add", "SYS_ADMIN", "--cap-add", "MKNOD",
           "--security-opt", "apparmor=unconfined", "--security-opt", "seccomp=unconfined",
           "-v", f"{ROOT}:/src:ro", IMAGE, "sleep", "infinity")
        proc = subprocess.run(["docker", "exec", "-e", f"BENCH_UDP_BASELINE={BASELINE}", NAME, "python3",
                               "/src/benchmarks/bench_udp.py", "--inner"],
                              text=True, timeout=600)
        return proc.returncode
    finally:
        sh("docker", "rm", "-f", NAME, check=False)


if __name__ == "__main__":
    sys.exit(main())
