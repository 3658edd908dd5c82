"""Benchmark: crosshost.fabric.fabric_vxlan with 1,000 peers, against the naive way.

Everything happens in one fresh network namespace (``cfvxb-<pid>``) that is
deleted at the end: a veth pair as underlay, the VTEP, and for each synthetic
peer one neighbour entry, one FDB entry and one route (3 entries a peer).
Peer public addresses are in 198.18.0.0/15 (the benchmarking range) and exist
only as FDB destinations inside the namespace; IPv6 is disabled there and no
packet is sent anywhere.

Prints, in one run:
  * the first apply (module run as Ansible runs it: a Python process with a JSON
    args file), the no-change re-apply and a one-peer change;
  * the naive way: one ``ip``/``bridge`` process per entry (3 commands a peer), run by one shell
    inside the namespace (the namespace entered once, as for the module).
No assertions: it prints figures. Goals: first apply < 2 s, re-apply < 0.5 s.

Usage (root): python benchmarks/bench_vxlan_apply.py [--peers N]
"""

import argparse
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
MODULE = "ansible_collections.crosshost.fabric.plugins.modules.fabric_vxlan"
NS = "cfvxb-%d" % os.getpid()
DEVICE = "flannel.1"
LOCAL = "198.19.255.254"


def nsx(*argv, data=None, check=True):
    proc = subprocess.run(["ip", "netns", "exec", NS, *argv], input=data, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(argv), proc.stderr))
    return proc


