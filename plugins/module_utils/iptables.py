# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for the fabric_firewall module (host side, stdlib only).

Everything here works on text in iptables-save syntax and on a small in-memory
model of it; running commands is the module's job. The model is deliberately
tiny: per table, the chains (in order) and per chain its rule specs, each spec
being exactly what ``iptables-save`` prints after ``-A CHAIN``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import difflib
import re

MARKER = "crosshost.fabric"

# Every chain the module owns carries this prefix; it refuses any other name, so it can
# never adopt (and flush) DOCKER-USER or a chain of the user's.
PREFIX = "FABRIC-"

BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}

CHAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,27}\Z")  # \Z: "$" would accept a final newline

# A jump we own: what iptables-save prints for "-m comment --comment MARKER -j X".
_OWNED_JUMP = re.compile(
    r'^-m comment --comment "?' + re.escape(MARKER) + r'"? -j (?P<target>\S+)$'
)
# An unconditional verdict: every rule after it in the same chain is dead.
# (RETURN too: in a user chain such as DOCKER-USER it ends the chain as surely.)
_TERMINAL = re.compile(r"^-j (ACCEPT|DROP|REJECT|RETURN)(\s|$)")

UNREACHABLE = "  # unreachable: after an unconditional verdict"


def jump_spec(chain, quoted=True):
    """The spec of our jump to ``chain`` (quoted as iptables-save prints it)."""
    comment = '"%s"' % MARKER if quoted else MARKER
    return "-m comment --comment %s -j %s" % (comment, chain)


def owned_target(spec):
    """The chain an owned jump points to, or None if ``spec`` is not ours."""
    match = _OWNED_JUMP.match(spec)
    if match is None or not match.group("target").startswith(PREFIX):
        return None
    return match.group("target")


def new_table(name):
    return {"chains": list(BUILTIN_CHAINS.get(name, ())), "rules": {}}


def parse_save(text):
    """Parse iptables-save output into {table: {"chains": [...], "rules": {chain: [spec]}}}."""
    tables = {}
    table = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = tables.setdefault(line[1:], {"chains": [], "rules": {}})
        elif line == "COMMIT":
            table = None
        elif table is None:
            raise ValueError("iptables-save line outside a table: %s" % line)
        elif line.startswith(":"):
            name = line[1:].split()[0]
            if name not in table["chains"]:
                table["chains"].append(name)
        elif line.startswith("-A "):
            parts = line.split(None, 2)
            table["rules"].setdefault(parts[1], []).append(parts[2] if len(parts) > 2 else "")
        else:
            raise ValueError("unexpected iptables-save line: %s" % line)
    return tables


class Batch:
    """Restore lines for one table, applied at the same time to a model of that table.

    The model (``self.table``) then is what the kernel will hold after the batch,
    which gives the expected "after" state for check mode and diff mode.
    """

    def __init__(self, table):
        self.table = table
        self.declare = []
        self.fill = []
        self.delete = []
        self.insert = []
        self.flush = []
        self.remove = []

    def lines(self):
        return self.declare + self.fill + self.delete + self.insert + self.flush + self.remove

    def rules(self, chain):
        return self.table["rules"].setdefault(chain, [])

    def replace_chain(self, chain, specs):
        # Under --noflush, ":CHAIN - [0:0]" creates the chain, or flushes it if it exists.
        self.declare.append(":%s - [0:0]" % chain)
        if chain not in self.table["chains"]:
            self.table["chains"].append(chain)
        self.table["rules"][chain] = []
        for spec in specs:
            self.fill.append("-A %s %s" % (chain, spec))
            self.table["rules"][chain].append(spec)

    def create_chain(self, chain):
        """Create a chain that does not exist (never used on an existing one: under
        --noflush the declaration would flush it)."""
        self.declare.append(":%s - [0:0]" % chain)
        self.table["chains"].append(chain)
        self.table["rules"][chain] = []

    def delete_rule(self, chain, spec):
        self.delete.append("-D %s %s" % (chain, spec))
        self.rules(chain).remove(spec)

    def insert_rule(self, chain, spec, index=None):
        """Insert at 1-based ``index``; append when ``index`` is None."""
        rules = self.rules(chain)
        if index is None or index > len(rules):
            self.insert.append("-A %s %s" % (chain, spec))
            rules.append(spec)
        else:
            self.insert.append("-I %s %d %s" % (chain, index, spec))
            rules.insert(index - 1, spec)

    def remove_chain(self, chain):
        self.flush.append("-F %s" % chain)
        self.remove.append("-X %s" % chain)
        self.table["chains"].remove(chain)
        self.table["rules"].pop(chain, None)


def first_terminal(rules):
    """1-based index of the first unconditional ACCEPT/DROP/REJECT/RETURN rule, or None."""
    for index, spec in enumerate(rules, 1):
        if _TERMINAL.match(spec):
            return index
    return None


