"""plugin_utils/bgp.py and the ledger's legacy path, compared whole: every problem list, section and state.

test_bgp.py proves the topologies with fragments of the messages; mutation testing (make mutation)
showed that fragments let changed texts, ``continue``/``break`` swaps in plan_bgp's loops and
changed defaults in bgp_state through. Here each result is compared whole.
"""

import contextlib
import datetime
import os
import re
import time

import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp, ledger, planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.bgp import BgpInput, BgpSettings
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings

from test_bgp import make_plan

NET = "10.244.0.0/16"
RR = BgpSettings(mode="route-reflector")


def problems(inputs, settings=None):
    with pytest.raises(PlanError) as exc:
        bgp.plan_bgp(NET, inputs, settings or BgpSettings())
    return exc.value.problems




def speaker(router_id, asn=64512, rack=None, reflector=False, router=False, addresses=(), peers=()):
    return {"router_id": router_id, "asn": asn, "rack": rack, "reflector": reflector, "router": router,
            "addresses": list(addresses), "peers": list(peers)}


# --------------------------------------------------------------------------- plan_bgp: problems whole


def test_every_problem_of_a_bad_peers_inventory_word_for_word():
    inputs = [
        BgpInput("n1", "192.0.2.1", peers=[
            "192.0.2.9",  # not a mapping: reported, and the next entries are still checked
            {"address": "10.244.7.1", "asn": 65000, "colour": "red", "size": 1},
            {"address": "192.0.2.1", "asn": 23456, "password": 'a"b'},
            {"address": "router", "asn": "x"},
            {"address": "192.0.2.9/32", "asn": 1},
            {"address": "fd00::1", "asn": 4294967294, "password": "p" * 81},
        ]),
        BgpInput("n2", "192.0.2.2", peers={"address": "192.0.2.9"}),
        BgpInput("n3", "192.0.2.3", peers=""),
        BgpInput("n4", "192.0.2.4", peers=[{"address": "192.0.2.9", "asn": 65000, "password": "x" * 80}]),
    ]
    assert problems(inputs, BgpSettings(mode="peers", encap="gre", password=7)) == [
        "fabric_bgp_encap 'gre' is unknown (choose one of: none, ipip)",
        "fabric_bgp_password: the BGP password must be a string",
        "host n1: fabric_bgp_peers[0] is not a mapping {address, asn, password?}: '192.0.2.9'",
        "host n1: fabric_bgp_peers[1] has unknown keys: colour, size",
        "host n1: fabric_bgp_peers[1]: address 10.244.7.1 lies inside fabric_network 10.244.0.0/16 "
        "(peers are underlay routers)",
        "host n1: fabric_bgp_peers[2]: address 192.0.2.1 is the host's own public IP",
        "host n1: fabric_bgp_peers[2]: asn 23456 is out of range (1..4294967294, not 23456)",
        "host n1: fabric_bgp_peers[2]: the BGP password may not contain a double quote, a backslash or a "
        "control character",
        "host n1: fabric_bgp_peers[3]: address 'router' is not an IPv4 address",
        "host n1: fabric_bgp_peers[3]: asn 'x' is out of range (1..4294967294, not 23456)",
        "host n1: fabric_bgp_peers[4]: address '192.0.2.9/32' is not an IPv4 address",
        "host n1: fabric_bgp_peers[5]: address 'fd00::1' is not an IPv4 address",
        "host n1: fabric_bgp_peers[5]: the BGP password is longer than 80 bytes (TCP MD5 limit)",
        "host n2: fabric_bgp_peers must be a list of {address, asn, password?}",
        "host n2 has no fabric_bgp_peers: in peers mode each host peers only with the routers listed there",
        "host n3 has no fabric_bgp_peers: in peers mode each host peers only with the routers listed there",
    ]
    assert problems([], BgpSettings(mode="full")) == [
        "fabric_bgp_mode 'full' is unknown (choose one of: mesh, route-reflector, peers)"]


