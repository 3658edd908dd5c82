"""One neighbour entry goes missing on one node: check mode shows exactly that, converge fixes it.

On vxlan-node1, delete the permanent neighbour of vxlan-node2's VTEP by hand. Then
`ansible-playbook --check --diff site.yml` must report vxlan-node1 (and no other host) changed,
with a diff of one line: that neighbour entry coming back. Nothing is changed by the check run;
a normal run puts the entry back.
"""

from __future__ import annotations

import pytest

import json

from fabric_lab import DEVICE, ansible_playbook, changed_results, diff_lines, fabric_entries, load_plan, node

pytestmark = pytest.mark.engine_independent  # the kernel's entries and the planner: no engine takes part

NODE, PEER = "vxlan-node1", "vxlan-node2"


def test_check_diff_shows_the_one_lost_neighbour_and_converge_restores_it():
    plan = load_plan()
    peer = plan["hosts"][PEER]
    host = node(NODE)
    wanted = (peer["vtep_ip"], peer["vtep_mac"])
    assert wanted in fabric_entries(host)["neigh"], f"{NODE} lacks the neighbour of {PEER} before the test"

    host.check_output(f"ip neigh del {peer['vtep_ip']} dev {DEVICE}")
    assert wanted not in fabric_entries(host)["neigh"]

    # ansible-playbook --check --diff site.yml (as JSON, to read it reliably)
    run = ansible_playbook("--check", "--diff", json_out=True)
    assert run.returncode == 0, f"check run failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    report = json.loads(run.stdout)
    changed = changed_results(report)
    print("changed in check mode:", [(h, t) for h, t, _ in changed])
    assert {h for h, _, _ in changed} == {NODE}, f"hosts reported changed: {sorted({h for h, _, _ in changed})}"
    assert {h: s["changed"] for h, s in report["stats"].items() if s["changed"]} == {NODE: 1}
    ((_, task, result),) = changed
    lines = diff_lines(result)
    print(f"diff of {task!r}:", *lines, sep="\n  ")
    assert lines == [f"+neigh {peer['vtep_ip']} lladdr {peer['vtep_mac']} dev {DEVICE} nud permanent"]
    assert wanted not in fabric_entries(host)["neigh"], "the check run changed the node"

    # a normal converge restores it
    run = ansible_playbook()
    assert run.returncode == 0, f"converge failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert wanted in fabric_entries(host)["neigh"], f"{NODE}: the neighbour of {PEER} was not restored"
