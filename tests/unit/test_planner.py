"""Unit tests of the planner: allocation, validation and per-host desired state. No Ansible."""

import time

import netaddr
import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings


def hosts(n, base="192.0.2.", start=10):
    return [HostInput(name="node%d" % (i + 1), public_ip="%s%d" % (base, start + i), iface="eth0") for i in range(n)]


def subnets(plan):
    return {name: h["subnet"] for name, h in plan["hosts"].items()}


def problems_of(excinfo):
    return "\n".join(excinfo.value.problems)


# --------------------------------------------------------------------------- allocation


def test_first_subnet_is_not_handed_out_and_hosts_take_the_lowest_free_in_name_order():
    plan, leases = planner.build_plan(Settings(), hosts(3))
    assert subnets(plan) == {"node1": "10.244.1.0/24", "node2": "10.244.2.0/24", "node3": "10.244.3.0/24"}
    assert leases == subnets(plan)
    node1 = plan["hosts"]["node1"]
    assert node1["gateway"] == "10.244.1.1"
    assert node1["vtep_ip"] == "10.244.1.0"
    assert node1["vtep_mac"] == "0e:fa:0a:f4:01:00"
    assert node1["mtu"] == 1450


@pytest.mark.parametrize("backend,mtu", [("vxlan", 8950), ("udp", 8972), ("host-gw", 9000), ("bgp", 9000)])
def test_mtu_is_the_interface_mtu_minus_the_backend_overhead(backend, mtu):
    h = [HostInput("a", public_ip="192.0.2.1", iface="eth0", iface_mtu=9000)]
    plan, _ = planner.build_plan(Settings(backend=backend), h)
    assert plan["hosts"]["a"]["mtu"] == mtu


def test_leased_hosts_keep_their_subnet_and_new_hosts_fill_the_lowest_gap():
    leases = {"old1": "10.244.1.0/24", "old3": "10.244.3.0/24", "gone": "10.244.2.0/24"}
    h = [HostInput("old3", public_ip="192.0.2.3"), HostInput("new", public_ip="192.0.2.9"),
         HostInput("old1", public_ip="192.0.2.1")]
    plan, new_leases = planner.build_plan(Settings(), h, leases)
    # "gone" left the inventory: it keeps its lease, so "new" may not take 10.244.2.0/24.
    assert subnets(plan) == {"old3": "10.244.3.0/24", "new": "10.244.4.0/24", "old1": "10.244.1.0/24"}
    assert new_leases["gone"] == "10.244.2.0/24"
    assert "gone" not in plan["hosts"]


def test_release_frees_the_subnet_but_new_hosts_take_never_used_subnets_first():
    leases = {"old1": "10.244.1.0/24", "gone": "10.244.2.0/24"}
    h = [HostInput("old1", public_ip="192.0.2.1"), HostInput("new", public_ip="192.0.2.9")]
    result = planner.plan_fabric(Settings(), h, leases, release=["gone"], now="2026-01-01T00:00:00Z")
    assert subnets(result.plan)["new"] == "10.244.3.0/24"  # gone may still be up with 10.244.2.0/24
    assert "gone" not in result.leases
    assert result.released == {"10.244.2.0/24": {"host": "gone", "released_at": "2026-01-01T00:00:00Z"}}
    # The released subnet is handed out when nothing else is left: /24 in /22 -> 3 subnets.
    small = Settings(network="10.244.0.0/22")
    h.append(HostInput("new2", public_ip="192.0.2.10"))
    result = planner.plan_fabric(small, h, {"old1": "10.244.1.0/24", "gone": "10.244.2.0/24"}, release=["gone"])
    assert subnets(result.plan) == {"old1": "10.244.1.0/24", "new": "10.244.3.0/24", "new2": "10.244.2.0/24"}
    assert result.released == {}


def test_release_of_a_host_still_in_the_inventory_is_refused():
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), hosts(2), {"node1": "10.244.1.0/24"}, release=["node1"])
    assert "node1" in problems_of(exc) and "still in the fabric group" in problems_of(exc)


