"""crosshost.fabric.verify for the bgp backend (issue 11 item 1): which BIRD sessions each host must
hold Established for each peer (mesh, route reflectors, peers mode), the host-side check against
`birdc show protocols` output as BIRD 2.0.12 prints it (fed through a fake `run`: the real BIRD is
in molecule/bgp, tests/test_7_verify.py), and the report's matrix and cause."""

import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import health
from ansible_collections.crosshost.fabric.plugins.plugin_utils import verify
from ansible_collections.crosshost.fabric.plugins.plugin_utils.bgp import BgpInput, BgpSettings
from test_bgp import make_plan, two_racks

TOOLS = {"ip": "ip", "bridge": "bridge", "birdc": "birdc"}


def mesh3():
    return make_plan([BgpInput("node%d" % i, "192.0.2.1%d" % i) for i in (1, 2, 3)])[0]


def rack_plan():
    """Rack a: tor-a (reflector, no containers) for a1, a2; rack b: b1 (a host) reflects for b2."""
    return make_plan(two_racks(), BgpSettings(mode="route-reflector"), public_net=None)[0]


def names(state):
    return {p["name"]: [s["name"] for s in p["expect"]["sessions"]] for p in state["peers"]}


# --- what each host must hold ------------------------------------------------------------------


def test_mesh_each_peer_needs_its_own_session():
    state = verify.verify_state(mesh3(), "node1")
    assert state["backend"] == "bgp" and state["source"] == "10.244.1.1"
    assert names(state) == {"node2": ["fabric_node2"], "node3": ["fabric_node3"]}
    assert state["peers"][0]["expect"]["sessions"] == [
        {"name": "fabric_node2", "address": "192.0.2.12", "peer": "node2"}]


def test_route_reflector_a_host_needs_its_racks_reflector_and_a_reflector_the_peers_rack():
    plan = rack_plan()
    # a1 reaches every host through its rack's reflector tor-a (a router, not a fabric host).
    assert names(verify.verify_state(plan, "a1")) == {
        "a2": ["fabric_tor_a"], "b1": ["fabric_tor_a"], "b2": ["fabric_tor_a"]}
    # b1 reflects for b2 (its own session), and reaches rack a through tor-a.
    assert names(verify.verify_state(plan, "b1")) == {
        "a1": ["fabric_tor_a"], "a2": ["fabric_tor_a"], "b2": ["fabric_b2"]}
    # b2 peers with its rack's reflectors only: b1 (its session to b1 is b1's own pair, too).
    b2 = names(verify.verify_state(plan, "b2"))
    assert b2 == {"a1": ["fabric_b1", "fabric_tor_b"], "a2": ["fabric_b1", "fabric_tor_b"], "b1": ["fabric_b1"]}


def test_peers_mode_every_peer_needs_the_router_sessions():
    plan = make_plan([BgpInput("node%d" % i, "192.0.2.1%d" % i, peers=[{"address": "192.0.2.1", "asn": 65000}])
                      for i in (1, 2)], BgpSettings(mode="peers"))[0]
    assert names(verify.verify_state(plan, "node1")) == {"node2": ["peer_192_0_2_1"]}


# --- host side: the check against birdc ------------------------------------------------------

