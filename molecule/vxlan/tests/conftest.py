"""Fixtures shared by the checks of this scenario (helpers: fabric_lab.py)."""

from __future__ import annotations

import ipaddress

import pytest
from fabric_lab import load_plan, node_address, plan, webs  # noqa: F401 - fixtures shared with vxlan-direct

OUTSIDE = "vxlan-outside"  # the lab host outside the fabric (molecule.yml)


@pytest.fixture(scope="session")
def outside_address() -> str:
    """The outside lab host's address: on the lab network, outside the cluster network."""
    addr = node_address(OUTSIDE)
    assert ipaddress.ip_address(addr) not in ipaddress.ip_network(load_plan()["network"])
    return addr
