"""host_facts.network_facts: the network facts site.yml plans from, built from ``ip -j`` output.
tests/integration/test_host_facts.py compares them with ansible.builtin.setup's on a real namespace;
these pin each rule on recorded ``ip -j`` output (exact values, so that a changed rule fails here)."""

from __future__ import annotations

from ansible_collections.crosshost.fabric.plugins.action.fabric_plan import _facts
from ansible_collections.crosshost.fabric.plugins.module_utils.host_facts import fact_key, ipv4_entry, network_facts
from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner


def addr(local, prefixlen, secondary=False, broadcast=None):
    a = {"family": "inet", "local": local, "prefixlen": prefixlen}
    if secondary:
        a["secondary"] = True
    if broadcast:
        a["broadcast"] = broadcast
    return a


LINKS = [
    {"ifname": "lo", "mtu": 65536, "flags": ["LOOPBACK", "UP"], "address": "00:00:00:00:00:00",
     "addr_info": [addr("127.0.0.1", 8), {"family": "inet6", "local": "::1", "prefixlen": 128}]},
    {"ifname": "eth0.100", "mtu": 1400, "flags": ["BROADCAST", "UP", "LOWER_UP"], "address": "02:00:00:00:00:01",
     "addr_info": [addr("192.0.2.7", 24, secondary=True), addr("192.0.2.1", 24, broadcast="192.0.2.255"),
                   addr("198.51.100.5", 25)]},
    {"ifname": "br-x", "mtu": 1500, "flags": ["BROADCAST"], "address": "02:00:00:00:00:02", "addr_info": []},
    {"ifname": "flannel.1", "mtu": 1350, "flags": ["UP"], "address": "0e:fa:0a:f4:01:00",
     "addr_info": [addr("10.244.1.0", 32)]},
]
ROUTE = [{"dst": "8.8.8.8", "gateway": "192.0.2.254", "dev": "eth0.100", "prefsrc": "192.0.2.1"}]


def test_each_interface_is_described_as_setup_describes_it():
    facts = network_facts(LINKS, ROUTE)
    assert facts["interfaces"] == ["lo", "eth0.100", "br-x", "flannel.1"]
    assert facts["eth0_100"] == {
        "device": "eth0.100",
        "mtu": 1400,
        "active": True,
        "macaddress": "02:00:00:00:00:01",
        # The first primary address, whatever the order of ip's list; then the other primaries, then the
        # secondaries.
        "ipv4": {"address": "192.0.2.1", "netmask": "255.255.255.0", "network": "192.0.2.0", "prefix": "24",
                 "broadcast": "192.0.2.255"},
        "ipv4_secondaries": [
            {"address": "198.51.100.5", "netmask": "255.255.255.128", "network": "198.51.100.0", "prefix": "25",
             "broadcast": ""},
            {"address": "192.0.2.7", "netmask": "255.255.255.0", "network": "192.0.2.0", "prefix": "24",
             "broadcast": ""},
        ],
    }
    assert facts["br_x"] == {"device": "br-x", "mtu": 1500, "active": False, "macaddress": "02:00:00:00:00:02"}
    assert facts["lo"]["ipv4"]["address"] == "127.0.0.1" and "ipv4_secondaries" not in facts["lo"]
    # Every IPv4 address but the loopback's, in ip's order.
    assert facts["all_ipv4_addresses"] == ["192.0.2.7", "192.0.2.1", "198.51.100.5", "10.244.1.0"]


def test_the_default_route_names_the_address_it_leaves_from():
    facts = network_facts(LINKS, ROUTE)
    assert facts["default_ipv4"] == {
        "address": "192.0.2.1", "netmask": "255.255.255.0", "network": "192.0.2.0", "prefix": "24",
        "broadcast": "192.0.2.255", "interface": "eth0.100", "gateway": "192.0.2.254", "mtu": 1400,
        "macaddress": "02:00:00:00:00:01",
    }
    # The route's source address, not the interface's first, when it is one of the secondaries.
    other = [dict(ROUTE[0], prefsrc="198.51.100.5")]
    assert network_facts(LINKS, other)["default_ipv4"]["address"] == "198.51.100.5"
    assert network_facts(LINKS, other)["default_ipv4"]["prefix"] == "25"
    # A directly connected default route has no gateway.
    direct = [{"dst": "8.8.8.8", "dev": "eth0.100", "prefsrc": "192.0.2.1"}]
    assert "gateway" not in network_facts(LINKS, direct)["default_ipv4"]


def test_no_default_route_gives_empty_default_facts():
    assert network_facts(LINKS, [])["default_ipv4"] == {}
    assert network_facts(LINKS, None)["default_ipv4"] == {}
    # A route out of an interface ip did not list (a race with a deleted link) gives nothing wrong.
    assert network_facts(LINKS, [{"dev": "gone0", "prefsrc": "192.0.2.9"}])["default_ipv4"] == {}


def test_address_arithmetic_at_the_edges():
    assert ipv4_entry(addr("10.1.2.3", 32)) == {
        "address": "10.1.2.3", "netmask": "255.255.255.255", "network": "10.1.2.3", "prefix": "32", "broadcast": ""}
    assert ipv4_entry(addr("10.1.2.3", 0))["netmask"] == "0.0.0.0"
    assert ipv4_entry(addr("10.1.2.3", 0))["network"] == "0.0.0.0"
    assert ipv4_entry(addr("10.1.2.200", 25))["network"] == "10.1.2.128"
    assert ipv4_entry(addr("10.1.2.200", 1))["netmask"] == "128.0.0.0"


def test_fact_keys_are_what_the_planner_looks_up():
    assert fact_key("eth0.100") == "eth0_100"
    assert fact_key("br-x") == "br_x"


def test_the_planner_finds_the_underlay_on_a_vlan_interface_and_skips_the_fabrics_own():
    host = planner.host_from_facts("n1", facts=_facts(network_facts(LINKS, ROUTE)))
    assert (host.public_ip, host.iface, host.iface_mtu) == ("192.0.2.1", "eth0.100", 1400)
    assert host.networks == ["192.0.2.0/24", "198.51.100.0/25"]  # not flannel.1's, not lo's


def test_the_planner_reads_setups_facts_of_a_vlan_interface_too():
    # ansible.builtin.setup keys a dotted interface by its own name ("ansible_eth0.100"; seen on the lab's
    # flannel.1), where fabric_host_state writes eth0_100: the planner reads both.
    ours = network_facts(LINKS, ROUTE)
    setup_style = {("eth0.100" if k == "eth0_100" else "flannel.1" if k == "flannel_1" else k): v
                   for k, v in ours.items()}
    host = planner.host_from_facts("n1", facts=_facts(setup_style))
    assert (host.public_ip, host.iface, host.iface_mtu) == ("192.0.2.1", "eth0.100", 1400)
    assert host.networks == ["192.0.2.0/24", "198.51.100.0/25"]
