"""Checks of the udp scenario; they share the vxlan scenario's helpers (fabric_lab.py)."""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "vxlan" / "tests"))

from fabric_lab import plan, webs  # noqa: E402,F401 - the vxlan scenario's fixtures
