"""plugins/module_utils/iproute.py on recorded ``ip -j`` / ``bridge -j`` output: exact records and commands.

tests/unit/data/record.sh made the recordings in a network namespace: a VXLAN device flannel.1 (VNI 1,
port 8472, no learning, MAC set in upper case, two IPv4 and one IPv6 address) over a veth eth0;
permanent, reachable and stale neighbours; FDB entries in the desired form, with a port and VNI of
their own, the all-zero flood entries and a dynamic one; a ``-force`` batch of ``route get`` with an
unreachable address in it; a batch failing on its second line.
"""


import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import iproute

from recorded_run import Run, recorded

IP = "/sbin/ip"
BRIDGE = "/sbin/bridge"




# ---------------------------------------------------------------- normalisation


def test_norm_ip():
    assert iproute.norm_ip("10.244.2.0") == "10.244.2.0"
    assert iproute.norm_ip(b" 10.0.0.1\n") == "10.0.0.1"
    assert iproute.norm_ip("FD00:0::0:1") == "fd00::1"
    for bad in ("10.1", "010.0.0.1", "10.0.0.256", "", "fd00:::1", "fd00::g"):
        with pytest.raises(ValueError) as err:
            iproute.norm_ip(bad, "peer")
        assert str(err.value) == "invalid peer: %r" % bad
    with pytest.raises(ValueError) as err:
        iproute.norm_ip("x")
    assert str(err.value) == "invalid address: 'x'"


def test_norm_net():
    assert iproute.norm_net("10.244.2.0/24") == "10.244.2.0/24"
    assert iproute.norm_net(" 10.244.2.7 ") == "10.244.2.7/32"
    assert iproute.norm_net("0.0.0.0/0") == "0.0.0.0/0"
    assert iproute.norm_net("10.244.2.128/25") == "10.244.2.128/25"
    assert iproute.norm_net("10.244.2.1/32") == "10.244.2.1/32"
    assert iproute.norm_net("FD00::/64") == "fd00::/64"
    assert iproute.norm_net("fd00::1") == "fd00::1/128"
    with pytest.raises(ValueError) as err:
        iproute.norm_net("default", "dst")
    assert str(err.value) == "invalid dst: 'default' is not a fabric route"
    for bad in ("10.244.2.1/24", "10.244.2.0/33", "10.244.2.0/x", "10.244.2/24", "10.244.2.0/-1"):
        with pytest.raises(ValueError) as err:
            iproute.norm_net(bad)
        assert str(err.value) == "invalid network (host bits set, or not ADDRESS/PREFIX): %r" % bad
    with pytest.raises(ValueError) as err:
        iproute.norm_net("fd00::1/64", "dst")
    assert str(err.value) == "invalid dst: 'fd00::1/64'"


def test_kernel_ip_and_family():
    assert iproute.kernel_ip("10.0.0.1") == "10.0.0.1"
    assert iproute.kernel_ip("FD00:0::1") == "fd00::1"
    assert iproute.family_of("10.0.0.0/8") == 4
    assert iproute.family_of("fd00::/8") == 6


def test_norm_iface_addr():
    assert iproute.norm_iface_addr("10.244.1.1/24") == "10.244.1.1/24"
    assert iproute.norm_iface_addr(" FD00::1/64 ") == "fd00::1/64"
    for bad in ("10.244.1.1", "10.244.1.1/33", "x/24"):
        with pytest.raises(ValueError) as err:
            iproute.norm_iface_addr(bad, "address")
        assert str(err.value) == "invalid address (want ADDRESS/PREFIX): %r" % bad


def test_macs():
    assert iproute.norm_mac(" 02:AA:bb:CC:dd:01 ") == "02:aa:bb:cc:dd:01"
    for bad in ("02:aa:bb:cc:dd", "02:aa:bb:cc:dd:01:02", "02-aa-bb-cc-dd-01", "0g:aa:bb:cc:dd:01",
                "x02:aa:bb:cc:dd:01"):
        with pytest.raises(ValueError) as err:
            iproute.norm_mac(bad, "mac")
        assert str(err.value) == "invalid mac: %r" % bad
    with pytest.raises(ValueError) as err:
        iproute.norm_mac("nope")
    assert str(err.value) == "invalid MAC address: 'nope'"
    assert iproute.norm_unicast_mac("02:AA:BB:CC:DD:01") == "02:aa:bb:cc:dd:01"
    assert iproute.norm_unicast_mac("FE:00:00:00:00:01") == "fe:00:00:00:00:01"
    with pytest.raises(ValueError) as err:
        iproute.norm_unicast_mac("00:00:00:00:00:00", "lladdr")
    assert str(err.value) == "invalid lladdr: '00:00:00:00:00:00' is the all-zero address"
    for bad in ("01:00:5e:00:00:01", "FF:FF:FF:FF:FF:FF", "03:00:00:00:00:00"):
        with pytest.raises(ValueError) as err:
            iproute.norm_unicast_mac(bad)
        assert str(err.value) == "invalid MAC address: %r is a multicast or broadcast address" % bad


