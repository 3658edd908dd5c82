#!/usr/bin/env python3
"""Planner speed: allocation + validation for 1,000 and 10,000 hosts, and one host's full
desired state against 1,000 and 10,000 peers. Prints figures and the 10k/1k ratios (10 means
linear). Goals: 10,000 hosts allocated under 1 s; one host's desired state under 0.1 s.
A benchmark, not a test: it asserts nothing."""

import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import conftest  # noqa: E402,F401  (links the checkout as ansible_collections.crosshost.fabric)

from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger, planner  # noqa: E402

SETTINGS = planner.Settings(network="10.0.0.0/8", subnet_len=24, reserved=())


def inventory(n):
    return [
        planner.HostInput("h%05d" % i, public_ip="192.168.%d.%d" % (i // 250, i % 250 + 1), iface="eth0",
                          public_net="192.168.0.0/16")
        for i in range(n)
    ]


def best(func, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    rows = {}
    for n in (1000, 10000):
        hosts = inventory(n)
        rows[("plan", n)], (plan, leases) = best(lambda hosts=hosts: planner.build_plan(SETTINGS, hosts))
        # Half the hosts already leased, the rest new: the common steady state.
        half = dict(list(leases.items())[: n // 2])
        rows[("replan", n)], _ = best(lambda hosts=hosts, half=half: planner.build_plan(SETTINGS, hosts, half))
        rows[("vxlan_state", n)], st = best(lambda plan=plan: planner.vxlan_state(plan, "h00000"))
        assert len(st["routes"]) == n - 1
        direct = dict(plan, vxlan_direct_routing=True)
        rows[("vxlan_state+direct", n)], _ = best(lambda direct=direct: planner.vxlan_state(direct, "h00000"))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "leases.yml")
            rows[("ledger first write", n)], _ = best(
                lambda path=path, hosts=hosts: (os.path.exists(path) and os.unlink(path), ledger.plan(path, SETTINGS,
                                                                                                      hosts)), 3)
            rows[("ledger no-change", n)], _ = best(lambda path=path, hosts=hosts: ledger.plan(path, SETTINGS, hosts),
                                                    3)
    print("%-24s %12s %12s %8s" % ("planner step", "1,000 hosts", "10,000 hosts", "ratio"))
    for step in ("plan", "replan", "vxlan_state", "vxlan_state+direct", "ledger first write", "ledger no-change"):
        a, b = rows[(step, 1000)], rows[(step, 10000)]
        print("%-24s %10.4f s %10.4f s %7.1fx" % (step, a, b, b / a))
    plan_ok = "met" if rows[("plan", 10000)] < 1 else "MISSED"
    state_ok = "met" if rows[("vxlan_state", 10000)] < 0.1 else "MISSED"
    print("goals: plan(10,000) < 1 s -> %s; vxlan_state(10,000 peers) < 0.1 s -> %s" % (plan_ok, state_ok))


if __name__ == "__main__":
    main()
