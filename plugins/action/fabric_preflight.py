# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side action for crosshost.fabric.fabric_preflight: what the inventory alone decides.

site.yml runs it on localhost before any play contacts a host, so that an unreachable host cannot
hide a refusal. It reads the fabric group's cluster-wide settings the way fabric_plan does (from
every host's variables, hosts must agree) and validates them with the planner's check_settings.
Per-host checks that need facts (public IPs, interfaces, what the hosts run) stay with fabric_plan.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail

from ansible_collections.crosshost.fabric.plugins.action import fabric_plan
from ansible_collections.crosshost.fabric.plugins.plugin_utils import options, planner

ARGUMENT_SPEC = {"group": {"type": "str", "default": "fabric"}}


class ActionModule(fabric_plan.ActionModule):
    """fabric_plan's reading of the inventory, without facts, files or a plan."""

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(fabric_plan.ActionModule, self).run(tmp, task_vars)  # ActionBase.run
        del tmp
        if planner.netaddr is None:
            raise AnsibleActionFail(planner.NETADDR_MISSING)
        _valid, given = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        names = fabric_plan.group_hosts(task_vars, given["group"])
        # fabric_plan's defaults; the hosts' variables (group_vars, extra vars) override them.
        args = {name: spec.get("default") for name, spec in fabric_plan.ARGUMENT_SPEC.items()}
        args["group"] = given["group"]
        _hosts, args, problems = self._host_inputs(names, task_vars["hostvars"], args)
        _space, setting_problems = planner.check_settings(planner.Settings(**options.settings_kwargs(args)))
        problems += setting_problems
        if problems:
            raise AnsibleActionFail(str(planner.PlanError(problems)) + "; no host was contacted")
        result.update(
            changed=False,
            backend=args["backend"],
            msg="the inventory's cluster-wide settings for %d hosts are sound (backend %s, network %s)"
            % (len(names), args["backend"], args["network"]),
        )
        return result
