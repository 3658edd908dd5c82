#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fabric_vxlan
short_description: Converge a host's flannel-style VXLAN fabric device, entries and routes
version_added: "0.1.0"
description:
  - Host side of the C(vxlan) backend of crosshost.fabric. It builds exactly what flannel's
    vxlan backend builds on a host, from a desired state computed on the controller
    (the C(crosshost.fabric.vxlan_state) filter returns a dict whose keys are this module's
    options).
  - A VXLAN device (VTEP, C(flannel.1) by default) with a fixed VNI, UDP port, local address,
    underlay device, MAC address, MTU and one address of the host's subnet; learning off.
  - For each peer host a permanent neighbour entry (peer VTEP address to peer VTEP MAC), a
    permanent FDB entry (peer VTEP MAC to the peer's public address) and a route to the peer's
    subnet through the VTEP. They are applied in that order (neighbour, FDB, route), as flannel
    does, so a route never points at a peer the device cannot reach yet.
  - The module reads the live state with C(ip -j) and C(bridge -j), computes the difference and
    applies only the difference, in one batch (C(ip -batch -) and C(bridge -batch -); at most
    two C(ip) and one C(bridge) invocations). A run with nothing to do runs no command that
    changes anything and reports C(changed=false).
  - 'What the module owns: the VTEP named O(device) (if it is a VXLAN device), every
    I(permanent) neighbour and FDB entry on it, and every route of table main whose protocol is
    O(route_protocol) (whichever backend of the fabric installed it). Undesired owned entries
    are removed. Routes with another protocol, entries on other devices and entries the kernel
    made itself (not permanent) are never touched.'
  - If the VTEP exists with another VNI, port, local address, underlay device, learning flag or
    MAC address, it is deleted and rebuilt (reported in RV(link_rebuilt)). A wrong MTU or
    address is fixed in place.
  - Optionally writes a boot script O(persist_dir)/O(device).sh that restores exactly the
    desired state without Ansible; the C(crosshost.fabric.vxlan) role installs a systemd unit
    (C(crosshost-fabric-vxlan.service)) that runs it at boot, before Docker starts.
  - The module does no address arithmetic beyond parsing and validating what it is given.
  - Everything is validated before anything is read or changed. MAC addresses must be unicast
    (not all-zero, multicast or broadcast), O(local) and every gateway a unicast host address.
    Before a device is built or rebuilt, the underlay device O(dev) must exist and carry
    O(mtu) plus 50 bytes. Should a rebuild still fail, the old device is put back with its
    entries and routes, so the host is never left without a VTEP.
  - Routes are reconciled by the collection's shared route code (C(module_utils/routes.py)),
    the same as M(crosshost.fabric.fabric_routes).
requirements:
  - iproute2's C(bridge) with JSON output (C(bridge -j)) on the managed host.
  - ethtool on the managed host when O(checksum_offload_workaround=true) (the
    C(crosshost.fabric.vxlan) role installs it).
  - A Linux kernel with the vxlan driver.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - crosshost.fabric.attributes
  - crosshost.fabric.routes
options:
  state:
    description:
      - V(present) builds or converges the fabric device, its entries and routes.
      - V(absent) deletes the device (if it is a VXLAN device), every route of table main with
        protocol O(route_protocol) (unless O(purge_routes=false)) and the boot script.
    type: str
    choices: [present, absent]
    default: present
  device:
    description: Name of the VXLAN device (VTEP).
    type: str
    default: flannel.1
  vni:
    description: VXLAN network identifier.
    type: int
    default: 1
  port:
    description: UDP destination port of the VXLAN device (flannel uses 8472, the Linux default).
    type: int
    default: 8472
  local:
    description:
      - The host's public (underlay) IP address, source of the encapsulated packets.
      - Required with O(state=present).
    type: str
  dev:
    description:
      - Underlay interface the encapsulated packets leave by.
      - When omitted, the device is created without one and the underlay device of an existing
        device is not compared.
    type: str
  mac:
    description:
      - MAC address of the VTEP. It is deterministic (computed by the controller) so that peers
        can be given it before this host's device exists.
      - Required with O(state=present).
    type: str
  address:
    description:
      - Address of the VTEP, with prefix length, usually the first address of the host's subnet
        as a /32 (flannel uses C(10.244.1.0/32)).
      - Required with O(state=present). Any other IPv4 address on the device is removed.
    type: str
  mtu:
    description:
      - MTU of the VTEP (underlay MTU minus 50 for VXLAN over IPv4).
      - When omitted, the kernel's choice is kept.
    type: int
  neighbours:
    description:
      - Permanent neighbour entries on O(device), one per peer
        (C(ip neigh replace DST lladdr LLADDR dev DEVICE nud permanent)).
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: Peer VTEP address (the first address of the peer's subnet).
        type: str
        required: true
      lladdr:
        description: Peer VTEP MAC address.
        type: str
        required: true
  fdb:
    description:
      - Permanent forwarding entries on O(device), one per peer
        (C(bridge fdb replace LLADDR dev DEVICE dst DST self permanent)).
      - One destination per MAC address.
    type: list
    elements: dict
    default: []
    suboptions:
      lladdr:
        description: Peer VTEP MAC address.
        type: str
        required: true
      dst:
        description: Peer's public (underlay) address.
        type: str
        required: true
  checksum_offload_workaround:
    description:
      - Turn off TX checksum offload on the VTEP (C(ethtool -K DEVICE tx off)), the workaround
        for the 63 s stalls of VXLAN traffic on some kernels and NICs (flannel issue 1279,
        calico issue 3145).
      - Needs ethtool on the host; the module fails with a clear message if it is missing.
      - When V(false), the offload setting is not managed (left as it is).
    type: bool
    default: true
  rp_filter:
    description:
      - Value written to C(/proc/sys/net/ipv4/conf/DEVICE/rp_filter). The kernel uses the
        maximum of C(conf/all/rp_filter) and the device's value, so the default V(2) (loose)
        makes the check loose on the VTEP whatever C(all) says, and tunnel traffic is not dropped
        by a strict (C(1)) host setting.
    type: int
    choices: [0, 1, 2]
    default: 2
  purge_routes:
    description:
      - With O(state=absent), also delete every route of table main with protocol
        O(route_protocol) (routes through the device go with it in any case).
      - V(false) when another backend of the fabric takes over the routes (a backend switch).
        Its routes, which carry the same protocol, are then left in place.
    type: bool
    default: true
  persist:
    description:
      - Write the boot script O(persist_dir)/O(device).sh (POSIX sh) whose content is exactly the
        desired state. It is written only when its content differs (atomically), and removed with
        O(state=absent).
      - When V(false), an existing script is left alone.
    type: bool
    default: true
  persist_dir:
    description: Directory of the boot script.
    type: path
    default: /etc/crosshost-fabric
notes:
  - The script recreates the device if it is missing or differs, then applies every entry with
    C(ip -force -batch) and C(bridge -force -batch) of C(replace) commands, turns TX checksum
    offload off and sets rp_filter. It adds, it never deletes entries (at boot there is nothing
    to delete); stale entries are the module's job.
  - Direct routing is decided when the module runs; the script replays the decision.
seealso:
  - name: flannel vxlan backend
    description: The design this module follows.
    link: https://github.com/flannel-io/flannel/blob/master/Documentation/backends.md#vxlan
author:
  - crosshost.fabric developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: VXLAN fabric device with two peers
  crosshost.fabric.fabric_vxlan:
    device: flannel.1
    vni: 1
    port: 8472
    local: 192.0.2.11
    dev: eth0
    mac: 0e:5a:00:00:01:00
    address: 10.244.1.0/32
    mtu: 1450
    neighbours:
      - {dst: 10.244.2.0, lladdr: "0e:5a:00:00:02:00"}
      - {dst: 10.244.3.0, lladdr: "0e:5a:00:00:03:00"}
    fdb:
      - {lladdr: "0e:5a:00:00:02:00", dst: 192.0.2.12}
      - {lladdr: "0e:5a:00:00:03:00", dst: 198.51.100.13}
    routes:
      - dst: 10.244.2.0/24
        via: 10.244.2.0
        onlink: true
        direct: {via: 192.0.2.12, dev: eth0}
      - {dst: 10.244.3.0/24, via: 10.244.3.0, onlink: true}

- name: From the controller's plan (what the crosshost.fabric.vxlan role does)
  crosshost.fabric.fabric_vxlan:
    device: "{{ _vx.device }}"
    vni: "{{ _vx.vni }}"
    port: "{{ _vx.port }}"
    local: "{{ _vx.local }}"
    dev: "{{ _vx.dev }}"
    mac: "{{ _vx.mac }}"
    address: "{{ _vx.address }}"
    mtu: "{{ _vx.mtu }}"
    route_protocol: "{{ _vx.route_protocol }}"
    neighbours: "{{ _vx.neighbours }}"
    fdb: "{{ _vx.fdb }}"
    routes: "{{ _vx.routes }}"
    checksum_offload_workaround: "{{ _vx.checksum_offload_workaround }}"
    rp_filter: "{{ _vx.rp_filter }}"
  vars:
    _vx: "{{ fabric_plan | crosshost.fabric.vxlan_state(inventory_hostname) }}"

- name: Remove the fabric device, its routes and the boot script
  crosshost.fabric.fabric_vxlan:
    state: absent
    device: flannel.1
"""

RETURN = r"""
added:
  description:
    - What was (or, in check mode, would be) added or changed, by kind. Each item is the entry
      as one line of text, as in the diff.
    - C(settings) also lists the boot script when it is written.
  returned: always
  type: dict
  contains:
    link:
      description: Device creation or rebuild, MTU, state and address changes.
      type: list
      elements: str
    neighbours:
      description: Neighbour entries.
      type: list
      elements: str
    fdb:
      description: FDB entries.
      type: list
      elements: str
    routes:
      description: Routes.
      type: list
      elements: str
    settings:
      description: TX checksum offload, rp_filter and the boot script.
      type: list
      elements: str
  sample:
    link: []
    neighbours: ["10.244.3.0 lladdr 0e:5a:00:00:03:00 dev flannel.1 nud permanent"]
    fdb: ["0e:5a:00:00:03:00 dev flannel.1 dst 198.51.100.13 self permanent"]
    routes: ["10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 244"]
    settings: ["boot script /etc/crosshost-fabric/flannel.1.sh"]
removed:
  description: What was (or would be) removed or replaced, same layout as RV(added).
  returned: always
  type: dict
  sample:
    link: []
    neighbours: []
    fdb: []
    routes: ["10.244.9.0/24 via 10.244.9.0 dev flannel.1 onlink proto 244"]
    settings: []
batch:
  description:
    - The commands applied, in order, or in check mode those that would be applied. Lines
      starting with C(ip) or C(bridge) were sent to C(ip -batch -) or C(bridge -batch -)
      without the tool name; the others (ethtool, rp_filter) were run or written directly.
    - Empty when nothing had to change.
  returned: always
  type: list
  elements: str
  sample:
    - ip neigh replace 10.244.3.0 lladdr 0e:5a:00:00:03:00 dev flannel.1 nud permanent
    - bridge fdb replace 0e:5a:00:00:03:00 dev flannel.1 dst 198.51.100.13 self permanent
    - ip route replace 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink proto 244
link_rebuilt:
  description: Why the existing device was deleted and rebuilt, or null.
  returned: always
  type: str
  sample: "vni 2 != 1"
route_choice:
  description: For each route destination, C(tunnel) or C(direct) (DirectRouting decision).
  returned: when O(state=present)
  type: dict
  sample: {"10.244.2.0/24": direct, "10.244.3.0/24": tunnel}
script:
  description: Path of the boot script, or null when O(persist=false).
  returned: always
  type: str
  sample: /etc/crosshost-fabric/flannel.1.sh
"""

# Imports after the documentation blocks, as in every Ansible module.
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_native  # noqa: E402

from ansible_collections.crosshost.fabric.plugins.module_utils import iproute, persist, routes  # noqa: E402

KINDS = ("link", "neighbours", "fdb", "routes", "settings")
C_ENV = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


# --------------------------------------------------------------------------
# entry text: one line per entry, used for the diff, added/removed and batch
# --------------------------------------------------------------------------


def neigh_text(dst, lladdr, device):
    return "%s lladdr %s dev %s nud permanent" % (dst, lladdr, device)


def fdb_text(lladdr, dst, device, extra=()):
    text = "%s dev %s dst %s" % (lladdr, device, dst)
    if extra:
        text += " " + " ".join(extra)
    return text + " self permanent"


def fdb_del_args(entry, device):
    # vxlan matches a delete on dst, port, vni and via: repeat what the entry has.
    text = "%s dev %s dst %s" % (entry["lladdr"], device, entry["dst"])
    for item in entry["extra"]:
        key = item.split(" ", 1)[0]
        if key in ("port", "vni", "via", "src_vni"):
            text += " " + item
    return text + " self"


def link_text(want):
    text = "%s type vxlan id %d local %s" % (want["device"], want["vni"], want["local"])
    if want.get("dev"):
        text += " dev %s" % want["dev"]
    text += " dstport %d %s address %s" % (
        want["port"],
        "learning" if want.get("learning") else "nolearning",
        want["mac"],
    )
    return text


def link_add_cmd(want):
    """``link add`` of a VTEP (the live change, the boot script and a rollback build it alike)."""
    cmd = "link add name %s address %s" % (want["device"], want["mac"])
    if want.get("mtu") is not None:
        cmd += " mtu %d" % want["mtu"]
    cmd += " type vxlan id %d" % want["vni"]
    if want.get("local"):
        cmd += " local %s" % want["local"]
    if want.get("dev"):
        cmd += " dev %s" % want["dev"]
    return cmd + " dstport %d %s" % (want["port"], "learning" if want.get("learning") else "nolearning")


def live_link_want(live):
    """The live device in the same shape as the desired one."""
    return {
        "device": live["name"],
        "vni": live["vni"] if live["vni"] is not None else -1,
        "local": live["local"],
        "dev": live["dev"],
        "port": live["port"] if live["port"] is not None else -1,
        "learning": live["learning"],
        "mac": live["mac"],
        "mtu": live["mtu"],
    }


def unique_map(pairs, conflict):
    """{key: value} from (key, value) pairs; a key given twice with two values raises ValueError."""
    out = {}
    for key, value in pairs:
        if out.get(key, value) != value:
            raise ValueError(conflict % key)
        out[key] = value
    return out


class Change(object):
    """Everything the run would do, in execution order, plus its report."""

    def __init__(self):
        self.ip_first = []  # link, address, route deletions, neighbours
        self.settings = []  # (label, callable)
        self.bridge = []  # fdb deletions, fdb replaces
        self.ip_last = []  # route replaces
        self.added = dict((k, []) for k in KINDS)
        self.removed = dict((k, []) for k in KINDS)
        self.link_rebuilt = None

    def batch(self):
        lines = ["ip " + line for line in self.ip_first]
        lines.extend(label for label, _unused in self.settings)
        lines.extend("bridge " + line for line in self.bridge)
        lines.extend("ip " + line for line in self.ip_last)
        return lines


class FabricVxlan(object):
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.device = self.p["device"]
        self.proto = self.p["route_protocol"]
        self.ip = module.get_bin_path("ip", required=True)
        self.bridge = module.get_bin_path("bridge", required=True)
        self.ethtool = module.get_bin_path("ethtool")
        self.change = Change()
        self.before = []
        self.after = []
        self.route_choice = {}
        self.script_path = None
        self.script_diff = None
        self.script_content = None
        self.restore = None  # ip and bridge lines that put back a device the change deletes

    # ------------------------------------------------------------------ run

    def run(self, argv, data=None):
        return self.module.run_command(
            argv, data=data, binary_data=True, environ_update=C_ENV, expand_user_and_vars=False
        )

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    # ------------------------------------------------------------ validate

    def desired(self):
        """Every option validated and normalised, before anything is read or changed."""
        p = self.p
        want = {"device": self.device}
        try:
            iproute.check_ifname(self.device, "device")
            if not 1 <= p["vni"] <= 16777215:
                raise ValueError("vni must be 1..16777215")
            if not 1 <= p["port"] <= 65535:
                raise ValueError("port must be 1..65535")
            if p["mtu"] is not None and not 68 <= p["mtu"] <= 65535:
                raise ValueError("mtu must be 68..65535")
            want.update(
                vni=p["vni"],
                port=p["port"],
                local=iproute.norm_unicast_ip(p["local"], "local"),
                dev=iproute.check_ifname(p["dev"], "dev") if p["dev"] else None,
                mac=iproute.norm_unicast_mac(p["mac"], "mac"),
                learning=False,
                address=iproute.norm_iface_addr(p["address"], "address"),
                mtu=p["mtu"],
            )
            if iproute.family_of(want["address"]) != 4:
                raise ValueError("address must be IPv4 (the VTEP carries one IPv4 address)")
            neigh = unique_map(
                (
                    (
                        iproute.norm_unicast_ip(i["dst"], "neighbours[].dst"),
                        iproute.norm_unicast_mac(i["lladdr"], "neighbours[].lladdr"),
                    )
                    for i in p["neighbours"]
                ),
                "neighbour %s given twice with different lladdr",
            )
            fdb = unique_map(
                (
                    (
                        iproute.norm_unicast_mac(i["lladdr"], "fdb[].lladdr"),
                        iproute.norm_unicast_ip(i["dst"], "fdb[].dst"),
                    )
                    for i in p["fdb"]
                ),
                "fdb entry %s given twice with different dst",
            )
            want["routes"] = routes.desired(
                p["routes"], self.device, p["cluster_network"], p["local_subnet"], default_onlink=True
            )
        except ValueError as exc:
            self.fail(to_native(exc))
        want["neighbours"] = neigh
        want["fdb"] = fdb
        return want

    # --------------------------------------------------------------- read

    def read_routes(self):
        try:
            return routes.read_owned(self.run, self.ip, self.proto)
        except iproute.IprouteError as exc:
            self.fail(**exc.as_dict())

    # -------------------------------------------------------------- plan

    def plan_present(self):
        ch = self.change
        dev = self.device
        want = self.desired()
        try:
            want["routes"], self.route_choice = routes.resolve_direct(self.run, self.ip, want["routes"])
            live = iproute.read_link(self.run, self.ip, dev)
        except iproute.IprouteError as exc:
            self.fail(**exc.as_dict())
        if live is not None and live["kind"] != "vxlan":
            self.fail(
                "device %s exists and is not a VXLAN device (kind %s); the module will not "
                "delete a device it did not create" % (dev, live["kind"] or "unknown")
            )

        # ---- link
        rebuild = None
        if live is not None:
            diffs = []
            if live["vni"] != want["vni"]:
                diffs.append("vni %s != %s" % (live["vni"], want["vni"]))
            if live["port"] != want["port"]:
                diffs.append("port %s != %s" % (live["port"], want["port"]))
            if live["local"] != want["local"]:
                diffs.append("local %s != %s" % (live["local"], want["local"]))
            if want["dev"] and live["dev"] != want["dev"]:
                diffs.append("dev %s != %s" % (live["dev"], want["dev"]))
            if live["learning"] is not False:
                diffs.append("learning on")
            if live["mac"] != want["mac"]:
                diffs.append("address %s != %s" % (live["mac"], want["mac"]))
            if diffs:
                rebuild = ", ".join(diffs)
            self.before.append("link " + link_text(live_link_want(live)))
            if live["mtu"] is not None:
                self.before.append("link %s mtu %s" % (dev, live["mtu"]))
            self.before.append("link %s state %s" % (dev, "up" if live["up"] else "down"))
            self.before.extend("addr %s dev %s" % (a, dev) for a in live["addrs"])

        self.after.append("link " + link_text(want))
        mtu_line = None
        if want["mtu"] is not None:
            mtu_line = "link %s mtu %s" % (dev, want["mtu"])
        elif live is not None and rebuild is None and live["mtu"] is not None:
            mtu_line = "link %s mtu %s" % (dev, live["mtu"])  # not managed: keep
        if mtu_line:
            self.after.append(mtu_line)
        self.after.append("link %s state up" % dev)
        self.after.append("addr %s dev %s" % (want["address"], dev))

        create = live is None or rebuild is not None
        if want["dev"] and (create or (want["mtu"] is not None and live["mtu"] != want["mtu"])):
            self.check_underlay(want)
        if rebuild is not None:
            ch.link_rebuilt = rebuild
            ch.ip_first.append("link del dev %s" % dev)
            ch.removed["link"].append(link_text(live_link_want(live)))
        if create:
            ch.ip_first.append(link_add_cmd(want))
            ch.ip_first.append("addr add %s dev %s" % (want["address"], dev))
            ch.ip_first.append("link set dev %s up" % dev)
            ch.added["link"].append(link_text(want))
            if want["mtu"] is not None:
                ch.added["link"].append("%s mtu %d" % (dev, want["mtu"]))
            ch.added["link"].append("addr %s dev %s" % (want["address"], dev))
            ch.added["link"].append("%s state up" % dev)
        else:
            if want["mtu"] is not None and live["mtu"] != want["mtu"]:
                ch.ip_first.append("link set dev %s mtu %d" % (dev, want["mtu"]))
                ch.removed["link"].append("%s mtu %s" % (dev, live["mtu"]))
                ch.added["link"].append("%s mtu %d" % (dev, want["mtu"]))
            for addr in live["addrs"]:
                if addr != want["address"]:
                    ch.ip_first.append("addr del %s dev %s" % (addr, dev))
                    ch.removed["link"].append("addr %s dev %s" % (addr, dev))
            if want["address"] not in live["addrs"]:
                ch.ip_first.append("addr add %s dev %s" % (want["address"], dev))
                ch.added["link"].append("addr %s dev %s" % (want["address"], dev))
            if not live["up"]:
                ch.ip_first.append("link set dev %s up" % dev)
                ch.removed["link"].append("%s state down" % dev)
                ch.added["link"].append("%s state up" % dev)

        # ---- live entries (a device that is rebuilt loses them all)
        live_neigh, live_fdb = {}, []
        if live is not None:
            try:
                live_neigh = iproute.read_neighbours(self.run, self.ip, dev)
                live_fdb = iproute.read_fdb(self.run, self.bridge, dev)
            except iproute.IprouteError as exc:
                self.fail(**exc.as_dict())
        owned_routes = self.read_routes()

        for dst, mac in live_neigh.items():
            self.before.append("neigh " + neigh_text(dst, mac, dev))
        for entry in live_fdb:
            self.before.append("fdb " + fdb_text(entry["lladdr"], entry["dst"], dev, entry["extra"]))
        for dst, mac in want["neighbours"].items():
            self.after.append("neigh " + neigh_text(dst, mac, dev))
        for mac, dst in want["fdb"].items():
            self.after.append("fdb " + fdb_text(mac, dst, dev))

        if rebuild is not None:
            self.restore = self.restore_lines(live, live_neigh, live_fdb, owned_routes)
        if create:
            live_neigh, live_fdb = {}, []

        # ---- routes: deletions first (stop routing to peers that are gone)
        try:
            rplan = routes.reconcile(
                self.run, self.ip, self.proto, want["routes"], owned_routes, gone_dev=dev if create else None
            )
        except routes.RouteConflict as exc:
            self.fail(to_native(exc))
        except iproute.IprouteError as exc:
            self.fail(**exc.as_dict())
        self.before.extend(rplan.before)
        self.after.extend(rplan.after)
        ch.ip_first.extend(rplan.deletes)
        ch.removed["routes"].extend(rplan.removed)

        # ---- neighbours
        for dst in sorted(live_neigh):
            if dst not in want["neighbours"]:
                ch.ip_first.append("neigh del %s dev %s" % (dst, dev))
                ch.removed["neighbours"].append(neigh_text(dst, live_neigh[dst], dev))
        neigh_cmds = {}
        for dst, mac in want["neighbours"].items():
            if live_neigh.get(dst) != mac:
                if dst in live_neigh:
                    ch.removed["neighbours"].append(neigh_text(dst, live_neigh[dst], dev))
                neigh_cmds[dst] = "neigh replace " + neigh_text(dst, mac, dev)
                ch.added["neighbours"].append(neigh_text(dst, mac, dev))

        # ---- fdb
        fdb_cmds = {}
        satisfied_fdb = set()
        for entry in live_fdb:
            if want["fdb"].get(entry["lladdr"]) == entry["dst"] and not entry["extra"]:
                satisfied_fdb.add(entry["lladdr"])
        for entry in live_fdb:
            exact = want["fdb"].get(entry["lladdr"]) == entry["dst"] and not entry["extra"]
            if exact:
                continue
            if entry["lladdr"] == iproute.ZERO_MAC and entry["lladdr"] not in want["fdb"]:
                continue  # the kernel's default (all-zero) entry is not ours
            ch.bridge.append("fdb del " + fdb_del_args(entry, dev))
            ch.removed["fdb"].append(fdb_text(entry["lladdr"], entry["dst"], dev, entry["extra"]))
        for mac, dst in want["fdb"].items():
            if mac not in satisfied_fdb:
                fdb_cmds[mac] = "fdb replace " + fdb_text(mac, dst, dev)
                ch.added["fdb"].append(fdb_text(mac, dst, dev))

        # Flannel's order: all neighbours, then all FDB entries, then all routes
        # (the route last, so the kernel never sends to a peer it cannot reach).
        ch.ip_first.extend(neigh_cmds[k] for k in sorted(neigh_cmds))
        ch.bridge.extend(fdb_cmds[k] for k in sorted(fdb_cmds))
        ch.ip_last.extend(rplan.replaces)
        ch.added["routes"].extend(rplan.added)

        # ---- settings
        self.plan_settings(live, create)

        # ---- boot script
        if self.p["persist"]:
            self.plan_script(self.render_script(want))

        for kind in KINDS:
            ch.added[kind].sort()
            ch.removed[kind].sort()

    def check_underlay(self, want):
        """Before a device is (re)built or its MTU set: the underlay exists and can carry the MTU."""
        try:
            under = iproute.read_link(self.run, self.ip, want["dev"])
        except iproute.IprouteError as exc:
            self.fail(**exc.as_dict())
        if under is None:
            self.fail("underlay device %s (option dev) does not exist; %s left as it is" % (want["dev"], self.device))
        limit = (under["mtu"] or 0) - 50
        if want["mtu"] is not None and under["mtu"] and want["mtu"] > limit:
            self.fail(
                "mtu %d is more than the underlay device %s allows for VXLAN over IPv4 (%d - 50 = %d); "
                "%s left as it is" % (want["mtu"], want["dev"], under["mtu"], limit, self.device)
            )

    def restore_lines(self, live, neigh, fdb, owned):
        """What puts the live device back as it is, should its rebuild fail half-way."""
        dev = self.device
        old = live_link_want(live)
        ip_lines = [link_add_cmd(old)]
        ip_lines.extend("addr add %s dev %s" % (a, dev) for a in live["addrs"])
        if live["up"]:
            ip_lines.append("link set dev %s up" % dev)
        ip_lines.extend("neigh replace " + neigh_text(d, m, dev) for d, m in sorted(neigh.items()))
        ip_lines.extend(routes.replace_cmd(r, self.proto) for r in owned if r["dev"] == dev and r["via"])
        bridge_lines = ["fdb replace " + fdb_del_args(e, dev)[: -len(" self")] + " self permanent" for e in fdb]
        return ip_lines, bridge_lines

    def plan_settings(self, live, create):
        ch = self.change
        dev = self.device
        if self.p["checksum_offload_workaround"]:
            if not self.ethtool:
                self.fail(
                    "checksum_offload_workaround=true needs ethtool on the host and it was not "
                    "found in PATH. Install ethtool (the crosshost.fabric.vxlan role does) or "
                    "set checksum_offload_workaround=false."
                )
            current = None
            if live is not None:
                current = iproute.read_tx_checksum(self.run, self.ethtool, dev)
                self.before.append("setting %s tx-checksumming %s" % (dev, current or "unknown"))
                if create:
                    current = None  # the rebuilt device starts with the kernel's default
            self.after.append("setting %s tx-checksumming off" % dev)
            if current != "off":
                argv = [self.ethtool, "-K", dev, "tx", "off"]
                ch.settings.append(("ethtool -K %s tx off" % dev, lambda argv=argv: self.run_checked(argv)))
                if current is not None:
                    ch.removed["settings"].append("%s tx-checksumming %s" % (dev, current))
                ch.added["settings"].append("%s tx-checksumming off" % dev)

        path = "/proc/sys/net/ipv4/conf/%s/rp_filter" % dev
        want = str(self.p["rp_filter"])
        current = None
        if live is not None:
            current = (iproute.read_text_file(path) or "").strip() or None
            self.before.append("setting %s rp_filter %s" % (dev, current or "unknown"))
            if create:
                current = None
        self.after.append("setting %s rp_filter %s" % (dev, want))
        if current != want:
            ch.settings.append(("echo %s > %s" % (want, path), lambda: self.write_proc(path, want)))
            if current is not None:
                ch.removed["settings"].append("%s rp_filter %s" % (dev, current))
            ch.added["settings"].append("%s rp_filter %s" % (dev, want))

    def plan_absent(self):
        ch = self.change
        dev = self.device
        try:
            live = iproute.read_link(self.run, self.ip, dev)
        except iproute.IprouteError as exc:
            self.fail(**exc.as_dict())
        if self.p["purge_routes"]:
            rplan = routes.purge(self.read_routes(), self.proto)
            self.before.extend(rplan.before)
            ch.ip_first.extend(rplan.deletes)
            ch.removed["routes"].extend(rplan.removed)
        if live is not None and live["kind"] == "vxlan":
            self.before.append("link " + link_text(live_link_want(live)))
            try:
                for dst, mac in iproute.read_neighbours(self.run, self.ip, dev).items():
                    self.before.append("neigh " + neigh_text(dst, mac, dev))
                    ch.removed["neighbours"].append(neigh_text(dst, mac, dev))
                for entry in iproute.read_fdb(self.run, self.bridge, dev):
                    text = fdb_text(entry["lladdr"], entry["dst"], dev, entry["extra"])
                    self.before.append("fdb " + text)
                    ch.removed["fdb"].append(text)
            except iproute.IprouteError as exc:
                self.fail(**exc.as_dict())
            ch.ip_first.append("link del dev %s" % dev)
            ch.removed["link"].append(link_text(live_link_want(live)))
        elif live is not None:
            self.module.warn("device %s is not a VXLAN device (kind %s): left alone" % (dev, live["kind"]))
        if self.p["persist"]:
            self.plan_script(None)
        for kind in KINDS:
            ch.removed[kind].sort()

    # ------------------------------------------------------------ script

    def render_script(self, want):
        dev = self.device
        q = "'%s'" % dev  # validated name: no quote, no space
        checks = ['*" vxlan id %d "*' % want["vni"], '*" local %s "*' % want["local"]]
        if want["dev"]:
            checks.append('*" dev %s "*' % want["dev"])
        checks.append('*" dstport %d "*' % want["port"])
        checks.append('*" nolearning "*')
        checks.append('*" link/ether %s "*' % want["mac"])

        body = [
            "DEV=%s" % q,
            "rc=0",
            "",
            "link_ok() {",
            '    cur=$(ip -d -o link show dev "$DEV" 2>/dev/null) || return 1',
        ]
        for pattern in checks:
            body.append('    case "$cur" in %s) ;; *) return 1 ;; esac' % pattern)
        body += [
            "}",
            "",
            "if ! link_ok; then",
            '    ip link del dev "$DEV" 2>/dev/null',
            "    ip %s || exit 1" % link_add_cmd(want),
            "fi",
            "",
            "ip -force -batch - <<'EOF' || rc=1",
        ]
        if want["mtu"] is not None:
            body.append("link set dev %s mtu %d" % (dev, want["mtu"]))
        body.append("addr replace %s dev %s" % (want["address"], dev))
        body.append("link set dev %s up" % dev)
        for dst in sorted(want["neighbours"]):
            body.append("neigh replace " + neigh_text(dst, want["neighbours"][dst], dev))
        body.append("EOF")
        body.append("")
        if self.p["checksum_offload_workaround"]:
            body += [
                "if command -v ethtool >/dev/null 2>&1; then",
                '    ethtool -K "$DEV" tx off >/dev/null || rc=1',
                "else",
                '    echo "$0: ethtool not found, tx checksum offload left on" >&2',
                "    rc=1",
                "fi",
            ]
        body.append('echo %d > "/proc/sys/net/ipv4/conf/$DEV/rp_filter" || rc=1' % self.p["rp_filter"])
        if want["fdb"]:
            body += ["", "bridge -force -batch - <<'EOF' || rc=1"]
            for mac in sorted(want["fdb"]):
                body.append("fdb replace " + fdb_text(mac, want["fdb"][mac], dev))
            body.append("EOF")
        if want["routes"]:
            body.append("")
            body.extend(routes.script_lines(want["routes"], self.proto))
        comments = [
            "Managed by Ansible (crosshost.fabric.fabric_vxlan). Do not edit: the next run",
            "rewrites it. Restores the VXLAN fabric device %s, its permanent neighbour and" % dev,
            "FDB entries and the fabric routes (proto %d) exactly as last applied. Run at boot" % self.proto,
            "by crosshost-fabric-vxlan.service, before Docker; safe to run again at any time.",
        ]
        return persist.shell_script(comments, body)

    def plan_script(self, content):
        path = os.path.join(self.p["persist_dir"], "%s.sh" % self.device)
        self.script_path = path
        self.script_diff = persist.diff_item(path, content)
        if self.script_diff is None:
            return
        if content is None:
            self.change.removed["settings"].append("boot script %s" % path)
        else:
            self.change.added["settings"].append("boot script %s" % path)
        self.script_content = content

    # ------------------------------------------------------------- apply

    def run_checked(self, argv):
        rc, out, err = self.run(argv)
        if rc != 0:
            raise iproute.IprouteError("command failed: %s" % " ".join(argv), cmd=argv, rc=rc, stdout=out, stderr=err)

    def write_proc(self, path, value):
        try:
            with open(path, "w") as handle:
                handle.write(value + "\n")
        except (IOError, OSError) as exc:
            raise iproute.IprouteError("cannot write %s: %s" % (path, to_native(exc))) from None

    def put_back(self):
        """After a failed rebuild: recreate the old device if the change left none. A sentence."""
        try:
            if iproute.read_link(self.run, self.ip, self.device) is not None:
                return "%s exists" % self.device
            ip_lines, bridge_lines = self.restore
            iproute.run_batch(self.run, self.ip, ip_lines, force=True)
            iproute.run_batch(self.run, self.bridge, bridge_lines, force=True)
            # A new device starts with the kernel's defaults: give it the fabric's settings
            # (rp_filter, TX checksum offload), as the rebuild would have.
            for _label, action in self.change.settings:
                action()
        except iproute.IprouteError as exc:
            return "putting the old %s back failed too: %s" % (self.device, exc.msg)
        return "the old %s was put back with its entries, routes and settings" % self.device

    def apply(self):
        ch = self.change
        step = "nothing"
        try:
            step = "ip"
            try:
                iproute.run_batch(self.run, self.ip, ch.ip_first)
            except iproute.IprouteError as exc:
                if self.restore is not None:
                    exc.msg += "; " + self.put_back()
                raise
            for label, action in ch.settings:
                step = label
                action()
            step = "bridge"
            iproute.run_batch(self.run, self.bridge, ch.bridge)
            step = "ip"
            iproute.run_batch(self.run, self.ip, ch.ip_last)
        except iproute.IprouteError as exc:
            result = exc.as_dict()
            result["msg"] = "applying the fabric change failed at %s: %s" % (step, exc.msg)
            self.fail(changed=True, batch=ch.batch(), **result)
        if self.script_diff is not None:
            try:
                persist.write(self.script_path, self.script_content, mode=0o755)
            except (IOError, OSError) as exc:
                self.fail("cannot write %s: %s" % (self.script_path, to_native(exc)))

    # ------------------------------------------------------------- main

    def main(self):
        if self.p["state"] == "present":
            self.plan_present()
        else:
            self.plan_absent()
        batch = self.change.batch()
        changed = bool(batch) or self.script_diff is not None
        if changed and not self.module.check_mode:
            self.apply()
        result = {
            "changed": changed,
            "added": self.change.added,
            "removed": self.change.removed,
            "batch": batch,
            "link_rebuilt": self.change.link_rebuilt,
            "script": self.script_path,
        }
        if self.p["state"] == "present":
            result["route_choice"] = self.route_choice
        if self.module._diff:
            after = [] if self.p["state"] == "absent" else self.after
            diffs = [
                {
                    "before_header": "%s (live)" % self.device,
                    "after_header": "%s (desired)" % self.device,
                    "before": "".join(line + "\n" for line in sorted(self.before)),
                    "after": "".join(line + "\n" for line in sorted(after)),
                }
            ]
            if self.script_diff is not None:
                diffs.append(self.script_diff)
            result["diff"] = diffs
        self.module.exit_json(**result)


def main():
    entry_spec = dict(
        dst=dict(type="str", required=True),
        lladdr=dict(type="str", required=True),
    )
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "absent"]),
            device=dict(type="str", default="flannel.1"),
            vni=dict(type="int", default=1),
            port=dict(type="int", default=8472),
            local=dict(type="str"),
            dev=dict(type="str"),
            mac=dict(type="str"),
            address=dict(type="str"),
            mtu=dict(type="int"),
            route_protocol=dict(type="int", default=244),
            cluster_network=dict(type="str"),
            local_subnet=dict(type="str"),
            neighbours=dict(type="list", elements="dict", default=[], options=entry_spec),
            fdb=dict(type="list", elements="dict", default=[], options=entry_spec),
            routes=routes.routes_argument_spec(),
            checksum_offload_workaround=dict(type="bool", default=True),
            rp_filter=dict(type="int", default=2, choices=[0, 1, 2]),
            purge_routes=dict(type="bool", default=True),
            persist=dict(type="bool", default=True),
            persist_dir=dict(type="path", default="/etc/crosshost-fabric"),
        ),
        required_if=[("state", "present", ("local", "mac", "address"))],
        supports_check_mode=True,
    )
    try:
        routes.check_protocol(module.params["route_protocol"])
        iproute.check_ifname(module.params["device"], "device")
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))
    FabricVxlan(module).main()


if __name__ == "__main__":
    main()
