"""Issue 6 (items 1-7) and issue 10 (item 10): the ledger and the planner fail closed.

Each test names the finding it proves. Every one of them failed on the code before the fix
(see the changelog fragment ``ledger-fail-closed.yml``)."""

import os
import stat
import subprocess
import sys

import pytest
import yaml

from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger, planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings


def inv(*names):
    return [HostInput(n, public_ip="192.0.2.%d" % (i + 1)) for i, n in enumerate(names)]


def problems(exc):
    return "\n".join(exc.value.problems)


def subnets(plan):
    return {name: h["subnet"] for name, h in plan["hosts"].items()}


# --------------------------------------------------------------------------- 1. truncation


def test_1_truncated_ledger_is_refused_at_a_line_boundary_mid_line_and_at_zero_bytes(tmp_path):
    path = tmp_path / "leases.yml"
    ledger.plan(str(path), Settings(), inv("a", "b", "c", "d"))
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    cuts = {
        "line boundary": "".join(lines[:-3]),
        "mid-line": text[: len(text) - 40],
        "zero bytes": "",
        "only the header": "".join(line for line in lines if line.startswith("#") and "end of" not in line),
    }
    for label, cut in cuts.items():
        path.write_text(cut)
        with pytest.raises(ledger.LedgerError) as exc:
            ledger.plan(str(path), Settings(), inv("a", "b", "c", "d"))
        assert str(path) in problems(exc), label
        assert "truncated" in problems(exc) or "empty" in problems(exc), (label, problems(exc))
        assert path.read_text() == cut, "a refused ledger must be left as it was (%s)" % label


def test_1_ledger_has_an_end_marker_with_its_counts(tmp_path):
    path = tmp_path / "leases.yml"
    ledger.plan(str(path), Settings(), inv("a", "b", "c"))
    ledger.plan(str(path), Settings(), inv("a", "c"), release=["b"])
    last = path.read_text().rstrip("\n").splitlines()[-1]
    assert last == "# end of lease ledger: 2 leases, 1 released"


def test_1_an_entry_deleted_by_hand_without_fixing_the_count_is_refused(tmp_path):
    path = tmp_path / "leases.yml"
    ledger.plan(str(path), Settings(), inv("a", "b", "c"))
    text = path.read_text()
    path.write_text(text.replace("  b:\n    subnet: 10.244.2.0/24\n    public_ip: 192.0.2.2\n", ""))
    with pytest.raises(ledger.LedgerError, match="says 3 leases but holds 2"):
        ledger.read(str(path))


def test_1_legacy_ledger_without_marker_is_still_read_and_rewritten_with_one(tmp_path):
    path = tmp_path / "leases.yml"
    path.write_text("version: 1\nnetwork: 10.244.0.0/16\nsubnet_len: 24\nleases:\n"
                    "  b:\n    subnet: 10.244.7.0/24\n    public_ip: 192.0.2.2\n")
    out = ledger.plan(str(path), Settings(), inv("a", "b"))
    assert subnets(out["plan"]) == {"a": "10.244.1.0/24", "b": "10.244.7.0/24"}
    assert path.read_text().endswith("# end of lease ledger: 2 leases, 0 released\n")


def test_1_running_subnet_mismatch_stops_the_run_naming_host_and_both_subnets():
    h = inv("a", "b")
    h[0].running = {"docker0": "10.244.9.1/24"}
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h, {"a": "10.244.1.0/24"})
    text = problems(exc)
    assert "host a runs 10.244.9.0/24 (docker0 10.244.9.1/24) but its lease is 10.244.1.0/24" in text


def test_1_lost_ledger_running_hosts_are_never_handed_another_subnet():
    # The ledger is gone; a and b run in the fabric (docker0 / subnet.env): they keep their subnets,
    # and the new host c does not take either of them.
    h = inv("a", "b", "c")
    h[0].running = {"docker0": "10.244.2.1/24"}
    h[1].running = {"/run/flannel/subnet.env": "10.244.1.1/24"}
    r = planner.plan_fabric(Settings(), h, {})
    assert subnets(r.plan) == {"a": "10.244.2.0/24", "b": "10.244.1.0/24", "c": "10.244.3.0/24"}
    assert r.adopted == {"a": "10.244.2.0/24", "b": "10.244.1.0/24"}


def test_1_default_docker0_is_not_running_in_the_fabric():
    h = inv("a")
    h[0].running = {"docker0": "172.17.0.1/16"}
    plan, _ = planner.build_plan(Settings(), h, {})
    assert subnets(plan) == {"a": "10.244.1.0/24"}


