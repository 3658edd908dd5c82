"""The forward role's engine step through the real ansible-playbook against localhost
(issue 14): it reads the Docker engine's version (none is fine) and refuses Docker's nftables
firewall backend, naming the host and the setting, before anything changes.

Only the role's ``engine`` tasks run (``tasks_from``): they read, never write. The
daemon.json they read is a file in the test's temporary folder.
"""

import json
import os
import re
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(tmp_path, daemon_json=None):
    config = tmp_path / "daemon.json"
    if daemon_json is not None:
        config.write_text(json.dumps(daemon_json))
    elif config.exists():
        config.unlink()
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "engine step only",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"forward_docker_config_file": str(config), "ansible_python_interpreter": sys.executable},
        "tasks": [
            {"name": "The role's engine step",
             "ansible.builtin.include_role": {"name": "crosshost.fabric.forward", "tasks_from": "engine"}},
            {"name": "Show", "ansible.builtin.debug": {"msg": "ENGINE={{ forward_docker_engine | to_json }}"}},
        ],
    }]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_CALLBACK_FORMAT_PRETTY="false")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(playbook)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


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
