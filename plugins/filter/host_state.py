# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a task's result already in place? Answers from one read of the host (backend_host_state).

Every answer is False unless the read proves the result in place: a missing read, a path, unit or
package that was not read, or a read that failed leaves the task to run as it would without it.
Docs: the YAML files beside this one.
"""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError


def _state(state, name):
    if state is None or state == "":
        return {}
    if not isinstance(state, dict):
        raise AnsibleFilterError("%s: expected the result of crosshost.fabric.fabric_host_state" % name)
    return state


def file_in_place(state, path, content=None, mode=None, owner=None, group=None, directory=False):
    """True when the read found path with exactly this content (text, UTF-8), mode, owner and group."""
    found = (_state(state, "file_in_place").get("files") or {}).get(path) or {}
    if not found.get("exists") or bool(found.get("isdir")) != bool(directory):
        return False
    if content is not None:
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if found.get("sha1") != hashlib.sha1(data).hexdigest():
            return False
    if mode is not None and found.get("mode") != "%04o" % int(str(mode), 8):
        return False
    if owner is not None and found.get("owner") != owner:
        return False
    return group is None or found.get("group") == group


def files_absent(state, paths):
    """True when the read found none of the paths (and read every one of them)."""
    names = [paths] if isinstance(paths, str) else list(paths)
    read = _state(state, "files_absent").get("files") or {}
    return bool(names) and all(name in read and read[name].get("exists") is False for name in names)


def units_enabled(state, units, active=False):
    """True when every unit was read as enabled (and active, with active=True)."""
    names = [units] if isinstance(units, str) else list(units)
    read = _state(state, "units_enabled").get("units") or {}
    for name in names:
        unit = read.get(name) or {}
        if unit.get("load") != "loaded" or unit.get("enabled") != "enabled":
            return False
        if active and unit.get("active") != "active":
            return False
    return bool(names)


def packages_present(state, packages):
    """True when the package database was read and none of the packages is missing from it."""
    names = [packages] if isinstance(packages, str) else list(packages)
    read = _state(state, "packages_present")
    if not read.get("packages_known"):
        return False
    missing = set(read.get("packages_missing") or [])
    asked = set(read.get("packages_asked") or [])
    return all(n in asked and n not in missing for n in names)


class FilterModule:
    def filters(self):
        return {
            "file_in_place": file_in_place,
            "files_absent": files_absent,
            "units_enabled": units_enabled,
            "packages_present": packages_present,
        }
