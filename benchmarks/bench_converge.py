"""What a converge costs, and how it grows with the fleet (issue 11, item 4). Prints figures only.

For each fleet size N (default 3 and 10): brings up N + 1 lab nodes (the lab's node image: systemd
and a Docker engine each) on an internal Docker network, and with the collection's site.yml, through
the same docker connection as the molecule scenarios (pipelining on):

  first      the first converge of N nodes (packages present, Docker restarted one node at a time)
  no-op      a run that changes nothing: the median of three, its number of tasks each host ran and the
             CPU seconds it cost: on the controller (ansible-playbook and its workers), in this
             machine's Docker daemons (the lab's transport, docker exec) and in the lab nodes (their
             cgroups); then one more with ansible.posix.profile_tasks for the slowest tasks
  floor      the cheapest play that contacts every host (one ping each, no facts), the median of three:
             how much one round trip per host alone grows with the fleet here, where the nodes and the
             transport share the controller's cores (a converge reads every host at least once; its
             own fixed costs, such as the plan, are not in this play)
  plan only  site.yml itself, every play after the plan ending each host at once (meta: end_host), the
             median of three: the one read of each host and the plan, the least a converge that reads
             every host can do; an upper bound on any no-op that skips the build where nothing is to do
  add one    node N+1 added to the inventory, site.yml --limit to it (the new host's own converge;
             its peers pick it up at their next run)

and removes the nodes and the network. Needs root, Docker, the lab image (make setup) and .venv.
Noisy on a shared machine: compare figures of one run. The lab nodes share the controller's cores, so
a wall time here includes the work every host does on its own CPUs in a real fleet; the CPU split says
which part grows with the fleet on the controller.

    .venv/bin/python benchmarks/bench_converge.py [N ...]      (or: make bench)
"""

from __future__ import annotations

import os
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

import yaml
from common.lab import IMAGE, INVENTORY, LABEL, NODE_FLAGS, sh

ROOT = pathlib.Path(__file__).resolve().parents[1]
NETWORK = "crosshost-bench-converge"
PREFIX = "crosshost-bench-cnode"


def nodes(n: int) -> list[str]:
    return [f"{PREFIX}{i}" for i in range(1, n + 1)]


def teardown() -> None:
    for name in sh("docker", "ps", "-aq", "--filter", f"name=^{PREFIX}[0-9]+$").split():
        sh("docker", "rm", "-f", name, check=False)
    sh("docker", "network", "rm", NETWORK, check=False)


