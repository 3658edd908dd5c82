"""site.yml refuses what the inventory alone can refuse before it contacts any host: an unreachable
host must not hide the refusal (issue 10 item 7). The hosts are unreachable on this machine's own
loopback (SSH to 127.0.0.1 port 1: refused at once, no packet leaves the machine), so nothing can
change anywhere whatever site.yml does."""

import os

import pytest
from test_plan_playbook import ROOT, make_inventory, run

SITE = os.path.join(ROOT, "playbooks", "site.yml")
DOWN = {name: {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh",
               "fabric_public_ip": ip}
        for name, ip in (("d1", "192.0.2.21"), ("d2", "192.0.2.22"))}


@pytest.mark.parametrize("group_vars, message", [
    ({"fabric_backend": "geneve"}, "fabric_backend 'geneve' is unknown"),
    ({"fabric_network": "10.244.0.0/33"}, "fabric_network '10.244.0.0/33' is not a valid CIDR network"),
    ({"fabric_subnet_len": 12}, "fabric_subnet_len /12 must be longer than the prefix of fabric_network"),
])
def test_site_refuses_inventory_faults_without_contacting_a_host(tmp_path, group_vars, message):
    inv = make_inventory(tmp_path, DOWN, group_vars=group_vars)
    rc, out = run(SITE, inv)
    assert rc != 0, out
    assert message in " ".join(out.split()), out
    for contact in ("UNREACHABLE", "Gathering Facts", "Connection refused"):
        assert contact not in out, out
    assert not (tmp_path / ".fabric").exists()


def test_hosts_disagreeing_on_a_setting_are_refused_before_any_contact(tmp_path):
    inv = make_inventory(tmp_path, DOWN, host_vars={"d2": {"fabric_vxlan_port": 4789}})
    rc, out = run(SITE, inv)
    assert rc != 0, out
    assert "hosts disagree on fabric_vxlan_port" in out, out
    assert "UNREACHABLE" not in out and "Gathering Facts" not in out, out


def test_a_sound_inventory_passes_the_preflight_and_then_meets_the_unreachable_host(tmp_path):
    inv = make_inventory(tmp_path, DOWN)
    rc, out = run(SITE, inv)
    assert rc != 0, out
    assert "UNREACHABLE" in out, out
    assert out.index("Refuse what the inventory alone can refuse") < out.index("UNREACHABLE")


def test_a_backend_the_roles_do_not_build_is_refused_before_any_contact(tmp_path):
    """The backend role's backend_roles is the one list of the backends built on hosts: a backend the
    planner knows but no role builds (here udp, with backend_roles cut down to vxlan) stops site.yml."""
    inv = make_inventory(tmp_path, DOWN, group_vars={"fabric_backend": "udp"})
    rc, out = run(SITE, inv, "-e", '{"backend_roles": ["vxlan"]}')
    assert rc != 0, out
    assert ("fabric_backend=udp: the planner knows it (playbooks/plan.yml works) but this release builds only "
            "the backend roles vxlan on hosts; nothing was changed.") in " ".join(out.split()), out
    for contact in ("UNREACHABLE", "Gathering Facts", "Connection refused"):
        assert contact not in out, out
    # with every role, the same inventory passes that check and meets the unreachable hosts
    rc, out = run(SITE, inv)
    assert rc != 0 and "UNREACHABLE" in out and "builds only" not in out, out
