# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fabric_preflight
short_description: Refuse what the inventory alone can refuse, before any host is contacted
version_added: 0.1.0
description:
  - Runs on the controller and never contacts a managed host. Reads the cluster-wide settings of the hosts of
    the inventory group O(group) as M(crosshost.fabric.fabric_plan) does (group variables, extra variables;
    hosts that disagree are refused) and validates them with the collection's planner (network, subnet length,
    subnet range, backend, reserved networks, VXLAN and routing numbers).
  - C(site.yml) runs it in a play on C(localhost) before the play that gathers facts, so that an unreachable host
    cannot hide a refusal. What needs facts (public IPs, interfaces, what the hosts run now) is checked by
    M(crosshost.fabric.fabric_plan).
author:
  - crosshost.fabric developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - crosshost.fabric.attributes.controller
attributes:
  check_mode:
    details: It only reads the inventory.
  diff_mode:
    support: none
options:
  group:
    description: Inventory group whose hosts form the fabric.
    type: str
    default: fabric
seealso:
  - module: crosshost.fabric.fabric_plan
"""

EXAMPLES = r"""
- name: Refuse what the inventory alone can refuse, before any host is contacted
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Validate the fabric group's cluster-wide settings
      crosshost.fabric.fabric_preflight:
        group: "{{ fabric_group | default('fabric') }}"
"""

RETURN = r"""
backend:
  description: The backend the inventory asks for.
  returned: success
  type: str
  sample: vxlan
msg:
  description: What was checked.
  returned: always
  type: str
"""
