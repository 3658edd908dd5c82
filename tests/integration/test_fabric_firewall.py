"""crosshost.fabric.fabric_firewall against real iptables, inside network namespaces.

Namespaces come from the shared ``lab`` fixture (tests/integration/conftest.py), which
deletes them when a test ends, passed or failed; the machine's own ruleset is never
read or changed, and test traffic only flows between those namespaces. The module runs
through the real ``ansible`` CLI (AnsiballZ), in check and diff mode where asked.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import ansible_cli
import pytest

ROOT = Path(__file__).resolve().parents[2]
RESTORE_SCRIPT = ROOT / "roles" / "forward" / "files" / "crosshost-fabric-restore"
ANSIBLE = shutil.which("ansible", path=str(Path(sys.executable).parent)) or shutil.which("ansible")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: network namespaces and iptables"),
    pytest.mark.skipif(ANSIBLE is None, reason="ansible is not installed"),
    pytest.mark.skipif(shutil.which("iptables-restore") is None, reason="iptables is not installed"),
]

N = "10.244.0.0/16"
S = "10.244.1.0/24"
MARK = '-m comment --comment "crosshost.fabric"'


def flannel_chains(forward=None):
    """Flannel's rules for network N and host subnet S, in the module's format."""
    return [
        {
            "table": "nat",
            "chain": "FABRIC-POSTROUTING",
            "hook": "POSTROUTING",
            "rules": [
                f"-s {N} -d {N} -j RETURN",
                f"-s {N} ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
                f"! -s {N} -d {S} -j RETURN",
                f"! -s {N} -d {N} -j MASQUERADE --random-fully",
            ],
        },
        {
            "table": "filter",
            "chain": "FABRIC-FORWARD",
            "hook": "FORWARD",
            "rules": forward if forward is not None else [f"-s {N} -j ACCEPT", f"-d {N} -j ACCEPT"],
        },
    ]


EXPECTED_OWNED = [
    "*filter",
    ":FABRIC-FORWARD",
    f"-A FORWARD {MARK} -j FABRIC-FORWARD",
    f"-A FABRIC-FORWARD -s {N} -j ACCEPT",
    f"-A FABRIC-FORWARD -d {N} -j ACCEPT",
    "*nat",
    ":FABRIC-POSTROUTING",
    f"-A POSTROUTING {MARK} -j FABRIC-POSTROUTING",
    f"-A FABRIC-POSTROUTING -s {N} -d {N} -j RETURN",
    f"-A FABRIC-POSTROUTING -s {N} ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
    f"-A FABRIC-POSTROUTING ! -s {N} -d {S} -j RETURN",
    f"-A FABRIC-POSTROUTING ! -s {N} -d {N} -j MASQUERADE --random-fully",
]


# --------------------------------------------------------------------------- helpers


def sh(ns, command, check=True):
    """Run a shell command inside namespace ``ns``."""
    return subprocess.run(
        ["ip", "netns", "exec", ns, "sh", "-c", command],
        check=check, capture_output=True, text=True,
    )


def save(ns):
    """iptables-save of ``ns`` without comments and packet counters."""
    lines = []
    for line in sh(ns, "iptables-save").stdout.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(":"):
            line = line.split(" [")[0]
        lines.append(line)
    return lines


def owned(lines):
    """Table headers plus our chains, their rules and our jumps from save() output."""
    out = []
    for line in lines:
        if line.startswith("*") or "FABRIC-" in line:
            out.append(line.split()[0] if line.startswith(":") else line)
    # drop headers of tables holding nothing of ours
    return [line for i, line in enumerate(out)
            if not line.startswith("*") or (i + 1 < len(out) and not out[i + 1].startswith("*"))]


def foreign(lines):
    return [line for line in lines if "FABRIC-" not in line]


def run_module(ns, collections_root, args, check=False, diff=False, prefix=()):
    """Run the module through the ansible CLI inside ``ns``; its result dict."""
    return ansible_cli.run_module(ns, "crosshost.fabric.fabric_firewall", args, collections_root,
                                  check=check, diff=diff, prefix=prefix)


@pytest.fixture
def fw(lab, collections_root, tmp_path):
    """A namespace with some foreign rules, and a function applying the module in it."""
    ns = lab.netns("fw")
    sh(ns, "iptables -N FOREIGN && iptables -A FOREIGN -s 192.0.2.0/24 -j RETURN"
           " && iptables -A FORWARD -i lo -j FOREIGN"
           " && iptables -t nat -N FOREIGN-NAT"
           " && iptables -t nat -A POSTROUTING -o lo -j FOREIGN-NAT"
           " && iptables -t nat -A FOREIGN-NAT -d 198.51.100.0/24 -j RETURN")
    persist = tmp_path / "etc" / "iptables.rules"

    def apply(chains=None, check=False, diff=False, expect_failure=False, **extra):
        args = {"chains": flannel_chains() if chains is None else chains,
                "persist_file": str(persist)}
        args.update(extra)
        result = run_module(ns, collections_root, args, check=check, diff=diff)
        assert bool(result.get("failed")) is expect_failure, result
        return result

    apply.ns = ns
    apply.persist = persist
    return apply


# --------------------------------------------------------------------------- tests


def test_first_apply_creates_then_second_is_noop(fw):
    foreign_before = foreign(save(fw.ns))
    first = fw()
    assert first["changed"] is True
    assert first["canonicalised"] is True
    assert first["persist_changed"] is True
    assert first["removed"] == []
    assert len(first["added"]) == 10  # 2 chains, 6 rules, 2 jumps
    assert owned(save(fw.ns)) == EXPECTED_OWNED
    assert foreign(save(fw.ns)) == foreign_before
    # the jump is inserted at the top of FORWARD
    assert sh(fw.ns, "iptables -S FORWARD").stdout.splitlines()[1] == f"-A FORWARD {MARK} -j FABRIC-FORWARD"

    second = fw()
    assert second["changed"] is False
    assert second["batch"] == ""
    assert second["added"] == second["removed"] == []
    assert second["diff"]["before"] == second["diff"]["after"]


def test_check_mode_changes_nothing_and_reports_diff(fw):
    before = save(fw.ns)
    result = fw(check=True, diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == ""
    assert f"-t filter -A FABRIC-FORWARD -s {N} -j ACCEPT" in result["diff"]["after"].splitlines()
    assert f"-t nat -A POSTROUTING {MARK} -j FABRIC-POSTROUTING" in result["diff"]["after"].splitlines()
    assert len(result["added"]) == 10
    assert save(fw.ns) == before
    assert not fw.persist.exists()

    fw()
    applied = save(fw.ns)
    changed_rules = [f"-s {N} -j ACCEPT", "-d 10.245.0.0/16 -j ACCEPT"]
    result = fw(flannel_chains(changed_rules), check=True, diff=True)
    assert result["changed"] is True
    assert result["added"] == ["-t filter -A FABRIC-FORWARD -d 10.245.0.0/16 -j ACCEPT"]
    assert result["removed"] == [f"-t filter -A FABRIC-FORWARD -d {N} -j ACCEPT"]
    assert save(fw.ns) == applied
    assert "10.245.0.0/16" not in fw.persist.read_text()


def test_changed_rule_set_applies_exactly_the_difference(fw):
    fw()
    foreign_before = foreign(save(fw.ns))
    # one rule replaced, one added in a form iptables prints differently
    # (/32 suffix, implicit -m tcp, quoted comment): canonicalisation must see through it
    rules = [f"-s {N} -j ACCEPT", "-d 10.245.0.0/16 -j ACCEPT",
             "-s 10.244.1.5 -p tcp --dport 80 -m comment --comment web -j ACCEPT"]
    result = fw(flannel_chains(rules))
    assert result["changed"] is True
    assert result["removed"] == [f"-t filter -A FABRIC-FORWARD -d {N} -j ACCEPT"]
    assert result["added"] == [
        "-t filter -A FABRIC-FORWARD -d 10.245.0.0/16 -j ACCEPT",
        '-t filter -A FABRIC-FORWARD -s 10.244.1.5/32 -p tcp -m tcp --dport 80'
        ' -m comment --comment web -j ACCEPT',
    ]
    assert "*nat" not in result["batch"]  # the unchanged table is not touched
    assert sh(fw.ns, "iptables -S FABRIC-FORWARD").stdout.splitlines()[1:] == [
        f"-A FABRIC-FORWARD -s {N} -j ACCEPT",
        "-A FABRIC-FORWARD -d 10.245.0.0/16 -j ACCEPT",
        "-A FABRIC-FORWARD -s 10.244.1.5/32 -p tcp -m tcp --dport 80 -m comment --comment web -j ACCEPT",
    ]
    assert foreign(save(fw.ns)) == foreign_before
    again = fw(flannel_chains(rules))
    assert again["changed"] is False, again["batch"]

    # reordering is a change too
    reordered = fw(flannel_chains(list(reversed(rules))))
    assert reordered["changed"] is True
    assert fw(flannel_chains(list(reversed(rules))))["changed"] is False


def test_foreign_rules_and_chains_survive(fw):
    sh(fw.ns, "iptables -t mangle -N FOREIGN-M && iptables -t mangle -A FORWARD -j FOREIGN-M")
    foreign_before = foreign(save(fw.ns))
    assert any(line.startswith(":FOREIGN") for line in foreign_before)
    fw()
    assert foreign(save(fw.ns)) == foreign_before
    fw(flannel_chains([f"-s {N} -j ACCEPT"]))
    assert foreign(save(fw.ns)) == foreign_before
    fw(state="absent")
    assert foreign(save(fw.ns)) == foreign_before


def test_docker_style_insert_keeps_noop(fw):
    fw()
    # what Docker does on (re)start: its own chain, jumped to from the top of FORWARD
    sh(fw.ns, "iptables -N DOCKER-USER && iptables -A DOCKER-USER -j RETURN"
              " && iptables -I FORWARD 1 -j DOCKER-USER && iptables -P FORWARD DROP"
              " && iptables -t nat -I POSTROUTING 1 -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")
    result = fw()
    assert result["changed"] is False, result["batch"]
    lines = sh(fw.ns, "iptables -S FORWARD").stdout.splitlines()
    assert lines[1] == "-A FORWARD -j DOCKER-USER"
    assert lines.count(f"-A FORWARD {MARK} -j FABRIC-FORWARD") == 1


def test_duplicate_and_shadowed_jumps_are_repaired(fw):
    fw()
    jump = f"{MARK} -j FABRIC-FORWARD".replace('"', "")
    sh(fw.ns, f"iptables -A FORWARD {jump}")
    result = fw()
    assert result["changed"] is True, result
    assert sh(fw.ns, "iptables -S FORWARD").stdout.count("-j FABRIC-FORWARD") == 1
    assert fw()["changed"] is False

    # an unconditional DROP above our jump makes it dead: it is moved back to the top
    sh(fw.ns, "iptables -I FORWARD 1 -j DROP")
    result = fw()
    assert result["changed"] is True
    assert any("unreachable" in line for line in result["removed"])
    lines = sh(fw.ns, "iptables -S FORWARD").stdout.splitlines()
    assert lines[1] == f"-A FORWARD {MARK} -j FABRIC-FORWARD"
    assert lines[2] == "-A FORWARD -j DROP"
    assert fw()["changed"] is False


def test_position_last_goes_before_a_final_reject(fw):
    sh(fw.ns, "iptables -A FORWARD -j REJECT")
    chains = flannel_chains()
    chains[1]["position"] = "last"
    fw(chains)
    lines = sh(fw.ns, "iptables -S FORWARD").stdout.splitlines()
    assert lines[-2:] == [f"-A FORWARD {MARK} -j FABRIC-FORWARD",
                          "-A FORWARD -j REJECT --reject-with icmp-port-unreachable"]
    assert fw(chains)["changed"] is False


def test_purge_removes_chains_no_longer_planned(fw):
    extra = {"table": "mangle", "chain": "FABRIC-EXTRA", "hook": "FORWARD",
             "rules": ["-p udp --dport 8472 -j ACCEPT"]}
    fw(flannel_chains() + [extra])
    assert ":FABRIC-EXTRA" in owned(save(fw.ns))
    result = fw()
    assert result["changed"] is True
    assert "-t mangle -N FABRIC-EXTRA" in result["removed"]
    assert owned(save(fw.ns)) == EXPECTED_OWNED
    # purge=false leaves an owned chain that is not listed alone
    fw(flannel_chains() + [extra])
    assert fw(purge=False)["batch"] == ""
    assert ":FABRIC-EXTRA" in owned(save(fw.ns))


def test_absent_removes_only_ours(fw):
    foreign_before = foreign(save(fw.ns))
    fw()
    assert fw.persist.exists()
    result = fw(state="absent")
    assert result["changed"] is True
    assert result["persist_changed"] is True
    assert owned(save(fw.ns)) == []
    assert foreign(save(fw.ns)) == foreign_before
    assert not fw.persist.exists()
    assert fw(state="absent")["changed"] is False

    # without a chain list, everything carrying our jump comment goes
    fw()
    result = fw([], state="absent")
    assert result["changed"] is True
    assert owned(save(fw.ns)) == []
    assert foreign(save(fw.ns)) == foreign_before


def test_persisted_file_restores_the_same_state(fw, lab, collections_root):
    # the boot unit runs crosshost-fabric-restore on the file; run it the same way,
    # twice, in a fresh namespace that already has rules of its own
    fw()
    text = fw.persist.read_text()
    fresh = lab.netns("boot")
    sh(fresh, "iptables -N DOCKER-USER && iptables -I FORWARD 1 -j DOCKER-USER"
              " && iptables -t nat -A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE")
    foreign_before = foreign(save(fresh))
    for _ in range(2):
        out = sh(fresh, f"sh {RESTORE_SCRIPT} {fw.persist}", check=False)
        assert out.returncode == 0, out.stderr
        assert owned(save(fresh)) == owned(save(fw.ns)) == EXPECTED_OWNED
        assert foreign(save(fresh)) == foreign_before
    # the module agrees: nothing left to do after the boot-time restore
    again = run_module(fresh, collections_root,
                       {"chains": flannel_chains(), "persist_file": str(fw.persist)})
    assert again["changed"] is False, again
    # loading it with plain iptables-restore --noflush onto an empty ruleset works too
    plain = lab.netns("plain")
    lab.ex(plain, "iptables-restore", "--noflush", data=text)
    assert owned(save(plain)) == EXPECTED_OWNED
    # a missing file is not an error at boot
    assert sh(fresh, f"sh {RESTORE_SCRIPT} {fw.persist}.missing").returncode == 0


def test_fallback_without_scratch_namespace(lab, collections_root):
    """Without CAP_SYS_ADMIN (e.g. a container with NET_ADMIN only) the module compares
    after loading: a rule iptables prints differently is reloaded but not reported."""
    ns = lab.netns("nocap")
    rules = [f"-s {N} -j ACCEPT", "-s 10.244.1.5 -p tcp --dport 80 -j ACCEPT"]
    args = {"chains": flannel_chains(rules), "persist": False}
    drop = ("setpriv", "--bounding-set", "-sys_admin", "--")
    first = run_module(ns, collections_root, args, prefix=drop)
    assert first["changed"] is True and first["canonicalised"] is False, first
    assert any("comparing after loading" in w for w in first["warnings"])
    second = run_module(ns, collections_root, args, prefix=drop)
    assert second.get("batch"), second
    assert second["changed"] is False
    # the canonicalising path agrees that nothing is left to do
    assert run_module(ns, collections_root, args)["changed"] is False


def test_invalid_rule_fails_cleanly(fw):
    before = save(fw.ns)
    result = fw(flannel_chains([f"-s {N} -j NO-SUCH-TARGET"]), expect_failure=True)
    assert result["failed"] is True
    assert "do not load" in result["msg"]
    assert save(fw.ns) == before
    assert not fw.persist.exists()


# --------------------------------------------------------------------------- traffic


@pytest.fixture
def servers():
    """Background processes started by a test; killed at its end."""
    procs = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def link(lab, ns_a, dev_a, addr_a, ns_b, dev_b, addr_b):
    lab.veth(ns_a, dev_a, ns_b, dev_b)
    lab.ex(ns_a, "ip", "addr", "add", addr_a, "dev", dev_a)
    lab.ex(ns_b, "ip", "addr", "add", addr_b, "dev", dev_b)


SERVER = """
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], 8080))
srv.listen(8)
print("ready", flush=True)
while True:
    conn, peer = srv.accept()
    conn.sendall((peer[0] + "\\n").encode())
    conn.close()