def reachable(rules, index):
    """Whether the rule at 0-based ``index`` can ever be reached."""
    terminal = first_terminal(rules)
    return terminal is None or index < terminal - 1


def owned_jumps(table):
    """[(hook, spec, target)] of every jump we own in a table model, in order."""
    found = []
    for chain in table["chains"]:
        for spec in table["rules"].get(chain, []):
            target = owned_target(spec)
            if target is not None:
                found.append((chain, spec, target))
    return found


def _references(table, chain, ignore_chains=()):
    """Rules outside ``ignore_chains`` that jump or go to ``chain`` (our jumps excluded)."""
    pattern = re.compile(r"(^|\s)-[jg] %s(\s|$)" % re.escape(chain))
    refs = []
    for name in table["chains"]:
        if name in ignore_chains:
            continue
        for spec in table["rules"].get(name, []):
            if pattern.search(spec) and owned_target(spec) is None:
                refs.append("-A %s %s" % (name, spec))
    return refs


def plan(live, desired, state, purge, jump_specs=None):
    """Compute the restore batch that turns ``live`` into the desired state.

    live       parse_save() of the current ruleset
    desired    list of dicts table/chain/hook/position/rules (rules already canonical
               when canonicalisation was possible)
    state      "present" or "absent"
    purge      when present, also remove owned jumps and chains not in ``desired``
    jump_specs {(table, chain): spec} of our jump as iptables prints it

    Returns (batches, expected, owned, warnings): batches {table: [restore lines]}
    (only tables with work), expected the model after the batches, owned
    {table: [chain]} the chains whose state is reported in diffs.
    """
    jump_specs = jump_specs or {}
    expected = copy.deepcopy(live)
    warnings = []
    batches = {}
    owned = {}
    order = []
    for item in desired:
        if item["table"] not in order:
            order.append(item["table"])
    for name in sorted(live):
        if name not in order and owned_jumps(live[name]):
            order.append(name)

    for table_name in order:
        if table_name not in expected:
            expected[table_name] = new_table(table_name)
        table = expected[table_name]
        batch = Batch(table)
        wanted = [item for item in desired if item["table"] == table_name]
        wanted_names = [item["chain"] for item in wanted]
        jumps = owned_jumps(table)
        stale = [target for _hook, _spec, target in jumps if target not in wanted_names]
        owned[table_name] = wanted_names + sorted(set(stale) - set(wanted_names))

        if state == "absent":
            for hook, spec, _target in jumps:
                batch.delete_rule(hook, spec)
            _remove_chains(batch, owned[table_name], warnings, table_name)
        else:
            hooks = dict((item["chain"], item["hook"]) for item in wanted)
            for item in wanted:
                chain, hook = item["chain"], item["hook"]
                if hook in hooks:
                    raise ValueError(
                        "hook %s of chain %s is itself a managed chain" % (hook, chain)
                    )
                if hook not in table["chains"] and item.get("create_hook"):
                    batch.create_chain(hook)
                elif hook not in table["chains"]:
                    raise ValueError(
                        "hook chain %s does not exist in table %s" % (hook, table_name)
                    )
            # Jumps first (deletions precede insertions in the batch), then chains.
            for hook, spec, target in jumps:
                if target in hooks and hook != hooks[target]:
                    batch.delete_rule(hook, spec)
                elif target not in hooks and purge:
                    batch.delete_rule(hook, spec)
            for item in wanted:
                _ensure_jump(batch, item, jump_specs.get((table_name, item["chain"])))
            for item in wanted:
                chain = item["chain"]
                if chain not in table["chains"] or table["rules"].get(chain, []) != item["rules"]:
                    batch.replace_chain(chain, item["rules"])
            if purge:
                _remove_chains(batch, [c for c in owned[table_name] if c not in hooks],
                               warnings, table_name)
        lines = batch.lines()
        if lines:
            batches[table_name] = lines
    return batches, expected, owned, warnings


def _ensure_jump(batch, item, spec):
    spec = spec or jump_spec(item["chain"])
    hook_rules = batch.rules(item["hook"])
    found = [i for i, rule in enumerate(hook_rules) if owned_target(rule) == item["chain"]]
    # Only presence, count and reachability matter, not the exact position: Docker
    # re-inserting its own jumps above ours must not count as a change.
    if len(found) == 1 and reachable(hook_rules, found[0]):
        return
    # "-D CHAIN SPEC" removes the first rule matching SPEC, as delete_rule() does.
    for spec_found in [hook_rules[index] for index in found]:
        batch.delete_rule(item["hook"], spec_found)
    if item.get("position", "first") == "first":
        batch.insert_rule(item["hook"], spec, 1)
    else:
        batch.insert_rule(item["hook"], spec, first_terminal(hook_rules))


