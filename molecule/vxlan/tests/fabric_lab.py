"""What the checks of the VXLAN scenarios do on the lab, in a person's words.

The lab nodes are containers of this machine's Docker engine, each running its own Docker engine
with busybox containers in it ("workloads"). The checks reach a node with testinfra's docker
backend (`docker exec`, fast), run commands in its workloads with the node's `docker exec`, and
run ansible-playbook against Molecule's inventory (or an edited copy of it) when they change the
fabric. The expected values come from the plan the collection wrote:

    $MOLECULE_EPHEMERAL_DIRECTORY/plan/plan.json
    {"network", "subnet_len", "backend",
     "hosts": {name: {"public_ip", "subnet", "gateway", "vtep_ip", "mtu", "iface", "vtep_mac"}}}

Every workload runs `busybox httpd` serving the scenario's files/www (copied to /srv/fabric-www by
prepare.yml): GET /cgi-bin/peer answers with the source address the server saw. The lab host
outside the fabric serves the same page. Packets only ever go to the lab's own containers.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
import testinfra
import yaml

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
PROJECT = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", pathlib.Path(__file__).parents[3]))
SITE = PROJECT / "site.yml"
PLAN_FILE = pathlib.Path(EPHEMERAL, "plan", "plan.json")
LEASE_FILE = pathlib.Path(EPHEMERAL, "leases.yml")
RECAP_FILE = pathlib.Path(EPHEMERAL, "check-recap.json")

# The nodes' Docker engine (molecule.yml picks the node image crosshost/fabric-node:<engine>) and the
# version each engine's node image runs (lab/lib.sh).
DEFAULT_ENGINE = "bookworm"
ENGINE = os.environ.get("FABRIC_ENGINE") or DEFAULT_ENGINE
ENGINE_VERSIONS = {"bookworm": "20.10.", "trixie": "26.1.", "sid": "28.5."}

DEVICE = "flannel.1"
PROTO = 244
WEB = "fabric-web"  # name of the workload container on every node
PORT = 8080


# --- the engine matrix ---------------------------------------------------------------------------
# `make molecule` runs the engine scenarios once per Docker engine. A check marked
# `engine_independent` proves something no engine takes part in (the planner, the kernel's entries,
# membership): it runs on the default engine only, so that the matrix repeats only what an engine can
# change. The scenarios' conftest.py import these two hooks.


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", f"engine_independent: run on the default engine ({DEFAULT_ENGINE}) only, not on each engine"
    )


def pytest_collection_modifyitems(config, items) -> None:
    if ENGINE == DEFAULT_ENGINE:
        return
    skip = [item for item in items if item.get_closest_marker("engine_independent")]
    if skip:
        names = ", ".join(item.name for item in skip)
        print(f"\nFABRIC_ENGINE={ENGINE}: engine-independent checks left to the {DEFAULT_ENGINE} run: {names}")
        config.hook.pytest_deselected(items=skip)
        items[:] = [item for item in items if item not in skip]


# --- the plan ----------------------------------------------------------------------------------


def load_plan() -> dict:
    if not EPHEMERAL:
        pytest.fail("MOLECULE_EPHEMERAL_DIRECTORY is not set: run these tests through molecule", pytrace=False)
    if not PLAN_FILE.is_file():
        pytest.fail(f"plan.json is missing: {PLAN_FILE} (converge writes it)", pytrace=False)
    return json.loads(PLAN_FILE.read_text(encoding="utf-8"))


def load_leases() -> dict:
    """{host: subnet} from the lease ledger."""
    data = yaml.safe_load(LEASE_FILE.read_text(encoding="utf-8"))
    return {name: entry["subnet"] for name, entry in (data.get("leases") or {}).items()}


# --- nodes -------------------------------------------------------------------------------------


def node(name: str):
    """A lab node, reached with `docker exec` (Molecule instance names are container names)."""
    return testinfra.get_host(f"docker://{name}")


def node_address(name: str) -> str:
    """The node container's address as this machine's Docker engine sees it."""
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[0]


def wait_until_booted(name: str, timeout: float = 240) -> None:
    """systemd has finished booting, the node's Docker answers and the workload image is loaded."""
    deadline = time.monotonic() + timeout
    state = "?"
    while time.monotonic() < deadline:
        proc = subprocess.run(
            ["docker", "exec", name, "systemctl", "is-system-running"], capture_output=True, text=True
        )
        state = proc.stdout.strip() or "?"
        if state in ("running", "degraded"):
            img = subprocess.run(
                ["docker", "exec", name, "docker", "image", "inspect", "busybox:latest"], capture_output=True
            )
            if img.returncode == 0:
                return
        time.sleep(1)
    pytest.fail(f"{name} did not finish booting within {timeout:.0f} s (systemd: {state})", pytrace=False)


