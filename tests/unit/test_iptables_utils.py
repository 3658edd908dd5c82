"""plugins/module_utils/iptables.py on recorded iptables-save output: exact models, batches and texts.

tests/unit/data/iptables-save-fabric.txt is what iptables-save (1.8.9, nf_tables) printed in a network
namespace holding Docker's DOCKER-USER jump, the fabric's two chains with their jumps, a user's ACCEPT
rule and a MASQUERADE; iptables-scratch-saved.txt is what it printed after loading
iptables-scratch-in.txt (scratch_text() of DESIRED below) into an empty namespace
(tests/unit/data/record.sh records all three).
"""

import copy
import pathlib

import pytest

from ansible_collections.crosshost.fabric.plugins.module_utils import iptables as ipt

DATA = pathlib.Path(__file__).parent / "data"
MARK = '-m comment --comment "crosshost.fabric"'


def recorded(name):
    return (DATA / name).read_text()


def live():
    return ipt.parse_save(recorded("iptables-save-fabric.txt"))


LIVE = {
    "filter": {
        "chains": ["INPUT", "FORWARD", "OUTPUT", "DOCKER-USER", "FABRIC-FORWARD"],
        "rules": {
            "FORWARD": [
                "-j DOCKER-USER",
                MARK + " -j FABRIC-FORWARD",
                '-s 10.244.1.5/32 -p tcp -m tcp --dport 80 -m comment --comment "web server" -j ACCEPT',
            ],
            "DOCKER-USER": ["-j RETURN"],
            "FABRIC-FORWARD": ["-s 10.244.0.0/16 -j ACCEPT", "-d 10.244.0.0/16 -j ACCEPT"],
        },
    },
    "nat": {
        "chains": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "FABRIC-POSTROUTING"],
        "rules": {
            "POSTROUTING": [MARK + " -j FABRIC-POSTROUTING", "-o eth0 -j MASQUERADE"],
            "FABRIC-POSTROUTING": [
                "-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN",
                "-s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
            ],
        },
    },
}

# What the fabric wants: the live chains (one rule changed in filter), and a new chain hooked
# into a chain the module creates.
DESIRED = [
    {"table": "filter", "chain": "FABRIC-FORWARD", "hook": "FORWARD", "position": "first",
     "rules": ["-s 10.244.0.0/16 -j ACCEPT", "-d 10.244.0.0/16 -p tcp --dport 80 -j ACCEPT"]},
    {"table": "filter", "chain": "FABRIC-INPUT", "hook": "FABRIC-HOOK", "create_hook": True, "position": "last",
     "rules": ["-s 192.0.2.2 -p udp --dport 8472 -j ACCEPT"]},
    {"table": "nat", "chain": "FABRIC-POSTROUTING", "hook": "POSTROUTING",
     "rules": ["-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN",
               "-s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully"]},
]


def item(chain, hook, rules, table="filter", **kw):
    return dict({"table": table, "chain": chain, "hook": hook, "rules": list(rules)}, **kw)


# ---------------------------------------------------------------- parsing


def test_parse_save_reads_the_recorded_ruleset_exactly():
    assert live() == LIVE


def test_parse_save_keeps_a_chain_declared_twice_once_and_an_empty_rule():
    text = ("\n  *raw  \n:PREROUTING ACCEPT [1:2]\n:PREROUTING ACCEPT [0:0]\n\n# note\n"
            "-A PREROUTING\n-A X -j y z\nCOMMIT\n")
    assert ipt.parse_save(text) == {"raw": {"chains": ["PREROUTING"], "rules": {"PREROUTING": [""], "X": ["-j y z"]}}}


def test_parse_save_refuses_a_rule_outside_a_table_and_an_unknown_line():
    with pytest.raises(ValueError) as err:
        ipt.parse_save("*filter\nCOMMIT\n-A FORWARD -j ACCEPT\n")
    assert str(err.value) == "iptables-save line outside a table: -A FORWARD -j ACCEPT"
    with pytest.raises(ValueError) as err:
        ipt.parse_save("*filter\n-I FORWARD 1 -j ACCEPT\nCOMMIT\n")
    assert str(err.value) == "unexpected iptables-save line: -I FORWARD 1 -j ACCEPT"
    with pytest.raises(ValueError) as err:
        ipt.parse_save("*filter\n-AFORWARD\nCOMMIT\n")
    assert str(err.value) == "unexpected iptables-save line: -AFORWARD"