def test_a_host_without_a_usable_ip_does_not_stop_the_check_of_the_hosts_after_it():
    # Its own IP is the planner's to name; the hosts after it are still checked.
    inputs = [BgpInput("bad", "bad.example"), BgpInput("n1", "192.0.2.1", asn=0),
              BgpInput("n2", "192.0.2.2", asn="")]
    assert problems(inputs) == [
        "host n1: fabric_bgp_asn 0 is out of range (1..4294967294, not 23456)",
        "fabric_bgp_asn differs between hosts of the mesh (64512 on n2; None on n1): a full iBGP mesh is one AS"]


def test_routers_outside_route_reflector_mode_are_skipped_and_the_rest_checked():
    inputs = [BgpInput("tor", "192.0.2.1", router=True, reflector=True, rack="a"),
              BgpInput("n1", "192.0.2.11", asn=65001), BgpInput("n2", "192.0.2.12", asn=65002)]
    assert problems(inputs) == [
        "fabric_bgp_asn differs between hosts of the mesh (65001 on n1; 65002 on n2): a full iBGP mesh is one AS"]


def test_mesh_asn_problem_lists_five_hosts_per_as_in_text_order_of_the_as():
    inputs = [BgpInput("h%d" % i, "192.0.2.%d" % (10 + i), asn=9) for i in range(1, 8)]
    inputs.append(BgpInput("x", "192.0.2.99", asn=10))
    assert problems(inputs) == [
        "fabric_bgp_asn differs between hosts of the mesh (10 on x; 9 on h1, h2, h3, h4, h5): "
        "a full iBGP mesh is one AS"]
    inputs.append(BgpInput("y", "192.0.2.98", asn="bad"))  # an invalid AS is named, not a crash
    assert problems(inputs) == [
        "host y: fabric_bgp_asn 'bad' is out of range (1..4294967294, not 23456)",
        "fabric_bgp_asn differs between hosts of the mesh (10 on x; 9 on h1, h2, h3, h4, h5; None on y): "
        "a full iBGP mesh is one AS"]


def test_route_reflector_problems_word_for_word():
    inputs = [
        BgpInput("tor-a", "192.0.2.1", rack="a", asn=9, reflector=True, router=True),
        BgpInput("a1", "192.0.2.11", rack="a", asn=10),
        BgpInput("a2", "192.0.2.12", rack="a", asn=9),
        BgpInput("c2", "192.0.2.32", rack="c"),
        BgpInput("c1", "192.0.2.31", rack="c"),
        BgpInput("d1", "192.0.2.41", rack=""),
        BgpInput("tor-x", "fd00::1", router=True, reflector=True, rack="a"),
        BgpInput("tor-y", None, router=True, reflector=True, rack="a"),
        BgpInput("tor-z", "192.0.2.0/24", router=True, reflector=True, rack="a"),
        BgpInput("tor-w", "192.0.2.11", router=True, reflector=True),
    ]
    assert problems(inputs, RR) == [
        "host d1 has no fabric_rack: in route-reflector mode every host and reflector belongs to a rack",
        "reflector tor-x has no usable IPv4 public IP ('fd00::1'): set fabric_public_ip or ansible_host to its IP "
        "(it is its BGP router id)",
        "reflector tor-y has no usable IPv4 public IP (None): set fabric_public_ip or ansible_host to its IP "
        "(it is its BGP router id)",
        "reflector tor-z has no usable IPv4 public IP ('192.0.2.0/24'): set fabric_public_ip or ansible_host to "
        "its IP (it is its BGP router id)",
        "reflector tor-w has no fabric_rack: in route-reflector mode every host and reflector belongs to a rack",
        "duplicate BGP router id 192.0.2.11 (the public IP) on a1, tor-w",
        "rack a: its hosts and reflectors disagree on fabric_bgp_asn (10 on a1; 9 on a2, tor-a); one AS per rack: "
        "set it in the rack's group",
        "rack c has no route reflector (hosts c1, c2): add one to the group fabric_route_reflectors with "
        "fabric_rack: c",
    ]


def test_mesh_warning_above_a_hundred_hosts_word_for_word():
    inputs = [BgpInput("h%03d" % i, "192.0.2.%d" % i) for i in range(1, 102)]
    section, warnings = bgp.plan_bgp(NET, inputs, BgpSettings())
    assert warnings == [
        "fabric_bgp_mode mesh with 101 hosts means 5050 BGP sessions; above 100 hosts use "
        "fabric_bgp_mode: route-reflector (Calico's advice)"]
    assert len(section["speakers"]) == 101
    assert bgp.plan_bgp(NET, inputs[:100], BgpSettings())[1] == []


