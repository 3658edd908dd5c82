# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease ledger: a YAML file on the controller, committed like a lock file.

A leased host keeps its subnet whatever hosts come and go; a host that leaves the
inventory keeps its lease until it is released on purpose. Every read-modify-write
runs under an exclusive ``flock`` on ``<file>.lock`` and the new file replaces the
old one atomically (temporary file in the same folder, fsync, ``os.replace``), so
two runs at once can neither corrupt the file nor hand one subnet out twice.

No Ansible import: tested on its own, like the planner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import yaml


from ansible_collections.crosshost.fabric.plugins.plugin_utils import planner

# libyaml when present: about 10x faster on a 10,000-host ledger.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

VERSION = 1
HEADER = (
    "# crosshost.fabric lease ledger. Commit it with the inventory, like a lock file.\n"
    "# A leased host keeps its subnet for good; a host removed from the inventory keeps\n"
    "# its lease until released: ansible-playbook -i INVENTORY playbooks/release.yml -e fabric_release=HOST\n"
)


class LedgerError(planner.PlanError):
    """The lease file is unreadable or malformed."""


@contextlib.contextmanager
def locked(path: str, timeout: float = 120.0) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (on ``path + '.lock'``)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
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


def read(path: str) -> dict[str, Any]:
    """Return ``{'network', 'subnet_len', 'leases': {host: subnet}}``; empty leases if the file is absent."""
    if not os.path.exists(path):
        return {"network": None, "subnet_len": None, "leases": {}, "public_ips": {}, "text": ""}
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader (C or Python)
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(["lease file %s is unreadable: %s" % (path, exc)]) from None
    except yaml.YAMLError as exc:
        raise LedgerError(["lease file %s is not valid YAML: %s" % (path, str(exc).replace("\n", " "))]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LedgerError(["lease file %s: expected a mapping at the top, found %s" % (path, type(data).__name__)])
    leases_in = data.get("leases") or {}
    if not isinstance(leases_in, dict):
        raise LedgerError(["lease file %s: 'leases' must map host names to subnets" % path])
    leases: dict[str, str] = {}
    public_ips: dict[str, str] = {}
    problems = []
    for host, value in leases_in.items():
        subnet = value.get("subnet") if isinstance(value, dict) else value
        if isinstance(value, dict) and value.get("public_ip"):
            public_ips[str(host)] = str(value["public_ip"])
        if not isinstance(subnet, str):
            problems.append("lease file %s: host %s has no subnet (found %r)" % (path, host, value))
            continue
        leases[str(host)] = subnet
    if problems:
        raise LedgerError(problems)
    return {
        "network": data.get("network"),
        "subnet_len": data.get("subnet_len"),
        "leases": leases,
        "public_ips": public_ips,
        "text": text,
    }


def render(network: str, subnet_len: int, leases: dict[str, str], public_ips: dict[str, str]) -> str:
    """The ledger's text: stable (sorted by subnet) so that diffs in review stay small."""
    body: dict[str, Any] = {"version": VERSION, "network": network, "subnet_len": int(subnet_len), "leases": {}}
    order = sorted(leases.items(), key=lambda kv: planner.subnet_sort_key(kv[1]))
    for host, subnet in order:
        entry = {"subnet": subnet}
        if public_ips.get(host):
            entry["public_ip"] = public_ips[host]
        body["leases"][host] = entry
    return HEADER + yaml.dump(body, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def write_atomic(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (same-folder temp file, fsync, rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=folder)
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


def plan(
    path: str,
    settings: planner.Settings,
    hosts: Sequence[planner.HostInput],
    release: Iterable[str] = (),
    check_mode: bool = False,
) -> dict[str, Any]:
    """Read the ledger, plan, and (outside check mode) write the new ledger, all under the lock.

    Returns ``{'plan', 'changed', 'before', 'after', 'released'}`` where before/after are
    the ledger's texts. Raises PlanError (nothing written) on any bad input.
    """
    with locked(path):
        current = read(path)
        space, problems = planner.check_settings(settings)
        if problems:
            raise planner.PlanError(problems)
        same_net = current["network"] in (None, str(space.network))
        same_len = current["subnet_len"] in (None, space.subnet_len)
        if current["leases"] and not (same_net and same_len):
            raise LedgerError(
                [
                    "lease file %s was written for %s with /%s subnets but fabric_network is %s with /%d subnets; "
                    "leased hosts are never renumbered: restore the old settings, or move the file aside to "
                    "renumber every host on purpose"
                    % (path, current["network"], current["subnet_len"], space.network, space.subnet_len)
                ]
            )
        release = sorted(set(release))
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
            fabric_plan, new_leases = planner.build_plan(settings, hosts, current["leases"], release)
        except planner.PlanError as exc:
            # The planner names a bad lease "lease file: ..."; say which file.
            named = [p.replace("lease file:", "lease file %s:" % path, 1) for p in exc.problems]
            raise planner.PlanError(named) from None
        # The recorded public IP of hosts absent from this inventory is kept.
        public_ips = dict(current["public_ips"])
        public_ips.update((name, h["public_ip"]) for name, h in fabric_plan["hosts"].items())
        before_text = current["text"]
        after_text = render(str(space.network), space.subnet_len, new_leases, public_ips)
        changed = after_text != before_text
        if changed and not check_mode:
            write_atomic(path, after_text)
        return {
            "plan": fabric_plan,
            "changed": changed,
            "before": before_text,
            "after": after_text,
            "released": [h for h in release if h not in unknown],
            "unknown_release": unknown,
            "leases": new_leases,
        }
