"""Data plane throughput of the fabric's backends against the bare lab network (prints figures only).

In one run: brings up two lab nodes (the lab's node image: systemd and a Docker engine each) on
an internal Docker network, converges the fabric on them with the collection's site.yml (vxlan
backend), then measures iperf3 TCP throughput, one stream for 4 s; then switches the running
fabric to host-gw with site.yml (fabric_backend=host-gw) and measures again, then to bgp, and again:

  host to host            node2 -> node1 over the lab network (the nodes' own addresses)
  container to container  a busybox container on node2 -> one on node1, over flannel.1 (VXLAN)
  the same, once more     with TX checksum offload on flannel.1 switched to the other state
                          (the workaround for flannel #1279 / calico #3145 turns it off; with
                          fabric_vxlan_checksum_offload_workaround=auto it stays on on kernels
                          >= 5.7), to show what the workaround costs
  container to container  the same containers' path over host-gw routes (no encapsulation)
  container to container  the same, switched to bgp (BIRD on both nodes, an iBGP session; the kernel
                          routes BIRD installs are the same kind as host-gw's: peer subnet via the
                          peer's address, only their protocol differs, so the same figure is expected)

host-gw and bgp put container addresses on the lab network's wire, which this machine's own Docker drops
between bridged ports of an internal network (lab/README.md); for those parts the benchmark inserts
`iptables -I DOCKER-USER -i br-<id> -o br-<id> -j ACCEPT` on the machine and removes it at the end.

The busybox image has no iperf3: the node's iperf3 runs inside the inner container's network
namespace (`nsenter -t <container pid> -n iperf3 ...`). Prints Gbit/s and ratios, and removes
the nodes and the network. Needs root and `make setup` (Docker, the node image, .venv). Noisy:
compare the ratio, not the absolute figures, and only within one run.

    .venv/bin/python benchmarks/bench_dataplane.py        (or: make bench)
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from common.lab import IMAGE, INVENTORY, LABEL, NODE_FLAGS, sh

ROOT = pathlib.Path(__file__).resolve().parents[1]
NETWORK = "crosshost-bench-dataplane"
NODES = ("crosshost-bench-node1", "crosshost-bench-node2")
SECONDS = 4


def on(node: str, *argv: str, **kw) -> str:
    return sh("docker", "exec", node, *argv, **kw)


_ACCEPT: list[str] = []  # the DOCKER-USER rule this run inserted on the machine, if any


def accept_on_lab_bridge() -> None:
    """Let routed (host-gw) traffic cross the lab network's bridge on this machine."""
    bridge = "br-" + sh("docker", "network", "inspect", "-f", "{{.Id}}", NETWORK)[:12]
    rule = ["DOCKER-USER", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    sh("iptables", "-w", "-I", *rule)
    _ACCEPT[:] = rule


def teardown() -> None:
    if _ACCEPT:
        sh("iptables", "-w", "-D", *_ACCEPT, check=False)
        _ACCEPT.clear()
    for node in NODES:
        sh("docker", "rm", "-f", node, check=False)
    sh("docker", "network", "rm", NETWORK, check=False)


def bring_up() -> None:
    teardown()
    sh("docker", "network", "create", "--internal", "--label", LABEL, NETWORK)  # no route out
    for node in NODES:
        sh(
            "docker",
            "run",
            "-d",
            "--name",
            node,
            "--hostname",
            node,
            "--network",
            NETWORK,
            "--label",
            LABEL,
            "--stop-signal",
            "SIGRTMIN+3",
            *NODE_FLAGS,
            IMAGE,
            "/lib/systemd/systemd",
        )
    # Booted: systemd done, the node's Docker answering and the busybox workload image loaded.
    deadline = time.monotonic() + 240
    for node in NODES:
        while True:
            state = on(node, "systemctl", "is-system-running", check=False)
            image = subprocess.run(
                ["docker", "exec", node, "docker", "image", "inspect", "busybox:latest"], capture_output=True
            )
            if state in ("running", "degraded") and image.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node} did not boot (systemd: {state})")
            time.sleep(1)