def test_password_limits():
    assert bgp._password_problem("x" * 80, "w") is None
    assert bgp._password_problem("é" * 40, "w") is None  # 80 bytes
    assert bgp._password_problem("é" * 41, "w") == "w: the BGP password is longer than 80 bytes (TCP MD5 limit)"
    assert bgp._password_problem("", "w") is None and bgp._password_problem(None, "w") is None
    assert bgp._password_problem("a\tb", "w") == ("w: the BGP password may not contain a double quote, a backslash "
                                                  "or a control character")


def test_section_of_a_route_reflector_inventory_whole():
    inputs = [
        BgpInput("tor-a", " 192.0.2.1 ", rack="a", asn="65001", reflector=True, router=True,
                 addresses=["192.0.2.1/24", "fd00::1/64", "bogus", "192.0.2.1/24"]),
        BgpInput("a1", "192.0.2.11", rack=7, asn=65001, addresses=["192.0.2.11/24"],
                 peers=[{"address": "203.0.113.1", "asn": 65100, "password": "pw"}]),
        BgpInput("a0", "192.0.2.10", rack=7, asn=65001, reflector=True),
    ]
    inputs[0].rack = "7"
    section, warnings = bgp.plan_bgp(NET, inputs, BgpSettings(mode="route-reflector", encap="ipip", password="g"))
    assert warnings == []
    assert section == {
        "mode": "route-reflector",
        "encap": "ipip",
        "password": True,
        "graceful_restart": True,
        "clusters": {"7": "192.0.2.1"},
        "speakers": {
            "a0": speaker("192.0.2.10", 65001, "7", reflector=True),
            "a1": speaker("192.0.2.11", 65001, "7", addresses=["192.0.2.11/24"],
                          peers=[{"address": "203.0.113.1", "asn": 65100, "password": True}]),
            "tor-a": speaker("192.0.2.1", 65001, "7", reflector=True, router=True, addresses=["192.0.2.1/24"]),
        },
    }
    assert list(section["speakers"]) == ["a0", "a1", "tor-a"]


def test_section_of_a_mesh_whole_reflector_flags_only_count_in_route_reflector_mode():
    inputs = [BgpInput("b", "192.0.2.2", reflector=True, rack="r", asn=""),
              BgpInput("a", "192.0.2.1", peers=None)]
    section, _ = bgp.plan_bgp(NET, inputs, BgpSettings())
    assert section == {"mode": "mesh", "encap": "none", "password": False, "graceful_restart": True, "clusters": {},
                       "speakers": {"a": speaker("192.0.2.1"), "b": speaker("192.0.2.2", rack="r")}}


# --------------------------------------------------------------------------- bgp_state whole


def test_state_of_a_mesh_host_with_a_peer_router_whole():
    inputs = [BgpInput("n1", "192.0.2.11", peers=[{"address": "192.0.2.1", "asn": 64512},
                                                  {"address": "198.51.100.1", "asn": 65000, "password": "s"}]),
              BgpInput("n2", "192.0.2.12")]
    plan, _ = make_plan(inputs, BgpSettings(password="g"))
    state = bgp.bgp_state(plan, "n1")
    assert state == {
        "router_id": "192.0.2.11",
        "router_forward": None,
        "asn": 64512,
        "mode": "mesh",
        "reflector": False,
        "network": NET,
        "accept": {"network": NET, "min_len": 16, "max_len": 24},
        "subnet": "10.244.1.0/24",
        "graceful_restart": True,
        "route_protocol": 244,
        "underlay_exclude": ["docker0", "veth*", "br-*", "flannel*", "cni*", "cali*", "tunl0"],
        "sessions": [
            {"name": "fabric_n2", "description": "crosshost fabric: n2", "peer": "n2", "address": "192.0.2.12",
             "local_address": "192.0.2.11", "asn": 64512, "ibgp": True, "direct": True, "rr_client": False,
             "rr_cluster_id": None, "next_hop_self": True, "allow_local_as": False, "password": "FABRIC_PW"},
            {"name": "peer_192_0_2_1", "description": "crosshost fabric: router 192.0.2.1", "peer": None,
             "address": "192.0.2.1", "local_address": "192.0.2.11", "asn": 64512, "ibgp": True, "direct": True,
             "rr_client": False, "rr_cluster_id": None, "next_hop_self": True, "allow_local_as": False,
             "password": "FABRIC_PW"},
            {"name": "peer_198_51_100_1", "description": "crosshost fabric: router 198.51.100.1", "peer": None,
             "address": "198.51.100.1", "local_address": None, "asn": 65000, "ibgp": False, "direct": False,
             "rr_client": False, "rr_cluster_id": None, "next_hop_self": True, "allow_local_as": True,
             "password": "FABRIC_PW_PEER_1"},
        ],
        "ipip": None,
    }


