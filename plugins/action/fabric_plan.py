# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action for crosshost.fabric.fabric_plan: a thin wrapper around the planner.

It reads the inventory (every host of the fabric group, including hosts limited
out of the run, from inventory values and whatever facts are known), hands them
to the planner under the lease ledger's lock, writes the plan files, and returns
the plan as the fact ``fabric_plan``. It never contacts a managed host.

One ledger per plan: unless ``fabric_lease_file`` is set (task argument, or a host
variable every host of the group agrees on), the ledger is ``.fabric/leases.yml`` in the
folder of the FIRST inventory source (the folder itself for ``-i FOLDER``, the file's folder
for ``-i FILE``), whichever host comes first and whatever ``--limit`` says. The dot keeps
it (and ``plan.json``, ``plan.txt`` and the hidden lock file beside it) out of Ansible's
inventory loader, which skips names starting with a dot. A ledger at the old default
``<inventory dir>/fabric-leases.yml`` is read from there and moved at the first write.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp, ledger, options, planner

# The arguments and the cluster-wide host variables come from the one table of options.
ARGUMENT_SPEC = options.argument_spec()

# Cluster-wide settings: the group's hosts carry them (group_vars); the task's arguments
# (the role's defaults) apply where no host sets one. Hosts must agree.
SHARED_VARS = {o.name: o.var for o in options.SHARED}