# --- workloads ---------------------------------------------------------------------------------


def start_web(host) -> str:
    """(Re)start the web workload on a node; return its container address."""
    host.run(f"docker rm -f {WEB}")
    host.check_output(
        f"docker run -d --name {WEB} -v /srv/fabric-www:/www:ro busybox httpd -f -p 0.0.0.0:{PORT} -h /www"
    )
    return host.check_output(f"docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {WEB}")


def stop_web(host) -> None:
    host.run(f"docker rm -f {WEB}")


def start_webs(plan: dict, names=None) -> dict[str, str]:
    """A web workload on each node; {node name: workload address}, all inside the cluster network."""
    network = ipaddress.ip_network(plan["network"])
    addrs = {}
    for name in names or sorted(plan["hosts"]):
        addr = start_web(node(name))
        # Only ever send packets to the lab's own containers.
        assert ipaddress.ip_address(addr) in network, f"{name}: workload address {addr} outside {network}"
        assert ipaddress.ip_address(addr) in ipaddress.ip_network(plan["hosts"][name]["subnet"]), (
            f"{name}: workload address {addr} outside the node's subnet {plan['hosts'][name]['subnet']}"
        )
        addrs[name] = addr
    return addrs


def pings(host, addr: str, count: int = 2) -> bool:
    """The node's workload gets an answer to ping from addr."""
    return host.run(f"docker exec {WEB} ping -c {count} -W 2 {addr}").rc == 0


def seen_as(host, addr: str) -> str | None:
    """Open a TCP connection from the node's workload to the web server at addr and return the
    source address that server saw (None when the connection failed). `busybox wget -T` crashes in
    this busybox build, so `timeout` bounds the request."""
    res = host.run(f"docker exec {WEB} timeout 10 wget -q -O- http://{addr}:{PORT}/cgi-bin/peer")
    return res.stdout.strip() if res.rc == 0 else None


def traffic_faults(plan: dict, webs: dict[str, str], pairs) -> list[str]:
    """For each (client node, server node): ping, then a TCP request whose server must see the
    client workload's own address (no masquerade between containers). Returns what went wrong."""
    faults = []
    for a, b in pairs:
        h = node(a)
        if not pings(h, webs[b]):
            faults.append(f"ping {a} ({webs[a]}) -> {b} ({webs[b]}): no answer")
        seen = seen_as(h, webs[b])
        if seen is None:
            faults.append(f"tcp {a} ({webs[a]}) -> {b} ({webs[b]}:{PORT}): no connection")
        elif seen != webs[a]:
            faults.append(f"tcp {a} -> {b}: the server saw {seen}, not the client container {webs[a]}")
    return faults


def all_pairs(names) -> list[tuple[str, str]]:
    return [(a, b) for a in sorted(names) for b in sorted(names) if a != b]


# --- the fabric's entries on a node ------------------------------------------------------------


def fabric_entries(host, device: str = DEVICE) -> dict[str, set]:
    """What a person would read with `ip neigh`, `bridge fdb` and `ip route` on a node: the
    permanent neighbours and FDB entries of the VTEP (flannel.1) and the routes of protocol 244."""
    neigh = json.loads(host.check_output(f"ip -j neigh show dev {device} nud permanent") or "[]")
    fdb = json.loads(host.check_output(f"bridge -j fdb show dev {device}") or "[]")
    routes = json.loads(host.check_output(f"ip -j route show proto {PROTO}") or "[]")
    return {
        "neigh": {(n["dst"], n.get("lladdr")) for n in neigh},
        "fdb": {(f["mac"], f.get("dst")) for f in fdb if f.get("state") == "permanent"},
        "routes": {(r["dst"], r.get("gateway"), r.get("dev")) for r in routes},
    }


