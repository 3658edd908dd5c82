"""What a plan run tells its user: the allocation table itself (as flannel's and Calico's status
commands show it), an honest preview under --check, and, at plan time, what the hosts will still
need (an underlay interface: facts or fabric_iface)."""

import os

import yaml
from test_plan_playbook import PLAYBOOK, THREE, make_inventory, run

ROW_N2 = "n2    192.0.2.12  10.244.2.0/24  10.244.2.1  1450"


def test_plan_run_prints_the_table(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0, out
    assert "# fabric 10.244.0.0/16, backend vxlan, /24 per host, 3 hosts" in out, out
    assert ROW_N2 in out, out
    assert "table in %s" % (tmp_path / ".fabric" / "plan.txt") in out, out
    assert "preview" not in out


def test_check_mode_says_preview_and_points_at_no_file(tmp_path):
    inv = make_inventory(tmp_path, THREE)
    rc, out = run(PLAYBOOK, inv, "--check")
    assert rc == 0, out
    assert ROW_N2 in out, out
    assert "preview (check mode: nothing written)" in out, out
    assert "plan.txt" not in out, out
    assert not (tmp_path / ".fabric").exists()


def test_plan_warns_which_hosts_need_facts_or_fabric_iface(tmp_path):
    hosts = dict(THREE, n3={"ansible_host": "192.0.2.13", "fabric_iface": "eth0"})
    inv = make_inventory(tmp_path, hosts)
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0, out
    flat = " ".join(out.split())
    assert "NOTE: no underlay interface known yet for n1, n2" in flat, out
    assert "[WARNING]" not in out, out
    assert "n3" not in flat.split("no underlay interface known yet for")[1].split(".")[0]
    inv = make_inventory(tmp_path, {n: dict(v, fabric_iface="eth0") for n, v in THREE.items()})
    rc, out = run(PLAYBOOK, inv)
    assert rc == 0 and "no underlay interface known" not in out, out


def test_facts_without_the_public_ip_are_an_error_before_anything_is_written(tmp_path):
    # Real facts of this machine (read only), and a public IP that none of its interfaces holds:
    # as in site.yml, where facts are gathered, the plan stops with the host's name.
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"fabric": {"hosts": {"self": {
        "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
        "fabric_public_ip": "192.0.2.250"}}}}))
    play = tmp_path / "facts_then_plan.yml"
    play.write_text(
        "- name: Facts, then the plan, as site.yml does\n"
        "  hosts: fabric\n"
        "  gather_facts: true\n"
        "  gather_subset: [network]\n"
        "  roles:\n"
        "    - role: crosshost.fabric.plan\n")
    rc, out = run(str(play), str(inv))
    assert rc != 0, out
    flat = " ".join(out.split())
    assert "host self: no interface holds its public IP 192.0.2.250 (facts gathered); set fabric_iface" in flat, out
    assert not os.path.exists(tmp_path / ".fabric")
