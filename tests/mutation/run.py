#!/usr/bin/env python3
"""Mutation testing of plugins/plugin_utils/ and plugins/module_utils/ with mutmut (``make mutation``).

mutmut 3 copies the code it mutates into ``mutants/`` and names each mutant after the module the code
is imported as. The collection is imported as ``ansible_collections.crosshost.fabric``, so each folder
is staged under ``.build/mutation/<folder>/ansible_collections/crosshost/fabric/`` (a copy of
plugins/, tests/ and galaxy.yml); mutmut runs there with the fast suites (tests/unit; the two
2,000-example property tests of tests/unit/test_properties.py are left out for time; their
exhaustion branch is covered by the derandomised property test in tests/unit/test_mutants.py).
tests/conftest.py links the staged copy as the collection, so the tests import the mutants.

Then it prints the score per folder and compares the surviving mutants with the reviewed list
tests/mutation/survivors.yml (each entry: where, the line removed and the line added, and why the
mutant is equivalent or not worth a test). A survivor not in the list, or a score under --min-score,
fails the run; listed entries that no longer survive are reported as stale.

Usage: tests/mutation/run.py [plugin_utils] [module_utils] [--min-score 90] [--max-children 1]
       tests/mutation/run.py --report plugin_utils   (score and survivors of the last run only)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGE = os.path.join(ROOT, ".build", "mutation")
REVIEWED = os.path.join(ROOT, "tests", "mutation", "survivors.yml")
PKG = "ansible_collections/crosshost/fabric"
FOLDERS = ("plugin_utils", "module_utils")
KILLED = ("killed", "timeout", "caught by type check")

SETUP_CFG = """\
[mutmut]
source_paths={pkg}/plugins/{folder}
also_copy=
    {pkg}/tests
    {pkg}/plugins
    {pkg}/galaxy.yml
pytest_add_cli_args_test_selection=
    {pkg}/tests/unit
pytest_add_cli_args=
    -p
    no:cacheprovider
    --ignore={pkg}/tests/unit/test_properties.py
"""


def stage(folder: str) -> str:
    where = os.path.join(STAGE, folder)
    shutil.rmtree(where, ignore_errors=True)
    dest = os.path.join(where, PKG)
    os.makedirs(dest)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis")
    for name in ("plugins", "tests"):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(dest, name), ignore=ignore)
    shutil.copy2(os.path.join(ROOT, "galaxy.yml"), dest)
    with open(os.path.join(where, "setup.cfg"), "w", encoding="utf-8") as handle:
        handle.write(SETUP_CFG.format(pkg=PKG, folder=folder))
    return where


def mutmut(where: str, *args: str, nice: int = 15) -> None:
    cmd = ["nice", "-n", str(nice), os.path.join(os.path.dirname(sys.executable), "mutmut"), *args]
    env = dict(os.environ)
    env.pop("MUTANT_UNDER_TEST", None)
    with open(os.path.join(where, "mutmut.log"), "a", encoding="utf-8") as log:
        rc = subprocess.run(cmd, cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0:
        sys.exit("mutmut %s failed (rc %d): see %s" % (" ".join(args), rc, os.path.join(where, "mutmut.log")))


def collect(where: str) -> list[dict]:
    """Every mutant with its status, and for survivors the lines it changes (read with mutmut's own API)."""
    code = r"""
import json, sys
from mutmut.__main__ import walk_mutatable_files
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
out = []
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path)
    m.load()
    for name, code in sorted(m.exit_code_by_key.items()):
        status = status_by_exit_code[code]
        entry = {"name": name, "status": status}
        if status not in ("killed", "timeout", "caught by type check"):
            diff = get_diff_for_mutant(name, path=path).splitlines()
            entry["minus"] = [l[1:].strip() for l in diff if l.startswith("-") and not l.startswith("---")]
            entry["plus"] = [l[1:].strip() for l in diff if l.startswith("+") and not l.startswith("+++")]
        out.append(entry)
json.dump(out, sys.stdout)
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=where, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def where_of(name: str) -> str:
    """ansible_collections.crosshost.fabric.plugins.plugin_utils.planner.x_allocate__mutmut_3 -> planner.allocate"""
    module, _, func = name.rpartition(".")
    module = module.rpartition(".")[2]
    func = func.rpartition("__mutmut_")[0]
    func = func[2:] if func.startswith("x_") else func
    func = func.replace("ǁ", ".")  # methods: xǁClassǁmethod
    return "%s.%s" % (module, func.strip("."))


def key(where: str, minus: list[str], plus: list[str]) -> tuple:
    return (where, tuple(minus), tuple(plus))


def load_reviewed() -> dict[tuple, str]:
    if not os.path.exists(REVIEWED):
        return {}
    with open(REVIEWED, encoding="utf-8") as handle:
        entries = yaml.safe_load(handle) or []
    return {key(e["where"], e.get("minus", []), e.get("plus", [])): e["why"] for e in entries}


def report(folder: str, where: str, min_score: float, seconds: float | None) -> bool:
    mutants = collect(where)
    total = len(mutants)
    killed = sum(m["status"] in KILLED for m in mutants)
    survivors = [m for m in mutants if m["status"] not in KILLED]
    score = 100.0 * killed / total if total else 0.0
    reviewed = load_reviewed()
    unreviewed, seen = [], set()
    for m in survivors:
        k = key(where_of(m["name"]), m["minus"], m["plus"])
        seen.add(k)
        if k not in reviewed:
            unreviewed.append((m, k))
    mine = {k for k in reviewed if k[0].split(".")[0] in {where_of(m["name"]).split(".")[0] for m in mutants}}
    stale = sorted(mine - seen)
    took = " in %.0f s" % seconds if seconds is not None else ""
    print("mutation score %s: %d of %d mutants killed = %.1f %%%s; %d survive (%d reviewed as equivalent, %d not)"
          % (folder, killed, total, score, took, len(survivors), len(survivors) - len(unreviewed), len(unreviewed)))
    by_status: dict[str, int] = {}
    for m in mutants:
        by_status[m["status"]] = by_status.get(m["status"], 0) + 1
    print("  by status: " + ", ".join("%s %d" % kv for kv in sorted(by_status.items())))
    for m, k in unreviewed:
        print("  NOT REVIEWED (%s) %s  [%s]" % (m["status"], k[0], m["name"].rpartition(".")[2]))
        for line in k[1]:
            print("      - " + line)
        for line in k[2]:
            print("      + " + line)
    for k in stale:
        print("  stale review entry (no longer survives): %s  - %s  + %s" % (k[0], " / ".join(k[1]), " / ".join(k[2])))
    with open(os.path.join(where, "survivors.json"), "w", encoding="utf-8") as handle:
        json.dump([dict(m, where=where_of(m["name"])) for m in survivors], handle, indent=1)
    ok = score >= min_score and not unreviewed
    if not ok:
        print("  FAILED: score under %.0f %% or survivors not reviewed (tests/mutation/survivors.yml)" % min_score)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=list(FOLDERS), choices=FOLDERS)
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="report on the last run, run nothing")
    args = parser.parse_args()
    ok = True
    for folder in args.folders:
        where = os.path.join(STAGE, folder)
        seconds = None
        if not args.report:
            start = time.monotonic()
            where = stage(folder)
            print("mutmut on plugins/%s (staged in %s, log mutmut.log there)" % (folder, where), flush=True)
            mutmut(where, "run", "--max-children", str(args.max_children))
            seconds = time.monotonic() - start
        ok = report(folder, where, args.min_score, seconds) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
