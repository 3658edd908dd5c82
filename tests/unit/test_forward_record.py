"""The forward record's values (what reset.yml and the boot units give back of the host's forwarding):
undo.forward_record, and the filters the forward and backend roles use (forward_record, backend_role).
Pure Python; the record's round trip on real hosts is molecule's (default: reset; bgp-racks: the router)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.crosshost.fabric.plugins.filter.fabric import FilterModule
from ansible_collections.crosshost.fabric.plugins.plugin_utils.undo import forward_record

FILTERS = FilterModule().filters()


@pytest.mark.parametrize("lines, want", [
    (["0", "-P FORWARD DROP"], {"ip_forward": "0", "forward_policy": "DROP"}),
    (["1", "-P FORWARD ACCEPT"], {"ip_forward": "1", "forward_policy": "ACCEPT"}),
    # iptables missing, or a policy this record does not give back: unknown, nothing given back for it
    (["1"], {"ip_forward": "1", "forward_policy": ""}),
    (["1", "-P FORWARD REJECT"], {"ip_forward": "1", "forward_policy": ""}),
    (["1", "-P INPUT DROP"], {"ip_forward": "1", "forward_policy": ""}),
    (["1", "-P FORWARD DROP extra"], {"ip_forward": "1", "forward_policy": ""}),
    (["2", "-P FORWARD DROP"], {"ip_forward": "", "forward_policy": "DROP"}),
    (["cat: /proc/sys/net/ipv4/ip_forward: No such file"], {"ip_forward": "", "forward_policy": ""}),
    ([], {"ip_forward": "", "forward_policy": ""}),
    ([" 0 ", " -P FORWARD DROP "], {"ip_forward": "0", "forward_policy": "DROP"}),
    # the policy is the second line (iptables -S lists it first); a rule after it is not the policy
    (["0", "-P FORWARD DROP", "-A FORWARD -j DOCKER-USER"], {"ip_forward": "0", "forward_policy": "DROP"}),
])
def test_the_read_lines_give_the_records_values(lines, want):
    assert forward_record(lines) == want
    assert FILTERS["forward_record"](lines) == want


def test_site_ymls_read_of_ip_forward_comes_first_when_it_is_a_value():
    # site.yml read the host before any role turned forwarding on; the role's own read comes after.
    assert forward_record(["1", "-P FORWARD DROP"], "0") == {"ip_forward": "0", "forward_policy": "DROP"}
    assert FILTERS["forward_record"](["1", "-P FORWARD DROP"], "0")["ip_forward"] == "0"
    # no value from site.yml's read (the filter's default ''), or none that is one: the role's read
    assert forward_record(["1", "-P FORWARD DROP"], "0\n")["ip_forward"] == "0"
    for read in (None, "", "yes", "2"):
        assert FILTERS["forward_record"](["1", "-P FORWARD ACCEPT"], read)["ip_forward"] == "1"
        assert forward_record(["1", "-P FORWARD ACCEPT"], read)["ip_forward"] == "1"


def test_the_filter_refuses_text_where_lines_are_expected():
    with pytest.raises(AnsibleFilterError, match="stdout_lines"):
        FILTERS["forward_record"]("1\n-P FORWARD DROP")


@pytest.mark.parametrize("backend, role", [("vxlan", "vxlan"), ("host-gw", "hostgw"), ("bgp", "bgp"), ("udp", "udp")])
def test_backend_role_is_the_planners_name_of_the_backends_role(backend, role):
    assert FILTERS["backend_role"](backend) == role


def test_backend_role_refuses_what_is_not_a_name():
    with pytest.raises(AnsibleFilterError, match="backend name"):
        FILTERS["backend_role"](["vxlan"])
