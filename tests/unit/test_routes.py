"""The shared route reconciler (module_utils/routes.py) and file writer (persist.py).

Fed with ``ip -j`` output recorded from a real kernel (tests/unit/data/, made
in a network namespace: a VTEP route, direct routes, a metric-50 route, a
host route, a blackhole, all proto 244, plus a static route and a default).
"""

import os
import pathlib
import stat

import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import persist, routes

DATA = pathlib.Path(__file__).parent / "data"
IP = "/sbin/ip"


def recorded(name):
    return (DATA / name).read_text()


class FakeIp:
    """``run`` for the readers: answers from the recorded files, keeps every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, data=None):
        self.calls.append((argv, data))
        if argv[1:] == ["-4", "-j", "route", "show", "table", "main", "proto", "244"]:
            return 0, recorded("ip-route-proto244.json"), ""
        if argv[1:] == ["-6", "-j", "route", "show", "table", "main", "proto", "244"]:
            return 0, "[]", ""
        if argv[1:] == ["-4", "-j", "route", "show", "table", "main"]:
            return 0, recorded("ip-route-main.json"), ""
        if argv[1:] == ["-j", "-force", "-batch", "-"]:
            return 1, recorded("ip-route-get-batch.json"), "Error: ... unreachable"
        raise AssertionError("unexpected command %r" % (argv,))


def want_of(*items, **kw):
    return routes.desired(items, **kw)


def test_read_owned_normalises_the_kernels_output():
    owned = {r["dst"]: r for r in routes.read_owned(FakeIp(), IP, 244)}
    assert sorted(owned) == ["10.244.2.0/24", "10.244.3.0/24", "10.244.4.0/24", "10.244.5.7/32", "10.244.6.0/24"]
    assert owned["10.244.2.0/24"]["onlink"] is True and owned["10.244.2.0/24"]["dev"] == "flannel.1"
    assert owned["10.244.4.0/24"]["metric"] == 50
    assert owned["10.244.6.0/24"]["type"] == "blackhole" and owned["10.244.6.0/24"]["via"] is None


def test_reconcile_keeps_what_is_in_place_deletes_the_rest_and_adds_the_new():
    run = FakeIp()
    want = want_of(
        {"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1", "onlink": True},
        {"dst": "10.244.3.0/24", "via": "192.0.2.3", "dev": "eth0"},
        {"dst": "10.244.7.0/24", "via": "192.0.2.7", "dev": "eth0"},
        cluster_network="10.244.0.0/16",
        local_subnet="10.244.1.0/24",
    )
    plan = routes.reconcile(run, IP, 244, want, routes.read_owned(run, IP, 244))
    assert plan.deletes == [
        "route del 10.244.4.0/24 proto 244 table main metric 50",
        "route del 10.244.5.7/32 proto 244 table main metric 0",
        "route del 10.244.6.0/24 proto 244 table main metric 0",
    ]
    assert plan.replaces == ["route replace 10.244.7.0/24 via 192.0.2.7 dev eth0 proto 244"]
    assert plan.added == ["10.244.7.0/24 via 192.0.2.7 dev eth0 proto 244"]
    assert plan.removed == [
        "10.244.4.0/24 via 192.0.2.4 dev eth0 proto 244 metric 50",
        "10.244.5.7/32 via 192.0.2.5 dev eth0 proto 244",
        "blackhole 10.244.6.0/24 proto 244",
    ]
    assert "route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 244" in plan.before
    assert sorted(plan.after) == [
        "route 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 244",
        "route 10.244.3.0/24 via 192.0.2.3 dev eth0 proto 244",
        "route 10.244.7.0/24 via 192.0.2.7 dev eth0 proto 244",
    ]


def test_nothing_to_do_reads_no_foreign_routes():
    run = FakeIp()
    owned = [r for r in routes.read_owned(run, IP, 244) if r["dst"] in ("10.244.2.0/24", "10.244.3.0/24")]
    want = want_of(
        {"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1", "onlink": True},
        {"dst": "10.244.3.0/24", "via": "192.0.2.3", "dev": "eth0"},
    )
    calls = len(run.calls)
    plan = routes.reconcile(run, IP, 244, want, owned)
    assert (plan.deletes, plan.replaces, plan.added, plan.removed) == ([], [], [], [])
    assert len(run.calls) == calls


def test_a_changed_route_is_replaced_in_place_not_deleted():
    run = FakeIp()
    want = want_of({"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "eth0"})  # tunnel -> direct
    plan = routes.reconcile(run, IP, 244, want, routes.read_owned(run, IP, 244))
    assert "route del 10.244.2.0/24 proto 244 table main metric 0" not in plan.deletes
    assert plan.replaces == ["route replace 10.244.2.0/24 via 192.0.2.2 dev eth0 proto 244"]
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 244" in plan.removed


def test_routes_of_a_device_the_change_deletes_are_neither_deleted_nor_kept():
    run = FakeIp()
    want = want_of({"dst": "10.244.2.0/24", "via": "10.244.2.0", "dev": "flannel.1", "onlink": True})
    plan = routes.reconcile(run, IP, 244, want, routes.read_owned(run, IP, 244), gone_dev="flannel.1")
    assert not any(line.startswith("route del 10.244.2.0/24") for line in plan.deletes)
    assert plan.replaces == ["route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto 244"]


def test_a_route_of_another_protocol_in_the_way_is_refused_by_name():
    run = FakeIp()
    want = want_of({"dst": "10.244.9.0/24", "via": "192.0.2.9", "dev": "eth0"})
    with pytest.raises(routes.RouteConflict, match=r"10\.244\.9\.0/24 .* protocol static, not 244"):
        routes.reconcile(run, IP, 244, want, routes.read_owned(run, IP, 244))


def test_the_default_route_is_seen_as_0_0_0_0_slash_0():
    # Even without the scope check, a desired /0 meets the host's default route
    # (the kernel prints it as "default") and is refused as foreign.
    run = FakeIp()
    rec = {"dst": "0.0.0.0/0", "via": "192.0.2.9", "dev": "eth0", "onlink": False, "metric": 0}
    with pytest.raises(routes.RouteConflict, match="0.0.0.0/0"):
        routes.reconcile(run, IP, 244, {"0.0.0.0/0": rec}, routes.read_owned(run, IP, 244))


@pytest.mark.parametrize(
    "dst, message",
    [
        ("0.0.0.0/0", "covers every address"),
        ("10.0.0.0/8", "not inside the cluster network 10.244.0.0/16"),
        ("192.0.2.0/24", "not inside the cluster network"),
        ("10.244.1.0/24", "overlaps this host's own subnet 10.244.1.0/24"),
        ("10.244.0.0/16", "overlaps this host's own subnet"),
        ("10.244.1.128/25", "overlaps this host's own subnet"),
    ],
)
def test_routes_outside_the_fabric_or_over_the_hosts_own_subnet_are_refused(dst, message):
    with pytest.raises(ValueError, match=message):
        want_of(
            {"dst": dst, "via": "192.0.2.9", "dev": "eth0"},
            cluster_network="10.244.0.0/16",
            local_subnet="10.244.1.0/24",
        )


def test_0_0_0_0_slash_0_is_refused_without_any_scope():
    with pytest.raises(ValueError, match="covers every address"):
        want_of({"dst": "0.0.0.0/0", "via": "192.0.2.9", "dev": "eth0"})


@pytest.mark.parametrize("via", ["224.0.0.1", "0.0.0.0", "255.255.255.255", "127.0.0.1"])
def test_a_gateway_must_be_a_unicast_host(via):
    with pytest.raises(ValueError, match="routes\\[\\].via"):
        want_of({"dst": "10.244.2.0/24", "via": via, "dev": "eth0"})


def test_not_adjacent_names_each_peer_that_is_not_directly_reachable():
    want = want_of(
        {"dst": "10.244.3.0/24", "via": "192.0.2.3", "dev": "eth0", "peer": "node3"},
        {"dst": "10.244.7.0/24", "via": "198.51.100.7", "dev": "eth0", "peer": "node7"},
        {"dst": "10.244.8.0/24", "via": "203.0.113.1", "dev": "eth0", "peer": "node8"},
    )
    problems = routes.not_adjacent(FakeIp(), IP, want)
    assert problems == [
        "198.51.100.7 (node7) for 10.244.7.0/24: `ip route get 198.51.100.7` answers via gateway 192.0.2.254 "
        "dev eth0, not directly on eth0",
        "203.0.113.1 (node8) for 10.244.8.0/24: `ip route get 203.0.113.1` answers unreachable, not directly on eth0",
    ]


def test_resolve_direct_takes_the_direct_route_only_for_an_adjacent_peer():
    want = want_of(
        {"dst": "10.244.3.0/24", "via": "10.244.3.0", "dev": "flannel.1", "onlink": True,
         "direct": {"via": "192.0.2.3", "dev": "eth0"}},
        {"dst": "10.244.7.0/24", "via": "10.244.7.0", "dev": "flannel.1", "onlink": True,
         "direct": {"via": "198.51.100.7", "dev": "eth0"}},
    )
    final, choice = routes.resolve_direct(FakeIp(), IP, want)
    assert choice == {"10.244.3.0/24": "direct", "10.244.7.0/24": "tunnel"}
    direct = routes.replace_cmd(final["10.244.3.0/24"], 244)
    assert direct == "route replace 10.244.3.0/24 via 192.0.2.3 dev eth0 proto 244"
    assert final["10.244.7.0/24"]["dev"] == "flannel.1"


def test_the_boot_script_is_made_of_the_same_commands_as_the_live_change():
    run = FakeIp()
    want = want_of(
        {"dst": "10.244.7.0/24", "via": "192.0.2.7", "dev": "eth0"},
        {"dst": "10.244.8.0/24", "via": "10.244.8.0", "dev": "flannel.1", "onlink": True},
    )
    plan = routes.reconcile(run, IP, 244, want, [])
    lines = routes.script_lines(want, 244)
    assert lines[0] == "ip -force -batch - <<'EOF' || rc=1" and lines[-1] == "EOF"
    assert lines[1:-1] == plan.replaces
    assert routes.script_lines({}, 244) == []


def test_protocols_of_the_kernel_are_refused():
    for bad in (0, 4, 256):
        with pytest.raises(ValueError, match="route_protocol must be 5..255"):
            routes.check_protocol(bad)
    assert routes.check_protocol(244) == 244


# --------------------------------------------------------------------------- persist


def test_persist_writes_only_a_change_and_reports_it(tmp_path):
    path = str(tmp_path / "sub" / "boot.sh")
    item = persist.sync(path, "one\n", mode=0o755)
    assert item == {"before_header": path + " (absent)", "after_header": path, "before": "", "after": "one\n"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    assert persist.sync(path, "one\n", mode=0o755) is None
    item = persist.sync(path, "two\n", check_mode=True)
    assert item["before"] == "one\n" and item["after"] == "two\n"
    assert open(path).read() == "one\n"  # check mode wrote nothing
    assert persist.sync(path, None)["after_header"] == path + " (absent)"
    assert not os.path.exists(path)
    assert persist.sync(path, None) is None
    assert os.listdir(tmp_path / "sub") == []  # no temporary file left behind


def test_persist_keeps_a_users_mode_when_asked(tmp_path):
    path = tmp_path / "rules"
    path.write_text("old\n")
    os.chmod(path, 0o600)
    persist.sync(str(path), "new\n", keep_mode=True)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path.read_text() == "new\n"


def test_persist_leaves_no_temporary_file_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "boot.sh"
    path.write_text("old\n")

    def broken(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        persist.write(str(path), "new\n")
    assert path.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["boot.sh"]



def test_onlink_when_omitted_is_the_modules_default_and_when_given_is_kept():
    items = [
        {"dst": "10.244.2.0/24", "via": "192.0.2.2", "dev": "eth0"},
        {"dst": "10.244.3.0/24", "via": "192.0.2.3", "dev": "eth0", "onlink": None},
        {"dst": "10.244.4.0/24", "via": "192.0.2.4", "dev": "eth0", "onlink": False},
        {"dst": "10.244.5.0/24", "via": "192.0.2.5", "dev": "eth0", "onlink": True},
    ]
    as_routes = {d: r["onlink"] for d, r in routes.desired(items).items()}
    as_vxlan = {d: r["onlink"] for d, r in routes.desired(items, default_onlink=True).items()}
    assert as_routes == {"10.244.2.0/24": False, "10.244.3.0/24": False, "10.244.4.0/24": False, "10.244.5.0/24": True}
    assert as_vxlan == {"10.244.2.0/24": True, "10.244.3.0/24": True, "10.244.4.0/24": False, "10.244.5.0/24": True}


def test_both_route_modules_take_the_one_routes_spec():
    from ansible_collections.crosshost.fabric.plugins.modules import fabric_routes, fabric_vxlan

    spec = routes.routes_argument_spec()
    for mod in (fabric_routes, fabric_vxlan):
        src = pathlib.Path(mod.__file__).read_text()
        assert "routes=routes.routes_argument_spec()" in src
        assert "  routes:\n" not in src.split('"""')[1]  # documented once, in the doc fragment
    assert sorted(spec["options"]) == ["dev", "direct", "dst", "onlink", "peer", "via"]
    assert "default" not in spec["options"]["onlink"] and "default" not in spec["options"]["dev"]
