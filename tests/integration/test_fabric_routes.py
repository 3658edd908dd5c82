"""crosshost.fabric.fabric_routes (host-gw's module) against the real kernel, in namespaces.

The lab of test_fabric_vxlan.py: h1 and h2 on one segment, h3 behind a router,
a "container" namespace behind each host. Also the switch between the two
backends at module level: vxlan -> host-gw -> vxlan, in the order the roles use.
"""

import json
import os

import pytest
from test_fabric_vxlan import HOSTS, Fabric, routes, vxlan_info

ROUTES = "ansible_collections.crosshost.fabric.plugins.modules.fabric_routes"


@pytest.fixture
def fabric(lab):
    return Fabric(lab)


def gw_args(fabric, n, peers=(1, 2), **extra):
    """host-gw arguments for host n: a route to each peer's subnet via its public IP."""
    args = {
        "route_protocol": 244,
        "cluster_network": "10.244.0.0/16",
        "local_subnet": "10.244.%d.0/24" % n,
        "require_adjacent": True,
        "routes": [
            {"dst": "10.244.%d.0/24" % p, "via": HOSTS[p]["public"], "dev": "eth0", "peer": "h%d" % p}
            for p in peers
            if p != n
        ],
        "persist_file": str(fabric.lab.tmp_path / ("h%d-routes.sh" % n)),
    }
    args.update(extra)
    return args


def gw(fabric, n, args, **kw):
    return fabric.lab.module(fabric.host[n], args, module=ROUTES, **kw)


def table(lab, ns):
    """Every route, link and rule of a host: what a refusal must leave as it was."""
    return (
        sorted(json.dumps(r, sort_keys=True) for r in lab.json(ns, "ip", "-4", "-j", "route", "show", "table", "all")),
        sorted((d["ifname"], d["ifindex"]) for d in lab.json(ns, "ip", "-j", "link", "show")),
        sorted(json.dumps(r, sort_keys=True) for r in lab.json(ns, "ip", "-j", "rule", "show")),
    )


def test_host_gw_routes_carry_traffic_and_converge(fabric):
    lab = fabric.lab
    results = {n: gw(fabric, n, gw_args(fabric, n)) for n in (1, 2)}
    assert results[1]["changed"] is True
    assert results[1]["batch"] == ["route replace 10.244.2.0/24 via 192.0.2.2 dev eth0 proto 244"]
    assert routes(lab, fabric.host[1]) == [("10.244.2.0/24", "192.0.2.2", "eth0", False)]
    assert fabric.ping(1, 2) and fabric.ping(2, 1)
    script = results[1]["script"]
    assert "route replace 10.244.2.0/24 via 192.0.2.2 dev eth0 proto 244" in open(script).read()
    assert os.stat(script).st_mode & 0o111

    again = gw(fabric, 1, gw_args(fabric, 1), check=True)
    assert again["changed"] is False and again["batch"] == []
    assert again["diff"][0]["before"] == again["diff"][0]["after"]

    # a reboot as far as routes go: the script alone brings them back, the module then finds nothing to do
    lab.ex(fabric.host[1], "ip", "route", "flush", "proto", "244")
    assert not fabric.ping(1, 2, tries=1)
    lab.ex(fabric.host[1], "sh", script)
    assert gw(fabric, 1, gw_args(fabric, 1))["changed"] is False
    assert fabric.ping(1, 2)


def test_a_peer_behind_a_router_is_refused_by_name_and_nothing_changes(fabric):
    lab = fabric.lab
    h1 = fabric.host[1]
    before = table(lab, h1)
    failed = gw(fabric, 1, gw_args(fabric, 1, peers=(1, 2, 3)), expect_fail=True)
    assert "198.51.100.3 (h3)" in failed["msg"] and "via gateway 192.0.2.254" in failed["msg"]
    assert "fabric_vxlan_direct_routing" in failed["msg"]
    assert "(h2)" not in failed["msg"]  # h2 is adjacent: not named
    assert table(lab, h1) == before
    assert not os.path.exists(gw_args(fabric, 1)["persist_file"])
    # check mode refuses the same way (the role's precondition task)
    failed = gw(fabric, 1, gw_args(fabric, 1, peers=(1, 2, 3)), check=True, expect_fail=True)
    assert failed["not_adjacent"] and table(lab, h1) == before


@pytest.mark.parametrize("module", ["fabric_routes", "fabric_vxlan"])
@pytest.mark.parametrize(
    "dst, word",
    [("0.0.0.0/0", "covers every address"), ("192.0.2.0/24", "not inside the cluster network"),
     ("10.244.1.0/25", "own subnet"), ("10.244.0.0/16", "own subnet")],
)
def test_routes_that_are_not_the_fabrics_are_refused(fabric, module, dst, word):
    """Both modules that own tagged routes refuse, before any change, a route that is not the fabric's."""
    lab = fabric.lab
    h1 = fabric.host[1]
    lab.ex(h1, "ip", "route", "add", "default", "via", "192.0.2.254")
    if module == "fabric_vxlan":
        args = fabric.args(1, cluster_network="10.244.0.0/16", local_subnet="10.244.1.0/24")
        lab.module(h1, args)
        args["routes"].append({"dst": dst, "via": "10.244.2.0", "onlink": True})
        refuse = dict(args=args)
    else:
        args = gw_args(fabric, 1)
        args["routes"].append({"dst": dst, "via": "192.0.2.2", "dev": "eth0"})
        refuse = dict(args=args, module=ROUTES)
    before = table(lab, h1)
    failed = lab.module(h1, expect_fail=True, **refuse)
    assert word in failed["msg"] and dst in failed["msg"]
    assert table(lab, h1) == before


