"""ledger.read's refusals of a damaged lease file, word for word, and what it reads of released entries.

Mutation testing showed these messages were matched by fragments only (or not at all): every one is
compared whole here, on files damaged the ways the messages name.
"""

import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import ledger

END = "# end of lease ledger: %d leases, %d released\n"


def refusal(path, text):
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ledger.LedgerError) as exc:
        ledger.read(str(path))
    return exc.value.problems


def test_damaged_ledgers_are_refused_word_for_word(tmp_path):
    p = tmp_path / "leases.yml"
    assert refusal(p, "\n  \n") == [
        "lease file %s is empty (4 bytes): an empty ledger is not 'no leases' but a ledger lost or cut short; "
        "restore it (e.g. from version control), or delete it to start over (hosts already running in the fabric "
        "keep their subnets)" % p]
    assert refusal(p, "version: 2\nnetwork: 10.244.0.0/16\nsubnet_len: 24\nleases:\n  a: {subnet: 10.244.1.0/24}\n"
                      "# end of lease ledger: 1 leases, 0 released\nleases2: {}\n") == [
        "lease file %s is truncated: its last line is not the end marker '# end of lease ledger: N leases, M "
        "released'; leases may be missing. Restore it (e.g. from version control); a cut ledger is never read as "
        "fewer leases" % p]
    assert refusal(p, "version: 7\nleases: {}\n") == [
        "lease file %s: version 7 is not one this release reads (1 or 2); truncated, or written by a newer "
        "release?" % p]
    assert refusal(p, "network: 10.244.0.0/16\n") == [
        "lease file %s: version None is not one this release reads (1 or 2); truncated, or written by a newer "
        "release?" % p]
    assert refusal(p, "version: 1\nreleased: [a]\n") == [
        "lease file %s: 'released' must map subnets to {host, released_at}" % p]
    assert refusal(p, "version: 2\nnetwork: 10.244.0.0/16\nsubnet_len: 24\nleases:\n  a: {subnet: 10.244.1.0/24}\n"
                      + END % (2, 1)) == [
        "lease file %s: its end marker says 2 leases but holds 1 (and 1 released, holds 0): entries were lost or "
        "added by hand; restore it (e.g. from version control)" % p]
    assert refusal(p, "leases: [oops\n  x: y\n") == [
        "lease file %s is not valid YAML (truncated or edited?): while parsing a flow sequence   in "
        "\"<unicode string>\", line 1, column 9 did not find expected ',' or ']'   in \"<unicode string>\", "
        "line 2, column 4" % p]


def test_the_end_marker_is_the_last_line_whatever_blank_lines_follow(tmp_path):
    p = tmp_path / "leases.yml"
    p.write_text("version: 2\nnetwork: 10.244.0.0/16\nsubnet_len: 24\nleases:\n  a: {subnet: 10.244.1.0/24}\n"
                 "# note\n" + END % (1, 0) + "\n\n", encoding="utf-8")
    out = ledger.read(str(p))
    assert (out["leases"], out["version"], out["path"]) == ({"a": "10.244.1.0/24"}, 2, str(p))


def test_released_entries_keep_host_and_date_only_when_set(tmp_path):
    p = tmp_path / "leases.yml"
    p.write_text("version: 2\nnetwork: 10.244.0.0/16\nsubnet_len: 24\nleases: {}\nreleased:\n"
                 "  10.244.3.0/24: {host: c, released_at: '2026-01-01T00:00:00Z', note: x}\n"
                 "  10.244.4.0/24: {host: d, released_at: ''}\n"
                 "  10.244.5.0/24: gone\n"
                 + END % (0, 3), encoding="utf-8")
    assert ledger.read(str(p))["released"] == {
        "10.244.3.0/24": {"host": "c", "released_at": "2026-01-01T00:00:00Z"},
        "10.244.4.0/24": {"host": "d"},
        "10.244.5.0/24": {},
    }
    p.write_text("leases:\n  a: 10.244.1.0/24\n", encoding="utf-8")  # a first-release ledger: no version, no marker
    assert ledger.read(str(p))["leases"] == {"a": "10.244.1.0/24"}
