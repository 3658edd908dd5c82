"""crosshost.fabric.verify on the converged 3-node fabric (issue 11, item 1).

Healthy: every pair ok, exit 0, verify.json beside the plan, and nothing changed (also under
--check). Then the permanent neighbour entry for default-node2's VTEP is deleted on default-node1:
exactly default-node1 -> default-node2 and back fail, with the cause named (missing entry, on
default-node1), exit non-zero; the entry is put back afterwards.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import time

import testinfra
from test_default import INVENTORY, PLAN_FILE, load_plan

ROOT = pathlib.Path(__file__).resolve().parents[3]
VERIFY_JSON = PLAN_FILE.parent / "verify.json"


def run_verify(*extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    t0 = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", INVENTORY, str(ROOT / "playbooks" / "verify.yml"), *extra],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=600)
    print("verify.yml %s took %.1f s" % (" ".join(extra), time.monotonic() - t0))
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)


def hosts_changed(out):
    """Tasks that changed something on a node (the report written on the controller is not one)."""
    return re.findall(r"^changed: \[(default-node\d)\]", out, re.M)


def test_a_healthy_fabric_is_all_ok_and_verify_changes_nothing():
    VERIFY_JSON.unlink(missing_ok=True)
    rc, out = run_verify()
    print(out[-3000:])
    assert rc == 0, out
    assert "fabric verify: backend vxlan, 3 hosts, all 6 pairs ok" in out, out
    report = json.loads(VERIFY_JSON.read_text())
    assert report["ok"] and report["failures"] == []
    assert all(v == "ok" for row in report["matrix"].values() for v in row.values())
    assert not hosts_changed(out), out
    rc, out = run_verify("--check")
    assert rc == 0 and "all 6 pairs ok" in out, out
    assert not hosts_changed(out), out


def test_a_deleted_neighbour_entry_fails_exactly_the_affected_pairs_with_the_cause():
    plan = load_plan()
    node1 = testinfra.get_host("ansible://default-node1", ansible_inventory=INVENTORY)
    peer = plan["hosts"]["default-node2"]
    vtep_ip, mac = peer["vtep_ip"], peer["vtep_mac"]
    node1.check_output(f"ip neigh del {vtep_ip} dev flannel.1")
    try:
        rc, out = run_verify()
        print(out[-3000:])
        assert rc != 0, out
        report = json.loads(VERIFY_JSON.read_text())
        failed = sorted((f["from"], f["to"]) for f in report["failures"])
        assert failed == [("default-node1", "default-node2"), ("default-node2", "default-node1")], report["failures"]
        assert {f["cause"] for f in report["failures"]} == {"missing entry"}, report["failures"]
        assert f"no permanent neighbour entry for default-node2's VTEP {vtep_ip}" in out
        assert "FAIL default-node1 -> default-node2: missing entry: default-node1:" in out
        assert "FAIL default-node2 -> default-node1: missing entry: default-node1 (the way back):" in out
        assert report["matrix"]["default-node1"]["default-node3"] == "ok"
        assert report["matrix"]["default-node3"]["default-node2"] == "ok"
    finally:
        node1.check_output(f"ip neigh replace {vtep_ip} lladdr {mac} dev flannel.1 nud permanent")
    rc, out = run_verify()
    assert rc == 0, out