def test_norm_unicast_ip():
    assert iproute.norm_unicast_ip("192.0.2.1") == "192.0.2.1"
    assert iproute.norm_unicast_ip("FD00::1") == "fd00::1"
    for bad in ("0.0.0.0", "127.0.0.1", "224.0.0.1", "255.255.255.255", "::", "::1", "ff02::1"):
        with pytest.raises(ValueError) as err:
            iproute.norm_unicast_ip(bad, "local")
        assert str(err.value) == "invalid local: %r is not a unicast host address" % bad
    with pytest.raises(ValueError) as err:
        iproute.norm_unicast_ip("1.2.3")
    assert str(err.value) == "invalid address: '1.2.3'"


def test_check_ifname():
    assert iproute.check_ifname("flannel.1") == "flannel.1"
    assert iproute.check_ifname("a" * 15) == "a" * 15
    assert iproute.check_ifname(b"eth0") == "eth0"
    for bad in ("a" * 16, "", ".", "..", "a/b", "a b", "x\n"):
        with pytest.raises(ValueError) as err:
            iproute.check_ifname(bad, "dev")
        assert str(err.value) == "invalid dev: %r" % bad
    with pytest.raises(ValueError) as err:
        iproute.check_ifname("a b")
    assert str(err.value) == "invalid interface name: 'a b'"


def test_route_dst():
    assert iproute.route_dst({"dst": "default"}) == "0.0.0.0/0"
    assert iproute.route_dst({"dst": "default"}, 6) == "::/0"
    assert iproute.route_dst({"dst": "10.244.2.0/24"}) == "10.244.2.0/24"
    assert iproute.route_dst({"dst": "10.244.5.7"}) == "10.244.5.7/32"
    assert iproute.route_dst({"dst": "FD00:0::/64"}, 6) == "fd00::/64"
    assert iproute.route_dst({"dst": "fd00::7"}, 6) == "fd00::7/128"
    assert iproute.route_dst({}) == "/32"


def test_iproute_error_as_dict():
    err = iproute.IprouteError("boom", cmd=["ip", "x"], rc=2, stdout="o", stderr="e")
    assert str(err) == "boom"
    assert err.as_dict() == {"msg": "boom", "cmd": ["ip", "x"], "rc": 2, "stdout": "o", "stderr": "e"}
    assert iproute.IprouteError("m").as_dict() == {"msg": "m", "cmd": None, "rc": None, "stdout": "", "stderr": ""}


# ---------------------------------------------------------------- commands


def test_parse_json_stream_reads_one_value_per_command():
    values = iproute.parse_json_stream(recorded("ip-route-get-mixed.json"))
    assert [v[0]["dst"] for v in values] == ["192.0.2.2", "198.51.100.7", "10.244.2.5"]
    assert iproute.parse_json_stream("") == []
    assert iproute.parse_json_stream(' \n[1] {"a": 2}\n\n3  ') == [[1], {"a": 2}, 3]


def test_run_json_flattens_lists_and_raises_on_failure():
    run = Run({("ip", "a"): (0, '[1, 2]\n{"x": 3}\n[]\n[4]', ""), ("ip", "b"): (2, "out", "Error: bad")})
    assert iproute.run_json(run, ["ip", "a"]) == [1, 2, {"x": 3}, 4]
    with pytest.raises(iproute.IprouteError) as err:
        iproute.run_json(run, ["ip", "b"])
    assert err.value.as_dict() == {"msg": "command failed: ip b", "cmd": ["ip", "b"], "rc": 2,
                                   "stdout": "out", "stderr": "Error: bad"}


