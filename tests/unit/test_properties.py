"""Property tests: random add/remove/release sequences never renumber a leased host and never
hand out overlapping subnets. Thousands of sequences in memory, a few hundred through the
real ledger file."""

import netaddr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger, planner

import lease_ops
from ansible_collections.crosshost.fabric.plugins.plugin_utils.planner import HostInput, PlanError, Settings

NAMES = ["h%02d" % i for i in range(24)]
# A small space so that exhaustion happens: /24 cut into /28 -> 16 subnets, 15 handed out.
SMALL = Settings(network="10.244.7.0/24", subnet_len=28)

ops = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "release"]), st.sampled_from(NAMES)),
    min_size=1,
    max_size=40,
)


def host(name):
    return HostInput(name, public_ip="192.0.2.%d" % (NAMES.index(name) + 1), iface="eth0")


def check_invariants(leases, plan, inventory, space_settings):
    nets = [netaddr.IPNetwork(s) for s in leases.values()]
    # No two leases overlap (same length, so overlap means equal).
    assert len({n.first for n in nets}) == len(nets)
    net = netaddr.IPNetwork(space_settings.network)
    for n in nets:
        assert n.prefixlen == space_settings.subnet_len
        assert net.first < n.first and n.last <= net.last  # inside, and never the first subnet
    # Every host in the inventory is planned with exactly its lease.
    assert set(plan["hosts"]) == set(inventory)
    for name, h in plan["hosts"].items():
        assert leases[name] == h["subnet"]


def run_sequence(sequence, apply):
    """Drive a sequence of operations; ``apply(inventory, release)`` returns new leases or raises PlanError."""
    inventory, leases, ever = [], {}, {}
    for op, name in sequence:
        # releasing a host still in the inventory is refused by design (tested elsewhere): skipped
        release = lease_ops.step(op, name, inventory, lambda n: None if n in inventory else [n])
        if release is None:
            continue
        try:
            new_leases, plan = apply(sorted(inventory), release)
        except PlanError as exc:
            # Only legitimate failure: the space is full.
            assert "need a subnet but only" in str(exc), str(exc)
            assert len(set(leases) | set(inventory)) > 15
            inventory.remove(name)
            continue
        # A lease, once given, never changes while it exists.
        for h, subnet in leases.items():
            if h in new_leases:
                assert new_leases[h] == subnet, "%s renumbered %s -> %s" % (h, subnet, new_leases[h])
        # A released host disappears; nobody else loses a lease.
        assert set(leases) - set(new_leases) <= set(release)
        # A host that comes back after leaving (without release) gets its old subnet.
        for h in inventory:
            if h in ever and h in leases:
                assert new_leases[h] == ever[h]
        check_invariants(new_leases, plan, inventory, SMALL)
        leases = new_leases
        for h, s in leases.items():
            if h not in release:
                ever[h] = s
        for h in release:
            ever.pop(h, None)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_random_sequences_in_memory(sequence):
    state = {"leases": {}}

    def apply(inventory, release):
        plan, new = planner.build_plan(SMALL, [host(n) for n in inventory], state["leases"], release)
        state["leases"] = new
        return new, plan

    run_sequence(sequence, apply)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops)
def test_random_sequences_through_the_ledger_file(tmp_path, sequence):
    path = str(tmp_path / ("leases-%d.yml" % abs(hash(tuple(sequence)))))

    def apply(inventory, release):
        out = ledger.plan(path, SMALL, [host(n) for n in inventory], release=release)
        on_disk = ledger.read(path)["leases"]
        assert on_disk == out["leases"]
        return on_disk, out["plan"]

    run_sequence(sequence, apply)


# --------------------------------------------------------------------------- issue 6: fail closed


def _real_ledger(tmp_path):
    """A real ledger with leases, a released subnet and recorded public IPs."""
    path = str(tmp_path / "leases.yml")
    ledger.plan(path, SMALL, [host(n) for n in NAMES[:6]])
    ledger.plan(path, SMALL, [host(n) for n in NAMES[:6] if n != "h02"], release=["h02"])
    ledger.plan(path, SMALL, [host(n) for n in NAMES[:6] if n != "h02"] + [host("h09")])
    return path


def test_a_ledger_truncated_at_every_byte_offset_is_refused_or_reads_exactly_the_original(tmp_path):
    path = _real_ledger(tmp_path)
    raw = open(path, "rb").read()
    original = ledger.read(path)
    assert original["leases"] and original["released"]
    cut_path = str(tmp_path / "cut.yml")
    accepted = 0
    for offset in range(len(raw)):
        with open(cut_path, "wb") as handle:
            handle.write(raw[:offset])
        try:
            got = ledger.read(cut_path)
        except ledger.LedgerError:
            continue
        accepted += 1
        assert got["leases"] == original["leases"], "cut at byte %d read as other leases" % offset
        assert got["released"] == original["released"] and got["public_ips"] == original["public_ips"]
    # Only the cut that drops the final newline keeps the whole end marker.
    assert accepted == 1, accepted


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(ops)
def test_released_subnets_go_only_where_no_never_used_subnet_is_left(tmp_path, sequence):
    """Through the real ledger: a released subnet is handed out again only when every other subnet
    of the space is held (by a lease or another released entry that is older)."""
    path = str(tmp_path / ("rel-%d.yml" % abs(hash(tuple(sequence)))))
    space, _ = planner.check_settings(SMALL)
    everything = {str(space.subnet(i)) for i in range(space.lo, space.hi + 1)}
    ever_used = set()

    def apply(inventory, release):
        before = ledger.read(path)
        out = ledger.plan(path, SMALL, [host(n) for n in inventory], release=release)
        after = ledger.read(path)
        new = {h: s for h, s in after["leases"].items() if h not in before["leases"]}
        new_subnets = set(new.values())
        # A host that comes back after its release may take its own old subnet back.
        reused = {s for h, s in new.items() if s in before["released"] and before["released"][s]["host"] != h}
        if reused:
            # A released subnet went to another host: only after every never-used subnet was taken.
            assert everything - ever_used - new_subnets == set(), (reused, sorted(everything - ever_used - new_subnets))
        ever_used.update(after["leases"].values())
        assert set(after["released"]).isdisjoint(after["leases"].values())
        return after["leases"], out["plan"]

    run_sequence(sequence, apply)
