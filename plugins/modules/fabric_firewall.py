#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fabric_firewall
short_description: Own a few iptables chains and their jumps, nothing else
version_added: 0.1.0
description:
  - Makes each listed chain exist with exactly the given rules, in order, and makes
    exactly one jump C(-m comment --comment crosshost.fabric -j CHAIN) to it exist in
    its hook chain.
  - Reads the live ruleset with C(iptables-save), compares, and applies only the
    difference in one C(iptables-restore --noflush) batch (one transaction per table).
    Rules, chains and jumps that are not the module's own are never touched. Its own
    chains are named C(FABRIC-*); a jump carrying its comment but pointing to another
    chain is not its own either.
  - The desired rules are canonicalised by loading them into a throw-away network
    namespace (C(unshare --net)) and reading them back with C(iptables-save), so the
    comparison uses exactly the text iptables prints (C(/32) suffixes, C(-m tcp),
    quoting, option order). Nothing is loaded into the live ruleset for that, so
    check mode stays side-effect free. If such a namespace cannot be made (no
    C(CAP_SYS_ADMIN)), the module warns and falls back to comparing after loading -
    C(changed) then comes from the live ruleset before and after the batch, and check
    mode may report a change that a real run would not make.
  - A rule that does not load in the scratch namespace fails the task before anything
    is changed. Rules needing state of the live namespace other than its chains
    (for example an ipset) are therefore not supported.
  - The position of an existing jump is not enforced (Docker re-inserts its own
    jumps above it on every start), only its count and that no unconditional
    C(-j ACCEPT), C(-j DROP), C(-j REJECT) or C(-j RETURN) rule comes before it.
  - With O(persist), writes a restore file that recreates the desired state; the
    C(crosshost.fabric.forward) role loads it at boot, before Docker starts.
  - IPv4 (C(iptables)) only.
author:
  - crosshost.fabric developers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - crosshost.fabric.attributes
attributes:
  diff_mode:
    details: The diff shows the owned chains, their rules and the owned jumps, one per line.
requirements:
  - iptables (C(iptables-save), C(iptables-restore)); C(unshare) from util-linux for canonicalisation.
  - Root (or C(CAP_NET_ADMIN) and C(CAP_SYS_ADMIN)) on the target.