def test_state_of_a_reflector_router_with_ipip_whole():
    inputs = [
        BgpInput("tor", "192.0.2.1", rack="a", reflector=True, router=True, addresses=["192.0.2.1/24"]),
        BgpInput("a1", "192.0.2.11", rack="a", addresses=["192.0.2.11/24"]),
        BgpInput("tor-b", "198.51.100.1", rack="b", reflector=True, router=True, asn=65002),
    ]
    plan, _ = make_plan(inputs, BgpSettings(mode="route-reflector", encap="ipip"), public_net=None)
    plan["route_protocol"] = "250"
    state = bgp.bgp_state(plan, "tor")
    sessions = state.pop("sessions")
    assert sessions == [
        {"name": "fabric_a1", "description": "crosshost fabric: a1", "peer": "a1", "address": "192.0.2.11",
         "local_address": "192.0.2.1", "asn": 64512, "ibgp": True, "direct": True, "rr_client": True,
         "rr_cluster_id": "192.0.2.1", "next_hop_self": "ebgp", "allow_local_as": False, "password": None},
        {"name": "fabric_tor_b", "description": "crosshost fabric: tor-b", "peer": "tor-b", "address": "198.51.100.1",
         "local_address": None, "asn": 65002, "ibgp": False, "direct": False, "rr_client": False,
         "rr_cluster_id": None, "next_hop_self": False, "allow_local_as": False, "password": None},
    ]
    assert state == {
        "router_id": "192.0.2.1",
        "router_forward": [
            {"table": "filter", "chain": "FABRIC-INPUT", "hook": "INPUT", "position": "first",
             "rules": ["-s 192.0.2.11/32 -p tcp -m tcp --dport 179 -j ACCEPT",
                       "-s 198.51.100.1/32 -p tcp -m tcp --dport 179 -j ACCEPT",
                       "-p tcp -m tcp --dport 179 -j DROP"]},
            {"table": "filter", "chain": "FABRIC-FORWARD", "hook": "FORWARD", "position": "first",
             "rules": ["-s 10.244.0.0/16 -j ACCEPT", "-d 10.244.0.0/16 -j ACCEPT"]},
        ],
        "asn": 64512,
        "mode": "route-reflector",
        "reflector": True,
        "network": NET,
        "accept": {"network": NET, "min_len": 16, "max_len": 24},
        "subnet": None,
        "graceful_restart": True,
        "route_protocol": 250,
        "underlay_exclude": ["docker0", "veth*", "br-*", "flannel*", "cni*", "cali*", "tunl0"],
        # A router has no subnet and no plan host: no tunnel address, the default MTU.
        "ipip": {"device": "tunl0", "address": None, "mtu": 1480, "segments": ["192.0.2.0/24"]},
    }
    host = bgp.bgp_state(plan, "a1")
    assert host["ipip"] == {"device": "tunl0", "address": "10.244.1.0/32", "mtu": 1480,
                            "segments": ["192.0.2.0/24"]}
    plan["hosts"]["a1"]["mtu"] = 1400
    assert bgp.bgp_state(plan, "a1")["ipip"]["mtu"] == 1400


def test_graceful_restart_follows_the_plan_and_defaults_to_on():
    plan, _ = make_plan([BgpInput("n1", "192.0.2.11"), BgpInput("n2", "192.0.2.12")])
    plan["bgp"]["graceful_restart"] = False
    assert bgp.bgp_state(plan, "n1")["graceful_restart"] is False
    del plan["bgp"]["graceful_restart"]  # a plan written before the setting existed
    assert bgp.bgp_state(plan, "n1")["graceful_restart"] is True


