# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side helpers around iproute2 for the crosshost.fabric modules.

Runs on the managed host: only the Python standard library and
``ansible.module_utils`` may be imported here (managed hosts have python3 and
iproute2, nothing else).

Every function that runs a command takes ``run``, a callable
``run(argv, data=None) -> (rc, stdout, stderr)``.  Modules pass a thin wrapper
around ``AnsibleModule.run_command``; tests and benchmarks can pass a
``subprocess`` based one.

The readers return plain dicts, normalised so that they compare equal to what
the module builds from its options:

* IP addresses and networks in ``ipaddress`` canonical text (``10.244.2.0``,
  ``10.244.2.0/24``; a host route the kernel prints as ``10.244.2.0`` becomes
  ``10.244.2.0/32``);
* MAC addresses in lower case.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re
import socket

# Linux interface names: at most 15 bytes, no '/', no whitespace, not '.'/'..'.
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,15}\Z")  # \Z: "$" would accept a final newline
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
ZERO_MAC = "00:00:00:00:00:00"


class IprouteError(Exception):
    """A command failed; carries what is needed for an honest fail_json."""

    def __init__(self, msg, cmd=None, rc=None, stdout="", stderr=""):
        super(IprouteError, self).__init__(msg)
        self.msg = msg
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def as_dict(self):
        return {
            "msg": self.msg,
            "cmd": self.cmd,
            "rc": self.rc,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


# --------------------------------------------------------------------------
# validation / normalisation (parsing only, no arithmetic)
# --------------------------------------------------------------------------


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "%s" % (value,)


def _v4(text):
    """Canonical dotted quad or None; inet_pton refuses short forms and leading zeros."""
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):
        return None


def norm_ip(value, what="address"):
    """Canonical text of one IP address, or ValueError.

    IPv4 goes through inet_pton/inet_ntop (C, about 6x faster than
    ``ipaddress`` for the thousands of entries of a big fabric); IPv6 through
    ``ipaddress``.
    """
    text = _text(value).strip()
    if ":" not in text:
        canon = _v4(text)
        if canon is None:
            raise ValueError("invalid %s: %r" % (what, value))
        return canon
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        raise ValueError("invalid %s: %r" % (what, value)) from None


def norm_net(value, what="network"):
    """Canonical text of a network; a bare address is a host route (/32, /128).

    Host bits are not allowed (``10.244.2.1/24`` is refused): ``ip route``
    would silently store ``10.244.2.0/24`` and the next run would never
    match.
    """
    text = _text(value).strip()
    if text == "default":
        raise ValueError("invalid %s: 'default' is not a fabric route" % what)
    if ":" not in text:
        addr, _sep, plen = text.partition("/")
        canon = _v4(addr)
        if canon is not None and (not plen or (plen.isdigit() and int(plen) <= 32)):
            bits = int(plen) if plen else 32
            host_mask = (1 << (32 - bits)) - 1
            if not int.from_bytes(socket.inet_aton(canon), "big") & host_mask:
                return "%s/%d" % (canon, bits)
        raise ValueError("invalid %s (host bits set, or not ADDRESS/PREFIX): %r" % (what, value))
    try:
        return str(ipaddress.IPv6Network(text, strict=True))
    except ValueError:
        raise ValueError("invalid %s: %r" % (what, value)) from None


def kernel_ip(text):
    """An address printed by iproute2: IPv4 is already canonical, IPv6 is normalised."""
    return norm_ip(text) if ":" in text else text


def norm_iface_addr(value, what="address"):
    """Canonical ``ADDR/PREFIX`` of an interface address (host bits allowed)."""
    text = _text(value).strip()
    try:
        if "/" not in text:
            raise ValueError()
        return str(ipaddress.ip_interface(text))
    except ValueError:
        raise ValueError("invalid %s (want ADDRESS/PREFIX): %r" % (what, value)) from None


def norm_mac(value, what="MAC address"):
    text = _text(value).strip()
    if not _MAC_RE.match(text):
        raise ValueError("invalid %s: %r" % (what, value)) from None
    return text.lower()


def norm_unicast_mac(value, what="MAC address"):
    """A MAC address a device or a peer can have: not all-zero, not multicast or broadcast."""
    mac = norm_mac(value, what)
    if mac == ZERO_MAC:
        raise ValueError("invalid %s: %r is the all-zero address" % (what, value))
    if int(mac[:2], 16) & 1:
        raise ValueError("invalid %s: %r is a multicast or broadcast address" % (what, value))
    return mac


def norm_unicast_ip(value, what="address"):
    """One unicast host address: not unspecified, loopback, multicast or broadcast."""
    canon = norm_ip(value, what)
    addr = ipaddress.ip_address(canon)
    if addr.is_unspecified or addr.is_loopback or addr.is_multicast or canon == "255.255.255.255":
        raise ValueError("invalid %s: %r is not a unicast host address" % (what, value))
    return canon


