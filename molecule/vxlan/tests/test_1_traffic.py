"""Containers talk across nodes over flannel.1, and to the world through their node's address.

On every node a busybox workload runs a web server that answers with the source address it saw.
From each workload: ping every other node's workload, open a TCP connection to it (the server must
see the client container's own address: no masquerade inside the cluster network), and fetch the
page of the lab host outside the fabric (which must see the node's address: masquerade).
"""

from __future__ import annotations

import pathlib
import sys

from fabric_lab import RECAP_FILE, all_pairs, node, seen_as, traffic_faults

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
from check_recap import assert_check_mode_clean  # noqa: E402 - the check recap every scenario asserts


def test_converge_in_check_mode_changed_nothing():
    """Molecule's check step ran converge.yml with --check right after idempotence: changed, failed,
    ignored and unreachable results, none."""
    assert_check_mode_clean(RECAP_FILE)


def test_workloads_ping_and_connect_to_workloads_on_every_other_node_unmasqueraded(plan, webs):
    faults = traffic_faults(plan, webs, all_pairs(plan["hosts"]))
    assert not faults, "cross-node container traffic:\n  " + "\n  ".join(faults)


def test_workloads_reach_the_outside_host_masqueraded_as_their_node(plan, webs, outside_address):
    faults = []
    for name, entry in sorted(plan["hosts"].items()):
        seen = seen_as(node(name), outside_address)
        if seen != entry["public_ip"]:
            faults.append(
                f"{name}: the outside host saw {seen or 'no connection'}, not the node's "
                f"address {entry['public_ip']} (workload {webs[name]})"
            )
    assert not faults, "\n".join(faults)
