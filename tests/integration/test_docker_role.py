"""The docker role's daemon.json step through the real ansible-playbook, on a file in a
temporary folder (issue 6, item 11): the user's file keeps its owner and mode (a 0600 file
holding proxy credentials must not become world-readable), a new file is created 0600, and
the user's keys are kept.

Only the role's ``daemon_json`` tasks run (``tasks_from``), against localhost with
``docker_config_file`` pointing into the test's folder; the play ends before handlers run
and ``docker_service`` names no unit, so this machine's Docker is never restarted.
"""

import json
import os

import pytest
from ansible_cli import run_local_play


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: chown to another user")

PLAN = {
    "network": "10.244.0.0/16",
    "subnet_len": 24,
    "ip_masq": True,
    "backend": "vxlan",
    "hosts": {"localhost": {"subnet": "10.244.7.0/24", "gateway": "10.244.7.1", "mtu": 1450}},
}
SECRET = {"proxies": {"http-proxy": "http://user:s3cret@proxy.example:3128"}, "log-level": "warn"}


def converge(tmp_path, config):
    rc, out = run_local_play(
        tmp_path, "daemon.json only",
        {"fabric_plan": PLAN, "docker_config_file": str(config), "docker_service": "crosshost-test-no-such-unit"},
        [{"name": "The role's daemon.json step",
          "ansible.builtin.include_role": {"name": "crosshost.fabric.docker", "tasks_from": "daemon_json"}},
         {"name": "End before handlers", "ansible.builtin.meta": "end_play"}],
    )
    assert rc == 0, out
    assert "RUNNING HANDLER" not in out, out
    return out


def merged(config):
    data = json.loads(config.read_text())
    assert data["bip"] == "10.244.7.1/24" and data["mtu"] == 1450 and data["ip-masq"] is False
    return data


@pytest.mark.parametrize("mode,uid,gid", [(0o600, 0, 0), (0o640, 0, 4242), (0o600, 4242, 4243)])
def test_existing_file_keeps_owner_and_mode(tmp_path, mode, uid, gid):
    config = tmp_path / "daemon.json"
    config.write_text(json.dumps(SECRET))
    os.chown(config, uid, gid)
    os.chmod(config, mode)
    out = converge(tmp_path, config)
    assert "changed=2" in out, out  # daemon.json, and the record of the user's values (issue 11, reset)
    record = tmp_path / "daemon.json.crosshost-fabric-undo.json"
    assert oct(record.stat().st_mode & 0o7777) == oct(0o600)
    assert json.loads(record.read_text())["keys"] == {k: {"present": False} for k in ("bip", "mtu", "ip-masq")}
    st = config.stat()
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == (oct(mode), uid, gid)
    data = merged(config)
    assert data["proxies"] == SECRET["proxies"] and data["log-level"] == "warn"
    # a second run changes nothing, mode included
    assert "changed=0" in converge(tmp_path, config)
    st = config.stat()
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == (oct(mode), uid, gid)


def test_new_file_is_created_0600(tmp_path):
    config = tmp_path / "daemon.json"
    converge(tmp_path, config)
    st = config.stat()
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == (oct(0o600), 0, 0)
    merged(config)