def test_subnet_min_and_max_bound_the_allocation():
    s = Settings(subnet_min="10.244.10.0", subnet_max="10.244.11.0/24")
    plan, _ = planner.build_plan(s, hosts(2))
    assert sorted(subnets(plan).values()) == ["10.244.10.0/24", "10.244.11.0/24"]
    with pytest.raises(PlanError) as exc:
        planner.build_plan(s, hosts(3))
    assert "3 new hosts need a subnet but only 2" in problems_of(exc)
    assert "node3" in problems_of(exc)


def test_pinned_subnet_is_honoured_and_skipped_by_others():
    h = hosts(3)
    h[2].pinned_subnet = "10.244.1.0/24"
    plan, _ = planner.build_plan(Settings(), h)
    assert subnets(plan) == {"node1": "10.244.2.0/24", "node2": "10.244.3.0/24", "node3": "10.244.1.0/24"}


def test_allocation_is_arithmetic_even_on_a_huge_ipv6_space():
    # IPNetwork.subnet() would have to walk 2**64 subnets; the index arithmetic does not.
    space = planner.Space(netaddr.IPNetwork("fd00::/32"), 96, 1, (1 << 64) - 1)
    start = time.perf_counter()
    got = planner.allocate(space, ["a", "b", "c"], {"x": 1}, {"c": (1 << 63)})
    assert time.perf_counter() - start < 1.0
    assert {h: str(space.subnet(i)) for h, i in got.items()} == {
        "a": "fd00::2:0:0/96", "b": "fd00::3:0:0/96", "c": "fd00:0:8000::/96"}
    assert space.index_of(netaddr.IPNetwork("fd00:0:8000::/96")) == 1 << 63


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "settings,expect",
    [
        (Settings(network="10.244.0.0/33"), "'10.244.0.0/33' is not a valid CIDR"),
        (Settings(network="banana"), "'banana' is not a valid CIDR"),
        (Settings(network="10.244.0.0"), "'10.244.0.0' is not a valid CIDR"),
        (Settings(network="10.244.3.0/16"),
         "10.244.3.0/16 is not a network address (host bits set; did you mean 10.244.0.0/16"),
        (Settings(subnet_len=16), "/16 must be longer than the prefix of fabric_network 10.244.0.0/16"),
        (Settings(subnet_len=12), "/12 must be longer than the prefix"),
        (Settings(subnet_len=31), "/31 is longer than /30"),
        (Settings(subnet_len="x"), "fabric_subnet_len 'x' is not an integer"),
        (Settings(backend="ipip"), "fabric_backend 'ipip' is unknown"),
        (Settings(network="169.254.0.0/16"), "overlaps the reserved range 169.254.0.0/16"),
        (Settings(network="172.16.0.0/12"), "overlaps the reserved range 172.17.0.0/16 (fabric_reserved_networks)"),
        (Settings(network="10.0.0.0/8", reserved=("172.17.0.0/16", "10.99.0.0/16")),
         "10.0.0.0/8 overlaps the reserved range 10.99.0.0/16"),
        (Settings(reserved=("nonsense",)), "fabric_reserved_networks entry 'nonsense' is not a valid CIDR"),
        (Settings(subnet_min="10.244.5.7/24"), "fabric_subnet_min '10.244.5.7/24' is not an aligned /24 subnet"),
        (Settings(subnet_max="10.245.0.0/24"), "fabric_subnet_max '10.245.0.0/24' is not an aligned /24"),
        (Settings(subnet_min="10.244.9.0/24", subnet_max="10.244.3.0/24"), "10.244.9.0/24 is above fabric_subnet_max"),
        (Settings(network="fd00::/48"), "is IPv6"),
        (Settings(vxlan_vni=0), "fabric_vxlan_vni 0 is outside"),
        (Settings(vxlan_port=70000), "fabric_vxlan_port 70000 is outside"),
        (Settings(route_protocol=4), "fabric_route_protocol 4 must be 5..255"),
    ],
)
def test_bad_settings_are_rejected_with_the_value_named(settings, expect):
    with pytest.raises(PlanError) as exc:
        planner.build_plan(settings, hosts(2))
    assert expect in problems_of(exc)


