"""The nodes run the Docker engine this run is about (FABRIC_ENGINE: bookworm, trixie or sid).

Every other check of the scenario is only a proof for that engine if the engine really is the one
asked for: the daemon answering on each node reports its version.
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
