"""fabric_host_state's network facts against ansible.builtin.setup's, on the same kernel state.

site.yml plans from fabric_host_state(network: true) instead of a setup run (one round trip per host
instead of two). Both run here in one namespace holding what a real underlay can hold: a dotted name
(a VLAN interface), a primary address, a secondary in the same subnet, a second primary in another
subnet, a custom MTU, an interface without IPv4, a default route; the part of the facts the planner
reads must be the same, and the planner must take the same decisions from both (public IP,
interface, MTU, the host's networks). setup keys the dotted interface by its own name (u0.5), the
module as the planner always looked it up (u0_5): the planner reads both.
"""

import json
import sys

import ansible_cli
import pytest

HOST_STATE = "ansible_collections.crosshost.fabric.plugins.modules.fabric_host_state"


@pytest.fixture
def underlay(lab):
    a, b = lab.netns("a"), lab.netns("b")
    lab.veth(a, "u0.5", b, "u1")  # a dot, as in a VLAN interface (eth0.100)
    lab.ex(a, "ip", "link", "set", "u0.5", "mtu", "1400")
    lab.ex(a, "ip", "addr", "add", "192.0.2.1/24", "dev", "u0.5")
    lab.ex(a, "ip", "addr", "add", "192.0.2.7/24", "dev", "u0.5")  # a secondary of the same subnet
    lab.ex(a, "ip", "addr", "add", "198.51.100.5/25", "dev", "u0.5")  # a second primary
    lab.ex(a, "ip", "link", "set", "u0.5", "up")
    lab.ex(a, "ip", "link", "set", "lo", "up")
    lab.ex(a, "ip", "link", "add", "br-x", "type", "bridge")  # no IPv4
    lab.ex(a, "ip", "link", "add", "docker0", "type", "bridge")
    lab.ex(a, "ip", "addr", "add", "10.244.3.1/24", "dev", "docker0")
    # Into the peer namespace only: these namespaces have no way out.
    lab.ex(a, "ip", "route", "add", "default", "via", "192.0.2.254", "dev", "u0.5", "onlink")
    return a


def _planner_view(facts):
    from ansible_collections.crosshost.fabric.plugins.action.fabric_plan import _facts
    from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner

    host = planner.host_from_facts("n1", facts=_facts(facts))
    return _facts(facts), host


def test_the_plan_reads_the_same_from_fabric_host_state_as_from_setup(lab, underlay, collections_root):
    sys.path.insert(0, str(collections_root))
    ours = lab.module(underlay, {"network": True}, module=HOST_STATE)["ansible_facts"]
    setup = ansible_cli.run_module(underlay, "ansible.builtin.setup", {"gather_subset": ["!all", "network"]},
                                   collections_root, local_tmp=lab.tmp_path / "ansible-tmp")["ansible_facts"]
    setup = {k[len("ansible_"):] if k.startswith("ansible_") else k: v for k, v in setup.items()}

    ours_view, ours_host = _planner_view(ours)
    setup_view, setup_host = _planner_view(setup)
    # setup lists the interfaces in /sys/class/net's order, and describes the default route's interface
    # with more keys (its alias and type), which nothing reads.
    for view in (ours_view, setup_view):
        view["interfaces"] = sorted(view["interfaces"])
    ours_default = ours_view.pop("default_ipv4")
    setup_default = setup_view.pop("default_ipv4")
    assert ours_default == {k: setup_default.get(k) for k in ours_default}, (ours_default, setup_default)
    assert ours_view == setup_view, json.dumps({"ours": ours_view, "setup": setup_view}, indent=1, sort_keys=True)
    assert ours_host == setup_host
    # What the plan takes from them, spelled out (so that two equally wrong readings cannot pass).
    assert ours_host.public_ip == "192.0.2.1"
    assert ours_host.iface == "u0.5"
    assert ours_host.iface_mtu == 1400
    assert ours_host.networks == ["192.0.2.0/24", "198.51.100.0/25"]
    assert ours_host.running == {"docker0": "10.244.3.1/24"}
    assert sorted(ours["all_ipv4_addresses"]) == sorted(setup["all_ipv4_addresses"])
    assert ours["default_ipv4"]["gateway"] == setup["default_ipv4"]["gateway"] == "192.0.2.254"