def expected_entries(plan: dict, me: str, device: str = DEVICE) -> dict[str, set]:
    """flannel's three entries per peer, tunnel routes only (no direct routing), on the VTEP device."""
    peers = [h for name, h in plan["hosts"].items() if name != me]
    return {
        "neigh": {(p["vtep_ip"], p["vtep_mac"]) for p in peers},
        "fdb": {(p["vtep_mac"], p["public_ip"]) for p in peers},
        "routes": {(p["subnet"], p["vtep_ip"], device) for p in peers},
    }


def mentions(entries: dict[str, set], peer: dict) -> list[str]:
    """Entries that point at a peer (its VTEP address or MAC, public address or subnet)."""
    marks = {peer["vtep_ip"], peer["vtep_mac"], peer["public_ip"], peer["subnet"]}
    return [
        f"{kind}: {' '.join(str(v) for v in entry)}"
        for kind, items in entries.items()
        for entry in sorted(items)
        if marks & set(entry)
    ]


def fabric_rules(host) -> list[str]:
    """The fabric's iptables chains and jumps, as `iptables -S` prints them."""
    lines = []
    for table, chains in (("filter", ("FABRIC-FORWARD",)), ("nat", ("FABRIC-POSTROUTING",))):
        out = host.check_output(f"iptables -w -t {table} -S")
        lines += [f"{table}: {line}" for line in out.splitlines() if any(c in line for c in chains)]
    return lines


# --- ansible-playbook --------------------------------------------------------------------------


def ansible_playbook(*args: str, inventory: str | os.PathLike = INVENTORY, json_out: bool = False):
    """Run the collection's site.yml as a user would, with Molecule's configuration (ANSIBLE_CONFIG
    and the collection path come from the environment Molecule gives the verifier)."""
    exe = shutil.which("ansible-playbook") or str(pathlib.Path(sys.executable).parent / "ansible-playbook")
    env = dict(os.environ)
    if json_out:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        # Nothing else may write to stdout (the timer callback would); the recap callback writes a
        # file, and only for converge.yml.
        env["ANSIBLE_CALLBACKS_ENABLED"] = "crosshost_check_recap"
    return subprocess.run(
        [exe, "-i", str(inventory), str(SITE), *args], env=env, capture_output=True, text=True, timeout=1200
    )


def changed_results(report: dict) -> list[tuple[str, str, dict]]:
    """(host, task name, result) of every changed task in an ansible.posix.json report."""
    found = []
    for play in report["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("changed"):
                    found.append((host, task["task"]["name"], result))
    return found


def diff_lines(result: dict) -> list[str]:
    """The +/- lines of a task's --diff, as ansible-playbook --diff prints them."""
    lines = []
    for item in result.get("diff") or []:
        before, after = item.get("before", ""), item.get("after", "")
        if not isinstance(before, str) or not isinstance(after, str):
            continue
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0):
            if line.startswith(("+++", "---", "@@")):
                continue
            lines.append(line)
    return lines


def inventory_without(host_name: str, dest: pathlib.Path) -> pathlib.Path:
    """A copy of Molecule's inventory (with its group_vars) in which host_name is not listed:
    the host is removed from the inventory, as a user would delete its line."""
    src = pathlib.Path(INVENTORY)
    shutil.copytree(src.parent, dest, dirs_exist_ok=True)
    data = yaml.safe_load(src.read_text(encoding="utf-8"))
    for group in data.values():
        if isinstance(group, dict) and isinstance(group.get("hosts"), dict):
            group["hosts"].pop(host_name, None)
    out = dest / src.name
    out.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def plan() -> dict:
    return load_plan()


@pytest.fixture(scope="module")
def webs(plan):
    """A web server in a busybox container on every node: {node: container address}; removed after."""
    addrs = start_webs(plan)
    yield addrs
    for name in addrs:
        stop_web(node(name))


# --- steps shared by the scenarios' checks ------------------------------------------------------


def converge(*args: str, inventory: str | os.PathLike = INVENTORY, what: str = "converge"):
    """site.yml as a user runs it; fails the test with Ansible's output when it fails."""
    run = ansible_playbook(*args, inventory=inventory)
    assert run.returncode == 0, f"{what} failed:\n{run.stdout[-4000:]}\n{run.stderr[-3000:]}"
    return run


