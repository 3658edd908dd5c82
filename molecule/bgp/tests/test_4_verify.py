"""crosshost.fabric.verify on the BGP mesh (issue 11 item 1): on the healthy lab every pair is ok
(each host's BIRD holds the sessions the plan expects Established, and every peer's gateway
answers); with BIRD stopped on one node, exactly the pairs from and to that node fail, each with
the cause "session down". BIRD is started again after, and its sessions come back."""

from __future__ import annotations

import json
import pathlib

from bgp_lab import EPHEMERAL, wait_all_sessions
from fabric_lab import node, run_playbook

STOPPED = "bgp-node3"


def verify() -> tuple[int, str, dict]:
    rc, out = run_playbook("playbooks/verify.yml")
    report = json.loads((pathlib.Path(EPHEMERAL) / "plan" / "verify.json").read_text(encoding="utf-8"))
    return rc, out, report


def test_verify_finds_every_pair_ok_on_the_healthy_mesh(plan):
    rc, out, report = verify()
    assert rc == 0 and "all 6 pairs ok" in out, out[-4000:]
    assert report["ok"] and report["backend"] == "bgp" and report["failures"] == []
    # The BGP health was checked on every host (not probed only).
    assert {h: v["checked"] for h, v in report["health"].items()} == {h: True for h in plan["hosts"]}


def test_bird_stopped_on_one_node_fails_exactly_its_pairs_with_session_down(plan):
    host = node(STOPPED)
    host.check_output("systemctl stop bird")
    try:
        rc, out, report = verify()
    finally:
        host.check_output("systemctl start bird")
    assert rc != 0, out[-4000:]
    names = sorted(plan["hosts"])
    want = sorted(f"{a} -> {b}" for a in names for b in names if a != b and STOPPED in (a, b))
    got = sorted(f"{f['from']} -> {f['to']}" for f in report["failures"])
    assert got == want, out[-4000:]
    assert {f["cause"] for f in report["failures"]} == {"session down"}, report["failures"]
    assert "4 of 6 pairs FAIL" in out
    for name, states in wait_all_sessions(plan["hosts"], timeout=60).items():
        assert states and all("Established" in line for line in states.values()), (name, states)
