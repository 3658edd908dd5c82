# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric planner: inventory in, per-host desired state out.

Pure Python on netaddr. It imports nothing from Ansible so that it can be
unit- and property-tested on its own; the controller-side plugins of the
collection are thin wrappers around the functions below.

Everything with network logic lives here: subnet allocation (by arithmetic,
never by materialising ``IPNetwork.subnet()``), validation, the per-host VTEP
MAC, MTUs, and the per-peer entries each backend programs.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field, make_dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

try:
    import netaddr
except ImportError:  # the controller-side plugins check NETADDR_MISSING before any use
    netaddr = None

from ansible_collections.crosshost.fabric.plugins.plugin_utils import options

# One sentence for a controller without netaddr (the action plugin and the filters raise it).
NETADDR_MISSING = (
    "crosshost.fabric needs the Python package netaddr on the controller: install it into the Python "
    "that runs Ansible (%s -m pip install netaddr)" % sys.executable
)

BACKENDS = options.BY_NAME["backend"].choices

# Bytes of encapsulation each backend adds on the wire (flannel's figures).
BACKEND_OVERHEAD = {"vxlan": 50, "udp": 28, "host-gw": 0, "bgp": 0}

# Ranges the cluster network may never overlap, whatever the user says.
BUILTIN_RESERVED = ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")

# Extendable by the user (fabric_reserved_networks); Docker's default bridge.
DEFAULT_RESERVED = options.DEFAULT_RESERVED

DEFAULT_ROUTE_PROTOCOL = options.DEFAULT_ROUTE_PROTOCOL
MAX_SUBNET_LEN = {4: 30, 6: 126}


class PlanError(ValueError):
    """Bad input. ``problems`` lists every fault found, each naming hosts and values."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("fabric plan rejected:\n  - " + "\n  - ".join(self.problems))


# Cluster-wide settings (the ``fabric_*`` group variables): fields, types and defaults come from the
# one table of options (plugin_utils/options.py), as do the docs; Settings(network=..., ...) as usual.
Settings = make_dataclass(
    "Settings",
    [(o.setting, o.py_type, field(default=o.default if not isinstance(o.default, list) else tuple(o.default)))
     for o in options.SETTINGS],
    frozen=True,
)
Settings.__doc__ = "Cluster-wide settings (the ``fabric_*`` group variables); defaults in options.OPTIONS."


@dataclass
class HostInput:
    """What the inventory (and, where gathered or cached, facts) say of one host."""

    name: str
    public_ip: Optional[str] = None
    iface: Optional[str] = None
    iface_mtu: Optional[int] = None
    # The host's own networks, as CIDRs (its interfaces' networks when known).
    networks: List[str] = field(default_factory=list)
    # The network of the interface that holds the public IP, when known.
    public_net: Optional[str] = None
    pinned_subnet: Optional[str] = None
    # Kernel release from facts (e.g. "5.4.0-42-generic"), when known.
    kernel: Optional[str] = None
    # What the host runs now, when known: {source: "address/len"}, e.g. docker0's address from
    # facts and FLANNEL_SUBNET from /run/flannel/subnet.env. Only addresses inside the cluster
    # network count (docker0's default 172.17.0.1/16 is not "in the fabric").
    running: Dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- #
# Parsing helpers
# --------------------------------------------------------------------------- #


def _parse_net(value: Any) -> Optional[netaddr.IPNetwork]:
    try:
        if value is None or isinstance(value, bool):
            return None
        text = str(value).strip()
        if "/" not in text:
            return None
        return netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def _parse_ip(value: Any) -> Optional[netaddr.IPAddress]:
    try:
        if value is None or isinstance(value, bool):
            return None
        text = str(value).strip()
        if "/" in text:
            return None
        return netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def as_int(value: Any) -> Optional[int]:
    """An integer from an int, an integral float (24.0) or a decimal string ("24"); None otherwise.

    24.9, "24.9", booleans and anything else are not integers (int() would truncate 24.9 to 24).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip() if value is not None else ""
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def is_ip(value: Any) -> bool:
    """True for a plain IP address (no prefix), used to pick a default public IP."""
    return _parse_ip(value) is not None


def subnet_sort_key(cidr: Any) -> Tuple[int, str]:
    """Sort CIDR strings by address (unparseable ones first, by text)."""
    net = _parse_net(cidr)
    return (net.first if net is not None else -1, str(cidr))


def _overlaps(a: netaddr.IPNetwork, b: netaddr.IPNetwork) -> bool:
    return a.version == b.version and a.first <= b.last and b.first <= a.last


@dataclass(frozen=True)
class Space:
    """The cluster network cut into equal subnets, indexed by arithmetic."""

    network: netaddr.IPNetwork
    subnet_len: int
    lo: int  # lowest index handed out
    hi: int  # highest index handed out

    @property
    def bits(self) -> int:
        return 32 if self.network.version == 4 else 128

    @property
    def block(self) -> int:
        return 1 << (self.bits - self.subnet_len)

    def subnet(self, index: int) -> netaddr.IPNetwork:
        first = self.network.first + index * self.block
        return netaddr.IPNetwork((first, self.subnet_len), version=self.network.version)

    def index_of(self, subnet: netaddr.IPNetwork) -> Optional[int]:
        """Index of an aligned subnet of the right length inside the network, else None."""
        if subnet.prefixlen != self.subnet_len or subnet.version != self.network.version:
            return None
        if subnet.value != subnet.first:
            return None
        if not (self.network.first <= subnet.first <= self.network.last):
            return None
        offset = subnet.first - self.network.first
        if offset % self.block:
            return None
        return offset // self.block


