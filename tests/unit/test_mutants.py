"""Tests written to kill mutants that survived the suite (issue 13); each names the mutant it kills.

- planner.allocate: the blocked-range check with ``<`` instead of ``<=`` at the top of the range
  (a full space then hands out the last subnet a second time);
- a property test that really fills the space, and proves it did (hypothesis ``event``/``target``
  and a count asserted after the run);
- ledger.write_atomic: a plain ``open(path, "w")`` instead of a same-folder temporary file, fsync and
  rename (a reader or an interrupted writer then sees a truncated ledger).
"""

import collections
import multiprocessing
import os

import netaddr
import pytest
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger, planner

import lease_ops
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings

# /24 cut into /28: 16 subnets, the first never handed out -> indexes 1..15.
SMALL = Settings(network="10.244.7.0/24", subnet_len=28)
CAPACITY = 15
NAMES = ["h%02d" % i for i in range(24)]


def hosts(names):
    return [HostInput(n, public_ip="192.0.2.%d" % (NAMES.index(n) + 1)) for n in names]


def full_ledger():
    """Fifteen hosts holding every subnet of SMALL, the last one (10.244.7.240/28) included."""
    _plan, leases = planner.build_plan(SMALL, hosts(NAMES[:CAPACITY]))
    assert sorted(leases.values(), key=planner.subnet_sort_key)[-1] == "10.244.7.240/28"
    return leases


# --------------------------------------------------------------------------- #
# planner: the top of the range is blocked like the rest
# --------------------------------------------------------------------------- #


def test_a_full_space_refuses_a_new_host_even_when_a_leased_host_left():
    # Kills: `space.lo <= i < space.hi` in allocate's blocked list.
    leases = full_ledger()
    inventory = [n for n in NAMES[:CAPACITY] if n != "h03"] + ["h20"]  # h03 leaves (keeps its lease), h20 comes
    with pytest.raises(PlanError, match="1 new hosts need a subnet but only 0 of the 15"):
        planner.build_plan(SMALL, hosts(inventory), leases)


def test_the_last_subnet_held_by_a_lease_is_never_handed_out_again():
    space, problems = planner.check_settings(SMALL)
    assert not problems and (space.lo, space.hi) == (1, CAPACITY)
    # Only the top index is taken: the 14 new hosts get every other index, the 15th new one none.
    got = planner.allocate(space, ["a%02d" % i for i in range(CAPACITY - 1)], {"top": space.hi})
    assert sorted(got.values()) == list(range(1, CAPACITY))
    with pytest.raises(PlanError, match="15 new hosts need a subnet but only 14"):
        planner.allocate(space, ["a%02d" % i for i in range(CAPACITY)], {"top": space.hi})


def test_the_top_of_a_subnet_max_range_is_blocked_too(tmp_path):
    # subnet_max lowers space.hi: the same boundary, reached through the ledger file.
    limited = Settings(network="10.244.0.0/16", subnet_len=24, subnet_min="10.244.1.0", subnet_max="10.244.3.0")
    path = str(tmp_path / "leases.yml")
    ledger.plan(path, limited, hosts(["h00", "h01", "h02"]))
    with pytest.raises(PlanError, match="only 0 of the 3"):
        ledger.plan(path, limited, hosts(["h00", "h01", "h03"]))
    assert set(ledger.read(path)["leases"]) == {"h00", "h01", "h02"}


# --------------------------------------------------------------------------- #
# A property test that reaches exhaustion, and proves it
# --------------------------------------------------------------------------- #

REACHED = collections.Counter()
# Under `make mutation` (mutmut sets MUTANT_UNDER_TEST for every test run) the slow tests of this file
# run a fifth of their examples: thousands of mutants each run them; `make unit` runs them in full.
QUICK = "MUTANT_UNDER_TEST" in os.environ
EXAMPLES = 60 if QUICK else 300

# Start from 12..24 hosts (the space holds 15), then add, remove and release at random.
ops = st.lists(st.tuples(st.sampled_from(["add", "add", "remove", "release"]), st.sampled_from(NAMES)),
               min_size=1, max_size=30)
starts = st.lists(st.sampled_from(NAMES), min_size=12, max_size=len(NAMES), unique=True)


def check_step(old, new, inventory, release):
    for h, subnet in old.items():  # a lease never changes while it exists
        if h in new:
            assert new[h] == subnet, "%s renumbered %s -> %s" % (h, subnet, new[h])
    assert set(old) - set(new) <= set(release)  # only a released host loses its lease
    nets = [netaddr.IPNetwork(s) for s in new.values()]
    assert len({n.first for n in nets}) == len(nets), "one subnet held twice: %s" % new
    assert len(new) <= CAPACITY
    assert set(inventory) <= set(new)


