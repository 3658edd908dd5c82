"""Run one module through the real ``ansible`` CLI (AnsiballZ) inside a network namespace."""

import json
import os
import shutil
import subprocess
import sys

import yaml

ANSIBLE = shutil.which("ansible", path=os.path.dirname(sys.executable)) or "ansible"


def run_module(ns, module, args, collections_root, check=False, diff=False, prefix=(), local_tmp=None):
    """The module's result dict (raises AssertionError with Ansible's output when there is none)."""
    argv = ["ip", "netns", "exec", ns, *prefix, ANSIBLE, "localhost", "-c", "local", "-i", "localhost,",
            "-e", "ansible_python_interpreter=%s" % sys.executable, "-m", module, "-a", json.dumps(args)]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(collections_root),
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_NOCOLOR="1",
    )
    if local_tmp:
        env["ANSIBLE_LOCAL_TEMP"] = str(local_tmp)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=300)
    try:
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible failed (rc %s):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr)) from None


def run_local_play(tmp_path, name, play_vars, tasks, extra_env=None):
    """One play on localhost (connection local) through the real ansible-playbook, with this
    checkout's collection and ansible.cfg; returns (returncode, stdout + stderr)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": dict(play_vars, ansible_python_interpreter=sys.executable), "tasks": tasks,
    }]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(root, ".build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(root, "ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), **(extra_env or {}))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                           str(playbook)], capture_output=True, text=True, env=env, cwd=root, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr
