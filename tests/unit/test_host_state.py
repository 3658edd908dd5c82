"""The one read of a host (fabric_host_state) and the filters that skip a task whose result it shows in
place (issue 11 item 4). A filter says "in place" only when the read proves it: anything not read, or
read differently, lets the task run. Real files in a temporary folder; the lab proves the rest
(molecule idempotence, benchmarks/bench_converge.py)."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.crosshost.fabric.plugins.filter.host_state import (
    file_in_place,
    files_absent,
    packages_present,
    units_enabled,
)
from ansible_collections.crosshost.fabric.plugins.modules.fabric_host_state import describe, parse_show


def read_of(tmp_path, name, text, mode=0o644):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return str(path), {"files": {str(path): describe(str(path))}}


def test_describe_gives_the_sha1_mode_and_type_of_what_is_there(tmp_path):
    path, state = read_of(tmp_path, "a.conf", "x=1\n", 0o640)
    found = state["files"][path]
    assert found["exists"] and not found["isdir"] and found["mode"] == "0640"
    assert found["sha1"] == hashlib.sha1(b"x=1\n").hexdigest()
    assert describe(str(tmp_path))["isdir"] is True and "sha1" not in describe(str(tmp_path))
    assert describe(str(tmp_path / "missing")) == {"exists": False}


def test_a_file_is_in_place_only_with_the_same_content_mode_owner_and_type(tmp_path):
    path, state = read_of(tmp_path, "unit.service", "[Unit]\n")
    owner = state["files"][path]["owner"]
    assert file_in_place(state, path, "[Unit]\n", mode="0644", owner=owner)
    assert not file_in_place(state, path, "[Unit]", mode="0644")  # one byte less
    assert not file_in_place(state, path, "[Unit]\n", mode="0600")
    assert not file_in_place(state, path, "[Unit]\n", owner=owner + "x")
    assert not file_in_place(state, path, "[Unit]\n", directory=True)
    assert file_in_place({"files": {str(tmp_path): describe(str(tmp_path))}}, str(tmp_path), directory=True)


def test_without_a_read_nothing_is_in_place_and_nothing_is_absent(tmp_path):
    path, state = read_of(tmp_path, "f", "a")
    for read in (None, "", {}, {"files": {}}):
        assert not file_in_place(read, path, "a")
        assert not files_absent(read, [path])
        assert not units_enabled(read, "docker")
        assert not packages_present(read, ["iptables"])
    assert not file_in_place(state, path + ".other", "a")  # a path that was not read


def test_files_absent_needs_every_path_read_and_missing(tmp_path):
    path, state = read_of(tmp_path, "f", "a")
    gone = str(tmp_path / "gone")
    state["files"][gone] = describe(gone)
    assert files_absent(state, [gone]) and files_absent(state, gone)
    assert not files_absent(state, [gone, path])
    assert not files_absent(state, [gone, gone + "2"])  # not read
    assert not files_absent(state, [])


def test_units_enabled_and_active():
    state = {"units": {"docker": {"load": "loaded", "enabled": "enabled", "active": "inactive"},
                       "x.service": {"load": "not-found", "enabled": "", "active": "inactive"}}}
    assert units_enabled(state, "docker") and not units_enabled(state, "docker", active=True)
    assert not units_enabled(state, ["docker", "x.service"]) and not units_enabled(state, [])


def test_packages_present_needs_a_database_and_every_name_asked():
    state = {"packages_known": True, "packages_asked": ["iptables", "ethtool"], "packages_missing": ["ethtool"]}
    assert packages_present(state, ["iptables"])
    assert not packages_present(state, ["iptables", "ethtool"])
    assert not packages_present(state, ["iproute2"])  # not asked
    assert not packages_present(dict(state, packages_known=False), ["iptables"])


def test_systemctl_show_blocks_come_in_the_order_asked():
    out = ("Id=docker.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\n"
           "Id=nope.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n")
    blocks = parse_show(out)
    assert [b["Id"] for b in blocks] == ["docker.service", "nope.service"]
    assert blocks[1]["UnitFileState"] == ""