options:
  state:
    description:
      - V(present) makes the listed chains and jumps exist as given.
      - V(absent) removes the listed chains and every jump the module owns (those
        carrying its comment) together with the chains they point to, and the
        persist file. O(chains) may then be empty; only C(table) and C(chain) of an
        entry are used.
    type: str
    choices: [present, absent]
    default: present
  chains:
    description:
      - The chains to own. A chain name may appear once per table.
    type: list
    elements: dict
    default: []
    suboptions:
      table:
        description: The iptables table.
        type: str
        choices: [filter, nat, mangle, raw, security]
        required: true
      chain:
        description:
          - Name of the chain, at most 28 characters, starting with C(FABRIC-). The module
            owns only chains carrying that prefix and refuses any other name (for example
            C(DOCKER-USER) or a chain of the user's) before changing anything, so it can
            never adopt and flush a chain it did not create.
        type: str
        required: true
      hook:
        description:
          - The chain that jumps to O(chains[].chain), for example C(FORWARD) or
            C(POSTROUTING). Must exist (see O(chains[].create_hook)), and must not be one
            of the listed chains.
          - Required when O(state=present).
        type: str
      create_hook:
        description:
          - Create the hook chain when it does not exist (empty; an existing one is never
            flushed), for example C(DOCKER-USER) before Docker's first start. The chain is
            not the module's; it is never removed, and its other rules are never touched.
            The boot script C(crosshost-fabric-restore) creates a missing hook chain the
            same way.
        type: bool
        default: false
      position:
        description:
          - Where a missing jump is placed. V(first) inserts it at the top of the hook
            chain; V(last) appends it, but ahead of an unconditional C(ACCEPT),
            C(DROP), C(REJECT) or C(RETURN) rule that ends the chain.
        type: str
        choices: [first, last]
        default: first
      rules:
        description:
          - The rules of the chain, in order, in iptables-save syntax without the
            C(-A CHAIN) prefix, for example C(-s 10.244.0.0/16 -j ACCEPT).
        type: list
        elements: str
        default: []
  purge:
    description:
      - With O(state=present), also remove jumps carrying the module's comment that
        point to chains not listed, and those chains (unless something else still
        refers to them). Keep V(true) when one call describes the whole set.
    type: bool
    default: true
  persist:
    description:
      - Write O(persist_file) so that the state can be restored at boot.
      - Ignored with O(state=absent), which always removes O(persist_file).
    type: bool
    default: true
  persist_file:
    description:
      - Restore input recreating the desired state. Jump lines carry an unquoted
        comment so that the role's C(crosshost-fabric-restore) script can skip jumps
        that already exist (C(iptables -C)); loading it twice never duplicates a jump.
      - Written atomically, and only when its content differs.
    type: path
    default: /etc/crosshost-fabric/iptables.rules
notes:
  - One batch per run; on nf_tables each table's part is one transaction, so a
    failing rule leaves that table as it was.
seealso:
  - name: iptables-restore(8)
    description: The batch format used to apply changes.
    link: https://man7.org/linux/man-pages/man8/iptables-restore.8.html
"""

EXAMPLES = r"""
- name: Masquerade container traffic leaving the fabric and accept forwarded fabric traffic
  crosshost.fabric.fabric_firewall:
    chains:
      - table: nat
        chain: FABRIC-POSTROUTING
        hook: POSTROUTING
        rules:
          - -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN
          - -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully
          - "! -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN"
          - "! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE --random-fully"
      - table: filter
        chain: FABRIC-FORWARD
        hook: FORWARD
        rules:
          - -s 10.244.0.0/16 -j ACCEPT
          - -d 10.244.0.0/16 -j ACCEPT

- name: The same, from the fabric plan
  vars:
    _fw: "{{ fabric_plan | crosshost.fabric.firewall_state(inventory_hostname) }}"
  crosshost.fabric.fabric_firewall:
    chains: "{{ _fw.chains }}"

- name: Remove every chain and jump the module owns, and the persist file
  crosshost.fabric.fabric_firewall:
    state: absent
"""

RETURN = r"""
added:
  description: Owned chains, rules and jumps that were (or in check mode would be) added,
    as C(iptables) arguments, one per line.
  returned: always
  type: list
  elements: str
  sample: ["-t filter -A FABRIC-FORWARD -d 10.244.0.0/16 -j ACCEPT"]
removed:
  description: Owned chains, rules and jumps that were (or would be) removed, same format.
  returned: always
  type: list
  elements: str
  sample: ["-t filter -A FABRIC-FORWARD -d 10.245.0.0/16 -j ACCEPT"]
diff:
  description: Owned chains, their rules and owned jumps before and after, one per line.
    Jump positions are not shown; a jump that no packet can reach is flagged.
  returned: always
  type: dict
  contains:
    before:
      description: The state before the run.
      type: str
    after:
      description: The state after the run (in check mode, the state a real run would leave).
      type: str
batch:
  description: The C(iptables-restore --noflush) input that was (or would be) applied;
    empty when the rules were already as desired.
  returned: always
  type: str
  sample: "*filter\n:FABRIC-FORWARD - [0:0]\n-A FABRIC-FORWARD -s 10.244.0.0/16 -j ACCEPT\nCOMMIT\n"
canonicalised:
  description: Whether the desired rules were canonicalised in a scratch network namespace
    (V(false) means the compare-after-loading fallback was used).
  returned: always
  type: bool
persist_changed:
  description: Whether O(persist_file) was (or would be) written or removed.
  returned: always
  type: bool
"""

import os  # noqa: E402 - Ansible modules keep their documentation first
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_bytes, to_native  # noqa: E402

from ansible_collections.crosshost.fabric.plugins.module_utils import iptables as ipt  # noqa: E402
from ansible_collections.crosshost.fabric.plugins.module_utils import persist  # noqa: E402

ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["present", "absent"], default="present"),
    chains=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(
            table=dict(type="str", required=True,
                       choices=["filter", "nat", "mangle", "raw", "security"]),
            chain=dict(type="str", required=True),
            hook=dict(type="str"),
            create_hook=dict(type="bool", default=False),
            position=dict(type="str", choices=["first", "last"], default="first"),
            rules=dict(type="list", elements="str", default=[]),
        ),
    ),
    purge=dict(type="bool", default=True),
    persist=dict(type="bool", default=True),
    persist_file=dict(type="path", default="/etc/crosshost-fabric/iptables.rules"),
)

# Runs in a new, empty network namespace: load the batch, print it back.
_SCRATCH = '"$1" "$3" || exit 3; exec "$2"'


class Firewall:
    def __init__(self, module):
        self.module = module
        self.save = module.get_bin_path("iptables-save", required=True)
        self.restore = module.get_bin_path("iptables-restore", required=True)

    def write(self, text):
        """Restore input goes through a file: a command failing before it read all of
        its stdin would make run_command fail on a broken pipe."""
        fd, path = tempfile.mkstemp(dir=self.module.tmpdir, suffix=".rules")
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(text))
        return path

    def read(self):
        rc, out, err = self.module.run_command([self.save])
        if rc != 0:
            self.module.fail_json(msg="iptables-save failed: %s" % err.strip(), rc=rc)
        try:
            return ipt.parse_save(out)
        except ValueError as exc:
            self.module.fail_json(msg="cannot parse iptables-save output: %s" % to_native(exc))

    def test(self, text):
        """Parse-check a batch against the live ruleset without committing it."""
        rc, _out, err = self.module.run_command(
            [self.restore, "-w", "--noflush", "--test", self.write(text)]
        )
        if rc != 0:
            self.module.fail_json(msg="iptables-restore --test failed: %s" % err.strip(),
                                  rc=rc, batch=text)

    def apply(self, text):
        rc, _out, err = self.module.run_command([self.restore, "-w", "--noflush", self.write(text)])
        if rc != 0:
            self.module.fail_json(msg="iptables-restore failed: %s" % err.strip(), rc=rc, batch=text)

    def canonicalise(self, desired, live):
        """(desired with canonical rules, jump specs), or None when no scratch namespace works."""
        unshare = self.module.get_bin_path("unshare")
        if not desired:
            return desired, {}
        if unshare is None:
            self.module.warn("unshare not found: comparing after loading instead")
            return None
        rc, out, err = self.module.run_command(
            [unshare, "--net", "--", "/bin/sh", "-c", _SCRATCH, "sh", self.restore, self.save,
             self.write(ipt.scratch_text(desired, live))]
        )
        if rc == 3:
            # Same kernel, same iptables, every live user chain declared: a rule that
            # does not load here would not load live either. Fail before touching anything
            # (on nf_tables each table commits on its own, so a live failure could leave
            # one table applied and the next not).
            self.module.fail_json(
                msg="the desired rules do not load (checked in a scratch network namespace): %s"
                % err.strip()
            )
        if rc != 0:
            self.module.warn(
                "cannot canonicalise the rules in a scratch network namespace (%s); "
                "comparing after loading instead" % err.strip()
            )
            return None
        try:
            return ipt.canonical_from_scratch(desired, out)
        except ValueError as exc:
            self.module.warn("scratch canonicalisation unusable (%s)" % to_native(exc))
            return None


def validate(module, chains, state):
    seen = set()
    for item in chains:
        key = (item["table"], item["chain"])
        if key in seen:
            module.fail_json(msg="chain %s/%s is listed twice" % key)
        seen.add(key)
        if not ipt.CHAIN_NAME.match(item["chain"]) or \
                item["chain"] in ipt.BUILTIN_CHAINS[item["table"]]:
            module.fail_json(msg="invalid chain name %r" % item["chain"])
        if not item["chain"].startswith(ipt.PREFIX):
            module.fail_json(
                msg="chain %s/%s is not this module's: it owns only chains named %s*, and never "
                "adopts or flushes another (DOCKER-USER, a user's chain); nothing was changed"
                % (key[0], key[1], ipt.PREFIX)
            )
        if state == "absent":
            continue
        if not item.get("hook") or not ipt.CHAIN_NAME.match(item["hook"]):
            module.fail_json(msg="chain %s/%s needs a valid hook" % key)
        for rule in item["rules"]:
            text = rule.strip()
            if not text or "\n" in rule or "\r" in rule:
                module.fail_json(msg="invalid rule %r in chain %s/%s" % (rule, key[0], key[1]))
            if text.split()[0] in ("-A", "-I", "-D", "-N", "-X", "-F", "-P", "-R", "-Z"):
                module.fail_json(
                    msg="rule %r in chain %s/%s must not carry a command; "
                    "give only the rule spec" % (rule, key[0], key[1])
                )


def sync_persist_file(module, path, content):
    """Write (content) or remove (None) the persist file; True when it changes."""
    return persist.sync(path, content, check_mode=module.check_mode, keep_mode=True) is not None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    state = params["state"]
    desired = []
    for item in params["chains"]:
        entry = dict(item)
        entry["rules"] = [rule.strip() for rule in item["rules"] or []]
        desired.append(entry)
    validate(module, desired, state)

    fw = Firewall(module)
    live = fw.read()
    jump_specs = {}
    canonicalised = False
    if state == "present":
        result = fw.canonicalise(desired, live)
        if result is not None:
            desired, jump_specs = result
            canonicalised = True
    try:
        batches, expected, owned, warnings = ipt.plan(
            live, desired, state, params["purge"], jump_specs
        )
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))
    for warning in warnings:
        module.warn(warning)

    before = ipt.render(live, owned)
    after = ipt.render(expected, owned)
    batch = ipt.restore_text(batches)
    rules_changed = bool(batch)
    if batch and not canonicalised and state == "present":
        fw.test(batch)
    if batch and not module.check_mode:
        fw.apply(batch)
        after = ipt.render(fw.read(), owned)
        rules_changed = after != before
        if canonicalised and after != ipt.render(expected, owned):
            module.warn("the ruleset after the batch differs from the expected one "
                        "(changed concurrently?)")

    if state == "absent":
        persist_changed = sync_persist_file(module, params["persist_file"], None)
    elif params["persist"]:
        persist_changed = sync_persist_file(module, params["persist_file"],
                                            ipt.persist_text(desired))
    else:
        persist_changed = False

    added, removed = ipt.line_changes(before, after)
    module.exit_json(
        changed=rules_changed or persist_changed,
        added=added,
        removed=removed,
        diff=dict(before="\n".join(before) + ("\n" if before else ""),
                  after="\n".join(after) + ("\n" if after else "")),
        batch=batch,
        canonicalised=canonicalised,
        persist_changed=persist_changed,
    )


if __name__ == "__main__":
    main()