"""

CLIENT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], 8080), timeout=2) as c:
        print(c.recv(100).decode().strip())
except OSError as exc:
    print("error:", exc)
"""


def serve(servers, ns, addr):
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, addr],
                            stdout=subprocess.PIPE, text=True)
    servers.append(proc)
    assert proc.stdout.readline().strip() == "ready"


def peer_seen(ns, addr):
    """The source address the server at ``addr`` saw for a connection from ``ns``."""
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, addr],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def test_masquerade_and_forwarding_for_real(lab, collections_root, servers):
    """container (10.244.1.2) -> host (rules applied) -> outside (192.168.77.2).

    The outside namespace has no route to 10.244.0.0/16, so an answer proves the
    masquerade; its server reports the peer address it saw. A second container on
    another fabric subnet (10.244.2.2) must see the real container address. The host
    starts with FORWARD policy DROP, as after Docker started.
    """
    host = lab.netns("host")
    container = lab.netns("ctr")
    outside = lab.netns("out")
    peer = lab.netns("peer")
    link(lab, host, "h-ctr", "10.244.1.1/24", container, "eth0", "10.244.1.2/24")
    link(lab, host, "h-out", "192.168.77.1/24", outside, "eth0", "192.168.77.2/24")
    link(lab, host, "h-peer", "10.244.2.1/24", peer, "eth0", "10.244.2.2/24")
    sh(container, "ip route add default via 10.244.1.1")
    sh(peer, "ip route add default via 10.244.2.1")
    sh(host, "sysctl -qw net.ipv4.ip_forward=1 && iptables -P FORWARD DROP")
    serve(servers, outside, "192.168.77.2")
    serve(servers, peer, "10.244.2.2")

    # negative control: Docker's DROP policy and no masquerade yet
    assert peer_seen(container, "192.168.77.2").startswith("error")
    assert peer_seen(container, "10.244.2.2").startswith("error")

    result = run_module(host, collections_root, {"chains": flannel_chains(), "persist": False})
    assert result["changed"] is True, result

    assert peer_seen(container, "192.168.77.2") == "192.168.77.1"
    assert peer_seen(container, "10.244.2.2") == "10.244.1.2"
    assert peer_seen(peer, "192.168.77.2") == "192.168.77.1"
    nat = sh(host, "iptables -t nat -L FABRIC-POSTROUTING -v -x -n").stdout.splitlines()
    packets = {}
    for line in nat[2:]:
        fields = line.split()
        packets[fields[2]] = packets.get(fields[2], 0) + int(fields[0])
    assert packets["MASQUERADE"] > 0
    assert packets["RETURN"] > 0


