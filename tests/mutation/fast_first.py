"""pytest plugin loaded by tests/mutation/run.py: a mutant's tests run fastest first.

mutmut runs the tests that reach the mutated function with ``-x``: a killed mutant stops at its first
failing test, so running the fast ones first (by the durations mutmut measured on the clean code,
``mutants/mutmut-stats.json``) makes most killed mutants cost a fraction of a second. The same tests
run, only in another order; a surviving mutant still runs all of them.
"""

import json
import os


def pytest_collection_modifyitems(session, config, items):  # noqa: ARG001 - pytest's hook signature
    try:
        with open(os.path.join(os.getcwd(), "mutmut-stats.json"), encoding="utf-8") as handle:
            durations = json.load(handle)["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return  # the stats run itself: nothing measured yet
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
