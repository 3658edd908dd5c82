#!/usr/bin/env python3
"""Mutation testing of plugins/plugin_utils/ and plugins/module_utils/ with mutmut (``make mutation``).

mutmut 3 copies the code it mutates into ``mutants/`` and names each mutant after the module the code
is imported as. The collection is imported as ``ansible_collections.crosshost.fabric``, so each folder
is staged under ``.build/mutation/<folder>/ansible_collections/crosshost/fabric/`` (a copy of the
checkout's files as git lists them); mutmut runs there with the fast suites (tests/unit; the two
2,000-example property tests of tests/unit/test_properties.py are left out for time; their
exhaustion branch is covered by the derandomised property test in tests/unit/test_mutants.py).
tests/conftest.py links the staged copy as the collection, so the tests import the mutants.

Then it prints the score per folder and compares the surviving mutants with the reviewed list
tests/mutation/survivors.yml (each entry: where, the line removed and the line added, its kind and
why: ``equivalent`` (no test can tell it from the original), or ``untested`` (a real gap, left for
the code's owner, named there)). A survivor not in the list, or a score under --min-score,
fails the run; listed entries that no longer survive are reported as stale.

Speed: 2 workers at nice 15; each mutant runs only the tests that reach its function (mutmut's own
selection), fastest first (tests/mutation/fast_first.py; mutmut stops at the first failure), and a
mutant that loops is stopped after 10x its tests' CPU time plus 10 s (timeout_multiplier 5), counted as
killed (mutmut's "timeout"). An interrupted run can be finished with --resume (same plugins/ code).

Usage: tests/mutation/run.py [plugin_utils] [module_utils] [--min-score 90] [--max-children 2]
       tests/mutation/run.py --resume plugin_utils   (finish an interrupted run of the same code)
       tests/mutation/run.py --update plugin_utils   (the last run brought up to the checkout, incrementally)
       tests/mutation/run.py --report plugin_utils   (score and survivors of the last run only)
       tests/mutation/run.py --rerun-survivors plugin_utils   (after adding tests: only the survivors again)
"""

from __future__ import annotations

import argparse
import json
import re
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
# mutmut's exit codes of a checked mutant (mutmut.stats.status_by_exit_code)
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 35: "suspicious",
          36: "timeout", 37: "caught by type check", -24: "timeout", 24: "timeout", 152: "timeout"}

SETUP_CFG = """\
[mutmut]
source_paths={pkg}/plugins/{folder}
also_copy=
    {pkg}
pytest_add_cli_args_test_selection=
    {pkg}/tests/unit
pytest_add_cli_args=
    -p
    no:cacheprovider
    -p
    fast_first
    --ignore={pkg}/tests/unit/test_properties.py
timeout_multiplier=5
"""


