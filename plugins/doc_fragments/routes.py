# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every module that owns the fabric's tagged routes (module_utils/routes.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
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
"""
