# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric's tagged routes: every route of table main with protocol N.

Runs on the managed host: Python standard library and the collection's
``module_utils`` only.  Every backend of the fabric programs its routes with
the same protocol number (``fabric_route_protocol``, 244 by default), so that
whichever backend is active owns all of them, and a switch of backend
replaces a route in place (``ip route replace`` matches on destination, tos
and metric).  This file holds what every backend does with them:

* ``desired``: the routes option of a module, validated (a route outside the
  cluster network, covering the host's own subnet, or to 0.0.0.0/0 is
  refused) and normalised to records;
* ``read_owned``: the live tagged routes (``ip -j route show proto N``);
* ``resolve_direct`` / ``not_adjacent``: ``ip route get`` of every gateway
  in one batch (flannel's DirectRouting; host-gw's adjacency precondition);
* ``reconcile`` / ``purge``: the difference as ``ip -batch`` lines, with the
  text of each added and removed route and the before/after diff lines;
* ``replace_cmd`` / ``del_cmd``: the command builders both the live change
  and the boot script (``script_lines``) are made of.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.crosshost.fabric.plugins.module_utils import iproute

MIN_PROTOCOL = 5  # 0-4 are the kernel's: unspec, redirect, kernel, boot, static


class RouteConflict(ValueError):
    """A desired route's place is held by a route of another protocol."""


def check_protocol(protocol):
    if not MIN_PROTOCOL <= protocol <= 255:
        raise ValueError(
            "route_protocol must be 5..255 (0-4 are the kernel's: unspec, redirect, "
            "kernel, boot, static), got %d" % protocol
        )
    return protocol


# --------------------------------------------------------------------------
# text and command builders
# --------------------------------------------------------------------------


def default_metric(dst):
    return 1024 if iproute.family_of(dst) == 6 else 0


def route_text(rec, protocol):
    """One route as one line (diff, added/removed), in ``ip route`` words."""
    parts = []
    if rec.get("type", "unicast") != "unicast":
        parts.append(rec["type"])
    parts.append(rec["dst"])
    if rec.get("tos"):
        parts.append("tos %s" % rec["tos"])
    if rec.get("multipath"):
        parts.append("nexthop ...")
    if rec.get("via"):
        parts.append("via %s" % rec["via"])
    if rec.get("dev"):
        parts.append("dev %s" % rec["dev"])
    if rec.get("onlink"):
        parts.append("onlink")
    parts.append("proto %d" % protocol)
    if rec.get("metric", default_metric(rec["dst"])) != default_metric(rec["dst"]):
        parts.append("metric %d" % rec["metric"])
    if rec.get("prefsrc"):
        parts.append("src %s" % rec["prefsrc"])
    return " ".join(parts)


def replace_cmd(rec, protocol):
    """The ``ip -batch`` line that installs a desired route (live change and boot script)."""
    cmd = "route replace %s via %s dev %s" % (rec["dst"], rec["via"], rec["dev"])
    if rec["onlink"]:
        cmd += " onlink"
    return cmd + " proto %d" % protocol


def del_cmd(rec, protocol):
    """The ``ip -batch`` line that deletes one owned route, and only that one.

    The protocol is part of the match: the kernel never deletes a route of
    another protocol for it.
    """
    cmd = "route del %s" % rec["dst"]
    if rec["tos"]:
        cmd += " tos %s" % rec["tos"]
    return cmd + " proto %d table main metric %d" % (protocol, rec["metric"])


def script_lines(want, protocol):
    """Boot-script lines that restore the desired routes (one ``ip -force -batch``), or []."""
    if not want:
        return []
    lines = ["ip -force -batch - <<'EOF' || rc=1"]
    lines.extend(replace_cmd(want[dst], protocol) for dst in sorted(want))
    lines.append("EOF")
    return lines


# --------------------------------------------------------------------------
# desired routes
# --------------------------------------------------------------------------


def _scope(cluster_network, local_subnet):
    cluster = local = None
    if cluster_network:
        cluster = ipaddress.ip_network(iproute.norm_net(cluster_network, "cluster_network"))
    if local_subnet:
        local = ipaddress.ip_network(iproute.norm_net(local_subnet, "local_subnet"))
    return cluster, local


