"""The fabric's front door and forward rules against hostile underlay hosts (issue 6, items
12 and 13; issue 14), on the real kernel and iptables, in network namespaces.

Two fabric nodes (namespaces ``n1``, ``n2``) share an underlay bridge with an outsider (``out``),
a host of the same segment that is not in the fabric. Behind each node a container namespace
sits on a bridge named ``docker0`` in the node's subnet. Each node gets exactly what the
collection gives it: the planner's ``vxlan_state`` and ``firewall_state`` for that node,
applied by the ``fabric_vxlan`` and ``fabric_firewall`` modules.

Each node first carries the rules a Docker engine leaves behind, loaded with
iptables-restore, for two engines (the ``engine`` parameter):

- ``20.10`` (Debian 12's docker.io): FORWARD policy DROP, DOCKER-USER jumped first,
  DOCKER-ISOLATION, the docker0 accepts.
- ``28`` (Debian unstable's docker.io 28.5): the same policy, FORWARD -> DOCKER-USER,
  DOCKER-FORWARD (DOCKER-CT, DOCKER-ISOLATION-STAGE-1, DOCKER-BRIDGE, ``-i docker0 -j ACCEPT``),
  the DOCKER chain ending ``! -i docker0 -o docker0 -j DROP``, and raw PREROUTING
  ``-d <container>/32 ! -i docker0 -j DROP`` per container (moby #49792, #49829). This is a
  faithful stand-in for the engine's ruleset: the filter table is, chain for chain and rule for
  rule, the one Docker 28.5.2 wrote on a lab node (the sid node image), the raw rule the one
  issue 14 quotes from such a node; the kernel evaluates them exactly as it would Docker's own.
  The molecule ``vxlan`` scenario runs the same proofs on the real engines.

What must hold on both: the containers reach each other both ways through the tunnel; the
outsider's hand-made VXLAN frames (its own vxlan device, the right VNI, the node's VTEP MAC) to
a container get no reply and are counted by the front door's DROP; an underlay neighbour that
routes the cluster network via a node reaches no container, neither that node's nor, through
its tunnel, the other's; and all of it still holds after a Docker restart re-inserts Docker's
jumps above the fabric's (without re-running the modules).
"""

import json
import os
import subprocess
import sys

import pytest
from test_fabric_vxlan import _PING

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, Settings

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: network namespaces and iptables"),
]

WIRE = "192.168.90.0/24"
NODES = {"n1": "192.168.90.11", "n2": "192.168.90.12"}
OUTSIDER = "192.168.90.66"


def docker_rules(engine, containers):
    """iptables-restore input with the rules the given Docker engine writes for docker0."""
    if engine == "20.10":
        return "\n".join([
            "*filter",
            ":FORWARD DROP [0:0]",
            ":DOCKER - [0:0]",
            ":DOCKER-ISOLATION-STAGE-1 - [0:0]",
            ":DOCKER-ISOLATION-STAGE-2 - [0:0]",
            ":DOCKER-USER - [0:0]",
            "-A FORWARD -j DOCKER-USER",
            "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
            "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A FORWARD -o docker0 -j DOCKER",
            "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
            "-A FORWARD -i docker0 -o docker0 -j ACCEPT",
            "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
            "-A DOCKER-ISOLATION-STAGE-1 -j RETURN",
            "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
            "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
            "-A DOCKER-USER -j RETURN",
            "COMMIT",
        ]) + "\n"
    raw = ["-A PREROUTING -d %s/32 ! -i docker0 -j DROP" % ip for ip in containers]
    return "\n".join([
        "*raw",
        *raw,
        "COMMIT",
        "*filter",
        ":FORWARD DROP [0:0]",
        ":DOCKER - [0:0]",
        ":DOCKER-BRIDGE - [0:0]",
        ":DOCKER-CT - [0:0]",
        ":DOCKER-FORWARD - [0:0]",
        ":DOCKER-ISOLATION-STAGE-1 - [0:0]",
        ":DOCKER-ISOLATION-STAGE-2 - [0:0]",
        ":DOCKER-USER - [0:0]",
        "-A FORWARD -j DOCKER-USER",
        "-A FORWARD -j DOCKER-FORWARD",
        "-A DOCKER ! -i docker0 -o docker0 -j DROP",
        "-A DOCKER-BRIDGE -o docker0 -j DOCKER",
        "-A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A DOCKER-FORWARD -j DOCKER-CT",
        "-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "-A DOCKER-FORWARD -j DOCKER-BRIDGE",
        "-A DOCKER-FORWARD -i docker0 -j ACCEPT",
        "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
        "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
        "COMMIT",
    ]) + "\n"


