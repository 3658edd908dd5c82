"""playbooks/plan.yml with --check writes nothing: no lease file, no plan.json, no plan.txt; and it
still reports what it would change (issue 13: a mutant writing the plan files in check mode
survived every suite). Real ansible-playbook runs on localhost."""

import os

from test_plan_playbook import PLAYBOOK, THREE, make_inventory, run


def snapshot(folder):
    """Every file under folder with its content and inode (a rewrite in place or a rename both show).

    The ledger's hidden lock file (.fabric/.leases.yml.lock) is left out here; that check mode creates
    no lock file either is proved in test_fail_closed_playbook.py."""
    found = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".lock"):
                continue
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = (handle.read(), st.st_ino, st.st_mtime_ns)
    return found


def test_check_mode_on_a_new_fabric_writes_no_file(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    before = snapshot(tmp_path)
    rc, out = run(PLAYBOOK, inv, "--check")
    assert rc == 0, out
    assert "changed=1" in out, out  # it would write the lease file and the plan
    assert snapshot(tmp_path) == before
    assert not (tmp_path / ".fabric").exists()


def test_check_mode_after_a_change_leaves_lease_and_plan_files_alone(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    assert run(PLAYBOOK, inv)[0] == 0
    before = snapshot(tmp_path)
    assert {".fabric/leases.yml", ".fabric/plan.json", ".fabric/plan.txt"} <= set(before)
    inv = make_inventory(tmp_path, {**THREE, "n4": {"ansible_host": "192.0.2.14"}})
    before = snapshot(tmp_path)  # the new inventory file is not the plan's
    rc, out = run(PLAYBOOK, inv, "--check", "--diff")
    assert rc == 0, out
    assert "changed=1" in out and "n4" in out, out  # the diff shows the lease n4 would get
    assert snapshot(tmp_path) == before
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0 and "changed=1" in out, out
    assert "n4" in (tmp_path / ".fabric" / "plan.txt").read_text()
