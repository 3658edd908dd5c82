"""Checks of a converged fabric, made on each node the way a person would type them.

The inventory is hosts-only (no fabric_* variable), so the lease file and the plan are at their
defaults beside Molecule's inventory, and the documented defaults are proved on the nodes themselves
(test_documented_defaults_*). Other expected values come from the plan the collection wrote to
<inventory dir>/.fabric/plan.json:

    {"network": "10.244.0.0/16", "subnet_len": 24, "backend": "vxlan",
     "hosts": {"<inventory name>": {"public_ip": "...", "subnet": "10.244.1.0/24",
               "gateway": "10.244.1.1", "mtu": 1450, "iface": "eth0", "vtep_mac": "0e:..."}}}

A missing plan fails every test that needs it, loudly: no plan, no fabric.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
from check_recap import assert_check_mode_clean  # noqa: E402 - the check recap every scenario asserts

testinfra_hosts = ["ansible://fabric"]

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
# Defaults: fabric_lease_file and fabric_plan_dir beside the inventory (Molecule writes it in EPHEMERAL).
INVENTORY_DIR = pathlib.Path(INVENTORY).parent if INVENTORY else pathlib.Path(EPHEMERAL, "inventory")
PLAN_FILE = INVENTORY_DIR / ".fabric" / "plan.json"
LEASE_FILE = INVENTORY_DIR / ".fabric" / "leases.yml"
RECAP_FILE = pathlib.Path(EPHEMERAL, "check-recap.json")
PROBE = "fabric-verify-probe"


def load_plan() -> dict:
    if not EPHEMERAL:
        pytest.fail("MOLECULE_EPHEMERAL_DIRECTORY is not set: run these tests through molecule", pytrace=False)
    if not PLAN_FILE.is_file():
        pytest.fail(
            f"plan.json is missing: {PLAN_FILE}\n"
            "The collection must write its plan to its default fabric_plan_dir (beside the inventory)"
            " during converge.",
            pytrace=False,
        )
    try:
        plan = json.loads(PLAN_FILE.read_text(encoding="utf-8"))
    except ValueError as exc:
        pytest.fail(f"{PLAN_FILE} is not JSON: {exc}", pytrace=False)
    for key in ("network", "subnet_len", "backend", "hosts"):
        if key not in plan:
            pytest.fail(f"{PLAN_FILE} has no {key!r}", pytrace=False)
    return plan


@pytest.fixture(scope="module")
def plan() -> dict:
    return load_plan()


@pytest.fixture()
def node(host, plan) -> dict:
    """This node's entry in the plan, plus its name and subnet as an ip_network."""
    name = host.backend.get_hostname()
    assert name in plan["hosts"], f"{name} is not in the plan (planned: {sorted(plan['hosts'])})"
    entry = dict(plan["hosts"][name])
    entry["name"] = name
    entry["net"] = ipaddress.ip_network(entry["subnet"])
    entry["cidr"] = f"{entry['gateway']}/{entry['net'].prefixlen}"
    return entry


def fabric_hosts() -> list[str]:
    return sorted(AnsibleRunner(INVENTORY).get_hosts("fabric"))


# --- the plan itself ---------------------------------------------------------------------------


def test_plan_covers_the_inventory_with_distinct_subnets(plan):
    network = ipaddress.ip_network(plan["network"])
    assert plan["backend"] == "vxlan"
    assert sorted(plan["hosts"]) == fabric_hosts()
    subnets = [ipaddress.ip_network(h["subnet"]) for h in plan["hosts"].values()]
    assert len(set(subnets)) == len(subnets), f"subnets are not distinct: {[str(s) for s in subnets]}"
    for name, entry in plan["hosts"].items():
        subnet = ipaddress.ip_network(entry["subnet"])
        assert subnet.subnet_of(network), f"{name}: {subnet} is outside {network}"
        assert subnet.prefixlen == plan["subnet_len"], f"{name}: {subnet} is not a /{plan['subnet_len']}"
        assert ipaddress.ip_address(entry["gateway"]) in subnet, f"{name}: gateway outside {subnet}"
    for a in subnets:
        for b in subnets:
            assert a is b or not a.overlaps(b), f"{a} overlaps {b}"


# --- nothing set: the documented defaults, on the nodes ------------------------------------------

# README "Variables" (generated from plugins/plugin_utils/options.py): what a hosts-only inventory gets.
NETWORK = ipaddress.ip_network("10.244.0.0/16")
SUBNET_LEN = 24
VNI, PORT = 1, 8472
VXLAN_OVERHEAD = 50  # the MTU is the underlay's minus VXLAN's 50 bytes