def converge(tmp: pathlib.Path, *extra: str) -> float:
    inventory = tmp / "hosts.yml"
    inventory.write_text(INVENTORY.format(hosts="".join(f"    {n}:\n" for n in NODES), tmp=tmp), encoding="utf-8")
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".build" / "collections"))
    exe = pathlib.Path(sys.executable).parent / "ansible-playbook"
    start = time.monotonic()
    proc = subprocess.run(
        [str(exe), "-i", str(inventory), str(ROOT / "site.yml"), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"converge failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return time.monotonic() - start


def address(node: str) -> str:
    return sh("docker", "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}', node)


def workload(node: str) -> tuple[int, str]:
    """A busybox container on the node: (its pid in the node, its address)."""
    on(node, "docker", "rm", "-f", "bench", check=False)
    on(node, "docker", "run", "-d", "--name", "bench", "busybox", "sleep", "3600")
    pid = int(on(node, "docker", "inspect", "-f", "{{.State.Pid}}", "bench"))
    addr = on(node, "docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", "bench")
    return pid, addr


def iperf(server: str, client: str, dst: str, port: int, netns_pid: dict[str, int] | None = None) -> float:
    """Gbit/s received by a one-off iperf3 server on `server` from `client` (one stream)."""

    def cmd(node: str, *argv: str) -> list[str]:
        if netns_pid:
            return ["nsenter", "-t", str(netns_pid[node]), "-n", *argv]
        return list(argv)

    sh("docker", "exec", "-d", server, *cmd(server, "iperf3", "-s", "-1", "-p", str(port)))
    for _ in range(20):
        proc = subprocess.run(
            ["docker", "exec", client, *cmd(client, "iperf3", "-J", "-c", dst, "-p", str(port), "-t", str(SECONDS))],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode == 0:
            return json.loads(proc.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9
        time.sleep(0.5)  # the server may not listen yet
    raise RuntimeError(f"iperf3 {client} -> {dst}:{port} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")


def wait_bird_routes(plan: dict, timeout: float = 90) -> dict[str, str]:
    """Wait until each node's kernel holds the other's subnet as a route of BIRD (proto bird)."""
    deadline = time.monotonic() + timeout
    while True:
        routes = {node: on(node, "ip", "-4", "route", "show", "proto", "bird") for node in NODES}
        if all(plan["hosts"][other]["subnet"] in routes[node] for node in NODES for other in NODES if other != node):
            return routes
        if time.monotonic() > deadline:
            raise RuntimeError(f"BIRD's routes did not reach the kernels: {routes}")
        time.sleep(1)


def main() -> int:
    if os.geteuid() != 0 or subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        print(f"skipped: needs root, Docker and the lab image {IMAGE} (make setup)")
        return 0
    started = time.monotonic()
    node1, node2 = NODES
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-dataplane-"))
    try:
        bring_up()
        converge_s = converge(tmp)
        plan = json.loads((tmp / "plan" / "plan.json").read_text(encoding="utf-8"))
        pid1, addr1 = workload(node1)
        pid2, _ = workload(node2)
        host = iperf(node1, node2, address(node1), 5201)
        fabric = iperf(node1, node2, addr1, 5202, netns_pid={node1: pid1, node2: pid2})
        # Measure once more with TX checksum offload in the other state, to show what the
        # workaround (offload off) costs.
        was_on = "tx-checksum-ip-generic: on" in on(node1, "ethtool", "-k", "flannel.1")
        for node in NODES:
            on(node, "ethtool", "-K", "flannel.1", "tx", "off" if was_on else "on")
        flipped = iperf(node1, node2, addr1, 5203, netns_pid={node1: pid1, node2: pid2})
        # The same nodes, switched to host-gw by site.yml (Docker restarts for the new MTU, so the
        # workloads are started again).
        accept_on_lab_bridge()
        switch_s = converge(tmp, "-e", "fabric_backend=host-gw")
        pid1, addr1 = workload(node1)
        pid2, _ = workload(node2)
        hostgw = iperf(node1, node2, addr1, 5204, netns_pid={node1: pid1, node2: pid2})
        if "flannel.1" in on(node1, "ip", "-o", "link", "show"):
            raise RuntimeError("flannel.1 is still there after the switch to host-gw")
        # And to bgp: BIRD on both nodes (an iBGP session), the routes it learns in the kernel
        # (proto bird); the host-gw routes (proto 244) gone. The same kind of kernel route as
        # host-gw's (a peer subnet via the peer's address), so the same data path is expected.
        bgp_switch_s = converge(tmp, "-e", "fabric_backend=bgp")
        wait_bird_routes(plan)
        if any(on(node, "ip", "-4", "route", "show", "proto", "244") for node in NODES):
            raise RuntimeError("host-gw routes are still there after the switch to bgp")
        pid1, addr1 = workload(node1)
        pid2, _ = workload(node2)
        bgp = iperf(node1, node2, addr1, 5205, netns_pid={node1: pid1, node2: pid2})
    finally:
        teardown()
        shutil.rmtree(tmp, ignore_errors=True)
    mtu = plan["hosts"][node1]["mtu"]
    print(
        f"iperf3, one TCP stream, {SECONDS} s, 2 lab nodes (converge {converge_s:.0f} s, "
        f"switch to host-gw {switch_s:.0f} s, to bgp {bgp_switch_s:.0f} s, "
        f"whole run {time.monotonic() - started:.0f} s)"
    )
    rows = [
        ("host to host, lab network", host),
        (f"container to container, VXLAN (MTU {mtu}), offload {'on' if was_on else 'off'}", fabric),
        (f"  same, TX checksum offload {'off (the workaround)' if was_on else 'on'}", flipped),
        ("container to container, host-gw (MTU 1500)", hostgw),
        ("container to container, bgp (BIRD routes, MTU 1500)", bgp),
    ]
    for label, gbits in rows:
        print(f"  {label:<52} {gbits:6.2f} Gbit/s   ratio to host {gbits / host:5.2f}")
    print(f"  host-gw / VXLAN (offload {'on' if was_on else 'off'}): {hostgw / fabric:5.2f}")
    print(f"  bgp / host-gw: {bgp / hostgw:5.2f}   bgp / VXLAN: {bgp / fabric:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