# --------------------------------------------------------------------------- ownership (issue 6, item 10)


@pytest.mark.parametrize("chain", ["DOCKER-USER", "FOREIGN", "MY-RULES"])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_refuses_chains_it_does_not_own(fw, chain, state):
    """Told to manage a chain without the collection's prefix (FABRIC-), the module refuses
    before touching anything: it never adopts and flushes DOCKER-USER or a user's chain."""
    sh(fw.ns, "iptables -N DOCKER-USER && iptables -A DOCKER-USER -s 192.0.2.9 -j DROP"
              " && iptables -I FORWARD 1 -j DOCKER-USER")
    before = save(fw.ns)
    chains = flannel_chains()
    chains[1]["chain"] = chain
    result = fw(chains, state=state, expect_failure=True)
    assert chain in result["msg"] and "FABRIC-" in result["msg"], result["msg"]
    assert save(fw.ns) == before
    assert not fw.persist.exists()


def test_a_jump_with_our_comment_to_a_foreign_chain_is_not_ours(fw):
    """A jump carrying the module's comment but pointing to a chain without its prefix
    (hand-made, or left by an old release) is neither followed nor removed: the chain it
    points to is the user's."""
    sh(fw.ns, "iptables -N DOCKER-USER && iptables -A DOCKER-USER -s 192.0.2.9 -j DROP"
              " && iptables -I FORWARD 1 -m comment --comment crosshost.fabric -j DOCKER-USER")
    before = foreign(save(fw.ns))
    fw()
    fw([], state="absent")
    assert foreign(save(fw.ns)) == before


