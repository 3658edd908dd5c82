"""Exact outputs of the planner and the ledger: every bad-input message word for word, the limits
of every range on both sides, and each host's desired state field by field.

Written from the survivors of `make mutation` (tests/mutation/): mutants that changed a message
("XX...XX", upper case), moved a range limit by one, or dropped a default survived tests that only
looked for a fragment. The messages are the interface a person reads when a run stops, so they are
compared whole.
"""

import os

import pytest
import yaml

from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger, planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput as H
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import PlanError
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import Settings as S

KERNEL = "(1-4 belong to the kernel)"

# --------------------------------------------------------------------------- #
# check_settings
# --------------------------------------------------------------------------- #

BAD_SETTINGS = [
    (dict(network="nonsense"), ["fabric_network 'nonsense' is not a valid CIDR network (e.g. 10.244.0.0/16)"]),
    (dict(network="fd00::/48"),
     ["fabric_network fd00::/48 is IPv6: Docker's bip and the fabric backends need an IPv4 network"]),
    (dict(network="10.244.3.0/16", backend="ipsec"),
     ["fabric_network 10.244.3.0/16 is not a network address (host bits set; did you mean 10.244.0.0/16?)",
      "fabric_backend 'ipsec' is unknown (choose one of: vxlan, host-gw, udp, bgp)"]),
    (dict(subnet_len="x"), ["fabric_subnet_len 'x' is not an integer"]),
    (dict(subnet_len=True), ["fabric_subnet_len True is not an integer"]),
    (dict(subnet_len=16), ["fabric_subnet_len /16 must be longer than the prefix of fabric_network 10.244.0.0/16"]),
    (dict(subnet_len=31), ["fabric_subnet_len /31 is longer than /30: no room for a gateway and containers"]),
    (dict(network="169.254.0.0/16"), ["fabric_network 169.254.0.0/16 overlaps the reserved range 169.254.0.0/16"]),
    (dict(reserved=("10.244.255.0/24", "nope", "10.245.0.0/16", "10.243.255.0/24")),
     ["fabric_network 10.244.0.0/16 overlaps the reserved range 10.244.255.0/24 (fabric_reserved_networks)",
      "fabric_reserved_networks entry 'nope' is not a valid CIDR"]),
    (dict(reserved=("10.244.0.0/32", "10.244.255.255/32")),
     ["fabric_network 10.244.0.0/16 overlaps the reserved range 10.244.0.0/32 (fabric_reserved_networks)",
      "fabric_network 10.244.0.0/16 overlaps the reserved range 10.244.255.255/32 (fabric_reserved_networks)"]),
    (dict(vxlan_vni=0, vxlan_port=0, route_protocol=0),
     ["fabric_vxlan_vni 0 is outside 1..16777215", "fabric_vxlan_port 0 is outside 1..65535",
      "fabric_route_protocol 0 must be 5..255 " + KERNEL]),
    (dict(vxlan_vni=16777216, vxlan_port=65536, route_protocol=256),
     ["fabric_vxlan_vni 16777216 is outside 1..16777215", "fabric_vxlan_port 65536 is outside 1..65535",
      "fabric_route_protocol 256 must be 5..255 " + KERNEL]),
    (dict(route_protocol=1), ["fabric_route_protocol 1 must be 5..255 " + KERNEL]),
    (dict(route_protocol=2), ["fabric_route_protocol 2 must be 5..255 " + KERNEL]),
    (dict(route_protocol=3), ["fabric_route_protocol 3 must be 5..255 " + KERNEL]),
    (dict(route_protocol=4), ["fabric_route_protocol 4 must be 5..255 " + KERNEL]),
    (dict(vxlan_checksum_offload_workaround="maybe"),
     ["fabric_vxlan_checksum_offload_workaround 'maybe' must be auto, true or false"]),
    (dict(subnet_min="10.244.1.5/24", subnet_max="garbage"),
     ["fabric_subnet_min '10.244.1.5/24' is not an aligned /24 subnet of fabric_network 10.244.0.0/16",
      "fabric_subnet_max 'garbage' is not an aligned /24 subnet of fabric_network 10.244.0.0/16"]),
    (dict(subnet_min="10.245.0.0/24"),
     ["fabric_subnet_min '10.245.0.0/24' is not an aligned /24 subnet of fabric_network 10.244.0.0/16"]),
    (dict(subnet_min="10.244.9.0", subnet_max="10.244.3.0/24"),
     ["fabric_subnet_min 10.244.9.0/24 is above fabric_subnet_max 10.244.3.0/24"]),
]


@pytest.mark.parametrize("kwargs,problems", BAD_SETTINGS, ids=[str(k) for k, _ in BAD_SETTINGS])
def test_bad_settings_are_named_word_for_word(kwargs, problems):
    space, found = planner.check_settings(S(**kwargs))
    assert found == problems
    with pytest.raises(PlanError) as exc:
        planner.build_plan(S(**kwargs), [H("a", public_ip="192.0.2.1")])
    assert exc.value.problems == problems
    assert str(exc.value) == "fabric plan rejected:\n  - " + "\n  - ".join(problems)


GOOD_SETTINGS = [
    # the limits of every range, on the inside
    (dict(subnet_len=30), (1, 16383)),
    (dict(vxlan_vni=16777215, vxlan_port=65535, route_protocol=255), (1, 255)),
    (dict(vxlan_vni=1, vxlan_port=1, route_protocol=5), (1, 255)),
    (dict(subnet_min="10.244.3.0", subnet_max="10.244.3.0"), (3, 3)),
    (dict(subnet_min="10.244.0.0/24", subnet_max="10.244.255.0/24"), (0, 255)),
    (dict(subnet_min="", subnet_max=None), (1, 255)),
    (dict(network="10.0.0.0/8", subnet_len=9), (1, 1)),
    (dict(network="169.253.0.0/16"), (1, 255)),  # just below the built-in reserved range
    (dict(network="169.255.0.0/16"), (1, 255)),  # just above
    (dict(reserved=("10.245.0.0/16", "10.243.255.0/24", "10.243.255.255/32", "10.245.0.0/32")), (1, 255)),
]