def bring_up(names: list[str]) -> None:
    teardown()
    sh("docker", "network", "create", "--internal", "--label", LABEL, NETWORK)  # no route out
    for node in names:
        sh("docker", "run", "-d", "--name", node, "--hostname", node, "--network", NETWORK, "--label", LABEL,
           "--stop-signal", "SIGRTMIN+3", *NODE_FLAGS, IMAGE, "/lib/systemd/systemd")
    deadline = time.monotonic() + 600
    for node in names:
        while True:
            state = sh("docker", "exec", node, "systemctl", "is-system-running", check=False)
            image = subprocess.run(["docker", "exec", node, "docker", "image", "inspect", "busybox:latest"],
                                   capture_output=True)
            if state in ("running", "degraded") and image.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node} did not boot (systemd: {state})")
            time.sleep(1)


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process), from /proc/stat."""
    fields = [int(f) for f in pathlib.Path("/proc/stat").read_text(encoding="utf-8").split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def engine_cpu() -> float:
    """CPU seconds this machine's Docker daemons (dockerd, containerd) have spent: the lab's transport
    (each round trip is a docker exec), which hosts reached over SSH do not have. The daemons inside
    the lab nodes (their own PID namespace) are node work, not counted here; nor are the short-lived
    shims (their CPU would vanish from the sum when they exit)."""
    total = 0.0
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text(encoding="utf-8")
            status = (proc / "status").read_text(encoding="utf-8")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        nspid = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
        if len(nspid) == 1 and comm in ("dockerd", "containerd"):
            fields = stat[stat.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def nodes_cpu(names: list[str]) -> float | None:
    """CPU seconds the lab nodes' containers have spent (their cgroups: cgroup v1 cpuacct or v2 cpu.stat),
    idle or not; None where the cgroup is not found."""
    total = 0.0
    for node in names:
        cid = sh("docker", "inspect", "-f", "{{.Id}}", node)
        v1 = pathlib.Path("/sys/fs/cgroup/cpuacct/docker", cid, "cpuacct.usage")
        v2 = [pathlib.Path("/sys/fs/cgroup/system.slice", f"docker-{cid}.scope", "cpu.stat"),
              pathlib.Path("/sys/fs/cgroup/docker", cid, "cpu.stat")]
        if v1.exists():
            total += int(v1.read_text(encoding="utf-8")) / 1e9
            continue
        stat = next((f for f in v2 if f.exists()), None)
        if stat is None:
            return None
        usage = dict(line.split() for line in stat.read_text(encoding="utf-8").splitlines())
        total += int(usage["usage_usec"]) / 1e6
    return total


Cpu = dict[str, float | None]


# The cheapest play that contacts every host: one ping each, nothing gathered. Through this lab's
# transport (docker exec into nodes on the controller's own cores) it shows how one round trip per
# host alone grows from N to M hosts (a converge reads every host at least once, and has fixed costs
# of its own, such as the plan, which this play has not).
FLOOR_PLAY = """\
- name: One round trip per host (the lab's floor)
  hosts: fabric
  gather_facts: false
  tasks:
    - name: Contact the host once
      ansible.builtin.ping:
"""


def plan_only_play() -> str:
    """site.yml with every play after "Plan the fabric" ending each host before its first task."""
    plays = yaml.safe_load((ROOT / "playbooks" / "site.yml").read_text(encoding="utf-8"))
    names = [play.get("name") for play in plays]
    if "Plan the fabric" not in names:
        raise RuntimeError(f"playbooks/site.yml has no play 'Plan the fabric': {names}")
    for play in plays[names.index("Plan the fabric") + 1:]:
        end = {"name": "End here: nothing after the plan", "ansible.builtin.meta": "end_host"}
        play["pre_tasks"] = [end, *play.get("pre_tasks", [])]
    return yaml.safe_dump(plays, sort_keys=False, width=1000)


def median_play(tmp: pathlib.Path, names: list[str], filename: str, text: str) -> float:
    """The median wall time of three runs of the playbook ``text`` (written to tmp/filename)."""
    play = tmp / filename
    play.write_text(text, encoding="utf-8")
    return sorted(site(tmp, names, playbook=play)[0] for _ in range(3))[1]


def site(tmp: pathlib.Path, names: list[str], *extra: str, profile: bool = False,
         playbook: pathlib.Path | None = None) -> tuple[float, str, Cpu]:
    """Runs site.yml (or ``playbook``); returns its wall time, its output and the CPU seconds it cost: `controller`
    (ansible-playbook, its workers and the docker CLI they start), `engine` (this machine's Docker
    daemons: the lab's transport), `nodes` (the lab nodes' containers: the modules run there; None when
    their cgroups are not found) and `machine` (every core of the machine, whatever runs)."""
    inventory = tmp / "hosts.yml"
    inventory.write_text(INVENTORY.format(hosts="".join(f"    {n}:\n" for n in names), tmp=tmp), encoding="utf-8")
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_PIPELINING="1")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".build" / "collections"))
    if profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
        env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "12"
    exe = pathlib.Path(sys.executable).parent / "ansible-playbook"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine0, engine0, nodes0 = machine_cpu(), engine_cpu(), nodes_cpu(names)
    start = time.monotonic()
    play = playbook or ROOT / "site.yml"
    proc = subprocess.run([str(exe), "-i", str(inventory), str(play), *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600)
    took = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine, engine, nodes1 = machine_cpu() - machine0, engine_cpu() - engine0, nodes_cpu(names)
    controller = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"{play.name} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    node_cpu = nodes1 - nodes0 if nodes0 is not None and nodes1 is not None else None
    return took, proc.stdout, {"controller": controller, "engine": engine, "nodes": node_cpu,
                               "machine": machine}


def recap(out: str) -> dict[str, tuple[int, int, int]]:
    """{host: (tasks run (ok, changed included), changed, skipped)} from the play recap. A skipped task
    costs no round trip; a task run on the host costs one (a loop one per item)."""
    found = {}
    for m in re.finditer(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=\d+\s+skipped=(\d+)", out,
                         re.M):
        found[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return found


def slowest(out: str) -> list[str]:
    """profile_tasks' summary lines (the slowest tasks first)."""
    return [line.strip() for line in out.splitlines() if re.search(r"-{3,}\s+\d+\.\d+s$", line)][:8]


def load() -> str:
    """The machine's load averages (1, 5, 15 min): the figures are only comparable at a similar load."""
    return " ".join(pathlib.Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])