def check_settings(settings: Settings) -> Tuple[Space, List[str]]:
    """Validate the cluster settings; return the subnet space and the problems found."""
    problems: List[str] = []
    net = _parse_net(settings.network)
    if net is None:
        problems.append("fabric_network %r is not a valid CIDR network (e.g. 10.244.0.0/16)" % (settings.network,))
        return None, problems  # type: ignore[return-value]
    if net.version != 4:
        problems.append(
            "fabric_network %s is IPv6: Docker's bip and the fabric backends need an IPv4 network" % net
        )
        return None, problems  # type: ignore[return-value]
    if net.value != net.first:
        problems.append(
            "fabric_network %s is not a network address (host bits set; did you mean %s?)" % (net, net.cidr)
        )
    if settings.backend not in BACKENDS:
        problems.append(
            "fabric_backend %r is unknown (choose one of: %s)" % (settings.backend, ", ".join(BACKENDS))
        )
    length = as_int(settings.subnet_len)
    if length is None:
        problems.append("fabric_subnet_len %r is not an integer" % (settings.subnet_len,))
        return None, problems  # type: ignore[return-value]
    max_len = MAX_SUBNET_LEN[net.version]
    if length <= net.prefixlen:
        problems.append(
            "fabric_subnet_len /%d must be longer than the prefix of fabric_network %s" % (length, net.cidr)
        )
    elif length > max_len:
        problems.append(
            "fabric_subnet_len /%d is longer than /%d: no room for a gateway and containers" % (length, max_len)
        )
    for builtin in BUILTIN_RESERVED:
        r = netaddr.IPNetwork(builtin)
        if _overlaps(net, r):
            problems.append("fabric_network %s overlaps the reserved range %s" % (net.cidr, r))
    for value in settings.reserved or ():
        r = _parse_net(value)
        if r is None:
            problems.append("fabric_reserved_networks entry %r is not a valid CIDR" % (value,))
        elif _overlaps(net, r):
            problems.append(
                "fabric_network %s overlaps the reserved range %s (fabric_reserved_networks)" % (net.cidr, r.cidr)
            )
    if not 1 <= int(settings.vxlan_vni) <= 16777215:
        problems.append("fabric_vxlan_vni %r is outside 1..16777215" % (settings.vxlan_vni,))
    if _tristate(settings.vxlan_checksum_offload_workaround) is None:
        problems.append(
            "fabric_vxlan_checksum_offload_workaround %r must be auto, true or false"
            % (settings.vxlan_checksum_offload_workaround,)
        )
    if not 1 <= int(settings.vxlan_port) <= 65535:
        problems.append("fabric_vxlan_port %r is outside 1..65535" % (settings.vxlan_port,))
    if not 1 <= int(settings.udp_port) <= 65535:
        problems.append("fabric_udp_port %r is outside 1..65535" % (settings.udp_port,))
    if not 1 <= int(settings.route_protocol) <= 255 or int(settings.route_protocol) in (1, 2, 3, 4):
        problems.append(
            "fabric_route_protocol %r must be 5..255 (1-4 belong to the kernel)" % (settings.route_protocol,)
        )
    if problems:
        return None, problems  # type: ignore[return-value]

    net = net.cidr
    count = 1 << (length - net.prefixlen)
    probe = Space(net, length, 0, count - 1)
    lo, hi = 1, count - 1  # flannel: the first subnet of the network is not handed out
    for label, value in (("fabric_subnet_min", settings.subnet_min), ("fabric_subnet_max", settings.subnet_max)):
        if value in (None, ""):
            continue
        sub = _parse_net(value)
        if sub is None and _parse_ip(value) is not None:
            sub = netaddr.IPNetwork("%s/%d" % (value, length))
        idx = probe.index_of(sub) if sub is not None else None
        if idx is None:
            problems.append(
                "%s %r is not an aligned /%d subnet of fabric_network %s" % (label, value, length, net)
            )
        elif label == "fabric_subnet_min":
            lo = idx
        else:
            hi = idx
    if not problems and lo > hi:
        problems.append(
            "fabric_subnet_min %s is above fabric_subnet_max %s" % (probe.subnet(lo), probe.subnet(hi))
        )
    return Space(net, length, lo, hi), problems


# Interfaces the fabric itself creates: their networks are ours, not the host's.
FABRIC_IFACES = re.compile(r"^(docker0|cni0|flannel[.0-9]*|fabric[-_.].*)$")


def fact_key(ifname: Any) -> str:
    """The facts' key of an interface, "-" and "." as "_" (flannel.1: flannel_1). The host side's twin is
    module_utils/host_facts.py's fact_key (a managed host has no planner)."""
    return str(ifname).replace("-", "_").replace(".", "_")


def iface_facts(facts: Mapping[str, Any], ifname: Any) -> Mapping[str, Any]:
    """The facts of one interface: under fact_key (fabric_host_state, and setup for "-"), or under the
    interface's own name (setup keys "eth0.100" so)."""
    name = str(ifname)
    found = facts.get(fact_key(name)) or facts.get(name)
    return found if isinstance(found, Mapping) else {}


def host_from_facts(
    name: str,
    facts: Optional[Mapping[str, Any]] = None,
    public_ip: Any = None,
    ansible_host: Any = None,
    iface: Any = None,
    pinned_subnet: Any = None,
    iface_mtu: Any = None,
    subnet_env: Any = None,
) -> HostInput:
    """Build a HostInput from inventory values and (possibly empty) Ansible facts.

    Public IP: ``fabric_public_ip``, else ``ansible_host`` when it is an IP, else
    the default IPv4 address from facts. Interface: ``fabric_iface``, else the one
    holding the public IP. The host's own networks come from the facts of every
    interface the fabric did not create (docker0, flannel.N, cni0 are skipped).
    What the host runs now (``running``): docker0's IPv4 address from facts and
    FLANNEL_SUBNET from the text of /run/flannel/subnet.env, when given.
    """
    facts = facts or {}
    if public_ip in (None, ""):
        if is_ip(ansible_host):
            public_ip = str(ansible_host)
        else:
            public_ip = (facts.get("default_ipv4") or {}).get("address")
    networks: List[str] = []
    found_iface, public_net, found_mtu = None, None, None
    for ifname in facts.get("interfaces") or ():
        info = iface_facts(facts, ifname)
        addrs = []
        v4 = info.get("ipv4")
        if isinstance(v4, dict):
            addrs.append(v4)
        addrs += [a for a in info.get("ipv4_secondaries") or () if isinstance(a, dict)]
        for a in addrs:
            if not a.get("address") or not a.get("netmask"):
                continue
            cidr = str(netaddr.IPNetwork("%s/%s" % (a["address"], a["netmask"])).cidr)
            if public_ip and str(a["address"]) == str(public_ip):
                found_iface, public_net, found_mtu = ifname, cidr, info.get("mtu")
            if ifname != "lo" and not FABRIC_IFACES.match(str(ifname)):
                networks.append(cidr)
    running: Dict[str, str] = {}
    docker0 = (facts.get("docker0") or {}).get("ipv4")
    if isinstance(docker0, dict) and docker0.get("address") and docker0.get("netmask"):
        try:
            net = netaddr.IPNetwork("%s/%s" % (docker0["address"], docker0["netmask"]))
            running["docker0"] = "%s/%d" % (net.ip, net.prefixlen)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            pass
    env_subnet = parse_subnet_env(subnet_env).get("FLANNEL_SUBNET")
    if env_subnet:
        running[SUBNET_ENV] = env_subnet
    iface = iface or found_iface
    if iface and iface != found_iface:
        info = iface_facts(facts, iface)
        found_mtu = info.get("mtu")
    return HostInput(
        name=name,
        public_ip=None if public_ip in (None, "") else str(public_ip),
        iface=iface or None,
        iface_mtu=iface_mtu or found_mtu,
        networks=sorted(set(networks)),
        public_net=public_net,
        pinned_subnet=pinned_subnet,
        kernel=str(facts["kernel"]) if facts.get("kernel") else None,
        running=running,
    )


SUBNET_ENV = "/run/flannel/subnet.env"


def parse_subnet_env(text: Any) -> Dict[str, str]:
    """flannel's subnet.env (KEY=value lines) as a dict; empty for no text."""
    out: Dict[str, str] = {}
    for line in str(text or "").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


# --------------------------------------------------------------------------- #
# Leases and allocation
# --------------------------------------------------------------------------- #


