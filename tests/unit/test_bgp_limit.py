"""The plan's BGP section under --limit: a speaker limited out of the run (no facts) keeps the
interface addresses the last full run recorded, so `--limit` never rewrites plan.json (seen in
molecule/bgp: a check run with --limit reported the plan task changed)."""

from types import SimpleNamespace

from ansible_collections.crosshost.fabric.plugins.action import fabric_plan

ARGS = {"network": "10.244.0.0/16", "reflector_group": "fabric_route_reflectors",
        "bgp_mode": "mesh", "bgp_encap": "none"}
IPS = {"n1": "192.0.2.11", "n2": "192.0.2.12", "n3": "192.0.2.13"}


def facts(ip, extra=None):
    out = {"interfaces": ["lo", "eth0"], "eth0": {"ipv4": {"address": ip, "netmask": "255.255.255.0"}},
           "default_ipv4": {"address": ip, "interface": "eth0"}}
    if extra:
        out["interfaces"].append("eth1")
        out["eth1"] = {"ipv4": {"address": extra, "netmask": "255.255.255.0"}}
    return out


def section(gathered, previous=None):
    hostvars = {n: {"ansible_facts": facts(ip, "198.51.100.%s" % ip.rsplit(".", 1)[1]) if n in gathered else {}}
                for n, ip in IPS.items()}
    task_vars = {"hostvars": hostvars, "groups": {"fabric": sorted(IPS)}}
    hosts = [SimpleNamespace(name=n, public_ip=ip) for n, ip in IPS.items()]
    out, _warnings = fabric_plan._bgp_section(ARGS, sorted(IPS), hosts, task_vars, dict(IPS), previous=previous)
    return out


def test_a_speaker_limited_out_keeps_its_recorded_addresses():
    full = section(set(IPS))
    assert full["speakers"]["n2"]["addresses"] == ["192.0.2.12/24", "198.51.100.12/24"]
    limited = section({"n1"}, previous=full["speakers"])
    assert limited == full


def test_gathered_facts_win_over_the_recorded_addresses():
    full = section(set(IPS))
    old = {n: dict(s, addresses=["203.0.113.9/24"]) for n, s in full["speakers"].items()}
    assert section(set(IPS), previous=old) == full