def test_bgp_state_refusals_word_for_word():
    plan, _ = make_plan([BgpInput("n1", "192.0.2.11"), BgpInput("n2", "192.0.2.12")])
    del plan["bgp"]["speakers"]["n2"]
    with pytest.raises(PlanError) as exc:
        bgp.bgp_state(plan, "n2")
    assert exc.value.problems == ["host n2 is not a BGP speaker of the fabric plan"]
    vx, _ = planner.build_plan(Settings(), [HostInput("a", public_ip="192.0.2.1")])
    with pytest.raises(PlanError) as exc:
        bgp.bgp_state(vx, "a")
    assert exc.value.problems == ["the fabric plan has no BGP section (fabric_backend is vxlan, not bgp)"]


# --------------------------------------------------------------------------- facts


def test_addresses_from_facts_names_and_patterns():
    facts = {
        "interfaces": ["lo", "eth0.100", "en-1", "vlan5", "br0", "br-abc", "bridge", "tunl1", "tunl0", "cilium0",
                       "eth2", "eth3", "lo0"],
        "eth0_100": {"ipv4": {"address": "192.0.2.5", "netmask": "255.255.255.0"},
                     "ipv4_secondaries": [{"address": "192.0.2.6"}, "junk", {"netmask": "255.0.0.0"},
                                          {"address": "192.0.2.7", "netmask": "255.255.255.128"}]},
        "en_1": {"ipv4": {"address": "198.51.100.5", "netmask": "255.255.255.0"}},
        "vlan5": {"ipv4": {"address": "10.5.0.1", "netmask": "255.255.0.0"}},
        "br0": {"ipv4": {"address": "10.6.0.1", "netmask": "255.255.0.0"}},
        "br_abc": {"ipv4": {"address": "172.18.0.1", "netmask": "255.255.0.0"}},
        "bridge": {"ipv4": {"address": "10.7.0.1", "netmask": "255.255.0.0"}},
        "tunl1": {"ipv4": {"address": "10.8.0.1", "netmask": "255.255.0.0"}},
        "tunl0": {"ipv4": {"address": "10.244.1.0", "netmask": "255.255.255.255"}},
        "cilium0": {"ipv4": {"address": "10.9.0.1", "netmask": "255.255.0.0"}},
        "eth2": {},
        "eth3": {"ipv4": "not a mapping"},
        "lo0": {"ipv4": {"address": "10.10.0.1", "netmask": "255.255.255.255"}},
    }
    assert bgp.addresses_from_facts(facts) == [
        "10.10.0.1/32", "10.5.0.1/16", "10.6.0.1/16", "10.7.0.1/16", "10.8.0.1/16", "10.9.0.1/16",
        "192.0.2.5/24", "192.0.2.7/25", "198.51.100.5/24"]
    assert bgp.addresses_from_facts(None) == [] and bgp.addresses_from_facts({"interfaces": None}) == []


def test_glob():
    assert bgp._glob("veth12", "veth*") and bgp._glob("veth", "veth*") and not bgp._glob("vet", "veth*")
    assert bgp._glob("br-1", "br-*") and not bgp._glob("br0", "br-*") and not bgp._glob("bridge", "br-*")
    assert bgp._glob("tunl0", "tunl0") and not bgp._glob("tunl01", "tunl0") and not bgp._glob("tunl", "tunl0")


# --------------------------------------------------------------------------- the ledger's legacy path