def test_jump_specs_and_owned_targets():
    assert ipt.jump_spec("FABRIC-X") == '-m comment --comment "crosshost.fabric" -j FABRIC-X'
    assert ipt.jump_spec("FABRIC-X", quoted=False) == "-m comment --comment crosshost.fabric -j FABRIC-X"
    assert ipt.owned_target(MARK + " -j FABRIC-FORWARD") == "FABRIC-FORWARD"
    assert ipt.owned_target("-m comment --comment crosshost.fabric -j FABRIC-FORWARD") == "FABRIC-FORWARD"
    assert ipt.owned_target(MARK + " -j DOCKER-USER") is None  # ours in form, not our chain
    assert ipt.owned_target('-m comment --comment "crosshost.fabricX" -j FABRIC-FORWARD') is None
    assert ipt.owned_target('-m comment --comment "crosshost_fabric" -j FABRIC-FORWARD') is None
    assert ipt.owned_target(MARK + " -j FABRIC-FORWARD -x") is None
    assert ipt.owned_target("-s 1.2.3.4 " + MARK + " -j FABRIC-FORWARD") is None
    assert ipt.owned_target("-j FABRIC-FORWARD") is None


def test_new_tables_hold_their_builtin_chains():
    assert ipt.new_table("filter") == {"chains": ["INPUT", "FORWARD", "OUTPUT"], "rules": {}}
    assert ipt.new_table("nat") == {"chains": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"], "rules": {}}
    assert ipt.new_table("mangle")["chains"] == ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]
    assert ipt.new_table("raw")["chains"] == ["PREROUTING", "OUTPUT"]
    assert ipt.new_table("security")["chains"] == ["INPUT", "FORWARD", "OUTPUT"]
    assert ipt.new_table("nosuch") == {"chains": [], "rules": {}}


def test_chain_names():
    assert ipt.CHAIN_NAME.match("FABRIC-A_b.9")
    assert ipt.CHAIN_NAME.match("_" + "x" * 27)
    assert not ipt.CHAIN_NAME.match("x" * 29)
    assert not ipt.CHAIN_NAME.match("-X")
    assert not ipt.CHAIN_NAME.match("A B")
    # "$" would match before a final newline: a name ending in one would break the restore text
    assert not ipt.CHAIN_NAME.match("FABRIC-X\n")


# ---------------------------------------------------------------- the batch and its model


def test_batch_lines_come_in_a_fixed_order_and_the_model_follows():
    table = ipt.new_table("filter")
    table["rules"]["FORWARD"] = ["-j A", "-j B"]
    table["chains"].append("OLD")
    table["rules"]["OLD"] = ["-j DROP"]
    batch = ipt.Batch(table)
    batch.remove_chain("OLD")
    batch.insert_rule("FORWARD", "-j NEW1", 1)
    batch.insert_rule("FORWARD", "-j NEW2", 2)
    batch.insert_rule("FORWARD", "-j LAST")
    batch.insert_rule("FORWARD", "-j PAST", 9)
    batch.insert_rule("FORWARD", "-j END", 6)  # at the last place: an insert before PAST
    batch.insert_rule("FORWARD", "-j TAIL", 8)  # one past the end: an append
    batch.delete_rule("FORWARD", "-j A")
    batch.replace_chain("FABRIC-Y", ["-j ACCEPT", "-j DROP"])
    batch.create_chain("HOOK")
    assert batch.lines() == [
        ":FABRIC-Y - [0:0]",
        ":HOOK - [0:0]",
        "-A FABRIC-Y -j ACCEPT",
        "-A FABRIC-Y -j DROP",
        "-D FORWARD -j A",
        "-I FORWARD 1 -j NEW1",
        "-I FORWARD 2 -j NEW2",
        "-A FORWARD -j LAST",
        "-A FORWARD -j PAST",
        "-I FORWARD 6 -j END",
        "-A FORWARD -j TAIL",
        "-F OLD",
        "-X OLD",
    ]
    assert table == {
        "chains": ["INPUT", "FORWARD", "OUTPUT", "FABRIC-Y", "HOOK"],
        "rules": {
            "FORWARD": ["-j NEW1", "-j NEW2", "-j B", "-j LAST", "-j END", "-j PAST", "-j TAIL"],
            "FABRIC-Y": ["-j ACCEPT", "-j DROP"],
            "HOOK": [],
        },
    }


