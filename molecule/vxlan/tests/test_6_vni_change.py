"""The VNI changes on the running fabric: nothing of the old VTEP stays (issue 11).

Everything of the VTEP is keyed by fabric_vxlan_vni: the device flannel.<vni>, its boot script
/etc/crosshost-fabric/flannel.<vni>.sh, the boot unit that runs it. A change of the VNI must leave no
old VTEP behind, on vxlan or in reset.yml (on a switch to another backend: molecule/host-gw's
test_3_switch.py, whose vxlan leg runs VNI 5 and whose way back plans the inventory's VNI 1):

1. site.yml with fabric_vxlan_vni=2: on every node flannel.2 (VNI 2) holds the plan's neighbours, FDB
   entries and routes, the boot unit runs flannel.2.sh, flannel.1 and flannel.1.sh are gone, and
   container traffic flows between every pair of nodes. Across the change, an open TCP connection
   keeps flowing and every NEW connection (one each 0.2 s, from a workload on vxlan-node1 to one on
   vxlan-node2) is accepted: the receiving node must accept the new VTEP before the routes move to it.
2. reset.yml on vxlan-node3 with an inventory that says fabric_vxlan_vni=7 (a VNI the node never
   had): the node keeps no VXLAN device and no VTEP boot script of the collection.
3. site.yml as the scenario has it (vxlan, VNI 1): flannel.1 alone again on every node (vxlan-node3
   back from its reset), the plan's entries, and traffic between every pair of nodes. The scenario's
   state is then what converge made of it.

The reset runs with fabric_docker=false: the Docker restarts of a reset and of the converge after it
(daemon.json given back, then the fabric's again) cost half a minute and prove nothing here. Each step prints its time.
"""

from __future__ import annotations

import ipaddress
import json
import time

import pytest
from fabric_lab import (
    PORT,
    PROTO,
    all_pairs,
    assert_tcp_alive,
    converge,
    expected_entries,
    fabric_entries,
    load_plan,
    longest_ping_gap,
    node,
    run_playbook,
    start_webs,
    stop_web,
    tcp_stream,
    traffic_faults,
)

pytestmark = pytest.mark.engine_independent  # the kernel's devices, files and the planner: no engine takes part

PERSIST_DIR = "/etc/crosshost-fabric"
UNIT = "/etc/systemd/system/crosshost-fabric-vxlan.service"
RESET_NODE = "vxlan-node3"
DIAL_INTERVAL = 0.2  # seconds between two new connections of the dialer
DIAL_TIMEOUT = 1  # seconds a new connection may take: TCP sends a lost SYN again only after 1 s


def vteps(host) -> dict[str, int]:
    """{name: VNI} of every VXLAN device on a node."""
    links = json.loads(host.check_output("ip -j -d link show type vxlan") or "[]")
    return {link["ifname"]: link["linkinfo"]["info_data"]["id"] for link in links}


def vtep_scripts(host) -> list[str]:
    """The VTEP boot scripts (flannel.<n>.sh) in the collection's folder on a node."""
    out = host.run(f"ls {PERSIST_DIR}").stdout
    return sorted(n for n in out.split() if n.startswith("flannel.") and n.endswith(".sh"))


def unit_script(host) -> str | None:
    """The script the VXLAN boot unit runs (None without the unit)."""
    res = host.run(f"cat {UNIT}")
    if res.rc != 0:
        return None
    return next((line.split()[-1] for line in res.stdout.splitlines() if line.startswith("ExecStart=")), "")


def vxlan_faults(plan: dict, vni: int) -> list[str]:
    """On every node of the plan: the VTEP flannel.<vni> alone, with the plan's entries, its boot
    script alone, the boot unit running it."""
    device = f"flannel.{vni}"
    faults = []
    for name in sorted(plan["hosts"]):
        host = node(name)
        if vteps(host) != {device: vni}:
            faults.append(f"{name}: VXLAN devices {vteps(host)}, not only {device} (VNI {vni})")
        if vtep_scripts(host) != [f"{device}.sh"]:
            faults.append(f"{name}: VTEP boot scripts {vtep_scripts(host)}, not only {device}.sh")
        if unit_script(host) != f"{PERSIST_DIR}/{device}.sh":
            faults.append(f"{name}: the boot unit runs {unit_script(host)}")
        if fabric_entries(host, device) != expected_entries(plan, name, device):
            faults.append(f"{name}: {fabric_entries(host, device)} != {expected_entries(plan, name, device)}")
    return faults


def no_vxlan_faults(names) -> list[str]:
    """Nothing of the VXLAN backend on the nodes: no device, no VTEP boot script, no boot unit."""
    faults = []
    for name in names:
        host = node(name)
        left = {"devices": sorted(vteps(host)), "scripts": vtep_scripts(host), "unit": unit_script(host)}
        if left != {"devices": [], "scripts": [], "unit": None}:
            faults.append(f"{name}: left behind {left}")
    return faults


def all_pairs_traffic(plan: dict) -> list[str]:
    webs = start_webs(plan)
    try:
        return traffic_faults(plan, webs, all_pairs(webs))
    finally:
        for name in webs:
            stop_web(node(name))


def timed_converge(label: str, *args: str) -> dict:
    start = time.monotonic()
    converge(*args, what=label)
    print(f"\n{label}: site.yml took {time.monotonic() - start:.1f} s")
    return load_plan()


