"""crosshost.fabric.fabric_vxlan against the real kernel, in network namespaces.

The lab (see conftest.py): h1 and h2 on one segment, h3 behind a router
namespace, each host with a "container" namespace on 10.244.N.0/24.
"""

import difflib
import json
import os
import shutil
import stat
import sys

import pytest

PROTO = "244"

# ---------------------------------------------------------------------------
# The fabric lab: three hosts, two on one segment, one behind a router.
#
#   c1 --- h1 --.                               .-- h2 --- c2
#               +--- br0 (lan namespace) -------+
#               '--- r (router) --- h3 --- c3
#
# Underlay: 192.0.2.0/24 (h1 .1, h2 .2, r .254), 198.51.100.0/24 (r .254, h3 .3).
# Host N's container subnet 10.244.N.0/24: hN has .1 on "cbr0", cN has .2.
# All addresses exist only inside these namespaces.
# ---------------------------------------------------------------------------

_PING = r"""
import os, socket, struct, sys, time
dst = sys.argv[1]
ident = os.getpid() & 0xFFFF
def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF
body = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"crosshost-fabric"
body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(1.0)
sock.sendto(body, (dst, 0))
deadline = time.time() + 1.0
while time.time() < deadline:
    try:
        data, addr = sock.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (data[0] & 0x0F) * 4
    kind, _code, _sum, rid, _seq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
    if kind == 0 and rid == ident and addr[0] == dst:
        sys.exit(0)
sys.exit(1)
"""

HOSTS = {
    1: {"public": "192.0.2.1", "mac": "0e:5a:00:00:01:00"},
    2: {"public": "192.0.2.2", "mac": "0e:5a:00:00:02:00"},
    3: {"public": "198.51.100.3", "mac": "0e:5a:00:00:03:00"},
}