def check_leases(space: Space, leases: Mapping[str, str]) -> Tuple[Dict[str, int], List[str]]:
    """Turn a ledger's {host: subnet} into {host: index}; report leases edited into faults."""
    problems: List[str] = []
    indexes: Dict[str, int] = {}
    owner: Dict[int, str] = {}
    for host in sorted(leases):
        value = leases[host]
        sub = _parse_net(value)
        idx = space.index_of(sub) if sub is not None else None
        if idx is None:
            problems.append(
                "lease file: host %s holds %r, which is not an aligned /%d subnet of %s"
                % (host, value, space.subnet_len, space.network)
            )
            continue
        if idx in owner:
            problems.append(
                "lease file: hosts %s and %s both hold %s" % (owner[idx], host, space.subnet(idx))
            )
            continue
        owner[idx] = host
        indexes[host] = idx
    return indexes, problems


def allocate(
    space: Space,
    hosts: Sequence[str],
    leases: Mapping[str, int],
    pins: Optional[Mapping[str, int]] = None,
    released: Sequence[int] = (),
    prefer: Optional[Mapping[str, int]] = None,
) -> Dict[str, int]:
    """Give each host a subnet index.

    Leased hosts keep their index (leases of hosts not in ``hosts`` stay reserved);
    pinned hosts take their pin; every other host, in name order, takes the lowest
    never-used free index in [space.lo, space.hi]. ``released`` lists indexes released
    earlier, in the order they may be handed out again (oldest release first): they go
    only to hosts for which no never-used index is left, because the host that held one
    may still be up with it (flannel keeps an expired lease 24 h for the same reason). A
    new host whose own released index is in ``prefer`` and still free takes it back.
    Raises PlanError when the space runs out. Runs in O(n log n): a sorted walk over the
    taken indexes, no subnet list.
    """
    pins = pins or {}
    prefer = prefer or {}
    result: Dict[str, int] = {}
    taken = set(leases.values()) | set(pins.values())
    for host in hosts:
        if host in leases:
            result[host] = leases[host]
        elif host in pins:
            result[host] = pins[host]
    todo = sorted(h for h in hosts if h not in result)
    if not todo:
        return result
    spare = [i for i in dict.fromkeys(released) if i not in taken]
    spare_set = set(spare)
    for host in todo:
        idx = prefer.get(host)
        if idx is not None and idx in spare_set:
            result[host] = idx
            spare_set.discard(idx)
            taken.add(idx)
    todo = [h for h in todo if h not in result]
    if not todo:
        return result
    spare = [i for i in spare if i in spare_set and space.lo <= i <= space.hi]
    blocked = sorted(i for i in taken | spare_set if space.lo <= i <= space.hi)
    never_used = (space.hi - space.lo + 1) - len(blocked)
    free_total = never_used + len(spare)
    if len(todo) > free_total:
        raise PlanError(
            [
                "%d new hosts need a subnet but only %d of the %d /%d subnets of %s between %s and %s are free "
                "(first hosts without one: %s)"
                % (
                    len(todo),
                    max(free_total, 0),
                    space.hi - space.lo + 1,
                    space.subnet_len,
                    space.network,
                    space.subnet(space.lo),
                    space.subnet(space.hi),
                    ", ".join(todo[max(free_total, 0):][:5]),
                )
            ]
        )
    candidate = space.lo
    b = 0
    for n, host in enumerate(todo):
        if n >= never_used:
            result[host] = spare[n - never_used]
            continue
        while b < len(blocked) and blocked[b] < candidate:
            b += 1
        while b < len(blocked) and blocked[b] == candidate:
            candidate += 1
            b += 1
        result[host] = candidate
        candidate += 1
    return result


# --------------------------------------------------------------------------- #
# The plan
# --------------------------------------------------------------------------- #


def vtep_mac(subnet: netaddr.IPNetwork) -> str:
    """Deterministic, locally administered unicast MAC for a host's VTEP.

    ``0e:fa`` + the four bytes of the subnet's network address: unique across the
    fabric because subnets are, and known to every peer from the plan alone.
    """
    octets = subnet.first.to_bytes(16 if subnet.version == 6 else 4, "big")
    if subnet.version == 6:
        octets = hashlib.sha256(octets).digest()[:4]
    return "0e:fa:" + ":".join("%02x" % o for o in octets)


# (first, last, why) as integers: one comparison each, no netaddr object per host.
_SPECIAL_V4 = tuple(
    (netaddr.IPNetwork(cidr).first, netaddr.IPNetwork(cidr).last, why)
    for cidr, why in (
        ("255.255.255.255/32", "is the broadcast address"),
        ("0.0.0.0/8", "is not a host address"),
        ("127.0.0.0/8", "is loopback"),
        ("169.254.0.0/16", "is link-local"),
        ("224.0.0.0/4", "is multicast"),
        ("240.0.0.0/4", "is reserved"),
    )
) if netaddr is not None else ()  # without netaddr the plugins stop first (NETADDR_MISSING)


def public_ip_fault(ip: netaddr.IPAddress, public_net: Any = None) -> Optional[str]:
    """Why ``ip`` cannot be a host's underlay address (None when it is a unicast IPv4 host address).

    ``public_net`` is the network of the interface holding it, when known: its network and
    broadcast addresses are not host addresses either.
    """
    if ip.version == 6:
        if ip.is_ipv4_mapped():
            return "is an IPv4-mapped IPv6 address (write %s)" % ip.ipv4()
        return "is IPv6; the fabric needs an IPv4 underlay address"
    value = int(ip)
    for first, last, why in _SPECIAL_V4:
        if first <= value <= last:
            return why
    if public_net in (None, ""):
        return None
    net = _parse_net(public_net)
    if net is not None and net.version == 4 and net.prefixlen <= 30 and ip in net.cidr:
        if ip == net.cidr.broadcast:
            return "is the broadcast address of its network %s" % net.cidr
        if ip == net.cidr.network:
            return "is the network address of %s" % net.cidr
    return None