def fleet(n: int) -> dict[str, object]:
    names = nodes(n + 1)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"bench-converge-{n}-"))
    t0 = time.monotonic()
    bring_up(names)
    print(f"[{n} nodes] {n + 1} lab nodes up in {time.monotonic() - t0:.0f} s", flush=True)
    first, _, _ = site(tmp, names[:n])
    print(f"[{n} nodes] first converge {first:.1f} s (load {load()})", flush=True)
    # The median of three plain runs (a single one is noisy on a shared machine), with the CPU split of
    # that run; then one more with profile_tasks for the slowest tasks (the callback costs CPU itself).
    runs = sorted((site(tmp, names[:n]) for _ in range(3)), key=lambda r: r[0])
    noop, out, cpu = runs[1]
    _, profiled, _ = site(tmp, names[:n], profile=True)
    floor = median_play(tmp, names[:n], "floor.yml", FLOOR_PLAY)
    plan_only = median_play(tmp, names[:n], "plan-only.yml", plan_only_play())
    rc = recap(out)
    tasks = sorted({t for t, _c, _s in (rc[h] for h in names[:n])})
    skipped = sorted({s for _t, _c, s in (rc[h] for h in names[:n])})
    changed = sum(c for _t, c, _s in (rc[h] for h in names[:n]))
    print(f"[{n} nodes] no-op re-run {noop:.1f} s ({'/'.join(map(str, tasks))} tasks run per host, "
          f"{'/'.join(map(str, skipped))} skipped, {changed} changed; load {load()})")
    node = "?" if cpu["nodes"] is None else f"{cpu['nodes']:.1f}"
    print(f"[{n} nodes] no-op CPU seconds: controller {cpu['controller']:.1f}, lab Docker daemons "
          f"{cpu['engine']:.1f}, lab nodes {node}, whole machine {cpu['machine']:.1f}")
    print(f"[{n} nodes] one ping per host (the floor: the cheapest play that contacts every host) {floor:.1f} s")
    print(f"[{n} nodes] site.yml's read and plan only (every play after the plan ends at once) {plan_only:.1f} s")
    for line in slowest(profiled):
        print(f"    {line}")
    add, out, _ = site(tmp, names, "--limit", names[n])
    print(f"[{n} nodes] adding one host with --limit {add:.1f} s (load {load()})", flush=True)
    return {"first": first, "noop": noop, "add": add, "tasks": tasks, "skipped": skipped, "changed": changed,
            "cpu": cpu, "floor": floor, "plan_only": plan_only}


def main() -> int:
    if os.geteuid() != 0 or subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        print(f"skipped: needs root, Docker and the lab image {IMAGE} (make setup)")
        return 0
    sizes = [int(a) for a in sys.argv[1:]] or [3, 10]
    results = {}
    try:
        for n in sizes:
            results[n] = fleet(n)
            teardown()
    finally:
        teardown()
    print("nodes  first converge  no-op re-run  tasks run/skipped per host  add one (--limit)")
    for n, r in results.items():
        per_host = f"{'/'.join(map(str, r['tasks']))} / {'/'.join(map(str, r['skipped']))}"
        print(f"{n:5d}  {r['first']:12.1f} s  {r['noop']:10.1f} s  {per_host:>26}  {r['add']:15.1f} s")
    # The lab nodes share this machine's cores with the controller: the no-op's wall time can't be less
    # than its CPU seconds over the cores. Per host, what the controller spends grows with any fleet; what
    # the nodes spend runs on each host's own CPUs in a real fleet.
    print("no-op CPU seconds: nodes  controller (per host)  lab Docker daemons  lab nodes (per host)  machine / cores")
    for n, r in results.items():
        cpu, cores = r["cpu"], os.cpu_count() or 1
        node = f"{cpu['nodes']:6.1f} ({cpu['nodes'] / n:.2f})" if cpu["nodes"] is not None else "     ?"
        print(f"{n:5d}  {cpu['controller']:10.1f} ({cpu['controller'] / n:.2f})  {cpu['engine']:18.1f}  "
              f"{node:>20}  {cpu['machine'] / cores:8.1f} s")
    if len(results) >= 2:
        small, big = results[min(results)], results[max(results)]
        print(f"no-op ratio {max(results)}/{min(results)} nodes: {big['noop'] / small['noop']:.2f}x wall, "
              f"{big['cpu']['controller'] / small['cpu']['controller']:.2f}x controller CPU; "
              f"the floor (one ping per host) {big['floor'] / small['floor']:.2f}x wall; "
              f"site.yml's read and plan only {big['plan_only'] / small['plan_only']:.2f}x wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