def test_absent_removes_routes_and_script_or_only_the_script(fabric):
    lab = fabric.lab
    args = gw_args(fabric, 1)
    gw(fabric, 1, args)
    lab.ex(fabric.host[1], "ip", "route", "add", "203.0.113.0/24", "via", "192.0.2.254", "proto", "static")
    keep = gw(fabric, 1, {"state": "absent", "purge_routes": False, "persist_file": args["persist_file"]})
    assert keep["changed"] is True and keep["batch"] == [] and keep["script_changed"] is True
    assert not os.path.exists(args["persist_file"])
    assert routes(lab, fabric.host[1]) == [("10.244.2.0/24", "192.0.2.2", "eth0", False)]
    gone = gw(fabric, 1, {"state": "absent", "persist_file": args["persist_file"]})
    assert gone["batch"] == ["route del 10.244.2.0/24 proto 244 table main metric 0"]
    assert routes(lab, fabric.host[1]) == []
    assert routes(lab, fabric.host[1], "static") == [("203.0.113.0/24", "192.0.2.254", "eth0", False)]
    assert gw(fabric, 1, {"state": "absent", "persist_file": args["persist_file"]})["changed"] is False


def test_switch_vxlan_to_host_gw_and_back_in_the_roles_order(fabric):
    """New backend first (its routes replace the old ones in place), then the old one's absent pass."""
    lab = fabric.lab
    pair = (1, 2)
    for n in pair:
        lab.module(fabric.host[n], fabric.args(n, peers=pair))
    assert fabric.ping(1, 2)

    for n in pair:
        switched = gw(fabric, n, gw_args(fabric, n))
        peer = 3 - n
        want = "route replace 10.244.%d.0/24 via %s dev eth0 proto 244" % (peer, HOSTS[peer]["public"])
        assert switched["batch"] == [want]
    assert fabric.ping(1, 2)
    for n in pair:
        lab.module(fabric.host[n], {"state": "absent", "purge_routes": False,
                                    "persist_dir": fabric.args(n)["persist_dir"]})
        assert lab.ex(fabric.host[n], "ip", "link", "show", "flannel.1", check=False).returncode != 0
        assert not os.path.exists(os.path.join(fabric.args(n)["persist_dir"], "flannel.1.sh"))
    assert routes(lab, fabric.host[1]) == [("10.244.2.0/24", "192.0.2.2", "eth0", False)]
    assert fabric.ping(1, 2) and fabric.ping(2, 1)

    # and back: vxlan first (its routes replace host-gw's), then host-gw's absent pass
    for n in pair:
        lab.module(fabric.host[n], fabric.args(n, peers=pair))
    assert routes(lab, fabric.host[1]) == [("10.244.2.0/24", "10.244.2.0", "flannel.1", True)]
    for n in pair:
        gone = gw(fabric, n, {"state": "absent", "purge_routes": False,
                              "persist_file": gw_args(fabric, n)["persist_file"]})
        assert gone["batch"] == []
        assert not os.path.exists(gw_args(fabric, n)["persist_file"])
    assert routes(lab, fabric.host[1]) == [("10.244.2.0/24", "10.244.2.0", "flannel.1", True)]
    assert fabric.ping(1, 2) and fabric.ping(2, 1)
    assert vxlan_info(lab, fabric.host[1])[1]["id"] == 1


def test_direct_routes_go_direct_to_an_adjacent_peer_and_by_the_given_gateway_otherwise(fabric):
    """fabric_routes with routes[].direct (DirectRouting, shared with fabric_vxlan): the given route
    for the peer behind the router, the direct one for the adjacent peer, decided by the kernel."""
    lab = fabric.lab
    args = gw_args(fabric, 1, require_adjacent=False)
    args["routes"] = [
        {"dst": "10.244.%d.0/24" % p, "via": "192.0.2.254", "dev": "eth0", "peer": "h%d" % p,
         "direct": {"via": HOSTS[p]["public"], "dev": "eth0"}}
        for p in (2, 3)
    ]
    result = gw(fabric, 1, args)
    assert result["route_choice"] == {"10.244.2.0/24": "direct", "10.244.3.0/24": "tunnel"}
    assert routes(lab, fabric.host[1]) == [
        ("10.244.2.0/24", "192.0.2.2", "eth0", False),
        ("10.244.3.0/24", "192.0.2.254", "eth0", False),
    ]
    gw(fabric, 2, gw_args(fabric, 2))  # the way back
    assert fabric.ping(1, 2)
    assert gw(fabric, 1, args)["changed"] is False
