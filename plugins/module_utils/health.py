# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side health of the fabric, for ``crosshost.fabric.fabric_verify``: read only.

Two parts, both run on the managed host (standard library and ``ansible.module_utils`` only):

* ``probe_all``: ping every peer's docker0 gateway from this host's own gateway address, all
  peers at once (one ``ping`` process each), so a reply proves the fabric's route both ways.
* ``CHECKS``: one function per backend that compares what the kernel (or the backend's daemon)
  holds with what the plan says, per peer. **The extension point**: a backend adds its check
  with ``@backend_check("name")``; it receives ``(run, tools, params, peers)`` and returns
  ``(host_issues, {peer name: [issue, ...]})``. Backends without a check are probed only.

An issue is ``{"kind": KIND, "msg": TEXT}``; the kinds name the likely cause and are what
``plugin_utils/verify.py`` reports: ``missing entry``, ``wrong entry``, ``device missing``,
``device down``, ``session down`` (bgp: a session BIRD does not hold Established, or BIRD not
answering), ``daemon down``, ``read error``, ``cannot probe``.

udp: ``check_udp`` reads the daemon's status socket (``read_udp_status``, what ``crosshost-fabric-udp
status --json`` prints): a daemon that does not answer is ``daemon down`` on this host, which fails
every pair of this host both ways and no other.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import socket
import subprocess

from ansible_collections.crosshost.fabric.plugins.module_utils import iproute

MISSING = "missing entry"
WRONG = "wrong entry"
DEVICE_MISSING = "device missing"
DEVICE_DOWN = "device down"
SESSION_DOWN = "session down"
DAEMON_DOWN = "daemon down"
READ_ERROR = "read error"
NO_PROBE = "cannot probe"

CHECKS = {}

_SINCE_RE = re.compile(r"^[0-9][0-9:.\-]*$")
_RECEIVED_RE = re.compile(r"(\d+) (?:packets )?received")


def issue(kind, msg):
    return {"kind": kind, "msg": msg}


def backend_check(name):
    """Register the health check of backend ``name`` (see the module docstring)."""

    def register(func):
        CHECKS[name] = func
        return func

    return register


def parse_ping(rc, out):
    """(sent answered, received) from iputils/busybox ``ping`` output: ok when any reply came."""
    match = _RECEIVED_RE.search(out or "")
    received = int(match.group(1)) if match else 0
    return {"ok": rc == 0 and received > 0, "received": received}


def probe_all(ping, source, targets, count=3, timeout=1, interval="0.2", popen=subprocess.Popen, limit=64):
    """``{name: {"ok", "received", "sent", "address"}}``: ``ping -I source`` to every target at once.

    ``targets``: ``{name: address}``. At most ``limit`` pings run together. ``popen`` is
    replaceable for unit tests.
    """
    results = {}
    pending = sorted(targets.items())
    running = []

    def start(name, address):
        argv = [ping, "-n", "-q", "-c", str(count), "-i", str(interval), "-W", str(timeout), "-I", source, address]
        proc = popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        running.append((name, address, proc))

    while pending or running:
        while pending and len(running) < limit:
            start(*pending.pop(0))
        name, address, proc = running.pop(0)
        out, _err = proc.communicate()
        res = parse_ping(proc.returncode, out)
        res.update(sent=count, address=address)
        results[name] = res
    return results


def _route_matches(got, want):
    """The route of the plan, or (vxlan direct routing) its direct alternative."""
    if got["via"] == want["via"] and got["dev"] == want["dev"] and (got["onlink"] or not want.get("onlink")):
        return True
    alt = want.get("direct")
    return bool(alt) and got["via"] == alt["via"] and got["dev"] == alt["dev"]


def _check_route(routes, want, label):
    """Issues of one expected route (``{dst, via, dev, onlink, direct?}``) against owned routes."""
    dst = iproute.norm_net(want["dst"])
    got = routes.get(dst)
    if got is None:
        return [issue(MISSING, "no route to %s's subnet %s: the plan says via %s dev %s"
                      % (label, dst, want["via"], want["dev"]))]
    if not _route_matches(got, want):
        return [issue(WRONG, "route to %s's subnet %s goes via %s dev %s, the plan says via %s dev %s"
                      % (label, dst, got["via"], got["dev"], want["via"], want["dev"]))]
    return []


