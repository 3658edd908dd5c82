"""crosshost.fabric.reset on the host-gw fabric (issue 11, item 2); runs after the membership changes and
the switch host-gw -> vxlan -> host-gw, before the node restart (test_4): a reboot gives docker0 a new MAC
address and Docker's embedded DNS new ports, and Docker leaves FORWARD's policy ACCEPT when ip_forward is
already on at its start, none of which reset.yml has to give back.

prepare.yml took each node's snapshot before the first site.yml (molecule/default/files/snapshot.sh,
the same as the default scenario's: links, addresses, routes, rules, permanent neighbours and FDB,
iptables, ip_forward, unit files, the collection's files with modes and hashes; the user's daemon.json
with live-restore is part of it). After reset.yml each node's snapshot is identical; a second reset
changes nothing; and site.yml builds the fabric again with the same subnets (the leases are kept),
which verify.yml finds all ok. The reset is the same on every Docker engine: engine_independent.
"""

from __future__ import annotations

import pytest
from fabric_lab import PLAN_FILE, changed_counts, converge, load_plan, node, run_playbook, snapshot_diffs


@pytest.mark.engine_independent
def test_reset_gives_back_every_node_as_before_the_first_site_yml_and_a_converge_works(plan):
    names = sorted(plan["hosts"])
    rc, out = run_playbook("playbooks/reset.yml")
    assert rc == 0, out[-6000:]
    diffs = snapshot_diffs({name: node(name) for name in names})
    assert not diffs, "reset.yml left the nodes different from before the first site.yml:\n" + "\n".join(diffs)

    rc, out = run_playbook("playbooks/reset.yml")
    assert rc == 0 and set(changed_counts(out).values()) == {0}, out[-6000:]

    converge(what="site.yml after the reset")
    again = load_plan()
    assert PLAN_FILE.is_file()
    assert {n: h["subnet"] for n, h in again["hosts"].items()} == {n: h["subnet"] for n, h in plan["hosts"].items()}
    rc, out = run_playbook("playbooks/verify.yml")
    assert rc == 0 and f"all {len(names) * (len(names) - 1)} pairs ok" in out, out[-6000:]
