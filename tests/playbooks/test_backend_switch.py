"""The backend role's switch detection through the real ansible-playbook, on this machine (connection
local), with the backends' boot scripts under a temporary folder: roles/backend/tasks/preflight.yml as
shipped (after the role's one read of the host, tasks_from=read, or without it), and the forward rules
its transition plan gives (crosshost.fabric.firewall_state). Nothing outside the temporary folder is
written; the read only reads."""

import json
import sys

import pytest
import yaml
from test_plan_playbook import run

from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, Settings

PLAYBOOK = """
- name: The backend role's switch detection on this machine
  hosts: n1
  gather_facts: false
  tasks:
    - name: Read the host once, as site.yml does
      ansible.builtin.include_role:
        name: crosshost.fabric.backend
        tasks_from: read
      when: with_read | bool
    - name: Check the planned backend and look for another one
      ansible.builtin.include_role:
        name: crosshost.fabric.backend
        tasks_from: preflight
    - name: Write what the transition's forward rules are
      ansible.builtin.copy:
        dest: "{{ result_file }}"
        mode: "0644"
        content: >-
          {{ {'switch_from': backend_switch_from, 'vteps': backend_vtep_scripts | default([]),
              'transition': backend_transition | bool,
              'chains': (backend_transition_plan | crosshost.fabric.firewall_state(inventory_hostname)).chains}
             | to_json }}
"""


def host(name, ip):
    return HostInput(name=name, public_ip=ip, iface="eth0", public_net="192.0.2.0/24")


HOSTS = [host("n1", "192.0.2.11"), host("n2", "192.0.2.12")]


def switch(tmp_path, planned, old, old_settings, with_read):
    """Run the shipped preflight on this machine, where backend ``old`` (role name) left its boot
    script under tmp_path (udp's: its daemon's peer file for ``old_settings``); return what it found
    and the transition's chains by name."""
    boot = {role: str(tmp_path / "boot" / role) for role in ("vxlan", "hostgw", "bgp", "udp")}
    (tmp_path / "boot").mkdir()
    old_plan, _ = planner.build_plan(old_settings, HOSTS)
    content = (json.dumps(planner.udp_state(old_plan, "n1"), indent=4, sort_keys=True) + "\n"
               if old == "udp" else "#!/bin/sh\n")
    (tmp_path / "boot" / old).write_text(content)
    plan, _ = planner.build_plan(Settings(backend=planned), HOSTS)
    result = run_preflight(tmp_path, {"fabric_plan": plan, "backend_boot_scripts": boot, "with_read": with_read})
    assert result["transition"] is bool(result["switch_from"])
    return result["switch_from"], {c["chain"]: c["rules"] for c in result["chains"]}