# derandomize: the same examples every run, so that the counts asserted below are stable.
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(starts, ops)
def _random_sequences_from_a_crowded_start(start, sequence):
    inventory = start[:CAPACITY]
    _plan, leases = planner.build_plan(SMALL, hosts(inventory), {})
    most = len(leases)
    for op, name in sequence:
        gone = sorted(set(leases) - set(inventory))  # "release" releases one of the hosts that left
        release = lease_ops.step(
            op, name, inventory, lambda n, out=gone: [out[NAMES.index(n) % len(out)]] if out else []
        )
        try:
            _plan, new = planner.build_plan(SMALL, hosts(sorted(inventory)), leases, release)
        except PlanError as exc:
            assert "need a subnet but only" in str(exc), str(exc)
            assert len(set(leases) | set(inventory)) > CAPACITY
            REACHED["refused: space full"] += 1
            event("refused: space full")
            inventory.remove(name)
            continue
        check_step(leases, new, inventory, release)
        if len(new) == CAPACITY:
            REACHED["space full"] += 1
            event("space full")
        if len(leases) == CAPACITY and release and len(new) < CAPACITY:
            REACHED["full, then freed"] += 1
        most = max(most, len(new))
        leases = new
    target(float(most), label="most leases held")  # steers the search towards a full space


def test_random_sequences_fill_the_space_and_prove_it():
    REACHED.clear()
    _random_sequences_from_a_crowded_start()
    # Without these counts the test could pass without ever reaching the branch it exists for.
    print(dict(REACHED))
    scale = EXAMPLES / 300
    assert REACHED["space full"] >= 50 * scale, REACHED
    assert REACHED["refused: space full"] >= 20 * scale, REACHED
    assert REACHED["full, then freed"] >= 5 * scale, REACHED


# --------------------------------------------------------------------------- #
# ledger.write_atomic: readers and interrupted writers never see a partial file
# --------------------------------------------------------------------------- #


def test_a_reader_holding_the_old_file_keeps_reading_the_old_content(tmp_path):
    # Kills: plain open(path, "w") (the same inode truncated and rewritten in place).
    path = tmp_path / "leases.yml"
    ledger.write_atomic(str(path), "old\n" * 1000)
    keep = tmp_path / "link-to-old"
    os.link(path, keep)
    before = os.stat(path)
    with open(path, encoding="utf-8") as reader:
        ledger.write_atomic(str(path), "new\n")
        assert reader.read() == "old\n" * 1000
    assert path.read_text() == "new\n" and keep.read_text() == "old\n" * 1000
    after = os.stat(path)
    assert after.st_ino != before.st_ino  # a new file renamed over the old one
    assert after.st_dev == before.st_dev
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_a_failed_write_leaves_the_old_ledger_whole(tmp_path):
    # The writer fails part way (text that can't be encoded): the old ledger must stay intact.
    path = tmp_path / "leases.yml"
    ledger.write_atomic(str(path), "version: 1\n")
    with pytest.raises(UnicodeEncodeError):
        ledger.write_atomic(str(path), "leases:\n" + "x" * 100000 + "\ud800")
    assert path.read_text() == "version: 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leases.yml"]


def test_the_file_keeps_its_mode_and_a_new_one_is_0644(tmp_path):
    path = tmp_path / "leases.yml"
    ledger.write_atomic(str(path), "a\n")
    assert os.stat(path).st_mode & 0o777 == 0o644
    os.chmod(path, 0o600)
    ledger.write_atomic(str(path), "b\n")
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_the_new_content_is_synced_before_the_rename(tmp_path, monkeypatch):
    # Durability can't be observed without pulling the power: record the order of the calls instead.
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(("fsync", os.readlink("/proc/self/fd/%d" % fd))),
                                                  real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append(("replace", str(a), str(b))), real_replace(a, b))[1])
    path = str(tmp_path / "leases.yml")
    ledger.write_atomic(path, "a\n")
    assert [c[0] for c in calls] == ["fsync", "replace"], calls
    assert calls[0][1] == calls[1][1]  # the file synced is the one renamed
    assert os.path.dirname(calls[1][1]) == str(tmp_path) and calls[1][2] == path  # same folder: rename is atomic


def _writer(path, rounds):
    for i in range(rounds):
        ledger.write_atomic(path, ("A" if i % 2 else "B") * 4_000_000)


def test_a_concurrent_reader_only_ever_sees_a_whole_file(tmp_path):
    path = str(tmp_path / "leases.yml")
    whole = {"A" * 4_000_000, "B" * 4_000_000}
    ledger.write_atomic(path, "A" * 4_000_000)
    proc = multiprocessing.get_context("fork").Process(target=_writer, args=(path, 8 if QUICK else 40))
    proc.start()
    reads, torn = 0, 0
    while proc.is_alive() or reads == 0:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        reads += 1
        torn += text not in whole
    proc.join()
    assert proc.exitcode == 0
    assert torn == 0, "%d of %d reads saw a partial ledger" % (torn, reads)
