"""Checks of the host-gw scenario; they share the vxlan scenario's helpers (fabric_lab.py)."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "vxlan" / "tests"))

from fabric_lab import (  # noqa: E402,F401 - the vxlan scenario's fixtures and engine-matrix hooks
    plan,
    pytest_collection_modifyitems,
    pytest_configure,
    webs,
)