def test_replace_chain_of_an_existing_chain_refills_it_without_declaring_it_twice_in_the_model():
    table = copy.deepcopy(LIVE["filter"])
    batch = ipt.Batch(table)
    batch.replace_chain("FABRIC-FORWARD", ["-j DROP"])
    assert batch.lines() == [":FABRIC-FORWARD - [0:0]", "-A FABRIC-FORWARD -j DROP"]
    assert table["chains"] == LIVE["filter"]["chains"]
    assert table["rules"]["FABRIC-FORWARD"] == ["-j DROP"]


def test_rules_of_an_unknown_chain_is_an_empty_list_kept_in_the_model():
    table = ipt.new_table("filter")
    batch = ipt.Batch(table)
    assert batch.rules("NOPE") == []
    batch.rules("NOPE").append("-j X")
    assert table["rules"]["NOPE"] == ["-j X"]


def test_remove_chain_of_a_chain_without_rules():
    table = {"chains": ["E"], "rules": {}}
    ipt.Batch(table).remove_chain("E")
    assert table == {"chains": [], "rules": {}}


def test_first_terminal_and_reachable():
    rules = ["-s 1.2.3.4 -j ACCEPT", "-j DOCKER-USER", "-j RETURN", "-j FABRIC-X"]
    assert ipt.first_terminal(rules) == 3
    assert [ipt.reachable(rules, i) for i in (0, 1, 3)] == [True, True, False]
    assert ipt.first_terminal(["-j ACCEPT"]) == 1
    assert ipt.first_terminal(["-j DROP", "-j ACCEPT"]) == 1
    assert ipt.first_terminal(["-x", "-j REJECT --reject-with icmp-port-unreachable"]) == 2
    assert ipt.first_terminal(["-j ACCEPTED", "-j DROPX", "-j LOG"]) is None
    assert ipt.reachable(["-j ACCEPTED"], 5) is True
    assert ipt.reachable(["-j DROP", "-j X"], 0) is False


def test_owned_jumps_of_the_recorded_tables():
    assert ipt.owned_jumps(LIVE["filter"]) == [("FORWARD", MARK + " -j FABRIC-FORWARD", "FABRIC-FORWARD")]
    assert ipt.owned_jumps(LIVE["nat"]) == [("POSTROUTING", MARK + " -j FABRIC-POSTROUTING", "FABRIC-POSTROUTING")]
    assert ipt.owned_jumps({"chains": ["X"], "rules": {}}) == []


# ---------------------------------------------------------------- plan


def test_plan_with_the_live_state_desired_does_nothing():
    desired = [
        item("FABRIC-FORWARD", "FORWARD", LIVE["filter"]["rules"]["FABRIC-FORWARD"]),
        item("FABRIC-POSTROUTING", "POSTROUTING", LIVE["nat"]["rules"]["FABRIC-POSTROUTING"], table="nat"),
    ]
    before = live()
    batches, expected, owned, warnings = ipt.plan(before, desired, "present", True)
    assert (batches, warnings) == ({}, [])
    assert expected == LIVE and before == LIVE  # the live model is not changed in place
    assert owned == {"filter": ["FABRIC-FORWARD"], "nat": ["FABRIC-POSTROUTING"]}