def docker_restart(lab, ns, engine, containers):
    """What a `systemctl restart docker` does to the rules (the fabric's modules do not run):
    Docker re-inserts its jumps at the top of FORWARD, and on 28 re-adds its raw drops."""
    lab.ex(ns, "iptables", "-D", "FORWARD", "-j", "DOCKER-USER")
    lab.ex(ns, "iptables", "-I", "FORWARD", "1", "-j", "DOCKER-USER")
    if engine == "28":
        lab.ex(ns, "iptables", "-D", "FORWARD", "-j", "DOCKER-FORWARD")
        lab.ex(ns, "iptables", "-I", "FORWARD", "2", "-j", "DOCKER-FORWARD")
        for ip in containers:
            lab.ex(ns, "iptables", "-t", "raw", "-D", "PREROUTING", "-d", ip + "/32", "!", "-i", "docker0",
                   "-j", "DROP")
            lab.ex(ns, "iptables", "-t", "raw", "-A", "PREROUTING", "-d", ip + "/32", "!", "-i", "docker0",
                   "-j", "DROP")


def run_module(lab, ns, name, args):
    """A collection module run the way Ansible runs it (args file, JSON out), inside ``ns``."""
    path = lab.tmp_path / ("args-%s-%s-%d.json" % (ns, name, len(list(lab.tmp_path.iterdir()))))
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(lab.collections_root))
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m",
         "ansible_collections.crosshost.fabric.plugins.modules." + name, str(path)],
        capture_output=True, text=True, env=env, check=False, timeout=120)
    result = json.loads(proc.stdout)
    assert not result.get("failed"), result
    return result


class Segment:
    def __init__(self, lab, engine):
        self.lab = lab
        self.engine = engine
        self.ns = {}
        self.ctr = {}
        hosts = [HostInput(name, public_ip=ip, iface="eth0", public_net=WIRE, iface_mtu=1500)
                 for name, ip in NODES.items()]
        self.plan, _ = planner.build_plan(Settings(), hosts)
        wire = lab.netns("wire")
        lab.ex(wire, "ip", "link", "add", "br0", "type", "bridge")
        lab.ex(wire, "ip", "link", "set", "br0", "up")
        for name, ip in list(NODES.items()) + [("out", OUTSIDER)]:
            ns = lab.netns(name)
            self.ns[name] = ns
            lab.veth(ns, "eth0", wire, "p-" + name)
            lab.ex(wire, "ip", "link", "set", "p-" + name, "master", "br0")
            lab.ex(ns, "ip", "addr", "add", ip + "/24", "dev", "eth0")
            for key in ("all", "default", "eth0"):
                lab.sysctl(ns, "net.ipv4.conf.%s.rp_filter" % key, 0)
        self.containers = {}
        for name in NODES:
            me = self.plan["hosts"][name]
            node = self.ns[name]
            ctr = lab.netns("c" + name)
            self.ctr[name] = ctr
            ip = me["gateway"].rsplit(".", 1)[0] + ".2"
            self.containers[name] = ip
            lab.ex(node, "ip", "link", "add", "docker0", "type", "bridge")
            lab.ex(node, "ip", "addr", "add", "%s/24" % me["gateway"], "dev", "docker0")
            lab.ex(node, "ip", "link", "set", "docker0", "up")
            lab.veth(node, "veth-" + name, ctr, "eth0")
            lab.ex(node, "ip", "link", "set", "veth-" + name, "master", "docker0")
            lab.ex(ctr, "ip", "addr", "add", ip + "/24", "dev", "eth0")
            lab.ex(ctr, "ip", "route", "add", "default", "via", me["gateway"])
            lab.sysctl(node, "net.ipv4.ip_forward", 1)
            lab.ex(node, "iptables-restore", "--noflush", data=docker_rules(engine, [ip]))
            # count what reaches the container from anybody
            lab.ex(ctr, "iptables", "-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request")

    def converge(self):
        for name in NODES:
            vx = planner.vxlan_state(self.plan, name)
            vx.update(persist=False)
            run_module(self.lab, self.ns[name], "fabric_vxlan", vx)
            fw = planner.firewall_state(self.plan, name, self.engine)
            run_module(self.lab, self.ns[name], "fabric_firewall", {"chains": fw["chains"], "persist": False})

    def ping(self, ns, dst, tries=2):
        for _ in range(tries):
            if self.lab.ex(ns, sys.executable, "-c", _PING, dst, check=False).returncode == 0:
                return True
        return False

    def echo_requests_seen(self, name):
        out = self.lab.ex(self.ctr[name], "iptables", "-L", "INPUT", "-v", "-x", "-n").stdout.splitlines()
        return int(out[2].split()[0])

    def front_door_drops(self, name):
        out = self.lab.ex(self.ns[name], "iptables", "-L", "FABRIC-INPUT", "-v", "-x", "-n", check=False)
        if out.returncode != 0:
            return 0
        return sum(int(line.split()[0]) for line in out.stdout.splitlines()[2:] if " DROP " in line)

    def outsider_vtep(self, target, inner_src):
        """The outsider's own VTEP, VNI and port of the fabric, pointed at ``target``'s VTEP MAC:
        a route to target's container through it, sourced from ``inner_src``."""
        out = self.ns["out"]
        me = self.plan["hosts"][target]
        self.lab.ex(out, "ip", "link", "add", "vx-evil", "type", "vxlan", "id", str(self.plan["vxlan_vni"]),
                    "dstport", str(self.plan["vxlan_port"]), "local", OUTSIDER, "dev", "eth0", "nolearning")
        self.lab.ex(out, "ip", "link", "set", "vx-evil", "up")
        for key in ("vx-evil",):
            self.lab.sysctl(out, "net.ipv4.conf.%s.rp_filter" % key, 0)
        if inner_src != OUTSIDER:
            self.lab.ex(out, "ip", "addr", "add", inner_src + "/32", "dev", "vx-evil")
        self.lab.ex(out, "ip", "neigh", "add", me["vtep_ip"], "lladdr", me["vtep_mac"], "dev", "vx-evil",
                    "nud", "permanent")
        self.lab.ex(out, "bridge", "fdb", "append", me["vtep_mac"], "dev", "vx-evil", "dst", NODES[target])
        self.lab.ex(out, "ip", "route", "replace", self.containers[target] + "/32", "via", me["vtep_ip"],
                    "dev", "vx-evil", "onlink", "src", inner_src)

    def outsider_cleanup(self):
        self.lab.ex(self.ns["out"], "ip", "link", "del", "vx-evil", check=False)
        self.lab.ex(self.ns["out"], "ip", "route", "flush", "10.244.0.0/16", check=False)


