"""planner.host_from_facts on facts whose first address is incomplete: the next ones still count."""

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner


def test_an_address_without_netmask_is_skipped_not_the_rest_of_the_interface():
    facts = {
        "interfaces": ["eth0"],
        "eth0": {"mtu": 1400, "ipv4": {"address": "192.0.2.10"},
                 "ipv4_secondaries": [{"netmask": "255.255.255.0"},
                                      {"address": "198.51.100.10", "netmask": "255.255.255.0"}]},
    }
    h = planner.host_from_facts("n1", facts=facts, public_ip="198.51.100.10")
    assert (h.public_ip, h.iface, h.public_net, h.iface_mtu) == ("198.51.100.10", "eth0", "198.51.100.0/24", 1400)
    assert list(h.networks) == ["198.51.100.0/24"]