def test_plan_a_changed_rule_a_new_chain_in_a_new_hook():
    batches, expected, owned, warnings = ipt.plan(live(), DESIRED, "present", False)
    assert batches == {
        "filter": [
            ":FABRIC-HOOK - [0:0]",
            ":FABRIC-FORWARD - [0:0]",
            ":FABRIC-INPUT - [0:0]",
            "-A FABRIC-FORWARD -s 10.244.0.0/16 -j ACCEPT",
            "-A FABRIC-FORWARD -d 10.244.0.0/16 -p tcp --dport 80 -j ACCEPT",
            "-A FABRIC-INPUT -s 192.0.2.2 -p udp --dport 8472 -j ACCEPT",
            "-A FABRIC-HOOK " + MARK + " -j FABRIC-INPUT",
        ],
    }
    assert owned == {"filter": ["FABRIC-FORWARD", "FABRIC-INPUT"], "nat": ["FABRIC-POSTROUTING"]}
    assert warnings == []
    assert expected["nat"] == LIVE["nat"]
    assert expected["filter"]["chains"] == ["INPUT", "FORWARD", "OUTPUT", "DOCKER-USER", "FABRIC-FORWARD",
                                            "FABRIC-HOOK", "FABRIC-INPUT"]
    assert expected["filter"]["rules"]["FABRIC-HOOK"] == [MARK + " -j FABRIC-INPUT"]
    assert ipt.restore_text(batches) == "*filter\n" + "\n".join(batches["filter"]) + "\nCOMMIT\n"


def test_plan_uses_the_jump_spec_as_iptables_prints_it():
    desired = [item("FABRIC-NEW", "FORWARD", ["-j ACCEPT"], position="last")]
    spec = "-m comment --comment crosshost.fabric -j FABRIC-NEW"
    batches, expected, _owned, _warnings = ipt.plan({}, desired, "present", False,
                                                   jump_specs={("filter", "FABRIC-NEW"): spec})
    assert batches == {"filter": [":FABRIC-NEW - [0:0]", "-A FABRIC-NEW -j ACCEPT", "-A FORWARD " + spec]}
    assert expected == {"filter": {"chains": ["INPUT", "FORWARD", "OUTPUT", "FABRIC-NEW"],
                                   "rules": {"FORWARD": [spec], "FABRIC-NEW": ["-j ACCEPT"]}}}


def test_plan_position_last_goes_before_the_first_unconditional_verdict():
    before = {"filter": {"chains": ["INPUT", "FORWARD", "OUTPUT", "DOCKER-USER"],
                         "rules": {"DOCKER-USER": ["-i br0 -j ACCEPT", "-j RETURN"]}}}
    desired = [item("FABRIC-U", "DOCKER-USER", ["-j ACCEPT"], position="last")]
    batches, expected, _o, _w = ipt.plan(before, desired, "present", False)
    assert batches["filter"][-1] == "-I DOCKER-USER 2 " + MARK + " -j FABRIC-U"
    assert expected["filter"]["rules"]["DOCKER-USER"] == ["-i br0 -j ACCEPT", MARK + " -j FABRIC-U", "-j RETURN"]


def test_plan_moves_an_unreachable_jump_and_removes_a_duplicate():
    before = {"filter": {"chains": ["INPUT", "FORWARD", "OUTPUT", "FABRIC-A"],
                         "rules": {"FORWARD": ["-j ACCEPT", MARK + " -j FABRIC-A"], "FABRIC-A": ["-j DROP"]}}}
    desired = [item("FABRIC-A", "FORWARD", ["-j DROP"])]
    batches, _e, _o, _w = ipt.plan(before, desired, "present", False)
    assert batches == {"filter": ["-D FORWARD " + MARK + " -j FABRIC-A", "-I FORWARD 1 " + MARK + " -j FABRIC-A"]}
    before["filter"]["rules"]["FORWARD"] = [MARK + " -j FABRIC-A", "-j LOG", MARK + " -j FABRIC-A"]
    batches, expected, _o, _w = ipt.plan(before, desired, "present", False)
    assert batches == {"filter": ["-D FORWARD " + MARK + " -j FABRIC-A", "-D FORWARD " + MARK + " -j FABRIC-A",
                                  "-I FORWARD 1 " + MARK + " -j FABRIC-A"]}
    assert expected["filter"]["rules"]["FORWARD"] == [MARK + " -j FABRIC-A", "-j LOG"]


