# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network facts the planner and the roles read, from ``ip -j`` (no ``setup`` round trip).

``network_facts`` builds, from ``ip -j addr show`` and ``ip -j -4 route get 8.8.8.8`` (a lookup in the
routing table: no packet is sent), the part of ``ansible.builtin.setup``'s network facts that
``crosshost.fabric.fabric_plan`` reads, in setup's shape: ``interfaces``; per interface (its name with
``-`` and ``.`` as ``_``) ``device``, ``mtu``, ``active``, ``macaddress``, ``ipv4`` (the first primary
address) and ``ipv4_secondaries`` (every other IPv4 address); ``default_ipv4``; ``all_ipv4_addresses``
(without 127.0.0.0/8). Standard library only: it runs on the managed host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct


def fact_key(ifname):
    """The facts' key of an interface, as the planner looks it up (flannel.1 -> flannel_1; planner.fact_key
    is the controller's twin: this file runs on the managed host, which has no planner)."""
    return str(ifname).replace("-", "_").replace(".", "_")


def _mask(prefixlen):
    bits = (0xFFFFFFFF << (32 - int(prefixlen))) & 0xFFFFFFFF if int(prefixlen) else 0
    return bits


def _dotted(value):
    return socket.inet_ntoa(struct.pack("!I", value))


def ipv4_entry(addr):
    """setup's description of one IPv4 address of ``ip -j addr``'s addr_info."""
    local, prefixlen = str(addr["local"]), int(addr.get("prefixlen", 32))
    mask = _mask(prefixlen)
    number = struct.unpack("!I", socket.inet_aton(local))[0]
    entry = {
        "address": local,
        "netmask": _dotted(mask),
        "network": _dotted(number & mask),
        "prefix": str(prefixlen),
        "broadcast": str(addr.get("broadcast") or ""),  # setup's "" when the address has none
    }
    return entry


def network_facts(links, default_route=None):
    """Facts from ``ip -j addr show`` (``links``) and ``ip -j -4 route get`` (``default_route``, a list)."""
    facts = {"interfaces": [], "all_ipv4_addresses": []}
    for link in links or ():
        name = str(link.get("ifname") or "")
        if not name:
            continue
        v4 = [a for a in link.get("addr_info") or () if a.get("family") == "inet" and a.get("local")]
        # The first primary address is "ipv4"; further primaries, then secondaries, are "ipv4_secondaries".
        ordered = [a for a in v4 if not a.get("secondary")] + [a for a in v4 if a.get("secondary")]
        info = {
            "device": name,
            "mtu": link.get("mtu"),
            "active": "UP" in (link.get("flags") or ()),
            "macaddress": link.get("address"),
        }
        if ordered:
            info["ipv4"] = ipv4_entry(ordered[0])
        if len(ordered) > 1:
            info["ipv4_secondaries"] = [ipv4_entry(a) for a in ordered[1:]]
        facts["interfaces"].append(name)
        facts[fact_key(name)] = info
        facts["all_ipv4_addresses"] += [str(a["local"]) for a in v4 if not str(a["local"]).startswith("127.")]
    default = {}
    route = (default_route or [{}])[0] if isinstance(default_route, list) else {}
    dev = route.get("dev")
    if dev and fact_key(dev) in facts:
        info = facts[fact_key(dev)]
        addresses = [info.get("ipv4")] + list(info.get("ipv4_secondaries") or ())
        src = route.get("prefsrc")
        chosen = next((a for a in addresses if a and a["address"] == src), None) or info.get("ipv4")
        default = dict(chosen or {}, interface=dev, mtu=info.get("mtu"), macaddress=info.get("macaddress"))
        if route.get("gateway"):
            default["gateway"] = str(route["gateway"])
        if src and "address" not in default:
            default["address"] = str(src)
    facts["default_ipv4"] = default
    return facts
