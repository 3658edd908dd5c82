# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every module that owns the fabric's tagged routes (module_utils/routes.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
requirements:
  - iproute2 with JSON output (C(ip -j)) on the managed host.
attributes:
  diff_mode:
    details:
      - The diff lists what the module owns (its routes; for M(crosshost.fabric.fabric_vxlan) also its
        device, entries and settings) before and after, one entry a line, sorted; a second diff item
        shows the boot script when it changes.
options:
  route_protocol:
    description:
      - Routing protocol number every route of the module carries (C(proto N)).
      - The module owns every route of table main with this protocol (whichever backend of the
        fabric installed it) and removes those not desired. It never touches routes with another
        protocol, and fails rather than replace one that has the destination and metric of a
        desired route.
      - Numbers 0 to 4 (unspec, redirect, kernel, boot, static) are refused.
    type: int
    default: 244
  cluster_network:
    description:
      - The fabric's cluster network (C(fabric_network)). When given, every route must lie inside
        it; a route outside it is refused before anything changes.
      - A route to C(0.0.0.0/0) (or C(::/0)) is refused whatever this says.
    type: str
  local_subnet:
    description:
      - This host's own subnet of the cluster network. When given, a route overlapping it is
        refused before anything changes (it would take the host's own containers away from
        its bridge).
    type: str
  routes:
    description:
      - The desired routes to the peers' subnets, each
        C(ip route replace DST via VIA dev DEV [onlink] proto ROUTE_PROTOCOL).
      - M(crosshost.fabric.fabric_routes) takes them as given (for C(host-gw), C(via) is the
        peer's public address and C(dev) the underlay interface); M(crosshost.fabric.fabric_vxlan)
        routes through its device (C(via) the peer's VTEP address, C(onlink)).
      - The controller's plan computes them (C(crosshost.fabric.hostgw_state),
        C(crosshost.fabric.vxlan_state)).
    type: list
    elements: dict
    default: []
    suboptions:
      dst:
        description: Peer subnet (network address with prefix length; no host bits).
        type: str
        required: true
      via:
        description: Gateway, a unicast host address.
        type: str
        required: true
      dev:
        description:
          - Output device.
          - Required by M(crosshost.fabric.fabric_routes); M(crosshost.fabric.fabric_vxlan) uses
            its O(crosshost.fabric.fabric_vxlan#module:device) when omitted.
        type: str
      onlink:
        description:
          - Add C(onlink) (the gateway is reachable on the device without a connected route).
          - When omitted, V(true) for M(crosshost.fabric.fabric_vxlan) (tunnel routes) and V(false)
            for M(crosshost.fabric.fabric_routes).
        type: bool
      direct:
        description:
          - Flannel's DirectRouting. If C(ip route get VIA) shows this peer directly reachable
            (no gateway) out of O(routes[].direct.dev), the route
            C(DST via DIRECT.VIA dev DIRECT.DEV proto N) is installed instead.
          - The lookups for all routes are done in one C(ip -j -batch) before the difference is
            computed; RV(route_choice) tells which way each route went.
          - With M(crosshost.fabric.fabric_vxlan), the neighbour and FDB entries of such a peer
            are installed all the same (they are separate options); they are unused while the
            direct route is there.
        type: dict
        suboptions:
          via:
            description: The peer's public (underlay) address.
            type: str
            required: true
          dev:
            description: The underlay device the peer must be directly reachable on.
            type: str
            required: true
      peer:
        description: Name of the peer (inventory name), used in messages only.
        type: str
"""