def test_run_batch_feeds_the_lines_and_keeps_the_failing_line_number():
    run = Run({(IP, "-batch", "-"): (1, "", recorded("ip-batch-fail.err")),
               (IP, "-force", "-batch", "-"): (0, "", "")})
    iproute.run_batch(run, IP, [])
    assert run.calls == []
    iproute.run_batch(run, IP, ["link set dev eth0 up", "link set dev lo up"], force=True)
    assert run.calls == [([IP, "-force", "-batch", "-"], "link set dev eth0 up\nlink set dev lo up\n")]
    with pytest.raises(iproute.IprouteError) as err:
        iproute.run_batch(run, IP, ["link set dev eth0 up", "link set dev nosuch up"])
    assert err.value.as_dict() == {
        "msg": '/sbin/ip batch failed: Cannot find device "nosuch"\nCommand failed -:2',
        "cmd": [IP, "-batch", "-"], "rc": 1, "stdout": "", "stderr": recorded("ip-batch-fail.err"),
    }
    run = Run({(BRIDGE, "-batch", "-"): (1, " said on stdout \n", "")})
    with pytest.raises(iproute.IprouteError) as err:
        iproute.run_batch(run, BRIDGE, ["fdb x"])
    assert err.value.msg == "/sbin/bridge batch failed: said on stdout"


# ---------------------------------------------------------------- readers


def addr_run(device, name):
    return Run({(IP, "-j", "-d", "addr", "show", "dev", device): (0, recorded(name), "")})


def test_read_link_of_the_recorded_vxlan_device():
    link = iproute.read_link(addr_run("flannel.1", "ip-addr-flannel.json"), IP, "flannel.1")
    raw = link.pop("raw")
    assert raw["ifindex"] == 4 and raw["linkinfo"]["info_kind"] == "vxlan"
    assert link == {
        "name": "flannel.1",
        "kind": "vxlan",
        "vni": 1,
        "port": 8472,
        "local": "192.0.2.1",
        "dev": "eth0",
        "learning": False,
        "mac": "02:aa:bb:cc:dd:01",
        "mtu": 1450,
        "up": True,
        "addrs": ["10.244.1.0/32", "10.244.1.1/24"],
    }


def test_read_link_of_the_recorded_veth_device():
    link = iproute.read_link(addr_run("eth0", "ip-addr-eth0.json"), IP, "eth0")
    del link["raw"]
    assert link == {"name": "eth0", "kind": "veth", "vni": None, "port": None, "local": None, "dev": None,
                    "learning": None, "mac": "02:00:c0:00:02:01", "mtu": 1500, "up": True,
                    "addrs": ["192.0.2.1/24"]}


def test_read_link_normalises_an_ipv6_local_upper_case_mac_and_a_down_device():
    raw = ('[{"ifname": "vx6", "flags": ["BROADCAST", "LOWER_UP"], "address": "02:AA:00:00:00:01", "mtu": 1400,'
           ' "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 9, "local6": "FD00:0::5"}},'
           ' "addr_info": [{"family": "inet", "local": "10.9.0.1", "prefixlen": 16},'
           ' {"family": "inet", "prefixlen": 8}, {"family": "inet6", "local": "fd00::5", "prefixlen": 64}]},'
           ' {"ifname": "other"}]')
    run = Run({(IP, "-j", "-d", "addr", "show", "dev", "vx6"): (0, raw, "")})
    link = iproute.read_link(run, IP, "vx6")
    del link["raw"]
    assert link == {"name": "vx6", "kind": "vxlan", "vni": 9, "port": None, "local": "fd00::5", "dev": None,
                    "learning": None, "mac": "02:aa:00:00:00:01", "mtu": 1400, "up": False, "addrs": ["10.9.0.1/16"]}
    bare = Run({(IP, "-j", "-d", "addr", "show", "dev", "b"): (0, '[{"ifname": "b"}]', "")})
    link = iproute.read_link(bare, IP, "b")
    del link["raw"]
    assert link == {"name": "b", "kind": None, "vni": None, "port": None, "local": None, "dev": None,
                    "learning": None, "mac": "", "mtu": None, "up": False, "addrs": []}


