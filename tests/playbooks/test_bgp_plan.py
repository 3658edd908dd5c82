"""playbooks/plan.yml with fabric_backend bgp through the real ansible-playbook: the plan carries the
BGP speakers (reflector routers outside the fabric group too) and never a password; bad BGP input
stops the run, names hosts and values, and writes nothing."""

import json
import os
import re

import yaml
from test_plan_playbook import PLAYBOOK, ROOT, run

RESET = os.path.join(ROOT, "playbooks", "reset.yml")


def inventory(tmp_path, fabric, reflectors=None, group_vars=None):
    inv = {"all": {"children": {"fabric": {"hosts": fabric, "vars": {"fabric_backend": "bgp", **(group_vars or {})}}}}}
    if reflectors is not None:
        inv["all"]["children"]["fabric_route_reflectors"] = {"hosts": reflectors}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inv))
    return str(tmp_path / "hosts.yml")


def test_route_reflector_plan_has_routers_as_speakers_and_no_password(tmp_path):
    fabric = {"a1": {"ansible_host": "192.0.2.11", "fabric_rack": "a", "fabric_bgp_asn": 65001},
              "b1": {"ansible_host": "198.51.100.11", "fabric_rack": "b", "fabric_bgp_asn": 65002}}
    reflectors = {"tor-a": {"ansible_host": "192.0.2.1", "fabric_rack": "a", "fabric_bgp_asn": 65001,
                            "fabric_bgp_password": "s3cret-pw"},
                  "b1": {}}
    for h in fabric.values():
        h["fabric_bgp_password"] = "s3cret-pw"
    inv = inventory(tmp_path, fabric, reflectors, {"fabric_bgp_mode": "route-reflector"})
    rc, out = run(PLAYBOOK, inv, "-v")
    assert rc == 0, out
    text = (tmp_path / ".fabric" / "plan.json").read_text()
    plan = json.loads(text)
    assert sorted(plan["hosts"]) == ["a1", "b1"]  # tor-a has no subnet, no lease
    speakers = plan["bgp"]["speakers"]
    assert speakers["tor-a"]["router"] and speakers["tor-a"]["reflector"] and speakers["tor-a"]["asn"] == 65001
    assert speakers["b1"]["reflector"] and not speakers["b1"]["router"]
    assert plan["bgp"]["password"] is True and plan["bgp"]["clusters"] == {"a": "192.0.2.1", "b": "198.51.100.11"}
    assert "s3cret-pw" not in text and "s3cret-pw" not in out
    assert "tor-a" not in (tmp_path / ".fabric" / "leases.yml").read_text()


def test_bad_bgp_input_stops_the_plan_and_writes_nothing(tmp_path):
    fabric = {"a1": {"ansible_host": "192.0.2.11", "fabric_rack": "a", "fabric_bgp_asn": 4294967295},
              "a2": {"ansible_host": "192.0.2.12", "fabric_rack": "a",
                     "fabric_bgp_peers": [{"address": "10.244.9.9", "asn": 65000}]},
              "a3": {"ansible_host": "192.0.2.13", "fabric_bgp_password": "Zq9-only-a3"}}
    inv = inventory(tmp_path, fabric, {}, {"fabric_bgp_mode": "route-reflector"})
    rc, out = run(PLAYBOOK, inv)
    assert rc != 0
    assert "hosts disagree on fabric_bgp_password (values not shown): groups of hosts a1, a2; a3" in out
    assert "Zq9-only-a3" not in out
    assert not (tmp_path / ".fabric" / "leases.yml").exists() and not (tmp_path / ".fabric").exists()
    del fabric["a3"]["fabric_bgp_password"]
    inv = inventory(tmp_path, fabric, {}, {"fabric_bgp_mode": "route-reflector"})
    rc, out = run(PLAYBOOK, inv)
    assert rc != 0
    assert "host a1: fabric_bgp_asn 4294967295 is out of range" in out
    assert "host a2: fabric_bgp_peers[0]: address 10.244.9.9 lies inside fabric_network 10.244.0.0/16" in out
    assert "host a3 has no fabric_rack" in out
    assert "rack a has no route reflector (hosts a1, a2)" in out
    assert not (tmp_path / ".fabric" / "leases.yml").exists()