def test_more_hosts_than_subnets():
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(network="10.244.0.0/22", subnet_len=24), hosts(4))
    assert "4 new hosts need a subnet but only 3 of the 3 /24 subnets of 10.244.0.0/22" in problems_of(exc)
    assert "node4" in problems_of(exc)


def test_host_networks_overlapping_the_cluster_network_are_named():
    h = hosts(2)
    h[1].networks = ["10.0.0.0/8"]
    h[0].public_ip = "10.244.200.5"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h)
    text = problems_of(exc)
    assert "host node2: its own network 10.0.0.0/8 overlaps fabric_network 10.244.0.0/16" in text
    assert "host node1: its public IP 10.244.200.5 lies inside fabric_network 10.244.0.0/16" in text


def test_duplicate_and_missing_and_bad_public_ips():
    h = hosts(4)
    h[1].public_ip = h[0].public_ip
    h[2].public_ip = None
    h[3].public_ip = "not-an-ip"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h)
    text = problems_of(exc)
    assert "duplicate public IP 192.0.2.10 on hosts node1, node2" in text
    assert "host node3 has no public IP" in text
    assert "host node4: fabric_public_ip 'not-an-ip' is not an IP address" in text


@pytest.mark.parametrize(
    "pin,expect",
    [
        ("10.245.1.0/24", "host node1: fabric_subnet 10.245.1.0/24 is outside fabric_network 10.244.0.0/16"),
        ("10.244.1.5/24",
         "fabric_subnet 10.244.1.5/24 is not an aligned /24 subnet of 10.244.0.0/16 (did you mean 10.244.1.0/24"),
        ("10.244.1.0/25", "fabric_subnet 10.244.1.0/25 is not an aligned /24"),
        ("bogus", "host node1: fabric_subnet 'bogus' is not a valid CIDR"),
    ],
)
def test_bad_pins(pin, expect):
    h = hosts(2)
    h[0].pinned_subnet = pin
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h)
    assert expect in problems_of(exc)


def test_pin_taken_by_another_pin_or_lease_and_pin_against_own_lease():
    h = hosts(3)
    h[0].pinned_subnet = h[1].pinned_subnet = "10.244.7.0/24"
    h[2].pinned_subnet = "10.244.8.0/24"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h, {"other": "10.244.8.0/24"})
    text = problems_of(exc)
    assert "hosts node1 and node2 are both pinned to fabric_subnet 10.244.7.0/24" in text
    assert "host node3 is pinned to fabric_subnet 10.244.8.0/24, which is leased to other" in text
    h = hosts(1)
    h[0].pinned_subnet = "10.244.9.0/24"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h, {"node1": "10.244.1.0/24"})
    assert "host node1 is pinned to fabric_subnet 10.244.9.0/24 but holds the lease 10.244.1.0/24" in problems_of(exc)


def test_leases_edited_into_faults():
    leases = {"a": "10.244.1.0/24", "b": "10.244.1.0/24", "c": "10.250.0.0/24", "d": "10.244.2.128/25"}
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), hosts(1), leases)
    text = problems_of(exc)
    assert "hosts a and b both hold 10.244.1.0/24" in text
    assert "host c holds '10.250.0.0/24'" in text
    assert "host d holds '10.244.2.128/25'" in text


def test_every_problem_is_reported_at_once():
    h = hosts(2)
    h[1].public_ip = h[0].public_ip
    h[0].pinned_subnet = "10.9.9.0/24"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h)
    assert len(exc.value.problems) == 2


# --------------------------------------------------------------------------- facts


def facts(**ifaces):
    f = {"interfaces": list(ifaces), "default_ipv4": {"address": "192.0.2.50", "interface": "eth0"}}
    for name, (addr, mask, mtu) in ifaces.items():
        f[name.replace(".", "_").replace("-", "_")] = {"ipv4": {"address": addr, "netmask": mask}, "mtu": mtu}
    return f


