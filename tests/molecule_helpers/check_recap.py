"""The check-mode recap every Molecule scenario's verifier asserts (one helper for all scenarios).

Molecule's `check` step runs converge.yml with --check on the converged nodes; the callback
callback_plugins/crosshost_check_recap.py records what that run reported. A converged fabric
checked again must report nothing changed, nothing failed, no error ignored, no host unreachable.

Use from a scenario's tests (the verifier runs on the controller):

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests" / "molecule_helpers"))
    from check_recap import assert_check_mode_clean

    def test_converge_in_check_mode_changed_nothing():
        assert_check_mode_clean()
"""

from __future__ import annotations

import json
import os
import pathlib

# What a clean check run has none of, with the list of tasks the callback names for each.
KINDS = {"changed": "changed_tasks", "failures": "failed_tasks", "ignored": "ignored_tasks",
         "unreachable": "unreachable_tasks"}


def recap_file() -> pathlib.Path:
    explicit = os.environ.get("CROSSHOST_CHECK_RECAP")
    if explicit:
        return pathlib.Path(explicit)
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    assert ephemeral, "MOLECULE_EPHEMERAL_DIRECTORY is not set: run the verifier through molecule"
    return pathlib.Path(ephemeral, "check-recap.json")


def problems(recap: dict) -> list[str]:
    """What is wrong with a recap, one line each; empty when the check run was clean."""
    found = []
    if recap.get("check_mode") is not True:
        found.append("the recap was not written by a check-mode run")
    if not recap.get("hosts"):
        found.append("the check run processed no host")
    for count, tasks in KINDS.items():
        if count not in recap or tasks not in recap:
            found.append("the recap has no %r: written by an older callback?" % count)
            continue
        for host, n in sorted(recap[count].items()):
            if n:
                found.append("%s: %d %s" % (host, n, count))
        for t in recap[tasks]:
            found.append("  %s %s: %s%s" % (count, t["host"], t["task"], " (%s)" % t["msg"] if t.get("msg") else ""))
    return found


def assert_check_mode_clean(path: pathlib.Path | None = None) -> dict:
    path = path or recap_file()
    assert path.is_file(), (
        f"{path} is missing: run `molecule check` after converge (molecule test does), "
        "with the crosshost_check_recap callback enabled"
    )
    recap = json.loads(path.read_text(encoding="utf-8"))
    found = problems(recap)
    assert not found, "the check-mode converge was not clean:\n" + "\n".join(found)
    return recap