def test_read_link_of_a_missing_device_is_none_and_other_failures_raise():
    missing = (IP, "-j", "-d", "addr", "show", "dev", "nosuch")
    assert iproute.read_link(Run({missing: (1, "", recorded("ip-addr-nosuch.err"))}), IP, "nosuch") is None
    assert iproute.read_link(Run({missing: (1, "", 'Cannot find device "nosuch"')}), IP, "nosuch") is None
    assert iproute.read_link(Run({missing: (0, " \n", "")}), IP, "nosuch") is None
    assert iproute.read_link(Run({missing: (0, "[]", "")}), IP, "nosuch") is None
    assert iproute.read_link(Run({missing: (0, '[{"ifname": "nosuch2"}]', "")}), IP, "nosuch") is None
    with pytest.raises(iproute.IprouteError) as err:
        iproute.read_link(Run({missing: (255, "", "Permission denied")}), IP, "nosuch")
    assert err.value.as_dict() == {"msg": "cannot read device nosuch", "cmd": list(missing), "rc": 255,
                                   "stdout": "", "stderr": "Permission denied"}
    with pytest.raises(iproute.IprouteError):
        iproute.read_link(Run({missing: (1, "", None)}), IP, "nosuch")


def test_read_neighbours_keeps_the_permanent_ones():
    run = Run({(IP, "-j", "neigh", "show", "dev", "flannel.1"): (0, recorded("ip-neigh-flannel.json"), "")})
    assert iproute.read_neighbours(run, IP, "flannel.1") == {
        "10.244.2.0": "02:aa:bb:cc:dd:02",
        "10.244.3.0": "02:aa:bb:cc:dd:03",
        "fd00::2": "02:aa:bb:cc:dd:06",
    }
    odd = ('[{"dst": "10.0.0.1", "lladdr": "02:AA:00:00:00:01", "state": ["PERMANENT", "NOARP"]},'
           ' {"lladdr": "02:00:00:00:00:02", "state": ["PERMANENT"]}, {"dst": "10.0.0.3", "state": ["PERMANENT"]},'
           ' {"dst": "10.0.0.4", "state": null}, {"dst": "10.0.0.5"}]')
    run = Run({(IP, "-j", "neigh", "show", "dev", "d"): (0, odd, "")})
    assert iproute.read_neighbours(run, IP, "d") == {"10.0.0.1": "02:aa:00:00:00:01", "10.0.0.3": ""}


def test_read_fdb_keeps_permanent_self_entries_with_what_replace_would_not_set():
    run = Run({(BRIDGE, "-j", "fdb", "show", "dev", "flannel.1"): (0, recorded("bridge-fdb-flannel.json"), "")})
    assert iproute.read_fdb(run, BRIDGE, "flannel.1") == [
        {"lladdr": "00:00:00:00:00:00", "dst": "192.0.2.2", "extra": ()},
        {"lladdr": "00:00:00:00:00:00", "dst": "192.0.2.3", "extra": ()},
        {"lladdr": "02:aa:bb:cc:dd:03", "dst": "192.0.2.3", "extra": ("port 4789", "vni 7")},
        {"lladdr": "02:aa:bb:cc:dd:02", "dst": "192.0.2.2", "extra": ()},
    ]
    odd = ('[{"mac": "02:AA:00:00:00:01", "dst": "FD00::1", "flags": ["self"], "state": "permanent",'
           ' "via": "eth1", "src_vni": 3, "vlan": 4, "nhid": 5},'
           ' {"mac": "02:00:00:00:00:02", "dst": "10.0.0.2", "flags": ["master"], "state": "permanent"},'
           ' {"mac": "02:00:00:00:00:03", "dst": "10.0.0.3", "state": "permanent"},'
           ' {"mac": "02:00:00:00:00:04", "flags": ["self"], "state": "permanent"},'
           ' {"dst": "10.0.0.5", "flags": ["self"], "state": "permanent"},'
           ' {"mac": "02:00:00:00:00:06", "dst": "10.0.0.6", "flags": ["self"], "state": "static"}]')
    run = Run({(BRIDGE, "-j", "fdb", "show", "dev", "d"): (0, odd, "")})
    assert iproute.read_fdb(run, BRIDGE, "d") == [
        {"lladdr": "02:aa:00:00:00:01", "dst": "fd00::1", "extra": ("nhid 5", "src_vni 3", "via eth1", "vlan 4")},
    ]


ROUTES4 = ('[{"type": "blackhole", "dst": "10.244.6.0/24", "protocol": "244", "scope": "global", "flags": []},'
           ' {"dst": "10.244.2.0/24", "gateway": "10.244.2.0", "dev": "flannel.1", "protocol": "244",'
           ' "flags": ["onlink"]},'
           ' {"dst": "10.244.5.7", "gateway": "192.0.2.5", "dev": "eth0", "protocol": "244", "metric": 50,'
           ' "tos": "0x10", "prefsrc": "192.0.2.1", "flags": []},'
           ' {"dst": "10.244.8.0/24", "protocol": "244", "nexthops": [], "metric": null}]')