def _owned_routes(run, tools, params):
    return dict((r["dst"], r) for r in iproute.read_owned_routes(run, tools["ip"], params["route_protocol"], (4,)))


@backend_check("vxlan")
def check_vxlan(run, tools, params, peers):
    """VTEP up; per peer the permanent neighbour, the permanent FDB entry and the route of the plan."""
    device = params["device"]
    link = iproute.read_link(run, tools["ip"], device)
    if link is None:
        return [issue(DEVICE_MISSING, "the VTEP %s does not exist" % device)], {}
    host_issues = []
    if not link["up"]:
        host_issues.append(issue(DEVICE_DOWN, "the VTEP %s is down" % device))
    neighbours = iproute.read_neighbours(run, tools["ip"], device)
    fdb = {}
    for entry in iproute.read_fdb(run, tools["bridge"], device):
        fdb.setdefault(entry["lladdr"], []).append(entry["dst"])
    routes = _owned_routes(run, tools, params)
    per_peer = {}
    for peer in peers:
        name, want = peer["name"], peer.get("expect") or {}
        found = []
        n = want.get("neighbour")
        if n:
            dst, mac = iproute.norm_ip(n["dst"]), n["lladdr"].lower()
            if dst not in neighbours:
                found.append(issue(MISSING, "no permanent neighbour entry for %s's VTEP %s lladdr %s on %s"
                                   % (name, dst, mac, device)))
            elif neighbours[dst] != mac:
                found.append(issue(WRONG, "the neighbour entry for %s's VTEP %s has lladdr %s, the plan says %s"
                                   % (name, dst, neighbours[dst], mac)))
        f = want.get("fdb")
        if f:
            mac, dst = f["lladdr"].lower(), iproute.norm_ip(f["dst"])
            if mac not in fdb:
                found.append(issue(MISSING, "no permanent FDB entry for %s's VTEP MAC %s (dst %s) on %s"
                                   % (name, mac, dst, device)))
            elif dst not in fdb[mac]:
                found.append(issue(WRONG, "the FDB entry for %s's VTEP MAC %s sends to %s, the plan says %s"
                                   % (name, mac, ", ".join(fdb[mac]), dst)))
        if want.get("route"):
            found.extend(_check_route(routes, want["route"], name))
        per_peer[name] = found
    return host_issues, per_peer


@backend_check("host-gw")
def check_hostgw(run, tools, params, peers):
    """Per peer the route of the plan: the peer's subnet via its public address on the underlay."""
    routes = _owned_routes(run, tools, params)
    per_peer = {}
    for peer in peers:
        want = peer.get("expect") or {}
        per_peer[peer["name"]] = _check_route(routes, want["route"], peer["name"]) if want.get("route") else []
    return [], per_peer


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def parse_bird_protocols(out):
    """``{protocol name: (state, info)}`` of the BGP protocols in ``birdc show protocols``."""
    found = {}
    for line in (out or "").splitlines():
        cols = line.split()
        if len(cols) >= 4 and cols[1] == "BGP":
            # Name Proto Table State Since Info: Since is a time, or a date and a time.
            rest = cols[4:]
            while rest and _SINCE_RE.match(rest[0]):
                rest = rest[1:]
            info = " ".join(rest)
            found[cols[0]] = (cols[3], info)
    return found


