"""Docker is never restarted on every host at once (issue 11, item 3), on real nodes.

prepare.yml started a container (``--restart always``) and a sampler on every node; it writes one
line every 0.2 s: when the state query started and ended, and docker.service's state (`systemctl
is-active`: down is anything but ``active``, i.e. deactivating, inactive, activating; a query of
Docker's API would block through a restart, and on a loaded machine a slow answer is no stop). The
first site.yml then moved docker0 from Docker's default 172.17.0.1/16 to the node's subnet (a bip
change), which restarts Docker on each node.

The nodes share this machine's clock, so the samples of all nodes are on one time line. Proved:
every node's Docker was seen down (the sampler saw the restarts at all), no two nodes' runs of
down samples overlap (at every moment at most one node's Docker was down: the default
docker_restart_batch of 1), and afterwards every container is running again, with an address in
its node's new subnet, and reaches the containers of the other nodes over the fabric.
"""

from __future__ import annotations

import ipaddress

import pytest
import testinfra
from test_default import INVENTORY, load_plan


LOG = "/var/tmp/fabric-docker-sampler.log"
CONTAINER = "fabric-rolling"


@pytest.fixture(scope="module")
def nodes():
    plan = load_plan()
    return {name: testinfra.get_host(f"ansible://{name}", ansible_inventory=INVENTORY)
            for name in sorted(plan["hosts"])}


@pytest.fixture(scope="module")
def samples(nodes):
    """{node: [(instant, up)]}, instant = the middle of the sample; the samplers are stopped first."""
    out = {}
    for name, h in nodes.items():
        h.run("systemctl stop fabric-docker-sampler")
        rows = []
        for line in h.check_output(f"cat {LOG}").splitlines():
            parts = line.split()
            if len(parts) == 3:
                rows.append(((float(parts[0]) + float(parts[1])) / 2, parts[2] == "active"))
        out[name] = rows
    return out


def down_spans(rows):
    """Each run of consecutive down samples as (first down instant, last down instant)."""
    spans, start, last = [], None, None
    for t, up in rows:
        if not up:
            start = t if start is None else start
            last = t
        elif start is not None:
            spans.append((start, last))
            start = None
    if start is not None:
        spans.append((start, last))
    return spans


def test_the_sampler_saw_every_node_restart(samples):
    for name, rows in samples.items():
        assert len(rows) > 20, f"{name}: the sampler took only {len(rows)} samples"
        assert down_spans(rows), f"{name}: Docker was never seen down: the bip change did not restart it?"
        assert rows[-1][1], f"{name}: Docker is not active at the end"


def test_at_most_one_node_down_at_any_moment(samples):
    names = sorted(samples)
    overlaps = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for sa, ea in down_spans(samples[a]):
                for sb, eb in down_spans(samples[b]):
                    if sa <= eb and sb <= ea:
                        overlaps.append(f"{a} down {sa:.2f}-{ea:.2f} while {b} down {sb:.2f}-{eb:.2f}")
    first = {n: min(s for s, _ in down_spans(r)) for n, r in samples.items() if down_spans(r)}
    last = {n: max(e for _, e in down_spans(r)) for n, r in samples.items() if down_spans(r)}
    order = sorted(first, key=first.get)
    print("Docker down (s after the first restart): " + ", ".join(
        f"{n} {first[n] - first[order[0]]:.1f}-{last[n] - first[order[0]]:.1f}" for n in order))
    assert not overlaps, "Docker was down on two nodes at once:\n" + "\n".join(overlaps[:20])


def test_every_container_is_back_in_its_new_subnet_and_reachable(nodes):
    plan = load_plan()
    addrs = {}
    for name, h in nodes.items():
        fmt = "{{.State.Running}} {{.NetworkSettings.IPAddress}}"
        state = h.check_output(f"docker inspect -f '{fmt}' {CONTAINER}")
        running, addr = state.split()
        assert running == "true", f"{name}: {CONTAINER} is not running after the restart"
        assert ipaddress.ip_address(addr) in ipaddress.ip_network(plan["hosts"][name]["subnet"]), (name, addr)
        addrs[name] = addr
    unreachable = []
    for name, h in nodes.items():
        for other, addr in addrs.items():
            if other != name and h.run(f"docker exec {CONTAINER} ping -c 2 -W 2 {addr}").rc != 0:
                unreachable.append(f"{name} -> {other} ({addr})")
    assert not unreachable, "containers not reachable after the restarts: " + ", ".join(unreachable)
