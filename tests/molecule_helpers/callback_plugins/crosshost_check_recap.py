# Copyright: crosshost.fabric developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record what a check-mode run of a Molecule converge playbook reported as changed.

Molecule's `check` step runs converge.yml with --check but judges nothing. With this callback
enabled, that run writes $MOLECULE_EPHEMERAL_DIRECTORY/check-recap.json (per host changed counts
and the changed tasks), which the scenario's verifier asserts to be empty. A converge run outside
check mode removes the file, so a verifier never reads a recap older than the last converge.
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
        self._changed_tasks: list[dict[str, str]] = []

    def v2_playbook_on_start(self, playbook):
        self._converge = os.path.basename(playbook._file_name) == "converge.yml"

    def _record(self, result):
        if result._result.get("changed"):
            self._changed_tasks.append({"host": result._host.get_name(), "task": result._task.get_name()})

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_playbook_on_stats(self, stats):
        path = recap_path()
        if not self._converge or not path:
            return
        if not context.CLIARGS.get("check"):
            if os.path.exists(path):
                os.unlink(path)
            return
        hosts = sorted(stats.processed.keys())
        recap = {
            "check_mode": True,
            "changed": {h: stats.summarize(h)["changed"] for h in hosts},
            "failures": {h: stats.summarize(h)["failures"] for h in hosts},
            "changed_tasks": self._changed_tasks,
        }
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(recap, fh, indent=2, sort_keys=True)
        os.replace(path + ".tmp", path)
        if self._changed_tasks:
            lines = "\n".join(f"  {t['host']}: {t['task']}" for t in self._changed_tasks)
            self._display.warning(f"check mode reports changes (the verifier will fail):\n{lines}")
