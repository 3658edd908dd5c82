# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what a check-mode run of a Molecule converge playbook reported.

Molecule's `check` step runs converge.yml with --check but judges nothing. With this callback
enabled, that run writes $MOLECULE_EPHEMERAL_DIRECTORY/check-recap.json: per host the counts of
changed, failed, ignored (failed under ignore_errors) and unreachable results, and those tasks by
name. Every scenario's verifier asserts it clean through tests/molecule_helpers/check_recap.py. A
converge run outside check mode removes the file, so a verifier never reads a recap older than the
last converge.
"""

from __future__ import annotations

import json
import os

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: crosshost_check_recap
type: aggregate
short_description: Record changes reported by a check-mode converge (Molecule test helper)
description:
  - Only acts on a playbook named C(converge.yml).
  - In check mode, writes C(check-recap.json) into C($MOLECULE_EPHEMERAL_DIRECTORY)
    (or the file named by C($CROSSHOST_CHECK_RECAP)); otherwise removes that file.
requirements:
  - enabled in callbacks_enabled
"""

RECAP_NAME = "check-recap.json"


def recap_path() -> str | None:
    explicit = os.environ.get("CROSSHOST_CHECK_RECAP")
    if explicit:
        return explicit
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    return os.path.join(ephemeral, RECAP_NAME) if ephemeral else None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "crosshost_check_recap"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._converge = False
        self._tasks: dict[str, list[dict[str, str]]] = {k: [] for k in ("changed", "failed", "ignored", "unreachable")}

    def v2_playbook_on_start(self, playbook):
        self._converge = os.path.basename(playbook._file_name) == "converge.yml"

    def _record(self, kind, result):
        entry = {"host": result._host.get_name(), "task": result._task.get_name()}
        msg = result._result.get("msg")
        if kind != "changed" and msg:
            entry["msg"] = str(msg)[:500]
        self._tasks[kind].append(entry)

    def v2_runner_on_ok(self, result):
        if result._result.get("changed"):
            self._record("changed", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        path = recap_path()
        if not self._converge or not path:
            return
        if not context.CLIARGS.get("check"):
            if os.path.exists(path):
                os.unlink(path)
            return
        hosts = sorted(stats.processed.keys())
        summary = {h: stats.summarize(h) for h in hosts}
        recap = {"check_mode": True, "hosts": hosts}
        for key in ("ok", "changed", "failures", "ignored", "unreachable", "rescued", "skipped"):
            recap[key] = {h: summary[h].get(key, 0) for h in hosts}
        for kind, tasks in self._tasks.items():
            recap["%s_tasks" % kind] = tasks
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(recap, fh, indent=2, sort_keys=True)
        os.replace(path + ".tmp", path)
        for kind, tasks in self._tasks.items():
            if tasks:
                lines = "\n".join(f"  {t['host']}: {t['task']}" for t in tasks)
                self._display.warning(f"check mode: {kind} results (the verifier will fail):\n{lines}")
