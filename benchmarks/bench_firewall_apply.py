"""Benchmark: crosshost.fabric.fabric_firewall with the front door for 1,000 peers.

One fresh network namespace (``cffwb-<pid>``), deleted at the end; its ruleset starts with
Docker 28's chains (DOCKER-USER, DOCKER-FORWARD, ...), as on a real node. The chains are the
planner's ``firewall_state`` for one host of a fabric of N+1 hosts (peer public IPs in
198.18.0.0/15, the benchmarking range, used only as iptables matches; no packet is sent):
FABRIC-INPUT holds one accept per peer and a drop, FABRIC-FORWARD / FABRIC-PREROUTING /
FABRIC-POSTROUTING their few rules.

Prints, in one run: the first apply (module run as Ansible runs it: a Python process with a
JSON args file; one iptables-restore batch), the no-change re-apply, one peer removed, and a
check-mode run with diff. No assertions: it prints figures.

Usage (root): python benchmarks/bench_firewall_apply.py [--peers N]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import netaddr

REPO = pathlib.Path(__file__).resolve().parents[1]
MODULE = "ansible_collections.crosshost.fabric.plugins.modules.fabric_firewall"
NS = "cffwb-%d" % os.getpid()
DOCKER28 = """*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-BRIDGE - [0:0]
:DOCKER-CT - [0:0]
:DOCKER-FORWARD - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-FORWARD
-A DOCKER ! -i docker0 -o docker0 -j DROP
-A DOCKER-BRIDGE -o docker0 -j DOCKER
-A DOCKER-FORWARD -j DOCKER-CT
-A DOCKER-FORWARD -j DOCKER-BRIDGE
-A DOCKER-FORWARD -i docker0 -j ACCEPT
COMMIT
"""


def run_module(args, workdir, collections_root, check=False):
    path = pathlib.Path(workdir) / "args.json"
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=True)
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    env = dict(os.environ, PYTHONPATH=str(collections_root))
    start = time.perf_counter()
    proc = subprocess.run(["ip", "netns", "exec", NS, sys.executable, "-m", MODULE, str(path)],
                          capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    result = json.loads(proc.stdout)
    if result.get("failed"):
        raise SystemExit("module failed: %s" % result.get("msg"))
    return elapsed, result["changed"], len(result["added"]), len(result["removed"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--peers", type=int, default=1000)
    opts = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespace, iptables)")
    workdir = tempfile.mkdtemp(prefix="cffwb-")
    collections_root = pathlib.Path(workdir) / "collections"
    (collections_root / "ansible_collections" / "crosshost").mkdir(parents=True)
    (collections_root / "ansible_collections" / "crosshost" / "fabric").symlink_to(REPO)
    sys.path.insert(0, str(collections_root))
    from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner

    hosts = [planner.HostInput("h%04d" % i, public_ip=str(netaddr.IPAddress(0xC6120000 + 1 + i)), iface="eth0")
             for i in range(opts.peers + 1)]
    plan, _ = planner.build_plan(planner.Settings(network="10.0.0.0/8", reserved=()), hosts)
    chains = planner.firewall_state(plan, "h0000", "28.5.2")["chains"]
    fewer = dict(plan, hosts={k: v for k, v in plan["hosts"].items() if k != "h0500"})
    chains_fewer = planner.firewall_state(fewer, "h0000", "28.5.2")["chains"]
    rules = sum(len(c["rules"]) for c in chains)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", NS, "iptables-restore", "--noflush"], input=DOCKER28,
                       text=True, check=True)
        base = {"persist_file": str(pathlib.Path(workdir) / "iptables.rules")}
        rows = [("first apply",) + run_module(dict(base, chains=chains), workdir, collections_root)]
        rows.append(("no-change re-apply",) + run_module(dict(base, chains=chains), workdir, collections_root))
        rows.append(("one peer removed",) + run_module(dict(base, chains=chains_fewer), workdir, collections_root))
        rows.append(("check mode + diff (that peer back)",)
                    + run_module(dict(base, chains=chains), workdir, collections_root, check=True))
        live = subprocess.run(["ip", "netns", "exec", NS, "iptables-save"], capture_output=True, text=True,
                              check=True).stdout
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)
    print("fabric_firewall, %d peers: %d rules in %d chains (%d lines in iptables-save)"
          % (opts.peers, rules, len(chains), len(live.splitlines())))
    print("%-38s %9s %8s %6s %8s" % ("run", "seconds", "changed", "added", "removed"))
    for name, secs, changed, added, removed in rows:
        print("%-38s %9.3f %8s %6d %8d" % (name, secs, changed, added, removed))


if __name__ == "__main__":
    main()
