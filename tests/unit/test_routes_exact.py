"""plugins/module_utils/routes.py compared whole: messages, records, texts, commands and plans.

test_routes.py proves the reconciler on recorded routes with fragments; mutation testing showed the
fragments let changed words, metrics and conditions through. The ``route get`` answers here are the
kernel's (tests/unit/data/ip-route-get-mixed.json: a direct neighbour 192.0.2.2, 198.51.100.7 through
the gateway 192.0.2.254, 10.244.2.5 through the VXLAN device, 203.0.113.9 unreachable).
"""


import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import iproute, routes

from recorded_run import DATA, Run

IP = "/sbin/ip"
GET = (IP, "-j", "-force", "-batch", "-")




def kernel_route_get():
    return Run({GET: (1, (DATA / "ip-route-get-mixed.json").read_text(), "RTNETLINK answers: Network is unreachable")})


def rec(dst, via=None, dev=None, onlink=False, metric=None, tos=None, type_="unicast", multipath=False,
        prefsrc=None):
    return {"dst": dst, "via": via, "dev": dev, "onlink": onlink,
            "metric": routes.default_metric(dst) if metric is None else metric, "tos": tos, "type": type_,
            "multipath": multipath, "prefsrc": prefsrc}


# --------------------------------------------------------------------------- builders


def test_check_protocol_bounds_and_message():
    assert [routes.check_protocol(p) for p in (5, 244, 255)] == [5, 244, 255]
    for bad in (4, 256, 0):
        with pytest.raises(ValueError) as err:
            routes.check_protocol(bad)
        assert str(err.value) == ("route_protocol must be 5..255 (0-4 are the kernel's: unspec, redirect, kernel, "
                                  "boot, static), got %d" % bad)


def test_default_metric_per_family():
    assert routes.default_metric("10.244.2.0/24") == 0
    assert routes.default_metric("fd00::/64") == 1024


def test_route_text_in_ip_route_words():
    assert routes.route_text({"dst": "10.244.2.0/24"}, 244) == "10.244.2.0/24 proto 244"
    full = rec("10.244.2.0/24", "10.244.2.0", "flannel.1", True, 50, "0x10", "unicast", True, "10.244.1.0")
    assert routes.route_text(full, 7) == \
        "10.244.2.0/24 tos 0x10 nexthop ... via 10.244.2.0 dev flannel.1 onlink proto 7 metric 50 src 10.244.1.0"
    assert routes.route_text(rec("10.244.6.0/24", type_="blackhole"), 244) == "blackhole 10.244.6.0/24 proto 244"
    assert routes.route_text(rec("fd00:1::/64", "fd00::2", "eth0"), 244) == \
        "fd00:1::/64 via fd00::2 dev eth0 proto 244"
    assert routes.route_text(rec("fd00:1::/64", "fd00::2", "eth0", metric=0), 244) == \
        "fd00:1::/64 via fd00::2 dev eth0 proto 244 metric 0"
    assert routes.route_text(rec("10.244.2.0/24", metric=1024), 244) == "10.244.2.0/24 proto 244 metric 1024"


def test_replace_and_del_commands():
    assert routes.replace_cmd(rec("10.244.2.0/24", "192.0.2.2", "eth0"), 244) == \
        "route replace 10.244.2.0/24 via 192.0.2.2 dev eth0 proto 244"
    assert routes.replace_cmd(rec("10.244.2.0/24", "10.244.2.0", "flannel.1", True), 9) == \
        "route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 9"
    assert routes.del_cmd(rec("10.244.2.0/24", metric=50), 244) == \
        "route del 10.244.2.0/24 proto 244 table main metric 50"
    assert routes.del_cmd(rec("10.244.2.0/24", tos="0x10"), 9) == \
        "route del 10.244.2.0/24 tos 0x10 proto 9 table main metric 0"


def test_script_lines_in_address_text_order():
    want = {"10.244.9.0/24": rec("10.244.9.0/24", "192.0.2.9", "eth0"),
            "10.244.10.0/24": rec("10.244.10.0/24", "10.244.10.0", "flannel.1", True)}
    assert routes.script_lines(want, 244) == [
        "ip -force -batch - <<'EOF' || rc=1",
        "route replace 10.244.10.0/24 via 10.244.10.0 dev flannel.1 onlink proto 244",
        "route replace 10.244.9.0/24 via 192.0.2.9 dev eth0 proto 244",
        "EOF",
    ]