class Fabric:
    def __init__(self, lab):
        self.lab = lab
        self.host = {}
        self.container = {}
        lan = lab.netns("lan")
        lab.ex(lan, "ip", "link", "add", "br0", "type", "bridge")
        lab.ex(lan, "ip", "link", "set", "br0", "up")
        router = lab.netns("r")
        self.router = router
        lab.sysctl(router, "net.ipv4.ip_forward", 1)
        lab.veth(router, "eth0", lan, "p-r")
        lab.ex(lan, "ip", "link", "set", "p-r", "master", "br0")
        lab.ex(router, "ip", "addr", "add", "192.0.2.254/24", "dev", "eth0")
        for n in (1, 2, 3):
            h = lab.netns("h%d" % n)
            c = lab.netns("c%d" % n)
            self.host[n] = h
            self.container[n] = c
            lab.sysctl(h, "net.ipv4.ip_forward", 1)
            if n in (1, 2):
                lab.veth(h, "eth0", lan, "p-h%d" % n)
                lab.ex(lan, "ip", "link", "set", "p-h%d" % n, "master", "br0")
                lab.ex(h, "ip", "addr", "add", "%s/24" % HOSTS[n]["public"], "dev", "eth0")
                lab.ex(h, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.254")
            else:
                lab.veth(router, "eth1", h, "eth0")
                lab.ex(router, "ip", "addr", "add", "198.51.100.254/24", "dev", "eth1")
                lab.ex(h, "ip", "addr", "add", "198.51.100.3/24", "dev", "eth0")
                lab.ex(h, "ip", "route", "add", "192.0.2.0/24", "via", "198.51.100.254")
            lab.veth(h, "cbr0", c, "eth0")
            lab.ex(h, "ip", "addr", "add", "10.244.%d.1/24" % n, "dev", "cbr0")
            lab.ex(c, "ip", "addr", "add", "10.244.%d.2/24" % n, "dev", "eth0")
            lab.ex(c, "ip", "route", "add", "default", "via", "10.244.%d.1" % n)

    def args(self, n, peers=None, direct=False, **extra):
        """Module arguments for host n (what the controller's planner would give)."""
        peers = [p for p in (peers or HOSTS) if p != n]
        args = {
            "device": "flannel.1",
            "vni": 1,
            "port": 8472,
            "local": HOSTS[n]["public"],
            "dev": "eth0",
            "mac": HOSTS[n]["mac"],
            "address": "10.244.%d.0/32" % n,
            "mtu": 1450,
            "route_protocol": 244,
            "neighbours": [{"dst": "10.244.%d.0" % p, "lladdr": HOSTS[p]["mac"]} for p in peers],
            "fdb": [{"lladdr": HOSTS[p]["mac"], "dst": HOSTS[p]["public"]} for p in peers],
            "routes": [],
            "checksum_offload_workaround": shutil.which("ethtool") is not None,
            "rp_filter": 2,
            "persist_dir": str(self.lab.tmp_path / ("persist-h%d" % n)),
        }
        for p in peers:
            route = {"dst": "10.244.%d.0/24" % p, "via": "10.244.%d.0" % p, "onlink": True}
            if direct:
                route["direct"] = {"via": HOSTS[p]["public"], "dev": "eth0"}
            args["routes"].append(route)
        args.update(extra)
        return args

    def ping(self, src, dst, tries=3):
        """ICMP echo from container src to container dst's address; True on a reply.

        A few lines of Python with a raw socket rather than ping(8), which a
        fresh machine may not have (iputils-ping is not in Debian's minbase).
        """
        for _ in range(tries):
            proc = self.lab.ex(self.container[src], sys.executable, "-c", _PING, "10.244.%d.2" % dst, check=False)
            if proc.returncode == 0:
                return True
        return False


@pytest.fixture
def fabric(lab):
    """The three-host lab; ``lab`` (conftest.py) deletes its namespaces afterwards."""
    return Fabric(lab)


def vxlan_info(lab, ns, device="flannel.1"):
    link = lab.json(ns, "ip", "-j", "-d", "link", "show", "dev", device)[0]
    return link, link["linkinfo"]["info_data"]


def neighbours(lab, ns, device="flannel.1"):
    return sorted(
        (n["dst"], n["lladdr"])
        for n in lab.json(ns, "ip", "-j", "neigh", "show", "dev", device)
        if "PERMANENT" in n.get("state", [])
    )


def fdb(lab, ns, device="flannel.1"):
    return sorted((e["mac"], e["dst"]) for e in lab.json(ns, "bridge", "-j", "fdb", "show", "dev", device))


def routes(lab, ns, proto=PROTO):
    return sorted(
        (r["dst"], r.get("gateway"), r["dev"], "onlink" in r.get("flags", []))
        for r in lab.json(ns, "ip", "-j", "route", "show", "table", "main", "proto", proto)
    )


def apply_all(fabric, **kw):
    return {n: fabric.lab.module(fabric.host[n], fabric.args(n, **kw)) for n in HOSTS}


def test_first_apply_builds_everything_and_traffic_flows(fabric):
    lab = fabric.lab
    results = apply_all(fabric)
    for n, result in results.items():
        assert result["changed"] is True
        assert result["link_rebuilt"] is None
        h = fabric.host[n]
        link, info = vxlan_info(lab, h)
        assert link["address"] == HOSTS[n]["mac"]
        assert link["mtu"] == 1450
        assert "UP" in link["flags"]
        assert info["id"] == 1
        assert info["port"] == 8472
        assert info["local"] == HOSTS[n]["public"]
        assert info["link"] == "eth0"
        assert info["learning"] is False
        addrs = lab.json(h, "ip", "-j", "-4", "addr", "show", "dev", "flannel.1")[0]["addr_info"]
        assert [(a["local"], a["prefixlen"]) for a in addrs] == [("10.244.%d.0" % n, 32)]
        peers = [p for p in HOSTS if p != n]
        assert neighbours(lab, h) == sorted(("10.244.%d.0" % p, HOSTS[p]["mac"]) for p in peers)
        # nolearning device without a remote: the kernel adds no all-zero entry,
        # so the FDB holds exactly the module's entries.
        assert fdb(lab, h) == sorted((HOSTS[p]["mac"], HOSTS[p]["public"]) for p in peers)
        assert routes(lab, h) == sorted(("10.244.%d.0/24" % p, "10.244.%d.0" % p, "flannel.1", True) for p in peers)
        rp = lab.ex(h, "cat", "/proc/sys/net/ipv4/conf/flannel.1/rp_filter").stdout.strip()
        assert rp == "2"
        if shutil.which("ethtool"):
            features = lab.ex(h, "ethtool", "-k", "flannel.1").stdout
            assert "tx-checksumming: off" in features
        # flannel's order for each peer: neighbour, fdb, route
        batch = result["batch"]
        for p in peers:
            i_neigh = next(i for i, c in enumerate(batch) if c.startswith("ip neigh replace 10.244.%d.0 " % p))
            i_fdb = next(i for i, c in enumerate(batch) if c.startswith("bridge fdb replace %s " % HOSTS[p]["mac"]))
            i_route = next(i for i, c in enumerate(batch) if c.startswith("ip route replace 10.244.%d.0/24 " % p))
            assert i_neigh < i_fdb < i_route
        script = os.path.join(fabric.args(n)["persist_dir"], "flannel.1.sh")
        assert result["script"] == script
        assert os.stat(script).st_mode & stat.S_IXUSR

    before = lab.json(fabric.host[1], "ip", "-j", "-s", "link", "show", "flannel.1")[0]
    for src, dst in ((1, 2), (1, 3), (3, 2), (2, 3)):
        assert fabric.ping(src, dst), "no reply from container %d to container %d" % (src, dst)
    after = lab.json(fabric.host[1], "ip", "-j", "-s", "link", "show", "flannel.1")[0]
    # the traffic really went through the VTEP (there is no other route)
    assert after["stats64"]["tx"]["packets"] > before["stats64"]["tx"]["packets"]

    # second run with the same arguments: nothing to do, no batch
    for n in HOSTS:
        again = lab.module(fabric.host[n], fabric.args(n))
        assert again["changed"] is False
        assert again["batch"] == []
        assert all(v == [] for v in again["added"].values())
        assert all(v == [] for v in again["removed"].values())


def test_removing_a_peer_removes_exactly_its_entries(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    apply_all(fabric)
    # foreign state that must survive: a route with another protocol, a route
    # of another protocol through the VTEP itself, a permanent neighbour on
    # another device
    lab.ex(h1, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.254", "proto", "static")
    lab.ex(h1, "ip", "route", "add", "10.99.0.0/16", "via", "10.244.2.0", "dev", "flannel.1", "onlink", "proto", "123")
    lab.ex(h1, "ip", "neigh", "add", "192.0.2.77", "lladdr", "02:00:00:00:00:77", "dev", "eth0", "nud", "permanent")

    result = lab.module(h1, fabric.args(1, peers=[1, 2]))
    assert result["changed"] is True
    script = result["script"]
    assert result["added"] == {
        "link": [],
        "neighbours": [],
        "fdb": [],
        "routes": [],
        "settings": ["boot script %s" % script],  # the script follows the desired state
    }
    assert "10.244.3.0" not in open(script).read()
    assert result["removed"]["neighbours"] == ["10.244.3.0 lladdr %s dev flannel.1 nud permanent" % HOSTS[3]["mac"]]
    assert result["removed"]["fdb"] == ["%s dev flannel.1 dst 198.51.100.3 self permanent" % HOSTS[3]["mac"]]
    assert result["removed"]["routes"] == ["10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 244"]
    assert result["removed"]["link"] == [] and result["removed"]["settings"] == []
    assert sorted(result["batch"]) == sorted(
        [
            "ip route del 10.244.3.0/24 proto 244 table main metric 0",
            "ip neigh del 10.244.3.0 dev flannel.1",
            "bridge fdb del %s dev flannel.1 dst 198.51.100.3 self" % HOSTS[3]["mac"],
        ]
    )

    assert neighbours(lab, h1) == [("10.244.2.0", HOSTS[2]["mac"])]
    assert fdb(lab, h1) == [(HOSTS[2]["mac"], "192.0.2.2")]
    assert routes(lab, h1) == [("10.244.2.0/24", "10.244.2.0", "flannel.1", True)]
    assert routes(lab, h1, "static") == [("203.0.113.0/24", "192.0.2.254", "eth0", False)]
    assert routes(lab, h1, "123") == [("10.99.0.0/16", "10.244.2.0", "flannel.1", True)]
    assert neighbours(lab, h1, "eth0") == [("192.0.2.77", "02:00:00:00:00:77")]
    assert fabric.ping(1, 2)

    again = lab.module(h1, fabric.args(1, peers=[1, 2]))
    assert again["changed"] is False and again["batch"] == []


def test_stale_owned_state_is_cleaned_and_foreign_route_conflict_refused(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.module(h1, fabric.args(1))
    # stale owned things: a proto-244 route left by another backend, a
    # neighbour with a wrong MAC, an FDB entry with a per-entry port (vxlan
    # keeps one remote per unicast MAC: "append" is for the all-zero flood
    # entry only), an FDB entry of a gone peer
    lab.ex(h1, "ip", "route", "add", "10.244.50.0/24", "via", "192.0.2.2", "proto", PROTO)
    lab.ex(
        h1,
        "ip",
        "neigh",
        "replace",
        "10.244.2.0",
        "lladdr",
        "0e:5a:00:00:99:99",
        "dev",
        "flannel.1",
        "nud",
        "permanent",
    )
    lab.ex(
        h1,
        "bridge",
        "fdb",
        "replace",
        HOSTS[2]["mac"],
        "dev",
        "flannel.1",
        "dst",
        "192.0.2.2",
        "port",
        "4789",
        "self",
        "permanent",
    )
    lab.ex(
        h1, "bridge", "fdb", "add", "0e:5a:00:00:50:00", "dev", "flannel.1", "dst", "192.0.2.50", "self", "permanent"
    )
    result = lab.module(h1, fabric.args(1))
    assert result["changed"] is True
    assert result["removed"]["routes"] == ["10.244.50.0/24 via 192.0.2.2 dev eth0 proto 244"]
    assert result["added"]["neighbours"] == ["10.244.2.0 lladdr %s dev flannel.1 nud permanent" % HOSTS[2]["mac"]]
    assert sorted(result["removed"]["fdb"]) == sorted(
        [
            "%s dev flannel.1 dst 192.0.2.2 port 4789 self permanent" % HOSTS[2]["mac"],
            "0e:5a:00:00:50:00 dev flannel.1 dst 192.0.2.50 self permanent",
        ]
    )
    assert fdb(lab, h1) == sorted((HOSTS[p]["mac"], HOSTS[p]["public"]) for p in (2, 3))
    assert ("10.244.2.0", HOSTS[2]["mac"]) in neighbours(lab, h1)
    again = lab.module(h1, fabric.args(1))
    assert again["changed"] is False, again

    # a route of another protocol in a desired route's place is not replaced
    lab.ex(h1, "ip", "route", "del", "10.244.3.0/24", "proto", PROTO)
    lab.ex(h1, "ip", "route", "add", "10.244.3.0/24", "via", "192.0.2.254", "proto", "static")
    failed = lab.module(h1, fabric.args(1), expect_fail=True)
    assert "10.244.3.0/24" in failed["msg"] and "static" in failed["msg"]
    assert routes(lab, h1, "static") == [("10.244.3.0/24", "192.0.2.254", "eth0", False)]


def test_wrong_vni_rebuilds_the_device(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.ex(
        h1,
        "ip",
        "link",
        "add",
        "flannel.1",
        "type",
        "vxlan",
        "id",
        "9",
        "local",
        "192.0.2.1",
        "dev",
        "eth0",
        "dstport",
        "8472",
        "nolearning",
    )
    lab.ex(h1, "ip", "link", "set", "flannel.1", "up")
    old_index = vxlan_info(lab, h1)[0]["ifindex"]
    result = lab.module(h1, fabric.args(1))
    assert result["changed"] is True
    assert "vni 9 != 1" in result["link_rebuilt"]
    assert result["batch"][0] == "ip link del dev flannel.1"
    link, info = vxlan_info(lab, h1)
    assert info["id"] == 1 and link["ifindex"] != old_index
    assert link["address"] == HOSTS[1]["mac"]
    assert len(neighbours(lab, h1)) == 2 and len(fdb(lab, h1)) == 2 and len(routes(lab, h1)) == 2
    again = lab.module(h1, fabric.args(1))
    assert again["changed"] is False, again

    # learning switched on by hand: rebuilt as well
    lab.ex(h1, "ip", "link", "set", "flannel.1", "type", "vxlan", "learning")
    result = lab.module(h1, fabric.args(1))
    assert result["link_rebuilt"] == "learning on"
    assert vxlan_info(lab, h1)[1]["learning"] is False


def test_mtu_and_address_are_fixed_in_place(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.module(h1, fabric.args(1))
    index = vxlan_info(lab, h1)[0]["ifindex"]
    lab.ex(h1, "ip", "link", "set", "flannel.1", "mtu", "1400")
    lab.ex(h1, "ip", "addr", "add", "10.244.77.0/32", "dev", "flannel.1")
    result = lab.module(h1, fabric.args(1))
    assert result["changed"] is True and result["link_rebuilt"] is None
    assert result["batch"] == [
        "ip link set dev flannel.1 mtu 1450",
        "ip addr del 10.244.77.0/32 dev flannel.1",
    ]
    link, _info = vxlan_info(lab, h1)
    assert link["ifindex"] == index and link["mtu"] == 1450
    assert len(routes(lab, h1)) == 2


def test_check_mode_reports_exactly_the_deleted_neighbour(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.module(h1, fabric.args(1))
    lab.ex(h1, "ip", "neigh", "del", "10.244.3.0", "dev", "flannel.1")
    missing = "neigh 10.244.3.0 lladdr %s dev flannel.1 nud permanent" % HOSTS[3]["mac"]

    result = lab.module(h1, fabric.args(1), check=True, diff=True)
    assert result["changed"] is True
    assert result["batch"] == ["ip neigh replace " + missing[len("neigh ") :]]
    state_diff = result["diff"][0]
    changes = [
        line
        for line in difflib.unified_diff(
            state_diff["before"].splitlines(), state_diff["after"].splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changes == ["+" + missing]
    assert len(result["diff"]) == 1  # boot script unchanged
    # check mode changed nothing
    assert ("10.244.3.0", HOSTS[3]["mac"]) not in neighbours(lab, h1)

    # the same through the real ansible CLI (AnsiballZ, --check --diff)
    via_cli = lab.ansible(h1, fabric.args(1), check=True, diff=True)
    assert via_cli["changed"] is True
    assert via_cli["batch"] == result["batch"]
    assert ("10.244.3.0", HOSTS[3]["mac"]) not in neighbours(lab, h1)

    fixed = lab.ansible(h1, fabric.args(1))
    assert fixed["changed"] is True
    assert ("10.244.3.0", HOSTS[3]["mac"]) in neighbours(lab, h1)
    assert lab.ansible(h1, fabric.args(1))["changed"] is False


def test_direct_routing_same_segment_direct_behind_router_tunnel(fabric):
    lab = fabric.lab
    results = apply_all(fabric, direct=True)
    assert results[1]["route_choice"] == {"10.244.2.0/24": "direct", "10.244.3.0/24": "tunnel"}
    assert results[2]["route_choice"] == {"10.244.1.0/24": "direct", "10.244.3.0/24": "tunnel"}
    assert results[3]["route_choice"] == {"10.244.1.0/24": "tunnel", "10.244.2.0/24": "tunnel"}
    assert routes(lab, fabric.host[1]) == [
        ("10.244.2.0/24", "192.0.2.2", "eth0", False),
        ("10.244.3.0/24", "10.244.3.0", "flannel.1", True),
    ]
    vtep_tx = lab.json(fabric.host[1], "ip", "-j", "-s", "link", "show", "flannel.1")[0]
    assert fabric.ping(1, 2) and fabric.ping(2, 1)
    after_direct = lab.json(fabric.host[1], "ip", "-j", "-s", "link", "show", "flannel.1")[0]
    # h1 <-> h2 went around the tunnel
    assert after_direct["stats64"]["tx"]["packets"] == vtep_tx["stats64"]["tx"]["packets"]
    assert fabric.ping(1, 3) and fabric.ping(3, 2)
    after_tunnel = lab.json(fabric.host[1], "ip", "-j", "-s", "link", "show", "flannel.1")[0]
    assert after_tunnel["stats64"]["tx"]["packets"] > vtep_tx["stats64"]["tx"]["packets"]
    for n in HOSTS:
        again = lab.module(fabric.host[n], fabric.args(n, direct=True))
        assert again["changed"] is False and again["batch"] == []

    # switching direct routing off turns the direct route back into the tunnel route
    result = lab.module(fabric.host[1], fabric.args(1))
    assert result["batch"] == ["ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 244"]
    assert fabric.ping(1, 2)


def test_boot_script_restores_the_state(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    script = apply_all(fabric)[1]["script"]
    lab.ex(h1, "ip", "link", "del", "flannel.1")  # a reboot, as far as the fabric goes
    assert routes(lab, h1) == []
    lab.ex(h1, "sh", script)
    lab.ex(h1, "sh", script)  # idempotent
    result = lab.module(h1, fabric.args(1))
    assert result["changed"] is False, result["batch"]
    assert fabric.ping(1, 3)


def test_state_absent_cleans_up(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.module(h1, fabric.args(1, direct=True))
    assert routes(lab, h1)[0][2] == "eth0"  # a direct route, not through the VTEP
    lab.ex(h1, "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.254", "proto", "static")
    args = {"state": "absent", "persist_dir": fabric.args(1)["persist_dir"]}

    check = lab.module(h1, args, check=True)
    assert check["changed"] is True
    assert lab.ex(h1, "ip", "link", "show", "flannel.1", check=False).returncode == 0

    result = lab.module(h1, args)
    assert result["changed"] is True
    assert lab.ex(h1, "ip", "link", "show", "flannel.1", check=False).returncode != 0
    assert routes(lab, h1) == []
    assert routes(lab, h1, "static") == [("203.0.113.0/24", "192.0.2.254", "eth0", False)]
    assert not os.path.exists(os.path.join(args["persist_dir"], "flannel.1.sh"))
    again = lab.module(h1, args)
    assert again["changed"] is False and again["batch"] == []


def test_bad_input_is_refused_before_touching_anything(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    bad = fabric.args(1)
    bad["neighbours"][0]["dst"] = "10.244.2.0\nlink del dev eth0"
    failed = lab.module(h1, bad, expect_fail=True)
    assert "neighbours[].dst" in failed["msg"]
    assert lab.ex(h1, "ip", "link", "show", "flannel.1", check=False).returncode != 0
    failed = lab.module(h1, fabric.args(1, route_protocol=4), expect_fail=True)
    assert "route_protocol" in failed["msg"]


@pytest.mark.skipif(shutil.which("ethtool") is None, reason="ethtool not installed")
def test_checksum_offload_is_reapplied_when_turned_back_on(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.module(h1, fabric.args(1, checksum_offload_workaround=True))
    lab.ex(h1, "ethtool", "-K", "flannel.1", "tx", "on")
    lab.ex(h1, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/conf/flannel.1/rp_filter")
    result = lab.module(h1, fabric.args(1, checksum_offload_workaround=True))
    assert result["batch"] == [
        "ethtool -K flannel.1 tx off",
        "echo 2 > /proc/sys/net/ipv4/conf/flannel.1/rp_filter",
    ]
    assert sorted(result["added"]["settings"]) == ["flannel.1 rp_filter 2", "flannel.1 tx-checksumming off"]
    assert "tx-checksumming: off" in lab.ex(h1, "ethtool", "-k", "flannel.1").stdout


# ---------------------------------------------------------------------------
# Executed order and honest `changed` (issue 13's surviving mutants)
# ---------------------------------------------------------------------------

_SHIM = """#!/bin/sh
# Logs each run of {tool} (and what a batch reads on stdin) to {log}, then runs the real one.
echo "== {tool} $*" >> '{log}'
for last; do :; done
if [ "$last" = "-" ]; then
    tee -a '{log}' | '{real}' "$@"
    exit $?
fi
exec '{real}' "$@"
"""


def shim_path(tmp_path):
    """A PATH whose ip and bridge log every run to tmp_path/exec.log (the executed order)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "exec.log"
    for tool in ("ip", "bridge"):
        real = shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
        (shim / tool).write_text(_SHIM.format(tool=tool, log=log, real=real))
        (shim / tool).chmod(0o755)
    return "%s:%s" % (shim, os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")), log


def test_entries_are_applied_neighbours_then_fdb_then_routes(fabric, tmp_path):
    """The order the kernel sees, not the reported batch: a route never precedes its FDB entry."""
    path, log = shim_path(tmp_path)
    result = fabric.lab.module(fabric.host[1], fabric.args(1), env={"PATH": path})
    assert result["changed"] is True
    executed = log.read_text().splitlines()
    assert any(line.startswith("== ip ") for line in executed), "the shim was not used"
    neigh = [i for i, line in enumerate(executed) if line.startswith("neigh replace ")]
    fdb_ = [i for i, line in enumerate(executed) if line.startswith("fdb replace ")]
    route = [i for i, line in enumerate(executed) if line.startswith("route replace ")]
    assert len(neigh) == len(fdb_) == len(route) == 2, executed
    assert max(neigh) < min(fdb_) and max(fdb_) < min(route), executed
    assert fabric.ping(1, 2) is False  # h2 has no fabric yet: nothing to reply through
    fabric.lab.module(fabric.host[2], fabric.args(2))
    assert fabric.ping(1, 2)


def test_a_boot_script_change_alone_is_a_change(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    script = lab.module(h1, fabric.args(1))["script"]
    content = open(script).read()
    os.unlink(script)
    check = lab.module(h1, fabric.args(1), check=True)
    assert check["changed"] is True and check["batch"] == []
    assert check["added"]["settings"] == ["boot script %s" % script]
    assert not os.path.exists(script)  # check mode wrote nothing
    result = lab.module(h1, fabric.args(1))
    assert result["changed"] is True and result["batch"] == []
    assert open(script).read() == content
    with open(script, "a") as handle:
        handle.write("# edited by hand\n")
    assert lab.module(h1, fabric.args(1))["changed"] is True
    assert open(script).read() == content
    again = lab.module(h1, fabric.args(1))
    assert again["changed"] is False, again


# ---------------------------------------------------------------------------
# Fail closed (issue 6 items 8 and 9)
# ---------------------------------------------------------------------------


def link_state(lab, ns):
    """What must not change when the module refuses: the VTEP, its entries, every route."""
    link = lab.json(ns, "ip", "-j", "-d", "link", "show")
    return (
        sorted((d["ifname"], d["ifindex"], d.get("address")) for d in link),
        neighbours(lab, ns),
        fdb(lab, ns),
        sorted(json.dumps(r, sort_keys=True) for r in lab.json(ns, "ip", "-4", "-j", "route", "show", "table", "all")),
    )


@pytest.mark.parametrize(
    "change, word",
    [
        ({"mac": "01:00:5e:00:00:01"}, "mac"),
        ({"mac": "00:00:00:00:00:00"}, "mac"),
        ({"mac": "ff:ff:ff:ff:ff:ff"}, "mac"),
        ({"local": "224.0.0.1"}, "local"),
        ({"local": "0.0.0.0"}, "local"),
        ({"local": "255.255.255.255"}, "local"),
        ({"dev": "nosuch0"}, "nosuch0"),
        ({"mtu": 1480}, "mtu 1480"),
    ],
)
def test_a_rebuild_that_cannot_work_is_refused_and_the_vtep_kept(fabric, change, word):
    lab = fabric.lab
    apply_all(fabric)
    h1 = fabric.host[1]
    before = link_state(lab, h1)
    failed = lab.module(h1, fabric.args(1, **change), expect_fail=True)
    assert word in failed["msg"]
    assert link_state(lab, h1) == before
    assert fabric.ping(1, 2) and fabric.ping(1, 3)


def test_a_failed_rebuild_puts_the_old_vtep_back(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    apply_all(fabric)
    # Another VXLAN device holds VNI 7 on port 8472: the kernel refuses a second one
    # (EEXIST), which no validation of the module's own options can foresee.
    lab.ex(h1, "ip", "link", "add", "vx-other", "type", "vxlan", "id", "7", "dstport", "8472", "nolearning")
    before = link_state(lab, h1)
    failed = lab.module(h1, fabric.args(1, vni=7), expect_fail=True)
    assert "put back" in failed["msg"], failed["msg"]
    after = link_state(lab, h1)
    # the same device again (a new ifindex), with the same address, entries and routes
    assert [(n, mac) for n, _i, mac in after[0]] == [(n, mac) for n, _i, mac in before[0]]
    assert after[1:] == before[1:]
    assert vxlan_info(lab, h1)[1]["id"] == 1
    assert fabric.ping(1, 2) and fabric.ping(1, 3)
    lab.ex(h1, "ip", "link", "del", "vx-other")
    again = lab.module(h1, fabric.args(1))
    assert again["changed"] is False, again


def test_a_route_to_everything_is_refused_and_the_default_route_kept(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.ex(h1, "ip", "route", "add", "default", "via", "192.0.2.254")
    args = fabric.args(1)
    args["routes"].append({"dst": "0.0.0.0/0", "via": "10.244.2.0", "onlink": True})
    failed = lab.module(h1, args, expect_fail=True)
    assert "0.0.0.0/0" in failed["msg"]
    default = [r for r in lab.json(h1, "ip", "-j", "route", "show", "default")]
    assert [(r["gateway"], r["dev"], r.get("protocol", "boot")) for r in default] == [("192.0.2.254", "eth0", "boot")]
    assert lab.ex(h1, "ip", "link", "show", "flannel.1", check=False).returncode != 0  # nothing was built
