"""The forward role's engine step through the real ansible-playbook against localhost
(issue 14): it reads the Docker engine's version (none is fine) and refuses Docker's nftables
firewall backend, naming the host and the setting, before anything changes.

Only the role's ``engine`` tasks run (``tasks_from``): they read, never write. The
daemon.json they read is a file in the test's temporary folder.
"""

import json
import re
import subprocess

from ansible_cli import run_local_play



def run(tmp_path, daemon_json=None):
    config = tmp_path / "daemon.json"
    if daemon_json is not None:
        config.write_text(json.dumps(daemon_json))
    elif config.exists():
        config.unlink()
    return run_local_play(
        tmp_path, "engine step only", {"forward_docker_config_file": str(config)},
        [{"name": "The role's engine step",
          "ansible.builtin.include_role": {"name": "crosshost.fabric.forward", "tasks_from": "engine"}},
         {"name": "Show", "ansible.builtin.debug": {"msg": "ENGINE={{ forward_docker_engine | to_json }}"}}],
        extra_env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_CALLBACK_FORMAT_PRETTY": "false"},
    )


def engine(out):
    match = re.search(r'ENGINE=(\{.*?\})"', out)
    assert match, out
    return json.loads(match.group(1).replace('\\"', '"'))


def test_nftables_backend_is_refused_naming_host_and_setting(tmp_path):
    rc, out = run(tmp_path, {"firewall-backend": "nftables", "log-level": "warn"})
    assert rc != 0, out
    assert "host localhost" in out and '"firewall-backend": "nftables"' in out, out
    assert "nothing was changed" in out
    assert "changed=0" in out


def test_iptables_backend_passes_and_the_version_is_read(tmp_path):
    rc, out = run(tmp_path, {"firewall-backend": "iptables"})
    assert rc == 0, out
    found = engine(out)
    assert found["firewall_backend"] == "iptables"
    server = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True, check=False)
    expected = server.stdout.strip() if server.returncode == 0 else ""
    if expected:
        assert found["version"] == expected
    # no daemon.json at all is fine too
    rc, out = run(tmp_path)
    assert rc == 0, out
    assert engine(out)["configured_backend"] == ""