def run_preflight(tmp_path, extra):
    """Run PLAYBOOK (the shipped preflight) on this machine with the extra vars ``extra``; return what it
    wrote to its result file."""
    extra = dict(extra, result_file=str(tmp_path / "result.json"))
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    inv = {"all": {"hosts": {"n1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inv))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    rc, out = run(str(tmp_path / "play.yml"), str(tmp_path / "hosts.yml"), "-e", "@" + str(tmp_path / "extra.json"))
    assert rc == 0, out
    return json.loads((tmp_path / "result.json").read_text())


@pytest.mark.parametrize("planned, with_read", [("vxlan", True), ("host-gw", False)])
def test_leaving_udp_on_a_custom_port_opens_that_port_during_the_transition(tmp_path, planned, with_read):
    """The hosts still on udp send to the port their daemons run with (fabric_udp_port of the old
    fabric, 9999 here), which the new plan does not know: the transition opens that port to the peers,
    not udp's default 8285."""
    found, chains = switch(tmp_path, planned, "udp", Settings(backend="udp", udp_port=9999), with_read)
    assert found == ["udp"]
    assert "-s 192.0.2.12/32 -p udp -m udp --dport 9999 -j ACCEPT" in chains["FABRIC-INPUT"]
    assert "-p udp -m udp --dport 9999 -j DROP" in chains["FABRIC-INPUT"]
    assert not any("8285" in rule for rule in chains["FABRIC-INPUT"])
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel0 -j ACCEPT" in chains["FABRIC-FORWARD"]


def test_a_switch_between_other_backends_opens_nothing_of_udp(tmp_path):
    found, chains = switch(tmp_path, "host-gw", "vxlan", Settings(backend="vxlan"), True)
    assert found == ["vxlan"]
    assert not any("flannel0" in r or "8285" in r for rules in chains.values() for r in rules)
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT" in chains["FABRIC-FORWARD"]
    assert "-s 10.244.2.0/24 -d 10.244.1.0/24 -i eth0 -j ACCEPT" in chains["FABRIC-FORWARD"]


def test_no_switch_when_only_the_planned_backend_runs(tmp_path):
    found, chains = switch(tmp_path, "vxlan", "vxlan", Settings(backend="vxlan"), True)
    assert found == []
    assert not any("flannel0" in r or "8285" in r for rules in chains.values() for r in rules)


@pytest.mark.parametrize("with_read", [True, False])
def test_a_vtep_of_another_vni_is_found_as_the_vxlan_backend(tmp_path, with_read):
    """Issue 11: the host runs vxlan with VNI 2 (boot script flannel.2.sh, as fabric_vxlan names it) and the
    inventory now says host-gw and VNI 3. The switch from vxlan is found all the same (before: only the
    planned VNI's script was looked for, so nothing was found and the old VTEP stayed), with the read and
    without it, and the VTEP scripts are kept for the removal pass; another file of that folder is not one.
    The transition's forward rules accept the old tunnel, flannel.2."""
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "flannel.2.sh").write_text("#!/bin/sh\n")
    (boot / "flannel.2.sh.bak").write_text("#!/bin/sh\n")
    plan, _ = planner.build_plan(Settings(backend="host-gw", vxlan_vni=3), HOSTS)
    result = run_preflight(tmp_path, {
        "fabric_plan": plan, "with_read": with_read,
        "backend_boot_scripts": {role: str(boot / role) for role in ("vxlan", "hostgw", "bgp", "udp")},
        "backend_vtep_scripts_glob": str(boot / "flannel.*.sh")})
    assert result["switch_from"] == ["vxlan"]
    assert planner.vxlan_stale_devices(result["vteps"], plan) == ["flannel.2"]
    # While the peers still send through the old tunnel, its traffic arrives on flannel.2, not flannel.3.
    forward = next(c["rules"] for c in result["chains"] if c["chain"] == "FABRIC-FORWARD")
    assert "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.2 -j ACCEPT" in forward
    assert not any("flannel.3" in rule for rule in forward)


@pytest.mark.parametrize("with_read", [True, False])
def test_a_change_of_vni_on_vxlan_is_a_transition_accepting_both_vteps(tmp_path, with_read):
    """The host runs vxlan with VNI 1 (flannel.1.sh), the inventory says vxlan and VNI 2: no other backend,
    but a transition all the same (site.yml applies its rules before any route moves), whose forward rules
    accept the new VTEP flannel.2 and the old flannel.1, and nothing of direct routing (bug: no transition
    for a VNI change, so a new connection arriving on flannel.2 was dropped until the forward role ran)."""
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "flannel.1.sh").write_text("#!/bin/sh\n")
    plan, _ = planner.build_plan(Settings(backend="vxlan", vxlan_vni=2), HOSTS)
    extra = {"fabric_plan": plan, "with_read": with_read,
             "backend_boot_scripts": {role: str(boot / role) for role in ("vxlan", "hostgw", "bgp", "udp")},
             "backend_vtep_scripts_glob": str(boot / "flannel.*.sh")}
    result = run_preflight(tmp_path, extra)
    assert (result["switch_from"], result["transition"]) == ([], True)
    forward = next(c["rules"] for c in result["chains"] if c["chain"] == "FABRIC-FORWARD")
    assert forward[:2] == ["-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.2 -j ACCEPT",
                           "-s 10.244.0.0/16 -d 10.244.1.0/24 -i flannel.1 -j ACCEPT"]
    assert not any("-i eth0" in rule for rule in forward)
    # Once the old VTEP is gone (its script with it): no transition.
    (boot / "flannel.1.sh").unlink()
    (boot / "flannel.2.sh").write_text("#!/bin/sh\n")
    assert run_preflight(tmp_path, extra)["transition"] is False
