"""Run one module through the real ``ansible`` CLI (AnsiballZ) inside a network namespace."""

import json
import os
import shutil
import subprocess
import sys

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
