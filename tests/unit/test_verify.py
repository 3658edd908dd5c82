"""crosshost.fabric.verify's logic (issue 11 item 1): what each host must hold, the host-side checks
against kernel output (recorded `ip -j` / `bridge -j` output, fed through a fake `run`), the ping
parser, and the report: the matrix, exactly the failing pairs, and the likely cause of each.
The same code runs against real kernels in molecule/default (tests/test_x_verify.py)."""

import json

import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import health
from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner, verify
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, Settings


def three(backend="vxlan", **kw):
    hosts = [HostInput(name="n%d" % i, public_ip="192.0.2.1%d" % i, iface="eth0", public_net="192.0.2.0/24")
             for i in (1, 2, 3)]
    plan, _ = planner.build_plan(Settings(backend=backend, **kw), hosts)
    return plan


# --- what each host must hold ------------------------------------------------------------------


def test_verify_state_vxlan_names_every_peer_with_its_three_entries():
    plan = three()
    state = verify.verify_state(plan, "n1")
    assert state["backend"] == "vxlan" and state["source"] == "10.244.1.1" and state["device"] == "flannel.1"
    assert [p["name"] for p in state["peers"]] == ["n2", "n3"]
    n2 = state["peers"][0]
    assert n2["address"] == "10.244.2.1"
    assert n2["expect"]["neighbour"] == {"dst": "10.244.2.0", "lladdr": plan["hosts"]["n2"]["vtep_mac"]}
    assert n2["expect"]["fdb"] == {"lladdr": plan["hosts"]["n2"]["vtep_mac"], "dst": "192.0.2.12"}
    assert n2["expect"]["route"] == {"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1", "onlink": True}


def test_verify_state_hostgw_routes_via_the_peers_public_ip():
    state = verify.verify_state(three("host-gw"), "n3")
    assert state["device"] is None
    assert {p["name"]: p["expect"] for p in state["peers"]} == {
        "n1": {"route": {"dst": "10.244.1.0/24", "via": "192.0.2.11", "dev": "eth0"}},
        "n2": {"route": {"dst": "10.244.2.0/24", "via": "192.0.2.12", "dev": "eth0"}},
    }


def test_a_backend_without_a_check_is_probed_only(monkeypatch):
    monkeypatch.delitem(verify.EXPECT, "udp")
    state = verify.verify_state(three("udp"), "n1")
    assert [p["expect"] for p in state["peers"]] == [{}, {}]
    assert [p["address"] for p in state["peers"]] == ["10.244.2.1", "10.244.3.1"]


def test_verify_state_refuses_a_host_outside_the_plan():
    with pytest.raises(planner.PlanError, match="nx is not in the fabric plan"):
        verify.verify_state(three(), "nx")


# --- host side: the checks against kernel output ----------------------------------------------


def fake_run(outputs):
    """run(argv) answering from {command prefix: (rc, stdout, stderr)}."""

    def run(argv, data=None):
        cmd = " ".join(argv[1:])
        for prefix, answer in outputs.items():
            if cmd.startswith(prefix):
                return answer
        raise AssertionError("unexpected command %s" % cmd)

    return run


