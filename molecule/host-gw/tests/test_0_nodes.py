"""The nodes run the Docker engine this run is about (FABRIC_ENGINE: bookworm, trixie or sid), and
`docker exec` runs inside a workload: the vxlan scenario's two checks (its test_0_engine.py), run
here on the host-gw nodes, so that every other check is a proof for that engine."""

from __future__ import annotations

from test_0_engine import (  # noqa: F401 - collected here as this scenario's checks
    test_docker_exec_runs_inside_the_workload,
    test_every_node_runs_the_selected_docker_engine,
)
