"""Leaving the backend: bgp_state=absent stops BIRD on a node and leaves none of its routes there;
its peers withdraw the node's subnet. The bgp role then brings it back."""

from __future__ import annotations

import time

from bgp_lab import SCENARIO, bird_routes, playbook, wait_sessions
from fabric_lab import node


def test_absent_stops_bird_and_leaves_none_of_its_routes(plan):
    names = sorted(plan["hosts"])
    gone, peer = names[2], names[0]
    proc = playbook(SCENARIO / "bird.yml", extra_vars={"bgp_hosts": gone, "bgp_state": "absent"})
    assert proc.returncode == 0, proc.stdout[-3000:]
    host = node(gone)
    assert host.run("systemctl is-active bird").stdout.strip() in ("inactive", "failed")
    assert bird_routes(host) == {}
    assert not host.file("/etc/bird/crosshost-fabric-secrets.conf").exists
    gone_subnet = plan["hosts"][gone]["subnet"]
    for _ in range(150):
        if gone_subnet not in bird_routes(node(peer)):
            break
        time.sleep(0.2)
    assert gone_subnet not in bird_routes(node(peer)), bird_routes(node(peer))
    proc = playbook(SCENARIO / "bird.yml", extra_vars={"bgp_hosts": gone})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    up = wait_sessions(host, want_established=True, timeout=90)
    assert up and all("Established" in line for line in up.values()), up
