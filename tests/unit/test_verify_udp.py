"""crosshost.fabric.verify for backend udp: what each host must hold (the daemon's peer table), the
host-side check against a real status socket (a Unix socket serving what the daemon's ``status``
command reads) and the report when one daemon is down."""

import json
import os
import socket
import threading

import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import health
from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner, verify
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, Settings


def three(**kw):
    hosts = [HostInput(name="n%d" % i, public_ip="192.0.2.1%d" % i, iface="eth0", public_net="192.0.2.0/24")
             for i in (1, 2, 3)]
    plan, _ = planner.build_plan(Settings(backend="udp", **kw), hosts)
    return plan


def test_verify_state_udp_names_every_peer_with_its_entry_in_the_daemons_table():
    state = verify.verify_state(three(udp_port=9000), "n1")
    assert state["device"] == "flannel0" and state["backend"] == "udp"
    assert [(p["name"], p["address"], p["expect"]) for p in state["peers"]] == [
        ("n2", "10.244.2.1", {"udp_peer": {"subnet": "10.244.2.0/24", "ip": "192.0.2.12", "port": 9000}}),
        ("n3", "10.244.3.1", {"udp_peer": {"subnet": "10.244.3.0/24", "ip": "192.0.2.13", "port": 9000}}),
    ]


def daemon_status(plan, host, drop_peer=None, port=None):
    """What crosshost-fabric-udp's status socket serves on a host running its plan (one change)."""
    state = planner.udp_state(plan, host)
    peers = [{"name": p["name"], "subnet": p["subnet"], "ip": p["ip"], "port": port or p["port"],
              "tx_packets": 5, "rx_packets": 4} for p in state["peers"] if p["name"] != drop_peer]
    return {"pid": 1, "uptime": 9, "device": "flannel0", "port": 8285, "listen": state["listen"],
            "offload": {}, "counters": {"tx_packets": 10, "rx_packets": 8}, "drops": {"not_peer": 0},
            "peers": peers, "last_error": None}


@pytest.fixture
def control(monkeypatch, tmp_path):
    """A real Unix socket at a temporary health.UDP_CONTROL answering like the daemon (one JSON, close)."""
    path = str(tmp_path / "udp.sock")
    monkeypatch.setattr(health, "UDP_CONTROL", path)
    servers = []

    def serve(status):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(4)
        servers.append(srv)

        def loop():
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(json.dumps(status).encode() + b"\n")

        threading.Thread(target=loop, daemon=True).start()

    yield serve
    for srv in servers:
        srv.close()
    if os.path.exists(path):
        os.unlink(path)


def link_run(up=True, missing=False):
    link = [{"ifname": "flannel0", "flags": ["POINTOPOINT", "UP"] if up else ["POINTOPOINT"], "mtu": 1472,
             "addr_info": [], "linkinfo": {"info_kind": "tun"}}]

    def run(argv, data=None):
        assert " ".join(argv[1:]).startswith("-j -d addr show dev flannel0"), argv
        return (1, "", 'Device "flannel0" does not exist.') if missing else (0, json.dumps(link), "")

    return run


def host_check(plan, host, run=None):
    args = verify.verify_state(plan, host)
    return health.check("udp", run or link_run(), {"ip": "ip", "bridge": "bridge"}, args, args["peers"])


def test_udp_check_of_a_host_running_its_plan_finds_nothing(control):
    plan = three()
    control(daemon_status(plan, "n1"))
    assert host_check(plan, "n1") == ([], {"n2": [], "n3": []}, True)
    assert health.read_udp_status()["counters"] == {"tx_packets": 10, "rx_packets": 8}


def test_udp_check_names_a_missing_and_a_wrong_peer_entry(control):
    plan = three()
    control(daemon_status(plan, "n1", drop_peer="n2", port=9999))
    host_issues, per_peer, checked = host_check(plan, "n1")
    assert host_issues == [] and checked
    assert [i["kind"] for i in per_peer["n2"]] == [health.MISSING]
    assert "no entry for n2 (the plan says 10.244.2.0/24 192.0.2.12:8285)" in per_peer["n2"][0]["msg"]
    assert per_peer["n3"] == [health.issue(health.WRONG, "the daemon's peer table has 10.244.3.0/24 "
                                           "192.0.2.13:9999 for n3, the plan says 10.244.3.0/24 192.0.2.13:8285")]


def test_a_stopped_daemon_is_daemon_down_on_its_host(control):
    plan = three()  # nothing listens on the socket
    host_issues, per_peer, _checked = host_check(plan, "n2")
    assert [i["kind"] for i in host_issues] == [health.DAEMON_DOWN]
    assert "crosshost-fabric-udp does not answer on %s" % health.UDP_CONTROL in host_issues[0]["msg"]
    assert per_peer == {"n1": [], "n3": []}


def test_a_missing_or_down_flannel0_is_a_host_issue(control):
    plan = three()
    control(daemon_status(plan, "n1"))
    assert [i["kind"] for i in host_check(plan, "n1", link_run(missing=True))[0]] == [health.DEVICE_MISSING]
    assert [i["kind"] for i in host_check(plan, "n1", link_run(up=False))[0]] == [health.DEVICE_DOWN]


def test_a_status_without_counters_is_a_read_error(control):
    plan = three()
    control({"peers": []})
    assert [i["kind"] for i in host_check(plan, "n1")[0]] == [health.READ_ERROR]


def result(peers, host_issues=(), ok=None):
    ok = ok or {}
    return {"changed": False, "checked": True, "host_issues": list(host_issues),
            "peers": {p: {"probe": {"ok": ok.get(p, True), "received": 3 if ok.get(p, True) else 0},
                          "issues": list(issues)} for p, issues in peers.items()}}


def test_one_daemon_down_fails_exactly_its_pairs_both_ways_with_that_cause():
    plan = three()
    down = health.issue(health.DAEMON_DOWN, "crosshost-fabric-udp does not answer on /run/crosshost-fabric/udp.sock")
    results = {
        "n1": result({"n2": [], "n3": []}, ok={"n2": False}),
        "n2": result({"n1": [], "n3": []}, host_issues=[down], ok={"n1": False, "n3": False}),
        "n3": result({"n1": [], "n2": []}, ok={"n2": False}),
    }
    rep = verify.verify_report(plan, results)
    assert rep["failed_pairs"] == ["n1 -> n2", "n2 -> n1", "n2 -> n3", "n3 -> n2"]
    assert {f["cause"] for f in rep["json"]["failures"]} == {"daemon down"}
    assert rep["json"]["matrix"]["n1"]["n3"] == rep["json"]["matrix"]["n3"]["n1"] == "ok"


def test_no_answer_with_both_daemons_right_is_udps_port_filtered():
    plan = three()
    results = {h: result({p: [] for p in plan["hosts"] if p != h}) for h in plan["hosts"]}
    results["n1"] = result({"n2": [], "n3": []}, ok={"n3": False})
    rep = verify.verify_report(plan, results)
    (fail,) = rep["json"]["failures"]
    assert fail["cause"] == "port filtered" and "udp's port 8285 is probably filtered" in fail["causes"][0]
