"""Fixtures shared by the checks of this scenario (helpers: fabric_lab.py)."""

from __future__ import annotations

import ipaddress

import pytest
from fabric_lab import (  # noqa: F401 - fixtures and hooks shared with the other scenarios
    load_plan,
    node_address,
    plan,
    pytest_collection_modifyitems,
    pytest_configure,
    webs,
)

OUTSIDE = "vxlan-outside"  # the lab host outside the fabric (molecule.yml)


@pytest.fixture(scope="session")
def outside_address() -> str:
    """The outside lab host's address: on the lab network, outside the cluster network."""
    addr = node_address(OUTSIDE)
    assert ipaddress.ip_address(addr) not in ipaddress.ip_network(load_plan()["network"])
    return addr
