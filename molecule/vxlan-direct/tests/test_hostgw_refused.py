"""host-gw is refused across a router, by name, and no host changes.

The lab's two segments are joined by direct-router: direct-b1 cannot reach direct-a1 or direct-a2
without it. site.yml with fabric_backend=host-gw must stop before any host changes, naming the
hosts on each side and suggesting vxlan with direct routing. Every node's routes (all tables),
links, policy rules and iptables rules, and the lease file, are compared before and after.
"""

from __future__ import annotations

from fabric_lab import LEASE_FILE, ansible_playbook, changes, snapshot

NODES = ("direct-a1", "direct-a2", "direct-b1")


def test_host_gw_across_a_router_is_refused_naming_the_pairs_and_nothing_changes():
    before = {name: snapshot(name) for name in NODES}
    leases = LEASE_FILE.read_text(encoding="utf-8")
    run = ansible_playbook("-e", "fabric_backend=host-gw")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out[-3000:]
    # one sentence for the pair of segments, naming every host on both sides (in subnet order)
    sentence = next((line for line in out.splitlines() if "cannot reach hosts" in line), "")
    assert "hosts direct-a1, direct-a2 (" in sentence and "hosts direct-b1 (" in sentence, out[-3000:]
    assert "fabric_vxlan_direct_routing=true" in out
    assert "nothing was changed" in out
    after = {name: snapshot(name) for name in NODES}
    assert not changes(before, after), "\n".join(changes(before, after))
    assert LEASE_FILE.read_text(encoding="utf-8") == leases
