"""Checks of the two-rack scenario; they share the bgp and vxlan scenarios' helpers."""

from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2] / "vxlan" / "tests"))
sys.path.insert(0, str(HERE.parents[2] / "bgp" / "tests"))

from fabric_lab import plan, webs  # noqa: E402,F401 - the vxlan scenario's fixtures
