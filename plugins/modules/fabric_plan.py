# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fabric_plan
short_description: Plan the fabric - a container subnet per host, leased for good
version_added: 0.1.0
description:
  - Runs on the controller and never contacts a managed host. Reads every host of the inventory group
    O(group) (also hosts limited out of the run) with its public IP, interface, pinned subnet and the facts
    Ansible knows of it, validates the whole inventory, allocates one subnet of O(network) per host, and
    returns the plan as the fact C(fabric_plan).
  - Leases are kept in a YAML ledger (O(lease_file)), replaced atomically under an exclusive lock when it
    changes; it ends with an end marker carrying its counts, so a ledger cut short is refused. A leased host
    keeps its subnet whatever hosts come and go; a new host takes the lowest never-used subnet; a host that
    leaves the inventory keeps its lease until it is listed in O(release); released subnets are handed out
    last.
  - A host that already runs a subnet of O(network) (docker0's address from facts, C(FLANNEL_SUBNET) of the
    C(/run/flannel/subnet.env) the plan role reads in C(site.yml)) keeps it. Without a lease it is adopted
    (reported in RV(adopted)); a mismatch with its lease or pin fails the task naming the host and both subnets.
  - Any bad input fails the task before anything is written, with a message naming the hosts and values
    at fault.
  - The subnet arithmetic lives in the collection's planner (C(plugins/plugin_utils/planner.py)), pure
    Python on netaddr.
author:
  - crosshost.fabric developers (!UNKNOWN)
requirements:
  - PyYAML (on the controller)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - crosshost.fabric.attributes.controller
attributes:
  check_mode:
    details: Computes the plan and reports what it would write; writes nothing.
  diff_mode:
    support: full
    details: Shows the lease file before and after.