@pytest.fixture(params=["20.10", "28"])
def segment(lab, request):
    return Segment(lab, request.param)


def test_fabric_traffic_flows_both_ways(segment):
    """Issue 14: 0 of 6 pings passed on Docker 28 before; the nodes' own traffic must flow."""
    segment.converge()
    assert segment.ping(segment.ctr["n1"], segment.containers["n2"]), "container n1 -> container n2 failed"
    assert segment.ping(segment.ctr["n2"], segment.containers["n1"]), "container n2 -> container n1 failed"


def test_vxlan_injection_gets_no_reply_and_is_counted(segment):
    """Issue 6, item 12: the outsider's own VXLAN device, the fabric's VNI and port, node n1's
    VTEP MAC; inner source its own address (so that the container's reply could come straight
    back), then a peer's container subnet (no reply possible, but it must not arrive either)."""
    seg = segment
    seg.converge()
    c1 = seg.containers["n1"]
    seen = seg.echo_requests_seen("n1")
    drops = seg.front_door_drops("n1")
    seg.outsider_vtep("n1", OUTSIDER)
    assert not seg.ping(seg.ns["out"], c1), "the outsider's VXLAN frame reached container n1 and got a reply"
    assert seg.echo_requests_seen("n1") == seen, "the outsider's VXLAN frame reached container n1"
    assert seg.front_door_drops("n1") > drops, "the front door did not count the outsider's frames"
    seg.outsider_cleanup()
    seg.outsider_vtep("n1", "10.244.2.77")
    seg.ping(seg.ns["out"], c1, tries=1)
    assert seg.echo_requests_seen("n1") == seen, "a VXLAN frame spoofing a peer's subnet reached container n1"
    # the peers' own traffic still flows
    assert seg.ping(seg.ctr["n2"], c1)


def test_underlay_neighbour_routing_via_a_node_reaches_no_container(segment):
    """Issue 6, item 13 (and issue 14's proof on 28): the outsider routes the cluster network via
    n1: neither n1's container nor, through n1's tunnel, n2's answers or even sees the packets."""
    seg = segment
    seg.converge()
    seg.lab.ex(seg.ns["out"], "ip", "route", "add", "10.244.0.0/16", "via", NODES["n1"])
    seen = {name: seg.echo_requests_seen(name) for name in NODES}
    assert not seg.ping(seg.ns["out"], seg.containers["n1"]), "an underlay neighbour reached container n1 via n1"
    assert not seg.ping(seg.ns["out"], seg.containers["n2"]), \
        "an underlay neighbour reached container n2 through n1's tunnel"
    assert {name: seg.echo_requests_seen(name) for name in NODES} == seen


def test_docker_restart_keeps_the_rules_effective(segment):
    """Docker restarts and puts its jumps back on top of FORWARD (and, on 28, its raw drops
    back); the fabric's modules do not run: traffic flows, outsiders stay out."""
    seg = segment
    seg.converge()
    c1, c2 = seg.containers["n1"], seg.containers["n2"]
    for name in NODES:
        docker_restart(seg.lab, seg.ns[name], seg.engine, [seg.containers[name]])
    assert seg.ping(seg.ctr["n1"], c2), "container n1 -> container n2 failed after a Docker restart"
    assert seg.ping(seg.ctr["n2"], c1), "container n2 -> container n1 failed after a Docker restart"
    seen = seg.echo_requests_seen("n1")
    seg.outsider_vtep("n1", OUTSIDER)
    assert not seg.ping(seg.ns["out"], c1), "VXLAN injection works after a Docker restart"
    seg.outsider_cleanup()
    seg.lab.ex(seg.ns["out"], "ip", "route", "add", "10.244.0.0/16", "via", NODES["n1"])
    assert not seg.ping(seg.ns["out"], c1), "direct routing works after a Docker restart"
    assert seg.echo_requests_seen("n1") == seen
