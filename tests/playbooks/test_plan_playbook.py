"""playbooks/plan.yml and release.yml through the real ansible-playbook: bad input stops the run
with a non-zero exit and a message naming hosts and values, and writes nothing; --limit and
hosts leaving the inventory never renumber anybody."""

import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(ROOT, "playbooks", "plan.yml")
RELEASE = os.path.join(ROOT, "playbooks", "release.yml")
BIN = os.path.dirname(sys.executable)


def make_inventory(tmp_path, hosts, group_vars=None, host_vars=None):
    inv = {"all": {"children": {"fabric": {"hosts": hosts}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inv))
    if group_vars:
        (tmp_path / "group_vars").mkdir(exist_ok=True)
        (tmp_path / "group_vars" / "fabric.yml").write_text(yaml.safe_dump(group_vars))
    for name, values in (host_vars or {}).items():
        (tmp_path / "host_vars").mkdir(exist_ok=True)
        (tmp_path / "host_vars" / ("%s.yml" % name)).write_text(yaml.safe_dump(values))
    return str(tmp_path / "hosts.yml")


def run(playbook, inventory, *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", inventory, playbook, *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


THREE = {"n1": {"ansible_host": "192.0.2.11"}, "n2": {"ansible_host": "192.0.2.12"},
         "n3": {"ansible_host": "192.0.2.13"}}


def test_plan_writes_leases_and_the_allocation_table(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0, out
    plan = json.loads((tmp_path / ".fabric" / "plan.json").read_text())
    assert {n: h["subnet"] for n, h in plan["hosts"].items()} == {
        "n1": "10.244.1.0/24", "n2": "10.244.2.0/24", "n3": "10.244.3.0/24"}
    table = (tmp_path / ".fabric" / "plan.txt").read_text()
    assert "n2    192.0.2.12  10.244.2.0/24  10.244.2.1  1450" in table
    leases = yaml.safe_load((tmp_path / ".fabric" / "leases.yml").read_text())["leases"]
    assert leases["n3"] == {"subnet": "10.244.3.0/24", "public_ip": "192.0.2.13"}
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0 and "changed=0" in out, out


def test_hosts_leaving_and_coming_back_are_not_renumbered_and_release_frees(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    assert run(PLAYBOOK, inv)[0] == 0
    two = {k: v for k, v in THREE.items() if k != "n2"}
    inv = make_inventory(tmp_path, {**two, "n4": {"ansible_host": "192.0.2.14"}})
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0, out
    plan = json.loads((tmp_path / ".fabric" / "plan.json").read_text())
    assert plan["hosts"]["n4"]["subnet"] == "10.244.4.0/24"  # n2's subnet stays leased
    assert "n2" not in plan["hosts"]
    rc, out = run(RELEASE, inv, "-e", "fabric_release=n3")
    assert rc != 0 and "cannot release the lease of hosts still in the fabric group: n3" in out
    rc, out = run(RELEASE, inv, "-e", "fabric_release=n2")
    assert rc == 0, out
    assert "n2" not in yaml.safe_load((tmp_path / ".fabric" / "leases.yml").read_text())["leases"]
    inv = make_inventory(tmp_path, {**two, "n4": {"ansible_host": "192.0.2.14"}, "n5": {"ansible_host": "192.0.2.15"}})
    assert run(PLAYBOOK, inv)[0] == 0
    plan = json.loads((tmp_path / ".fabric" / "plan.json").read_text())
    # Released subnets are handed out last: n5 takes a never-used one (issue 6 item 7).
    assert plan["hosts"]["n5"]["subnet"] == "10.244.5.0/24"


BAD = [
    ("not-a-network", THREE, {"fabric_network": "10.244.3.0/16"}, None,
     ["fabric_network 10.244.3.0/16 is not a network address"]),
    ("not-cidr", THREE, {"fabric_network": "10.244.0.0/40"}, None, ["'10.244.0.0/40' is not a valid CIDR"]),
    ("subnet-len", THREE, {"fabric_subnet_len": 31}, None, ["fabric_subnet_len /31 is longer than /30"]),
    ("too-many", THREE, {"fabric_network": "10.244.0.0/23"}, None,
     ["3 new hosts need a subnet but only 1", "n2, n3"]),
    ("reserved", THREE, {"fabric_network": "172.16.0.0/12"}, None, ["overlaps the reserved range 172.17.0.0/16"]),
    ("link-local", THREE, {"fabric_network": "169.254.0.0/16"}, None, ["overlaps the reserved range 169.254.0.0/16"]),
    ("user-reserved", THREE, {"fabric_reserved_networks": ["172.17.0.0/16", "10.244.128.0/17"]}, None,
     ["overlaps the reserved range 10.244.128.0/17"]),
    ("host-network", THREE, None, {"n2": {"ansible_host": "10.244.9.9"}},
     ["host n2: its public IP 10.244.9.9 lies inside fabric_network 10.244.0.0/16"]),
    ("dup-ip", THREE, None, {"n3": {"ansible_host": "192.0.2.11"}}, ["duplicate public IP 192.0.2.11 on hosts n1, n3"]),
    ("backend", THREE, {"fabric_backend": "ipip"}, None, ["fabric_backend 'ipip' is unknown"]),
    ("pin-outside", THREE, None, {"n1": {"fabric_subnet": "10.99.1.0/24"}},
     ["host n1: fabric_subnet 10.99.1.0/24 is outside fabric_network 10.244.0.0/16"]),
    ("pin-misaligned", THREE, None, {"n1": {"fabric_subnet": "10.244.1.7/24"}},
     ["host n1: fabric_subnet 10.244.1.7/24 is not an aligned /24"]),
    ("pin-taken", THREE, None, {"n1": {"fabric_subnet": "10.244.5.0/24"}, "n2": {"fabric_subnet": "10.244.5.0/24"}},
     ["hosts n1 and n2 are both pinned to fabric_subnet 10.244.5.0/24"]),
    ("disagree", THREE, None, {"n2": {"fabric_network": "10.245.0.0/16"}},
     ["hosts disagree on fabric_network", "n2"]),
    ("no-ip", {**THREE, "n4": {"ansible_host": "node4.example"}}, None, None, ["host n4 has no public IP"]),
]


@pytest.mark.parametrize("case,hosts,group_vars,host_vars,expect", BAD, ids=[b[0] for b in BAD])
def test_bad_input_stops_the_run_names_the_fault_and_writes_nothing(tmp_path, case, hosts, group_vars, host_vars,
                                                                   expect):
    inv = make_inventory(tmp_path, hosts, group_vars, host_vars)
    rc, out = run(PLAYBOOK, inv)
    assert rc != 0, out
    for text in expect:
        assert text in out, out
    assert not (tmp_path / ".fabric" / "leases.yml").exists()
    assert not (tmp_path / ".fabric").exists()


def test_lease_file_edited_into_a_collision_is_refused_and_kept(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    assert run(PLAYBOOK, inv)[0] == 0
    path = tmp_path / ".fabric" / "leases.yml"
    text = path.read_text().replace("10.244.2.0/24", "10.244.1.0/24")
    path.write_text(text)
    before_plan = (tmp_path / ".fabric" / "plan.json").read_text()
    rc, out = run(PLAYBOOK, inv)
    assert rc != 0 and "hosts n1 and n2 both hold 10.244.1.0/24" in out, out
    assert path.read_text() == text
    assert (tmp_path / ".fabric" / "plan.json").read_text() == before_plan
    path.write_text("leases: {broken\n")
    rc, out = run(PLAYBOOK, inv)
    assert rc != 0 and "is not valid YAML" in out and str(path) in out, out


def test_check_mode_plans_but_writes_nothing(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    rc, out = run(PLAYBOOK, inv, "--check")
    assert rc == 0, out
    assert "3 hosts planned" in out
    assert not (tmp_path / ".fabric" / "leases.yml").exists()