def kernel_of(plan, host, drop_neigh=None, fdb_dst=None, no_vtep=False, vtep_down=False):
    """The `ip -j` / `bridge -j` output of a host that holds exactly its plan, with one change."""
    state = planner.vxlan_state(plan, host)
    link = [{"ifname": "flannel.1", "flags": ["BROADCAST", "UP"] if not vtep_down else ["BROADCAST"],
             "address": state["mac"], "mtu": 1450, "addr_info": [],
             "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 1, "port": 8472}}}]
    neigh = [{"dst": n["dst"], "lladdr": n["lladdr"], "state": ["PERMANENT"]}
             for n in state["neighbours"] if n["dst"] != drop_neigh]
    neigh.append({"dst": "10.244.9.0", "lladdr": "0e:00:00:00:00:09", "state": ["FAILED"]})
    fdb = [{"mac": f["lladdr"], "dst": fdb_dst or f["dst"], "state": "permanent", "flags": ["self"]}
           for f in state["fdb"]]
    routes = [{"dst": r["dst"], "gateway": r["via"], "dev": r["dev"], "flags": ["onlink"], "protocol": "244"}
              for r in state["routes"]]
    return fake_run({
        "-j -d addr show dev flannel.1": (1, "", "Device \"flannel.1\" does not exist.") if no_vtep
        else (0, json.dumps(link), ""),
        "-j neigh show dev flannel.1": (0, json.dumps(neigh), ""),
        "-j fdb show dev flannel.1": (0, json.dumps(fdb), ""),
        "-4 -j route show table main proto 244": (0, json.dumps(routes), ""),
    })


TOOLS = {"ip": "ip", "bridge": "bridge"}


def host_check(plan, host, **kw):
    args = verify.verify_state(plan, host)
    return health.check(args["backend"], kernel_of(plan, host, **kw), TOOLS, args, args["peers"])


def test_vxlan_check_of_a_host_holding_its_plan_finds_nothing():
    assert host_check(three(), "n1") == ([], {"n2": [], "n3": []}, True)


def test_vxlan_check_names_the_missing_neighbour_entry_and_only_for_that_peer():
    plan = three()
    host_issues, per_peer, _ = host_check(plan, "n1", drop_neigh="10.244.2.0")
    assert host_issues == [] and per_peer["n3"] == []
    (item,) = per_peer["n2"]
    assert item["kind"] == health.MISSING
    assert "no permanent neighbour entry for n2's VTEP 10.244.2.0 lladdr %s on flannel.1" % (
        plan["hosts"]["n2"]["vtep_mac"]) == item["msg"]


def test_vxlan_check_names_a_wrong_fdb_destination():
    _, per_peer, _ = host_check(three(), "n1", fdb_dst="192.0.2.99")
    assert [i["kind"] for i in per_peer["n2"]] == [health.WRONG]
    assert "sends to 192.0.2.99, the plan says 192.0.2.12" in per_peer["n2"][0]["msg"]


def test_vxlan_check_without_the_vtep_is_a_host_issue():
    host_issues, per_peer, _ = host_check(three(), "n1", no_vtep=True)
    assert host_issues == [{"kind": health.DEVICE_MISSING, "msg": "the VTEP flannel.1 does not exist"}]
    assert per_peer == {"n2": [], "n3": []}
    host_issues, _, _ = host_check(three(), "n1", vtep_down=True)
    assert [i["kind"] for i in host_issues] == [health.DEVICE_DOWN]


def test_hostgw_check_names_a_missing_and_a_wrong_route():
    plan = three("host-gw")
    args = verify.verify_state(plan, "n1")
    routes = [{"dst": "10.244.2.0/24", "gateway": "192.0.2.99", "dev": "eth0", "protocol": "244"}]
    run = fake_run({"-4 -j route show table main proto 244": (0, json.dumps(routes), "")})
    host_issues, per_peer, checked = health.check("host-gw", run, TOOLS, args, args["peers"])
    assert checked and host_issues == []
    assert [i["kind"] for i in per_peer["n2"]] == [health.WRONG]
    assert [i["kind"] for i in per_peer["n3"]] == [health.MISSING]
    assert "no route to n3's subnet 10.244.3.0/24: the plan says via 192.0.2.13 dev eth0" == per_peer["n3"][0]["msg"]


def test_vxlan_direct_routing_accepts_the_direct_route():
    plan = three(vxlan_direct_routing=True)
    args = verify.verify_state(plan, "n1")
    assert args["peers"][0]["expect"]["route"]["direct"] == {"via": "192.0.2.12", "dev": "eth0"}
    routes = {"10.244.2.0/24": {"via": "192.0.2.12", "dev": "eth0", "onlink": False}}
    assert health._check_route(routes, args["peers"][0]["expect"]["route"], "n2") == []


def test_a_read_error_is_a_host_issue_not_a_crash():
    args = verify.verify_state(three(), "n1")
    run = fake_run({"-j -d addr show dev flannel.1": (1, "", "RTNETLINK answers: Operation not permitted")})
    host_issues, _, _ = health.check("vxlan", run, TOOLS, args, args["peers"])
    assert [i["kind"] for i in host_issues] == [health.READ_ERROR]


@pytest.mark.parametrize("rc,out,ok,received", [
    (0, "3 packets transmitted, 3 received, 0% packet loss", True, 3),
    (0, "3 packets transmitted, 1 received, 66% packet loss", True, 1),
    (1, "3 packets transmitted, 0 received, 100% packet loss", False, 0),
    (0, "3 packets transmitted, 3 packets received, 0% packet loss", True, 3),  # busybox
    (2, "ping: bind: Cannot assign requested address", False, 0),
])
def test_parse_ping(rc, out, ok, received):
    assert health.parse_ping(rc, out) == {"ok": ok, "received": received}


def test_probe_all_pings_every_peer_from_the_source_at_once():
    started = []

    class Proc:
        def __init__(self, argv, **_kw):
            started.append(argv)
            self.returncode = 0 if argv[-1] != "10.244.3.1" else 1

        def communicate(self):
            return ("3 packets transmitted, %d received" % (3 if self.returncode == 0 else 0), None)

    res = health.probe_all("ping", "10.244.1.1", {"n2": "10.244.2.1", "n3": "10.244.3.1"}, popen=Proc)
    assert res == {"n2": {"ok": True, "received": 3, "sent": 3, "address": "10.244.2.1"},
                   "n3": {"ok": False, "received": 0, "sent": 3, "address": "10.244.3.1"}}
    assert all(a[a.index("-I") + 1] == "10.244.1.1" for a in started)


# --- controller side: the report -------------------------------------------------------------


def result(peers, host_issues=(), ok=None):
    ok = ok or {}
    return {"changed": False, "checked": True, "host_issues": list(host_issues),
            "peers": {p: {"probe": {"ok": ok.get(p, True), "received": 3 if ok.get(p, True) else 0},
                          "issues": list(issues)} for p, issues in peers.items()}}


def healthy(plan):
    return {h: result({p: [] for p in plan["hosts"] if p != h}) for h in plan["hosts"]}


def test_a_healthy_fabric_is_all_ok():
    plan = three()
    rep = verify.verify_report(plan, healthy(plan))
    assert rep["ok"] and rep["failed_pairs"] == []
    assert rep["summary"] == "fabric verify: backend vxlan, 3 hosts, all 6 pairs ok"
    assert rep["lines"][1:] == [
        "from \\ to  n1    n2    n3",
        "n1         -     ok    ok",
        "n2         ok    -     ok",
        "n3         ok    ok    -",
    ]
    assert rep["json"]["matrix"] == {"n1": {"n2": "ok", "n3": "ok"}, "n2": {"n1": "ok", "n3": "ok"},
                                     "n3": {"n1": "ok", "n2": "ok"}}
    json.dumps(rep["json"])


def test_one_missing_neighbour_fails_exactly_the_pair_both_ways_with_the_cause():
    plan = three()
    results = healthy(plan)
    miss = {"kind": health.MISSING, "msg": "no permanent neighbour entry for n2's VTEP 10.244.2.0"}
    results["n1"] = result({"n2": [miss], "n3": []}, ok={"n2": False})
    results["n2"] = result({"n1": [], "n3": []}, ok={"n1": False})  # replies to n1's... n1 can't answer
    rep = verify.verify_report(plan, results)
    assert not rep["ok"]
    assert rep["failed_pairs"] == ["n1 -> n2", "n2 -> n1"]
    f12, f21 = rep["json"]["failures"]
    assert f12["cause"] == f21["cause"] == "missing entry"
    assert f12["causes"] == ["missing entry: n1: no permanent neighbour entry for n2's VTEP 10.244.2.0"]
    assert f21["causes"] == ["missing entry: n1 (the way back): no permanent neighbour entry for n2's VTEP 10.244.2.0"]
    assert rep["lines"][2] == "n1         -     FAIL  ok"
    assert rep["summary"].endswith("2 of 6 pairs FAIL")


def test_no_answer_with_every_entry_right_is_a_filtered_port():
    plan = three()
    results = healthy(plan)
    results["n1"] = result({"n2": [], "n3": []}, ok={"n3": False})
    rep = verify.verify_report(plan, results)
    (f,) = rep["json"]["failures"]
    assert (f["from"], f["to"], f["cause"]) == ("n1", "n3", "port filtered")
    assert "UDP port 8472 is probably filtered between n1 (192.0.2.11) and n3 (192.0.2.13)" in f["causes"][0]
    hg = three("host-gw")
    results = healthy(hg)
    results["n2"] = result({"n1": [], "n3": []}, ok={"n1": False})
    (f,) = verify.verify_report(hg, results)["json"]["failures"]
    assert "drops traffic of the cluster network 10.244.0.0/16" in f["causes"][0]


def test_a_wrong_entry_fails_the_cell_even_when_the_probe_answers():
    plan = three()
    results = healthy(plan)
    results["n3"] = result({"n1": [{"kind": health.WRONG, "msg": "route differs"}], "n2": []})
    rep = verify.verify_report(plan, results)
    assert rep["failed_pairs"] == ["n3 -> n1"]
    assert rep["json"]["failures"][0]["cause"] == "wrong entry"


def test_an_unreachable_host_fails_its_row_and_the_way_back():
    plan = three()
    results = healthy(plan)
    results["n2"] = {"unreachable": True, "msg": "ssh: connect timed out"}
    results["n1"] = result({"n2": [], "n3": []}, ok={"n2": False})
    results["n3"] = result({"n1": [], "n2": []}, ok={"n2": False})
    rep = verify.verify_report(plan, results)
    assert rep["failed_pairs"] == ["n1 -> n2", "n2 -> n1", "n2 -> n3", "n3 -> n2"]
    assert all(f["cause"] == verify.UNREACHABLE for f in rep["json"]["failures"])
    assert "n2 was not checked (ssh: connect timed out)" in rep["json"]["failures"][1]["causes"][0]


def test_a_vtep_missing_on_one_host_fails_its_row_and_the_replies_to_it():
    plan = three()
    results = healthy(plan)
    gone = {"kind": health.DEVICE_MISSING, "msg": "the VTEP flannel.1 does not exist"}
    results["n3"] = result({"n1": [], "n2": []}, host_issues=[gone], ok={"n1": False, "n2": False})
    results["n1"] = result({"n2": [], "n3": []}, ok={"n3": False})
    results["n2"] = result({"n1": [], "n3": []}, ok={"n3": False})
    rep = verify.verify_report(plan, results)
    assert rep["failed_pairs"] == ["n1 -> n3", "n2 -> n3", "n3 -> n1", "n3 -> n2"]
    assert {f["cause"] for f in rep["json"]["failures"]} == {"device missing"}


def test_the_report_covers_only_the_hosts_of_the_run():
    plan = three()
    results = healthy(plan)
    rep = verify.verify_report(plan, {h: results[h] for h in ("n1", "n3")}, hosts=["n3", "n1"])
    assert rep["json"]["hosts"] == ["n1", "n3"] and rep["ok"]
