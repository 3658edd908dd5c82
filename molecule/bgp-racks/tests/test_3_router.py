"""The top-of-rack routers (reflectors without containers) across a reboot and a reset (issue 11).

prepare.yml turned IPv4 forwarding off on racks-tor-a (a fresh Linux router has it off; the lab's
routers run Docker, which turned it on at boot and set the FORWARD policy to DROP) and took a
snapshot of both routers before the first site.yml (the default scenario's files/snapshot.sh).

Reboot: `docker restart racks-tor-a`. With no Ansible run, the router's boot unit restores its rules
before Docker starts, forwarding is on (the collection's sysctl file), its sessions and routes come back, and the
FORWARD policy is DROP as the collection found it: the sysctl file turns forwarding on before Docker
starts, and Docker then leaves the policy ACCEPT, more open than before the fabric.

Reset: `reset.yml --check --limit fabric_route_reflectors` changes nothing on the routers; then
`reset.yml --limit fabric_route_reflectors` gives each router back as it was before the first
site.yml: forwarding off again on racks-tor-a (on on racks-tor-b), the record of the forwarding gone,
BIRD stopped and disabled, the collection's rules, unit, script and files gone. Only what any reboot
renews by itself may differ on the restarted router (docker0's MAC address, the embedded DNS rules'
ports). The scenario's last test (destroy follows): the fabric hosts are not reset here.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import time

import pytest
from bgp_lab import bird_routes, wait_sessions
from fabric_lab import SNAPSHOT_BEFORE, SNAPSHOT_SCRIPT, boot_unit_faults, node, run_playbook, wait_until_booted

ROUTER = "racks-tor-a"  # forwarding off before the first site.yml (prepare.yml)
ROUTERS = ["racks-tor-a", "racks-tor-b"]
ROUTER_UNIT = "crosshost-fabric-bgp-router.service"
RECORD = "/etc/crosshost-fabric/forward-before.conf"
LIMIT = ("--limit", "fabric_route_reflectors")


def ip_forward(host) -> str:
    return host.check_output("cat /proc/sys/net/ipv4/ip_forward").strip()


def forward_policy(host) -> str:
    return host.check_output("iptables -w -S FORWARD").splitlines()[0]


# What a reboot renews by itself, whatever the collection does: docker0's MAC address and the
# embedded DNS rules' ports (as molecule/host-gw's tests/test_4_restart.py).
DOCKER0_MAC = re.compile(r"^(docker0\s+\S+\s+)[0-9a-f]{2}(:[0-9a-f]{2}){5}")
DNS_PORT = re.compile(r"(127\.0\.0\.11:|--sport )[0-9]+")


def renewed(text: str) -> list[str]:
    lines = [DOCKER0_MAC.sub(r"\1<docker0 MAC>", line) for line in text.splitlines()]
    return [
        DNS_PORT.sub(r"\1<port>", line) if line.startswith(("-A DOCKER_OUTPUT ", "-A DOCKER_POSTROUTING ")) else line
        for line in lines
    ]


def snapshots() -> dict[str, list[str]]:
    return {name: renewed(node(name).check_output(SNAPSHOT_SCRIPT)) for name in ROUTERS}


@pytest.fixture(scope="module")
def restarted():
    """The router restarted; what its kernel routed (proto bird) before."""
    host = node(ROUTER)
    assert ip_forward(host) == "1", "the router does not forward before the restart"
    routes = {dst: r.get("gateway") for dst, r in bird_routes(host).items()}
    assert routes, "the router routes no subnet before the restart"
    subprocess.run(["docker", "restart", ROUTER], check=True, capture_output=True, timeout=180)
    wait_until_booted(ROUTER)
    return routes


def test_the_router_forwards_again_after_a_reboot_with_its_rules_restored_before_docker(restarted):
    host = node(ROUTER)
    faults = boot_unit_faults(host, [ROUTER_UNIT])
    if ip_forward(host) != "1":
        faults.append(f"net.ipv4.ip_forward is {ip_forward(host)} after the reboot")
    if "-j FABRIC-FORWARD" not in host.check_output("iptables -w -S"):
        faults.append("no jump to FABRIC-FORWARD after the reboot")
    states = wait_sessions(host, want_established=True, timeout=90)
    faults += [f"BGP: {line}" for line in states.values() if "Established" not in line]
    routes: dict = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        routes = {dst: r.get("gateway") for dst, r in bird_routes(host).items()}
        if routes == restarted:
            break
        time.sleep(0.5)
    if routes != restarted:
        faults.append(f"proto bird routes {routes}, before the restart {restarted}")
    assert states and not faults, "\n".join(faults)


def test_the_router_forward_policy_is_drop_after_a_reboot_as_the_fabric_found_it(restarted):
    host = node(ROUTER)
    assert ":FORWARD DROP []" in host.check_output(f"cat {SNAPSHOT_BEFORE}").splitlines()
    assert forward_policy(host) == "-P FORWARD DROP", "the fabric left the router's FORWARD more open than it found it"


def test_a_reset_in_check_mode_changes_nothing_on_the_routers(restarted):
    before = snapshots()
    missing = [name for name in ROUTERS if not node(name).file(RECORD).exists]
    assert not missing, f"{RECORD}: no record of the router's forwarding before the fabric on {missing}"
    rc, out = run_playbook("playbooks/reset.yml", "--check", *LIMIT)
    assert rc == 0, out[-6000:]
    after = snapshots()
    diffs = [
        f"--- {name}\n" + "\n".join(difflib.unified_diff(before[name], after[name], "before", "after", lineterm=""))
        for name in ROUTERS
        if before[name] != after[name]
    ]
    assert not diffs, "reset.yml --check changed the routers:\n" + "\n".join(diffs)
    assert all(node(name).file(RECORD).exists for name in ROUTERS), "reset.yml --check removed a record"


def test_a_reset_gives_each_router_back_as_before_the_first_site_yml(restarted):
    rc, out = run_playbook("playbooks/reset.yml", *LIMIT)
    assert rc == 0, out[-6000:]
    faults = []
    for name in ROUTERS:
        host = node(name)
        if host.file(RECORD).exists:
            faults.append(f"{name}: the record {RECORD} is left")
        if host.run("systemctl is-active bird").stdout.strip() == "active":
            faults.append(f"{name}: BIRD still runs")
    if ip_forward(node(ROUTER)) != "0":
        faults.append(f"{ROUTER}: net.ipv4.ip_forward is {ip_forward(node(ROUTER))}, it was 0 before the fabric")
    now = snapshots()
    for name in ROUTERS:
        was = renewed(node(name).check_output(f"cat {SNAPSHOT_BEFORE}"))
        if was != now[name]:
            diff = "\n".join(difflib.unified_diff(was, now[name], "before the first site.yml", "after the reset",
                                                  lineterm=""))
            faults.append(f"--- {name}\n{diff}")
    assert not faults, "reset.yml left the routers different from before the first site.yml:\n" + "\n".join(faults)
