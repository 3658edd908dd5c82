"""fabric_bgp_mode peers against a router the collection does not manage.

The test configures BIRD 2 on the lab's plain router container by hand, as a site's network team
would (AS 65000, a session per node with its own MD5 password, the fabric's subnets in and out,
routes to its kernel), then converges the fabric in peers mode: each node must have one session,
to the router, Established, and no fabric session; the router's kernel must hold every node's
subnet; containers must reach each other across nodes without NAT."""

from __future__ import annotations

import json
import textwrap

from bgp_lab import bird_routes, converge, sessions, wait_sessions
from fabric_lab import all_pairs, load_plan, node, node_address, traffic_faults

ROUTER = "bgp-router"
ROUTER_AS = 65000
ROUTER_PASSWORD = "router-md5-Pass"


def router_config(plan: dict) -> str:
    net = plan["network"]
    prefixes = "[ %s{%s,%d} ]" % (net, net.split("/")[1], plan["subnet_len"])  # the fabric's subnets
    sessions_conf = "".join(
        textwrap.dedent(f"""
        protocol bgp node_{i} {{
          local as {ROUTER_AS};
          neighbor {h['public_ip']} as 64512;
          password "{ROUTER_PASSWORD}";
          ipv4 {{ import where net ~ {prefixes}; export where net ~ {prefixes}; }};
        }}
        """)
        for i, (_name, h) in enumerate(sorted(plan["hosts"].items())))
    return textwrap.dedent(f"""
        router id {node_address(ROUTER)};
        protocol device {{ }}
        protocol kernel {{ ipv4 {{ export all; }}; }}
        """) + sessions_conf


def test_peers_mode_against_a_hand_configured_router(plan):
    router = node(ROUTER)
    address = node_address(ROUTER)
    router.check_output("mkdir -p /run/bird && cat > /etc/bird/router.conf <<'EOF'\n%s\nEOF" % router_config(plan))
    router.check_output("bird -p -c /etc/bird/router.conf")
    router.run("birdc down")
    router.check_output("bird -c /etc/bird/router.conf")
    peers = [{"address": address, "asn": ROUTER_AS, "password": ROUTER_PASSWORD}]
    proc = converge(extra_vars={"fabric_bgp_mode": "peers", "fabric_bgp_peers": peers})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert ROUTER_PASSWORD not in proc.stdout + proc.stderr
    plan = load_plan()
    assert plan["bgp"]["mode"] == "peers"
    faults = []
    for name in sorted(plan["hosts"]):
        states = wait_sessions(node(name), want_established=True, timeout=90)
        if list(states) != ["peer_" + address.replace(".", "_")]:
            faults.append(f"{name}: BGP protocols {sorted(states)}, expected only the router's")
        faults += [f"{name}: {line}" for line in states.values() if "Established" not in line]
    assert not faults, "\n".join(faults)
    out = router.check_output("ip -4 -j route show proto bird")
    want = {h["subnet"] for h in plan["hosts"].values()}
    for _ in range(30):
        have = {r["dst"] for r in json.loads(out or "[]")}
        if want <= have:
            break
        router.run("sleep 1")
        out = router.check_output("ip -4 -j route show proto bird")
    assert want <= have, f"router kernel: {have}, expected {want}"
    for name in sorted(plan["hosts"]):
        others = {h["subnet"] for n, h in plan["hosts"].items() if n != name}
        assert set(bird_routes(node(name))) == others, (name, bird_routes(node(name)))
    assert sessions(router)  # sanity: the helper reads the router's BIRD too


def test_containers_reach_each_other_in_peers_mode(plan, webs):
    faults = traffic_faults(plan, webs, all_pairs(plan["hosts"]))
    assert not faults, "cross-node container traffic in peers mode:\n  " + "\n  ".join(faults)
