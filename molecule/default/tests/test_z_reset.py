"""crosshost.fabric.reset on the converged 3-node fabric (issue 11, item 2); runs last.

prepare.yml took a snapshot of every node before the first site.yml (files/snapshot.sh: links,
addresses, routes, rules, permanent neighbours and FDB entries, iptables-save, ip_forward, unit
files, the files the collection may touch with their modes and hashes). After reset.yml the same
snapshot must be identical on every node (default-node3 ran flannel before: its subnet.env is
flannel's again). A second reset changes nothing, and site.yml converges the fabric again, with
the same subnets (the leases are kept), which verify.yml then finds all ok.
"""

from __future__ import annotations

import json
import pathlib
import sys

from test_default import INVENTORY, load_plan

# The reset proof's helpers are shared with the host-gw scenario (molecule/vxlan/tests/fabric_lab.py).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "vxlan" / "tests"))
from fabric_lab import changed_per_host, playbook, snapshot_diffs  # noqa: E402


def test_reset_gives_back_every_node_as_before_the_first_site_yml_and_a_converge_works():
    plan = load_plan()
    rc, out = playbook("playbooks/reset.yml", inventory=INVENTORY)
    assert rc == 0, out
    diffs = snapshot_diffs(sorted(plan["hosts"]))
    assert not diffs, "reset.yml left the nodes different from before the first site.yml:\n" + "\n".join(diffs)

    rc, out = playbook("playbooks/reset.yml", inventory=INVENTORY)
    assert rc == 0 and set(changed_per_host(out).values()) == {0}, out

    rc, out = playbook("site.yml", inventory=INVENTORY)
    assert rc == 0, out
    again = json.loads((pathlib.Path(INVENTORY).parent / ".fabric" / "plan.json").read_text())
    assert {n: h["subnet"] for n, h in again["hosts"].items()} == {n: h["subnet"] for n, h in plan["hosts"].items()}
    rc, out = playbook("playbooks/verify.yml", inventory=INVENTORY)
    assert rc == 0 and "all 6 pairs ok" in out, out
