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
import os
import pathlib
import re
import subprocess
import sys
import time

import testinfra
from test_default import INVENTORY, load_plan

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "vxlan" / "tests"))
from fabric_lab import snapshot_diffs  # noqa: E402 - shared with the udp scenario

ROOT = pathlib.Path(__file__).resolve().parents[3]


def playbook(name, *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    t0 = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", INVENTORY, str(ROOT / name), *extra],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=900)
    print("%s took %.1f s" % (name, time.monotonic() - t0))
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)


def changed(out):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", out, re.M)}


def test_reset_gives_back_every_node_as_before_the_first_site_yml_and_a_converge_works():
    plan = load_plan()
    nodes = {n: testinfra.get_host(f"ansible://{n}", ansible_inventory=INVENTORY) for n in sorted(plan["hosts"])}
    rc, out = playbook("playbooks/reset.yml")
    assert rc == 0, out
    diffs = snapshot_diffs(nodes)
    assert not diffs, "reset.yml left the nodes different from before the first site.yml:\n" + "\n".join(diffs)

    rc, out = playbook("playbooks/reset.yml")
    assert rc == 0 and set(changed(out).values()) == {0}, out

    rc, out = playbook("site.yml")
    assert rc == 0, out
    again = json.loads((pathlib.Path(INVENTORY).parent / ".fabric" / "plan.json").read_text())
    assert {n: h["subnet"] for n, h in again["hosts"].items()} == {n: h["subnet"] for n, h in plan["hosts"].items()}
    rc, out = playbook("playbooks/verify.yml")
    assert rc == 0 and "all 6 pairs ok" in out, out