@pytest.mark.parametrize("kwargs,lo_hi", GOOD_SETTINGS, ids=[str(k) for k, _ in GOOD_SETTINGS])
def test_settings_at_the_limits_are_accepted(kwargs, lo_hi):
    space, found = planner.check_settings(S(**kwargs))
    assert found == []
    assert (space.lo, space.hi) == lo_hi
    assert space.subnet(space.hi) in space.network
    assert space.index_of(space.subnet(space.hi)) == space.hi


def test_the_space_maps_indexes_and_subnets_both_ways():
    space, _ = planner.check_settings(S(network="10.244.0.0/16", subnet_len=24))
    assert str(space.subnet(0)) == "10.244.0.0/24" and str(space.subnet(255)) == "10.244.255.0/24"
    assert space.subnet(255).version == 4
    assert space.index_of(space.subnet(0)) == 0 and space.index_of(space.subnet(255)) == 255
    import netaddr

    assert space.index_of(netaddr.IPNetwork("10.243.255.0/24")) is None
    assert space.index_of(netaddr.IPNetwork("10.245.0.0/24")) is None
    assert space.index_of(netaddr.IPNetwork("10.244.1.128/25")) is None
    assert space.index_of(netaddr.IPNetwork("10.244.1.0/23")) is None


# --------------------------------------------------------------------------- #
# hosts, leases, pins, releases
# --------------------------------------------------------------------------- #

NO_IP = "has no public IP: set fabric_public_ip, or ansible_host to an IP, or gather facts"
BAD_HOSTS = [
    ([H("a"), H("b", public_ip="")], ["host a " + NO_IP, "host b " + NO_IP]),
    ([H("a", public_ip="300.1.1.1"), H("b", public_ip="10.0.0.1/8"), H("c", public_ip=True)],
     ["host a: fabric_public_ip '300.1.1.1' is not an IP address",
      "host b: fabric_public_ip '10.0.0.1/8' is not an IP address",
      "host c: fabric_public_ip True is not an IP address"]),
    ([H("a", public_ip="10.244.9.9")], ["host a: its public IP 10.244.9.9 lies inside fabric_network 10.244.0.0/16"]),
    ([H("a", public_ip="192.0.2.1", networks=["10.244.5.0/24", "0.0.0.0/0", "10.243.255.0/24", "10.245.0.0/24",
                                              "bogus", "10.244.255.255/32"]),
      H("b", public_ip="192.0.2.2", networks=["10.244.0.0/32"])],
     ["host a: its own network 10.244.5.0/24 overlaps fabric_network 10.244.0.0/16",
      "host a: its own network 10.244.255.255/32 overlaps fabric_network 10.244.0.0/16",
      "host b: its own network 10.244.0.0/32 overlaps fabric_network 10.244.0.0/16"]),
    ([H("a", public_ip="192.0.2.1", pinned_subnet="nope"), H("b", public_ip="192.0.2.2", pinned_subnet="10.245.0.0/24"),
      H("c", public_ip="192.0.2.3", pinned_subnet="10.244.7.9/24"),
      H("d", public_ip="192.0.2.4", pinned_subnet="10.244.7.0/24"),
      H("e", public_ip="192.0.2.5", pinned_subnet="10.244.7.0/24"), H("f", public_ip="192.0.2.6", pinned_subnet=""),
      H("g", public_ip="192.0.2.7", pinned_subnet="10.243.255.0/24"),
      H("i", public_ip="192.0.2.8", pinned_subnet="10.244.0.0/15")],
     ["host a: fabric_subnet 'nope' is not a valid CIDR",
      "host b: fabric_subnet 10.245.0.0/24 is outside fabric_network 10.244.0.0/16",
      "host c: fabric_subnet 10.244.7.9/24 is not an aligned /24 subnet of 10.244.0.0/16 (did you mean 10.244.7.0/24?)",
      "hosts d and e are both pinned to fabric_subnet 10.244.7.0/24",
      "host g: fabric_subnet 10.243.255.0/24 is outside fabric_network 10.244.0.0/16",
      "host i: fabric_subnet 10.244.0.0/15 is outside fabric_network 10.244.0.0/16"]),
    ([H("a", public_ip="192.0.2.1"), H("b", public_ip="192.0.2.1"), H("c", public_ip="192.0.2.1")],
     ["duplicate public IP 192.0.2.1 on hosts a, b, c"]),
    ([H("a", public_ip="192.0.2.1"), H("a", public_ip="192.0.2.2"), H("b", public_ip="192.0.2.3"),
      H("b", public_ip="192.0.2.4")], ["hosts listed twice: a, b"]),
]


@pytest.mark.parametrize("hosts,problems", BAD_HOSTS, ids=range(len(BAD_HOSTS)))
def test_bad_hosts_are_named_word_for_word(hosts, problems):
    with pytest.raises(PlanError) as exc:
        planner.build_plan(S(), hosts)
    assert exc.value.problems == problems


def test_settings_and_host_problems_are_reported_together():
    with pytest.raises(PlanError) as exc:
        planner.build_plan(S(), [H("a"), H("a", public_ip="192.0.2.1")])
    assert exc.value.problems == ["hosts listed twice: a", "host a " + NO_IP]


