"""The planner's own output drives the host-side modules: planner and modules proved together,
without Ansible roles or molecule.

A small inventory of three hosts goes through ``planner.build_plan``; each host's part of the plan
(``planner.vxlan_state`` and ``planner.firewall_state``, the functions behind the roles' filters)
is handed unchanged to ``fabric_vxlan`` and ``fabric_firewall`` inside that host's network
namespace. Like Docker on a real host, every host namespace has its FORWARD policy set to DROP.

  c1 --- h1 --.
  c2 --- h2 ---+--- br0 (lan namespace) --- out (a machine outside the fabric)
  c3 --- h3 --'

Underlay 192.0.2.0/24 (h1..h3 .11..13, out .100); container cN has the address after its host's
gateway (the planner's ``gateway``, docker0's bip). All addresses exist only inside these
namespaces, and none has a default route out of them.

Proved: every container reaches every other one, unmasqueraded (the server sees the client
container's own address), over flannel.1; a container reaching the outside machine is masqueraded
to its host's address (the outside machine has no route back to the cluster network); without the
firewall part (negative control) the DROP policy stops container traffic; a second apply of the
same plan changes nothing; a host added to the inventory gets a new subnet, the others keep theirs,
and their re-apply adds exactly the new peer (and opens their front door to it).
"""

import json
import os
import subprocess
import sys
import time

import ansible_cli
import netaddr
import pytest

from test_fabric_security import docker_rules

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: network namespaces and iptables")

SETTINGS = planner.Settings(network="10.244.0.0/16", subnet_len=24)
PUBLIC = {"h1": "192.0.2.11", "h2": "192.0.2.12", "h3": "192.0.2.13", "h4": "192.0.2.14"}
OUTSIDE = "192.0.2.100"
PORT = 5555

# A UDP server that answers each datagram with the source address it saw.
SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(512)
    s.sendto(addr[0].encode(), addr)
"""

# Ask a server who we are: prints the address it saw, exits 1 without an answer in ~3 s.
CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
for _ in range(3):
    s.sendto(b"who am i", (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recvfrom(512)[0].decode())
        sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)
"""


def inventory(names):
    return [planner.HostInput(n, public_ip=PUBLIC[n], iface="eth0", iface_mtu=1500) for n in names]


