"""Changes to a running mesh: a hand edit of bird.conf shown by site.yml's check mode and undone by the
bgp role with a reconfigure (same BIRD process, sessions stay up); a configuration BIRD rejects never reaches the
live file; TCP MD5: a wrong password on one node keeps its sessions down, the right one brings them
back. The password never appears in Ansible's output."""

from __future__ import annotations

import json

from bgp_lab import CONFIG, SCENARIO, SECRETS, converge, playbook, wait_sessions
from fabric_lab import changed_results, diff_lines, node

PASSWORD = "lab-md5-Secret"  # molecule.yml
TEMPLATE_TASK = "Write bird.conf, checked by BIRD before it replaces the live file"
# The bgp role alone with the written plan (faster than site.yml for what concerns BIRD alone).
BIRD_PLAYBOOK = SCENARIO / "bird.yml"


def bird_pid(host) -> str:
    return host.check_output("systemctl show -p MainPID --value bird")


def test_check_mode_shows_the_bird_conf_diff_and_converge_reconfigures_without_restart(plan):
    name = sorted(plan["hosts"])[0]
    host = node(name)
    host.check_output(f"echo '# edited by hand' >> {CONFIG}")
    before = host.check_output(f"sha256sum {CONFIG}")
    # site.yml over the whole fabric, as a user checks it (not --limit: a plan without the other
    # hosts' facts would differ from the written one).
    proc = converge("--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert PASSWORD not in proc.stdout + proc.stderr
    # Task names as site.yml's includes report them ("crosshost.fabric.bgp : <name>").
    changed = [(h, t.split(" : ")[-1], r) for h, t, r in changed_results(json.loads(proc.stdout))]
    assert [(h, t) for h, t, _r in changed] == [(name, TEMPLATE_TASK)], changed
    assert diff_lines(changed[0][2]) == ["-# edited by hand"]
    assert host.check_output(f"sha256sum {CONFIG}") == before  # check mode changed nothing
    pid = bird_pid(host)
    proc = playbook(BIRD_PLAYBOOK, extra_vars={"bgp_hosts": name})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "# edited by hand" not in host.check_output(f"cat {CONFIG}")
    assert bird_pid(host) == pid, "BIRD was restarted, not reconfigured"
    states = wait_sessions(host, want_established=True)
    assert all("Established" in line for line in states.values()), states
    stat = host.check_output(f"stat -c '%a %U %G' {CONFIG} {SECRETS}").splitlines()
    assert stat == ["640 root bird", "640 root bird"]


def test_a_configuration_bird_rejects_never_reaches_the_live_file(plan):
    name = sorted(plan["hosts"])[1]
    host = node(name)
    before, pid = host.check_output(f"sha256sum {CONFIG}"), bird_pid(host)
    proc = playbook(SCENARIO / "reject.yml", "-e", f"bgp_reject_host={name}")
    assert proc.returncode != 0
    assert "failed to validate" in proc.stdout, proc.stdout[-3000:]
    assert host.check_output(f"sha256sum {CONFIG}") == before
    assert bird_pid(host) == pid
    states = wait_sessions(host, want_established=True, timeout=10)
    assert all("Established" in line for line in states.values()), states


def test_md5_sessions_stay_down_with_a_wrong_password_and_come_back_with_the_right_one(plan):
    names = sorted(plan["hosts"])
    victim, other, third = names[2], names[0], names[1]
    proc = playbook(BIRD_PLAYBOOK, extra_vars={"bgp_hosts": victim, "fabric_bgp_password": "not-the-lab-password"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "not-the-lab-password" not in proc.stdout + proc.stderr
    down = wait_sessions(node(victim), want_established=False, timeout=30)
    assert down and not any("Established" in line for line in down.values()), down
    # The others lose their session to the victim, and keep theirs to each other.
    other_states = node(other).check_output("birdc show protocols")
    to_victim = [line for line in other_states.splitlines() if line.startswith("fabric_" + victim.replace("-", "_"))]
    to_third = [line for line in other_states.splitlines() if line.startswith("fabric_" + third.replace("-", "_"))]
    assert to_victim and "Established" not in to_victim[0], other_states
    assert to_third and "Established" in to_third[0], other_states
    proc = playbook(BIRD_PLAYBOOK, extra_vars={"bgp_hosts": victim})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    up = wait_sessions(node(victim), want_established=True, timeout=90)
    assert up and all("Established" in line for line in up.values()), up
