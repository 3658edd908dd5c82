#!/usr/bin/env python3
# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the texts derived from plugins/plugin_utils/options.py (the one table of the fabric's variables).

    python tools/options_docs.py          # rewrite the generated blocks (make docs)
    python tools/options_docs.py --check  # exit 1 and name the stale files (tests/unit/test_options.py)

Each target holds one block between a BEGIN and an END marker line; only the block is rewritten:
the module DOCUMENTATION options of fabric_plan, the plan role's meta/argument_specs.yml options and
task arguments, and the README's variables table.
"""

from __future__ import annotations

import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))

from ansible_collections.crosshost.fabric.plugins.plugin_utils import options  # noqa: E402

BEGIN = "BEGIN generated from plugins/plugin_utils/options.py by make docs"
END = "END generated"


class _Flow(list):
    """A short list of scalars, written inline: [a, b]."""


class _Dumper(yaml.SafeDumper):
    """Block sequences indented under their key, as yamllint and ansible-lint expect."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


_Dumper.add_representer(_Flow, lambda dumper, data: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", data, flow_style=True))


def _yaml(data, indent):
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(True))


def _doc_entry(o, with_default=True):
    entry = {"description": o.description[0] if len(o.description) == 1 else list(o.description), "type": o.type}
    if o.elements:
        entry["elements"] = o.elements
    if o.choices:
        entry["choices"] = _Flow(o.choices)
    if o.required:
        entry["required"] = True
    elif with_default and o.default is not None:
        entry["default"] = _Flow(o.default) if isinstance(o.default, list) else o.default
    return entry


def module_options():
    """The options of the fabric_plan module's DOCUMENTATION (indented under `options:`)."""
    return _yaml({o.name: _doc_entry(o) for o in options.PLAN_OPTIONS}, 2)


def role_options():
    """The options of roles/plan/meta/argument_specs.yml: the fabric_* variables (lease_file is computed)."""
    out = {}
    for o in options.PLAN_OPTIONS:
        entry = _doc_entry(o)
        entry.pop("required", None)
        out[o.var] = entry
    return _yaml(out, 6)


def role_task_args():
    """The arguments of the plan role's fabric_plan task: every option, from its variable."""
    return "".join('    %s: "%s"\n' % (o.name, o.role_value or "{{ %s | default(omit) }}" % o.var)
                   for o in options.PLAN_OPTIONS)


def _md(text):
    """Ansible markup to Markdown code spans."""
    return re.sub(r"\b[CVO]\(([^)]*)\)", r"`\1`", text).replace("|", "\\|")


def _md_value(value):
    if isinstance(value, bool):
        return "`%s`" % str(value).lower()
    if isinstance(value, (list, tuple)):
        return "`[%s]`" % ", ".join(str(v) for v in value)
    return "`%s`" % value


def readme_table():
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for o in options.OPTIONS:
        if o.doc_default:
            default = o.doc_default
        elif o.default is None:
            default = "—"
        else:
            default = _md_value(o.default)
        meaning = " ".join(o.description)
        if o.choices:
            meaning += " One of %s." % ", ".join("`%s`" % c for c in o.choices)
        name = "`%s`" % o.var if o.kind != "host" else "per host: `%s`" % o.var
        if o.kind == "group":
            name += " (group)"
        rows.append("| %s | %s | %s |" % (name, default, _md(meaning)))
    return "\n".join(rows) + "\n"


# (path relative to ROOT, comment prefix of the marker lines, generator)
TARGETS = (
    ("plugins/modules/fabric_plan.py", "  # ", module_options),
    ("roles/plan/meta/argument_specs.yml", "      # ", role_options),
    ("roles/plan/tasks/main.yml", "    # ", role_task_args),
    ("README.md", "<!-- ", readme_table),
)


def _marker(prefix, word):
    return prefix + word + (" -->" if prefix.startswith("<!--") else "") + "\n"


def render(path, prefix, generate, text):
    """`text` with its generated block replaced by a fresh one."""
    begin, end = _marker(prefix, BEGIN), _marker(prefix, END)
    if text.count(begin) != 1 or text.count(end) != 1:
        raise SystemExit("%s: expected one line %r and one line %r" % (path, begin.strip(), end.strip()))
    head, rest = text.split(begin)
    _old, tail = rest.split(end)
    return head + begin + generate() + end + tail


def stale():
    """The targets whose generated block differs from what options.py gives, with their fresh text."""
    out = {}
    for rel, prefix, generate in TARGETS:
        path = os.path.join(ROOT, rel)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        fresh = render(rel, prefix, generate, text)
        if fresh != text:
            out[rel] = fresh
    return out


def main(argv):
    changed = stale()
    if "--check" in argv:
        for rel in changed:
            print("%s is stale: run make docs" % rel)
        return 1 if changed else 0
    for rel, fresh in changed.items():
        with open(os.path.join(ROOT, rel), "w", encoding="utf-8") as handle:
            handle.write(fresh)
        print("wrote %s" % rel)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
