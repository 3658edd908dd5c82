"""What the BGP checks read on a node, in a person's words: `birdc show protocols` (the state of each
session) and `ip -j route` (the kernel's routes; BIRD tags the routes it installs `proto bird`)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
# The scenario Molecule runs (bgp-racks uses these helpers too).
SCENARIO = pathlib.Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", pathlib.Path(__file__).resolve().parents[1]))
CONVERGE = SCENARIO / "converge.yml"
CONFIG = "/etc/bird/bird.conf"
SECRETS = "/etc/bird/crosshost-fabric-secrets.conf"


def sessions(host) -> dict[str, str]:
    """{protocol name: its line of `birdc show protocols`} for the BGP protocols."""
    out = host.check_output("birdc show protocols")
    return {line.split()[0]: line for line in out.splitlines() if len(line.split()) > 1 and line.split()[1] == "BGP"}


def wait_sessions(host, want_established: bool, timeout: float = 60, poll: float = 0.2) -> dict[str, str]:
    """Poll (every `poll` s) until every BGP session is (or none is) Established; return the last lines seen."""
    deadline = time.monotonic() + timeout
    while True:
        states = sessions(host)
        up = ["Established" in line for line in states.values()]
        if states and (all(up) if want_established else not any(up)):
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(poll)


def wait_all_sessions(names, timeout: float = 60) -> dict[str, dict[str, str]]:
    """wait_sessions(Established) on every node at once: {node: its BGP protocols' lines}."""
    from fabric_lab import node

    return parallel(lambda name: wait_sessions(node(name), want_established=True, timeout=timeout), names)


def parallel(func, items) -> dict:
    """{item: func(item)}, the items at once (each check is `docker exec`s that mostly wait)."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return dict(zip(items, pool.map(func, items), strict=True))


def traffic_faults_parallel(plan: dict, webs: dict[str, str], pairs) -> list[str]:
    """fabric_lab.traffic_faults, every pair at once: the same checks, a fraction of the time."""
    from fabric_lab import traffic_faults

    found = parallel(lambda pair: traffic_faults(plan, webs, [pair]), list(pairs))
    return [fault for pair in found for fault in found[pair]]


def bird_routes(host) -> dict[str, dict]:
    """{destination: route} of the kernel's routes of protocol bird."""
    return {r["dst"]: r for r in json.loads(host.check_output("ip -4 -j route show proto bird") or "[]")}


def routes_to(host, dst: str) -> list[dict]:
    return json.loads(host.check_output(f"ip -4 -j route show exact {dst}") or "[]")


def converge(*args: str, extra_vars: dict | None = None, inventory=None):
    """Run the scenario's converge.yml against Molecule's inventory, as Molecule does."""
    return playbook(CONVERGE, *args, extra_vars=extra_vars, inventory=inventory)


def playbook(path, *args: str, extra_vars: dict | None = None, inventory=None):
    """ansible-playbook with Molecule's inventory and configuration; stdout is ansible.posix.json."""
    exe = shutil.which("ansible-playbook") or str(pathlib.Path(sys.executable).parent / "ansible-playbook")
    env = dict(os.environ)
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    # No timer output in the JSON; the check recap of these runs goes to a file of its own, never
    # over the recap of Molecule's check step.
    env["ANSIBLE_CALLBACKS_ENABLED"] = "crosshost_check_recap"
    env["CROSSHOST_CHECK_RECAP"] = os.path.join(EPHEMERAL or "/tmp", "verify-check-recap.json")
    cmd = [exe, "-i", str(inventory or INVENTORY), str(path), *args]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    return proc