class PlannedFabric:
    """Namespaces for the hosts of a plan, their containers and one outside machine."""

    def __init__(self, lab, collections_root):
        self.lab = lab
        self.collections_root = collections_root
        self.host, self.container, self.servers = {}, {}, []
        self.lan = lab.netns("lan")
        lab.ex(self.lan, "ip", "link", "add", "br0", "type", "bridge")
        lab.ex(self.lan, "ip", "link", "set", "br0", "up")
        self.outside = lab.netns("out")
        self._wire(self.outside, "p-out")
        lab.ex(self.outside, "ip", "addr", "add", OUTSIDE + "/24", "dev", "eth0")
        self.serve(self.outside)

    def _wire(self, ns, port):
        self.lab.veth(ns, "eth0", self.lan, port)
        self.lab.ex(self.lan, "ip", "link", "set", port, "master", "br0")

    def add_host(self, name, me):
        """Host namespace with its underlay address, and a container behind the plan's gateway."""
        lab = self.lab
        h, c = lab.netns(name), lab.netns("c" + name[1:])
        self.host[name], self.container[name] = h, c
        lab.sysctl(h, "net.ipv4.ip_forward", 1)
        # The rules Docker 20.10 writes for docker0, FORWARD policy DROP included: the fabric's
        # accepts are bound to its own devices and docker0, and Docker accepts what leaves docker0.
        lab.ex(h, "iptables-restore", "--noflush", data=docker_rules("20.10", []))
        self._wire(h, "p-" + name)
        lab.ex(h, "ip", "addr", "add", me["public_ip"] + "/24", "dev", "eth0")
        subnet = netaddr.IPNetwork(me["subnet"])
        lab.veth(h, "docker0", c, "eth0")
        lab.ex(h, "ip", "addr", "add", "%s/%d" % (me["gateway"], subnet.prefixlen), "dev", "docker0")
        lab.ex(c, "ip", "link", "set", "eth0", "mtu", str(me["mtu"]))  # docker0's mtu from the plan
        lab.ex(c, "ip", "addr", "add", "%s/%d" % (self.address(me), subnet.prefixlen), "dev", "eth0")
        lab.ex(c, "ip", "route", "add", "default", "via", me["gateway"])
        self.serve(c)

    @staticmethod
    def address(me):
        return str(netaddr.IPAddress(me["gateway"]) + 1)

    def serve(self, ns):
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, str(PORT)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        self.servers.append(proc)

    def stop(self):
        for proc in self.servers:
            proc.kill()
            proc.wait()

    def seen_as(self, src_name, dst_addr):
        """The address dst_addr's server saw for a datagram from src_name's container; None: no answer."""
        proc = self.lab.ex(self.container[src_name], sys.executable, "-c", CLIENT, dst_addr, str(PORT), check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def apply(self, plan, name, check=False):
        """The planner's output for host name, unchanged, to both modules inside its namespace."""
        vx = planner.vxlan_state(plan, name)
        vx = dict(vx, persist_dir=str(self.lab.tmp_path / ("persist-" + name)))
        vxlan = self.lab.module(self.host[name], vx, check=check)
        fw = dict(planner.firewall_state(plan, name), persist_file=str(self.lab.tmp_path / ("rules-" + name)))
        firewall = ansible_cli.run_module(self.host[name], "crosshost.fabric.fabric_firewall", fw,
                                          self.collections_root, check=check,
                                          local_tmp=self.lab.tmp_path / "ansible-tmp")
        assert not firewall.get("failed"), firewall
        return vxlan, firewall


@pytest.fixture
def planned(lab, collections_root):
    fabric = PlannedFabric(lab, collections_root)
    try:
        yield fabric
    finally:
        fabric.stop()


def traffic_faults(fabric, plan):
    faults = []
    for src, me in sorted(plan["hosts"].items()):
        for dst, peer in sorted(plan["hosts"].items()):
            if src == dst:
                continue
            seen = fabric.seen_as(src, fabric.address(peer))
            if seen != fabric.address(me):
                faults.append("%s -> %s: server saw %s, expected %s" % (src, dst, seen, fabric.address(me)))
        seen = fabric.seen_as(src, OUTSIDE)
        if seen != me["public_ip"]:
            faults.append("%s -> outside: seen as %s, expected %s (masqueraded)" % (src, seen, me["public_ip"]))
    return faults


def tx_packets(lab, ns, dev):
    (link,) = lab.json(ns, "ip", "-j", "-s", "link", "show", "dev", dev)
    return int(link["stats64"]["tx"]["packets"])


def test_the_plan_for_three_hosts_drives_both_modules_to_a_working_fabric(lab, planned, tmp_path):
    started = time.monotonic()
    plan, leases = planner.build_plan(SETTINGS, inventory(["h1", "h2", "h3"]))
    assert {h["mtu"] for h in plan["hosts"].values()} == {1450}
    for name, me in plan["hosts"].items():
        planned.add_host(name, me)

    # Negative control: the VXLAN part alone, and Docker's DROP policy stops container traffic.
    for name in plan["hosts"]:
        vx = dict(planner.vxlan_state(plan, name), persist_dir=str(tmp_path / ("persist-" + name)))
        assert lab.module(planned.host[name], vx)["changed"] is True
    assert planned.seen_as("h1", planned.address(plan["hosts"]["h2"])) is None

    # Check mode first: it reports the firewall change and makes none.
    for name in plan["hosts"]:
        vxlan, firewall = planned.apply(plan, name, check=True)
        assert vxlan["changed"] is False and firewall["changed"] is True, (vxlan, firewall)
    assert planned.seen_as("h1", planned.address(plan["hosts"]["h2"])) is None

    for name in plan["hosts"]:
        vxlan, firewall = planned.apply(plan, name)
        assert vxlan["changed"] is False and firewall["changed"] is True, (vxlan, firewall)
    before = {n: tx_packets(lab, planned.host[n], "flannel.1") for n in plan["hosts"]}
    faults = traffic_faults(planned, plan)
    assert not faults, "traffic on the planned fabric:\n  " + "\n  ".join(faults)
    for name in plan["hosts"]:  # container traffic between hosts went through the tunnel
        assert tx_packets(lab, planned.host[name], "flannel.1") >= before[name] + 2, name

    # The same plan again: nothing to do.
    for name in plan["hosts"]:
        vxlan, firewall = planned.apply(plan, name)
        assert vxlan["changed"] is False and firewall["changed"] is False, (vxlan, firewall)

    # h4 joins: a new subnet; the others keep theirs and their re-apply adds exactly the new peer.
    plan2, leases2 = planner.build_plan(SETTINGS, inventory(["h1", "h2", "h3", "h4"]), leases)
    for name in ("h1", "h2", "h3"):
        assert plan2["hosts"][name]["subnet"] == plan["hosts"][name]["subnet"]
    new = plan2["hosts"]["h4"]
    assert new["subnet"] not in {h["subnet"] for h in plan["hosts"].values()}
    planned.add_host("h4", new)
    for name in ("h1", "h2", "h3"):
        vxlan, firewall = planned.apply(plan2, name)
        # The front door (FABRIC-INPUT) now accepts the overlay port from the new peer too.
        assert vxlan["changed"] is True and firewall["changed"] is True, (vxlan, firewall)
        assert "-s %s/32 -p udp" % new["public_ip"] in json.dumps(firewall), firewall
        added = sorted(line for line in vxlan["batch"] if new["vtep_mac"] in line or new["subnet"] in line
                       or new["vtep_ip"] + " " in line)
        assert len(vxlan["batch"]) == 3 and len(added) == 3, vxlan["batch"]
    planned.apply(plan2, "h4")
    faults = traffic_faults(planned, plan2)
    assert not faults, "traffic after h4 joined:\n  " + "\n  ".join(faults)
    print("planner -> modules, 3 then 4 hosts: %.1f s" % (time.monotonic() - started))
    assert json.loads(json.dumps(plan2))  # the plan stays plain JSON, as the roles receive it
