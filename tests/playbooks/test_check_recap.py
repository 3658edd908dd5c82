"""The Molecule check-mode recap (tests/molecule_helpers): a converge.yml run with --check records
changed, failed, ignored and unreachable results, and the verifiers' shared assertion reports each.
Real ansible-playbook runs on localhost; the unreachable host is an SSH port on 127.0.0.1 that
nothing listens on (no packet leaves the machine)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPERS = os.path.join(ROOT, "tests", "molecule_helpers")
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, HELPERS)

from check_recap import assert_check_mode_clean, problems  # noqa: E402

INVENTORY = """\
[nodes]
local ansible_connection=local ansible_python_interpreter={python}
[far]
gone ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_ssh_common_args='-o ConnectTimeout=3'
"""

MESSY = """\
- name: Converge
  hosts: nodes
  gather_facts: false
  tasks:
    - name: A file that does not exist yet
      ansible.builtin.copy:
        dest: "{dest}"
        content: "x\\n"
        mode: "0644"
    - name: A failure hidden by ignore_errors
      ansible.builtin.fail:
        msg: boom in check mode
      ignore_errors: true
- name: Converge the far host
  hosts: far
  gather_facts: false
  tasks:
    - name: Ping it
      ansible.builtin.ping:
"""

CLEAN = """\
- name: Converge
  hosts: nodes
  gather_facts: false
  tasks:
    - name: Nothing to change
      ansible.builtin.stat:
        path: /
"""


def run_converge(tmp_path, playbook, *extra):
    (tmp_path / "hosts").write_text(INVENTORY.format(python=sys.executable))
    (tmp_path / "converge.yml").write_text(playbook.format(dest=tmp_path / "new-file"))
    recap = tmp_path / "check-recap.json"
    env = dict(os.environ, ANSIBLE_CALLBACK_PLUGINS=os.path.join(HELPERS, "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="crosshost_check_recap", CROSSHOST_CHECK_RECAP=str(recap),
               ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", str(tmp_path / "hosts"),
                           str(tmp_path / "converge.yml"), *extra],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)
    return proc, recap


def test_recap_counts_changed_failed_ignored_and_unreachable(tmp_path):
    proc, recap_path = run_converge(tmp_path, MESSY, "--check")
    assert proc.returncode != 0  # the unreachable host
    recap = json.loads(recap_path.read_text())
    assert recap["check_mode"] is True and recap["hosts"] == ["gone", "local"]
    assert recap["changed"]["local"] == 1 and recap["ignored"]["local"] == 1
    assert recap["unreachable"]["gone"] == 1
    assert [t["task"] for t in recap["ignored_tasks"]] == ["A failure hidden by ignore_errors"]
    assert "boom in check mode" in recap["ignored_tasks"][0]["msg"]
    assert [t["host"] for t in recap["unreachable_tasks"]] == ["gone"]
    found = "\n".join(problems(recap))
    for expect in ("local: 1 changed", "local: 1 ignored", "gone: 1 unreachable",
                   "ignored local: A failure hidden by ignore_errors (boom in check mode)"):
        assert expect in found, found
    with pytest.raises(AssertionError, match="not clean"):
        assert_check_mode_clean(recap_path)
    assert not (tmp_path / "new-file").exists()  # check mode


def test_a_clean_check_run_passes_and_a_real_converge_removes_the_recap(tmp_path):
    proc, recap_path = run_converge(tmp_path, CLEAN, "--check", "--limit", "nodes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = assert_check_mode_clean(recap_path)
    assert recap["ok"] == {"local": 1}
    proc, _ = run_converge(tmp_path, CLEAN, "--limit", "nodes")
    assert proc.returncode == 0 and not recap_path.exists()  # never a recap older than the last converge


def test_a_recap_from_the_old_callback_is_refused():
    old = {"check_mode": True, "changed": {"n1": 0}, "failures": {"n1": 0}, "changed_tasks": []}
    assert any("no 'ignored'" in p for p in problems(old))