def _check_hosts(space: Space, hosts: Sequence[HostInput]) -> Tuple[Dict[str, int], List[str]]:
    problems: List[str] = []
    seen_ip: Dict[str, List[str]] = {}
    pins: Dict[str, int] = {}
    pin_owner: Dict[int, str] = {}
    for h in hosts:
        ip = _parse_ip(h.public_ip)
        if h.public_ip in (None, ""):
            problems.append(
                "host %s has no public IP: set fabric_public_ip, or ansible_host to an IP, or gather facts" % h.name
            )
        elif ip is None:
            problems.append("host %s: fabric_public_ip %r is not an IP address" % (h.name, h.public_ip))
        else:
            fault = public_ip_fault(ip, h.public_net)
            if fault:
                problems.append("host %s: public IP %s %s" % (h.name, h.public_ip, fault))
            if ip.version == 6 and ip.is_ipv4_mapped():
                ip = ip.ipv4()
            seen_ip.setdefault(str(ip), []).append(h.name)
            if ip in space.network:
                problems.append(
                    "host %s: its public IP %s lies inside fabric_network %s" % (h.name, ip, space.network)
                )
        for value in h.networks:
            own = _parse_net(value)
            if own is not None and own.prefixlen > 0 and _overlaps(own.cidr, space.network):
                problems.append(
                    "host %s: its own network %s overlaps fabric_network %s" % (h.name, own.cidr, space.network)
                )
        if h.pinned_subnet not in (None, ""):
            sub = _parse_net(h.pinned_subnet)
            idx = space.index_of(sub) if sub is not None else None
            if sub is None:
                problems.append("host %s: fabric_subnet %r is not a valid CIDR" % (h.name, h.pinned_subnet))
            elif not (space.network.first <= sub.first and sub.last <= space.network.last):
                problems.append(
                    "host %s: fabric_subnet %s is outside fabric_network %s" % (h.name, sub, space.network)
                )
            elif idx is None:
                problems.append(
                    "host %s: fabric_subnet %s is not an aligned /%d subnet of %s (did you mean %s?)"
                    % (h.name, sub, space.subnet_len, space.network,
                       netaddr.IPNetwork("%s/%d" % (sub.ip, space.subnet_len)).cidr)
                )
            elif idx in pin_owner:
                problems.append(
                    "hosts %s and %s are both pinned to fabric_subnet %s" % (pin_owner[idx], h.name, space.subnet(idx))
                )
            else:
                pin_owner[idx] = h.name
                pins[h.name] = idx
    for ip, names in sorted(seen_ip.items()):
        if len(names) > 1:
            problems.append("duplicate public IP %s on hosts %s" % (ip, ", ".join(sorted(names))))
    return pins, problems


def _running(space: Space, hosts: Sequence[HostInput]) -> Tuple[Dict[str, Tuple[int, str]], List[str]]:
    """{host: (index, evidence)} for hosts that already run a subnet of the cluster network.

    Only addresses inside the cluster network count: docker0's default 172.17.0.1/16 means
    "not in the fabric yet". Evidence inside the network that is not one aligned subnet of the
    right length, or two sources that disagree, is refused: the host runs something the plan
    cannot keep.
    """
    found: Dict[str, Tuple[int, str]] = {}
    problems: List[str] = []
    for h in hosts:
        inside = []
        for source, value in (h.running or {}).items():
            net = _parse_net(value)
            if net is None:
                problems.append("host %s: %s holds %r, which is not an address/length" % (h.name, source, value))
                continue
            if net.version == 4 and net.ip in space.network:
                inside.append((source, value, net))
        if not inside:
            continue
        detail = ", ".join("%s %s" % (entry[0], entry[1]) for entry in inside)
        if len({str(entry[2].cidr) for entry in inside}) > 1:
            problems.append("host %s runs two subnets: %s; fix the host before planning" % (h.name, detail))
            continue
        idx = space.index_of(inside[0][2].cidr)
        if idx is None:
            problems.append(
                "host %s runs %s inside fabric_network %s, which is not an aligned /%d subnet of it; "
                "the plan cannot keep it and will not move it silently"
                % (h.name, detail, space.network, space.subnet_len)
            )
            continue
        found[h.name] = (idx, detail)
    return found, problems


@dataclass
class LeasePlan:
    """What :func:`plan_fabric` decides: the plan, the new leases, the released subnets, the adoptions."""

    plan: Dict[str, Any]
    leases: Dict[str, str]
    # {subnet: {"host": name, "released_at": text}}: released subnets, handed out last.
    released: Dict[str, Dict[str, str]]
    # {host: subnet}: hosts without a lease that already ran a subnet (docker0, subnet.env) and keep it.
    adopted: Dict[str, str]