@pytest.fixture
def stream(plan):
    yield from tcp_stream(plan, "vxlan-node1", "vxlan-node2")


@pytest.fixture
def dialer(plan):
    """A workload on vxlan-node1 opens a NEW TCP connection (an HTTP request) every DIAL_INTERVAL to a web
    workload on vxlan-node2, each bounded by DIAL_TIMEOUT, and logs `<start> <end> ok|fail` (the kernel's
    uptime, in seconds); yields the client node once a connection has been answered, removes both after."""
    client, server = node("vxlan-node1"), node("vxlan-node2")
    names = ((server, "fabric-dial-server"), (client, "fabric-dialer"))
    for host, name in names:
        host.run(f"docker rm -f {name}")
    server.check_output(
        f"docker run -d --name fabric-dial-server -v /srv/fabric-www:/www:ro busybox httpd -f -p 0.0.0.0:{PORT} -h /www"
    )
    addr = server.check_output("docker inspect -f '{{.NetworkSettings.IPAddress}}' fabric-dial-server")
    # Only ever send packets to the lab's own containers.
    assert ipaddress.ip_address(addr) in ipaddress.ip_network(plan["hosts"]["vxlan-node2"]["subnet"]), addr
    loop = (
        "while :; do read t0 _ < /proc/uptime; "
        f"if timeout {DIAL_TIMEOUT} wget -q -O /dev/null http://{addr}:{PORT}/cgi-bin/peer; "
        "then r=ok; else r=fail; fi; "
        f"read t1 _ < /proc/uptime; echo $t0 $t1 $r; sleep {DIAL_INTERVAL}; done"
    )
    client.check_output(f"docker run -d --name fabric-dialer busybox sh -c '{loop}'")
    deadline = time.monotonic() + 10
    while " ok" not in client.check_output("docker logs fabric-dialer 2>&1") and time.monotonic() < deadline:
        time.sleep(0.2)
    yield client
    for host, name in names:
        host.run(f"docker rm -f {name}")


def dial_figures(client) -> tuple[int, int, float]:
    """(connections tried, failed, longest failure window in s) of the dialer so far: a window runs from
    the start of a failed connection to the start of the next answered one (or the last one's end)."""
    tries = []
    for line in client.check_output("docker logs fabric-dialer 2>&1").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2] in ("ok", "fail"):
            tries.append((float(fields[0]), float(fields[1]), fields[2] == "ok"))
    assert tries and tries[0][2], f"the dialer's first connection failed, before any change: {tries[:5]}"
    longest, since = 0.0, None
    for start, _end, ok in tries:
        if not ok and since is None:
            since = start
        elif ok and since is not None:
            longest, since = max(longest, start - since), None
    if since is not None:
        longest = max(longest, tries[-1][1] - since)
    return len(tries), sum(1 for t in tries if not t[2]), longest


def test_1_a_new_vni_replaces_the_old_vtep_on_every_node(stream, dialer):
    """Also measured (printed, not bounded): the longest gap between two answered pings of a 0.1 s ping
    from a workload on vxlan-node1 to one on vxlan-node2 across the change, whose TCP connection must
    survive it. Measured and bounded: every new connection of the dialer across the change is answered."""
    before = load_plan()
    assert before["vxlan_vni"] == 1 and before["backend"] == "vxlan", "the scenario's fabric (VNI 1) first"
    plan = timed_converge("VNI 1 -> 2", "-e", "fabric_vxlan_vni=2")
    assert plan["vxlan_vni"] == 2
    client, server = stream
    assert_tcp_alive(client, server, "after the change to VNI 2")
    gap, answered, sent = longest_ping_gap(client)
    print(f"ping every 0.1 s across the VNI change: {answered} of {sent + 1} answered, longest gap {gap:.1f} s")
    tried, failed, window = dial_figures(dialer)
    print(
        f"a new TCP connection every {DIAL_INTERVAL} s across the VNI change: {tried} tried, {failed} failed, "
        f"longest failure window {window:.1f} s"
    )
    faults = vxlan_faults(plan, 2) + all_pairs_traffic(plan)
    if failed:
        faults.append(
            f"new connections vxlan-node1 -> vxlan-node2 across the change: {failed} of {tried} failed "
            f"(timeout {DIAL_TIMEOUT} s), longest failure window {window:.1f} s"
        )
    assert not faults, "after the change to VNI 2:\n  " + "\n  ".join(faults)


def test_2_reset_removes_every_vtep_whatever_the_inventory_says():
    rc, out = run_playbook("playbooks/reset.yml", "-e", "fabric_vxlan_vni=7", "-e", "fabric_docker=false",
                           "--limit", RESET_NODE)
    assert rc == 0, out[-4000:]
    faults = no_vxlan_faults([RESET_NODE])
    routes = node(RESET_NODE).check_output(f"ip route show proto {PROTO}")
    if routes:
        faults.append(f"{RESET_NODE}: fabric routes left: {routes}")
    assert not faults, "after reset.yml with fabric_vxlan_vni=7:\n  " + "\n  ".join(faults)


def test_3_back_to_the_scenarios_fabric():
    plan = timed_converge("VNI 2 -> 1, vxlan-node3 from its reset")
    assert (plan["backend"], plan["vxlan_vni"]) == ("vxlan", 1)
    faults = vxlan_faults(plan, 1) + all_pairs_traffic(plan)
    assert not faults, "back on VNI 1:\n  " + "\n  ".join(faults)
