# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The BGP part of the fabric plan (backend ``bgp``, BIRD 2), beside the planner.

Pure Python on netaddr, no Ansible import. Two steps, like the rest of the plan:

* ``plan_bgp`` validates the BGP inventory (modes, racks, reflectors, ASNs, router ids,
  external peers, passwords) and returns the ``bgp`` section of the plan: one entry per
  BGP speaker (every fabric host, and reflector routers that carry no containers), with
  no session list (that would be O(n^2) in a mesh) and no password (only whether one is
  set: the plan is written to plan.json).
* ``bgp_state(plan, host)`` computes one speaker's sessions, announcement and kernel
  export in O(speakers): the topology is decided here; the BIRD template only loops.

Passwords never enter the plan: a session names the BIRD constant that holds its
password (``FABRIC_PW`` for the global one, ``FABRIC_PW_PEER_<i>`` for the i-th entry of
the host's ``fabric_bgp_peers``); the role writes those constants to a separate file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

try:
    import netaddr
except ImportError:  # the action and the filters report planner.NETADDR_MISSING before any use
    netaddr = None

from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import PlanError, _me, iface_facts

BGP_MODES = ("mesh", "route-reflector", "peers")
BGP_ENCAPS = ("none", "ipip")
DEFAULT_BGP_ASN = 64512
# Calico's advice: a full mesh has n(n-1)/2 sessions; above ~100 nodes use route reflectors.
MESH_WARN_HOSTS = 100
IPIP_OVERHEAD = 20
IPIP_DEVICE = "tunl0"
# 0 is invalid, 23456 is AS_TRANS (RFC 6793), 4294967295 is reserved (RFC 7300).
ASN_RESERVED = (23456,)
ASN_MAX = 4294967294
# Characters a BIRD string constant can't hold without escaping; refused in passwords.
PASSWORD_BAD = re.compile(r'["\\\n\r\t]')
MAX_PASSWORD = 80  # TCP MD5 keys: 80 bytes (TCP_MD5SIG_MAXKEYLEN)
# Interfaces whose networks are not the underlay (BIRD's `protocol direct` skips them).
NON_UNDERLAY_IFACES = ("docker0", "veth*", "br-*", "flannel*", "cni*", "cali*", IPIP_DEVICE)


@dataclass
class BgpSettings:
    """Cluster-wide BGP settings (group variables of ``fabric``)."""

    mode: str = "mesh"
    encap: str = "none"
    # The global TCP MD5 password: only validated here, never copied into the plan.
    password: Optional[str] = None


@dataclass
class BgpInput:
    """One BGP speaker as the inventory (and facts) describe it."""

    name: str
    public_ip: Optional[str] = None
    # The speaker's interface addresses as "ip/len" (from facts), to pick, for each session,
    # the address both ends share a segment on. Empty: the public IP is used.
    addresses: List[str] = field(default_factory=list)
    rack: Any = None
    asn: Any = None
    # fabric_bgp_peers: [{address, asn, password?}], routers the collection doesn't manage.
    peers: Any = None
    # Member of the group fabric_route_reflectors.
    reflector: bool = False
    # Not in the group fabric: a router with no containers, no subnet (reflectors only).
    router: bool = False


def addresses_from_facts(facts: Optional[Mapping[str, Any]]) -> List[str]:
    """Every IPv4 "address/prefixlen" on the interfaces of Ansible facts (except lo and fabric devices)."""
    out: List[str] = []
    facts = facts or {}
    for ifname in facts.get("interfaces") or ():
        if ifname == "lo" or any(_glob(ifname, pat) for pat in NON_UNDERLAY_IFACES):
            continue
        info = iface_facts(facts, ifname)
        addrs = [info["ipv4"]] if isinstance(info.get("ipv4"), dict) else []
        addrs += [a for a in info.get("ipv4_secondaries") or () if isinstance(a, dict)]
        for a in addrs:
            if a.get("address") and a.get("netmask"):
                net = netaddr.IPNetwork("%s/%s" % (a["address"], a["netmask"]))
                out.append("%s/%d" % (net.ip, net.prefixlen))
    return sorted(set(out))


def _glob(name: str, pattern: str) -> bool:
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def _ip(value: Any) -> Optional[netaddr.IPAddress]:
    if value is None or isinstance(value, bool) or "/" in str(value):
        return None
    try:
        ip = netaddr.IPAddress(str(value).strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None
    return ip if ip.version == 4 else None


def _asn(value: Any) -> Optional[int]:
    if value is None or isinstance(value, bool):
        return None
    try:
        asn = int(str(value).strip())
    except ValueError:
        return None
    return asn if 1 <= asn <= ASN_MAX and asn not in ASN_RESERVED else None


def _password_problem(value: Any, where: str) -> Optional[str]:
    """A problem naming where a password is bad, never its value."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        return "%s: the BGP password must be a string" % where
    if PASSWORD_BAD.search(value):
        return "%s: the BGP password may not contain a double quote, a backslash or a control character" % where
    if len(value.encode()) > MAX_PASSWORD:
        return "%s: the BGP password is longer than %d bytes (TCP MD5 limit)" % (where, MAX_PASSWORD)
    return None


def plan_bgp(network: str, inputs: Sequence[BgpInput], settings: BgpSettings) -> Tuple[Dict[str, Any], List[str]]:
    """Validate the BGP inventory; return the plan's ``bgp`` section and warnings.

    Raises PlanError listing every problem (each naming hosts and values) before
    anything is written or changed.
    """
    problems: List[str] = []
    warnings: List[str] = []
    cluster = netaddr.IPNetwork(network)
    if settings.mode not in BGP_MODES:
        problems.append("fabric_bgp_mode %r is unknown (choose one of: %s)" % (settings.mode, ", ".join(BGP_MODES)))
    if settings.encap not in BGP_ENCAPS:
        problems.append("fabric_bgp_encap %r is unknown (choose one of: %s)" % (settings.encap, ", ".join(BGP_ENCAPS)))
    bad = _password_problem(settings.password, "fabric_bgp_password")
    if bad:
        problems.append(bad)
    rr = settings.mode == "route-reflector"
    speakers: Dict[str, Dict[str, Any]] = {}
    by_router_id: Dict[str, List[str]] = {}
    for item in inputs:
        if item.router and not rr:
            continue  # routers without containers take part in route-reflector mode only
        ip = _ip(item.public_ip)
        if ip is None:
            if item.router:  # fabric hosts' public IPs are checked (and named) by the planner
                problems.append(
                    "reflector %s has no usable IPv4 public IP (%r): set fabric_public_ip or ansible_host to its IP "
                    "(it is its BGP router id)" % (item.name, item.public_ip))
            continue
        by_router_id.setdefault(str(ip), []).append(item.name)
        asn = _asn(DEFAULT_BGP_ASN if item.asn in (None, "") else item.asn)
        if asn is None:
            problems.append(
                "host %s: fabric_bgp_asn %r is out of range (1..%d, not 23456)" % (item.name, item.asn, ASN_MAX))
        rack = None if item.rack in (None, "") else str(item.rack)
        if rr and rack is None:
            problems.append(
                "%s %s has no fabric_rack: in route-reflector mode every host and reflector belongs to a rack"
                % ("reflector" if item.reflector else "host", item.name))
        addresses = []
        for text in item.addresses or ():
            try:
                net = netaddr.IPNetwork(str(text))
            except (netaddr.AddrFormatError, ValueError, TypeError):
                continue
            if net.version == 4:
                addresses.append("%s/%d" % (net.ip, net.prefixlen))
        peers = []
        raw_peers = item.peers if item.peers not in (None, "") else []
        if not isinstance(raw_peers, list):
            problems.append("host %s: fabric_bgp_peers must be a list of {address, asn, password?}" % item.name)
            raw_peers = []
        for index, peer in enumerate(raw_peers):
            where = "host %s: fabric_bgp_peers[%d]" % (item.name, index)
            if not isinstance(peer, Mapping):
                problems.append("%s is not a mapping {address, asn, password?}: %r" % (where, peer))
                continue
            unknown = sorted(set(peer) - {"address", "asn", "password"})
            if unknown:
                problems.append("%s has unknown keys: %s" % (where, ", ".join(map(str, unknown))))
            paddr = _ip(peer.get("address"))
            if paddr is None:
                problems.append("%s: address %r is not an IPv4 address" % (where, peer.get("address")))
            elif paddr in cluster:
                problems.append(
                    "%s: address %s lies inside fabric_network %s (peers are underlay routers)"
                    % (where, paddr, cluster))
            elif paddr == ip:
                problems.append("%s: address %s is the host's own public IP" % (where, paddr))
            pasn = _asn(peer.get("asn"))
            if pasn is None:
                problems.append("%s: asn %r is out of range (1..%d, not 23456)" % (where, peer.get("asn"), ASN_MAX))
            bad = _password_problem(peer.get("password"), where)
            if bad:
                problems.append(bad)
            peers.append({
                "address": str(paddr) if paddr is not None else None,
                "asn": pasn,
                "password": bool(peer.get("password")),
            })
        if settings.mode == "peers" and not item.router and not peers:
            problems.append(
                "host %s has no fabric_bgp_peers: in peers mode each host peers only with the routers listed there"
                % item.name)
        speakers[item.name] = {
            "router_id": str(ip),
            "asn": asn,
            "rack": rack,
            "reflector": bool(item.reflector) and rr,
            "router": bool(item.router),
            "addresses": sorted(set(addresses)),
            "peers": peers,
        }
    for rid, names in sorted(by_router_id.items()):
        if len(names) > 1:
            problems.append("duplicate BGP router id %s (the public IP) on %s" % (rid, ", ".join(sorted(names))))
    clusters: Dict[str, str] = {}
    if rr:
        racks: Dict[str, Dict[str, List[str]]] = {}
        for name, s in speakers.items():
            if s["rack"] is not None:
                role = "reflectors" if s["reflector"] else "hosts"
                racks.setdefault(s["rack"], {"reflectors": [], "hosts": []})[role].append(name)
        for rack, members in sorted(racks.items()):
            if not members["reflectors"]:
                problems.append(
                    "rack %s has no route reflector (hosts %s): add one to the group fabric_route_reflectors "
                    "with fabric_rack: %s" % (rack, ", ".join(sorted(members["hosts"])), rack))
            asns = {}
            for name in members["reflectors"] + members["hosts"]:
                asns.setdefault(speakers[name]["asn"], []).append(name)
            if len(asns) > 1:
                problems.append(
                    "rack %s: its hosts and reflectors disagree on fabric_bgp_asn (%s); one AS per rack: set it "
                    "in the rack's group" % (rack, "; ".join(
                        "%s on %s" % (a, ", ".join(sorted(n))) for a, n in sorted(asns.items(), key=str))))
            if members["reflectors"]:
                # One cluster id per rack: the lowest router id among its reflectors.
                clusters[rack] = str(min((netaddr.IPAddress(speakers[n]["router_id"]) for n in members["reflectors"])))
    elif settings.mode == "mesh":
        fabric = [n for n, s in speakers.items() if not s["router"]]
        asns = {}
        for name in fabric:
            asns.setdefault(speakers[name]["asn"], []).append(name)
        if len(asns) > 1:
            problems.append(
                "fabric_bgp_asn differs between hosts of the mesh (%s): a full iBGP mesh is one AS"
                % "; ".join("%s on %s" % (a, ", ".join(sorted(n)[:5])) for a, n in sorted(asns.items(), key=str)))
        if len(fabric) > MESH_WARN_HOSTS:
            warnings.append(
                "fabric_bgp_mode mesh with %d hosts means %d BGP sessions; above %d hosts use "
                "fabric_bgp_mode: route-reflector (Calico's advice)"
                % (len(fabric), len(fabric) * (len(fabric) - 1) // 2, MESH_WARN_HOSTS))
    if problems:
        raise PlanError(problems)
    section = {
        "mode": settings.mode,
        "encap": settings.encap,
        "password": bool(settings.password),
        "graceful_restart": True,
        "clusters": clusters,
        "speakers": dict(sorted(speakers.items())),
    }
    return section, warnings


def attach(plan: Dict[str, Any], section: Mapping[str, Any]) -> Dict[str, Any]:
    """Put the ``bgp`` section into a plan; with IPIP, docker's MTU leaves room for the outer header."""
    plan["bgp"] = dict(section)
    if section.get("encap") == "ipip":
        for host in plan["hosts"].values():
            host["mtu"] = int(host["mtu"]) - IPIP_OVERHEAD
    return plan


# --------------------------------------------------------------------------- #
# One speaker's desired state
# --------------------------------------------------------------------------- #

_IDENT = re.compile(r"[^A-Za-z0-9_]")


def _proto_name(prefix: str, name: str, used: set) -> str:
    base = prefix + _IDENT.sub("_", name)
    out, i = base, 2
    while out in used:
        out, i = "%s_%d" % (base, i), i + 1
    used.add(out)
    return out


def _nets(speaker: Mapping[str, Any], public_net: Optional[str]) -> List[Tuple[netaddr.IPAddress, netaddr.IPNetwork]]:
    out = [(netaddr.IPAddress(a.split("/")[0]), netaddr.IPNetwork(a).cidr) for a in speaker.get("addresses") or ()]
    if public_net:
        out.append((netaddr.IPAddress(speaker["router_id"]), netaddr.IPNetwork(public_net).cidr))
    return out


def _pick(mine, theirs, their_id: str) -> Tuple[str, Optional[str], bool]:
    """(peer address, local address, on a shared segment) for a session between two speakers.

    The peer's router id (public IP) first, then its other addresses from facts: the first that
    lies on one of my segments wins. The router id is tried even when the peer's facts are
    unknown (a host limited out of the run), so --limit never changes a session. Otherwise the
    router id across routers (multihop).
    """
    candidates = [netaddr.IPAddress(their_id)] + [a for a, _n in theirs if str(a) != their_id]
    for addr in candidates:
        for my_addr, my_net in mine:
            if addr in my_net and addr != my_addr:
                return str(addr), str(my_addr), True
    return their_id, None, False


BGP_PORT = 179


def front_door_rules(addresses: Sequence[str]) -> List[str]:
    """BGP's port accepted from each session's peer address only, then dropped from anybody else."""
    match = "-p tcp -m tcp --dport %d" % BGP_PORT
    rules = ["-s %s/32 %s -j ACCEPT" % (a, match) for a in sorted(set(addresses), key=netaddr.IPAddress)]
    return rules + ["%s -j DROP" % match]


def bgp_peer_addresses(plan: Mapping[str, Any], host: str) -> List[str]:
    """The addresses ``host``'s BGP sessions go to: the only sources its port 179 accepts."""
    return sorted({s["address"] for s in bgp_state(plan, host)["sessions"]}, key=netaddr.IPAddress)


def bgp_state(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    """What BIRD runs on ``host``: its sessions, the subnet it announces and its kernel export.

    Mesh: an iBGP session with every other fabric host. Route-reflector: a host peers with
    its rack's reflectors; a reflector with its rack's hosts (``rr client``, the rack's
    cluster id), with the other reflectors of its rack (iBGP) and with every other rack's
    reflectors (eBGP when the racks' ASNs differ), and sets ``next hop self ebgp`` towards
    its clients. Peers: no fabric session. In every mode, ``fabric_bgp_peers`` adds
    sessions to routers the collection doesn't manage. A session is ``direct`` when both
    ends share a segment, else ``multihop`` (next hop resolved recursively over the
    underlay's routes). With ``ipip``, routes to peers off this host's segment go through
    tunl0 with the peer's public IP as an onlink gateway (Calico's IPIP cross-subnet).
    """
    bgp = plan.get("bgp")
    if not bgp:
        raise PlanError(["the fabric plan has no BGP section (fabric_backend is %s, not bgp)" % plan.get("backend")])
    speakers = bgp["speakers"]
    if host not in speakers:
        _me(plan, host)  # names the host if it isn't in the plan at all
        raise PlanError(["host %s is not a BGP speaker of the fabric plan" % host])
    me = speakers[host]
    mine_host = plan["hosts"].get(host) or {}
    mine = _nets(me, mine_host.get("public_net"))
    mode = bgp["mode"]
    used: set = set()
    sessions: List[Dict[str, Any]] = []
    fabric_pw = "FABRIC_PW" if bgp.get("password") else None

    # A plain host announces only its own subnet, a blackhole in BIRD: `next hop self` gives it
    # a usable next hop on every session. A reflector keeps the next hops of the routes it
    # reflects inside its rack, and rewrites those it learned by eBGP (`next hop self ebgp`).
    plain_nh = False if me["reflector"] else True

    def add(peer_name: str, rr_client: bool = False) -> None:
        peer = speakers[peer_name]
        theirs = _nets(peer, (plan["hosts"].get(peer_name) or {}).get("public_net"))
        address, local, direct = _pick(mine, theirs, peer["router_id"])
        sessions.append({
            "name": _proto_name("fabric_", peer_name, used),
            "description": "crosshost fabric: %s" % peer_name,
            "peer": peer_name,
            "address": address,
            "local_address": local,
            "asn": peer["asn"],
            "ibgp": peer["asn"] == me["asn"],
            "direct": direct,
            "rr_client": rr_client,
            "rr_cluster_id": bgp["clusters"].get(me["rack"]) if rr_client else None,
            "next_hop_self": "ebgp" if rr_client else plain_nh,
            "allow_local_as": False,
            "password": fabric_pw,
        })

    if mode == "mesh":
        for name, peer in speakers.items():
            if name != host and not peer["router"]:
                add(name)
    elif mode == "route-reflector":
        for name, peer in speakers.items():
            if name == host:
                continue
            same_rack = peer["rack"] == me["rack"]
            if me["reflector"]:
                if same_rack and not peer["reflector"]:
                    add(name, rr_client=True)
                elif peer["reflector"]:
                    add(name)
            elif same_rack and peer["reflector"]:
                add(name)
    for index, peer in enumerate(me["peers"]):
        router = netaddr.IPAddress(peer["address"])
        local = next((str(a) for a, net in mine if router in net), None)
        sessions.append({
            "name": _proto_name("peer_", peer["address"], used),
            "description": "crosshost fabric: router %s" % peer["address"],
            "peer": None,
            "address": peer["address"],
            "local_address": local,
            "asn": peer["asn"],
            "ibgp": peer["asn"] == me["asn"],
            "direct": local is not None,
            "rr_client": False,
            "rr_cluster_id": None,
            "next_hop_self": plain_nh,
            # Hosts share an AS: a router passing one host's subnet to another puts that AS in the
            # path, which BGP's loop check would reject (Calico needs the same on shared-AS hosts).
            "allow_local_as": peer["asn"] != me["asn"],
            "password": "FABRIC_PW_PEER_%d" % index if peer["password"] else fabric_pw,
        })

    network = netaddr.IPNetwork(plan["network"])
    subnet = mine_host.get("subnet")
    ipip = None
    if bgp.get("encap") == "ipip":
        segments = [str(n) for _a, n in mine]
        ipip = {
            "device": IPIP_DEVICE,
            # Calico gives tunl0 an address of the host's block: the docker0 gateway would clash,
            # so the block's network address (unused by Docker) is the tunnel's source inside.
            "address": "%s/32" % netaddr.IPNetwork(subnet).network if subnet else None,
            "mtu": int(mine_host.get("mtu") or 1480),
            # Routes whose next hop lies on none of these go via tunl0, onlink.
            "segments": sorted(set(segments)),
        }
    # A router without containers (a reflector the collection configures) forwards the fabric's
    # traffic: IPv4 forwarding and FORWARD accepts for the cluster network (a DROP policy, e.g.
    # Docker's, would drop it otherwise). Fabric hosts get the same from the forward role.
    router_forward = None
    if me["router"]:
        router_forward = [{
            "table": "filter",
            "chain": "FABRIC-INPUT",
            "hook": "INPUT",
            "position": "first",
            "rules": front_door_rules([s["address"] for s in sessions]),
        }, {
            "table": "filter",
            "chain": "FABRIC-FORWARD",
            "hook": "FORWARD",
            "position": "first",
            "rules": ["-s %s -j ACCEPT" % network, "-d %s -j ACCEPT" % network],
        }]
    return {
        "router_id": me["router_id"],
        "router_forward": router_forward,
        "asn": me["asn"],
        "mode": mode,
        "reflector": bool(me["reflector"]),
        "network": str(network),
        # Learned routes accepted from peers: inside the cluster network, never our own subnet.
        "accept": {"network": str(network), "min_len": network.prefixlen, "max_len": int(plan["subnet_len"])},
        "subnet": subnet,
        "graceful_restart": bool(bgp.get("graceful_restart", True)),
        "route_protocol": int(plan["route_protocol"]),
        "underlay_exclude": list(NON_UNDERLAY_IFACES),
        "sessions": sessions,
        "ipip": ipip,
    }
