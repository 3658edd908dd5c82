# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action for crosshost.fabric.fabric_plan: a thin wrapper around the planner.

It reads the inventory (every host of the fabric group, including hosts limited
out of the run, from inventory values and whatever facts are known), hands them
to the planner under the lease ledger's lock, writes the plan files, and returns
the plan as the fact ``fabric_plan``. It never contacts a managed host.
"""

from __future__ import annotations

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
        key = str(ifname).replace("-", "_").replace(".", "_")
        info = facts.get(key) or {}
        keep[key] = {k: _plain(info.get(k)) for k in ("ipv4", "ipv4_secondaries", "mtu") if k in info}
    return keep


def _few(names, most=5):
    names = sorted(names)
    return ", ".join(names[:most]) + (" and %d more" % (len(names) - most) if len(names) > most else "")


def _bgp_section(args, names, hosts, task_vars):
    """Backend bgp: validate the BGP inventory and return the plan's bgp section (before any write).

    The speakers are the fabric hosts and the members of the reflector group that are not in
    the fabric (routers without containers). Passwords are read here only to be validated:
    they never enter the plan (the role writes them to a file of their own).
    """
    hostvars = task_vars["hostvars"]
    in_fabric = {str(n) for n in names}
    reflectors = [str(n) for n in task_vars.get("groups", {}).get(args["reflector_group"], [])]
    inputs, passwords = [], {}
    public = {h.name: h.public_ip for h in hosts}
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
        inputs.append(bgp.BgpInput(
            name=name,
            public_ip=public_ip,
            addresses=bgp.addresses_from_facts(_facts(facts)),
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
        names = list(task_vars.get("groups", {}).get(args["group"], []))
        if not names:
            raise AnsibleActionFail("the inventory group %r is empty or missing: no fabric to plan" % args["group"])
        hosts, args, problems = self._host_inputs(names, task_vars["hostvars"], args)
        settings = planner.Settings(**options.settings_kwargs(args))
        bgp_section, warnings = None, []
        try:
            if problems:
                raise planner.PlanError(problems)
            if args["backend"] == "bgp":
                bgp_section, warnings = _bgp_section(args, names, hosts, task_vars)
            out = ledger.plan(
                args["lease_file"], settings, hosts, release=args["release"], check_mode=self._task.check_mode
            )
        except planner.PlanError as exc:
            raise AnsibleActionFail(str(exc)) from None
        plan = out["plan"]
        if bgp_section is not None:
            bgp.attach(plan, bgp_section)
        written = [args["lease_file"]] if out["changed"] else []
        if args["plan_dir"]:
            written += self._write_plan(args["plan_dir"], plan)
        result.update(
            changed=bool(written),
            written=written,
            released=out["released"],
            ansible_facts={"fabric_plan": plan},
            msg="%d hosts planned in %s (/%d each), backend %s; lease file %s%s"
            % (
                len(plan["hosts"]),
                plan["network"],
                plan["subnet_len"],
                plan["backend"],
                args["lease_file"],
                ", released: " + ", ".join(out["released"]) if out["released"] else "",
            ),
        )
        if out["unknown_release"]:
            warnings.append("no lease to release for: %s" % ", ".join(out["unknown_release"]))
        if warnings:
            result["warnings"] = warnings
        if self._task.diff and out["changed"]:
            result["diff"] = {
                "before": out["before"],
                "after": out["after"],
                "before_header": args["lease_file"],
                "after_header": args["lease_file"],
            }
        return result