# --------------------------------------------------------------------------- desired


def test_desired_records_whole():
    want = routes.desired([
        {"dst": "10.244.2.0/24", "via": "10.244.2.0", "onlink": 1, "peer": "n2",
         "direct": {"via": " 192.0.2.2 ", "dev": "eth0"}},
        {"dst": "10.244.3.7", "via": "192.0.2.3", "dev": "eth1"},
        {"dst": "10.244.3.7/32", "via": "192.0.2.3", "dev": "eth1"},  # the same route twice: one
    ], default_dev="flannel.1", cluster_network="10.244.0.0/16", local_subnet="10.244.1.0/24")
    assert want == {
        "10.244.2.0/24": {"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1", "onlink": True,
                          "metric": 0, "direct": {"via": "192.0.2.2", "dev": "eth0"}, "peer": "n2"},
        "10.244.3.7/32": {"dst": "10.244.3.7/32", "via": "192.0.2.3", "dev": "eth1", "onlink": False,
                          "metric": 0, "direct": None, "peer": None},
    }
    v6 = routes.desired([{"dst": "fd00:2::/64", "via": "fd00::2", "dev": "eth0"}], cluster_network="fd00::/16")
    assert v6["fd00:2::/64"]["metric"] == 1024


@pytest.mark.parametrize("item, kw, message", [
    ({"dst": "10.244.2.0/24", "via": "192.0.2.2"}, {}, "routes[].dev is required (route 10.244.2.0/24)"),
    ({"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": ""}, {}, "routes[].dev is required (route 10.244.2.0/24)"),
    ({"dst": "10.244.2.1/24", "via": "192.0.2.2", "dev": "e"}, {},
     "invalid routes[].dst (host bits set, or not ADDRESS/PREFIX): '10.244.2.1/24'"),
    ({"dst": "10.244.2.0/24", "via": "224.0.0.1", "dev": "e"}, {},
     "invalid routes[].via: '224.0.0.1' is not a unicast host address"),
    ({"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "a b"}, {}, "invalid routes[].dev: 'a b'"),
    ({"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "e", "direct": {"via": "0.0.0.0", "dev": "e"}}, {},
     "invalid routes[].direct.via: '0.0.0.0' is not a unicast host address"),
    ({"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "e", "direct": {"via": "192.0.2.2", "dev": "x/y"}}, {},
     "invalid routes[].direct.dev: 'x/y'"),
    ({"dst": "0.0.0.0/0", "via": "192.0.2.2", "dev": "e"}, {},
     "route 0.0.0.0/0 covers every address (it would replace the host's default route); a fabric route goes to "
     "one peer's subnet inside the cluster network"),
    ({"dst": "10.245.0.0/24", "via": "192.0.2.2", "dev": "e"}, {"cluster_network": "10.244.0.0/16"},
     "route 10.245.0.0/24 is not inside the cluster network 10.244.0.0/16: refused"),
    ({"dst": "fd00:1::/64", "via": "fd00::1", "dev": "e"}, {"cluster_network": "10.244.0.0/16"},
     "route fd00:1::/64 is not inside the cluster network 10.244.0.0/16: refused"),
    ({"dst": "10.244.1.0/25", "via": "192.0.2.2", "dev": "e"}, {"local_subnet": "10.244.1.0/24"},
     "route 10.244.1.0/25 overlaps this host's own subnet 10.244.1.0/24: refused"),
    ({"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "e"}, {"cluster_network": "10.244.0.1/16"},
     "invalid cluster_network (host bits set, or not ADDRESS/PREFIX): '10.244.0.1/16'"),
    ({"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "e"}, {"local_subnet": "10.244.1.1/24"},
     "invalid local_subnet (host bits set, or not ADDRESS/PREFIX): '10.244.1.1/24'"),
])
def test_desired_refusals_word_for_word(item, kw, message):
    with pytest.raises(ValueError) as err:
        routes.desired([item], **kw)
    assert str(err.value) == message


def test_desired_refuses_one_route_given_twice_differently_and_a_v6_local_does_not_scope_v4():
    with pytest.raises(ValueError) as err:
        routes.desired([{"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "e"},
                        {"dst": "10.244.2.0/24", "via": "192.0.2.3", "dev": "e"}])
    assert str(err.value) == "route 10.244.2.0/24 given twice, differently"
    assert list(routes.desired([{"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "e"}],
                               local_subnet="fd00::/64")) == ["10.244.2.0/24"]
    assert routes._scope(None, "") == (None, None)


# --------------------------------------------------------------------------- live state


def test_read_owned_falls_back_to_ipv4_when_ipv6_cannot_be_read():
    v4 = (IP, "-4", "-j", "route", "show", "table", "main", "proto", "244")
    v6 = (IP, "-6", "-j", "route", "show", "table", "main", "proto", "244")
    one = '[{"dst": "10.244.2.0/24", "gateway": "192.0.2.2", "dev": "eth0"}]'
    run = Run({v4: (0, one, ""), v6: (1, "", "IPv6 is disabled")})
    assert routes.read_owned(run, IP, 244) == [rec("10.244.2.0/24", "192.0.2.2", "eth0")]
    assert [c[0] for c in run.calls] == [list(v4), list(v6), list(v4)]
    run = Run({v4: (0, one, ""), v6: (0, '[{"dst": "fd00:2::/64", "dev": "eth0", "metric": 1024}]', "")})
    assert routes.read_owned(run, IP, 244) == [rec("10.244.2.0/24", "192.0.2.2", "eth0"),
                                               rec("fd00:2::/64", dev="eth0", metric=1024)]
    run = Run({v4: (2, "", "broken"), v6: (0, "[]", "")})
    with pytest.raises(iproute.IprouteError):
        routes.read_owned(run, IP, 244)


def test_resolve_direct_on_the_kernels_answers():
    want = routes.desired([
        {"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1", "onlink": True,
         "direct": {"via": "192.0.2.2", "dev": "eth0"}},
        {"dst": "10.244.3.0/24", "via": "10.244.3.0", "dev": "flannel.1", "onlink": True,
         "direct": {"via": "192.0.2.2", "dev": "eth1"}},  # answered on another device
        {"dst": "10.244.4.0/24", "via": "10.244.4.0", "dev": "flannel.1", "onlink": True,
         "direct": {"via": "198.51.100.7", "dev": "eth0"}},  # answered through a gateway
        {"dst": "10.244.5.0/24", "via": "10.244.5.0", "dev": "flannel.1", "onlink": True,
         "direct": {"via": "203.0.113.9", "dev": "eth0"}},  # unreachable
        {"dst": "10.244.6.0/24", "via": "192.0.2.6", "dev": "eth0", "peer": "n6"},  # no direct option
    ])
    run = kernel_route_get()
    final, choice = routes.resolve_direct(run, IP, want)
    assert choice == {"10.244.2.0/24": "direct", "10.244.3.0/24": "tunnel", "10.244.4.0/24": "tunnel",
                      "10.244.5.0/24": "tunnel", "10.244.6.0/24": "tunnel"}
    assert final["10.244.2.0/24"] == {"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "eth0", "onlink": False,
                                      "metric": 0, "peer": None}
    for dst in ("10.244.3.0/24", "10.244.4.0/24", "10.244.5.0/24"):
        expected = dict(want[dst])
        del expected["direct"]
        assert final[dst] == expected
    assert final["10.244.6.0/24"] == {"dst": "10.244.6.0/24", "via": "192.0.2.6", "dev": "eth0", "onlink": False,
                                      "metric": 0, "peer": "n6"}
    assert run.calls == [(list(GET), "route get 192.0.2.2\nroute get 198.51.100.7\nroute get 203.0.113.9\n")]
    assert "direct" in want["10.244.2.0/24"]  # the input is not changed


def test_a_blackhole_or_local_answer_is_not_direct():
    want = routes.desired([{"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1",
                            "direct": {"via": "192.0.2.2", "dev": "lo"}}])
    run = Run({GET: (0, '[{"dst": "192.0.2.2", "type": "local", "dev": "lo"}]', "")})
    assert routes.resolve_direct(run, IP, want)[1] == {"10.244.2.0/24": "tunnel"}


def test_not_adjacent_on_the_kernels_answers_word_for_word():
    want = routes.desired([
        {"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "eth0", "peer": "n2"},
        {"dst": "10.244.3.0/24", "via": "192.0.2.2", "dev": "eth1"},
        {"dst": "10.244.4.0/24", "via": "198.51.100.7", "dev": "eth0", "peer": "n4"},
        {"dst": "10.244.5.0/24", "via": "203.0.113.9", "dev": "eth0", "peer": "n5"},
    ])
    assert routes.not_adjacent(kernel_route_get(), IP, want) == [
        "192.0.2.2 for 10.244.3.0/24: `ip route get 192.0.2.2` answers unicast out of eth0, not directly on eth1",
        "198.51.100.7 (n4) for 10.244.4.0/24: `ip route get 198.51.100.7` answers via gateway 192.0.2.254 dev eth0, "
        "not directly on eth0",
        "203.0.113.9 (n5) for 10.244.5.0/24: `ip route get 203.0.113.9` answers unreachable, not directly on eth0",
    ]


# --------------------------------------------------------------------------- reconcile and purge


MAIN4 = (IP, "-4", "-j", "route", "show", "table", "main")
MAIN6 = (IP, "-6", "-j", "route", "show", "table", "main")


def test_reconcile_every_reason_a_live_route_is_not_the_desired_one():
    want = routes.desired([
        {"dst": "10.244.%d.0/24" % i, "via": "192.0.2.%d" % i, "dev": "eth0"} for i in range(2, 10)])
    want["10.244.9.0/24"]["onlink"] = True
    owned = [
        rec("10.244.2.0/24", "192.0.2.2", "eth0"),  # in place
        rec("10.244.3.0/24", "192.0.2.99", "eth0"),  # other gateway
        rec("10.244.4.0/24", "192.0.2.4", "eth1"),  # other device
        rec("10.244.5.0/24", "192.0.2.5", "eth0", type_="blackhole"),
        rec("10.244.6.0/24", "192.0.2.6", "eth0", multipath=True),
        rec("10.244.7.0/24", "192.0.2.7", "eth0", prefsrc="10.244.1.1"),
        rec("10.244.8.0/24", "192.0.2.8", "eth0", metric=50),  # other metric: another route
        rec("10.244.9.0/24", "192.0.2.9", "eth0"),  # not onlink
        rec("10.244.2.0/24", "192.0.2.2", "eth0", tos="0x10"),  # a tos: another route
        rec("10.244.20.0/24", "192.0.2.20", "eth0"),  # not wanted any more
    ]
    run = Run({MAIN4: (0, '[{"dst": "10.244.30.0/24", "protocol": "static"}]', "")})
    plan = routes.reconcile(run, IP, 244, want, owned)
    assert plan.deletes == [
        "route del 10.244.8.0/24 proto 244 table main metric 50",
        "route del 10.244.2.0/24 tos 0x10 proto 244 table main metric 0",
        "route del 10.244.20.0/24 proto 244 table main metric 0",
    ]
    assert plan.replaces == ["route replace 10.244.%d.0/24 via 192.0.2.%d dev eth0%s proto 244"
                             % (i, i, " onlink" if i == 9 else "") for i in range(3, 10)]
    assert plan.added == sorted("10.244.%d.0/24 via 192.0.2.%d dev eth0%s proto 244"
                                % (i, i, " onlink" if i == 9 else "") for i in range(3, 10))
    assert plan.removed == [
        "10.244.2.0/24 tos 0x10 via 192.0.2.2 dev eth0 proto 244",
        "10.244.20.0/24 via 192.0.2.20 dev eth0 proto 244",
        "10.244.3.0/24 via 192.0.2.99 dev eth0 proto 244",
        "10.244.4.0/24 via 192.0.2.4 dev eth1 proto 244",
        "10.244.6.0/24 nexthop ... via 192.0.2.6 dev eth0 proto 244",
        "10.244.7.0/24 via 192.0.2.7 dev eth0 proto 244 src 10.244.1.1",
        "10.244.8.0/24 via 192.0.2.8 dev eth0 proto 244 metric 50",
        "10.244.9.0/24 via 192.0.2.9 dev eth0 proto 244",
        "blackhole 10.244.5.0/24 via 192.0.2.5 dev eth0 proto 244",
    ]
    assert plan.before == ["route " + routes.route_text(r, 244) for r in owned]
    assert plan.after == ["route 10.244.%d.0/24 via 192.0.2.%d dev eth0%s proto 244"
                          % (i, i, " onlink" if i == 9 else "") for i in range(2, 10)]
    assert run.calls == [(list(MAIN4), None)]


def test_reconcile_reads_the_family_of_the_routes_to_replace_and_names_the_conflict():
    want = routes.desired([{"dst": "fd00:2::/64", "via": "fd00::2", "dev": "eth0"}])
    run = Run({MAIN6: (0, '[{"dst": "fd00:2::/64", "metric": 1024, "protocol": "ra"}]', "")})
    with pytest.raises(routes.RouteConflict) as err:
        routes.reconcile(run, IP, 244, want, [])
    assert str(err.value) == (
        "route fd00:2::/64 (metric 1024) exists in table main with protocol ra, not 244; the module does not "
        "replace routes it does not own. Remove it, or give the fabric another subnet.")
    assert run.calls == [([IP, "-6", "-j", "route", "show", "table", "main"], None)]


def test_reconcile_with_a_device_going_away():
    want = routes.desired([{"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "vx", "onlink": True}])
    owned = [rec("10.244.2.0/24", "10.244.2.0", "vx", True), rec("10.244.3.0/24", "10.244.3.0", "vx", True),
             rec("10.244.4.0/24", "192.0.2.4", "eth0")]
    plan = routes.reconcile(Run({MAIN4: (0, "[]", "")}), IP, 244, want, owned, gone_dev="vx")
    assert plan.deletes == ["route del 10.244.4.0/24 proto 244 table main metric 0"]
    assert plan.replaces == ["route replace 10.244.2.0/24 via 10.244.2.0 dev vx onlink proto 244"]
    assert plan.removed == ["10.244.4.0/24 via 192.0.2.4 dev eth0 proto 244"]
    assert len(plan.before) == 3


def test_purge_deletes_every_owned_route():
    owned = [rec("10.244.3.0/24", "192.0.2.3", "eth0", metric=7), rec("10.244.2.0/24", type_="blackhole")]
    plan = routes.purge(owned, 244)
    assert (plan.deletes, plan.replaces, plan.added, plan.after) == (
        ["route del 10.244.3.0/24 proto 244 table main metric 7",
         "route del 10.244.2.0/24 proto 244 table main metric 0"],
        [], [], [])
    assert plan.removed == ["10.244.3.0/24 via 192.0.2.3 dev eth0 proto 244 metric 7",
                            "blackhole 10.244.2.0/24 proto 244"]
    assert plan.before == ["route 10.244.3.0/24 via 192.0.2.3 dev eth0 proto 244 metric 7",
                           "route blackhole 10.244.2.0/24 proto 244"]
    empty = routes.RoutePlan()
    assert vars(empty) == {"deletes": [], "replaces": [], "added": [], "removed": [], "before": [], "after": []}


def test_the_routes_argument_spec_is_the_documented_option():
    """The one argument spec of ``routes`` against its one doc (the routes doc fragment), key for key."""
    import yaml

    from ansible_collections.crosshost.fabric.plugins.doc_fragments import routes as fragment

    def as_spec(doc):
        spec = {k: v for k, v in doc.items() if k in ("type", "elements", "default", "required")}
        if "suboptions" in doc:
            spec["options"] = {name: as_spec(sub) for name, sub in doc["suboptions"].items()}
        return spec

    documented = yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["options"]["routes"]
    assert routes.routes_argument_spec() == as_spec(documented)
    assert routes.routes_argument_spec() == {
        "type": "list", "elements": "dict", "default": [],
        "options": {
            "dst": {"type": "str", "required": True},
            "via": {"type": "str", "required": True},
            "dev": {"type": "str"},
            "onlink": {"type": "bool"},
            "direct": {"type": "dict", "options": {"via": {"type": "str", "required": True},
                                                   "dev": {"type": "str", "required": True}}},
            "peer": {"type": "str"},
        },
    }