@backend_check("bgp")
def check_bgp(run, tools, params, peers):
    """Per peer, the BIRD sessions that carry its routes (``expect.sessions``) are Established.

    BIRD not answering (stopped, crashed) downs every session: each peer gets ``session down``."""
    birdc = tools.get("birdc")
    wanted = [s for p in peers for s in (p.get("expect") or {}).get("sessions") or []]
    if not wanted:
        return [], {}
    if not birdc:
        down, why = None, "birdc is not installed"
    else:
        rc, out, err = run([birdc, "show", "protocols"])
        out, err = _text(out), _text(err)
        down = parse_bird_protocols(out) if rc == 0 else None
        why = "BIRD does not answer (birdc: %s)" % ((err or out or "rc %s" % rc).strip().splitlines() or ["?"])[-1]
    per_peer = {}
    for peer in peers:
        found = []
        for s in (peer.get("expect") or {}).get("sessions") or []:
            label = "%s (%s, %s)" % (s["name"], s.get("peer") or "?", s.get("address") or "?")
            if down is None:
                found.append(issue(SESSION_DOWN, "%s: no BGP session %s towards %s" % (why, label, peer["name"])))
                continue
            state = down.get(s["name"])
            if state is None:
                found.append(issue(SESSION_DOWN, "BIRD has no protocol %s (towards %s): bird.conf is not the plan's"
                                   % (label, peer["name"])))
            elif not state[1].startswith("Established"):
                found.append(issue(SESSION_DOWN, "BGP session %s is %s %s, not Established (towards %s)"
                                   % (label, state[0], state[1] or "-", peer["name"])))
        per_peer[peer["name"]] = found
    return [], per_peer


UDP_CONTROL = "/run/crosshost-fabric/udp.sock"  # the daemon's status socket (crosshost-fabric-udp --control)


def read_udp_status(path=None, timeout=3):
    """The status of the running crosshost-fabric-udp daemon (what ``crosshost-fabric-udp status
    --json`` prints): it writes one JSON document on its control socket and closes it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path or UDP_CONTROL)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    finally:
        sock.close()
    return json.loads(b"".join(chunks).decode("utf-8"))


@backend_check("udp")
def check_udp(run, tools, params, peers):
    """flannel0 up; the daemon answers on its status socket with its counters; per peer its entry in
    the daemon's peer table (subnet, public IP, port) as the plan says."""
    device = params.get("device") or "flannel0"
    try:
        status = read_udp_status()
    except (OSError, ValueError) as exc:
        # flannel0 is the daemon's open TUN device: it goes with the daemon, the one cause to name
        return [issue(DAEMON_DOWN, "crosshost-fabric-udp does not answer on %s (%s): is "
                                   "crosshost-fabric-udp.service running? (%s goes with it)"
                      % (UDP_CONTROL, exc, device))], {}
    host_issues = []
    link = iproute.read_link(run, tools["ip"], device)
    if link is None:
        host_issues.append(issue(DEVICE_MISSING, "the TUN device %s does not exist" % device))
    elif not link["up"]:
        host_issues.append(issue(DEVICE_DOWN, "the TUN device %s is down" % device))
    if not isinstance(status, dict) or not isinstance(status.get("counters"), dict) \
            or not isinstance(status.get("drops"), dict) or not isinstance(status.get("peers"), list):
        host_issues.append(issue(READ_ERROR, "crosshost-fabric-udp's status lacks its counters or peers"))
        return host_issues, {}
    table = dict((str(e.get("name")), e) for e in status["peers"] if isinstance(e, dict))
    per_peer = {}
    for peer in peers:
        name, want = peer["name"], (peer.get("expect") or {}).get("udp_peer")
        found = []
        if want:
            got = table.get(name)
            label = "%s %s:%s" % (want["subnet"], want["ip"], want["port"])
            if got is None:
                found.append(issue(MISSING, "the daemon's peer table has no entry for %s (the plan says %s)"
                                   % (name, label)))
            elif (got.get("subnet"), got.get("ip"), got.get("port")) != (want["subnet"], want["ip"], want["port"]):
                found.append(issue(WRONG, "the daemon's peer table has %s %s:%s for %s, the plan says %s"
                                   % (got.get("subnet"), got.get("ip"), got.get("port"), name, label)))
        per_peer[name] = found
    return host_issues, per_peer


def check(backend, run, tools, params, peers):
    """``(host_issues, per_peer, checked)``: the backend's check, or nothing when it has none."""
    func = CHECKS.get(backend)
    if func is None:
        return [], dict((p["name"], []) for p in peers), False
    try:
        host_issues, per_peer = func(run, tools, params, peers)
    except iproute.IprouteError as exc:
        return [issue(READ_ERROR, "%s: %s" % (exc.msg, (exc.stderr or "").strip()))], {}, True
    for peer in peers:
        per_peer.setdefault(peer["name"], [])
    return host_issues, per_peer, True