def test_host_from_facts_picks_the_interface_holding_the_public_ip_and_skips_fabric_devices():
    f = facts(eth0=("192.0.2.50", "255.255.255.0", 1500), eth1=("198.51.100.7", "255.255.255.0", 9000),
              docker0=("10.244.1.1", "255.255.255.0", 1450), **{"flannel.1": ("10.244.1.0", "255.255.255.255", 1450)})
    h = planner.host_from_facts("n", facts=f, public_ip="198.51.100.7", ansible_host="n.example")
    assert (h.public_ip, h.iface, h.iface_mtu, h.public_net) == ("198.51.100.7", "eth1", 9000, "198.51.100.0/24")
    assert h.networks == ["192.0.2.0/24", "198.51.100.0/24"]


def test_public_ip_defaults_to_ansible_host_when_an_ip_else_the_default_ipv4_fact():
    f = facts(eth0=("192.0.2.50", "255.255.255.0", 1500))
    assert planner.host_from_facts("n", facts=f, ansible_host="203.0.113.9").public_ip == "203.0.113.9"
    h = planner.host_from_facts("n", facts=f, ansible_host="node.example")
    assert (h.public_ip, h.iface) == ("192.0.2.50", "eth0")
    assert planner.host_from_facts("n", facts={}, ansible_host="node.example").public_ip is None


# --------------------------------------------------------------------------- desired state


def test_vxlan_state_has_flannels_three_entries_per_peer_and_nothing_for_itself():
    plan, _ = planner.build_plan(Settings(), hosts(3))
    st = planner.vxlan_state(plan, "node2")
    assert (st["device"], st["vni"], st["port"], st["local"], st["dev"]) == ("flannel.1", 1, 8472, "192.0.2.11", "eth0")
    assert (st["mac"], st["address"], st["mtu"]) == ("0e:fa:0a:f4:02:00", "10.244.2.0/32", 1450)
    assert st["neighbours"] == [{"dst": "10.244.1.0", "lladdr": "0e:fa:0a:f4:01:00"},
                                {"dst": "10.244.3.0", "lladdr": "0e:fa:0a:f4:03:00"}]
    assert st["fdb"] == [{"lladdr": "0e:fa:0a:f4:01:00", "dst": "192.0.2.10"},
                         {"lladdr": "0e:fa:0a:f4:03:00", "dst": "192.0.2.12"}]
    assert st["routes"][0] == {"dst": "10.244.1.0/24", "via": "10.244.1.0", "dev": "flannel.1", "onlink": True}
    assert st["route_protocol"] == 244


def test_direct_routing_only_for_peers_on_the_hosts_own_segment():
    h = hosts(3)
    for x in h:
        x.public_net = "192.0.2.0/24"
    h[2].public_ip, h[2].public_net = "198.51.100.5", "198.51.100.0/24"
    plan, _ = planner.build_plan(Settings(vxlan_direct_routing=True, vxlan_vni=7), h)
    routes = {r["dst"]: r for r in planner.vxlan_state(plan, "node1")["routes"]}
    assert routes["10.244.2.0/24"]["direct"] == {"via": "192.0.2.11", "dev": "eth0"}
    assert "direct" not in routes["10.244.3.0/24"]
    assert routes["10.244.3.0/24"]["dev"] == "flannel.7"


def test_vtep_macs_are_unique_locally_administered_unicast():
    many = [HostInput("h%d" % i, public_ip=str(netaddr.IPAddress(0xC0000200 + i))) for i in range(300)]
    plan, _ = planner.build_plan(Settings(network="10.0.0.0/8", reserved=()), many)
    macs = [h["vtep_mac"] for h in plan["hosts"].values()]
    assert len(set(macs)) == 300
    for mac in macs:
        first = int(mac.split(":")[0], 16)
        assert first & 0x02 and not first & 0x01


