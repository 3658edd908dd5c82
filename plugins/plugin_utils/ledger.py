# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease ledger: a YAML file on the controller, committed like a lock file.

A leased host keeps its subnet whatever hosts come and go; a host that leaves the
inventory keeps its lease until it is released on purpose, and a released subnet is
handed out again only when no never-used subnet is left.

Fail closed:

- The file ends with an end marker carrying its counts (``# end of lease ledger: N leases,
  M released``). A file cut short (at a line, mid-line or to 0 bytes) has lost its marker
  and is refused; so is a marker whose counts don't match the entries. A missing file is
  "no leases"; an empty one is refused.
- Duplicate keys are refused (YAML would silently keep the last one).
- A symlinked ledger is read and written through to its target, under the lock on the target.
- A run that writes holds an exclusive ``flock`` on ``.<name>.lock`` beside the (target)
  file, re-reads the file under it and replaces the file atomically (temporary file in the
  same folder, fsync, ``os.replace``), so two runs at once can neither corrupt the file nor
  hand one subnet out twice. A run that writes nothing (check mode, nothing changed) takes
  no lock and creates nothing: it read one consistent snapshot, since every writer replaces
  the file atomically. So ``--check`` and no-change runs work in a read-only folder.

No Ansible import: tested on its own, like the planner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import yaml


from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner

# libyaml when present: about 10x faster on a 10,000-host ledger. The C parser builds the node
# tree, a Python walk over it refuses duplicate keys, then the safe constructor builds the data.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

VERSION = 2
END_MARKER = "# end of lease ledger: %d leases, %d released"
_END_RE = re.compile(r"# end of lease ledger: ([0-9]+) leases, ([0-9]+) released")
HEADER = (
    "# crosshost.fabric lease ledger. Commit it with the inventory, like a lock file.\n"
    "# A leased host keeps its subnet for good; a host removed from the inventory keeps\n"
    "# its lease until released: ansible-playbook -i INVENTORY playbooks/release.yml -e fabric_release=HOST\n"
    "# (from an installed collection: crosshost.fabric.release instead of playbooks/release.yml).\n"
    "# The last line is an end marker with the counts: a file cut short is refused, never read as fewer leases.\n"
)


class LedgerError(planner.PlanError):
    """The lease file is unreadable, malformed, incomplete or cannot be written."""


def lock_path(path: str) -> str:
    """The lock file of ``path``'s target: hidden (``.<name>.lock``) beside it, never read as inventory."""
    target = os.path.realpath(path)
    return os.path.join(os.path.dirname(target), ".%s.lock" % os.path.basename(target))