ROUTES6 = '[{"dst": "default", "gateway": "FD00::1", "dev": "eth0", "protocol": "244", "flags": []}]'


def test_read_owned_routes_of_both_families():
    run = Run({(IP, "-4", "-j", "route", "show", "table", "main", "proto", "244"): (0, ROUTES4, ""),
               (IP, "-6", "-j", "route", "show", "table", "main", "proto", "244"): (0, ROUTES6, "")})
    assert iproute.read_owned_routes(run, IP, 244) == [
        {"dst": "10.244.6.0/24", "via": None, "dev": None, "onlink": False, "metric": 0, "tos": None,
         "type": "blackhole", "multipath": False, "prefsrc": None},
        {"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1", "onlink": True, "metric": 0, "tos": None,
         "type": "unicast", "multipath": False, "prefsrc": None},
        {"dst": "10.244.5.7/32", "via": "192.0.2.5", "dev": "eth0", "onlink": False, "metric": 50, "tos": "0x10",
         "type": "unicast", "multipath": False, "prefsrc": "192.0.2.1"},
        {"dst": "10.244.8.0/24", "via": None, "dev": None, "onlink": False, "metric": 0, "tos": None,
         "type": "unicast", "multipath": True, "prefsrc": None},
        {"dst": "::/0", "via": "fd00::1", "dev": "eth0", "onlink": False, "metric": 0, "tos": None,
         "type": "unicast", "multipath": False, "prefsrc": None},
    ]
    assert [c[0][1] for c in run.calls] == ["-4", "-6"]
    only4 = Run({(IP, "-4", "-j", "route", "show", "table", "main", "proto", "7"): (0, "[]", "")})
    assert iproute.read_owned_routes(only4, IP, 7, families=(4,)) == []


def test_read_foreign_routes_skips_the_owned_ones():
    main = recorded("ip-route-main.json")
    run = Run({(IP, "-4", "-j", "route", "show", "table", "main"): (0, main, "")})
    owned = [{"dst": "10.244.2.0/24", "metric": 0, "tos": None}]
    assert iproute.read_foreign_routes(run, IP, owned) == {
        ("0.0.0.0/0", 0, None): "boot",
        ("10.244.3.0/24", 0, None): "244",
        ("10.244.4.0/24", 50, None): "244",
        ("10.244.5.7/32", 0, None): "244",
        ("10.244.6.0/24", 0, None): "244",
        ("10.244.9.0/24", 0, None): "static",
        ("192.0.2.0/24", 0, None): "kernel",
        ("198.51.100.0/24", 0, None): "static",
    }
    run = Run({(IP, "-6", "-j", "route", "show", "table", "main"): (0, '[{"dst": "fd00::/64", "metric": 256}]', "")})
    assert iproute.read_foreign_routes(run, IP, [], families=(6,)) == {("fd00::/64", 256, None): "boot"}


def test_route_get_batch_answers_by_dst_in_one_forced_batch():
    wanted = ["203.0.113.9", "192.0.2.2", "10.244.2.5", "198.51.100.7", "192.0.2.2"]
    run = Run({(IP, "-j", "-force", "-batch", "-"): (1, recorded("ip-route-get-mixed.json"),
                                                      recorded("ip-route-get-mixed.err"))})
    assert iproute.route_get_batch(run, IP, wanted) == {
        "10.244.2.5": {"via": "10.244.2.0", "dev": "flannel.1", "type": "unicast"},
        "192.0.2.2": {"via": None, "dev": "eth0", "type": "unicast"},
        "198.51.100.7": {"via": "192.0.2.254", "dev": "eth0", "type": "unicast"},
        "203.0.113.9": None,
    }
    assert run.calls == [([IP, "-j", "-force", "-batch", "-"],
                          "route get 10.244.2.5\nroute get 192.0.2.2\nroute get 198.51.100.7\nroute get 203.0.113.9\n")]
    empty = Run({})
    assert iproute.route_get_batch(empty, IP, []) == {} and empty.calls == []