PROTOCOLS = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     02:20:00.123
direct1    Direct     ---        up     02:20:00.123
kernel1    Kernel     master4    up     02:20:00.123
fabric_node2 BGP        ---        up     02:20:05.456  Established
fabric_node3 BGP        ---        start  02:21:07.001  Active        Socket: Connection refused
"""


def run_birdc(rc, out, err=""):
    calls = []

    def run(argv, data=None):
        calls.append(argv)
        assert argv == ["birdc", "show", "protocols"], argv
        return rc, out.encode(), err.encode()

    return run, calls


def bgp_check(plan, host, run, tools=TOOLS):
    args = verify.verify_state(plan, host)
    return health.check("bgp", run, tools, args, args["peers"])


def test_parse_bird_protocols_keeps_the_bgp_protocols_and_their_state():
    assert health.parse_bird_protocols(PROTOCOLS) == {
        "fabric_node2": ("up", "Established"),
        "fabric_node3": ("start", "Active Socket: Connection refused"),
    }
    # A two-column Since (timeformat iso long) and a disabled protocol (no Info).
    assert health.parse_bird_protocols(
        "fabric_x BGP --- up 2026-11-27 02:20:05 Established\nfabric_y BGP --- down 2026-11-27 02:20:05\n"
    ) == {"fabric_x": ("up", "Established"), "fabric_y": ("down", "")}


def test_an_established_session_is_fine_and_a_down_one_is_session_down_for_that_peer_only():
    run, calls = run_birdc(0, PROTOCOLS)
    host_issues, per_peer, checked = bgp_check(mesh3(), "node1", run)
    assert checked and host_issues == [] and len(calls) == 1
    assert per_peer["node2"] == []
    assert [i["kind"] for i in per_peer["node3"]] == [health.SESSION_DOWN]
    assert "fabric_node3 (node3, 192.0.2.13) is start Active Socket: Connection refused" in per_peer["node3"][0]["msg"]


def test_a_session_bird_does_not_have_is_session_down():
    run, _calls = run_birdc(0, PROTOCOLS.replace("fabric_node2", "fabric_other"))
    _h, per_peer, _c = bgp_check(mesh3(), "node1", run)
    assert [i["kind"] for i in per_peer["node2"]] == [health.SESSION_DOWN]
    assert "no protocol fabric_node2" in per_peer["node2"][0]["msg"]


def test_bird_stopped_downs_every_session():
    run, _calls = run_birdc(1, "", "Unable to connect to server control socket (/run/bird/bird.ctl): "
                                   "No such file or directory")
    host_issues, per_peer, _c = bgp_check(mesh3(), "node1", run)
    assert host_issues == []
    assert {p: [i["kind"] for i in v] for p, v in per_peer.items()} == {
        "node2": [health.SESSION_DOWN], "node3": [health.SESSION_DOWN]}
    assert "BIRD does not answer (birdc: Unable to connect" in per_peer["node2"][0]["msg"]


def test_no_birdc_is_session_down_not_a_crash():
    def run(argv, data=None):
        raise AssertionError("birdc must not run")

    _h, per_peer, _c = bgp_check(mesh3(), "node1", run, tools=dict(TOOLS, birdc=None))
    assert [i["kind"] for i in per_peer["node2"]] == [health.SESSION_DOWN]
    assert "birdc is not installed" in per_peer["node2"][0]["msg"]


# --- the report ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stopped", ["node3"])
def test_bird_stopped_on_one_node_fails_exactly_its_pairs_with_session_down(stopped):
    plan = mesh3()
    down = {"node3": "fabric_node3 BGP --- start 02:21:07 Active Socket: Connection refused\n"}
    results = {}
    for host in plan["hosts"]:
        if host == stopped:
            run, _ = run_birdc(1, "", "Unable to connect to server control socket")
        else:
            lines = "".join("fabric_%s BGP --- up 02:20:05 Established\n" % p
                            for p in plan["hosts"] if p not in (host, stopped))
            run, _ = run_birdc(0, lines + down[stopped])
        _hi, per_peer, checked = bgp_check(plan, host, run)
        answered = {p: host != stopped and p != stopped for p in per_peer}
        results[host] = {"checked": checked, "host_issues": [],
                         "peers": {p: {"probe": {"ok": answered[p], "received": 3 if answered[p] else 0,
                                                 "sent": 3}, "issues": v} for p, v in per_peer.items()}}
    rep = verify.verify_report(plan, results)
    assert rep["failed_pairs"] == ["node1 -> node3", "node2 -> node3", "node3 -> node1", "node3 -> node2"]
    assert {f["cause"] for f in rep["json"]["failures"]} == {health.SESSION_DOWN}
    assert rep["summary"] == "fabric verify: backend bgp, 3 hosts, 4 of 6 pairs FAIL"


def test_no_answer_with_every_session_established_is_a_filtered_underlay():
    plan = mesh3()
    results = {h: {"checked": True, "host_issues": [],
                   "peers": {p: {"probe": {"ok": False, "received": 0, "sent": 3}, "issues": []}
                             for p in plan["hosts"] if p != h}} for h in plan["hosts"]}
    rep = verify.verify_report(plan, results)
    assert {f["cause"] for f in rep["json"]["failures"]} == {verify.PORT_FILTERED}
    assert "every BGP session is Established" in rep["json"]["failures"][0]["causes"][0]