options:
  # BEGIN generated from plugins/plugin_utils/options.py by make docs
  group:
    description: Inventory group whose hosts form the fabric.
    type: str
    default: fabric
  network:
    description: The cluster network (IPv4 CIDR), cut into one subnet per host.
    type: str
    default: 10.244.0.0/16
  subnet_len:
    description: 'Prefix length of each host''s subnet: longer than the network''s prefix, at most 30.'
    type: raw
    default: 24
  subnet_min:
    description: First subnet handed out (flannel's SubnetMin); unset or empty, the second subnet of the
      network.
    type: str
  subnet_max:
    description: Last subnet handed out (flannel's SubnetMax); unset or empty, the last subnet of the network.
    type: str
  backend:
    description: How traffic crosses hosts; sets the MTU and what each host programs.
    type: str
    choices: [vxlan, host-gw, udp, bgp]
    default: vxlan
  reserved_networks:
    description: Ranges the cluster network must not overlap; extend the list. The built-in ones (0.0.0.0/8,
      127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 240.0.0.0/4) and each host's own networks always apply.
    type: list
    elements: str
    default: [172.17.0.0/16]
  vxlan_vni:
    description: VXLAN network identifier; the VTEP is named C(flannel.<vni>). Changed on a running fabric,
      the new VTEP takes the routes over and every other VTEP of the collection (device, entries, boot script)
      goes.
    type: int
    default: 1
  vxlan_port:
    description: UDP port of the VXLAN tunnel (flannel's, the Linux default is 8472).
    type: int
    default: 8472
  vxlan_direct_routing:
    description: Plain routes via the peer's IP for peers on the host's own L2 segment instead of the tunnel
      (flannel's DirectRouting), confirmed on the host with C(ip route get).
    type: bool
    default: false
  vxlan_checksum_offload_workaround:
    description:
      - Turn TX checksum offload off on the VTEP, the workaround for the kernel bug behind flannel issue
        1279 and calico issue 3145 (VXLAN packets whose UDP checksum is wrong after NAT, seen as 63-second
        stalls), fixed in Linux 5.7.
      - V(auto) applies it on hosts whose kernel (from facts) is older than 5.7 or unknown, as Calico does;
        V(true) or V(false) force it. It costs throughput (5x in this project's lab).
    type: raw
    default: auto
  udp_port:
    description: 'Backend C(udp): UDP port of the encapsulation daemon C(crosshost-fabric-udp) (flannel''s,
      8285), accepted only from fabric peers.'
    type: int
    default: 8285
  ip_masq:
    description: The fabric masquerades traffic leaving the cluster network (never traffic inside it); Docker's
      own C(ip-masq) is turned off.
    type: bool
    default: true
  route_protocol:
    description: Routing protocol number tagging every route the collection installs (the modules own exactly
      these).
    type: int
    default: 244
  default_mtu:
    description: Underlay MTU assumed for hosts whose interface MTU facts do not tell.
    type: int
    default: 1500
  lease_file:
    description: 'The lease ledger on the controller (commit it like a lock file; a symlink is written through
      to its target). Unset, C(.fabric/leases.yml) in the folder of the first inventory source: one ledger
      per plan, whatever host comes first and whatever C(--limit) says; every host of the group must agree
      on it. A ledger at the old default C(fabric-leases.yml) there is read, and moved at the first write.'
    type: path
  plan_dir:
    description: 'Folder where C(plan.json) and the readable table C(plan.txt) are written; unset, the ledger''s
      default folder C(.fabric/); empty: nowhere.'
    type: path
  release:
    description: Hosts whose lease is released; they must no longer be in the group (a comma list or a YAML
      list).
    type: list
    elements: str
    default: []
  bgp_mode:
    description: 'Backend C(bgp): C(mesh) (every host peers with every other), C(route-reflector) (hosts
      peer with their rack''s reflectors, members of the group O(reflector_group)) or C(peers) (hosts peer
      only with the routers in their C(fabric_bgp_peers)).'
    type: str
    choices: [mesh, route-reflector, peers]
    default: mesh
  bgp_encap:
    description: 'Backend C(bgp): C(ipip) sends traffic to peers off the host''s segment through C(tunl0)
      (Calico''s IPIP cross-subnet).'
    type: str
    choices: [none, ipip]
    default: none
  reflector_group:
    description: 'Backend C(bgp), mode C(route-reflector): inventory group of the route reflectors. Members
      that are not in the fabric group are routers without containers, BGP speakers without a subnet.'
    type: str
    default: fabric_route_reflectors
  # END generated
notes:
  - Per-host inputs come from host variables, never from arguments. C(fabric_public_ip) (default
    C(ansible_host) when it is an IP address, else the default IPv4 address from facts), C(fabric_iface)
    (default the interface holding the public IP), C(fabric_subnet) (a pin), C(fabric_iface_mtu).
  - Backend C(bgp) reads per-host C(fabric_rack), C(fabric_bgp_asn) (default 64512), C(fabric_bgp_peers) (list of
    C(address), C(asn), optional C(password)) and C(fabric_bgp_password) (one for all fabric sessions). Passwords
    are validated, never put into the plan.
  - "Run it once (C(run_once: true)) delegated to localhost; the fact then reaches every host of the play."
seealso:
  - module: crosshost.fabric.fabric_vxlan
"""

EXAMPLES = r"""
- name: Plan the fabric for the whole inventory (ledger in .fabric/ beside the first inventory source)
  crosshost.fabric.fabric_plan:
    network: 10.244.0.0/16
  run_once: true
  delegate_to: localhost

- name: Plan with a ledger shared by two inventories
  crosshost.fabric.fabric_plan:
    lease_file: /srv/fabric/leases.yml
    plan_dir: /srv/fabric/plan
  run_once: true
  delegate_to: localhost

- name: Release the lease of a host that left the inventory for good
  crosshost.fabric.fabric_plan:
    release: [node7]
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
ansible_facts:
  description: The plan.
  returned: success
  type: complex
  contains:
    fabric_plan:
      description: Settings and, per host, public_ip, public_net, subnet, gateway, vtep_ip, mtu, iface, vtep_mac.
      type: dict
      sample:
        network: 10.244.0.0/16
        subnet_len: 24
        backend: vxlan
        hosts:
          node1:
            public_ip: 192.0.2.11
            subnet: 10.244.1.0/24
            gateway: 10.244.1.1
            vtep_ip: 10.244.1.0
            mtu: 1450
            iface: eth0
            vtep_mac: 0e:fa:0a:f4:01:00
notes:
  description: What the hosts will still need, for the plan's reader (hosts with no known underlay interface yet).
  returned: success
  type: list
  elements: str
plan_table:
  description: The allocation table as text (what C(plan.txt) holds), one host a line; the plan role prints it.
  returned: success
  type: str
  sample: |
    # fabric 10.244.0.0/16, backend vxlan, /24 per host, 1 hosts
    HOST   PUBLIC IP   SUBNET         GATEWAY     MTU
    node1  192.0.2.11  10.244.1.0/24  10.244.1.1  1450
written:
  description: Files written (or, in check mode, that would be written).
  returned: always
  type: list
  elements: str
released:
  description: Hosts whose lease was released.
  returned: always
  type: list
  elements: str
adopted:
  description: Hosts without a lease that already ran a subnet of the network and keep it, with that subnet.
  returned: always
  type: dict
  sample: {node4: 10.244.42.0/24}
lease_file:
  description: The ledger used (before symlinks are followed).
  returned: always
  type: str
plan_dir:
  description: Where the plan files go (null or empty when nowhere).
  returned: always
  type: str
migrated_from:
  description: The old default ledger path read (and, outside check mode, moved) in this run, else null.
  returned: always
  type: str
"""