def test_1_running_evidence_that_disagrees_or_does_not_fit_is_refused():
    h = inv("a", "b")
    h[0].running = {"docker0": "10.244.2.1/24", "/run/flannel/subnet.env": "10.244.3.1/24"}
    h[1].running = {"docker0": "10.244.5.1/16"}
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h, {})
    text = problems(exc)
    assert "host a runs two subnets: docker0 10.244.2.1/24, /run/flannel/subnet.env 10.244.3.1/24" in text
    assert "host b runs docker0 10.244.5.1/16 inside fabric_network 10.244.0.0/16" in text


def test_1_facts_give_docker0_and_subnet_env_as_running_evidence():
    facts = {"interfaces": ["eth0", "docker0"],
             "eth0": {"ipv4": {"address": "192.0.2.1", "netmask": "255.255.255.0"}, "mtu": 1500},
             "docker0": {"ipv4": {"address": "10.244.4.1", "netmask": "255.255.255.0"}, "mtu": 1450}}
    env = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.4.1/24\nFLANNEL_MTU=1450\n"
    h = planner.host_from_facts("a", facts=facts, subnet_env=env)
    assert h.running == {"docker0": "10.244.4.1/24", "/run/flannel/subnet.env": "10.244.4.1/24"}


# --------------------------------------------------------------------------- issue 10 item 10: adoption


def test_adoption_of_a_flannel_subnet_is_reported_and_written_to_the_ledger(tmp_path):
    path = tmp_path / "leases.yml"
    h = inv("a", "b")
    h[1].running = {"/run/flannel/subnet.env": "10.244.42.1/24"}
    out = ledger.plan(str(path), Settings(), h)
    assert out["adopted"] == {"b": "10.244.42.0/24"}
    assert ledger.read(str(path))["leases"] == {"a": "10.244.1.0/24", "b": "10.244.42.0/24"}
    # Once leased, nothing is adopted any more.
    assert ledger.plan(str(path), Settings(), h)["adopted"] == {}


def test_adoption_two_hosts_claiming_one_subnet_is_an_error_naming_both():
    h = inv("a", "b")
    h[0].running = {"/run/flannel/subnet.env": "10.244.42.1/24"}
    h[1].running = {"docker0": "10.244.42.1/24"}
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h, {})
    assert "hosts a and b both run 10.244.42.0/24" in problems(exc)


def test_adoption_of_a_subnet_leased_to_another_host_is_an_error():
    h = inv("a")
    h[0].running = {"docker0": "10.244.1.1/24"}
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h, {"gone": "10.244.1.0/24"})
    assert "host a runs 10.244.1.0/24 (docker0 10.244.1.1/24), which is leased to gone" in problems(exc)


def test_adoption_against_a_pin_is_an_error():
    h = inv("a")
    h[0].running = {"docker0": "10.244.3.1/24"}
    h[0].pinned_subnet = "10.244.4.0/24"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h, {})
    assert "host a runs 10.244.3.0/24 (docker0 10.244.3.1/24) but is pinned to 10.244.4.0/24" in problems(exc)


# --------------------------------------------------------------------------- 2. duplicate keys


@pytest.mark.parametrize(
    "body,where",
    [
        ("leases:\n  a:\n    subnet: 10.244.1.0/24\n  b:\n    subnet: 10.244.2.0/24\n  a:\n    subnet: 10.244.3.0/24\n",
         "key 'a' twice"),
        ("leases:\n  a:\n    subnet: 10.244.1.0/24\n    subnet: 10.244.2.0/24\n", "key 'subnet' twice"),
        ("network: 10.244.0.0/16\nleases:\n  a: {subnet: 10.244.1.0/24}\nnetwork: 10.244.0.0/16\n",
         "key 'network' twice"),
    ],
)
def test_2_duplicate_keys_are_refused(tmp_path, body, where):
    path = tmp_path / "leases.yml"
    path.write_text("version: 1\n" + ("network: 10.244.0.0/16\nsubnet_len: 24\n" if "network" not in body else "")
                    + body)
    with pytest.raises(ledger.LedgerError) as exc:
        ledger.plan(str(path), Settings(), inv("a", "b"))
    assert where in problems(exc) and str(path) in problems(exc)


# --------------------------------------------------------------------------- 3. symlinks


def test_3_symlinked_ledger_is_written_through_to_its_target(tmp_path):
    shared = tmp_path / "shared" / "leases.yml"
    shared.parent.mkdir()
    (tmp_path / "inv1").mkdir()
    (tmp_path / "inv2").mkdir()
    link1, link2 = tmp_path / "inv1" / "leases.yml", tmp_path / "inv2" / "leases.yml"
    link1.symlink_to(shared)
    link2.symlink_to(os.path.relpath(shared, link2.parent))
    ledger.plan(str(link1), Settings(), [HostInput("a", public_ip="192.0.2.1")])
    out = ledger.plan(str(link2), Settings(), [HostInput("b", public_ip="192.0.2.2")])
    assert link1.is_symlink() and link2.is_symlink()
    assert out["plan"]["hosts"]["b"]["subnet"] == "10.244.2.0/24"
    assert ledger.read(str(shared))["leases"] == {"a": "10.244.1.0/24", "b": "10.244.2.0/24"}
    # The lock is the target's, beside the target (and hidden), never beside the links.
    assert (tmp_path / "shared" / ".leases.yml.lock").exists()
    assert sorted(os.listdir(tmp_path / "inv1")) == ["leases.yml"]