def test_pins_at_the_edges_of_the_network_are_honoured():
    plan, _ = planner.build_plan(S(), [H("a", public_ip="192.0.2.1", pinned_subnet="10.244.255.0/24"),
                                       H("b", public_ip="192.0.2.2")])
    assert plan["hosts"]["a"]["subnet"] == "10.244.255.0/24" and plan["hosts"]["b"]["subnet"] == "10.244.1.0/24"


def test_releasing_hosts_still_in_the_inventory_is_refused_by_name():
    with pytest.raises(PlanError) as exc:
        planner.build_plan(S(), [H("a", public_ip="192.0.2.1"), H("b", public_ip="192.0.2.2")],
                           {"a": "10.244.1.0/24", "b": "10.244.2.0/24"}, ["b", "a", "zz"])
    assert exc.value.problems == [
        "cannot release the lease of hosts still in the fabric group: a, b (remove them from the inventory first)"]


def test_pins_that_conflict_with_leases_are_refused_by_name():
    with pytest.raises(PlanError) as exc:
        planner.build_plan(S(), [H("a", public_ip="192.0.2.1", pinned_subnet="10.244.9.0/24"),
                                 H("b", public_ip="192.0.2.2", pinned_subnet="10.244.1.0/24")], {"a": "10.244.1.0/24"})
    assert exc.value.problems == [
        "host a is pinned to fabric_subnet 10.244.9.0/24 but holds the lease 10.244.1.0/24; leased hosts are never "
        "renumbered (remove the host, release its lease, then add it back with the pin)",
        "host b is pinned to fabric_subnet 10.244.1.0/24, which is leased to a"]
    # A pin equal to the host's own lease is no conflict; others' leases stay.
    plan, leases = planner.build_plan(S(), [H("a", public_ip="192.0.2.1", pinned_subnet="10.244.1.0/24")],
                                      {"a": "10.244.1.0/24", "zz": "10.244.2.0/24"})
    assert leases == {"a": "10.244.1.0/24", "zz": "10.244.2.0/24"}


def test_a_released_lease_is_dropped():
    plan, leases = planner.build_plan(S(), [H("b", public_ip="192.0.2.2"), H("c", public_ip="192.0.2.3")],
                                      {"a": "10.244.1.0/24", "b": "10.244.2.0/24"}, ["a"])
    # a released subnet is handed out last: c takes the next never-used one
    assert leases == {"b": "10.244.2.0/24", "c": "10.244.3.0/24"}


def test_bad_leases_are_named_word_for_word():
    with pytest.raises(PlanError) as exc:
        planner.build_plan(S(), [H("a", public_ip="192.0.2.1")],
                           {"a": "10.244.1.5/24", "b": "nonsense", "c": "10.245.0.0/24", "d": "10.244.1.0/24",
                            "e": "10.244.1.0/24"})
    assert exc.value.problems == [
        "lease file: host a holds '10.244.1.5/24', which is not an aligned /24 subnet of 10.244.0.0/16",
        "lease file: host b holds 'nonsense', which is not an aligned /24 subnet of 10.244.0.0/16",
        "lease file: host c holds '10.245.0.0/24', which is not an aligned /24 subnet of 10.244.0.0/16",
        "lease file: hosts d and e both hold 10.244.1.0/24"]


def test_a_full_space_names_the_hosts_left_without_a_subnet():
    small = S(network="10.244.0.0/24", subnet_len=27)
    hosts = [H("h%d" % i, public_ip="192.0.2.%d" % (i + 1)) for i in range(14)]
    with pytest.raises(PlanError) as exc:
        planner.build_plan(small, hosts[:9])
    assert exc.value.problems == [
        "9 new hosts need a subnet but only 7 of the 7 /27 subnets of 10.244.0.0/24 between 10.244.0.32/27 and "
        "10.244.0.224/27 are free (first hosts without one: h7, h8)"]
    with pytest.raises(PlanError) as exc:
        planner.build_plan(small, hosts[:14])
    # five at most, in name order
    assert exc.value.problems[0].endswith("(first hosts without one: h3, h4, h5, h6, h7)")
    with pytest.raises(PlanError) as exc:
        planner.build_plan(small, hosts[:9], {"o1": "10.244.0.32/27", "o2": "10.244.0.96/27", "o3": "10.244.0.224/27"})
    assert exc.value.problems == [
        "9 new hosts need a subnet but only 4 of the 7 /27 subnets of 10.244.0.0/24 between 10.244.0.32/27 and "
        "10.244.0.224/27 are free (first hosts without one: h4, h5, h6, h7, h8)"]
    # More leases than the range holds (leases outside subnet_min/max): "only 0", never a negative count.
    limited = S(network="10.244.0.0/24", subnet_len=27, subnet_max="10.244.0.32/27")
    with pytest.raises(PlanError) as exc:
        planner.build_plan(limited, [H("n", public_ip="192.0.2.1")], {"o1": "10.244.0.32/27", "o2": "10.244.0.64/27"})
    assert exc.value.problems == [
        "1 new hosts need a subnet but only 0 of the 1 /27 subnets of 10.244.0.0/24 between 10.244.0.32/27 and "
        "10.244.0.32/27 are free (first hosts without one: n)"]


def test_new_hosts_fill_the_gaps_between_leases_in_order():
    space, _ = planner.check_settings(S(network="10.244.0.0/24", subnet_len=28))
    leases = {"l3": 3, "l4": 4, "l7": 7, "l8": 8, "l9": 9}
    got = planner.allocate(space, ["a", "b", "c", "d", "e", "l3"], leases, {"p": 10})
    assert got == {"l3": 3, "a": 1, "b": 2, "c": 5, "d": 6, "e": 11}


# --------------------------------------------------------------------------- #
# host_from_facts
# --------------------------------------------------------------------------- #