def check_ifname(value, what="interface name"):
    text = _text(value)
    if not _IFNAME_RE.match(text) or text in (".", ".."):
        raise ValueError("invalid %s: %r" % (what, value)) from None
    return text


def family_of(text):
    """4 or 6 for an address or network in text form."""
    return 6 if ":" in text else 4


def route_dst(route, family=4):
    """Normalised destination of a route as printed by ``ip -j route``.

    The kernel prints a host route without its prefix length, and the route
    to /0 as ``default``: that one becomes ``0.0.0.0/0`` (``::/0``), so that a
    desired ``0.0.0.0/0`` is matched against the host's default route.
    """
    dst = route.get("dst", "")
    if dst == "default":
        return "::/0" if family == 6 else "0.0.0.0/0"
    if "/" in dst:
        return dst if ":" not in dst else str(ipaddress.ip_network(dst, strict=False))
    return "%s/%d" % (kernel_ip(dst), 128 if ":" in dst else 32)


# --------------------------------------------------------------------------
# running commands
# --------------------------------------------------------------------------


def parse_json_stream(text):
    """Every top-level JSON value in ``text`` (``ip -j -batch`` prints one per command)."""
    decoder = json.JSONDecoder()
    values = []
    idx = 0
    end = len(text)
    while True:
        while idx < end and text[idx].isspace():
            idx += 1
        if idx >= end:
            return values
        value, idx = decoder.raw_decode(text, idx)
        values.append(value)


def run_json(run, argv):
    """Run a ``-j`` command, return its parsed output (a list)."""
    rc, out, err = run(argv)
    if rc != 0:
        raise IprouteError("command failed: %s" % " ".join(argv), cmd=argv, rc=rc, stdout=out, stderr=err)
    values = parse_json_stream(out)
    result = []
    for value in values:
        if isinstance(value, list):
            result.extend(value)
        else:
            result.append(value)
    return result


def run_batch(run, tool, lines, force=False):
    """Feed ``lines`` to ``<tool> [-force] -batch -``; raise IprouteError on failure.

    Without ``force`` the tool stops at the first failing line and says
    ``Command failed -:N``, which the error message keeps.
    """
    if not lines:
        return
    argv = [tool]
    if force:
        argv.append("-force")
    argv.extend(["-batch", "-"])
    rc, out, err = run(argv, data="\n".join(lines) + "\n")
    if rc != 0:
        raise IprouteError(
            "%s batch failed: %s" % (tool, (err or out).strip()),
            cmd=argv,
            rc=rc,
            stdout=out,
            stderr=err,
        )


# --------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------


def read_link(run, ip, device):
    """``ip -j -d addr show dev DEVICE`` as a dict, None when there is no such device.

    Keys: name, kind, vni, port, local, dev (underlay name), learning, mac,
    mtu, up, addrs (sorted ``ADDR/PREFIX`` of family inet), raw.
    """
    argv = [ip, "-j", "-d", "addr", "show", "dev", device]
    rc, out, err = run(argv)
    if rc != 0:
        if "does not exist" in (err or "") or "Cannot find device" in (err or ""):
            return None
        raise IprouteError("cannot read device %s" % device, cmd=argv, rc=rc, stdout=out, stderr=err)
    data = [d for d in parse_json_stream(out)[0] if d.get("ifname") == device] if out.strip() else []
    if not data:
        return None
    raw = data[0]
    info = raw.get("linkinfo") or {}
    idata = info.get("info_data") or {}
    addrs = sorted(
        norm_iface_addr("%s/%s" % (a["local"], a["prefixlen"]))
        for a in raw.get("addr_info", [])
        if a.get("family") == "inet" and "local" in a
    )
    local = idata.get("local") or idata.get("local6")
    return {
        "name": raw.get("ifname"),
        "kind": info.get("info_kind"),
        "vni": idata.get("id"),
        "port": idata.get("port"),
        "local": norm_ip(local) if local else None,
        "dev": idata.get("link"),
        "learning": idata.get("learning"),
        "mac": (raw.get("address") or "").lower(),
        "mtu": raw.get("mtu"),
        "up": "UP" in (raw.get("flags") or []),
        "addrs": addrs,
        "raw": raw,
    }


def read_neighbours(run, ip, device):
    """Permanent neighbour entries on DEVICE: ``{dst: lladdr}``.

    Entries the kernel made itself (REACHABLE, STALE, FAILED, NOARP ...) are
    not permanent and are left out: the module owns only permanent ones.
    """
    entries = run_json(run, [ip, "-j", "neigh", "show", "dev", device])
    result = {}
    for entry in entries:
        if "PERMANENT" not in (entry.get("state") or []):
            continue
        if "dst" not in entry:
            continue
        result[kernel_ip(entry["dst"])] = (entry.get("lladdr") or "").lower()
    return result


