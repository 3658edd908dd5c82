"""The nodes run the Docker engine this run is about (FABRIC_ENGINE: bookworm, trixie or sid).

Every other check of the scenario is only a proof for that engine if the engine really is the one
asked for: the daemon answering on each node reports its version. And the lab's engine must behave
as on a real host: a command run with `docker exec` sees the workload's busybox files, not the
node's (a dockerd merely chrooted into the sid root got this wrong).
"""

from __future__ import annotations

from fabric_lab import ENGINE, ENGINE_VERSIONS, node


def test_every_node_runs_the_selected_docker_engine(plan):
    assert ENGINE in ENGINE_VERSIONS, f"FABRIC_ENGINE={ENGINE!r}: one of {sorted(ENGINE_VERSIONS)}"
    want = ENGINE_VERSIONS[ENGINE]
    seen = {
        name: node(name).check_output("docker version --format '{{.Server.Version}}'").strip()
        for name in sorted(plan["hosts"])
    }
    wrong = {name: version for name, version in seen.items() if not version.startswith(want)}
    assert not wrong, f"FABRIC_ENGINE={ENGINE} wants Docker {want}x on every node; found {wrong}"


def test_docker_exec_runs_inside_the_workload(plan):
    faults = []
    for name in sorted(plan["hosts"]):
        host = node(name)
        host.run("docker rm -f fabric-engine-probe")
        host.check_output("docker run -d --name fabric-engine-probe busybox sleep 300")
        try:
            # busybox's applets are links to /bin/busybox; the node's /bin/ls is coreutils'.
            seen = host.run("docker exec fabric-engine-probe readlink /bin/ls").stdout.strip()
        finally:
            host.run("docker rm -f fabric-engine-probe")
        if seen != "busybox":
            faults.append(f"{name}: /bin/ls in the workload links to {seen or 'nothing'}, not busybox")
    assert not faults, "docker exec does not run inside the container:\n  " + "\n  ".join(faults)