FACTS = {
    "interfaces": ["lo", "eth0", "eth-1.5", "docker0", "flannel.1", "cni0", "fabric-x", "weird"],
    "default_ipv4": {"address": "192.0.2.10"},
    "kernel": "5.4.0-42-generic",
    "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}, "mtu": 65536},
    "eth0": {"ipv4": {"address": "192.0.2.10", "netmask": "255.255.255.0"}, "mtu": 9000},
    "eth_1_5": {"ipv4": {"address": "198.51.100.7", "netmask": "255.255.255.0"},
                "ipv4_secondaries": [{"address": "203.0.113.9", "netmask": "255.255.255.128"}, "junk",
                                     {"address": "203.0.114.1"}],
                "mtu": 1400},
    "docker0": {"ipv4": {"address": "10.244.3.1", "netmask": "255.255.255.0"}},
    "flannel_1": {"ipv4": {"address": "10.244.3.0", "netmask": "255.255.255.255"}},
    "cni0": {"ipv4": {"address": "10.244.3.1", "netmask": "255.255.255.0"}},
    "fabric_x": {"ipv4": {"address": "10.99.0.1", "netmask": "255.255.0.0"}},
    "weird": {"ipv4": {"netmask": "255.255.255.0"}},
}
OWN = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/25"]


def test_facts_give_the_public_ip_interface_mtu_networks_and_kernel():
    h = planner.host_from_facts("n1", facts=FACTS)
    assert h == H("n1", public_ip="192.0.2.10", iface="eth0", iface_mtu=9000, networks=OWN,
                  public_net="192.0.2.0/24", pinned_subnet=None, kernel="5.4.0-42-generic",
                  running={"docker0": "10.244.3.1/24"})


def test_a_secondary_address_on_a_dashed_dotted_interface_is_found():
    h = planner.host_from_facts("n1", facts=FACTS, public_ip="203.0.113.9", pinned_subnet="10.244.9.0/24")
    assert h == H("n1", public_ip="203.0.113.9", iface="eth-1.5", iface_mtu=1400, networks=OWN,
                  public_net="203.0.113.0/25", pinned_subnet="10.244.9.0/24", kernel="5.4.0-42-generic",
                  running={"docker0": "10.244.3.1/24"})


def test_an_explicit_interface_takes_its_mtu_from_facts_unless_given():
    h = planner.host_from_facts("n1", facts=FACTS, iface="eth-1.5")
    assert (h.iface, h.iface_mtu, h.public_ip, h.public_net) == ("eth-1.5", 1400, "192.0.2.10", "192.0.2.0/24")
    h = planner.host_from_facts("n1", facts=FACTS, iface="eth0")
    assert (h.iface, h.iface_mtu) == ("eth0", 9000)
    h = planner.host_from_facts("n1", facts=FACTS, iface="eth-1.5", iface_mtu=1300)
    assert (h.iface, h.iface_mtu) == ("eth-1.5", 1300)
    h = planner.host_from_facts("n1", facts=FACTS, iface="nope0")
    assert (h.iface, h.iface_mtu) == ("nope0", None)


def test_ansible_host_is_the_public_ip_only_when_it_is_an_ip():
    assert planner.host_from_facts("n", ansible_host="192.0.2.5").public_ip == "192.0.2.5"
    assert planner.host_from_facts("n", facts=FACTS, ansible_host="node.example").public_ip == "192.0.2.10"
    assert planner.host_from_facts("n", facts=FACTS, public_ip="", ansible_host="192.0.2.5").public_ip == "192.0.2.5"
    assert planner.host_from_facts("n", ansible_host="node.example") == H("n")
    assert planner.host_from_facts("n", public_ip="192.0.2.7", ansible_host="192.0.2.5").public_ip == "192.0.2.7"


# --------------------------------------------------------------------------- #
# Per-host desired state
# --------------------------------------------------------------------------- #


def three(**settings):
    plan, _ = planner.build_plan(S(**settings), [
        H("a", public_ip="192.0.2.1", iface="eth0", public_net="192.0.2.0/24", kernel="6.1.0"),
        H("b", public_ip="192.0.2.2", iface="eth0", iface_mtu=9000),
        H("c", public_ip="198.51.100.3", iface="eth1", public_net="198.51.100.0/24", kernel="5.6.0")])
    return plan


def test_the_plan_itself():
    plan = three()
    assert {k: v for k, v in plan.items() if k != "hosts"} == {
        "network": "10.244.0.0/16", "subnet_len": 24, "backend": "vxlan", "vxlan_vni": 1, "vxlan_port": 8472,
        "vxlan_direct_routing": False, "vxlan_checksum_offload_workaround": "auto", "ip_masq": True,
        "route_protocol": planner.DEFAULT_ROUTE_PROTOCOL}
    assert plan["hosts"]["a"] == {
        "public_ip": "192.0.2.1", "public_net": "192.0.2.0/24", "subnet": "10.244.1.0/24", "gateway": "10.244.1.1",
        "vtep_ip": "10.244.1.0", "mtu": 1450, "iface": "eth0", "vtep_mac": "0e:fa:0a:f4:01:00", "kernel": "6.1.0"}
    assert plan["hosts"]["b"]["mtu"] == 8950 and plan["hosts"]["b"]["public_net"] is None


