"""What the lab-node benchmarks (bench_dataplane.py, bench_converge.py) share: the node image and
flags, the inventory they converge, and a command runner that says what failed."""

from __future__ import annotations

import os
import subprocess

IMAGE = os.environ.get("LAB_IMAGE", "crosshost/fabric-node:bookworm")
LABEL = "org.crosshost.lab=1"
# Same flags as LAB_NODE_FLAGS in lab/lib.sh (--privileged is refused on these machines).
NODE_FLAGS = [
    *("--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "NET_BROADCAST"),
    *("--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE", "--cap-add", "MKNOD"),
    *("--security-opt", "apparmor=unconfined", "--security-opt", "seccomp=unconfined"),
    *("--tmpfs", "/run", "--tmpfs", "/run/lock"),
    *("-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns=host"),
]
INVENTORY = """\
fabric:
  hosts:
{hosts}
  vars:
    ansible_connection: community.docker.docker
    ansible_python_interpreter: /usr/bin/python3
    fabric_network: 10.244.0.0/16
    fabric_backend: vxlan
    fabric_lease_file: {tmp}/leases.yml
    fabric_plan_dir: {tmp}/plan
"""


def sh(*argv: str, check: bool = True, timeout: float = 300) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout.strip()