def test_ledger_moves_from_the_legacy_path_at_the_first_write(tmp_path):
    new, old = str(tmp_path / "new" / "leases.yml"), str(tmp_path / "leases.yml")
    os.makedirs(os.path.dirname(new))
    hosts = [HostInput("a", public_ip="192.0.2.1")]
    ledger.plan(old, Settings(), hosts, now="2026-01-01T00:00:00Z")
    text = open(old).read()
    out = ledger.plan(new, Settings(), hosts, check_mode=True, legacy_path=old)
    assert (out["changed"], out["migrated_from"], out["path"]) == (False, old, new)
    assert out["leases"] == {"a": "10.244.1.0/24"} and not os.path.exists(new)
    out = ledger.plan(new, Settings(), hosts + [HostInput("b", public_ip="192.0.2.2")], legacy_path=old)
    assert (out["changed"], out["migrated_from"]) == (True, old)
    assert out["leases"] == {"a": "10.244.1.0/24", "b": "10.244.2.0/24"}
    assert not os.path.exists(old) and not os.path.exists(old + ".lock")
    assert open(new).read() != text and ledger.read(new)["leases"]["a"] == "10.244.1.0/24"
    out = ledger.plan(new, Settings(), hosts, legacy_path=old)  # the old one is gone: no migration
    assert out["migrated_from"] is None


def test_ledger_refuses_two_ledgers_and_ignores_a_legacy_path_that_is_the_target(tmp_path):
    new, old = str(tmp_path / "new.yml"), str(tmp_path / "old.yml")
    hosts = [HostInput("a", public_ip="192.0.2.1")]
    ledger.plan(old, Settings(), hosts)
    ledger.plan(new, Settings(), hosts)
    with pytest.raises(ledger.LedgerError) as exc:
        ledger.plan(new, Settings(), hosts, legacy_path=old)
    assert exc.value.problems == [
        "two lease ledgers: %s (the old default path) and %s; keep one: if the old one is stale, delete it; "
        "if it is the real one, delete the new one and run again to move it" % (old, new)]
    os.unlink(old)
    os.symlink(new, old)  # the old path is a link to the new file: one ledger
    out = ledger.plan(new, Settings(), hosts, legacy_path=old)
    assert out["migrated_from"] is None and os.path.islink(old)
    link = str(tmp_path / "link.yml")
    os.symlink(new, link)  # the path itself a link, the legacy path its target
    out = ledger.plan(link, Settings(), hosts, legacy_path=new)
    assert out["migrated_from"] is None and out["path"] == new


def test_utc_now_is_utc_whatever_the_local_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        text = ledger._utc_now()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text)
    then = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()) < 60


def test_a_run_that_finds_the_ledger_changed_under_its_lock_plans_again(tmp_path, monkeypatch):
    """Another run wrote between this run's first read and its lock: the plan is made again from that file."""
    path = str(tmp_path / "leases.yml")
    other = str(tmp_path / "other.yml")
    ledger.plan(other, Settings(), [HostInput("x", public_ip="192.0.2.9")], now="2026-01-01T00:00:00Z")
    real = ledger.locked

    @contextlib.contextmanager
    def racing(*args, **kw):
        with real(*args, **kw):
            if not os.path.exists(path):
                os.replace(other, path)  # the other run's write lands just before we hold the lock
            yield

    monkeypatch.setattr(ledger, "locked", racing)
    out = ledger.plan(path, Settings(), [HostInput("a", public_ip="192.0.2.1")], now="2026-01-01T00:00:00Z")
    assert out["changed"] is True
    assert out["leases"] == {"a": "10.244.2.0/24", "x": "10.244.1.0/24"}
    assert ledger.read(path)["leases"] == {"a": "10.244.2.0/24", "x": "10.244.1.0/24"}
    assert out["plan"]["hosts"]["a"]["subnet"] == "10.244.2.0/24"


def test_a_migration_holds_the_old_ledgers_lock_file_too(tmp_path, monkeypatch):
    new, old = str(tmp_path / "new" / "leases.yml"), str(tmp_path / "leases.yml")
    ledger.plan(old, Settings(), [HostInput("a", public_ip="192.0.2.1")])
    real, held = ledger.locked, []

    @contextlib.contextmanager
    def recording(path, timeout=120.0, lock_file=None):
        held.append((path, lock_file))
        with real(path, timeout, lock_file):
            yield

    monkeypatch.setattr(ledger, "locked", recording)
    ledger.plan(new, Settings(), [HostInput("a", public_ip="192.0.2.1"), HostInput("b", public_ip="192.0.2.2")],
                legacy_path=old)
    assert held == [(new, None), (old, old + ".lock")]
    assert sorted(os.listdir(tmp_path)) == [".leases.yml.lock", "new"]
