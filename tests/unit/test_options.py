"""One source for the fabric's variables (plugins/plugin_utils/options.py): every other place that states
an option, its type or its default (planner.Settings, the action's ARGUMENT_SPEC, the module
DOCUMENTATION, the plan role's argument spec and task, the README table) agrees with it. Each place is
read on its own here, so a default changed in one place only fails this file."""

import ast
import dataclasses
import importlib.util
import os
import re

import yaml

from ansible_collections.crosshost.fabric.plugins.plugin_utils import options, planner
from ansible_collections.crosshost.fabric.plugins.plugin_utils.options import OPTIONS, PLAN_OPTIONS, SETTINGS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as handle:
        return handle.read()


def _load_tool():
    spec = importlib.util.spec_from_file_location("options_docs", os.path.join(ROOT, "tools", "options_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_texts_are_not_stale():
    stale = _load_tool().stale()
    assert not stale, "stale, run `make docs`: %s" % ", ".join(sorted(stale))


def test_settings_fields_and_defaults_are_the_options():
    fields = {f.name: f.default for f in dataclasses.fields(planner.Settings)}
    expected = {o.setting: tuple(o.default) if isinstance(o.default, list) else o.default for o in SETTINGS}
    assert fields == expected
    assert planner.BACKENDS == options.BY_NAME["backend"].choices


def test_the_planner_applies_the_documented_defaults():
    hosts = [planner.HostInput("n%d" % i, public_ip="192.0.2.%d" % i) for i in (1, 2)]
    plan, _ = planner.build_plan(planner.Settings(), hosts)
    d = {o.name: o.default for o in OPTIONS}
    assert (plan["network"], plan["subnet_len"], plan["backend"]) == (d["network"], d["subnet_len"], d["backend"])
    assert (plan["vxlan_vni"], plan["vxlan_port"], plan["ip_masq"]) == (d["vxlan_vni"], d["vxlan_port"], d["ip_masq"])
    assert plan["route_protocol"] == d["route_protocol"]
    assert {h["mtu"] for h in plan["hosts"].values()} == {d["default_mtu"] - planner.BACKEND_OVERHEAD[d["backend"]]}


def test_action_argument_spec_is_the_options():
    from ansible_collections.crosshost.fabric.plugins.action import fabric_plan

    assert fabric_plan.ARGUMENT_SPEC == options.argument_spec()
    assert set(fabric_plan.ARGUMENT_SPEC) == {o.name for o in PLAN_OPTIONS}
    for o in PLAN_OPTIONS:
        spec = fabric_plan.ARGUMENT_SPEC[o.name]
        assert spec["type"] == o.type and spec.get("default") == o.default, o.name
    assert fabric_plan.SHARED_VARS == {o.name: o.var for o in options.SHARED}
    assert {o.name for o in SETTINGS} <= {o.name for o in options.SHARED}


def _module_doc():
    tree = ast.parse(_read("plugins/modules/fabric_plan.py"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise AssertionError("no DOCUMENTATION")


def test_module_documentation_states_the_options():
    doc = _module_doc()["options"]
    assert set(doc) == {o.name for o in PLAN_OPTIONS}
    for o in PLAN_OPTIONS:
        assert doc[o.name]["type"] == o.type, o.name
        assert doc[o.name].get("default") == o.default, "%s: DOCUMENTATION says %r, options.py %r" % (
            o.name, doc[o.name].get("default"), o.default)
        assert doc[o.name].get("required", False) == o.required, o.name
        assert tuple(doc[o.name].get("choices") or ()) == (o.choices or ()), o.name


def test_plan_role_argument_spec_and_task_state_the_options():
    spec = yaml.safe_load(_read("roles/plan/meta/argument_specs.yml"))["argument_specs"]["main"]["options"]
    # The role's own knobs (plan_*, like vxlan_* and forward_*) are not fabric variables.
    assert {k for k in spec if not k.startswith("plan_")} == {o.var for o in PLAN_OPTIONS}
    for o in PLAN_OPTIONS:
        assert spec[o.var]["type"] == o.type, o.var
        assert spec[o.var].get("default") == o.default, "%s: argument_specs.yml says %r, options.py %r" % (
            o.var, spec[o.var].get("default"), o.default)
    tasks = yaml.safe_load(_read("roles/plan/tasks/main.yml"))
    [task] = [t["crosshost.fabric.fabric_plan"] for t in tasks if "crosshost.fabric.fabric_plan" in t]
    assert set(task) == {o.name for o in PLAN_OPTIONS}
    for o in PLAN_OPTIONS:
        assert task[o.name] == (o.role_value or "{{ %s | default(omit) }}" % o.var), o.name


def _readme_rows():
    text = _read("README.md")
    table = text.split("\n## Variables\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"^\| (?:per host: )?`(fabric_\w+)`(?: \(group\))? \| (.*?) \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_readme_table_states_every_variable_and_its_default():
    rows = _readme_rows()
    assert set(rows) == {o.var for o in OPTIONS}
    for o in OPTIONS:
        shown = rows[o.var][0]
        if o.doc_default:
            assert shown == o.doc_default, o.var
        elif o.default is None:
            assert shown == "—", o.var
        else:
            m = re.fullmatch(r"`([^`]*)`", shown)
            assert m, "%s: README default %r is not a code span" % (o.var, shown)
            assert yaml.safe_load(m.group(1)) == o.default, "%s: README says %s, options.py %r" % (
                o.var, shown, o.default)


def _playbook_and_role_texts():
    for top in ("playbooks", "roles"):
        for dirpath, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith((".yml", ".j2")) and os.path.basename(dirpath) != "meta":
                    with open(os.path.join(dirpath, name), encoding="utf-8") as handle:
                        yield os.path.relpath(os.path.join(dirpath, name), ROOT), handle.read()


def test_every_fabric_variable_the_roles_and_playbooks_read_is_an_option():
    """A fabric_* variable read anywhere but not in the table would be an undocumented setting."""
    # fabric_route_reflectors: the inventory group fabric_reflector_group names by default (site.yml's
    # host pattern), a group's name, not a variable.
    known = {o.var for o in OPTIONS} | {"fabric_plan", "fabric_route_reflectors"}
    seen = set()
    for path, text in _playbook_and_role_texts():
        if path.endswith(".j2"):  # only what Jinja reads; the rest of a template is its own language
            text = "\n".join(re.findall(r"\{[{%](.*?)[%}]\}", text, re.S))
        seen |= set(re.findall(r"(?<![.\w])(fabric_[a-z_]+)\b", text))
    assert seen - known == set()


def test_inline_defaults_in_playbooks_and_roles_are_the_options():
    """`fabric_x | default(v)` written in a playbook or a role must say the option's default."""
    found = 0
    for path, text in _playbook_and_role_texts():
        for var, value in re.findall(r"\b(fabric_[a-z_]+) \| default\(([^()]*)\)", text):
            if value == "omit" or var not in {o.var for o in OPTIONS if o.default is not None}:
                continue
            found += 1
            option = options.BY_NAME[var[len("fabric_"):]]
            assert yaml.safe_load(value) == option.default, (
                "%s: %s | default(%s), options.py says %r" % (path, var, value, option.default))
    assert found >= 3  # site.yml's fabric_group, fabric_backend and fabric_docker at least
