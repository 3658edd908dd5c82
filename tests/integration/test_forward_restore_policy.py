"""The boot script's FORWARD policy (issue 11: a reboot under the fabric left FORWARD ACCEPT).

crosshost-fabric-restore, as crosshost-fabric-forward.service runs it at boot
(``--record RECORD FILE``), on real iptables inside network namespaces of the shared ``lab``
fixture (deleted when the test ends); the machine's own ruleset is never read or changed.
A namespace starts with the kernel's FORWARD policy ACCEPT, as a host whose Docker has not
started yet (Docker sets DROP only when it turns forwarding on itself, and the fabric's sysctl
file has turned it on before Docker starts).
"""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESTORE_SCRIPT = ROOT / "roles" / "forward" / "files" / "crosshost-fabric-restore"
MARK = '-m comment --comment "crosshost.fabric"'
RULES = (
    "# Loaded at boot by crosshost-fabric-restore (iptables-restore --noflush).\n"
    "*filter\n"
    ":FABRIC-FORWARD - [0:0]\n"
    f"-I FORWARD 1 {MARK} -j FABRIC-FORWARD\n"
    "-A FABRIC-FORWARD -s 10.244.0.0/16 -j ACCEPT\n"
    "COMMIT\n"
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: network namespaces and iptables"),
    pytest.mark.skipif(shutil.which("iptables-restore") is None, reason="iptables is not installed"),
]


def policy(lab, ns):
    return lab.ex(ns, "iptables", "-w", "-S", "FORWARD").stdout.splitlines()[0]


def boot(lab, ns, *args):
    return lab.ex(ns, "sh", str(RESTORE_SCRIPT), *args)


@pytest.fixture
def files(tmp_path):
    rules = tmp_path / "iptables.rules"
    rules.write_text(RULES)
    return rules, tmp_path / "forward-before.conf"


def record(path, ip_forward, forward_policy):
    path.write_text(
        "# crosshost.fabric: the host's IPv4 forwarding before the fabric first changed it.\n"
        f"ip_forward={ip_forward}\nforward_policy={forward_policy}\n"
    )


def test_a_drop_found_before_the_fabric_is_set_again_at_boot(lab, files):
    rules, rec = files
    record(rec, 1, "DROP")
    ns = lab.netns("drop")
    assert policy(lab, ns) == "-P FORWARD ACCEPT"
    for _ in range(2):  # idempotent
        boot(lab, ns, "--record", str(rec), str(rules))
        assert policy(lab, ns) == "-P FORWARD DROP"
        assert f"-A FORWARD {MARK} -j FABRIC-FORWARD" in lab.ex(ns, "iptables", "-w", "-S", "FORWARD").stdout
    # without the rules file (removed by hand) the policy is still given back
    other = lab.netns("norules")
    boot(lab, other, "--record", str(rec), str(rules) + ".missing")
    assert policy(lab, other) == "-P FORWARD DROP"


def test_an_accept_found_before_the_fabric_is_left_alone(lab, files):
    rules, rec = files
    record(rec, 1, "ACCEPT")
    ns = lab.netns("accept")
    boot(lab, ns, "--record", str(rec), str(rules))
    assert policy(lab, ns) == "-P FORWARD ACCEPT"


def test_no_record_changes_no_policy(lab, files):
    rules, rec = files
    ns = lab.netns("norecord")
    boot(lab, ns, "--record", str(rec), str(rules))  # the record does not exist
    assert policy(lab, ns) == "-P FORWARD ACCEPT"
    boot(lab, ns, str(rules))  # the old unit's command line (a fabric of an older release)
    assert policy(lab, ns) == "-P FORWARD ACCEPT"
    assert f"-A FORWARD {MARK} -j FABRIC-FORWARD" in lab.ex(ns, "iptables", "-w", "-S", "FORWARD").stdout