# --------------------------------------------------------------------------- 5. public IPs


@pytest.mark.parametrize(
    "ip,expect",
    [
        ("2001:db8::1", "host a: public IP 2001:db8::1 is IPv6; the fabric needs an IPv4 underlay address"),
        ("::ffff:192.0.2.2", "host a: public IP ::ffff:192.0.2.2 is an IPv4-mapped IPv6 address (write 192.0.2.2)"),
        ("224.0.0.5", "host a: public IP 224.0.0.5 is multicast"),
        ("127.0.0.1", "host a: public IP 127.0.0.1 is loopback"),
        ("0.0.0.0", "host a: public IP 0.0.0.0 is not a host address"),
        ("255.255.255.255", "host a: public IP 255.255.255.255 is the broadcast address"),
        ("169.254.3.4", "host a: public IP 169.254.3.4 is link-local"),
        ("240.0.0.1", "host a: public IP 240.0.0.1 is reserved"),
    ],
)
def test_5_public_ips_must_be_unicast_ipv4_host_addresses(ip, expect):
    h = inv("a", "b")
    h[0].public_ip = ip
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h)
    assert expect in problems(exc)


def test_5_ipv4_mapped_duplicate_of_another_host_is_named_as_a_duplicate():
    h = inv("a", "b")
    h[0].public_ip = "::ffff:192.0.2.2"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h)
    assert "duplicate public IP 192.0.2.2 on hosts a, b" in problems(exc)


def test_5_subnet_broadcast_and_network_address_are_refused_when_the_segment_is_known():
    h = inv("a", "b")
    h[0].public_ip, h[0].public_net = "192.0.2.255", "192.0.2.0/24"
    h[1].public_ip, h[1].public_net = "198.51.100.0", "198.51.100.0/24"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(), h)
    text = problems(exc)
    assert "host a: public IP 192.0.2.255 is the broadcast address of its network 192.0.2.0/24" in text
    assert "host b: public IP 198.51.100.0 is the network address of 198.51.100.0/24" in text


# --------------------------------------------------------------------------- 6. smaller ones


@pytest.mark.parametrize("value", [24.9, "24.9", 24.5, True, "abc"])
def test_6_non_integer_subnet_len_is_refused(value):
    with pytest.raises(PlanError, match="fabric_subnet_len .* is not an integer"):
        planner.build_plan(Settings(subnet_len=value), inv("a"))


def test_6_integral_subnet_len_forms_are_fine():
    for value in (24, "24", 24.0):
        plan, _ = planner.build_plan(Settings(subnet_len=value), inv("a"))
        assert plan["subnet_len"] == 24


def test_6_ledger_subnet_len_as_a_string_is_compared_as_a_number(tmp_path):
    path = tmp_path / "leases.yml"
    path.write_text("version: 1\nnetwork: 10.244.0.0/16\nsubnet_len: '24'\nleases:\n  a: {subnet: 10.244.1.0/24}\n")
    out = ledger.plan(str(path), Settings(), inv("a"))
    assert out["plan"]["hosts"]["a"]["subnet"] == "10.244.1.0/24"
    path.write_text("version: 1\nnetwork: 10.244.0.0/16\nsubnet_len: '26'\nleases:\n  a: {subnet: 10.244.1.0/26}\n")
    with pytest.raises(ledger.LedgerError, match="with /26 subnets but fabric_network is 10.244.0.0/16 with /24"):
        ledger.plan(str(path), Settings(), inv("a"))


def test_6_check_mode_creates_no_folder_and_no_lock_file(tmp_path):
    path = tmp_path / "new" / "deeper" / "leases.yml"
    out = ledger.plan(str(path), Settings(), inv("a"), check_mode=True)
    assert out["changed"]
    assert os.listdir(tmp_path) == []


READ_ONLY_PROBE = """
import sys
from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, Settings
path = sys.argv[1]
hosts = [HostInput(n, public_ip="192.0.2.%d" % (i + 1)) for i, n in enumerate("abc")]
assert not ledger.plan(path, Settings(), hosts[:2])["changed"]
assert ledger.plan(path, Settings(), hosts, check_mode=True)["changed"]
try:
    ledger.plan(path, Settings(), hosts)
except ledger.LedgerError as exc:
    assert "cannot write" in str(exc), str(exc)
else:
    raise AssertionError("a write into a read-only folder did not fail")
print("read-only probe ok")
"""