# --------------------------------------------------------------------------- DOCKER-USER as hook (issue 14)


def test_jump_from_docker_user_created_if_missing_and_never_flushed(fw, lab, collections_root):
    """FABRIC-FORWARD is jumped to from DOCKER-USER (Docker evaluates it first and never
    flushes it). With create_hook, a missing DOCKER-USER is created empty (before Docker's
    first start); an existing one keeps the user's rules and Docker's final RETURN, our jump
    going above them; absent removes our jump and chain but never DOCKER-USER. The boot
    script does the same on a ruleset without DOCKER-USER."""
    chains = flannel_chains()
    chains[1].update(hook="DOCKER-USER", create_hook=True)
    result = fw(chains)
    assert result["changed"] is True
    assert sh(fw.ns, "iptables -S DOCKER-USER").stdout.splitlines() == [
        "-N DOCKER-USER", f"-A DOCKER-USER {MARK} -j FABRIC-FORWARD"]
    assert fw(chains)["changed"] is False
    fw(state="absent")
    assert sh(fw.ns, "iptables -S DOCKER-USER").stdout.splitlines() == ["-N DOCKER-USER"]

    # an existing DOCKER-USER, as Docker 20.10 leaves it plus a rule of the user's
    sh(fw.ns, "iptables -A DOCKER-USER -s 192.0.2.9/32 -j DROP && iptables -A DOCKER-USER -j RETURN")
    fw(chains)
    assert sh(fw.ns, "iptables -S DOCKER-USER").stdout.splitlines() == [
        "-N DOCKER-USER", f"-A DOCKER-USER {MARK} -j FABRIC-FORWARD",
        "-A DOCKER-USER -s 192.0.2.9/32 -j DROP", "-A DOCKER-USER -j RETURN"]
    # our jump below Docker's RETURN would be dead: it is moved back up
    sh(fw.ns, "iptables -D DOCKER-USER 1 && iptables -A DOCKER-USER -m comment --comment crosshost.fabric"
              " -j FABRIC-FORWARD")
    assert fw(chains)["changed"] is True
    assert sh(fw.ns, "iptables -S DOCKER-USER").stdout.splitlines()[1] == f"-A DOCKER-USER {MARK} -j FABRIC-FORWARD"

    fresh = lab.netns("boot-du")
    for _ in range(2):
        out = sh(fresh, f"sh {RESTORE_SCRIPT} {fw.persist}", check=False)
        assert out.returncode == 0, out.stderr
        assert sh(fresh, "iptables -S DOCKER-USER").stdout.splitlines() == [
            "-N DOCKER-USER", f"-A DOCKER-USER {MARK} -j FABRIC-FORWARD"]
    again = run_module(fresh, collections_root, {"chains": chains, "persist_file": str(fw.persist)})
    assert again["changed"] is False, again