def traffic_with(plan: dict, name: str) -> list[str]:
    """Fresh web workloads on every node, traffic between `name` and each other node both ways
    (ping, and TCP seen unmasqueraded), the workloads removed; what went wrong."""
    webs = start_webs(plan)
    try:
        pairs = [(name, other) for other in sorted(webs) if other != name]
        return traffic_faults(plan, webs, pairs + [(b, a) for a, b in pairs])
    finally:
        for each in webs:
            stop_web(node(each))


def restart_node(name: str, plan: dict) -> None:
    """`docker restart` of a lab node (systemd shuts down and boots again), back and booted."""
    subprocess.run(["docker", "restart", name], check=True, capture_output=True, timeout=180)
    wait_until_booted(name)
    if node_address(name) != plan["hosts"][name]["public_ip"]:
        pytest.fail(
            f"{name} came back with another address on the lab network ({node_address(name)}): "
            "a lab artifact (Docker reassigned it), not a fabric fault",
            pytrace=False,
        )


def unit(host, name: str, *props: str) -> dict[str, str]:
    """Properties of a systemd unit on a node."""
    out = host.check_output(f"systemctl show {name} " + " ".join(f"-p {p}" for p in props))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def boot_unit_faults(host, units) -> list[str]:
    """Each boot unit ran, succeeded and was done before Docker started; what went wrong."""
    docker = unit(host, "docker.service", "ExecMainStartTimestampMonotonic", "ActiveState")
    faults = [] if docker["ActiveState"] == "active" else [f"docker.service: {docker}"]
    for name in units:
        u = unit(host, name, "ActiveState", "Result", "ActiveEnterTimestampMonotonic")
        if (u["ActiveState"], u["Result"]) != ("active", "success"):
            faults.append(f"{name}: {u}")
        elif not 0 < int(u["ActiveEnterTimestampMonotonic"]) < int(docker["ExecMainStartTimestampMonotonic"]):
            faults.append(
                f"{name} was done at {u['ActiveEnterTimestampMonotonic']} us, after Docker started at "
                f"{docker['ExecMainStartTimestampMonotonic']} us"
            )
    return faults


def restart_converged(name: str, plan: dict, read, expected):
    """What read(host) finds on a converged node (it must be what expected(plan, name) says), then
    the node's restart; returns what was read before."""
    seen = read(node(name))
    assert seen == expected(plan, name), "the fabric is not converged before the restart"
    restart_node(name, plan)
    return seen


# --- membership: a node leaves the inventory and comes back (every backend's scenario) ----------
# read(host) is the backend's state on a node, expected(plan, name) what the plan wants there, and
# mentions(state, peer) the lines of a state that still point at a peer.


def leave_faults(before: dict, gone: str, tmp_path_factory, read, expected, mentions) -> list[str]:
    """Converge with an inventory that no longer lists `gone` (the same lease file, the inventory
    copied to a temporary folder): it keeps its lease, and the others hold exactly their plan and
    nothing that points at it."""
    inventory = inventory_without(gone, tmp_path_factory.mktemp("inventory"))
    converge(inventory=inventory, what=f"converge without {gone}")
    plan = load_plan()
    assert sorted(plan["hosts"]) == sorted(set(before["hosts"]) - {gone})
    assert load_leases().get(gone) == before["hosts"][gone]["subnet"], f"{gone} lost its lease"
    faults = []
    for name in sorted(plan["hosts"]):
        have = read(node(name))
        faults += [f"{name}: still has {line}" for line in mentions(have, before["hosts"][gone])]
        if have != expected(plan, name):
            faults.append(f"{name}: {have} != {expected(plan, name)}")
    return faults


def return_faults(before: dict, gone: str, read, expected) -> list[str]:
    """Converge with the full inventory again: `gone` gets its old subnet back, every node holds its
    plan, and container traffic flows between `gone` and each other node both ways."""
    converge(what=f"converge with {gone} back")
    plan = load_plan()
    assert plan["hosts"][gone]["subnet"] == before["hosts"][gone]["subnet"], "not its old subnet"
    faults = [
        f"{name}: {read(node(name))} != {expected(plan, name)}"
        for name in sorted(plan["hosts"])
        if read(node(name)) != expected(plan, name)
    ]
    return faults + traffic_with(plan, gone)