def test_firewall_docker_and_subnet_env():
    plan, _ = planner.build_plan(Settings(), hosts(2))
    fw = planner.firewall_state(plan, "node1")
    nat = [c for c in fw["chains"] if c["table"] == "nat"][0]
    assert nat["rules"] == [
        "-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN",
        "-s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
        "! -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN",
        "! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE --random-fully",
    ]
    fwd = [c for c in fw["chains"] if c["chain"] == "FABRIC-FORWARD"][0]
    assert (fwd["hook"], fwd["rules"]) == ("FORWARD", [
        "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT",
        "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o flannel.1 -j ACCEPT",
    ])
    assert planner.docker_config(plan, "node2") == {"bip": "10.244.2.1/24", "mtu": 1450, "ip-masq": False}
    assert planner.subnet_env(plan, "node2") == (
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.2.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    plan, _ = planner.build_plan(Settings(ip_masq=False), hosts(2))
    assert [c["table"] for c in planner.firewall_state(plan, "node1")["chains"]] == ["filter", "filter", "raw"]
    assert "ip-masq" not in planner.docker_config(plan, "node1")


def chain(fw, name):
    return [c for c in fw["chains"] if c["chain"] == name][0]


def test_front_door_accepts_the_backend_port_from_peers_only():
    """Issue 6 item 12: one accept per peer's public IP, then a counted drop; none for self."""
    plan, _ = planner.build_plan(Settings(vxlan_port=4789), hosts(3))
    front = chain(planner.firewall_state(plan, "node2"), "FABRIC-INPUT")
    assert (front["table"], front["hook"], front["position"]) == ("filter", "INPUT", "first")
    assert front["rules"] == [
        "-s 192.0.2.10/32 -p udp -m udp --dport 4789 -j ACCEPT",
        "-s 192.0.2.12/32 -p udp -m udp --dport 4789 -j ACCEPT",
        "-p udp -m udp --dport 4789 -j DROP",
    ]


def test_every_backend_names_its_ports_and_the_rule_follows(monkeypatch):
    """The BACKEND_PORTS table is the one place a backend's ports are named."""
    assert set(planner.BACKEND_PORTS) == set(planner.BACKENDS)
    for backend in planner.BACKENDS:
        plan, _ = planner.build_plan(Settings(backend=backend), hosts(2))
        fw = planner.firewall_state(plan, "node1")
        names = [c["chain"] for c in fw["chains"]]
        ports = planner.backend_ports(plan)
        assert ports == {"vxlan": [("udp", 8472)], "udp": [("udp", 8285)], "bgp": [("tcp", 179)],
                         "host-gw": []}[backend]
        if not ports:
            assert "FABRIC-INPUT" not in names
            continue
        proto, port = ports[0]
        assert chain(fw, "FABRIC-INPUT")["rules"] == [
            "-s 192.0.2.11/32 -p %s -m %s --dport %d -j ACCEPT" % (proto, proto, port),
            "-p %s -m %s --dport %d -j DROP" % (proto, proto, port),
        ]
    monkeypatch.setitem(planner.BACKEND_PORTS, "vxlan", [("udp", "vxlan_port"), ("tcp", 4000)])
    plan, _ = planner.build_plan(Settings(), hosts(2))
    assert chain(planner.firewall_state(plan, "node1"), "FABRIC-INPUT")["rules"][2:] == [
        "-s 192.0.2.11/32 -p tcp -m tcp --dport 4000 -j ACCEPT", "-p tcp -m tcp --dport 4000 -j DROP"]


def test_forward_accepts_only_the_fabric_devices():
    """Issue 6 item 13 / issue 14: nothing is accepted just for its destination; the tunnel's
    traffic to the own subnet, the own bridge's to the cluster; underlay peers (host-gw, bgp,
    VXLAN direct routing on the segment) from their own subnets only; the raw table accepts the
    same inbound traffic; with Docker the jump comes from DOCKER-USER."""
    plan, _ = planner.build_plan(Settings(backend="host-gw"), hosts(3))
    fw = planner.firewall_state(plan, "node1", "28.5.2")
    fwd = chain(fw, "FABRIC-FORWARD")
    assert (fwd["hook"], fwd["create_hook"]) == ("DOCKER-USER", True)
    inbound = ["-s 10.244.2.0/24 -d 10.244.1.0/24 -i eth0 -j ACCEPT",
               "-s 10.244.3.0/24 -d 10.244.1.0/24 -i eth0 -j ACCEPT"]
    assert fwd["rules"] == inbound + ["-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o eth0 -j ACCEPT"]
    raw = chain(fw, "FABRIC-PREROUTING")
    assert (raw["table"], raw["hook"], raw["rules"]) == ("raw", "PREROUTING", inbound)
    for fw in (planner.firewall_state(plan, "node1"), planner.firewall_state(plan, "node1", "")):
        assert chain(fw, "FABRIC-FORWARD")["hook"] == "FORWARD"
    for rule in fwd["rules"] + raw["rules"]:
        assert " -i " in " " + rule
    # VXLAN with direct routing: the tunnel, plus the peers on the own segment
    many = hosts(2) + [HostInput(name="node9", public_ip="198.51.100.9", iface="eth0")]
    many = [HostInput(**dict(h.__dict__, public_net="192.0.2.0/24")) if h.name != "node9" else h for h in many]
    plan, _ = planner.build_plan(Settings(vxlan_direct_routing=True), many)
    rules = chain(planner.firewall_state(plan, "node1"), "FABRIC-FORWARD")["rules"]
    assert rules == [
        "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT",
        "-s 10.244.2.0/24 -d 10.244.1.0/24 -i eth0 -j ACCEPT",
        "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o flannel.1 -j ACCEPT",
        "-s 10.244.1.0/24 -d 10.244.0.0/16 -i docker0 -o eth0 -j ACCEPT",
    ]


def test_desired_state_for_a_host_outside_the_plan_names_it():
    plan, _ = planner.build_plan(Settings(), hosts(1))
    with pytest.raises(PlanError, match="host ghost is not in the fabric plan"):
        planner.vxlan_state(plan, "ghost")


def test_plan_table_is_in_subnet_order():
    h = hosts(2)
    h[0].pinned_subnet = "10.244.9.0/24"
    plan, _ = planner.build_plan(Settings(), h)
    lines = planner.plan_table(plan).splitlines()
    assert lines[1].split() == ["HOST", "PUBLIC", "IP", "SUBNET", "GATEWAY", "MTU"]
    assert [line.split()[0] for line in lines[2:]] == ["node2", "node1"]


@pytest.mark.parametrize(
    "mode,kernel,expect",
    [
        ("auto", "5.4.0-42-generic", True),   # before the 5.7 fix: flannel #1279 / calico #3145
        ("auto", "5.6.19", True),
        ("auto", "5.7.0", False),
        ("auto", "6.18.44-fc-v669", False),
        ("auto", None, True),                  # unknown kernel: the safe side
        (True, "6.1.0", True),
        ("false", "4.19.0", False),
        ("yes", "6.1.0", True),
    ],
)
def test_checksum_offload_workaround_follows_calicos_kernel_rule(mode, kernel, expect):
    h = hosts(2)
    h[0].kernel = kernel
    plan, _ = planner.build_plan(Settings(vxlan_checksum_offload_workaround=mode), h)
    assert planner.vxlan_state(plan, "node1")["checksum_offload_workaround"] is expect


def test_checksum_offload_workaround_rejects_other_values():
    with pytest.raises(PlanError, match="fabric_vxlan_checksum_offload_workaround 'sometimes' must be auto"):
        planner.build_plan(Settings(vxlan_checksum_offload_workaround="sometimes"), hosts(1))


def test_kernel_comes_from_facts():
    assert planner.host_from_facts("n", facts={"kernel": "5.4.0-42-generic"}).kernel == "5.4.0-42-generic"