@contextlib.contextmanager
def locked(path: str, timeout: float = 120.0, lock_file: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock for ``path``'s target (on :func:`lock_path`, or ``lock_file``)."""
    lock = lock_file or lock_path(path)
    try:
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LedgerError(["cannot write the lease file %s: %s" % (path, exc)]) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LedgerError(
                        ["lease file %s: still locked by another run after %.0f s" % (path, timeout)]
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _duplicate(node: Any) -> tuple[str, int] | None:
    """The first key found twice in one mapping of the node tree, with its line (1-based)."""
    todo = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, yaml.MappingNode):
            seen = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        return key.value, key.start_mark.line + 1
                    seen.add(key.value)
                todo.append(value)
        elif isinstance(current, yaml.SequenceNode):
            todo.extend(current.value)
    return None


def _load(path: str, text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        dup = _duplicate(node)
        if dup:
            raise LedgerError(
                ["lease file %s: key %r twice in one mapping (line %d); YAML would keep only the last one, "
                 "so a host could be renumbered: fix the file by hand" % (path, dup[0], dup[1])]
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _empty(path: str) -> dict[str, Any]:
    return {"network": None, "subnet_len": None, "leases": {}, "public_ips": {}, "released": {}, "text": "",
            "exists": False, "version": None, "path": path}


def read(path: str) -> dict[str, Any]:
    """Return ``{'network', 'subnet_len', 'leases': {host: subnet}, 'public_ips', 'released', ...}``.

    A missing file has no leases; an empty, truncated or malformed one raises LedgerError.
    A symlink is read through to its target.
    """
    if not os.path.lexists(path):
        return _empty(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(["lease file %s is unreadable: %s" % (path, exc)]) from None
    if not text.strip():
        raise LedgerError(
            ["lease file %s is empty (%d bytes): an empty ledger is not 'no leases' but a ledger lost or cut "
             "short; restore it (e.g. from version control), or delete it to start over (hosts already running "
             "in the fabric keep their subnets)" % (path, len(text))]
        )
    try:
        data = _load(path, text)
    except yaml.YAMLError as exc:
        raise LedgerError(
            ["lease file %s is not valid YAML (truncated or edited?): %s" % (path, str(exc).replace("\n", " "))]
        ) from None
    if data is None:
        raise LedgerError(
            ["lease file %s holds no ledger, only comments: it was truncated; restore it (e.g. from version "
             "control), or delete it to start over" % path]
        )
    if not isinstance(data, dict):
        raise LedgerError(["lease file %s: expected a mapping at the top, found %s" % (path, type(data).__name__)])
    version = data.get("version")
    if version == VERSION:
        last = text.rstrip("\n").rsplit("\n", 1)[-1]
        match = _END_RE.fullmatch(last)
        if match is None:
            raise LedgerError(
                ["lease file %s is truncated: its last line is not the end marker '# end of lease ledger: N "
                 "leases, M released'; leases may be missing. Restore it (e.g. from version control); a cut "
                 "ledger is never read as fewer leases" % path]
            )
    elif not (version == 1 or ("version" not in data and "leases" in data)):
        raise LedgerError(
            ["lease file %s: version %r is not one this release reads (1 or %d); truncated, or written by a "
             "newer release?" % (path, version, VERSION)]
        )
    leases_in = data.get("leases") or {}
    if not isinstance(leases_in, dict):
        raise LedgerError(["lease file %s: 'leases' must map host names to subnets" % path])
    released_in = data.get("released") or {}
    if not isinstance(released_in, dict):
        raise LedgerError(["lease file %s: 'released' must map subnets to {host, released_at}" % path])
    leases: dict[str, str] = {}
    public_ips: dict[str, str] = {}
    released: dict[str, dict[str, str]] = {}
    problems = []
    for host, value in leases_in.items():
        subnet = value.get("subnet") if isinstance(value, dict) else value
        if isinstance(value, dict) and value.get("public_ip"):
            public_ips[str(host)] = str(value["public_ip"])
        if not isinstance(subnet, str):
            problems.append("lease file %s: host %s has no subnet (found %r)" % (path, host, value))
            continue
        leases[str(host)] = subnet
    for subnet, value in released_in.items():
        entry = value if isinstance(value, dict) else {}
        released[str(subnet)] = {k: str(v) for k, v in entry.items() if k in ("host", "released_at") and v}
    if version == VERSION and match is not None:
        want = (int(match.group(1)), int(match.group(2)))
        if want != (len(leases_in), len(released_in)):
            problems.append(
                "lease file %s: its end marker says %d leases but holds %d (and %d released, holds %d): "
                "entries were lost or added by hand; restore it (e.g. from version control)"
                % (path, want[0], len(leases_in), want[1], len(released_in))
            )
    if problems:
        raise LedgerError(problems)
    return {
        "network": data.get("network"),
        "subnet_len": data.get("subnet_len"),
        "leases": leases,
        "public_ips": public_ips,
        "released": released,
        "text": text,
        "exists": True,
        "version": version,
        "path": path,
    }


def render(
    network: str,
    subnet_len: int,
    leases: dict[str, str],
    public_ips: dict[str, str],
    released: dict[str, dict[str, str]] | None = None,
) -> str:
    """The ledger's text: stable (sorted by subnet) so that diffs in review stay small; ends with the marker."""
    body: dict[str, Any] = {"version": VERSION, "network": network, "subnet_len": int(subnet_len), "leases": {}}
    order = sorted(leases.items(), key=lambda kv: planner.subnet_sort_key(kv[1]))
    for host, subnet in order:
        entry = {"subnet": subnet}
        if public_ips.get(host):
            entry["public_ip"] = public_ips[host]
        body["leases"][host] = entry
    released = released or {}
    if released:
        body["released"] = {
            subnet: dict(released[subnet]) for subnet in sorted(released, key=planner.subnet_sort_key)
        }
    return (
        HEADER
        + yaml.dump(body, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
        + END_MARKER % (len(leases), len(released))
        + "\n"
    )


def write_atomic(path: str, text: str) -> None:
    """Replace ``path`` (a symlink's target, when it is one) with ``text`` atomically.

    Same-folder temp file, fsync, rename; the file keeps its mode (0644 for a new one).
    """
    path = os.path.realpath(path)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=folder)
    except OSError as exc:
        raise LedgerError(["cannot write %s: %s" % (path, exc)]) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _compute(path, current, settings, hosts, release, now):
    space, problems = planner.check_settings(settings)
    if problems:
        raise planner.PlanError(problems)
    same_net = current["network"] in (None, str(space.network))
    same_len = current["subnet_len"] is None or planner.as_int(current["subnet_len"]) == space.subnet_len
    if (current["leases"] or current["released"]) and not (same_net and same_len):
        raise LedgerError(
            [
                "lease file %s was written for %s with /%s subnets but fabric_network is %s with /%d subnets; "
                "leased hosts are never renumbered: restore the old settings, or move the file aside to "
                "renumber every host on purpose"
                % (path, current["network"], current["subnet_len"], space.network, space.subnet_len)
            ]
        )
    unknown = [h for h in release if h not in current["leases"]]
    # A host limited out of the run has no facts: its public IP recorded at its last run
    # stands in when the inventory doesn't give one (so --limit plans with every peer).
    hosts = [
        dataclasses.replace(h, public_ip=current["public_ips"][h.name])
        if not h.public_ip and h.name in current["public_ips"]
        else h
        for h in hosts
    ]
    try:
        result = planner.plan_fabric(settings, hosts, current["leases"], release, current["released"], now)
    except planner.PlanError as exc:
        # The planner names a bad lease "lease file: ..."; say which file.
        named = [p.replace("lease file:", "lease file %s:" % path, 1) for p in exc.problems]
        raise planner.PlanError(named) from None
    # The recorded public IP of hosts absent from this inventory is kept.
    public_ips = dict(current["public_ips"])
    public_ips.update((name, h["public_ip"]) for name, h in result.plan["hosts"].items())
    after_text = render(str(space.network), space.subnet_len, result.leases, public_ips, result.released)
    return {
        "plan": result.plan,
        "changed": after_text != current["text"],
        "before": current["text"],
        "after": after_text,
        "released": [h for h in release if h not in unknown],
        "unknown_release": unknown,
        "leases": result.leases,
        "released_subnets": result.released,
        "adopted": result.adopted,
    }


def _current(target: str, legacy: str | None) -> dict[str, Any]:
    """The ledger at ``target``, or at ``legacy`` (the old default path) while the target doesn't exist."""
    current = read(target)
    if legacy is None or not os.path.lexists(legacy) or os.path.realpath(legacy) == target:
        return dict(current, migrate=None)
    if current["exists"]:
        raise LedgerError(
            ["two lease ledgers: %s (the old default path) and %s; keep one: if the old one is stale, delete it; "
             "if it is the real one, delete the new one and run again to move it" % (legacy, target)]
        )
    return dict(read(legacy), migrate=legacy)


def plan(
    path: str,
    settings: planner.Settings,
    hosts: Sequence[planner.HostInput],
    release: Iterable[str] = (),
    check_mode: bool = False,
    legacy_path: str | None = None,
    now: str | None = None,
) -> dict[str, Any]:
    """Read the ledger, plan, and (outside check mode, when anything changed) write the new ledger.

    Returns ``{'plan', 'changed', 'before', 'after', 'released', 'adopted', 'path', 'migrated_from', ...}``
    where before/after are the ledger's texts. Raises PlanError (nothing written) on any bad input.
    ``path`` may be a symlink: its target is read, locked and written. ``legacy_path`` is the
    ledger's old default location: while ``path`` doesn't exist it is read from there and, at
    the first write, moved to ``path`` (never silently an empty ledger).
    """
    target = os.path.realpath(path)
    release = sorted(set(release))
    now = now or _utc_now()
    # A first pass without any lock: a consistent snapshot (writers replace the file atomically).
    current = _current(target, legacy_path)
    out = _compute(path, current, settings, hosts, release, now)
    out.update(path=target, migrated_from=current["migrate"])
    if check_mode or not out["changed"]:
        return out
    with contextlib.ExitStack() as stack:
        stack.enter_context(locked(path))
        if current["migrate"]:
            stack.enter_context(locked(current["migrate"], lock_file=current["migrate"] + ".lock"))
        # Under the lock: read again, and plan again if another run wrote meanwhile.
        again = _current(target, legacy_path)
        if (again["text"], again["migrate"]) != (current["text"], current["migrate"]):
            current = again
            out = _compute(path, current, settings, hosts, release, now)
            out.update(path=target, migrated_from=current["migrate"])
        if out["changed"]:
            try:
                write_atomic(target, out["after"])
            except OSError as exc:
                raise LedgerError(["cannot write the lease file %s: %s" % (path, exc)]) from None
            if current["migrate"]:
                for old in (current["migrate"], current["migrate"] + ".lock"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(old)
    return out