def check_scope(dst, cluster, local):
    """Refuse a route that is not the fabric's to make (ValueError naming it)."""
    net = ipaddress.ip_network(dst)
    if net.prefixlen == 0:
        raise ValueError(
            "route %s covers every address (it would replace the host's default route); "
            "a fabric route goes to one peer's subnet inside the cluster network" % dst
        )
    if cluster is not None and (net.version != cluster.version or not net.subnet_of(cluster)):
        raise ValueError("route %s is not inside the cluster network %s: refused" % (dst, cluster))
    if local is not None and net.version == local.version and net.overlaps(local):
        raise ValueError("route %s overlaps this host's own subnet %s: refused" % (dst, local))


def routes_argument_spec():
    """The ``routes`` option of every module that owns tagged routes (documented once, in the
    ``crosshost.fabric.routes`` doc fragment). ``dev`` and ``onlink`` have no default here:
    each module supplies its own through :func:`desired`."""
    return dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(
            dst=dict(type="str", required=True),
            via=dict(type="str", required=True),
            dev=dict(type="str"),
            onlink=dict(type="bool"),
            direct=dict(
                type="dict",
                options=dict(via=dict(type="str", required=True), dev=dict(type="str", required=True)),
            ),
            peer=dict(type="str"),
        ),
    )


def desired(items, default_dev=None, cluster_network=None, local_subnet=None, default_onlink=False):
    """``{dst: record}`` from a module's ``routes`` option; ValueError names the bad value.

    Each item: dst, via, dev (else ``default_dev``), onlink (else ``default_onlink``), and optionally
    ``direct`` ({via, dev}: the route to take instead when ``via`` answers
    ``ip route get`` directly on ``dev``) and ``peer`` (a name for messages).
    """
    cluster, local = _scope(cluster_network, local_subnet)
    routes = {}
    for item in items:
        dst = iproute.norm_net(item["dst"], "routes[].dst")
        check_scope(dst, cluster, local)
        dev = item.get("dev") or default_dev
        if not dev:
            raise ValueError("routes[].dev is required (route %s)" % dst)
        rec = {
            "dst": dst,
            "via": iproute.norm_unicast_ip(item["via"], "routes[].via"),
            "dev": iproute.check_ifname(dev, "routes[].dev"),
            "onlink": bool(default_onlink if item.get("onlink") is None else item["onlink"]),
            "metric": default_metric(dst),
            "direct": None,
            "peer": item.get("peer"),
        }
        if item.get("direct"):
            rec["direct"] = {
                "via": iproute.norm_unicast_ip(item["direct"]["via"], "routes[].direct.via"),
                "dev": iproute.check_ifname(item["direct"]["dev"], "routes[].direct.dev"),
            }
        if dst in routes and routes[dst] != rec:
            raise ValueError("route %s given twice, differently" % dst)
        routes[dst] = rec
    return routes


# --------------------------------------------------------------------------
# live state
# --------------------------------------------------------------------------


def read_owned(run, ip, protocol):
    """Owned routes of both families (IPv4 only on a host without IPv6); raises IprouteError."""
    try:
        return iproute.read_owned_routes(run, ip, protocol, (4, 6))
    except iproute.IprouteError:
        return iproute.read_owned_routes(run, ip, protocol, (4,))


def _is_direct(hit, dev):
    return bool(hit) and hit["via"] is None and hit["dev"] == dev and hit["type"] == "unicast"


def resolve_direct(run, ip, routes):
    """Pick the direct or the given route for each route with ``direct``.

    All lookups go in ONE ``ip -j -force -batch -`` of ``route get`` lines
    (see iproute.route_get_batch): the kernel's own answer accounts for every
    table, rule and metric, which re-implementing a longest-prefix match over
    ``ip -j route show`` would not.  Returns ``(routes, choice)``: the chosen
    records (without ``direct``) and ``{dst: "direct" | "tunnel"}``.
    """
    candidates = [r["direct"]["via"] for r in routes.values() if r["direct"]]
    found = iproute.route_get_batch(run, ip, candidates)
    final, choice = {}, {}
    for dst, rec in routes.items():
        chosen = dict(rec)
        direct = chosen.pop("direct")
        choice[dst] = "tunnel"
        if direct and _is_direct(found.get(direct["via"]), direct["dev"]):
            choice[dst] = "direct"
            chosen.update(via=direct["via"], dev=direct["dev"], onlink=False)
        final[dst] = chosen
    return final, choice