def build_plan(
    settings: Settings,
    hosts: Sequence[HostInput],
    leases: Optional[Mapping[str, str]] = None,
    release: Iterable[str] = (),
) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Validate everything and compute the plan: ``(plan, new_leases)``; see :func:`plan_fabric`."""
    result = plan_fabric(settings, hosts, leases, release)
    return result.plan, result.leases


def plan_fabric(
    settings: Settings,
    hosts: Sequence[HostInput],
    leases: Optional[Mapping[str, str]] = None,
    release: Iterable[str] = (),
    released: Optional[Mapping[str, Mapping[str, Any]]] = None,
    now: str = "",
) -> LeasePlan:
    """Validate everything and compute the plan.

    ``plan`` is JSON-serialisable: the settings and, per host, its public IP, subnet,
    docker0 gateway, MTU, underlay interface and VTEP MAC. ``leases`` is the ledger to
    write ({host: subnet}): the old leases minus the released ones plus the new hosts'.
    ``released`` ({subnet: {host, released_at}}) are subnets released earlier: new hosts
    take never-used subnets first and these last (oldest first). A host without a lease
    that already runs a subnet of the network (``HostInput.running``) keeps it (adopted);
    a leased host running another subnet stops the plan. Raises PlanError listing every
    problem; nothing is returned (so nothing is written) on bad input.
    """
    space, problems = check_settings(settings)
    if space is None or problems:
        raise PlanError(problems)
    names = [h.name for h in hosts]
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        problems.append("hosts listed twice: %s" % ", ".join(dupes))
    pins, host_problems = _check_hosts(space, hosts)
    problems += host_problems
    leases = dict(leases or {})
    release = sorted(set(release))
    in_inventory = set(names)
    still_here = [h for h in release if h in in_inventory]
    if still_here:
        problems.append(
            "cannot release the lease of hosts still in the fabric group: %s (remove them from the inventory first)"
            % ", ".join(still_here)
        )
    released_out: Dict[str, Dict[str, str]] = {}
    for subnet, entry in (released or {}).items():
        sub = _parse_net(subnet)
        if sub is not None and space.index_of(sub) is not None:
            released_out[str(sub)] = {k: str(v) for k, v in dict(entry or {}).items()}
        else:
            problems.append(
                "lease file: released subnet %r is not an aligned /%d subnet of %s" % (subnet, space.subnet_len,
                                                                                       space.network)
            )
    for host in release:
        if host in leases and _parse_net(leases[host]) is not None:
            released_out[str(_parse_net(leases[host]).cidr)] = {"host": host, "released_at": now}
        leases.pop(host, None)
    lease_idx, lease_problems = check_leases(space, leases)
    problems += lease_problems
    lease_owner = {idx: host for host, idx in lease_idx.items()}
    for host, idx in sorted(pins.items()):
        if host in lease_idx and lease_idx[host] != idx:
            problems.append(
                "host %s is pinned to fabric_subnet %s but holds the lease %s; leased hosts are never renumbered "
                "(remove the host, release its lease, then add it back with the pin)"
                % (host, space.subnet(idx), space.subnet(lease_idx[host]))
            )
        elif host not in lease_idx and not space.lo <= idx <= space.hi:
            problems.append(
                "host %s: fabric_subnet %s is outside fabric_subnet_min..fabric_subnet_max (%s..%s)"
                % (host, space.subnet(idx), space.subnet(space.lo), space.subnet(space.hi))
            )
        other = lease_owner.get(idx)
        if other is not None and other != host:
            problems.append(
                "host %s is pinned to fabric_subnet %s, which is leased to %s" % (host, space.subnet(idx), other)
            )
    running, running_problems = _running(space, hosts)
    problems += running_problems
    pin_owner = {idx: host for host, idx in pins.items()}
    claims: Dict[int, List[str]] = {}
    for host, (idx, detail) in sorted(running.items()):
        sub = space.subnet(idx)
        if host in lease_idx:
            if lease_idx[host] != idx:
                problems.append(
                    "host %s runs %s (%s) but its lease is %s; a running host is never moved silently: restore the "
                    "lease file (or this host's entry), or take the host out of the fabric first"
                    % (host, sub, detail, space.subnet(lease_idx[host]))
                )
        elif host in pins:
            if pins[host] != idx:
                problems.append(
                    "host %s runs %s (%s) but is pinned to %s" % (host, sub, detail, space.subnet(pins[host]))
                )
        elif idx in lease_owner:
            problems.append("host %s runs %s (%s), which is leased to %s" % (host, sub, detail, lease_owner[idx]))
        elif idx in pin_owner:
            problems.append("host %s runs %s (%s), which is pinned for %s" % (host, sub, detail, pin_owner[idx]))
        else:
            claims.setdefault(idx, []).append(host)
    adopted_idx: Dict[str, int] = {}
    for idx, owners in sorted(claims.items()):
        if len(owners) > 1:
            problems.append("hosts %s both run %s; only one can keep it" % (" and ".join(sorted(owners)),
                                                                            space.subnet(idx)))
        else:
            adopted_idx[owners[0]] = idx
    if problems:
        raise PlanError(problems)
    held = dict(lease_idx)
    held.update(adopted_idx)
    released_idx = {space.index_of(netaddr.IPNetwork(s)): e for s, e in released_out.items()}
    order = sorted(released_idx, key=lambda i: (released_idx[i].get("released_at", ""), i))
    prefer = {e.get("host"): i for i, e in released_idx.items() if e.get("host")}
    assigned = allocate(space, names, held, pins, released=order, prefer=prefer)
    for idx in set(assigned.values()) | set(held.values()):
        released_idx.pop(idx, None)

    by_name = {h.name: h for h in hosts}
    overhead = BACKEND_OVERHEAD[settings.backend]
    plan_hosts: Dict[str, Dict[str, Any]] = {}
    for name in names:
        h = by_name[name]
        sub = space.subnet(assigned[name])
        iface_mtu = int(h.iface_mtu) if h.iface_mtu else int(settings.default_mtu)
        public_ip = netaddr.IPAddress(h.public_ip)
        plan_hosts[name] = {
            "public_ip": str(public_ip),
            "public_net": str(_parse_net(h.public_net).cidr) if _parse_net(h.public_net) is not None else None,
            "subnet": str(sub),
            "gateway": str(netaddr.IPAddress(sub.first + 1, sub.version)),
            "vtep_ip": str(sub.network),
            "mtu": iface_mtu - overhead,
            "iface": h.iface,
            "vtep_mac": vtep_mac(sub),
            "kernel": h.kernel,
        }
    if settings.backend == "host-gw":
        problems = hostgw_adjacency(plan_hosts)
        if problems:
            raise PlanError(problems)
    new_leases = {host: str(space.subnet(idx)) for host, idx in lease_idx.items()}
    for name in names:
        new_leases[name] = plan_hosts[name]["subnet"]
    plan = {
        "network": str(space.network),
        "subnet_len": space.subnet_len,
        "backend": settings.backend,
        "vxlan_vni": int(settings.vxlan_vni),
        "vxlan_port": int(settings.vxlan_port),
        "vxlan_direct_routing": bool(settings.vxlan_direct_routing),
        "vxlan_checksum_offload_workaround": _tristate(settings.vxlan_checksum_offload_workaround),
        "ip_masq": bool(settings.ip_masq),
        "route_protocol": int(settings.route_protocol),
        "hosts": plan_hosts,
    }
    if settings.backend == "udp":
        plan["udp_port"] = int(settings.udp_port)
    return LeasePlan(
        plan=plan,
        leases=dict(sorted(new_leases.items())),
        released={str(space.subnet(i)): e for i, e in sorted(released_idx.items())},
        adopted={host: str(space.subnet(idx)) for host, idx in sorted(adopted_idx.items())},
    )


# --------------------------------------------------------------------------- #
# Per-host desired state
# --------------------------------------------------------------------------- #


def _me(plan: Mapping[str, Any], host: str) -> Mapping[str, Any]:
    try:
        return plan["hosts"][host]
    except KeyError:
        raise PlanError(["host %s is not in the fabric plan (is it in the group fabric?)" % host]) from None


def vxlan_device(plan: Mapping[str, Any]) -> str:
    return "flannel.%d" % int(plan["vxlan_vni"])


def _tristate(value: Any) -> Optional[str]:
    """'auto', 'true' or 'false' from a string or a boolean (YAML's yes/no too); None if neither."""
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return "true"
    if text in ("false", "no", "off", "0"):
        return "false"
    return "auto" if text == "auto" else None


def kernel_version(release: Any) -> Optional[Tuple[int, int]]:
    """(major, minor) of a kernel release string such as ``5.4.0-42-generic``; None if unknown."""
    match = re.match(r"^(\d+)\.(\d+)", str(release or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def needs_checksum_workaround(mode: Any, kernel: Any) -> bool:
    """Whether to turn TX checksum offload off on the VTEP.

    The kernel bug behind flannel #1279 / calico #3145 (VXLAN packets with bad UDP checksums
    after NAT, seen as 63-second stalls) was fixed in 5.7; Calico disables the offload only
    on older kernels. ``auto`` does the same, and errs on the safe side when the kernel is
    unknown. The offload costs throughput: about 5x in this project's lab.
    """
    mode = _tristate(mode)
    if mode in ("true", "false"):
        return mode == "true"
    version = kernel_version(kernel)
    return version is None or version < (5, 7)


def vxlan_state(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    """Everything ``crosshost.fabric.fabric_vxlan`` must program on ``host``.

    Per peer, flannel's three entries: a permanent neighbour for the peer's VTEP
    address, a permanent FDB entry sending the peer's VTEP MAC to its public IP,
    and an onlink route to the peer's subnet via its VTEP address. With direct
    routing, peers whose public IP lies on this host's own segment also carry a
    ``direct`` alternative (the module confirms it with ``ip route get``).
    O(peers): no IP arithmetic per peer beyond one membership test.
    """
    me = _me(plan, host)
    if not me.get("iface"):
        raise PlanError(["host %s: no underlay interface known (set fabric_iface or gather facts)" % host])
    device = vxlan_device(plan)
    direct_net = None
    if plan.get("vxlan_direct_routing") and me.get("public_net"):
        direct_net = netaddr.IPNetwork(me["public_net"])
    lo, hi = (direct_net.first, direct_net.last) if direct_net is not None else (1, 0)
    neighbours, fdb, routes = [], [], []
    for name, peer in plan["hosts"].items():
        if name == host:
            continue
        neighbours.append({"dst": peer["vtep_ip"], "lladdr": peer["vtep_mac"]})
        fdb.append({"lladdr": peer["vtep_mac"], "dst": peer["public_ip"]})
        route = {"dst": peer["subnet"], "via": peer["vtep_ip"], "dev": device, "onlink": True}
        if direct_net is not None and lo <= int(netaddr.IPAddress(peer["public_ip"])) <= hi:
            route["direct"] = {"via": peer["public_ip"], "dev": me["iface"]}
        routes.append(route)
    return {
        "device": device,
        "vni": int(plan["vxlan_vni"]),
        "port": int(plan["vxlan_port"]),
        "local": me["public_ip"],
        "dev": me["iface"],
        "mac": me["vtep_mac"],
        "address": "%s/32" % me["vtep_ip"],
        "mtu": int(me["mtu"]),
        "route_protocol": int(plan["route_protocol"]),
        "cluster_network": plan["network"],
        "local_subnet": me["subnet"],
        "neighbours": neighbours,
        "fdb": fdb,
        "routes": routes,
        "checksum_offload_workaround": needs_checksum_workaround(
            plan.get("vxlan_checksum_offload_workaround", "auto"), me.get("kernel")
        ),
        "rp_filter": 2,
    }


def hostgw_adjacency(hosts: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """host-gw's precondition, from facts: every pair of hosts shares the underlay network.

    Hosts are grouped by the network of their public interface (``public_net``); two
    groups are adjacent when each one's network holds every public IP of the other. One
    sentence per pair of groups that are not, naming every host on both sides. Hosts
    whose ``public_net`` is unknown (no facts: ``--limit``, or ``fabric_public_ip`` on no
    interface) are not judged here: the host-side check (``ip route get`` on every host
    of the play, before anything changes) covers them. O(hosts + groups^2).
    """
    groups: Dict[str, List[Tuple[str, int]]] = {}
    for name, h in hosts.items():
        if h.get("public_net"):
            groups.setdefault(h["public_net"], []).append((name, int(netaddr.IPAddress(h["public_ip"]))))
    nets = {cidr: netaddr.IPNetwork(cidr) for cidr in groups}

    def holds(cidr: str, members: List[Tuple[str, int]]) -> bool:
        return all(nets[cidr].first <= ip <= nets[cidr].last for _name, ip in members)

    def names(members: List[Tuple[str, int]]) -> str:
        return ", ".join(sorted(n for n, _ip in members))

    problems = []
    order = sorted(groups, key=subnet_sort_key)
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if not (holds(a, groups[b]) and holds(b, groups[a])):
                problems.append(
                    "fabric_backend=host-gw needs every pair of hosts on one underlay network, and "
                    "hosts %s (%s) cannot reach hosts %s (%s) without a router; nothing was changed. "
                    "Use fabric_backend=vxlan with fabric_vxlan_direct_routing=true: it routes directly "
                    "where hosts share a segment and tunnels elsewhere" % (names(groups[a]), a, names(groups[b]), b)
                )
    return problems


def hostgw_state(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    """Everything ``crosshost.fabric.fabric_routes`` must program on ``host`` for host-gw.

    Per peer, flannel's host-gw route: the peer's subnet via the peer's public IP, out of
    this host's underlay interface, tagged with the fabric's route protocol. The module
    checks on the host that each gateway is directly reachable before it changes anything.
    """
    me = _me(plan, host)
    if not me.get("iface"):
        raise PlanError(["host %s: no underlay interface known (set fabric_iface or gather facts)" % host])
    routes = [
        {"dst": peer["subnet"], "via": peer["public_ip"], "dev": me["iface"], "peer": name}
        for name, peer in sorted(plan["hosts"].items(), key=lambda kv: subnet_sort_key(kv[1]["subnet"]))
        if name != host
    ]
    return {
        "route_protocol": int(plan["route_protocol"]),
        "cluster_network": plan["network"],
        "local_subnet": me["subnet"],
        "routes": routes,
    }


UDP_DEVICE = "flannel0"


def udp_state(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    """What the ``crosshost.fabric.udp`` role renders for ``host``: the daemon's settings and peer table.

    flannel's UDP backend: the TUN device ``flannel0`` holds the host's subnet address with the
    cluster network's prefix (so the whole cluster network is routed to it, and docker0's more
    specific subnet stays local); its MTU is the underlay's minus 28 (IPv4 + UDP headers). Per
    peer, the subnet it owns and where its daemon listens. The daemon drops datagrams from any
    other address, and packets whose inner source is not in the sender's subnet.
    """
    me = _me(plan, host)
    port = int(plan.get("udp_port", PORT_DEFAULTS["udp_port"]))
    peers = [
        {"name": name, "subnet": peer["subnet"], "ip": peer["public_ip"], "port": port}
        for name, peer in sorted(plan["hosts"].items(), key=lambda kv: subnet_sort_key(kv[1]["subnet"]))
        if name != host
    ]
    network = netaddr.IPNetwork(plan["network"])
    return {
        "device": UDP_DEVICE,
        "port": port,
        "listen": me["public_ip"],
        "mtu": int(me["mtu"]),
        "address": "%s/%d" % (me["vtep_ip"], network.prefixlen),
        "cluster_network": plan["network"],
        "local_subnet": me["subnet"],
        "peers": peers,
    }


# --------------------------------------------------------------------------- #
# Firewall: the front door, the forward accepts, Docker >= 28's raw drops, NAT
# --------------------------------------------------------------------------- #

# The ports each backend opens on the underlay, as (protocol, port): an int, or the name of
# the plan key holding it (PORT_DEFAULTS when the plan has no such key). firewall_state()
# accepts each only from the fabric's public IPs and drops (and counts) the rest. A new
# backend adds its line here and nothing else in this section.
BACKEND_PORTS: Dict[str, List[Tuple[str, Any]]] = {
    "vxlan": [("udp", "vxlan_port")],
    "udp": [("udp", "udp_port")],
    "bgp": [("tcp", 179)],
    "host-gw": [],
}
PORT_DEFAULTS = {"vxlan_port": 8472, "udp_port": 8285}

# The device a backend's traffic between containers arrives on: a tunnel device (a function
# of the plan), or None when it arrives on the underlay interface, unencapsulated, from the
# peers' subnets (host-gw, bgp).
BACKEND_DEVICE = {
    "vxlan": vxlan_device,
    "udp": lambda plan: "flannel0",
    "host-gw": None,
    "bgp": None,
}

# The local bridge holding the host's subnet (the docker role puts docker0's bip there).
BRIDGE = "docker0"

# The filter chain every Docker engine since 17.06 jumps to first from FORWARD and never
# flushes (Docker >= 28's own FORWARD chains end in a DROP that comes before a jump of ours
# placed in FORWARD: moby #49792).
DOCKER_USER = "DOCKER-USER"


def _backends(plan: Mapping[str, Any]) -> List[str]:
    """The plan's backend, then those of a switch whose ways in its rules also accept (the key
    ``transition_backends``, set only in the plan of a switch's transition rules, site.yml)."""
    backend = plan.get("backend", "vxlan")
    return [backend] + [b for b in plan.get("transition_backends") or [] if b != backend]


def _backend_devices(plan: Mapping[str, Any], backend: str) -> List[str]:
    """The devices a backend's traffic arrives on (BACKEND_DEVICE; none on the underlay): for vxlan
    the plan's VTEP, then those of the key ``transition_vteps`` (set only in the plan of the
    transition's rules during a change of VNI, see transition_plan)."""
    device_of = BACKEND_DEVICE.get(backend)
    if device_of is None:
        return []
    devices = [device_of(plan)]
    if backend == "vxlan":
        devices += [str(d) for d in plan.get("transition_vteps") or [] if str(d) not in devices]
    return devices


def backend_ports(plan: Mapping[str, Any]) -> List[Tuple[str, int]]:
    """[(protocol, port)] the plan's backend (and a transition's, see _backends) opens on the underlay."""
    ports = []
    for backend in _backends(plan):
        for proto, port in BACKEND_PORTS.get(backend, []):
            if isinstance(port, str):
                port = plan.get(port, PORT_DEFAULTS[port])
            ports.append((proto, int(port)))
    return ports


def _underlay_peers(plan: Mapping[str, Any], host: str, me: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    """The peers whose containers' traffic reaches this host unencapsulated on the underlay:
    every peer with host-gw/bgp, the peers on this host's own segment with VXLAN direct routing."""
    if BACKEND_DEVICE.get(plan.get("backend", "vxlan")) is None:
        return [peer for name, peer in plan["hosts"].items() if name != host]
    if plan.get("backend", "vxlan") == "vxlan" and plan.get("vxlan_direct_routing") and me.get("public_net"):
        segment = netaddr.IPNetwork(me["public_net"])
        lo, hi = segment.first, segment.last
        return [peer for name, peer in plan["hosts"].items()
                if name != host and lo <= int(netaddr.IPAddress(peer["public_ip"])) <= hi]
    return []


def firewall_state(plan: Mapping[str, Any], host: str, docker: Any = None) -> Dict[str, Any]:
    """The chains of ``crosshost.fabric.fabric_firewall`` for ``host``.

    - filter FABRIC-INPUT (from INPUT): the backend's ports (BACKEND_PORTS) accepted from
      each peer's public IP, one rule per peer and port, then dropped (and counted) from
      anybody else. No chain for a backend that opens no port.
    - filter FABRIC-FORWARD: traffic from the fabric's own device (the tunnel, or for the
      underlay peers their subnets on the underlay interface) to this host's subnet, and from
      the local bridge's subnet to the rest of the cluster network out of those devices.
      Nothing else: an underlay neighbour routing the cluster network via this host is not
      accepted. Jumped to from DOCKER-USER when ``docker`` (the engine's version, or any true
      value) says Docker runs here, else from FORWARD.
    - raw FABRIC-PREROUTING (from PREROUTING): the same inbound traffic accepted before
      Docker >= 28's per-container ``-d <ctr> ! -i docker0 -j DROP`` rules (moby #49792),
      which stay in force for everything else. Harmless before 28, so present on every
      engine: an engine upgrade between two runs keeps the fabric working.
    - nat FABRIC-POSTROUTING: flannel's masquerade rules (with ip_masq).
    """
    me = _me(plan, host)
    net, sub = plan["network"], me["subnet"]
    peers = [peer for name, peer in sorted(plan["hosts"].items()) if name != host]
    chains: List[Dict[str, Any]] = []

    front = []
    sources = [peer["public_ip"] for peer in peers]
    if plan.get("backend") == "bgp" and plan.get("bgp"):
        # BGP: the addresses of this host's sessions, routers outside the fabric included
        # (imported here: the bgp module builds on this one).
        from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp as _bgp

        sources = _bgp.bgp_peer_addresses(plan, host)
    for proto, port in backend_ports(plan):
        match = "-p %s -m %s --dport %d" % (proto, proto, port)
        front += ["-s %s/32 %s -j ACCEPT" % (source, match) for source in sources]
        front.append("%s -j DROP" % match)
    if front:
        chains.append({"table": "filter", "chain": "FABRIC-INPUT", "hook": "INPUT",
                       "position": "first", "rules": front})

    inbound, outbound = [], []
    for backend in _backends(plan):
        for device in _backend_devices(plan, backend):
            inbound.append("-s %s -d %s -i %s -j ACCEPT" % (net, sub, device))
            outbound.append("-s %s -d %s -i %s -o %s -j ACCEPT" % (sub, net, BRIDGE, device))
    underlay = _underlay_peers(plan, host, me)
    if underlay:
        iface = me.get("iface")
        if not iface:
            raise PlanError(["host %s: no underlay interface known (set fabric_iface or gather facts)" % host])
        inbound += ["-s %s -d %s -i %s -j ACCEPT" % (peer["subnet"], sub, iface) for peer in underlay]
        outbound.append("-s %s -d %s -i %s -o %s -j ACCEPT" % (sub, net, BRIDGE, iface))
    docker_runs = bool(docker) and str(docker).strip().lower() not in ("false", "none", "")
    chains.append({"table": "filter", "chain": "FABRIC-FORWARD",
                   "hook": DOCKER_USER if docker_runs else "FORWARD",
                   "create_hook": docker_runs, "position": "first",
                   "rules": inbound + outbound})
    chains.append({"table": "raw", "chain": "FABRIC-PREROUTING", "hook": "PREROUTING",
                   "position": "first", "rules": list(inbound)})

    if plan.get("ip_masq", True):
        chains.append(
            {
                "table": "nat",
                "chain": "FABRIC-POSTROUTING",
                "hook": "POSTROUTING",
                "position": "first",
                "rules": [
                    "-s %s -d %s -j RETURN" % (net, net),
                    "-s %s ! -d 224.0.0.0/4 -j MASQUERADE --random-fully" % net,
                    "! -s %s -d %s -j RETURN" % (net, sub),
                    "! -s %s -d %s -j MASQUERADE --random-fully" % (net, net),
                ],
            }
        )
    return {"chains": chains}


# --------------------------------------------------------------------------- #
# Switching backends: the transition's forward rules, the other backends' removal
# --------------------------------------------------------------------------- #


def backend_role(backend: str) -> str:
    """The role that builds ``backend`` on hosts: its name without the dash (host-gw: hostgw)."""
    return str(backend).replace("-", "")


def udp_record_port(record: Any) -> Optional[int]:
    """The UDP port in a udp daemon's peer file found on a host (udp_state as JSON text, or parsed),
    or None when there is no such file or it names no valid port."""
    if isinstance(record, (str, bytes)):
        try:
            record = json.loads(record)
        except ValueError:
            return None
    port = as_int(record.get("port")) if isinstance(record, Mapping) else None
    return port if port is not None and 1 <= port <= 65535 else None


def transition_plan(plan: Mapping[str, Any], switch_from: Iterable[str], udp_record: Any = None,
                    vteps: Optional[Iterable[str]] = None) -> Dict[str, Any]:
    """The plan whose forward rules (firewall_state) accept every way traffic arrives while a host
    switches from the backends ``switch_from`` (role names, those found on the host besides the
    planned one) to the planned one: until every host has switched, traffic comes the old way and
    the new way.

    VXLAN with direct routing accepts it from the tunnel and, unencapsulated, from the peers on this
    host's segment (host-gw's and bgp's way); when udp is the old or the new backend, also from
    flannel0 and on udp's port from the peers (``transition_backends``). Leaving udp, that port is
    the one the old daemons run with: ``udp_record``, the peer file of udp found on the host (the new
    plan has no udp port); without a readable one, the plan's or udp's default. Leaving vxlan, the
    tunnel is the VTEP found on the host (``vteps``, its devices by vxlan_stale_devices), whose VNI
    need not be the plan's (fabric_vxlan_vni changed too): the plan's VNI when its VTEP is among
    them, else the last one in VNI order.

    Staying on (or entering) vxlan, the VTEPs found of another VNI (a change of fabric_vxlan_vni)
    are accepted beside the planned one (key ``transition_vteps``): the peers' traffic arrives on
    the old VTEP until their routes move and on the new one after, so its rules must be in before
    any host's routes move. A change of VNI alone (nothing in ``switch_from``) keeps the plan as it
    is otherwise (its own direct routing: no other backend's way in to accept)."""
    old = {backend_role(b) for b in switch_from or []}
    planned = backend_role(plan.get("backend", "vxlan"))
    old.discard(planned)
    found = vxlan_stale_devices("%s.sh" % device for device in vteps or ())
    if planned == "vxlan" and not old:
        moved = dict(plan, transition_backends=[])
    else:
        moved = dict(plan, backend="vxlan", vxlan_direct_routing=True,
                     transition_backends=["udp"] if planned == "udp" or "udp" in old else [])
    port = udp_record_port(udp_record) if "udp" in old else None
    if port is not None:
        moved["udp_port"] = port
    if "vxlan" in old and found and vxlan_device(plan) not in found:
        moved["vxlan_vni"] = int(found[-1].split(".")[1])
    if planned == "vxlan":
        moved["transition_vteps"] = [device for device in found if device != vxlan_device(plan)]
    return moved


# The backends whose routes carry the fabric's route protocol (fabric_route_protocol), which their
# removal pass can purge; bgp's routes are BIRD's own (proto bird), udp's go with flannel0.
TAGGED_ROUTES = ("vxlan", "host-gw")


def backend_absent_passes(plan: Mapping[str, Any], roles: Sequence[str],
                          left: Mapping[str, bool]) -> List[Dict[str, Any]]:
    """The removal passes (tasks/absent.yml) the backend role runs after building the planned
    backend, in the order of ``roles`` (backend_roles): ``{"role", "purge_routes"}`` for every other
    backend whose pass may change something.

    ``left`` says per role whether something of it may be on the host: False when the role's one
    read of the host found none of its footprints (boot script, unit, device, daemon), so that its
    pass would change nothing and is left out; a role missing from it runs.

    A switch to any backend but bgp keeps the fabric's tagged routes: the new backend has replaced
    them in place (one protocol, ``ip route replace``), so no pass purges them. Entering bgp, whose
    routes are BIRD's, the passes of the backends with tagged routes purge them, and run whatever
    the read found (it does not read routes)."""
    planned = backend_role(plan.get("backend", "vxlan"))
    purge = planned == "bgp"
    tagged = {backend_role(b) for b in TAGGED_ROUTES}
    passes = []
    for role in roles:
        if role == planned:
            continue
        purges = purge and role in tagged
        if left.get(role, True) is False and not purges:
            continue
        passes.append({"role": role, "purge_routes": purges})
    return passes


# The collection's VTEP boot scripts: crosshost.fabric.fabric_vxlan names the script of a VTEP after
# its device (<persist dir>/flannel.<vni>.sh), so the scripts found on a host name every VTEP the
# collection built there, whatever VNI the inventory says now.
VTEP_SCRIPT = re.compile(r"^flannel\.([1-9][0-9]{0,7})\.sh$")


def vxlan_stale_devices(scripts: Iterable[Any], plan: Optional[Mapping[str, Any]] = None) -> List[str]:
    """The collection's VTEPs to remove from a host: the device of every VTEP boot script in
    ``scripts`` (paths found on the host, ``<dir>/flannel.<vni>.sh`` with a VNI of 1..16777215 as
    fabric_vxlan writes it), except the planned VTEP while the plan's backend is vxlan. Every one of
    them on another backend, and without a plan (reset.yml). In VNI order, each once; a path of any
    other name is not the collection's and is left out."""
    keep = None
    if plan and backend_role(plan.get("backend", "vxlan")) == "vxlan":
        keep = vxlan_device(plan)
    found: Dict[int, str] = {}
    for path in scripts or ():
        match = VTEP_SCRIPT.match(str(path).rsplit("/", 1)[-1])
        if match and int(match.group(1)) <= 16777215:
            found[int(match.group(1))] = "flannel.%s" % match.group(1)
    return [device for _vni, device in sorted(found.items()) if device != keep]


def docker_config(plan: Mapping[str, Any], host: str) -> Dict[str, Any]:
    """The keys the fabric merges into /etc/docker/daemon.json."""
    me = _me(plan, host)
    config: Dict[str, Any] = {
        "bip": "%s/%d" % (me["gateway"], int(plan["subnet_len"])),
        "mtu": int(me["mtu"]),
    }
    if plan.get("ip_masq", True):
        config["ip-masq"] = False
    return config


def subnet_env(plan: Mapping[str, Any], host: str) -> str:
    """flannel's /run/flannel/subnet.env, which existing tools (CNI, scripts) read."""
    me = _me(plan, host)
    return (
        "FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s/%d\nFLANNEL_MTU=%d\nFLANNEL_IPMASQ=%s\n"
        % (plan["network"], me["gateway"], int(plan["subnet_len"]), int(me["mtu"]),
           "true" if plan.get("ip_masq", True) else "false")
    )


def plan_table(plan: Mapping[str, Any]) -> str:
    """The allocation table as readable text, one host a line, in subnet order."""
    rows = [("HOST", "PUBLIC IP", "SUBNET", "GATEWAY", "MTU")]
    order = sorted(plan["hosts"].items(), key=lambda kv: subnet_sort_key(kv[1]["subnet"]))
    for name, h in order:
        rows.append((name, h["public_ip"], h["subnet"], h["gateway"], str(h["mtu"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    head = "# fabric %s, backend %s, /%d per host, %d hosts\n" % (
        plan["network"], plan["backend"], int(plan["subnet_len"]), len(plan["hosts"]))
    return head + "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows) + "\n"