def test_mesh_is_the_default(tmp_path):
    fabric = {"n%d" % i: {"ansible_host": "192.0.2.%d" % (10 + i)} for i in range(1, 4)}
    rc, out = run(PLAYBOOK, inventory(tmp_path, fabric))
    assert rc == 0, out
    plan = json.loads((tmp_path / ".fabric" / "plan.json").read_text())
    assert plan["bgp"]["mode"] == "mesh" and sorted(plan["bgp"]["speakers"]) == ["n1", "n2", "n3"]


def test_a_host_known_only_from_the_ledger_stays_a_bgp_speaker(tmp_path):
    """--limit in the lab: a host limited out of the run, whose ansible_host is a name, has no
    public IP but the ledger's; it must stay a speaker, or its peers' sessions to it vanish."""
    fabric = {"n%d" % i: {"ansible_host": "n%d.example.invalid" % i, "fabric_public_ip": "192.0.2.%d" % (10 + i)}
              for i in range(1, 4)}
    rc, out = run(PLAYBOOK, inventory(tmp_path, fabric))
    assert rc == 0, out
    del fabric["n3"]["fabric_public_ip"]
    rc, out = run(PLAYBOOK, inventory(tmp_path, fabric))
    assert rc == 0, out
    plan = json.loads((tmp_path / ".fabric" / "plan.json").read_text())
    assert plan["hosts"]["n3"]["public_ip"] == "192.0.2.13"  # from the ledger
    assert sorted(plan["bgp"]["speakers"]) == ["n1", "n2", "n3"]
    assert plan["bgp"]["speakers"]["n3"]["router_id"] == "192.0.2.13"


def hosts_by_play(out: str) -> dict[str, list[str]]:
    """`ansible-playbook --list-hosts`: {play name: its hosts}."""
    plays: dict[str, list[str]] = {}
    name = None
    for line in out.splitlines():
        found = re.match(r"\s*play #\d+ \((.*)\): (.*?)\s+TAGS:", line)
        if found:
            name = found.group(2)
            plays[name] = []
        elif name and re.match(r"\s{6}\S+$", line):
            plays[name].append(line.strip())
    return plays


def test_reset_takes_the_fabric_off_the_reflector_routers_too(tmp_path):
    """reset.yml reaches the reflectors outside the fabric group (the routers site.yml configures), each
    once; a reflector that is a fabric host is reset with the fabric hosts; other group names work."""
    fabric = {"a1": {"ansible_host": "192.0.2.11"}, "b1": {"ansible_host": "198.51.100.11"}}
    reflectors = {"tor-a": {"ansible_host": "192.0.2.1"}, "b1": {}}
    rc, out = run(RESET, inventory(tmp_path, fabric, reflectors), "--list-hosts")
    assert rc == 0, out
    plays = hosts_by_play(out)
    everywhere = sorted(h for hosts in plays.values() for h in hosts)
    assert everywhere == ["a1", "b1", "tor-a"], plays
    assert [hosts for hosts in plays.values() if "tor-a" in hosts] == [["tor-a"]], plays

    inv = {"all": {"children": {"nodes": {"hosts": fabric}, "tors": {"hosts": {"tor-a": {}}}}}}
    (tmp_path / "other.yml").write_text(yaml.safe_dump(inv))
    rc, out = run(RESET, str(tmp_path / "other.yml"), "--list-hosts",
                  "-e", "fabric_group=nodes", "-e", "fabric_reflector_group=tors")
    assert rc == 0, out
    assert sorted(h for hosts in hosts_by_play(out).values() for h in hosts) == ["a1", "b1", "tor-a"], out
