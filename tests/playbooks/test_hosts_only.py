"""An inventory that lists the hosts of group `fabric` and sets nothing else is a first-class case:
every playbook of the collection runs against it and takes the documented defaults (issue 12)."""

import json
import os
import re

import yaml

from test_plan_playbook import PLAYBOOK, RELEASE, ROOT, THREE, make_inventory, run

SITE = os.path.join(ROOT, "playbooks", "site.yml")
# The connection only: local, with the controller's own Python (facts are this machine's). This machine
# holds none of the hosts' public IPs, so the underlay interface is named (else, with facts gathered, the
# plan refuses the hosts: issue 10 item 8).
LOCAL = {name: dict(values, ansible_connection="local", ansible_python_interpreter="{{ ansible_playbook_python }}",
                    fabric_iface="lo")
         for name, values in THREE.items()}


def _plan_play(tmp_path):
    """site.yml's plan play on its own (the play that runs crosshost.fabric.plan), as written in site.yml:
    the other plays change hosts, which a controller-side test must not do to this machine."""
    plays = yaml.safe_load(open(SITE, encoding="utf-8"))
    # The play that runs the plan role, whichever way it names it (roles:, include_role, import_role).
    mine = [p for p in plays if re.search(r"\bcrosshost\.fabric\.plan\b(?![._])", yaml.safe_dump(p))]
    assert len(mine) == 1, "site.yml should have exactly one play that runs crosshost.fabric.plan"
    path = tmp_path / "site_plan_play.yml"
    path.write_text(yaml.safe_dump(mine))
    return str(path)


def _assert_default_plan(tmp_path, names):
    plan = json.loads((tmp_path / ".fabric" / "plan.json").read_text())
    assert plan["network"] == "10.244.0.0/16" and plan["subnet_len"] == 24
    assert plan["backend"] == "vxlan"
    assert plan["vxlan_vni"] == 1 and plan["vxlan_port"] == 8472
    assert plan["ip_masq"] is True
    assert sorted(plan["hosts"]) == sorted(names)
    for host in plan["hosts"].values():
        assert host["subnet"].startswith("10.244.") and host["subnet"].endswith("/24")
    return plan


def test_site_plan_play_runs_on_a_hosts_only_inventory(tmp_path):
    inv = make_inventory(tmp_path, LOCAL)
    rc, out = run(_plan_play(tmp_path), inv)
    assert rc == 0, out
    assert "is undefined" not in out, out
    _assert_default_plan(tmp_path, LOCAL)
    rc, out = run(_plan_play(tmp_path), inv)
    assert rc == 0 and "changed=0" in out, out


def test_site_refuses_a_backend_it_cannot_build_and_names_it(tmp_path):
    inv = make_inventory(tmp_path, LOCAL, group_vars={"fabric_backend": "geneve"})
    rc, out = run(_plan_play(tmp_path), inv)
    assert rc != 0 and "fabric_backend=geneve" in out, out
    assert not (tmp_path / ".fabric" / "leases.yml").exists()


def test_plan_and_release_run_on_a_hosts_only_inventory(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0, out
    plan = _assert_default_plan(tmp_path, THREE)
    assert {h["mtu"] for h in plan["hosts"].values()} == {1450}  # default underlay 1500 - 50 (VXLAN)
    two = {k: v for k, v in THREE.items() if k != "n3"}
    inv = make_inventory(tmp_path, two)
    rc, out = run(RELEASE, inv, "-e", "fabric_release=n3")
    assert rc == 0, out
    assert sorted(yaml.safe_load((tmp_path / ".fabric" / "leases.yml").read_text())["leases"]) == ["n1", "n2"]


VERIFY = os.path.join(ROOT, "playbooks", "verify.yml")
RESET = os.path.join(ROOT, "playbooks", "reset.yml")


def test_verify_runs_on_a_hosts_only_inventory_and_writes_no_ledger(tmp_path):
    """Here the three hosts are this machine, which has no VTEP: every pair fails, the cause named, and
    the probes never leave (this machine holds no fabric gateway to send from). The plan is only read."""
    inv = make_inventory(tmp_path, LOCAL)
    rc, out = run(VERIFY, inv)
    assert rc != 0 and "is undefined" not in out, out
    assert "fabric verify: backend vxlan, 3 hosts, 6 of 6 pairs FAIL" in out, out
    assert "FAIL n1 -> n2: device missing: n1: the VTEP flannel.1 does not exist" in out, out
    report = json.loads((tmp_path / ".fabric" / "verify.json").read_text())
    assert report["ok"] is False and len(report["failures"]) == 6
    assert not (tmp_path / ".fabric" / "leases.yml").exists(), "verify wrote the ledger"
    assert not (tmp_path / ".fabric" / "plan.json").exists(), "verify wrote the plan"


def test_reset_runs_on_a_hosts_only_inventory_in_check_mode(tmp_path):
    """In check mode, on this machine (which carries no fabric), with daemon.json in the test's folder:
    every default resolves and nothing would change."""
    inv = make_inventory(tmp_path, LOCAL)
    config = tmp_path / "daemon.json"
    config.write_text('{"storage-driver": "vfs"}\n')
    rc, out = run(RESET, inv, "--check", "-e", "docker_config_file=%s" % config)
    assert rc == 0 and "is undefined" not in out, out
    assert re.findall(r"changed=(\d+)", out) == ["0", "0", "0"], out
    assert config.read_text() == '{"storage-driver": "vfs"}\n'


COVERED = {"site.yml", "plan.yml", "release.yml", "verify.yml", "reset.yml"}


def test_every_playbook_is_run_against_a_hosts_only_inventory():
    """A new playbook (verify, reset, ...) must get its hosts-only test here, then join COVERED."""
    playbooks = {f for f in os.listdir(os.path.join(ROOT, "playbooks")) if f.endswith((".yml", ".yaml"))}
    assert playbooks - COVERED == set(), "playbooks without a hosts-only test: %s" % sorted(playbooks - COVERED)