def test_plan_moves_a_jump_to_its_new_hook_and_purges_a_stale_chain():
    before = live()
    desired = [item("FABRIC-FORWARD", "INPUT", LIVE["filter"]["rules"]["FABRIC-FORWARD"])]
    batches, expected, owned, warnings = ipt.plan(before, desired, "present", True)
    assert batches == {
        "filter": ["-D FORWARD " + MARK + " -j FABRIC-FORWARD", "-A INPUT " + MARK + " -j FABRIC-FORWARD"],
        "nat": ["-D POSTROUTING " + MARK + " -j FABRIC-POSTROUTING", "-F FABRIC-POSTROUTING", "-X FABRIC-POSTROUTING"],
    }
    assert owned == {"filter": ["FABRIC-FORWARD"], "nat": ["FABRIC-POSTROUTING"]}
    assert warnings == []
    assert expected["nat"] == {"chains": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
                               "rules": {"POSTROUTING": ["-o eth0 -j MASQUERADE"]}}
    # Without purge the stale nat chain and its jump stay.
    batches, expected, owned, _w = ipt.plan(live(), desired, "present", False)
    assert sorted(batches) == ["filter"]
    assert expected["nat"] == LIVE["nat"]
    assert owned == {"filter": ["FABRIC-FORWARD"], "nat": ["FABRIC-POSTROUTING"]}


def test_plan_purge_keeps_a_stale_chain_another_rule_still_uses():
    before = live()
    before["filter"]["chains"].append("FABRIC-OLD")
    before["filter"]["rules"]["FABRIC-OLD"] = []
    before["filter"]["rules"]["FORWARD"].append(MARK + " -j FABRIC-OLD")
    before["filter"]["rules"]["DOCKER-USER"].insert(0, "-i br0 -g FABRIC-OLD")
    desired = [item("FABRIC-FORWARD", "FORWARD", LIVE["filter"]["rules"]["FABRIC-FORWARD"])]
    batches, _expected, owned, warnings = ipt.plan(before, desired, "present", True)
    assert batches["filter"] == ["-D FORWARD " + MARK + " -j FABRIC-OLD"]
    assert owned["filter"] == ["FABRIC-FORWARD", "FABRIC-OLD"]
    assert warnings == [
        "left chain filter/FABRIC-OLD in place: still referenced by -A DOCKER-USER -i br0 -g FABRIC-OLD"]


def test_plan_absent_removes_every_owned_jump_and_chain():
    batches, expected, owned, warnings = ipt.plan(live(), [item("FABRIC-FORWARD", None, [])], "absent", False)
    assert batches == {
        "filter": ["-D FORWARD " + MARK + " -j FABRIC-FORWARD", "-F FABRIC-FORWARD", "-X FABRIC-FORWARD"],
        "nat": ["-D POSTROUTING " + MARK + " -j FABRIC-POSTROUTING", "-F FABRIC-POSTROUTING", "-X FABRIC-POSTROUTING"],
    }
    assert owned == {"filter": ["FABRIC-FORWARD"], "nat": ["FABRIC-POSTROUTING"]}
    assert warnings == []
    assert expected["filter"]["chains"] == ["INPUT", "FORWARD", "OUTPUT", "DOCKER-USER"]
    assert "FABRIC-FORWARD" not in expected["filter"]["rules"]
    # Nothing of ours left: nothing to do, and an absent chain is no work.
    batches, _e, owned, _w = ipt.plan(expected, [item("FABRIC-FORWARD", None, [])], "absent", False)
    assert batches == {} and owned == {"filter": ["FABRIC-FORWARD"]}


def test_plan_absent_never_removes_a_builtin_chain_and_warns():
    desired = [item("FORWARD", None, [])]
    batches, _e, owned, warnings = ipt.plan({"filter": ipt.new_table("filter")}, desired, "absent", False)
    assert batches == {}
    assert owned == {"filter": ["FORWARD"]}
    assert warnings == ["not removing built-in chain filter/FORWARD"]


def test_plan_absent_leaves_a_chain_a_user_rule_jumps_to():
    before = live()
    before["filter"]["rules"]["INPUT"] = ["-p tcp -j FABRIC-FORWARD"]
    batches, _e, _o, warnings = ipt.plan(before, [item("FABRIC-FORWARD", None, [])], "absent", False)
    assert batches["filter"] == ["-D FORWARD " + MARK + " -j FABRIC-FORWARD"]
    assert warnings == [
        "left chain filter/FABRIC-FORWARD in place: still referenced by -A INPUT -p tcp -j FABRIC-FORWARD"]


