# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fabric changed in the user's Docker configuration, so that reset.yml can undo it.

Pure Python (no Ansible import), unit-tested in tests/unit/test_undo.py. The docker role writes
the record once, the first time it merges its keys into daemon.json (before the merge, from the
file as the user had it), beside daemon.json; reset.yml reads it and gives the user's file back:
the user's own keys as they are now, the fabric's keys as they were before the fabric (restored,
or removed when the user had none), no file at all when there was none.

A record written on a host the fabric already ran on (an older release kept no record) cannot
know the values before the fabric: a key whose value is already the fabric's counts as the
fabric's (removed at reset), and so does subnet.env when daemon.json already holds the fabric's bip.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

# Every key the docker role may set in daemon.json (planner.docker_config).
FABRIC_KEYS = ("bip", "mtu", "ip-masq")
VERSION = 1


def docker_undo(current: Any, fabric: Mapping[str, Any], existed: bool = True, subnet_env: Optional[str] = None,
                bridge: Optional[str] = None) -> Dict[str, Any]:
    """The record: ``current`` is daemon.json as read before the merge, ``fabric`` the keys merged.

    ``subnet_env``: the text of /run/flannel/subnet.env before the fabric wrote its own (flannel's,
    when moving over), or None; not recorded when daemon.json already holds the fabric's bip (an
    older release ran here: the file is the fabric's; flannel's own file for a subnet the fabric
    adopts may read exactly as the fabric's). ``bridge``: docker0's address before the fabric
    (``172.17.0.1/16``), or None: Docker keeps its default bridge's address in its own network
    store and puts it back on docker0 at every start, so reset.yml restarts Docker once with this
    address as ``bip`` before it gives the file back without it. An address that is already the
    fabric's ``bip`` is not recorded.
    """
    current = current if isinstance(current, Mapping) else {}
    keys = {}
    for key in FABRIC_KEYS:
        if key in current and not (key in fabric and current[key] == fabric[key]):
            keys[key] = {"present": True, "value": current[key]}
        else:
            keys[key] = {"present": False}
    fabric_only = all(k in FABRIC_KEYS and k in fabric and current[k] == fabric[k] for k in current)
    # daemon.json already holding the fabric's bip: an older release of the fabric ran here, and
    # subnet.env is the fabric's, whatever its text (flannel's, adopted, may read the same).
    if "bip" in fabric and current.get("bip") == fabric["bip"]:
        subnet_env = None
    if not bridge or bridge == fabric.get("bip"):
        bridge = None
    return {
        "version": VERSION,
        "daemon_json_existed": bool(existed) and not (fabric_only and len(current) > 0),
        "keys": keys,
        "subnet_env": subnet_env,
        "bridge": bridge,
    }


def docker_restore(current: Any, record: Any) -> Optional[Dict[str, Any]]:
    """daemon.json as the user had it, from its ``current`` content and the ``record``.

    The user's own keys stay as they are now; each fabric key gets its recorded value back, or
    goes. None: remove the file (there was none before the fabric, and no key of the user's is
    left). Without a record (None or empty), the fabric's keys are removed.
    """
    current = dict(current) if isinstance(current, Mapping) else {}
    record = record if isinstance(record, Mapping) and record.get("keys") else None
    for key in FABRIC_KEYS:
        was = (record or {}).get("keys", {}).get(key) or {"present": False}
        if was.get("present"):
            current[key] = was.get("value")
        else:
            current.pop(key, None)
    if record is not None and not record.get("daemon_json_existed", True) and not current:
        return None
    return current


def docker_restart_config(restored: Any, record: Any) -> Dict[str, Any]:
    """What daemon.json says for reset's one restart of Docker: the restored file, plus the recorded
    address of docker0 before the fabric as ``bip`` when the user's file sets none (Docker would
    otherwise put the fabric's address back from its network store)."""
    config = dict(restored) if isinstance(restored, Mapping) else {}
    bridge = record.get("bridge") if isinstance(record, Mapping) else None
    if bridge and "bip" not in config:
        config["bip"] = bridge
    return config


def forward_record(lines: Any, ip_forward: Any = None) -> Dict[str, str]:
    """The values of the forward record (what reset.yml and the boot units give back): the host's
    ``ip_forward`` and FORWARD policy as the collection first found them.

    ``lines``: the output lines of the forward role's read, ``cat /proc/sys/net/ipv4/ip_forward``
    then ``iptables -S FORWARD | head -n 1`` (``-P FORWARD DROP``). ``ip_forward``: the value site.yml's
    one read found before any role changed the host, preferred to the first line when it is one.
    A value that is not ``0``/``1``, or a policy line that is not ``-P FORWARD ACCEPT|DROP``, is
    recorded as unknown (empty): nothing is given back for it.
    """
    lines = [str(line).strip() for line in lines] if isinstance(lines, (list, tuple)) else []
    found = str(ip_forward).strip() if ip_forward is not None else ""
    if found not in ("0", "1"):
        found = lines[0] if lines and lines[0] in ("0", "1") else ""
    policy_line = lines[1].split() if len(lines) > 1 else []
    policy = policy_line[2] if policy_line[:2] == ["-P", "FORWARD"] and len(policy_line) == 3 else ""
    return {"ip_forward": found, "forward_policy": policy if policy in ("ACCEPT", "DROP") else ""}