def not_adjacent(run, ip, routes):
    """Routes whose gateway is not directly reachable on their device, as sentences.

    The host-gw precondition: ``ip route get VIA`` must answer with no gateway
    and out of the route's device.  One batch for all routes.
    """
    found = iproute.route_get_batch(run, ip, [r["via"] for r in routes.values()])
    problems = []
    for dst in sorted(routes):
        rec = routes[dst]
        hit = found.get(rec["via"])
        if _is_direct(hit, rec["dev"]):
            continue
        if hit is None:
            how = "unreachable"
        elif hit["via"]:
            how = "via gateway %s dev %s" % (hit["via"], hit["dev"])
        else:
            how = "%s out of %s" % (hit["type"], hit["dev"])
        peer = " (%s)" % rec["peer"] if rec.get("peer") else ""
        problems.append(
            "%s%s for %s: `ip route get %s` answers %s, not directly on %s"
            % (rec["via"], peer, dst, rec["via"], how, rec["dev"])
        )
    return problems


# --------------------------------------------------------------------------
# the difference
# --------------------------------------------------------------------------


class RoutePlan(object):
    """What a reconcile would do: ``deletes`` first, ``replaces`` last (ip batch lines)."""

    def __init__(self):
        self.deletes = []
        self.replaces = []
        self.added = []
        self.removed = []
        self.before = []
        self.after = []


def _satisfies(rec, wanted):
    return (
        rec["type"] == "unicast"
        and not rec["multipath"]
        and not rec["prefsrc"]
        and rec["via"] == wanted["via"]
        and rec["dev"] == wanted["dev"]
        and rec["onlink"] == wanted["onlink"]
    )


def reconcile(run, ip, protocol, want, owned, gone_dev=None):
    """The change from the ``owned`` live routes to the ``want`` records.

    ``gone_dev``: a device the same change deletes (its routes vanish with it,
    so they are neither deleted nor counted as in place).  Reads the rest of
    table main only when some route has to be replaced, and raises
    RouteConflict if a route of another protocol holds a desired route's place
    (the module never replaces a route it does not own); IprouteError if it
    cannot be read.
    """
    plan = RoutePlan()
    plan.before = ["route " + route_text(rec, protocol) for rec in owned]
    plan.after = ["route " + route_text(rec, protocol) for rec in want.values()]
    live = owned if gone_dev is None else [r for r in owned if r["dev"] != gone_dev]

    satisfied = set()
    for rec in live:
        wanted = want.get(rec["dst"])
        if wanted is not None and rec["metric"] == wanted["metric"] and not rec["tos"]:
            if _satisfies(rec, wanted):
                satisfied.add(rec["dst"])
            else:
                plan.removed.append(route_text(rec, protocol))  # replaced in place below
            continue
        plan.deletes.append(del_cmd(rec, protocol))
        plan.removed.append(route_text(rec, protocol))

    to_replace = sorted(d for d in want if d not in satisfied)
    if to_replace:
        families = sorted(set(iproute.family_of(d) for d in to_replace))
        foreign = iproute.read_foreign_routes(run, ip, owned, families)
        for dst in to_replace:
            rec = want[dst]
            key = (dst, rec["metric"], None)
            if key in foreign:
                raise RouteConflict(
                    "route %s (metric %d) exists in table main with protocol %s, not %d; "
                    "the module does not replace routes it does not own. Remove it, or give "
                    "the fabric another subnet." % (dst, rec["metric"], foreign[key], protocol)
                )
            plan.replaces.append(replace_cmd(rec, protocol))
            plan.added.append(route_text(rec, protocol))
    plan.added.sort()
    plan.removed.sort()
    return plan


def purge(owned, protocol):
    """Delete every owned route (state=absent)."""
    plan = RoutePlan()
    for rec in owned:
        plan.before.append("route " + route_text(rec, protocol))
        plan.deletes.append(del_cmd(rec, protocol))
        plan.removed.append(route_text(rec, protocol))
    plan.removed.sort()
    return plan
