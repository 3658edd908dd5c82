"""The lease ledger: a readable YAML file, atomic and locked writes, faults named."""

import multiprocessing
import os

import pytest
import yaml

from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings


def inv(*names):
    return [HostInput(n, public_ip="192.0.2.%d" % (i + 1)) for i, n in enumerate(names)]


def test_ledger_is_readable_yaml_and_stable(tmp_path):
    path = str(tmp_path / "leases.yml")
    out = ledger.plan(path, Settings(), inv("b", "a"))
    assert out["changed"]
    data = yaml.safe_load(open(path))
    assert data["network"] == "10.244.0.0/16" and data["subnet_len"] == 24
    assert data["leases"] == {"a": {"subnet": "10.244.1.0/24", "public_ip": "192.0.2.2"},
                              "b": {"subnet": "10.244.2.0/24", "public_ip": "192.0.2.1"}}
    text = open(path).read()
    assert text.startswith("# crosshost.fabric lease ledger")
    again = ledger.plan(path, Settings(), inv("b", "a"))
    assert not again["changed"] and open(path).read() == text
    # No temp file left behind; the lock file is hidden, never read as inventory.
    assert [f for f in os.listdir(tmp_path) if f.startswith(".")] == [".leases.yml.lock"]


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / "leases.yml")
    out = ledger.plan(path, Settings(), inv("a"), check_mode=True)
    assert out["changed"] and not os.path.exists(path)


def test_removed_host_keeps_its_lease_and_recorded_ip_until_released(tmp_path):
    path = str(tmp_path / "leases.yml")
    ledger.plan(path, Settings(), inv("a", "b", "c"))
    out = ledger.plan(path, Settings(), inv("a", "c"))
    assert out["leases"]["b"] == "10.244.2.0/24"
    assert yaml.safe_load(open(path))["leases"]["b"]["public_ip"] == "192.0.2.2"
    out = ledger.plan(path, Settings(), inv("a", "c"), release=["b"])
    assert "b" not in ledger.read(path)["leases"] and out["released"] == ["b"]
    out = ledger.plan(path, Settings(), inv("a", "c", "d"))
    assert out["plan"]["hosts"]["d"]["subnet"] == "10.244.4.0/24"  # never-used subnets first (issue 6 item 7)


@pytest.mark.parametrize(
    "content,expect",
    [
        ("leases: [oops\n", "is not valid YAML"),
        ("- a\n- b\n", "expected a mapping at the top"),
        ("leases: [a, b]\n", "'leases' must map host names to subnets"),
        ("leases:\n  a: {public_ip: 1.2.3.4}\n", "host a has no subnet"),
        ("network: 10.244.0.0/16\nsubnet_len: 24\nleases:\n  a: 10.244.1.0/24\n  b: {subnet: 10.244.1.0/24}\n",
         "hosts a and b both hold 10.244.1.0/24"),
        ("network: 10.99.0.0/16\nsubnet_len: 24\nleases:\n  a: 10.99.1.0/24\n",
         "was written for 10.99.0.0/16 with /24 subnets but fabric_network is 10.244.0.0/16"),
        ("network: 10.244.0.0/16\nsubnet_len: 26\nleases:\n  a: 10.244.1.0/26\n", "with /26 subnets"),
    ],
)
def test_bad_lease_files_are_named_and_left_untouched(tmp_path, content, expect):
    path = tmp_path / "leases.yml"
    path.write_text(content)
    with pytest.raises(PlanError) as exc:
        ledger.plan(str(path), Settings(), inv("a", "b"))
    assert expect in str(exc.value) and str(path) in str(exc.value), str(exc.value)
    assert path.read_text() == content


def test_unreadable_lease_file(tmp_path):
    path = tmp_path / "leases.yml"
    path.mkdir()  # a folder where the file should be: open() fails
    with pytest.raises(PlanError, match="is unreadable"):
        ledger.plan(str(path), Settings(), inv("a"))


def _worker(args):
    path, names = args
    out = ledger.plan(path, Settings(network="10.244.0.0/16"), [HostInput(n, public_ip=ip) for n, ip in names])
    return {n: out["plan"]["hosts"][n]["subnet"] for n, _ in names}


def test_concurrent_runs_never_hand_one_subnet_out_twice(tmp_path):
    path = str(tmp_path / "leases.yml")
    # 8 runs at once, each with its own 25 hosts (as 8 operators with 8 inventories).
    jobs = [(path, [("r%dh%02d" % (r, i), "192.0.%d.%d" % (r, i + 1)) for i in range(25)]) for r in range(8)]
    with multiprocessing.get_context("fork").Pool(8) as pool:
        results = pool.map(_worker, jobs)
    handed = {}
    for res in results:
        handed.update(res)
    assert len(handed) == 200
    assert len(set(handed.values())) == 200, "one subnet handed out twice"
    assert ledger.read(path)["leases"] == handed  # nothing lost: every run's leases are in the file


def test_hosts_without_facts_fall_back_to_their_recorded_public_ip(tmp_path):
    # As under --limit: a limited-out host whose ansible_host is a name has no facts this run.
    path = str(tmp_path / "leases.yml")
    ledger.plan(path, Settings(), inv("a", "b"))
    out = ledger.plan(path, Settings(), [HostInput("a", public_ip="192.0.2.1"), HostInput("b")])
    assert out["plan"]["hosts"]["b"]["public_ip"] == "192.0.2.2"
    assert not out["changed"]
    with pytest.raises(PlanError, match="host c has no public IP"):
        ledger.plan(path, Settings(), [HostInput("a", public_ip="192.0.2.1"), HostInput("c")])