def test_references_match_whole_chain_names_only():
    table = {"chains": ["A", "B", "C"],
             "rules": {"A": ["-j FABRIC-XY", "-j FABRIC-X", "-m x -g FABRIC-X -c", MARK + " -j FABRIC-X"],
                       "B": ["-j FABRIC-X"], "C": ["-jFABRIC-X"]}}
    assert ipt._references(table, "FABRIC-X") == ["-A A -j FABRIC-X", "-A A -m x -g FABRIC-X -c", "-A B -j FABRIC-X"]
    assert ipt._references(table, "FABRIC-X", ignore_chains=("A",)) == ["-A B -j FABRIC-X"]


def test_plan_refuses_a_missing_hook_and_a_managed_hook():
    with pytest.raises(ValueError) as err:
        ipt.plan(live(), [item("FABRIC-Z", "NOHOOK", [])], "present", False)
    assert str(err.value) == "hook chain NOHOOK does not exist in table filter"
    with pytest.raises(ValueError) as err:
        ipt.plan(live(), [item("FABRIC-A", "FABRIC-B", []), item("FABRIC-B", "FORWARD", [])], "present", False)
    assert str(err.value) == "hook FABRIC-B of chain FABRIC-A is itself a managed chain"


def test_plan_orders_tables_as_desired_then_the_live_ones_with_our_jumps():
    before = live()
    before["mangle"] = ipt.new_table("mangle")
    desired = [item("FABRIC-M", "PREROUTING", ["-j ACCEPT"], table="raw")]
    batches, _e, owned, _w = ipt.plan(before, desired, "present", True)
    assert list(owned) == ["raw", "filter", "nat"]
    assert list(batches) == ["raw", "filter", "nat"]
    # PREROUTING of raw is empty: the jump "first" is an append
    assert batches["raw"] == [":FABRIC-M - [0:0]", "-A FABRIC-M -j ACCEPT", "-A PREROUTING " + MARK + " -j FABRIC-M"]


# ---------------------------------------------------------------- texts


def test_render_shows_our_chains_and_jumps_and_flags_an_unreachable_jump():
    tables = live()
    tables["filter"]["rules"]["FORWARD"].insert(0, "-j ACCEPT")
    assert ipt.render(tables, {"filter": ["FABRIC-FORWARD", "FABRIC-GONE"], "raw": ["FABRIC-R"]}) == [
        "-t filter -N FABRIC-FORWARD",
        "-t filter -A FABRIC-FORWARD -s 10.244.0.0/16 -j ACCEPT",
        "-t filter -A FABRIC-FORWARD -d 10.244.0.0/16 -j ACCEPT",
        "-t filter -A FORWARD " + MARK + " -j FABRIC-FORWARD" + ipt.UNREACHABLE,
    ]
    assert ipt.UNREACHABLE == "  # unreachable: after an unconditional verdict"
    assert ipt.render(live(), {"nat": ["FABRIC-POSTROUTING"]}) == [
        "-t nat -N FABRIC-POSTROUTING",
        "-t nat -A FABRIC-POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN",
        "-t nat -A FABRIC-POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully",
        "-t nat -A POSTROUTING " + MARK + " -j FABRIC-POSTROUTING",
    ]


def test_line_changes():
    assert ipt.line_changes(["a", "b", "c", "d"], ["a", "x", "c", "e", "f"]) == (["x", "e", "f"], ["b", "d"])
    assert ipt.line_changes(["a", "b"], ["a"]) == ([], ["b"])
    assert ipt.line_changes(["a"], ["z", "a"]) == (["z"], [])
    same = ["x"] * 300 + ["y"]
    assert ipt.line_changes(same, same[:-1] + ["z"]) == (["z"], ["y"])  # no autojunk on long repeats


def test_restore_text():
    assert ipt.restore_text({}) == ""
    assert ipt.restore_text({"nat": ["-F X"], "filter": ["-X Y", "-X Z"]}) == \
        "*nat\n-F X\nCOMMIT\n*filter\n-X Y\n-X Z\nCOMMIT\n"