def test_the_inventory_sets_no_fabric_variable():
    """The scenario is the "nothing set" case: hosts and the connection only."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in INVENTORY_DIR.rglob("*") if p.is_file()
                     and p.suffix in (".yml", ".yaml", "") and "fabric-" not in str(p) and ".fabric" not in p.parts)
    assert not re.findall(r"\bfabric_\w+\s*:", text), text
    assert LEASE_FILE.is_file(), f"no lease file at its default place {LEASE_FILE}"


def test_documented_defaults_network_cut_in_24s(host, node):
    out = host.check_output("ip -j -4 addr show docker0")
    (link,) = json.loads(out)
    (addr,) = [a for a in link["addr_info"] if a["family"] == "inet"]
    iface = ipaddress.ip_interface(f"{addr['local']}/{addr['prefixlen']}")
    assert iface.network.prefixlen == SUBNET_LEN and iface.network.subnet_of(NETWORK), iface
    assert iface.ip == next(iface.network.hosts()), f"docker0 {iface} is not its subnet's first address"


def test_documented_defaults_vxlan_vni_1_port_8472(host):
    (link,) = json.loads(host.check_output("ip -d -j link show flannel.%d" % VNI))
    info = link["linkinfo"]
    assert info["info_kind"] == "vxlan"
    assert info["info_data"]["id"] == VNI and info["info_data"]["port"] == PORT, info["info_data"]


def test_documented_defaults_mtu_from_the_underlay(host, node):
    # The underlay interface is the one holding the node's public IP.
    (link,) = json.loads(host.check_output("ip -j -4 addr show dev %s" % node["iface"]))
    assert node["public_ip"] in [a["local"] for a in link["addr_info"]], link
    underlay = link["mtu"]
    want = underlay - VXLAN_OVERHEAD
    assert int(host.check_output("cat /sys/class/net/flannel.%d/mtu" % VNI)) == want
    assert json.loads(host.file("/etc/docker/daemon.json").content_string)["mtu"] == want
    assert f"FLANNEL_MTU={want}" in host.file("/run/flannel/subnet.env").content_string


def test_documented_defaults_masquerade_on(host):
    nat = host.check_output("iptables -t nat -S")
    assert re.search(rf"^-A \S+ -s {NETWORK} ! -d 224.0.0.0/4 .*-j MASQUERADE", nat, re.M), nat
    assert json.loads(host.file("/etc/docker/daemon.json").content_string).get("ip-masq") is False
    assert "FLANNEL_IPMASQ=true" in host.file("/run/flannel/subnet.env").content_string


# --- on each node ------------------------------------------------------------------------------


def test_docker0_holds_exactly_the_gateway(host, node):
    out = host.check_output("ip -j addr show docker0")
    (link,) = json.loads(out)
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["family"] == "inet"]
    assert addrs == [node["cidr"]]


def test_daemon_json_keeps_vfs_and_has_bip_and_mtu(host, node):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon.get("storage-driver") == "vfs", "the lab's storage driver was lost from daemon.json"
    assert daemon.get("bip") == node["cidr"]
    assert daemon.get("mtu") == node["mtu"]


def test_flannel_subnet_env(host, node, plan):
    env = {}
    for line in host.file("/run/flannel/subnet.env").content_string.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            env[key] = value
    assert env == {
        "FLANNEL_NETWORK": plan["network"],
        "FLANNEL_SUBNET": node["cidr"],
        "FLANNEL_MTU": str(node["mtu"]),
        "FLANNEL_IPMASQ": "true",
    }


def test_workload_gets_an_address_in_the_node_subnet(host, node):
    out = host.check_output("docker run --rm busybox ip -4 -o addr show eth0")
    match = re.search(r"\binet (\S+)/(\d+)", out)
    assert match, f"no IPv4 address on the workload's eth0: {out!r}"
    assert ipaddress.ip_address(match.group(1)) in node["net"], f"{match.group(1)} is outside {node['subnet']}"
    assert int(match.group(2)) == node["net"].prefixlen


def test_checksum_offload_left_alone_on_a_fixed_kernel(host):
    # fabric_vxlan_checksum_offload_workaround is auto here: the lab's kernel (>= 5.7) has the fix
    # for flannel #1279 / calico #3145, so the VTEP keeps its offload (the vxlan scenario forces it off).
    kernel = host.check_output("uname -r")
    major, minor = (int(x) for x in kernel.split(".")[:2])
    assert (major, minor) >= (5, 7), f"this check assumes a fixed kernel, found {kernel}"
    out = host.check_output("ethtool -k flannel.1")
    assert "tx-checksum-ip-generic: on" in out, out


def test_workload_mtu_is_the_planned_mtu(host, node):
    out = host.check_output("docker run --rm busybox cat /sys/class/net/eth0/mtu")
    assert int(out) == node["mtu"]


# --- across nodes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probes(plan):
    """A busybox container on every node; yields {node name: probe address}, removes them after."""
    network = ipaddress.ip_network(plan["network"])
    hosts = {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY) for name in plan["hosts"]}
    addrs = {}
    try:
        for name, h in hosts.items():
            h.run(f"docker rm -f {PROBE}")
            h.check_output(f"docker run -d --name {PROBE} busybox sleep 600")
            addr = h.check_output(f"docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {PROBE}")
            # Only ever send packets to the lab's own containers.
            assert ipaddress.ip_address(addr) in network, f"{name}: probe address {addr} outside {network}"
            addrs[name] = addr
        yield addrs
    finally:
        for h in hosts.values():
            h.run(f"docker rm -f {PROBE}")


def test_workloads_reach_workloads_on_every_other_node(host, node, probes):
    unreachable = []
    for other, addr in sorted(probes.items()):
        if other == node["name"]:
            continue
        ping = host.run(f"docker exec {PROBE} ping -c 2 -W 2 {addr}")
        if ping.rc != 0:
            unreachable.append(f"{other} ({addr})")
    assert not unreachable, f"from the workload on {node['name']}, no answer from: {', '.join(unreachable)}"


# --- Molecule's check step ---------------------------------------------------------------------


def test_converge_in_check_mode_changed_nothing():
    """Changed, failed, ignored and unreachable results of `molecule check`: none."""
    assert_check_mode_clean(RECAP_FILE)


# --- bad input on a converged fabric -------------------------------------------------------------

# What a person would compare before and after a rejected run on each node.
SNAPSHOT = {
    "daemon.json": "cat /etc/docker/daemon.json",
    "subnet.env": "cat /run/flannel/subnet.env",
    "docker0": "ip -4 -o addr show docker0",
    "vtep": "ip -d -o link show flannel.1 | sed 's/ state [A-Z]* / /'",
    "neighbours": "ip neigh show dev flannel.1 nud permanent",
    "fdb": "bridge fdb show dev flannel.1",
    "routes": "ip route show proto 244",
    "nat": "iptables -t nat -S",
    "filter": "iptables -S",
    "docker started": "systemctl show -p ActiveEnterTimestampMonotonic docker",
}


def snapshot(hosts):
    return {name: {k: h.run(cmd).stdout for k, cmd in SNAPSHOT.items()} for name, h in hosts.items()}


@pytest.mark.parametrize(
    "extra,expect",
    [
        ({"fabric_network": "10.244.3.0/16"}, ["fabric_network 10.244.3.0/16 is not a network address"]),
        ({"fabric_public_ip": "192.0.2.1"},
         ["duplicate public IP 192.0.2.1 on hosts default-node1, default-node2, default-node3"]),
        ({"fabric_subnet_len": 31}, ["fabric_subnet_len /31 is longer than /30"]),
    ],
    ids=["host-bits", "duplicate-ip", "subnet-len"],
)
def test_bad_input_stops_site_yml_before_any_host_changes(extra, expect):
    root = pathlib.Path(__file__).resolve().parents[3]
    hosts = {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY) for name in fabric_hosts()}
    leases = LEASE_FILE
    leases_before = leases.read_bytes()
    before = snapshot(hosts)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(root / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(
        ["ansible-playbook", "-i", INVENTORY, str(root / "site.yml"), "-e", json.dumps(extra)],
        capture_output=True, text=True, env=env, cwd=str(root), timeout=600,
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode != 0, out
    for text in expect:
        assert text in out, out
    # A node may have no recap line at all: the preflight play on localhost stops inventory faults
    # before any node is in a play. Where a node has one, it changed nothing.
    for name in hosts:
        assert not re.search(rf"^{name}\s+:.*changed=[1-9]", out, re.M), f"{name} changed something:\n{out}"
    assert "TASK [crosshost.fabric.forward" not in out and "TASK [crosshost.fabric.vxlan" not in out
    assert leases.read_bytes() == leases_before
    assert snapshot(hosts) == before
