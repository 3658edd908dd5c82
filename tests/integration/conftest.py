"""Network-namespace fixtures for the integration tests (real kernel, no mocks).

Every namespace made here is named ``cfvx-<pid>-<n>-<role>`` and deleted when the
test ends, passed or failed (and, as a last resort, at interpreter exit).
Namespaces get no default route: traffic to anything that is not a lab address
ends in "Network is unreachable", never on the machine's uplink.
"""

import atexit
import itertools
import json
import os
import pathlib
import subprocess
import sys

import ansible_cli
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MODULE = "ansible_collections.crosshost.fabric.plugins.modules.fabric_vxlan"
PREFIX = "cfvx-%d-" % os.getpid()
_COUNTER = itertools.count(1)
_LIVE = set()


def _netns_del(name):
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    _LIVE.discard(name)


@atexit.register
def _cleanup_all():
    for name in list(_LIVE):
        _netns_del(name)


def sh(*argv, check=True, data=None):
    proc = subprocess.run(argv, capture_output=True, text=True, input=data, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(
            "command failed (%d): %s\nstdout: %s\nstderr: %s"
            % (proc.returncode, " ".join(argv), proc.stdout, proc.stderr)
        )
    return proc


@pytest.fixture(autouse=True)
def _need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: creates network namespaces, veth, bridge and vxlan devices")


@pytest.fixture(scope="session")
def collections_root(tmp_path_factory):
    """A collections tree holding this checkout as crosshost.fabric."""
    root = tmp_path_factory.mktemp("collections")
    ns_dir = root / "ansible_collections" / "crosshost"
    ns_dir.mkdir(parents=True)
    (ns_dir / "fabric").symlink_to(REPO, target_is_directory=True)
    return root


class Lab:
    """A set of network namespaces; ``ex`` runs a command inside one."""

    def __init__(self, collections_root, tmp_path):
        self.tag = "%s%d-" % (PREFIX, next(_COUNTER))
        self.names = []
        self.collections_root = collections_root
        self.tmp_path = tmp_path

    def netns(self, role):
        name = self.tag + role
        sh("ip", "netns", "add", name)
        _LIVE.add(name)
        self.names.append(name)
        self.ex(name, "ip", "link", "set", "lo", "up")
        return name

    def ex(self, ns, *argv, check=True, data=None):
        return sh("ip", "netns", "exec", ns, *argv, check=check, data=data)

    def json(self, ns, *argv):
        out = self.ex(ns, *argv).stdout
        return json.loads(out) if out.strip() else []

    def veth(self, ns_a, name_a, ns_b, name_b):
        sh("ip", "link", "add", name_a, "netns", ns_a, "type", "veth", "peer", "name", name_b, "netns", ns_b)
        self.ex(ns_a, "ip", "link", "set", name_a, "up")
        self.ex(ns_b, "ip", "link", "set", name_b, "up")

    def sysctl(self, ns, key, value):
        path = "/proc/sys/" + key.replace(".", "/")
        self.ex(ns, "sh", "-c", "echo %s > %s" % (value, path))

    def close(self):
        for name in reversed(self.names):
            _netns_del(name)
        self.names = []

    # -------------------------------------------------------------- module

    def module(self, ns, args, check=False, diff=True, expect_fail=False, module=MODULE, env=None):
        """Run a module (fabric_vxlan unless told) inside ``ns`` the way Ansible does (args file, JSON out).

        ``env``: extra environment (e.g. a PATH that puts a logging shim before ``ip``).
        """
        payload = dict(args)
        payload["_ansible_check_mode"] = check
        payload["_ansible_diff"] = diff
        args_file = self.tmp_path / ("args-%s.json" % next(_COUNTER))
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
        env = dict(os.environ, **(env or {}))
        env["PYTHONPATH"] = str(self.collections_root)
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-m", module, str(args_file)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("module output is not JSON:\n%s\n%s" % (proc.stdout, proc.stderr)) from None
        if expect_fail:
            assert result.get("failed"), result
        else:
            assert not result.get("failed"), result
        return result

    def ansible(self, ns, args, check=False, diff=False):
        """Run the module through the real ``ansible`` CLI (AnsiballZ) inside ``ns``."""
        return ansible_cli.run_module(ns, "crosshost.fabric.fabric_vxlan", args, self.collections_root,
                                      check=check, diff=diff, local_tmp=self.tmp_path / "ansible-tmp")


@pytest.fixture
def lab(collections_root, tmp_path):
    the_lab = Lab(collections_root, tmp_path)
    try:
        yield the_lab
    finally:
        the_lab.close()