def test_6_read_only_folder_allows_check_mode_and_no_change_runs(tmp_path):
    folder = tmp_path / "inv"
    folder.mkdir()
    path = folder / "leases.yml"
    ledger.plan(str(path), Settings(), inv("a", "b"))
    for name in os.listdir(folder):
        if name.endswith(".lock"):
            os.unlink(folder / name)
    before = sorted(os.listdir(folder))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    probe = [sys.executable, "-c", READ_ONLY_PROBE, str(path)]
    if os.geteuid() == 0:
        # Root writes through any mode: a read-only bind mount of the folder in a private mount
        # namespace makes it really read-only (the kernel's EROFS).
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        cmd = ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *probe]
    else:
        os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)
        cmd = probe
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    finally:
        os.chmod(folder, 0o755)
    assert proc.returncode == 0 and "read-only probe ok" in proc.stdout, proc.stdout + proc.stderr
    assert sorted(os.listdir(folder)) == before


def test_6_no_change_run_takes_no_lock_and_creates_nothing(tmp_path):
    path = tmp_path / "leases.yml"
    ledger.plan(str(path), Settings(), inv("a", "b"))
    os.unlink(tmp_path / ".leases.yml.lock")
    assert not ledger.plan(str(path), Settings(), inv("a", "b"))["changed"]
    assert os.listdir(tmp_path) == ["leases.yml"]


def test_6_pins_outside_subnet_min_max_are_refused():
    h = inv("a", "b")
    h[0].pinned_subnet = "10.244.200.0/24"
    with pytest.raises(PlanError) as exc:
        planner.build_plan(Settings(subnet_min="10.244.10.0/24", subnet_max="10.244.20.0/24"), h)
    assert ("host a: fabric_subnet 10.244.200.0/24 is outside fabric_subnet_min..fabric_subnet_max "
            "(10.244.10.0/24..10.244.20.0/24)") in problems(exc)
    h[0].pinned_subnet = "10.244.0.0/24"  # the first subnet, never handed out
    with pytest.raises(PlanError, match="outside fabric_subnet_min..fabric_subnet_max"):
        planner.build_plan(Settings(), h)


# --------------------------------------------------------------------------- 7. released last


def test_7_released_subnets_are_handed_out_last(tmp_path):
    path = tmp_path / "leases.yml"
    s = Settings(network="10.244.7.0/24", subnet_len=28)  # 15 subnets: .16 .. .240
    ledger.plan(str(path), s, inv("a", "b", "c"))
    out = ledger.plan(str(path), s, inv("a", "c"), release=["b"])
    assert out["released"] == ["b"]
    data = yaml.safe_load(path.read_text())
    assert data["released"]["10.244.7.32/28"]["host"] == "b"
    assert data["released"]["10.244.7.32/28"]["released_at"]
    # In the same run and later, new hosts take never-used subnets first.
    out = ledger.plan(str(path), s, inv("a", "c", "d"))
    assert out["plan"]["hosts"]["d"]["subnet"] == "10.244.7.64/28"
    names = ["n%02d" % i for i in range(11)]
    out = ledger.plan(str(path), s, inv("a", "c", "d", *names))
    assert "10.244.7.32/28" not in subnets(out["plan"]).values()
    # Only when nothing else is left, the released one.
    out = ledger.plan(str(path), s, inv("a", "c", "d", *names, "z"))
    assert out["plan"]["hosts"]["z"]["subnet"] == "10.244.7.32/28"
    assert "10.244.7.32/28" not in (yaml.safe_load(path.read_text()).get("released") or {})


def test_7_release_and_new_host_in_one_run_do_not_share_the_subnet(tmp_path):
    path = tmp_path / "leases.yml"
    ledger.plan(str(path), Settings(), inv("a", "b"))
    out = ledger.plan(str(path), Settings(), [HostInput("a", public_ip="192.0.2.1"),
                                               HostInput("c", public_ip="192.0.2.3")], release=["b"])
    assert out["plan"]["hosts"]["c"]["subnet"] == "10.244.3.0/24"


def test_7_a_released_host_that_comes_back_gets_its_old_subnet_if_still_free(tmp_path):
    path = tmp_path / "leases.yml"
    ledger.plan(str(path), Settings(), inv("a", "b"))
    ledger.plan(str(path), Settings(), inv("a"), release=["b"])
    out = ledger.plan(str(path), Settings(), inv("a", "b"))
    assert out["plan"]["hosts"]["b"]["subnet"] == "10.244.2.0/24"
