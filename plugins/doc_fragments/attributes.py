# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes the collection's modules share, once.

Use after ``ansible.builtin.action_common_attributes`` (which gives the descriptions); a module adds
only what is its own (e.g. ``diff_mode.details``):

    extends_documentation_fragment:
      - ansible.builtin.action_common_attributes
      - crosshost.fabric.attributes          # host-side modules
      - crosshost.fabric.attributes.controller   # controller-side actions (add action_common_attributes.flow)
"""

from __future__ import annotations


class ModuleDocFragment:
    # Host-side modules (fabric_vxlan, fabric_routes, fabric_firewall): they read the live state, compute
    # the difference and apply it, so check mode and diff mode are complete; POSIX hosts.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

    # Controller-side actions (fabric_plan, fabric_preflight): they run on the controller only and
    # contact no host; check mode writes nothing. Both plan with the collection's planner (netaddr).
    CONTROLLER = r"""
requirements:
  - netaddr (on the controller)
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  platform:
    platforms: all
"""