def test_vxlan_state_field_by_field():
    plan = three(vxlan_direct_routing=True, vxlan_vni=7, vxlan_port=4789)
    assert planner.vxlan_state(plan, "a") == {
        "device": "flannel.7", "vni": 7, "port": 4789, "local": "192.0.2.1", "dev": "eth0",
        "mac": "0e:fa:0a:f4:01:00", "address": "10.244.1.0/32", "mtu": 1450,
        "route_protocol": planner.DEFAULT_ROUTE_PROTOCOL,
        "cluster_network": "10.244.0.0/16", "local_subnet": "10.244.1.0/24",
        "neighbours": [{"dst": "10.244.2.0", "lladdr": "0e:fa:0a:f4:02:00"},
                       {"dst": "10.244.3.0", "lladdr": "0e:fa:0a:f4:03:00"}],
        "fdb": [{"lladdr": "0e:fa:0a:f4:02:00", "dst": "192.0.2.2"},
                {"lladdr": "0e:fa:0a:f4:03:00", "dst": "198.51.100.3"}],
        "routes": [{"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.7", "onlink": True,
                    "direct": {"via": "192.0.2.2", "dev": "eth0"}},
                   {"dst": "10.244.3.0/24", "via": "10.244.3.0", "dev": "flannel.7", "onlink": True}],
        "checksum_offload_workaround": False,  # kernel 6.1: fixed
        "rp_filter": 2,
    }
    # b's segment is unknown: no direct route, whatever the setting; c runs 5.6: the workaround.
    assert all("direct" not in r for r in planner.vxlan_state(plan, "b")["routes"])
    assert all("direct" not in r for r in planner.vxlan_state(plan, "c")["routes"])
    assert planner.vxlan_state(plan, "c")["checksum_offload_workaround"] is True
    assert planner.vxlan_state(plan, "b")["checksum_offload_workaround"] is True  # kernel unknown: safe side


def test_direct_routing_covers_the_whole_segment_and_only_it():
    hosts = [H("a", public_ip="192.0.2.1", iface="eth0", public_net="192.0.2.0/30"),
             H("lo", public_ip="192.0.2.0", iface="eth0"), H("hi", public_ip="192.0.2.3", iface="eth0"),
             H("out", public_ip="192.0.2.4", iface="eth0")]
    plan, _ = planner.build_plan(S(vxlan_direct_routing=True), hosts)
    direct = {r["dst"]: "direct" in r for r in planner.vxlan_state(plan, "a")["routes"]}
    by_host = {plan["hosts"][n]["subnet"]: n for n in plan["hosts"]}
    assert {by_host[d]: v for d, v in direct.items()} == {"lo": True, "hi": True, "out": False}
    plan["vxlan_direct_routing"] = False
    assert not any("direct" in r for r in planner.vxlan_state(plan, "a")["routes"])


def test_a_plan_without_optional_keys_takes_the_defaults():
    plan = three()
    for key in ("ip_masq", "vxlan_checksum_offload_workaround", "vxlan_direct_routing"):
        del plan[key]
    assert planner.vxlan_state(plan, "a")["checksum_offload_workaround"] is False  # auto, kernel 6.1
    assert planner.vxlan_state(plan, "c")["checksum_offload_workaround"] is True  # auto, kernel 5.6
    assert planner.docker_config(plan, "a") == {"bip": "10.244.1.1/24", "mtu": 1450, "ip-masq": False}
    assert planner.subnet_env(plan, "a").endswith("FLANNEL_IPMASQ=true\n")
    assert [c["chain"] for c in planner.firewall_state(plan, "a")["chains"]] == [
        "FABRIC-INPUT", "FABRIC-FORWARD", "FABRIC-PREROUTING", "FABRIC-POSTROUTING"]


def test_no_underlay_interface_and_unknown_host_are_named():
    plan, _ = planner.build_plan(S(), [H("a", public_ip="192.0.2.1")])
    with pytest.raises(PlanError) as exc:
        planner.vxlan_state(plan, "a")
    assert exc.value.problems == ["host a: no underlay interface known (set fabric_iface or gather facts)"]
    with pytest.raises(PlanError) as exc:
        planner.firewall_state(plan, "zz")
    assert exc.value.problems == ["host zz is not in the fabric plan (is it in the group fabric?)"]


def test_firewall_state_field_by_field():
    plan = three()
    inbound = "-s 10.244.0.0/16 -d 10.244.2.0/24 -i flannel.1 -j ACCEPT"
    assert planner.firewall_state(plan, "b") == {"chains": [
        {"table": "filter", "chain": "FABRIC-INPUT", "hook": "INPUT", "position": "first",
         "rules": ["-s 192.0.2.1/32 -p udp -m udp --dport 8472 -j ACCEPT",
                   "-s 198.51.100.3/32 -p udp -m udp --dport 8472 -j ACCEPT",
                   "-p udp -m udp --dport 8472 -j DROP"]},
        {"table": "filter", "chain": "FABRIC-FORWARD", "hook": "FORWARD", "create_hook": False,
         "position": "first",
         "rules": [inbound, "-s 10.244.2.0/24 -d 10.244.0.0/16 -i docker0 -o flannel.1 -j ACCEPT"]},
        {"table": "raw", "chain": "FABRIC-PREROUTING", "hook": "PREROUTING", "position": "first",
         "rules": [inbound]},
        {"table": "nat", "chain": "FABRIC-POSTROUTING", "hook": "POSTROUTING", "position": "first",
         "rules": ["-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN",
                   "-s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
                   "! -s 10.244.0.0/16 -d 10.244.2.0/24 -j RETURN",
                   "! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE --random-fully"]},
    ]}
    docker = planner.firewall_state(plan, "b", "20.10.24+dfsg1")["chains"][1]
    assert (docker["hook"], docker["create_hook"]) == ("DOCKER-USER", True)
    plan["ip_masq"] = False
    assert [c["chain"] for c in planner.firewall_state(plan, "b")["chains"]] == [
        "FABRIC-INPUT", "FABRIC-FORWARD", "FABRIC-PREROUTING"]