def test_route_get_batch_skips_answers_it_did_not_ask_or_cannot_read():
    out = ('{"dst": "10.0.0.1", "type": "blackhole"}\n[{"gateway": "1.1.1.1"}, {"dst": "bogus"},'
           ' {"dst": "10.0.0.9", "dev": "x"}, {"dst": "FD00::1", "gateway": "FD00::2", "dev": "e"}]')
    run = Run({(IP, "-j", "-force", "-batch", "-"): (0, out, "")})
    assert iproute.route_get_batch(run, IP, ["10.0.0.1", "fd00::1", "10.0.0.2"]) == {
        "10.0.0.1": {"via": None, "dev": None, "type": "blackhole"},
        "10.0.0.2": None,
        "fd00::1": {"via": "fd00::2", "dev": "e", "type": "unicast"},
    }


def test_read_text_file(tmp_path):
    path = tmp_path / "f"
    path.write_text("on\n")
    assert iproute.read_text_file(str(path)) == "on\n"
    assert iproute.read_text_file(str(tmp_path / "missing")) is None
    assert iproute.read_text_file(str(tmp_path)) is None


ETHTOOL_K = """Features for flannel.1:
rx-checksumming: off [fixed]
tx-checksumming: on
\ttx-checksum-ipv4: off [fixed]
\ttx-checksum-ip-generic: on
scatter-gather: on
"""


def test_read_tx_checksum():
    run = Run({("ethtool", "-k", "flannel.1"): (0, ETHTOOL_K, ""), ("ethtool", "-k", "x"): (71, "", "no such"),
               ("ethtool", "-k", "y"): (0, "Features for y:\nrx-checksumming: on\n", ""),
               ("ethtool", "-k", "z"): (0, "tx-checksumming: off [fixed]\n", "")})
    assert iproute.read_tx_checksum(run, "ethtool", "flannel.1") == "on"
    assert iproute.read_tx_checksum(run, "ethtool", "z") == "off"
    assert iproute.read_tx_checksum(run, "ethtool", "x") is None
    assert iproute.read_tx_checksum(run, "ethtool", "y") is None


# ---------------------------------------------------------------- corners mutation testing found


def test_bytes_that_are_not_utf8_are_named_not_a_crash():
    with pytest.raises(ValueError) as err:
        iproute.norm_ip(b"\xff10.0.0.1")
    assert str(err.value) == "invalid address: b'\\xff10.0.0.1'"


def test_the_name_given_is_the_name_in_the_message():
    with pytest.raises(ValueError) as err:
        iproute.norm_iface_addr("x")
    assert str(err.value) == "invalid address (want ADDRESS/PREFIX): 'x'"
    with pytest.raises(ValueError) as err:
        iproute.norm_unicast_ip("1.2.3", "local")
    assert str(err.value) == "invalid local: '1.2.3'"
    with pytest.raises(ValueError) as err:
        iproute.norm_unicast_mac("02:00", "lladdr")
    assert str(err.value) == "invalid lladdr: '02:00'"


def test_read_fdb_goes_on_after_entries_it_skips():
    odd = ('[{"mac": "02:00:00:00:00:02", "dst": "10.0.0.2", "flags": ["master"], "state": "permanent"},'
           ' {"mac": "02:00:00:00:00:04", "flags": ["self"], "state": "permanent"},'
           ' {"mac": "02:00:00:00:00:05", "dst": "10.0.0.5", "flags": ["self"], "state": "permanent"}]')
    run = Run({(BRIDGE, "-j", "fdb", "show", "dev", "d"): (0, odd, "")})
    assert iproute.read_fdb(run, BRIDGE, "d") == [{"lladdr": "02:00:00:00:00:05", "dst": "10.0.0.5", "extra": ()}]


def test_read_foreign_routes_of_ipv6_keeps_the_default_as_a_v6_network():
    run = Run({(IP, "-6", "-j", "route", "show", "table", "main"): (
        0, '[{"dst": "default", "gateway": "fd00::1", "metric": 1024, "protocol": "ra"}]', "")})
    assert iproute.read_foreign_routes(run, IP, [], families=(6,)) == {("::/0", 1024, None): "ra"}


def test_failures_keep_stdout():
    run = Run({(IP, "-batch", "-"): (1, "partial\n", "bad"),
               (IP, "-j", "-d", "addr", "show", "dev", "x"): (2, "out", "Permission denied")})
    with pytest.raises(iproute.IprouteError) as err:
        iproute.run_batch(run, IP, ["x"])
    assert (err.value.stdout, err.value.msg) == ("partial\n", "/sbin/ip batch failed: bad")
    with pytest.raises(iproute.IprouteError) as err:
        iproute.read_link(run, IP, "x")
    assert (err.value.stdout, err.value.stderr) == ("out", "Permission denied")
