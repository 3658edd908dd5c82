"""A controller without netaddr is told so in one sentence, not with a traceback.

A real virtualenv holding ansible-core and its own dependencies only (the version of the shared
venv, from the configured pip index), built once and kept under .build/ for later runs.
"""

import fcntl
import os
import shutil
import subprocess
import sys

import ansible
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# One per ansible-core version: make compat runs this file on two versions at once.
VENV = os.path.join(ROOT, ".build", "venv-no-netaddr-" + ansible.__version__)
SENTENCE = "crosshost.fabric needs the Python package netaddr on the controller"


@pytest.fixture(scope="module")
def bare_python():
    """Python of a venv with ansible-core only (no netaddr)."""
    python = os.path.join(VENV, "bin", "python")
    marker = os.path.join(VENV, ".ready")
    os.makedirs(os.path.dirname(VENV), exist_ok=True)
    with open(VENV + ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(marker):
            shutil.rmtree(VENV, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True, timeout=120)
            proc = subprocess.run([python, "-m", "pip", "install", "--quiet", "ansible-core==" + ansible.__version__],
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            open(marker, "w", encoding="utf-8").close()
    probe = subprocess.run([python, "-c", "import netaddr"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'netaddr'" in probe.stderr
    return python


def run(python, playbook, inventory):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([os.path.join(os.path.dirname(python), "ansible-playbook"), "-i", inventory, playbook],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_plan_without_netaddr_names_the_package(bare_python, tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"fabric": {"hosts": {"a1": {"ansible_host": "192.0.2.1"}}}}))
    rc, out = run(bare_python, os.path.join(ROOT, "playbooks", "plan.yml"), str(inv))
    assert rc != 0, out
    assert SENTENCE in out, out
    for noise in ("Unexpected Exception", "Traceback", "No module named"):
        assert noise not in out, out
    assert not (tmp_path / "fabric-leases.yml").exists()


def test_filter_without_netaddr_names_the_package(bare_python, tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"fabric": {"hosts": {"a1": {"ansible_host": "192.0.2.1"}}}}))
    (tmp_path / "use.yml").write_text(
        "- name: A filter of the collection\n"
        "  hosts: localhost\n"
        "  gather_facts: false\n"
        "  tasks:\n"
        "    - name: One host's VXLAN state\n"
        "      ansible.builtin.debug:\n"
        "        msg: \"{{ {'hosts': {}} | crosshost.fabric.vxlan_state('a1') }}\"\n")
    rc, out = run(bare_python, str(tmp_path / "use.yml"), str(inv))
    assert rc != 0, out
    assert SENTENCE in out, out
    for noise in ("Unexpected Exception", "Traceback", "No module named"):
        assert noise not in out, out
