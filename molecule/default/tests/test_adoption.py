"""Moving over from flannel without renumbering (issue 10 item 10, issue 6 item 1's second line of
defence), on real nodes: prepare.yml gave default-node3 flannel's /run/flannel/subnet.env for
10.244.77.0/24 and no lease. After site.yml the node keeps that subnet: in the plan, in the lease
file, on docker0 and in the subnet.env the collection rewrote. The others got never-used subnets."""

from __future__ import annotations

import ipaddress
import json

import yaml
from test_default import LEASE_FILE, load_plan

testinfra_hosts = ["ansible://default-node3"]

ADOPTED = "10.244.77.0/24"


def test_the_plan_and_the_ledger_adopted_the_running_subnet():
    plan = load_plan()
    assert plan["hosts"]["default-node3"]["subnet"] == ADOPTED, plan["hosts"]
    others = {n: h["subnet"] for n, h in plan["hosts"].items() if n != "default-node3"}
    assert ADOPTED not in others.values(), others
    leases = yaml.safe_load(LEASE_FILE.read_text(encoding="utf-8"))["leases"]
    assert leases["default-node3"]["subnet"] == ADOPTED, leases
    assert LEASE_FILE.read_text(encoding="utf-8").rstrip("\n").splitlines()[-1].startswith(
        "# end of lease ledger: 3 leases")


def test_docker0_and_subnet_env_run_the_adopted_subnet(host):
    addr = json.loads(host.check_output("ip -j -4 addr show docker0"))[0]["addr_info"][0]
    iface = ipaddress.ip_interface("%s/%s" % (addr["local"], addr["prefixlen"]))
    assert str(iface.network) == ADOPTED and str(iface.ip) == "10.244.77.1", iface
    env = host.file("/run/flannel/subnet.env").content_string
    assert "FLANNEL_SUBNET=10.244.77.1/24" in env, env
