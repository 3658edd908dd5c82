# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric's verification on the controller: what each host must hold, and the report.

Pure Python (no Ansible import), unit-tested in tests/unit/test_verify.py:

* ``verify_state(plan, host)``: the arguments of ``crosshost.fabric.fabric_verify`` for ``host``:
  its gateway (the probes' source) and, per peer, the peer's gateway (the probe's target) and what
  the backend puts on this host for that peer (``EXPECT``, one function per backend: the extension
  point on this side; the host-side checks are in ``module_utils/health.py``).
* ``verify_report(plan, results)``: from every host's result, one matrix (from x to, ok/FAIL), the
  failing pairs with their likely cause, and the JSON written beside the plan.

A cell ``A -> B`` fails when A's probe of B's gateway got no answer, or when A does not hold what
the plan says for B (even if the probe answered). Causes, first found first: A could not be
checked; A's own issues (device missing or down); A's issues for B; and, when nothing came back,
B's issues for A (the replies' way) or B's own; with none of those, the likely cause is traffic
filtered between the two hosts (the backend's port, or routed traffic on the underlay).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner

PORT_FILTERED = "port filtered"
UNREACHABLE = "host not checked"

EXPECT: Dict[str, Callable[[Mapping[str, Any], str], Dict[str, Any]]] = {}


def backend_expect(name: str):
    """Register what backend ``name`` puts on a host per peer: ``func(plan, host) -> {"device"?,
    "peers": {peer: expect}}``."""

    def register(func):
        EXPECT[name] = func
        return func

    return register


def _peer_names(plan: Mapping[str, Any], host: str) -> List[str]:
    return [name for name in plan["hosts"] if name != host]


@backend_expect("vxlan")
def _vxlan_expect(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    state = planner.vxlan_state(plan, host)
    names = _peer_names(plan, host)  # vxlan_state lists the peers in the plan's order
    peers = {}
    for name, neigh, fdb, route in zip(names, state["neighbours"], state["fdb"], state["routes"], strict=True):
        peers[name] = {"neighbour": neigh, "fdb": fdb, "route": route}
    return {"device": state["device"], "peers": peers}


@backend_expect("host-gw")
def _hostgw_expect(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    state = planner.hostgw_state(plan, host)
    return {"peers": _entry_per_peer(plan, host, state["routes"], "peer", "route", ("dst", "via", "dev", "onlink"))}


@backend_expect("bgp")
def _bgp_expect(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    """Per peer, the BIRD sessions of this host that carry the routes to that peer's subnet
    (``{"sessions": [{name, address, peer}]}``): the session to the peer itself (mesh, a reflector to
    its client), else those to the reflectors of the peer's rack (a reflector), else every session
    to a reflector or an outside router (a rack's host, ``peers`` mode). All must be Established."""
    # Imported here as planner does: the bgp module builds on the planner.
    from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp as _bgp

    state = _bgp.bgp_state(plan, host)
    speakers = plan["bgp"]["speakers"]
    sessions = state["sessions"]

    def brief(items):
        return [{"name": s["name"], "address": s["address"], "peer": s["peer"] or s["address"]} for s in items]

    def reflector(s):
        return s["peer"] is not None and speakers[s["peer"]]["reflector"]

    peers = {}
    for name in _peer_names(plan, host):
        via = [s for s in sessions if s["peer"] == name]
        if not via and state["reflector"]:
            rack = (speakers.get(name) or {}).get("rack")
            via = [s for s in sessions if reflector(s) and speakers[s["peer"]]["rack"] == rack]
        if not via:
            via = [s for s in sessions if s["peer"] is None or reflector(s)]
        peers[name] = {"sessions": brief(via)}
    return {"peers": peers}


@backend_expect("udp")
def _udp_expect(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    state = planner.udp_state(plan, host)
    peers = _entry_per_peer(plan, host, state["peers"], "name", "udp_peer", ("subnet", "ip", "port"))
    return {"device": state["device"], "peers": peers}


def _entry_per_peer(plan, host, entries, peer_key, label, fields) -> Dict[str, Any]:
    """Per peer of ``host``: ``{label: the entry's fields}`` for the entry whose ``peer_key`` names the
    peer, or ``{}`` when the backend's state holds none for it."""
    by_peer = {e[peer_key]: e for e in entries}
    peers = {}
    for name in _peer_names(plan, host):
        entry = by_peer.get(name)
        peers[name] = {label: {k: entry[k] for k in fields if k in entry}} if entry else {}
    return peers


def verify_state(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    """The arguments of ``crosshost.fabric.fabric_verify`` on ``host``."""
    if host not in plan.get("hosts", {}):
        raise planner.PlanError(["host %s is not in the fabric plan" % host])
    backend = plan["backend"]
    expect = EXPECT[backend](plan, host) if backend in EXPECT else {"peers": {}}
    return {
        "backend": backend,
        "source": plan["hosts"][host]["gateway"],
        "device": expect.get("device"),
        "route_protocol": int(plan.get("route_protocol", 244)),
        "peers": [
            {"name": name, "address": plan["hosts"][name]["gateway"], "expect": expect["peers"].get(name, {})}
            for name in _peer_names(plan, host)
        ],
    }


def _filtered_cause(plan: Mapping[str, Any], a: str, b: str) -> str:
    ha, hb = plan["hosts"][a], plan["hosts"][b]
    pair = "%s (%s) and %s (%s)" % (a, ha.get("public_ip"), b, hb.get("public_ip"))
    backend = plan.get("backend")
    if backend == "vxlan":
        return ("%s: the entries on both hosts match the plan but no answer came back: VXLAN's UDP port %s is "
                "probably filtered between %s (a firewall, a security group), or the underlay drops it"
                % (PORT_FILTERED, plan.get("vxlan_port", 8472), pair))
    if backend == "host-gw":
        return ("%s: the routes on both hosts match the plan but no answer came back: the underlay between %s "
                "probably drops traffic of the cluster network %s (a firewall, anti-spoofing, a router between them)"
                % (PORT_FILTERED, pair, plan.get("network")))
    if backend == "bgp":
        return ("%s: every BGP session is Established but no answer came back: the underlay between %s "
                "probably drops traffic of the cluster network %s (a firewall, anti-spoofing, a router between them)"
                % (PORT_FILTERED, pair, plan.get("network")))
    if backend == "udp":
        return ("%s: both daemons run with the peer tables of the plan but no answer came back: udp's port %s is "
                "probably filtered between %s (a firewall, a security group), or the underlay drops it"
                % (PORT_FILTERED, plan.get("udp_port", 8285), pair))
    return "%s: no answer came back between %s and no entry was found missing" % (PORT_FILTERED, pair)


def _issue_text(host: str, item: Mapping[str, Any], way: str = "") -> str:
    return "%s: %s%s: %s" % (item.get("kind", "?"), host, way, item.get("msg", ""))


def verify_report(plan: Mapping[str, Any], results: Mapping[str, Any], hosts: Any = None) -> Dict[str, Any]:
    """The matrix, the failing pairs with their causes, and the JSON, from every host's result.

    ``results``: ``{host: fabric_verify's result}``; a host missing from it, or whose result
    failed, was not checked (unreachable). ``hosts``: the hosts of the run (``--limit``), in the
    plan's order; default every host of the plan.
    """
    wanted = set(plan["hosts"] if hosts is None else hosts)
    hosts = [h for h in plan["hosts"] if h in wanted]
    good = {}
    for h in hosts:
        r = results.get(h)
        if isinstance(r, Mapping) and not r.get("failed") and not r.get("unreachable") and "peers" in r:
            good[h] = r

    def why_not_checked(h: str) -> str:
        r = results.get(h)
        msg = (r or {}).get("msg") if isinstance(r, Mapping) else None
        return "%s: %s was not checked (%s)" % (UNREACHABLE, h, msg or "no result: unreachable or failed")

    matrix: Dict[str, Dict[str, str]] = {}
    failures = []
    for a in hosts:
        matrix[a] = {}
        for b in hosts:
            if a == b:
                continue
            causes: List[str] = []
            ra = good.get(a)
            if ra is None:
                causes.append(why_not_checked(a))
            else:
                peer = ra["peers"].get(b) or {}
                probe = peer.get("probe")
                answered = probe is None or bool(probe.get("ok"))
                causes += [_issue_text(a, i) for i in ra.get("host_issues") or []]
                causes += [_issue_text(a, i) for i in peer.get("issues") or []]
                if not answered:
                    rb = good.get(b)
                    back = " (the way back)"
                    if rb is None:
                        causes.append(why_not_checked(b))
                    else:
                        causes += [_issue_text(b, i, back) for i in rb.get("host_issues") or []]
                        causes += [_issue_text(b, i, back) for i in ((rb["peers"].get(a) or {}).get("issues") or [])]
                    if not causes:
                        causes.append(_filtered_cause(plan, a, b))
            matrix[a][b] = "FAIL" if causes else "ok"
            if causes:
                failures.append({"from": a, "to": b, "cause": causes[0].split(":", 1)[0], "causes": causes})
    health = {h: {"checked": r.get("checked", False), "host_issues": r.get("host_issues") or [],
                  "peers": {p: v.get("issues") or [] for p, v in (r.get("peers") or {}).items()}}
              for h, r in good.items()}
    probes = {h: {p: v.get("probe") for p, v in (r.get("peers") or {}).items()} for h, r in good.items()}
    pairs = len(hosts) * (len(hosts) - 1)
    ok = not failures
    summary = ("fabric verify: backend %s, %d hosts, %s"
               % (plan.get("backend"), len(hosts),
                  "all %d pairs ok" % pairs if ok else "%d of %d pairs FAIL" % (len(failures), pairs)))
    failure_lines = ["FAIL %s -> %s: %s" % (f["from"], f["to"], "; ".join(f["causes"])) for f in failures]
    lines = [summary] + _matrix_lines(hosts, matrix) + failure_lines
    return {
        "ok": ok,
        "summary": summary,
        "text": "\n".join(lines),
        "lines": lines,
        "failure_lines": failure_lines,
        "failed_pairs": ["%s -> %s" % (f["from"], f["to"]) for f in failures],
        "json": {"ok": ok, "backend": plan.get("backend"), "hosts": hosts, "matrix": matrix,
                 "failures": failures, "health": health, "probes": probes},
    }


def _matrix_lines(hosts: List[str], matrix: Mapping[str, Mapping[str, str]]) -> List[str]:
    corner = "from \\ to"
    first = max([len(corner)] + [len(h) for h in hosts])
    widths = [max(4, len(h)) for h in hosts]
    out = ["  ".join([corner.ljust(first)] + [h.ljust(w) for h, w in zip(hosts, widths, strict=True)]).rstrip()]
    for a in hosts:
        cells = [("-" if a == b else matrix[a][b]).ljust(w) for b, w in zip(hosts, widths, strict=True)]
        out.append("  ".join([a.ljust(first)] + cells).rstrip())
    return out
