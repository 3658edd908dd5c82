"""crosshost.fabric.reset on nodes that ran BGP (issue 11 item 2), before the node restart (a reboot
renews docker0's MAC address and Docker's DNS ports, which no reset can give back).

prepare.yml took a snapshot of every node before the first site.yml (the default scenario's
files/snapshot.sh: links, addresses, routes, rules, permanent neighbours and FDB entries,
iptables-save, ip_forward, unit files, the files the collection may touch, /etc/bird among them,
with their modes and hashes). The nodes have run the mesh, host-gw and bgp in peers mode by now.
After reset.yml the same snapshot must be identical on every node: BIRD stopped and disabled as on
a fresh node, the package's bird.conf back, no proto bird route, no port-179 rule. Then site.yml
converges the mesh again and every session is Established with every peer's subnet in the kernel.
"""

from __future__ import annotations

import time

from bgp_lab import bird_routes, wait_all_sessions
from fabric_lab import node, run_playbook, snapshot_diffs


def test_reset_gives_back_every_node_as_before_the_first_site_yml_and_a_converge_works(plan):
    names = sorted(plan["hosts"])
    rc, out = run_playbook("playbooks/reset.yml")
    assert rc == 0, out[-6000:]
    faults = []
    for name in names:
        host = node(name)
        if host.run("systemctl is-active bird").stdout.strip() == "active":
            faults.append(f"{name}: BIRD still runs")
        if bird_routes(host):
            faults.append(f"{name}: proto bird routes {bird_routes(host)}")
        if "--dport 179" in host.check_output("iptables -w -S"):
            faults.append(f"{name}: a port-179 rule is left")
    assert not faults, "\n".join(faults)
    diffs = snapshot_diffs({name: node(name) for name in names})
    assert not diffs, "reset.yml left the nodes different from before the first site.yml:\n" + "\n".join(diffs)

    rc, out = run_playbook("site.yml")
    assert rc == 0, out[-6000:]
    faults = []
    for name, states in sorted(wait_all_sessions(names, timeout=60).items()):
        want = {"fabric_" + peer.replace("-", "_") for peer in names if peer != name}
        if set(states) != want:
            faults.append(f"{name}: BGP protocols {sorted(states)}, expected {sorted(want)}")
        faults += [f"{name}: {line}" for line in states.values() if "Established" not in line]
        wanted = {p["subnet"]: p["public_ip"] for n, p in plan["hosts"].items() if n != name}
        for _ in range(100):
            routes = {dst: r.get("gateway") for dst, r in bird_routes(node(name)).items()}
            if routes == wanted:
                break
            time.sleep(0.2)
        if routes != wanted:
            faults.append(f"{name}: proto bird routes {routes}, expected {wanted}")
    assert not faults, "converge after the reset:\n" + "\n".join(faults)