def test_tables_in_order():
    assert ipt.tables_in_order(DESIRED) == ["filter", "nat"]
    assert ipt.tables_in_order([]) == []


def test_persist_text_is_the_boot_file_exactly():
    assert ipt.persist_text(DESIRED) == (
        "# Written by crosshost.fabric.fabric_firewall; do not edit.\n"
        "# Loaded at boot by crosshost-fabric-restore (iptables-restore --noflush).\n"
        "*filter\n"
        ":FABRIC-FORWARD - [0:0]\n"
        ":FABRIC-INPUT - [0:0]\n"
        "-A FABRIC-FORWARD -s 10.244.0.0/16 -j ACCEPT\n"
        "-A FABRIC-FORWARD -d 10.244.0.0/16 -p tcp --dport 80 -j ACCEPT\n"
        "-A FABRIC-INPUT -s 192.0.2.2 -p udp --dport 8472 -j ACCEPT\n"
        "-I FORWARD 1 -m comment --comment crosshost.fabric -j FABRIC-FORWARD\n"
        "-A FABRIC-HOOK -m comment --comment crosshost.fabric -j FABRIC-INPUT\n"
        "COMMIT\n"
        "*nat\n"
        ":FABRIC-POSTROUTING - [0:0]\n"
        "-A FABRIC-POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN\n"
        "-A FABRIC-POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully\n"
        "-I POSTROUTING 1 -m comment --comment crosshost.fabric -j FABRIC-POSTROUTING\n"
        "COMMIT\n"
    )


def test_scratch_text_is_the_recorded_scratch_input():
    assert ipt.scratch_text(DESIRED, live()) == recorded("iptables-scratch-in.txt")
    assert ipt.scratch_text([], live()) == "\n"


def test_canonical_from_scratch_takes_the_rules_and_jumps_as_iptables_printed_them():
    saved = recorded("iptables-scratch-saved.txt")
    result, jumps = ipt.canonical_from_scratch(DESIRED, saved)
    assert result == [
        dict(DESIRED[0], rules=["-s 10.244.0.0/16 -j ACCEPT", "-d 10.244.0.0/16 -p tcp -m tcp --dport 80 -j ACCEPT"]),
        dict(DESIRED[1], rules=["-s 192.0.2.2/32 -p udp -m udp --dport 8472 -j ACCEPT"]),
        DESIRED[2],
    ]
    assert jumps == {
        ("filter", "FABRIC-FORWARD"): MARK + " -j FABRIC-FORWARD",
        ("filter", "FABRIC-INPUT"): MARK + " -j FABRIC-INPUT",
        ("nat", "FABRIC-POSTROUTING"): MARK + " -j FABRIC-POSTROUTING",
    }
    # The canonical form of the live chains is what the plan compares: only the new chain is work.
    batches, _e, _o, _w = ipt.plan(live(), result, "present", False, jump_specs=jumps)
    assert batches == {"filter": [
        ":FABRIC-HOOK - [0:0]",
        ":FABRIC-FORWARD - [0:0]",
        ":FABRIC-INPUT - [0:0]",
        "-A FABRIC-FORWARD -s 10.244.0.0/16 -j ACCEPT",
        "-A FABRIC-FORWARD -d 10.244.0.0/16 -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A FABRIC-INPUT -s 192.0.2.2/32 -p udp -m udp --dport 8472 -j ACCEPT",
        "-A FABRIC-HOOK " + MARK + " -j FABRIC-INPUT",
    ]}


def test_canonical_from_scratch_refuses_a_ruleset_that_lost_rules():
    saved = recorded("iptables-scratch-saved.txt").replace("-A FABRIC-INPUT", "-A FABRIC-OTHER")
    with pytest.raises(ValueError) as err:
        ipt.canonical_from_scratch(DESIRED, saved)
    assert str(err.value) == "scratch ruleset for FABRIC-INPUT lost rules"
    # A table missing from the saved text is an empty one: its chains lost their rules.
    with pytest.raises(ValueError) as err:
        ipt.canonical_from_scratch([item("FABRIC-M", "PREROUTING", ["-j ACCEPT"], table="mangle")], saved)
    assert str(err.value) == "scratch ruleset for FABRIC-M lost rules"
    result, jumps = ipt.canonical_from_scratch([item("FABRIC-M", "PREROUTING", [], table="mangle")], saved)
    assert result == [item("FABRIC-M", "PREROUTING", [], table="mangle")] and jumps == {}