# --- a refused run changes nothing --------------------------------------------------------------


def snapshot(name: str) -> dict:
    """A node's routes (all tables), links, policy rules, iptables rules (filter, nat, raw) and the
    fabric's files, to compare before and after a run that must change nothing."""
    host = node(name)
    routes = json.loads(host.check_output("ip -4 -j route show table all"))
    links = json.loads(host.check_output("ip -j link show"))
    for route in routes:
        # linkdown follows the bridge carrier (a workload container came or went), not the configuration.
        route.pop("flags", None)
    return {
        "routes": sorted(json.dumps(r, sort_keys=True) for r in routes),
        "links": sorted((d["ifname"], d["ifindex"], d.get("mtu")) for d in links),
        "rules": host.check_output("ip -j rule show"),
        "iptables": [host.check_output(f"iptables -w -t {table} -S") for table in ("filter", "nat", "raw")],
        "files": host.check_output("ls -la /etc/crosshost-fabric /etc/systemd/system"),
    }


def changes(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """What differs between two {node: snapshot} readings."""
    return [
        f"{name}: {key} changed"
        for name in sorted(before)
        for key in before[name]
        if after[name][key] != before[name][key]
    ]


def write_file(name: str, path: str, text: str) -> None:
    """Replace a file's content on a node (its owner and mode stay)."""
    subprocess.run(["docker", "exec", "-i", name, "sh", "-c", f"cat > {path}"], input=text, text=True, check=True)


# --- an underlay host that is not a peer ---------------------------------------------------------


def outside_pings(outsider, addr: str) -> bool:
    """The lab host outside the fabric gets an answer to ping from addr."""
    return outsider.run(f"busybox ping -c 3 -W 2 {addr}").rc == 0


def reached_via(outsider, network: str, gateway: str, addrs: dict[str, str]) -> list[str]:
    """The outsider routes the cluster network via a node (an underlay neighbour doing direct
    routing) and pings each workload; the names of the nodes whose workload answered."""
    outsider.check_output(f"ip route add {network} via {gateway}")
    try:
        return [name for name, addr in sorted(addrs.items()) if outside_pings(outsider, addr)]
    finally:
        outsider.run(f"ip route del {network}")


def switch_backend(backend: str | None, scenario_backend: str, *extra: str) -> dict:
    """site.yml with fabric_backend=backend (None: the scenario's own backend) and extra arguments; the new plan."""
    args = (("-e", f"fabric_backend={backend}") if backend else ()) + extra
    label = f"switch to {backend or scenario_backend}"
    start = time.monotonic()
    converge(*args, what=label)
    print(f"\n{label}: site.yml took {time.monotonic() - start:.1f} s")
    new_plan = load_plan()
    assert new_plan["backend"] == (backend or scenario_backend)
    return new_plan


def tcp_received(server) -> int:
    """Lines the fabric-tcp-server workload has received on its one TCP connection."""
    return int(server.check_output("docker exec fabric-tcp-server sh -c 'wc -l < /tmp/received'") or 0)


def assert_tcp_alive(client, server, label: str, wait: float = 1.5) -> None:
    """Both ends of the fabric-tcp-client -> fabric-tcp-server connection run and data still flows."""
    for host, name in ((server, "fabric-tcp-server"), (client, "fabric-tcp-client")):
        running = host.run(f"docker inspect -f '{{{{.State.Running}}}}' {name}").stdout.strip() == "true"
        assert running, f"{label}: the TCP connection ended ({name})"
    before = tcp_received(server)
    time.sleep(wait)
    assert tcp_received(server) > before, f"{label}: no data through the TCP connection any more"


STREAM_PORT = 9000
STREAM_INTERVAL = 0.1  # seconds between two lines of the stream and two pings


def tcp_stream(plan: dict, client_name: str, server_name: str):
    """Generator for a module fixture: a workload on client_name streams a line every STREAM_INTERVAL
    over one TCP connection to a workload on server_name, and pings it as often; yields (client,
    server) once the connection carries data, removes the workloads afterwards."""
    client, server = node(client_name), node(server_name)
    names = ((server, "fabric-tcp-server"), (client, "fabric-tcp-client"), (client, "fabric-pinger"))
    for host, name in names:
        host.run(f"docker rm -f {name}")
    server.check_output(
        # busybox nc quits when its stdin ends (a detached container has none): feed it one that never does.
        "docker run -d --name fabric-tcp-server busybox sh -c "
        f"'tail -f /dev/null | nc -l -p {STREAM_PORT} > /tmp/received'"
    )
    addr = server.check_output("docker inspect -f '{{.NetworkSettings.IPAddress}}' fabric-tcp-server")
    # Only ever send packets to the lab's own containers.
    assert ipaddress.ip_address(addr) in ipaddress.ip_network(plan["hosts"][server_name]["subnet"]), addr
    time.sleep(0.5)
    client.check_output(
        "docker run -d --name fabric-tcp-client busybox sh -c "
        f"'i=0; while :; do i=$((i+1)); echo $i; sleep {STREAM_INTERVAL}; done | nc {addr} {STREAM_PORT}'"
    )
    client.check_output(f"docker run -d --name fabric-pinger busybox ping -i {STREAM_INTERVAL} {addr}")
    assert_tcp_alive(client, server, "before the switch")
    yield client, server
    for host, name in names:
        host.run(f"docker rm -f {name}")


def longest_ping_gap(client) -> tuple[float, int, int]:
    """(longest time between two answered pings, pings answered, highest sequence) of tcp_stream's pinger."""
    log = client.check_output("docker logs fabric-pinger 2>&1")
    seqs = sorted({int(m) for m in re.findall(r"seq=(\d+)", log)})
    assert len(seqs) > 50, log[-2000:]
    gap = max(b - a for a, b in zip(seqs, seqs[1:], strict=False)) * STREAM_INTERVAL
    return gap, len(seqs), seqs[-1]


def assert_stream_kept(client, server, label: str, max_gap: float) -> None:
    """After the switches: tcp_stream's connection still carries data, and no two answered pings were
    more than max_gap seconds apart (printed with the counts)."""
    assert_tcp_alive(client, server, label)
    gap, answered, sent = longest_ping_gap(client)
    print(
        f"\nping every {STREAM_INTERVAL} s across both switches: {answered} of {sent + 1} answered, "
        f"longest gap between two answers {gap:.1f} s; TCP lines received {tcp_received(server)}"
    )
    assert gap <= max_gap, f"traffic stopped for {gap:.1f} s during the switches"


# --- reset.yml gives every node back as it was before the first site.yml ------------------------
# prepare.yml copies molecule/default/files/snapshot.sh to SNAPSHOT_SCRIPT on each node and writes
# its output to SNAPSHOT_BEFORE before the first converge (default and bgp scenarios).

SNAPSHOT_SCRIPT = "/usr/local/lib/fabric-snapshot.sh"
SNAPSHOT_BEFORE = "/var/tmp/fabric-before.txt"


def run_playbook(path: str | os.PathLike, *extra: str, inventory: str | os.PathLike = INVENTORY,
                 root: str | os.PathLike = PROJECT) -> tuple[int, str]:
    """A playbook of the collection (path relative to the project) as a user runs it; (rc, output
    without colours). Prints its time."""
    root = pathlib.Path(root)
    exe = shutil.which("ansible-playbook") or str(pathlib.Path(sys.executable).parent / "ansible-playbook")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    t0 = time.monotonic()
    proc = subprocess.run([exe, "-i", str(inventory), str(root / path), *extra],
                          capture_output=True, text=True, env=env, cwd=str(root), timeout=1200)
    print("%s took %.1f s" % (path, time.monotonic() - t0))
    return proc.returncode, re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)


def changed_counts(out: str) -> dict[str, int]:
    """{host: changed} of a PLAY RECAP."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", out, re.M)}


def snapshot_diffs(hosts) -> list[str]:
    """{name: testinfra host}: each node's snapshot now against the one taken before the first
    site.yml; a unified diff per node that differs."""
    diffs = []
    for name, h in sorted(hosts.items()):
        before = h.check_output(f"cat {SNAPSHOT_BEFORE}").splitlines()
        after = h.check_output(SNAPSHOT_SCRIPT).splitlines()
        if before != after:
            diff = difflib.unified_diff(before, after, "before", "after", lineterm="")
            diffs.append(f"--- {name}\n" + "\n".join(diff))
    return diffs