def stage(folder: str, update: bool = False) -> str:
    """Copy the checkout to .build/mutation/<folder>/; ``update``: over the last run, keeping its results."""
    where = os.path.join(STAGE, folder)
    before = None
    if update:
        with open(os.path.join(where, "stamp.json"), encoding="utf-8") as handle:
            before = json.load(handle)
        shutil.rmtree(os.path.join(where, "ansible_collections"))
    else:
        shutil.rmtree(where, ignore_errors=True)
    dest = os.path.join(where, PKG)
    os.makedirs(dest)
    # The whole checkout as git sees it (tracked and new files): tests read roles/, tools/, README.md...
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = os.path.join(ROOT, name)
        if not os.path.isfile(src):
            continue  # deleted but still in the index
        os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, name), follow_symlinks=False)
    with open(os.path.join(where, "setup.cfg"), "w", encoding="utf-8") as handle:
        handle.write(SETUP_CFG.format(pkg=PKG, folder=folder))
    with open(os.path.join(where, "stamp.json"), "w", encoding="utf-8") as handle:
        stamp = {"commit": commit(), "staged": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        if before is not None:
            stamp["updated_from"] = "%s (staged %s)" % (before["commit"], before["staged"])
            if "updated_from" in before:
                stamp["updated_from"] += ", itself updated from " + before["updated_from"]
        json.dump(stamp, handle)
    return where


def commit() -> str:
    """HEAD of the checkout, "+changes" when plugins/ or tests/ differ from it."""
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "plugins", "tests"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    return head + ("+changes" if dirty else "")


def same_source(where: str, folder: str) -> bool:
    """Whether the staged plugins/<folder> is the checkout's (a run may be resumed only then)."""
    mine = os.path.join(ROOT, "plugins", folder)
    staged = os.path.join(where, PKG, "plugins", folder)
    names = sorted(n for n in os.listdir(mine) if n.endswith(".py"))
    if names != sorted(n for n in os.listdir(staged) if n.endswith(".py")):
        return False
    for name in names:
        with open(os.path.join(mine, name), "rb") as a, open(os.path.join(staged, name), "rb") as b:
            if a.read() != b.read():
                return False
    return True


def mutmut(where: str, *args: str, nice: int = 15) -> None:
    cmd = ["nice", "-n", str(nice), os.path.join(os.path.dirname(sys.executable), "mutmut"), *args]
    env = dict(os.environ)
    env.pop("MUTANT_UNDER_TEST", None)
    # tests/mutation/fast_first.py (a pytest plugin: each mutant's tests fastest first)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(os.path.abspath(__file__)),
                                                      env.get("PYTHONPATH")]))
    with open(os.path.join(where, "mutmut.log"), "a", encoding="utf-8") as log:
        rc = subprocess.run(cmd, cwd=where, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0:
        sys.exit("mutmut %s failed (rc %d): see %s" % (" ".join(args), rc, os.path.join(where, "mutmut.log")))


def collect(where: str, diffs: bool = True) -> list[dict]:
    """Every mutant with its status, and for survivors the lines it changes (read with mutmut's own API)."""
    code = "DIFFS = %r\n" % diffs + r"""
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
        if DIFFS and status not in ("killed", "timeout", "caught by type check", "not checked"):
            diff = get_diff_for_mutant(name, path=path).splitlines()
            entry["minus"] = [l[1:].strip() for l in diff if l.startswith("-") and not l.startswith("---")]
            entry["plus"] = [l[1:].strip() for l in diff if l.startswith("+") and not l.startswith("+++")]
        else:
            entry["minus"] = entry["plus"] = []
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
    return {key(e["where"], e.get("minus", []), e.get("plus", [])): (e.get("kind", "equivalent"), e["why"])
            for e in entries}


def report(folder: str, where: str, min_score: float, seconds: float | None) -> bool:
    mutants = collect(where)
    total = len(mutants)
    killed = sum(m["status"] in KILLED for m in mutants)
    unchecked = [m for m in mutants if m["status"] == "not checked"]
    checked = total - len(unchecked)
    survivors = [m for m in mutants if m["status"] not in KILLED and m["status"] != "not checked"]
    score = 100.0 * killed / checked if checked else 0.0
    per_file: dict[str, list[int]] = {}
    for m in mutants:
        row = per_file.setdefault(where_of(m["name"]).split(".")[0], [0, 0, 0])
        row[0] += m["status"] in KILLED
        row[1] += m["status"] != "not checked"
        row[2] += 1
    for name, (k, c, t) in sorted(per_file.items()):
        print("  %-12s %5d killed of %5d checked (%5.1f %%)%s"
              % (name + ".py", k, c, 100.0 * k / c if c else 0.0, "" if c == t else ", %d not checked" % (t - c)))
    if unchecked:
        print("  %d of %d mutants not checked (an interrupted run): the score below is over the checked ones"
              % (len(unchecked), total))
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
    try:
        with open(os.path.join(where, "stamp.json"), encoding="utf-8") as handle:
            stamp = json.load(handle)
        print("  code of commit %s (staged %s)%s" % (stamp["commit"], stamp["staged"], "; a run updated from %s"
                                                      % stamp["updated_from"] if "updated_from" in stamp else ""))
    except (OSError, ValueError, KeyError):
        pass
    kinds: dict[str, int] = {}
    for m in survivors:
        k = key(where_of(m["name"]), m["minus"], m["plus"])
        if k in reviewed:
            kinds[reviewed[k][0]] = kinds.get(reviewed[k][0], 0) + 1
    print("mutation score %s: %d of %d mutants killed = %.1f %%%s; %d survive (reviewed: %s; not reviewed: %d)"
          % (folder, killed, checked, score, took, len(survivors),
             ", ".join("%d %s" % (n, kind) for kind, n in sorted(kinds.items())) or "none", len(unreviewed)))
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
    ok = score >= min_score and not unreviewed and not unchecked
    if not ok:
        print("  FAILED: score under %.0f %% or survivors not reviewed (tests/mutation/survivors.yml)" % min_score)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", default=list(FOLDERS), choices=FOLDERS)
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--report", action="store_true", help="report on the last run, run nothing")
    parser.add_argument("--resume", action="store_true",
                        help="go on with an interrupted run (same plugins/ code; the mutants it checked keep their "
                             "results, the others are run)")
    parser.add_argument("--update", action="store_true",
                        help="bring the last run up to this checkout with mutmut's incremental run: the mutants of "
                             "functions whose code (or whose callees' code) changed, the survivors and the mutants "
                             "not checked yet are run with the checkout's tests; killed mutants stay killed")
    parser.add_argument("--only", default="", help="with --rerun-survivors: only mutants whose module.function "
                                                   "matches this regular expression")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="copy the current tests/ into the last run and run its surviving (checked) mutants again "
                             "(after adding tests: killed mutants stay killed, so this gives the new score fast)")
    args = parser.parse_args()
    ok = True
    for folder in args.folders:
        where = os.path.join(STAGE, folder)
        seconds = None
        if args.rerun_survivors:
            start = time.monotonic()
            names = [m["name"] for m in collect(where, diffs=False) if m["status"] not in KILLED
                     and m["status"] != "not checked" and re.search(args.only, where_of(m["name"]))]
            # Both copies: mutmut refreshes mutants/ from the staged copy (also_copy) at every run, which
            # would put the staged (older) test files back over the new ones.
            for tests in (os.path.join(where, PKG, "tests"), os.path.join(where, "mutants", PKG, "tests")):
                shutil.rmtree(tests)
                shutil.copytree(os.path.join(ROOT, "tests"), tests,
                                ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".hypothesis"))
            print("mutmut: %d surviving mutants of plugins/%s again, with the current tests" % (len(names), folder),
                  flush=True)
            mutmut(where, "run", "--max-children", str(args.max_children), *names)
            seconds = time.monotonic() - start
        elif args.resume:
            if not os.path.isdir(os.path.join(where, "mutants")) or not same_source(where, folder):
                sys.exit("cannot resume plugins/%s: no earlier run, or its code differs from the checkout's "
                         "(run it whole)" % folder)
            start = time.monotonic()
            print("mutmut on plugins/%s: resuming the run in %s (only the mutants not checked yet)" % (folder, where),
                  flush=True)
            mutmut(where, "run", "--max-children", str(args.max_children))
            seconds = time.monotonic() - start
        elif args.update:
            if not os.path.isdir(os.path.join(where, "mutants")):
                sys.exit("cannot update plugins/%s: no earlier run" % folder)
            start = time.monotonic()
            stage(folder, update=True)
            # Survivors (and mutants without tests) are run again with the checkout's tests, in the same pass.
            again = 0
            for root, _dirs, files in os.walk(os.path.join(where, "mutants")):
                for name in files:
                    if name.endswith(".py.meta"):
                        with open(os.path.join(root, name), encoding="utf-8") as handle:
                            meta = json.load(handle)
                        codes = meta["exit_code_by_key"]
                        for mutant, code in codes.items():
                            if code is not None and STATUS.get(code, "suspicious") not in KILLED:
                                codes[mutant] = None
                                again += 1
                        with open(os.path.join(root, name), "w", encoding="utf-8") as handle:
                            json.dump(meta, handle)
            print("  %d surviving mutants marked to run again" % again, flush=True)
            print("mutmut on plugins/%s: the last run updated to this checkout (mutants of changed functions and "
                  "their callers again)" % folder, flush=True)
            mutmut(where, "run", "--max-children", str(args.max_children))
            seconds = time.monotonic() - start
        elif not args.report:
            start = time.monotonic()
            where = stage(folder)
            print("mutmut on plugins/%s (staged in %s, log mutmut.log there)" % (folder, where), flush=True)
            mutmut(where, "run", "--max-children", str(args.max_children))
            seconds = time.monotonic() - start
        ok = report(folder, where, args.min_score, seconds) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