def _plain(value):
    """Plain Python values: ansible-core 2.19 tags strings, which YAML and the planner need not see."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return json.loads(json.dumps(value, default=str))


def _facts(facts):
    """The few facts the planner reads: interfaces with their IPv4 addresses and MTU, and default_ipv4."""
    if not facts:
        return {}
    keep = {
        "interfaces": _plain(facts.get("interfaces") or []),
        "default_ipv4": _plain(facts.get("default_ipv4") or {}),
        "kernel": _plain(facts.get("kernel")),
    }
    for ifname in keep["interfaces"]:
        info = planner.iface_facts(facts, ifname)
        keep[planner.fact_key(ifname)] = {
            k: _plain(info.get(k)) for k in ("ipv4", "ipv4_secondaries", "mtu") if k in info
        }
    return keep


# Beside the inventory: a hidden folder, never parsed as inventory.
DEFAULT_DIR = ".fabric"
DEFAULT_LEASE_FILE = os.path.join(DEFAULT_DIR, "leases.yml")
LEGACY_LEASE_FILE = "fabric-leases.yml"
LEGACY_PLAN_DIR = "fabric-plan"


def inventory_dir(sources):
    """The folder of the first inventory source (itself when a folder), or None when it is no path."""
    for source in list(sources or [])[:1]:
        source = str(source)
        if os.path.isdir(source):
            return os.path.abspath(source)
        if os.path.isfile(source):
            return os.path.dirname(os.path.abspath(source))
    return None


def _subnet_env(value):
    """The text of /run/flannel/subnet.env from a read of the host (None when not read): the plan role's own
    (plan_read_hosts), or site.yml's one read (the backend role's, backend_host_state)."""
    content = ((value or {}).get("contents") or {}).get(planner.SUBNET_ENV) if isinstance(value, dict) else None
    if not content:
        return None
    try:
        return base64.b64decode(str(content)).decode("utf-8", "replace")
    except (ValueError, TypeError):
        return None


def read_as_inventory(path, sources):
    """The inventory folder that would read ``path`` as inventory (no dot-named component on the way), or None."""
    if not path:
        return None
    path = os.path.abspath(path)
    for source in sources or ():
        folder = os.path.abspath(str(source))
        if not os.path.isdir(folder) or not path.startswith(folder.rstrip(os.sep) + os.sep):
            continue
        parts = os.path.relpath(path, folder).split(os.sep)
        if not any(part.startswith(".") or part in ("group_vars", "host_vars") for part in parts):
            return folder
    return None


def _expand(path):
    return os.path.abspath(os.path.expanduser(path)) if path else path


def _few(names, most=5):
    names = sorted(names)
    return ", ".join(names[:most]) + (" and %d more" % (len(names) - most) if len(names) > most else "")


def _bgp_section(args, names, hosts, task_vars, public_ips=None, previous=None):
    """Backend bgp: validate the BGP inventory and return the plan's bgp section.

    The speakers are the fabric hosts and the members of the reflector group that are not in
    the fabric (routers without containers). Passwords are read here only to be validated:
    they never enter the plan (the role writes them to a file of their own). Called twice:
    before the ledger is touched, to refuse bad input (fabric hosts whose public IP only the
    ledger knows are left out then), and with the plan's public IPs to build the section.
    ``previous``: the speakers of the plan written last; a speaker without facts (limited out
    of the run) keeps the addresses recorded there, so --limit does not rewrite the plan.
    """
    hostvars = task_vars["hostvars"]
    in_fabric = {str(n) for n in names}
    reflectors = [str(n) for n in task_vars.get("groups", {}).get(args["reflector_group"], [])]
    inputs, passwords = [], {}
    public = public_ips or {h.name: h.public_ip for h in hosts}
    for name in list(in_fabric) + [r for r in reflectors if r not in in_fabric]:
        hv = hostvars[name]
        facts = hv.get("ansible_facts")
        public_ip = public.get(name)
        if name not in in_fabric:
            public_ip = planner.host_from_facts(
                name, facts=_facts(facts), public_ip=_plain(hv.get("fabric_public_ip")),
                ansible_host=_plain(hv.get("ansible_host"))).public_ip
        password = _plain(hv.get("fabric_bgp_password"))
        passwords.setdefault(json.dumps(password), []).append(name)
        addresses = bgp.addresses_from_facts(_facts(facts))
        if not (facts or {}).get("interfaces"):
            addresses = list(((previous or {}).get(name) or {}).get("addresses") or addresses)
        inputs.append(bgp.BgpInput(
            name=name,
            public_ip=public_ip,
            addresses=addresses,
            rack=_plain(hv.get("fabric_rack")),
            asn=_plain(hv.get("fabric_bgp_asn")),
            peers=_plain(hv.get("fabric_bgp_peers")),
            reflector=name in reflectors,
            router=name not in in_fabric,
        ))
    if len(passwords) > 1:
        raise planner.PlanError([
            "hosts disagree on fabric_bgp_password (values not shown): groups of hosts %s. It is one password "
            "for every fabric session; per-router passwords go in fabric_bgp_peers"
            % "; ".join(_few(h) for h in sorted(passwords.values()))])
    password = json.loads(next(iter(passwords))) if passwords else None
    return bgp.plan_bgp(
        args["network"], sorted(inputs, key=lambda i: i.name),
        bgp.BgpSettings(mode=args["bgp_mode"], encap=args["bgp_encap"], password=password))


def _previous_speakers(plan_dir):
    """The BGP speakers of the plan last written to plan_dir ({} when there is none)."""
    if not plan_dir:
        return {}
    try:
        with open(os.path.join(plan_dir, "plan.json"), encoding="utf-8") as handle:
            return (json.load(handle).get("bgp") or {}).get("speakers") or {}
    except (OSError, ValueError, AttributeError):
        return {}


def _underlay(hosts, hostvars):
    """What the hosts still need for a backend to run: their underlay interface.

    A host whose facts were gathered (site.yml does) and whose interface is still unknown is an
    error (no interface holds its public IP); one without facts and without ``fabric_iface`` gets a
    note in the printed plan (not an Ansible warning: a plain plan.yml run warns about nothing):
    plan.yml reads no host, and the host run will need facts or fabric_iface.
    """
    problems, unknown = [], []
    for h in hosts:
        if h.iface or not h.public_ip:
            continue  # a missing public IP is reported by the planner
        if "all_ipv4_addresses" in (hostvars[h.name].get("ansible_facts") or {}):
            problems.append(
                "host %s: no interface holds its public IP %s (facts gathered); set fabric_iface to the underlay"
                " interface" % (h.name, h.public_ip)
            )
        else:
            unknown.append(h.name)
    notes = []
    if unknown:
        notes.append(
            "NOTE: no underlay interface known yet for %s (no facts, no fabric_iface): the host run (site.yml)"
            " gathers facts and needs an interface holding the public IP there, or set fabric_iface"
            % _few(unknown, 10)
        )
    return problems, notes


def group_hosts(task_vars, group):
    """The names of the fabric group's hosts; an empty or missing group is refused."""
    names = list(task_vars.get("groups", {}).get(group, []))
    if not names:
        raise AnsibleActionFail("the inventory group %r is empty or missing: no fabric to plan" % group)
    return names


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def _host_inputs(self, names, hostvars, args):
        hosts, problems = [], []
        seen = {key: {} for key in SHARED_VARS}  # key -> {json value: [hosts]}
        for name in names:
            hv = hostvars[name]
            name = str(name)
            for key, var in SHARED_VARS.items():
                value = _plain(hv.get(var))
                seen[key].setdefault(json.dumps(value, sort_keys=True), []).append(name)
            hosts.append(
                planner.host_from_facts(
                    name,
                    facts=_facts(hv.get("ansible_facts")),
                    public_ip=_plain(hv.get("fabric_public_ip")),
                    ansible_host=_plain(hv.get("ansible_host")),
                    iface=_plain(hv.get("fabric_iface")),
                    pinned_subnet=_plain(hv.get("fabric_subnet")),
                    iface_mtu=_plain(hv.get("fabric_iface_mtu")),
                    subnet_env=(_subnet_env(_plain(hv.get("plan_running")))
                                or _subnet_env(_plain(hv.get("backend_host_state")))),
                )
            )
        settings = dict(args)
        for key, values in seen.items():
            unset = values.pop("null", [])
            if not values:
                continue  # no host sets it: the argument (the role's default) applies
            default = json.dumps(args[key], sort_keys=True)
            if len(values) == 1 and (not unset or default in values):
                settings[key] = json.loads(next(iter(values)))
                continue
            if unset:
                values["%s (the default, unset)" % default] = unset
            detail = "; ".join("%s on %s" % (v, _few(h)) for v, h in sorted(values.items()))
            problems.append(
                "hosts disagree on %s: %s. Cluster-wide settings belong to the group, not to single hosts"
                % (SHARED_VARS[key], detail)
            )
        return hosts, settings, problems

    def _paths(self, names, hostvars, args, task_vars):
        """(lease_file, plan_dir, legacy_lease_file, legacy_plan_dir, problems): one ledger per plan."""
        problems, found = [], {}
        for key in ("lease_file", "plan_dir"):
            var = "fabric_" + key
            if args.get(key) is not None:
                found[key] = args[key]
                continue
            seen = {}
            for name in names:
                value = _plain(hostvars[name].get(var))
                seen.setdefault(json.dumps(value), []).append(str(name))
            unset = seen.pop("null", [])
            if len(seen) > 1 or (seen and unset):
                if unset:
                    seen["unset"] = unset
                detail = "; ".join("%s on %s" % (v, _few(h)) for v, h in sorted(seen.items()))
                problems.append("hosts disagree on %s: %s. One plan has one ledger: set it for the whole group"
                                % (var, detail))
            elif seen:
                found[key] = json.loads(next(iter(seen)))
        base = inventory_dir(task_vars.get("ansible_inventory_sources"))
        legacy_lease = legacy_plan = None
        lease_file = found.get("lease_file")
        if lease_file in (None, ""):
            if base is None:
                problems.append(
                    "no lease file: the first inventory source %r is not a file or folder; set fabric_lease_file"
                    % (list(task_vars.get("ansible_inventory_sources") or [None])[0],)
                )
            else:
                lease_file = os.path.join(base, DEFAULT_LEASE_FILE)
                legacy_lease = os.path.join(base, LEGACY_LEASE_FILE)
        plan_dir = found.get("plan_dir")
        if plan_dir is None and base is not None:
            plan_dir = os.path.join(base, DEFAULT_DIR)
            legacy_plan = os.path.join(base, LEGACY_PLAN_DIR)
        return _expand(lease_file), _expand(plan_dir), legacy_lease, legacy_plan, problems

    def _write_plan(self, plan_dir, plan):
        files = {
            "plan.json": json.dumps(plan, indent=2, sort_keys=True) + "\n",
            "plan.txt": planner.plan_table(plan),
        }
        changed = []
        for fname, text in files.items():
            path = os.path.join(plan_dir, fname)
            try:
                with open(path, encoding="utf-8") as handle:
                    if handle.read() == text:
                        continue
            except OSError:
                pass
            changed.append(path)
            if not self._task.check_mode:
                ledger.write_atomic(path, text)
        return changed

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        if planner.netaddr is None:
            raise AnsibleActionFail(planner.NETADDR_MISSING)
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        args = {k: _plain(v) for k, v in args.items()}
        names = group_hosts(task_vars, args["group"])
        hosts, args, problems = self._host_inputs(names, task_vars["hostvars"], args)
        lease_file, plan_dir, legacy_lease, legacy_plan, path_problems = self._paths(
            names, task_vars["hostvars"], args, task_vars)
        problems += path_problems
        settings = planner.Settings(**options.settings_kwargs(args))
        underlay_problems, notes = _underlay(hosts, task_vars["hostvars"])
        problems += underlay_problems
        warnings = []
        try:
            if problems:
                # Report every fault at once: the planner's own findings join the ones above
                # (check mode: no lock is taken and nothing is written).
                try:
                    ledger.plan(lease_file, settings, hosts, release=args["release"], check_mode=True,
                                legacy_path=legacy_lease)
                except planner.PlanError as exc:
                    problems += [p for p in exc.problems if p not in problems]
                raise planner.PlanError(problems)
            if args["backend"] == "bgp":
                _bgp_section(args, names, hosts, task_vars)  # refuses bad BGP input before any write
            out = ledger.plan(
                lease_file, settings, hosts, release=args["release"], check_mode=self._task.check_mode,
                legacy_path=legacy_lease,
            )
        except planner.PlanError as exc:
            raise AnsibleActionFail(str(exc)) from None
        plan = out["plan"]
        if args["backend"] == "bgp":
            # Every fabric host's public IP is known now (a host limited out of the run and named
            # by ansible_host has the one the ledger recorded): it stays a speaker under --limit.
            try:
                bgp_section, bgp_warnings = _bgp_section(
                    args, names, hosts, task_vars, {n: h["public_ip"] for n, h in plan["hosts"].items()},
                    previous=_previous_speakers(plan_dir))
            except planner.PlanError as exc:
                raise AnsibleActionFail(str(exc)) from None
            warnings += bgp_warnings
            bgp.attach(plan, bgp_section)
        written = [lease_file] if out["changed"] else []
        if plan_dir:
            try:
                written += self._write_plan(plan_dir, plan)
            except planner.PlanError as exc:
                raise AnsibleActionFail(str(exc)) from None
        if out["migrated_from"] and legacy_plan and not self._task.check_mode:
            # The old default plan folder held generated files only, which inventory loaders read.
            for name in ("plan.json", "plan.txt"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(legacy_plan, name))
            with contextlib.suppress(OSError):
                os.rmdir(legacy_plan)
        summary = "%d hosts planned in %s (/%d each), backend %s%s%s%s" % (
            len(plan["hosts"]),
            plan["network"],
            plan["subnet_len"],
            plan["backend"],
            "; released: " + ", ".join(out["released"]) if out["released"] else "",
            "; adopted (already running): " + ", ".join("%s %s" % kv for kv in out["adopted"].items())
            if out["adopted"] else "",
            "; %s %s from %s" % ("would move" if self._task.check_mode else "moved", "the ledger",
                                 out["migrated_from"]) if out["migrated_from"] else "",
        )
        if self._task.check_mode:
            # Nothing was rewritten: point at no file.
            msg = "preview (check mode: nothing written): " + summary
        else:
            msg = summary + "; lease file " + lease_file
            if plan_dir:
                msg += "; table in " + os.path.join(plan_dir, "plan.txt")
        result.update(
            changed=bool(written),
            written=written,
            released=out["released"],
            adopted=out["adopted"],
            lease_file=lease_file,
            plan_dir=plan_dir,
            migrated_from=out["migrated_from"],
            ansible_facts={"fabric_plan": plan},
            plan_table=planner.plan_table(plan),
            notes=notes,
            msg=msg,
        )
        sources = task_vars.get("ansible_inventory_sources")
        for label, path in (("fabric_lease_file", lease_file), ("fabric_plan_dir", plan_dir)):
            folder = read_as_inventory(path, sources)
            if folder:
                warnings.append(
                    "%s %s lies in the inventory folder %s, whose files Ansible reads as inventory: move it into a "
                    "folder whose name starts with a dot (the default is %s)"
                    % (label, path, folder, os.path.join(folder, DEFAULT_DIR))
                )
        if out["unknown_release"]:
            warnings.append("no lease to release for: %s" % ", ".join(out["unknown_release"]))
        if warnings:
            result["warnings"] = warnings
        if self._task.diff and out["changed"]:
            result["diff"] = {
                "before": out["before"],
                "after": out["after"],
                "before_header": out["migrated_from"] or lease_file,
                "after_header": lease_file,
            }
        return result