def read_fdb(run, bridge, device):
    """Permanent ``self`` FDB entries of a VXLAN device: list of dicts.

    Each dict: lladdr, dst, and ``extra`` (a sorted tuple of attributes that
    ``bridge fdb replace MAC dev D dst X self permanent`` would not set, such
    as a per-entry vni, port or via; an entry having any is not the desired
    one).  Non-permanent entries (learnt by the kernel) are left out, and so
    are entries without a dst (the device's own, or a bridge master's).
    """
    entries = run_json(run, [bridge, "-j", "fdb", "show", "dev", device])
    result = []
    for entry in entries:
        if entry.get("state") != "permanent":
            continue
        if "self" not in (entry.get("flags") or []):
            continue
        if "dst" not in entry or "mac" not in entry:
            continue
        extra = tuple(
            sorted(
                "%s %s" % (key, entry[key]) for key in ("vni", "port", "via", "src_vni", "vlan", "nhid") if key in entry
            )
        )
        result.append({"lladdr": entry["mac"].lower(), "dst": kernel_ip(entry["dst"]), "extra": extra})
    return result


def _route_record(route, family=4):
    flags = route.get("flags") or []
    rec = {
        "dst": route_dst(route, family),
        "via": kernel_ip(route["gateway"]) if route.get("gateway") else None,
        "dev": route.get("dev"),
        "onlink": "onlink" in flags,
        "metric": int(route.get("metric", 0) or 0),
        "tos": route.get("tos"),
        "type": route.get("type", "unicast"),
        "multipath": "nexthops" in route,
        "prefsrc": route.get("prefsrc"),
    }
    return rec


def read_owned_routes(run, ip, protocol, families=(4, 6)):
    """Records of the routes of table main whose protocol is ``protocol``.

    Filtered by number on the command line, so names given to numbers in
    /etc/iproute2/rt_protos do not matter.
    """
    owned = []
    for fam in families:
        argv = [ip, "-%d" % fam, "-j", "route", "show", "table", "main", "proto", str(protocol)]
        owned.extend(_route_record(r, fam) for r in run_json(run, argv))
    return owned


def read_foreign_routes(run, ip, owned, families=(4,)):
    """``{(dst, metric, tos): protocol}`` of the routes of table main not in ``owned``.

    Used to refuse replacing a route the module does not own: ``ip route
    replace`` matches on dst, tos and metric, whatever the protocol.  Only
    needed when some route is to be replaced, so a run with nothing to do
    does not pay for a dump of the whole table.
    """
    keys = set((r["dst"], r["metric"], r["tos"]) for r in owned)
    foreign = {}
    for fam in families:
        for route in run_json(run, [ip, "-%d" % fam, "-j", "route", "show", "table", "main"]):
            rec = _route_record(route, fam)
            key = (rec["dst"], rec["metric"], rec["tos"])
            if key not in keys:
                foreign[key] = route.get("protocol", "boot")
    return foreign


def route_get_batch(run, ip, addresses):
    """Resolve many addresses with ONE ``ip -j -force -batch -`` of ``route get``.

    Returns ``{address: record or None}`` where record has via, dev, type.
    ``ip -j -batch`` prints one JSON array per command; with ``-force`` a
    failing lookup (unreachable) prints nothing on stdout, so the answers
    are matched to the questions by their ``dst`` field, not by position.
    """
    wanted = sorted(set(addresses))
    result = dict((a, None) for a in wanted)
    if not wanted:
        return result
    rc, out, err = run(
        [ip, "-j", "-force", "-batch", "-"],
        data="\n".join("route get %s" % a for a in wanted) + "\n",
    )
    for value in parse_json_stream(out):
        for entry in value if isinstance(value, list) else [value]:
            if "dst" not in entry:
                continue
            try:
                dst = norm_ip(entry["dst"])
            except ValueError:
                continue
            if dst in result:
                result[dst] = {
                    "via": norm_ip(entry["gateway"]) if entry.get("gateway") else None,
                    "dev": entry.get("dev"),
                    "type": entry.get("type", "unicast"),
                }
    return result


def read_text_file(path):
    try:
        with open(path, "r") as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def read_tx_checksum(run, ethtool, device):
    """'on' / 'off' from ``ethtool -k DEVICE`` (tx-checksumming), None if unknown."""
    rc, out, err = run([ethtool, "-k", device])
    if rc != 0:
        return None
    for line in out.splitlines():
        if line.startswith("tx-checksumming:"):
            return line.split(":", 1)[1].split()[0]
    return None
