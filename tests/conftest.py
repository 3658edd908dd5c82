"""Shared by every suite.

1. The checkout under test is the one this file is in: it is made importable as
   ansible_collections.crosshost.fabric through the link ``.build/collections/ansible_collections/
   crosshost/fabric`` (as `make collection-link` makes it). A link left pointing at another checkout is
   re-pointed here (a stale link once made `make unit` test another worktree's code); anything that
   can't be fixed (a real folder in the link's place, the package already imported from elsewhere)
   stops the run.
2. No silent environmental skip under CI: with ``CI`` set, a test skipped for a missing tool or
   privilege fails instead (install the tool in lab/setup.sh). Skip reasons are always printed (-rs).
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "crosshost", "fabric")


def _ensure_link():
    """Point LINK at ROOT (atomically, when it points elsewhere); return a problem or None."""
    if os.path.islink(LINK):
        if os.path.realpath(LINK) == os.path.realpath(ROOT):
            return None
        print("tests/conftest.py: %s pointed at %s; re-pointing it at this checkout %s"
              % (LINK, os.path.realpath(LINK), ROOT), file=sys.stderr)
    elif os.path.exists(LINK):
        return "%s exists and is not a symlink to this checkout (%s): remove it" % (LINK, ROOT)
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    tmp = "%s.tmp-%d" % (LINK, os.getpid())
    os.symlink(ROOT, tmp)
    os.replace(tmp, LINK)  # atomic: a concurrent run never sees the link missing
    return None


def _imported_from():
    """The folders ansible_collections.crosshost.fabric resolves to, once imported."""
    import ansible_collections.crosshost.fabric as pkg  # noqa: PLC0415 - after sys.path is set

    return sorted({os.path.realpath(p) for p in pkg.__path__})


_problem = _ensure_link()
if COLLECTIONS in sys.path:
    sys.path.remove(COLLECTIONS)
sys.path.insert(0, COLLECTIONS)
# This checkout's collections path, whatever the caller's environment says (playbook tests read it).
os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
if _problem is None:
    _found = _imported_from()
    if _found != [os.path.realpath(ROOT)]:
        _problem = ("ansible_collections.crosshost.fabric resolves to %s, not to this checkout %s"
                    % (", ".join(_found), os.path.realpath(ROOT)))
if _problem is not None:
    pytest.exit("tests/conftest.py: " + _problem, returncode=4)

# Reasons that mean "this machine lacks a tool or a privilege", as the suites word them ("ethtool not
# installed", "needs root: ..."). A skip for what no machine of CI's kind has (a kernel without ipip)
# is worded otherwise ("kernel has no ipip") and stays a skip.
ENVIRONMENTAL = ("not installed", "needs root", "not root", "privilege", "permission denied", "command not found")


def pytest_configure(config):
    # Print the reason of every skip (-rs), whatever the command line asked for.
    chars = config.option.reportchars or ""
    if "s" not in chars and "a" not in chars and "A" not in chars:
        config.option.reportchars = chars + "s"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(word in reason.lower() for word in ENVIRONMENTAL):
        report.outcome = "failed"
        report.longrepr = (
            "CI is set, and this test was skipped for a missing tool or privilege: %s. "
            "Install what it needs in lab/setup.sh (HOST_PACKAGES) or run as root." % reason
        )