# ---------------------------------------------------------------- corners mutation testing found


def test_line_changes_does_not_junk_popular_lines():
    # A render of many identical-looking lines moved by one: the moved line, not 250 others.
    before, after = ["b"] + ["a"] * 250, ["a"] * 250 + ["b"]
    assert ipt.line_changes(before, after) == (["b"], ["b"])


def test_parse_save_refuses_a_rule_before_any_table():
    with pytest.raises(ValueError) as err:
        ipt.parse_save("-A FORWARD -j ACCEPT\n")
    assert str(err.value) == "iptables-save line outside a table: -A FORWARD -j ACCEPT"


def test_plan_never_changes_the_live_model():
    before = live()
    ipt.plan(before, DESIRED, "present", True)
    ipt.plan(before, [item("FABRIC-FORWARD", None, [])], "absent", False)
    assert before == LIVE


def test_plan_and_render_of_a_declared_chain_without_rules():
    before = {"filter": {"chains": ["INPUT", "FORWARD", "OUTPUT", "FABRIC-E"],
                         "rules": {"FORWARD": [MARK + " -j FABRIC-E"]}}}
    batches, _e, _o, _w = ipt.plan(before, [item("FABRIC-E", "FORWARD", [])], "present", False)
    assert batches == {}
    assert ipt.render(before, {"filter": ["FABRIC-E"]}) == ["-t filter -N FABRIC-E",
                                                            "-t filter -A FORWARD " + MARK + " -j FABRIC-E"]


def test_remove_chains_goes_on_after_a_builtin_or_a_referenced_chain():
    table = {"chains": ["INPUT", "FORWARD", "OUTPUT", "FABRIC-A", "FABRIC-B", "FABRIC-C", "FABRIC-D"],
             "rules": {"INPUT": ["-j FABRIC-A", "-p udp -g FABRIC-A"], "FABRIC-C": ["-j FABRIC-D"],
                       "FABRIC-D": ["-j FABRIC-C"]}}
    batch = ipt.Batch(table)
    warnings = []
    ipt._remove_chains(batch, ["FORWARD", "FABRIC-A", "FABRIC-B", "FABRIC-C", "FABRIC-D", "FABRIC-GONE"], warnings,
                       "filter")
    assert warnings == [
        "not removing built-in chain filter/FORWARD",
        "left chain filter/FABRIC-A in place: still referenced by -A INPUT -j FABRIC-A; -A INPUT -p udp -g FABRIC-A",
    ]
    # C and D only reference each other, and both go.
    assert batch.lines() == ["-F FABRIC-B", "-F FABRIC-C", "-F FABRIC-D", "-X FABRIC-B", "-X FABRIC-C", "-X FABRIC-D"]


def test_a_table_without_builtin_chains_known_here():
    table = {"chains": ["FABRIC-B"], "rules": {}}
    batch = ipt.Batch(table)
    ipt._remove_chains(batch, ["FABRIC-B"], [], "broute")
    assert batch.lines() == ["-F FABRIC-B", "-X FABRIC-B"]
    desired = [item("FABRIC-B", "BROUTING", ["-j ACCEPT"], table="broute", create_hook=True)]
    assert ipt.scratch_text(desired, {"broute": {"chains": ["BROUTING"], "rules": {}}}) == (
        "*broute\n:BROUTING - [0:0]\n:FABRIC-B - [0:0]\n-A FABRIC-B -j ACCEPT\n"
        "-A BROUTING " + MARK + " -j FABRIC-B\nCOMMIT\n")


def test_scratch_text_of_a_table_not_live_yet():
    assert ipt.scratch_text(DESIRED[2:], {}) == (
        "*nat\n:FABRIC-POSTROUTING - [0:0]\n"
        "-A FABRIC-POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN\n"
        "-A FABRIC-POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully\n"
        "-A POSTROUTING " + MARK + " -j FABRIC-POSTROUTING\nCOMMIT\n")