def _remove_chains(batch, chains, warnings, table_name):
    existing = [c for c in chains if c in batch.table["chains"]]
    removable = []
    for chain in existing:
        if chain in BUILTIN_CHAINS.get(table_name, ()):
            warnings.append("not removing built-in chain %s/%s" % (table_name, chain))
            continue
        refs = _references(batch.table, chain, ignore_chains=existing)
        if refs:
            warnings.append(
                "left chain %s/%s in place: still referenced by %s"
                % (table_name, chain, "; ".join(refs))
            )
            continue
        removable.append(chain)
    for chain in removable:
        batch.remove_chain(chain)


def render(tables, owned):
    """One line per chain, rule and jump we own, as ``iptables -t T`` arguments.

    Positions of our jumps are not shown (they drift when others insert rules),
    except that a jump nothing can reach is flagged.
    """
    lines = []
    for table_name in owned:
        table = tables.get(table_name) or new_table(table_name)
        for chain in owned[table_name]:
            if chain in table["chains"]:
                lines.append("-t %s -N %s" % (table_name, chain))
                for spec in table["rules"].get(chain, []):
                    lines.append("-t %s -A %s %s" % (table_name, chain, spec))
            for hook in table["chains"]:
                rules = table["rules"].get(hook, [])
                for index, spec in enumerate(rules):
                    if owned_target(spec) == chain:
                        line = "-t %s -A %s %s" % (table_name, hook, spec)
                        if not reachable(rules, index):
                            line += UNREACHABLE
                        lines.append(line)
    return lines


def line_changes(before, after):
    """(added, removed) lines, in order, from a sequence diff of two renders."""
    added, removed = [], []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            removed.extend(before[i1:i2])
        if tag in ("insert", "replace"):
            added.extend(after[j1:j2])
    return added, removed


def restore_text(batches):
    """iptables-restore input for ``{table: [lines]}``."""
    out = []
    for table_name, lines in batches.items():
        out.append("*%s" % table_name)
        out.extend(lines)
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def tables_in_order(desired):
    """The tables named in ``desired``, each once, in first-seen order."""
    tables = []
    for item in desired:
        if item["table"] not in tables:
            tables.append(item["table"])
    return tables


def persist_text(desired):
    """Restore input that recreates ``desired`` on top of any ruleset (for the boot unit).

    Our chains are declared (which creates or flushes them under --noflush) and
    refilled. Jumps are written with an unquoted comment so that a shell can
    check them with ``iptables -C`` before loading: crosshost-fabric-restore
    drops a jump line that already exists, so loading twice never duplicates it.
    """
    out = [
        "# Written by crosshost.fabric.fabric_firewall; do not edit.",
        "# Loaded at boot by crosshost-fabric-restore (iptables-restore --noflush).",
    ]
    tables = tables_in_order(desired)
    for table_name in tables:
        wanted = [item for item in desired if item["table"] == table_name]
        out.append("*%s" % table_name)
        out.extend(":%s - [0:0]" % item["chain"] for item in wanted)
        for item in wanted:
            out.extend("-A %s %s" % (item["chain"], spec) for spec in item["rules"])
        for item in wanted:
            spec = jump_spec(item["chain"], quoted=False)
            if item.get("position", "first") == "first":
                out.append("-I %s 1 %s" % (item["hook"], spec))
            else:
                out.append("-A %s %s" % (item["hook"], spec))
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def scratch_text(desired, live):
    """Restore input loading ``desired`` (chains, rules, jumps) into an empty ruleset.

    Every user chain that exists live in the same table is declared too, so
    rules jumping to them (e.g. to DOCKER-USER) load.
    """
    out = []
    tables = tables_in_order(desired)
    for table_name in tables:
        wanted = [item for item in desired if item["table"] == table_name]
        builtin = BUILTIN_CHAINS.get(table_name, ())
        declared = []
        hooks = [i["hook"] for i in wanted if i.get("create_hook")]
        for chain in live.get(table_name, {}).get("chains", []) + hooks + [i["chain"] for i in wanted]:
            if chain not in builtin and chain not in declared:
                declared.append(chain)
        out.append("*%s" % table_name)
        out.extend(":%s - [0:0]" % chain for chain in declared)
        for item in wanted:
            out.extend("-A %s %s" % (item["chain"], spec) for spec in item["rules"])
            out.append("-A %s %s" % (item["hook"], jump_spec(item["chain"])))
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def canonical_from_scratch(desired, saved):
    """Desired chains with the rules and jump exactly as iptables printed them back.

    ``saved`` is the iptables-save output of the scratch ruleset loaded from
    scratch_text(). Returns (desired, jump_specs).
    """
    tables = parse_save(saved)
    result = []
    jump_specs = {}
    for item in desired:
        table = tables.get(item["table"], new_table(item["table"]))
        rules = table["rules"].get(item["chain"], [])
        if len(rules) != len(item["rules"]):
            raise ValueError("scratch ruleset for %s lost rules" % item["chain"])
        canonical = dict(item, rules=list(rules))
        result.append(canonical)
        for spec in table["rules"].get(item["hook"], []):
            if owned_target(spec) == item["chain"]:
                jump_specs[(item["table"], item["chain"])] = spec
    return result, jump_specs