def peer(i):
    """Synthetic peer i (1-based): subnet, VTEP address, VTEP MAC, public address."""
    net = "10.%d.%d" % (128 + i // 256, i % 256)
    return {
        "subnet": net + ".0/24",
        "vtep": net + ".0",
        "mac": "0e:5a:00:00:%02x:%02x" % (i // 256, i % 256),
        "public": "198.18.%d.%d" % (i // 256, i % 256 + (1 if i % 256 == 0 else 0)),
    }


def module_args(peers, persist_dir):
    return {
        "device": DEVICE,
        "vni": 1,
        "port": 8472,
        "local": LOCAL,
        "dev": "eth0",
        "mac": "0e:5a:00:00:ff:ff",
        "address": "10.127.255.0/32",
        "mtu": 1450,
        "route_protocol": 244,
        "neighbours": [{"dst": p["vtep"], "lladdr": p["mac"]} for p in peers],
        "fdb": [{"lladdr": p["mac"], "dst": p["public"]} for p in peers],
        "routes": [{"dst": p["subnet"], "via": p["vtep"], "onlink": True} for p in peers],
        "checksum_offload_workaround": shutil.which("ethtool") is not None,
        "rp_filter": 2,
        "persist": True,
        "persist_dir": persist_dir,
    }


def run_module(args, workdir, collections_root):
    path = os.path.join(workdir, "args.json")
    with open(path, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    env = dict(os.environ, PYTHONPATH=str(collections_root))
    cpu0 = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        ["ip", "netns", "exec", NS, sys.executable, "-m", MODULE, path],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu0
    result = json.loads(proc.stdout)
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    return elapsed, cpu, result


def _children_cpu():
    """User+system CPU seconds of every waited-for child so far (ip, python, ...)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def naive(peers):
    """flannel-without-batching: one ``ip``/``bridge`` process per entry, same end state.

    Like the module, it enters the namespace once: one shell (``ip netns exec NS sh``) runs the
    3 + 3 per peer commands, each its own process, as a shell script would on a host. (An earlier
    version wrapped every command in its own ``ip netns exec``, which doubled its time and so
    overstated the module's gain about twofold.)
    """
    nsx("ip", "link", "del", DEVICE, check=False)
    lines = [
        "ip link add name %s address 0e:5a:00:00:ff:ff mtu 1450 type vxlan id 1 local %s dev eth0 dstport 8472"
        " nolearning" % (DEVICE, LOCAL),
        "ip addr add 10.127.255.0/32 dev %s" % DEVICE,
        "ip link set %s up" % DEVICE,
    ]
    for p in peers:
        lines.append("ip neigh replace %s lladdr %s dev %s nud permanent" % (p["vtep"], p["mac"], DEVICE))
        lines.append("bridge fdb replace %s dev %s dst %s self permanent" % (p["mac"], DEVICE, p["public"]))
        lines.append("ip route replace %s via %s dev %s onlink proto 244" % (p["subnet"], p["vtep"], DEVICE))
    script = "set -e\n" + "\n".join(lines) + "\n"
    cpu0 = _children_cpu()
    start = time.perf_counter()
    nsx("sh", "-s", data=script)
    return time.perf_counter() - start, _children_cpu() - cpu0, len(lines)


def count_state():
    neigh = json.loads(nsx("ip", "-j", "neigh", "show", "dev", DEVICE).stdout or "[]")
    fdb = json.loads(nsx("bridge", "-j", "fdb", "show", "dev", DEVICE).stdout or "[]")
    routes = json.loads(nsx("ip", "-j", "route", "show", "table", "main", "proto", "244").stdout or "[]")
    return len(neigh), len(fdb), len(routes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=int, default=1000)
    opts = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_vxlan_apply: skipped, needs root (network namespaces)")
        return
    peers = [peer(i) for i in range(1, opts.peers + 1)]
    workdir = tempfile.mkdtemp(prefix="cfvxb-")
    collections_root = pathlib.Path(workdir) / "collections"
    (collections_root / "ansible_collections" / "crosshost").mkdir(parents=True)
    (collections_root / "ansible_collections" / "crosshost" / "fabric").symlink_to(REPO)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        for key in ("all", "default"):
            nsx("sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6" % key)
        nsx("ip", "link", "set", "lo", "up")
        nsx("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
        nsx("ip", "addr", "add", LOCAL + "/15", "dev", "eth0")
        nsx("ip", "link", "set", "eth0", "up")
        nsx("ip", "link", "set", "eth0p", "up")

        args = module_args(peers, os.path.join(workdir, "persist"))
        load = os.getloadavg()[0]
        rows = []
        first = run_module(args, workdir, collections_root)
        rows.append(("first apply (module)",) + first)
        state1 = count_state()
        rows.append(("no-change re-apply",) + run_module(args, workdir, collections_root))
        changed_args = module_args(peers[:-1], os.path.join(workdir, "persist"))
        rows.append(("one peer removed",) + run_module(changed_args, workdir, collections_root))
        check_args = dict(args, _ansible_check_mode=True, _ansible_diff=True)
        rows.append(("check mode + diff (that peer back)",) + run_module(check_args, workdir, collections_root))
        run_module(args, workdir, collections_root)  # re-adds the peer
        rows.append(("no-change re-apply, second sample",) + run_module(args, workdir, collections_root))
        naive_time, naive_cpu, naive_cmds = naive(peers)
        state2 = count_state()

        n = len(peers)
        print("fabric_vxlan apply benchmark: %d peers (%d entries), one namespace, no traffic" % (n, 3 * n))
        print("  load average (1 min) at start: %.2f on %d CPUs" % (load, os.cpu_count() or 0))
        print("  %-40s %8s %8s" % ("", "wall", "CPU"))
        for label, wall, cpu, res in rows:
            print(
                "  %-40s %7.3fs %7.3fs  changed=%s, %d batch lines"
                % (label, wall, cpu, res["changed"], len(res["batch"]))
            )
        print(
            "  %-40s %7.3fs %7.3fs  %d commands"
            % ("naive: one ip/bridge process per entry", naive_time, naive_cpu, naive_cmds)
        )
        print(
            "  (naive: one shell inside the namespace runs them, as the module runs inside it: like with like)"
        )
        print("  naive / first apply: %.1fx wall, %.1fx CPU" % (naive_time / first[0], naive_cpu / first[1]))
        print("  live entries after module: neigh %d, fdb %d, routes %d" % state1)
        print("  live entries after naive:  neigh %d, fdb %d, routes %d" % state2)
        reapply = min(rows[1][1], rows[4][1])
        print(
            "  goals: first apply < 2 s: %s (%.3f s); re-apply < 0.5 s: %s (best %.3f s)"
            % ("met" if first[0] < 2 else "MISSED", first[0], "met" if reapply < 0.5 else "MISSED", reapply)
        )
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