def test_docker_config_and_subnet_env():
    plan = three()
    assert planner.docker_config(plan, "b") == {"bip": "10.244.2.1/24", "mtu": 8950, "ip-masq": False}
    assert planner.subnet_env(plan, "b") == (
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.2.1/24\nFLANNEL_MTU=8950\nFLANNEL_IPMASQ=true\n")
    plan["ip_masq"] = False
    assert planner.docker_config(plan, "b") == {"bip": "10.244.2.1/24", "mtu": 8950}
    assert planner.subnet_env(plan, "b").endswith("FLANNEL_IPMASQ=false\n")


def test_the_allocation_table():
    plan = three()
    assert planner.plan_table(plan) == (
        "# fabric 10.244.0.0/16, backend vxlan, /24 per host, 3 hosts\n"
        "HOST  PUBLIC IP     SUBNET         GATEWAY     MTU\n"
        "a     192.0.2.1     10.244.1.0/24  10.244.1.1  1450\n"
        "b     192.0.2.2     10.244.2.0/24  10.244.2.1  8950\n"
        "c     198.51.100.3  10.244.3.0/24  10.244.3.1  1450\n")


@pytest.mark.parametrize("mode,kernel,expect", [
    ("true", "6.1", True), ("yes", "6.1", True), ("on", "6.1", True), ("1", "6.1", True), (True, "6.1", True),
    (" TRUE ", "6.1", True),
    ("false", "4.19", False), ("no", "4.19", False), ("off", "4.19", False), ("0", "4.19", False),
    (False, "4.19", False), ("Off", "4.19", False),
    ("auto", "5.6.19", True), ("auto", "5.7.0", False), ("auto", "4.19.0-17-amd64", True), ("AUTO", "6.1", False),
    ("auto", None, True), ("auto", "", True), ("auto", "unknown", True), ("auto", "10.0", False),
])
def test_checksum_workaround_modes(mode, kernel, expect):
    assert planner.needs_checksum_workaround(mode, kernel) is expect


@pytest.mark.parametrize("value,expect", [
    ("true", "true"), ("yes", "true"), ("on", "true"), ("1", "true"), ("ON", "true"),
    ("false", "false"), ("no", "false"), ("off", "false"), ("0", "false"), ("NO", "false"),
    ("auto", "auto"), ("Auto", "auto"), ("maybe", None), ("", None),
])
def test_tristate(value, expect):
    assert planner._tristate(value) == expect
    plan, _ = planner.build_plan(S(vxlan_checksum_offload_workaround=value), [H("a", public_ip="192.0.2.1")]) \
        if expect else (None, None)
    if expect:
        assert plan["vxlan_checksum_offload_workaround"] == expect


def test_kernel_versions():
    assert planner.kernel_version("5.4.0-42-generic") == (5, 4)
    assert planner.kernel_version("10.12") == (10, 12)
    assert planner.kernel_version(None) is None and planner.kernel_version("") is None
    assert planner.kernel_version("XX5.4") is None


def test_subnets_sort_by_address_and_unparseable_ones_first():
    values = ["10.244.10.0/24", "garbage", "10.244.2.0/24", "10.244.1.0/24", "a", "9.0.0.0/8"]
    assert sorted(values, key=planner.subnet_sort_key) == [
        "a", "garbage", "9.0.0.0/8", "10.244.1.0/24", "10.244.2.0/24", "10.244.10.0/24"]
    assert planner.subnet_sort_key("10.244.1.0/24") == (int(__import__("netaddr").IPAddress("10.244.1.0")),
                                                          "10.244.1.0/24")
    assert planner.subnet_sort_key(None) == (-1, "None")


def test_vtep_macs():
    import netaddr

    assert planner.vtep_mac(netaddr.IPNetwork("10.244.1.0/24")) == "0e:fa:0a:f4:01:00"
    assert planner.vtep_mac(netaddr.IPNetwork("192.168.255.128/25")) == "0e:fa:c0:a8:ff:80"
    v6 = planner.vtep_mac(netaddr.IPNetwork("fd00::/64"))
    assert v6.startswith("0e:fa:") and len(v6) == 17 and v6 != planner.vtep_mac(netaddr.IPNetwork("fd00:0:0:1::/64"))
    assert v6 == "0e:fa:" + ":".join("%02x" % b for b in __import__("hashlib").sha256(
        netaddr.IPAddress("fd00::").packed).digest()[:4])


def test_parsing_helpers():
    assert planner.is_ip("192.0.2.1") and planner.is_ip(" 192.0.2.1 ")
    assert not planner.is_ip("192.0.2.0/24") and not planner.is_ip(True) and not planner.is_ip(None)
    assert not planner.is_ip("300.0.0.1")


# --------------------------------------------------------------------------- #
# The ledger: file text, faults, returned keys
# --------------------------------------------------------------------------- #


def test_the_ledger_text_is_exactly_this(tmp_path):
    released = {"10.244.9.0/24": {"host": "z", "released_at": "2026-01-01T00:00:00Z"},
                "10.244.3.0/24": {"host": "y", "released_at": "2026-01-02T00:00:00Z"}}
    text = ledger.render("10.244.0.0/16", 24, {"b": "10.244.10.0/24", "a": "10.244.2.0/24", "c": "10.244.1.0/24"},
                         {"a": "192.0.2.1", "c": "192.0.2.3"}, released)
    assert text == ledger.HEADER + (
        "version: 2\n"
        "network: 10.244.0.0/16\n"
        "subnet_len: 24\n"
        "leases:\n"
        "  c:\n"
        "    subnet: 10.244.1.0/24\n"
        "    public_ip: 192.0.2.3\n"
        "  a:\n"
        "    subnet: 10.244.2.0/24\n"
        "    public_ip: 192.0.2.1\n"
        "  b:\n"
        "    subnet: 10.244.10.0/24\n"
        "released:\n"
        "  10.244.3.0/24:\n"
        "    host: y\n"
        "    released_at: '2026-01-02T00:00:00Z'\n"
        "  10.244.9.0/24:\n"
        "    host: z\n"
        "    released_at: '2026-01-01T00:00:00Z'\n"
        "# end of lease ledger: 3 leases, 2 released\n")
    assert ledger.render("10.244.0.0/16", "24", {}, {}) == ledger.HEADER + (
        "version: 2\nnetwork: 10.244.0.0/16\nsubnet_len: 24\nleases: {}\n# end of lease ledger: 0 leases, 0 released\n")


READ_KEYS = ("network", "subnet_len", "leases", "public_ips", "released", "text")


def test_the_ledger_reads_back_what_it_wrote_in_utf8(tmp_path):
    path = str(tmp_path / "leases.yml")
    text = ledger.render("10.244.0.0/16", 24, {"nœud-é": "10.244.1.0/24"}, {"nœud-é": "192.0.2.1"})
    ledger.write_atomic(path, text)
    with open(path, "rb") as handle:
        assert handle.read() == text.encode("utf-8")
    got = ledger.read(path)
    assert {k: got[k] for k in READ_KEYS} == {
        "network": "10.244.0.0/16", "subnet_len": 24, "leases": {"nœud-é": "10.244.1.0/24"},
        "public_ips": {"nœud-é": "192.0.2.1"}, "released": {}, "text": text}
    absent = ledger.read(str(tmp_path / "absent.yml"))
    assert {k: absent[k] for k in READ_KEYS} == {
        "network": None, "subnet_len": None, "leases": {}, "public_ips": {}, "released": {}, "text": ""}
    assert absent["exists"] is False and got["exists"] is True


def test_a_ledger_of_comments_only_is_refused_as_truncated(tmp_path):
    path = tmp_path / "leases.yml"
    path.write_text("# nothing yet\n")
    with pytest.raises(PlanError) as exc:
        ledger.plan(str(path), S(), [H("a", public_ip="192.0.2.1")])
    assert exc.value.problems == [
        "lease file %s holds no ledger, only comments: it was truncated; restore it (e.g. from version control), "
        "or delete it to start over" % path]
    assert path.read_text() == "# nothing yet\n"


@pytest.mark.parametrize("content,problems", [
    ("- a\n", ["lease file {p}: expected a mapping at the top, found list"]),
    ("7\n", ["lease file {p}: expected a mapping at the top, found int"]),
    ("leases: [a]\n", ["lease file {p}: 'leases' must map host names to subnets"]),
    ("leases:\n  a: {public_ip: 192.0.2.1}\n  b: 7\n  c: 10.244.3.0/24\n",
     ["lease file {p}: host a has no subnet (found {{'public_ip': '192.0.2.1'}})",
      "lease file {p}: host b has no subnet (found 7)"]),
    ("leases: {a: 10.244.1.0/24, b: 10.244.1.0/24}\n", ["lease file {p}: hosts a and b both hold 10.244.1.0/24"]),
    ("network: 10.9.0.0/16\nsubnet_len: 24\nleases: {a: 10.9.1.0/24}\n",
     ["lease file {p} was written for 10.9.0.0/16 with /24 subnets but fabric_network is 10.244.0.0/16 with /24 "
      "subnets; leased hosts are never renumbered: restore the old settings, or move the file aside to renumber "
      "every host on purpose"]),
])
def test_ledger_faults_word_for_word(tmp_path, content, problems):
    path = tmp_path / "leases.yml"
    path.write_text(content)
    with pytest.raises(PlanError) as exc:
        ledger.plan(str(path), S(), [H("a", public_ip="192.0.2.1")])
    assert exc.value.problems == [p.format(p=path) for p in problems]
    assert path.read_text() == content


def test_invalid_yaml_is_named_on_one_line(tmp_path):
    path = tmp_path / "leases.yml"
    path.write_text("leases: [oops\n")
    with pytest.raises(ledger.LedgerError) as exc:
        ledger.read(str(path))
    (problem,) = exc.value.problems
    assert problem.startswith("lease file %s is not valid YAML (truncated or " % path)
    assert "\n" not in problem and "did not find expected ',' or ']'" in problem


def test_an_unreadable_ledger_is_named(tmp_path):
    path = tmp_path / "leases.yml"
    path.write_bytes(b"leases: {a: \xff}\n")
    with pytest.raises(ledger.LedgerError) as exc:
        ledger.read(str(path))
    (problem,) = exc.value.problems
    assert problem.startswith("lease file %s is unreadable: 'utf-8' codec can't decode byte 0xff" % path)


def test_bad_settings_stop_the_ledger_before_reading_leases(tmp_path):
    path = tmp_path / "leases.yml"
    with pytest.raises(PlanError) as exc:
        ledger.plan(str(path), S(vxlan_port=0), [H("a", public_ip="192.0.2.1")])
    assert exc.value.problems == ["fabric_vxlan_port 0 is outside 1..65535"]
    assert not path.exists()


def test_what_ledger_plan_returns(tmp_path):
    path = str(tmp_path / "leases.yml")
    first = ledger.plan(path, S(), [H("a", public_ip="192.0.2.1"), H("b", public_ip="192.0.2.2")])
    assert {"plan", "changed", "before", "after", "released", "unknown_release", "leases"} <= set(first)
    assert first["before"] == "" and first["after"] == open(path, encoding="utf-8").read()
    out = ledger.plan(path, S(), [H("a", public_ip="192.0.2.1")], release=["b", "zz", "b"])
    assert out["released"] == ["b"] and out["unknown_release"] == ["zz"]
    assert out["before"] == first["after"] and out["after"] == open(path, encoding="utf-8").read()
    assert out["leases"] == {"a": "10.244.1.0/24"}


def test_a_new_ledger_goes_into_a_new_folder_with_mode_0644(tmp_path):
    path = tmp_path / "new" / "deeper" / "leases.yml"
    ledger.plan(str(path), S(), [H("a", public_ip="192.0.2.1")])
    assert yaml.safe_load(path.read_text())["leases"] == {"a": {"subnet": "10.244.1.0/24", "public_ip": "192.0.2.1"}}
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert sorted(os.listdir(path.parent)) == [".leases.yml.lock", "leases.yml"]


def test_subnet_env_is_parsed_like_a_shell_would_source_it():
    text = ('# flannel\nFLANNEL_NETWORK=10.244.0.0/16\n  FLANNEL_SUBNET = "10.244.3.1/24"  \n'
            "FLANNEL_MTU='1450'\n#FLANNEL_IPMASQ=true\n=orphan\nNO_EQUALS\nOPTS=a=b\n")
    assert planner.parse_subnet_env(text) == {
        "FLANNEL_NETWORK": "10.244.0.0/16", "FLANNEL_SUBNET": "10.244.3.1/24", "FLANNEL_MTU": "1450", "OPTS": "a=b"}
    assert planner.parse_subnet_env(None) == {} and planner.parse_subnet_env("") == {}


def test_an_empty_public_ip_is_no_public_ip():
    assert planner.host_from_facts("n", public_ip="").public_ip is None
    assert planner.host_from_facts("n", public_ip="", facts=FACTS).public_ip == "192.0.2.10"
    # An explicit interface that holds no address: still the one used, with no MTU from facts.
    h = planner.host_from_facts("n", facts=FACTS, iface="eth0", public_ip="203.0.113.9")
    assert (h.iface, h.iface_mtu, h.public_net) == ("eth0", 9000, "203.0.113.0/25")


# --------------------------------------------------------------------------- #
# options.py: the action's arguments -> planner.Settings
# --------------------------------------------------------------------------- #


def test_settings_from_no_arguments_are_the_planner_defaults():
    from ansible_collections.crosshost.fabric.plugins.plugin_utils import options

    kwargs = options.settings_kwargs({})
    assert kwargs == {
        "network": "10.244.0.0/16", "subnet_len": 24, "subnet_min": None, "subnet_max": None, "backend": "vxlan",
        "reserved": ("172.17.0.0/16",), "vxlan_vni": 1, "vxlan_port": 8472, "vxlan_direct_routing": False,
        "vxlan_checksum_offload_workaround": "auto", "udp_port": 8285, "ip_masq": True, "route_protocol": 244,
        "default_mtu": 1500}
    assert S(**kwargs) == S()


def test_settings_from_arguments_empty_strings_unset_lists_become_tuples():
    from ansible_collections.crosshost.fabric.plugins.plugin_utils import options

    kwargs = options.settings_kwargs({"subnet_min": "", "subnet_max": "10.244.9.0", "backend": "",
                                      "reserved_networks": ["10.0.0.0/8"], "network": "10.9.0.0/16"})
    assert (kwargs["subnet_min"], kwargs["subnet_max"]) == (None, "10.244.9.0")
    assert kwargs["backend"] == ""  # has a default: an empty string stays, and is refused by the planner
    assert kwargs["reserved"] == ("10.0.0.0/8",) and kwargs["network"] == "10.9.0.0/16"


def test_argument_spec_defaults_are_plain_lists():
    from ansible_collections.crosshost.fabric.plugins.plugin_utils import options

    spec = options.argument_spec()
    assert spec["reserved_networks"]["default"] == ["172.17.0.0/16"]
    assert type(spec["reserved_networks"]["default"]) is list
    spec["reserved_networks"]["default"].append("10.0.0.0/8")  # a copy: the next caller gets the default
    assert options.argument_spec()["reserved_networks"]["default"] == ["172.17.0.0/16"]


def test_a_duplicate_key_is_named_with_its_line(tmp_path):
    path = tmp_path / "leases.yml"
    path.write_text("version: 2\nnetwork: 10.244.0.0/16\nsubnet_len: 24\nleases:\n  a: {subnet: 10.244.1.0/24}\n"
                    "  a: {subnet: 10.244.2.0/24}\n# end of lease ledger: 1 leases, 0 released\n")
    with pytest.raises(PlanError) as exc:
        ledger.read(str(path))
    assert exc.value.problems == [
        "lease file %s: key 'a' twice in one mapping (line 6); YAML would keep only the last one, so a host could "
        "be renumbered: fix the file by hand" % path]


def test_released_subnets_are_written_in_address_order_and_returned(tmp_path):
    released = {"10.244.10.0/24": {"host": "z"}, "10.244.9.0/24": {"host": "y"}}
    text = ledger.render("10.244.0.0/16", 24, {}, {}, released)
    assert text.index("10.244.9.0/24") < text.index("10.244.10.0/24")
    path = str(tmp_path / "leases.yml")
    ledger.plan(path, S(), [H("a", public_ip="192.0.2.1"), H("b", public_ip="192.0.2.2")])
    out = ledger.plan(path, S(), [H("a", public_ip="192.0.2.1")], release=["b"], now="2026-11-26T20:00:00Z")
    assert out["released_subnets"] == {"10.244.2.0/24": {"host": "b", "released_at": "2026-11-26T20:00:00Z"}}
    absent = ledger.read(str(tmp_path / "none.yml"))
    assert absent["version"] is None and absent["path"] == str(tmp_path / "none.yml")
