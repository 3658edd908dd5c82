"""roles/bgp/templates/etc/bird/bird.conf.j2 rendered for every topology and checked by the real BIRD 2
parser (`bird -p -c`, installed by lab/setup.sh). The template is rendered with the template module's
Jinja settings (trim_blocks); molecule/bgp renders it through the module itself on real nodes."""

import os
import shutil
import subprocess

import jinja2
import pytest

from ansible_collections.crosshost.fabric.plugins.plugin_utils import bgp
from ansible_collections.crosshost.fabric.plugins.plugin_utils.bgp import BgpSettings
from test_bgp import make_plan, mesh, two_racks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "roles", "bgp", "templates", "etc", "bird", "bird.conf.j2")
SECRETS = os.path.join(ROOT, "roles", "bgp", "templates", "etc", "bird", "crosshost-fabric-secrets.conf.j2")
BIRD = shutil.which("bird") or "/usr/sbin/bird"


def env():
    return jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


def render(tmp_path, state, passwords=None, peers=None):
    """bird.conf and its secrets file, as the role writes them; returns the bird.conf path and text."""
    secrets = tmp_path / "secrets.conf"
    secrets.write_text(env().from_string(open(SECRETS).read()).render(
        bgp_speaker=state, fabric_bgp_password=passwords, fabric_bgp_peers=peers or []))
    text = env().from_string(open(TEMPLATE).read()).render(bgp_speaker=state, bgp_secrets_file=str(secrets))
    path = tmp_path / "bird.conf"
    path.write_text(text)
    return path, text


def bird_parse(path):
    if not os.path.exists(BIRD):
        pytest.fail("bird (Debian package bird2) is not installed: run `make setup`")
    proc = subprocess.run([BIRD, "-p", "-c", str(path)], capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stderr


def states(plan):
    return {name: bgp.bgp_state(plan, name) for name in plan["bgp"]["speakers"]}


def test_mesh_renders_a_config_bird_accepts(tmp_path):
    plan, _ = make_plan(mesh(3))
    for state in states(plan).values():
        path, text = render(tmp_path, state)
        assert bird_parse(path) == (0, ""), text
        assert "router id %s;" % state["router_id"] in text
        assert "route %s blackhole;" % state["subnet"] in text
        assert text.count("protocol bgp ") == 2
        assert "include" not in text  # no password, no secrets file
        assert "graceful restart on;" in text and "next hop self;" in text and "direct;" in text
        # Calico's retry timers: a session comes back within seconds.
        assert "connect retry time 5;" in text and "error wait time 5, 30;" in text
        # The announced subnet never reaches the kernel: the kernel export rejects it.
        assert "if source != RTS_BGP then reject;" in text
        assert "if net = %s then reject;" % state["subnet"] in text


def test_route_reflector_renders_for_routers_hosts_and_host_reflectors(tmp_path):
    plan, _ = make_plan(two_racks(), BgpSettings(mode="route-reflector"), public_net=None)
    for name, state in states(plan).items():
        path, text = render(tmp_path, state)
        assert bird_parse(path) == (0, ""), (name, text)
    _path, tor = render(tmp_path, bgp.bgp_state(plan, "tor-a"))
    assert "protocol static" not in tor  # a router without containers announces no subnet of its own
    assert tor.count("rr client;") == 2 and "rr cluster id 192.0.2.1;" in tor
    assert "next hop self ebgp;" in tor
    assert "local 203.0.113.1 as 65001;\n  neighbor 203.0.113.2 as 65002;\n  direct;" in tor
    assert "if source = RTS_BGP && net ~ [ 10.244.0.0/16{16,24} ] then accept;" in tor  # it passes routes on
    _path, host = render(tmp_path, bgp.bgp_state(plan, "a1"))
    assert "rr client" not in host and "if source = RTS_BGP && net" not in host  # only its own subnet
    _path, b1 = render(tmp_path, bgp.bgp_state(plan, "b1"))
    assert "route 10.244." in b1 and "rr client;" in b1 and "multihop;" in b1 and "gateway recursive;" in b1


def test_peers_with_passwords_render_and_bird_checks_the_constants(tmp_path):
    inputs = mesh(2)
    peers = [{"address": "192.0.2.1", "asn": 65000}, {"address": "192.0.2.2", "asn": 65000, "password": "r0 uter"}]
    inputs[0].peers = peers
    inputs[1].peers = [{"address": "192.0.2.1", "asn": 65000}]
    plan, _ = make_plan(inputs, BgpSettings(mode="peers", password="gl0bal"))
    state = bgp.bgp_state(plan, "node1")
    path, text = render(tmp_path, state, passwords="gl0bal", peers=peers)
    assert bird_parse(path) == (0, ""), text
    assert "password FABRIC_PW;" in text and "password FABRIC_PW_PEER_1;" in text
    assert text.count("allow local as;") == 2  # eBGP to routers: hosts share an AS
    assert "gl0bal" not in text and "r0 uter" not in text  # only in the secrets file
    secrets = (tmp_path / "secrets.conf").read_text()
    assert 'define FABRIC_PW = "gl0bal";' in secrets and 'define FABRIC_PW_PEER_1 = "r0 uter";' in secrets
    assert "FABRIC_PW_PEER_0" not in secrets
    # A session whose constant is missing is refused by BIRD: the parse proves the names match.
    path, _text = render(tmp_path, state, passwords=None, peers=peers)
    rc, err = bird_parse(path)
    assert rc != 0 and "FABRIC_PW" in open(path).read() and err


def test_ipip_renders_tunnel_routes_bird_accepts(tmp_path):
    plan, _ = make_plan(mesh(3), BgpSettings(encap="ipip"))
    path, text = render(tmp_path, bgp.bgp_state(plan, "node1"))
    assert bird_parse(path) == (0, ""), text
    assert ('if bgp_next_hop !~ [ 192.0.2.0/24+ ] then {\n        ifname = "tunl0";\n        onlink = true;\n'
            '        gw = bgp_next_hop;') in text


def test_bird_rejects_a_broken_config_so_the_check_can_fail(tmp_path):
    plan, _ = make_plan(mesh(2))
    state = bgp.bgp_state(plan, "node1")
    state["sessions"][0]["name"] = "client"  # a BIRD keyword (lab/README.md)
    path, _text = render(tmp_path, state)
    rc, err = bird_parse(path)
    assert rc != 0 and "syntax error" in err


def test_ipip_unit_brings_tunl0_up_with_the_planned_address_and_mtu(tmp_path):
    plan, _ = make_plan(mesh(2), BgpSettings(encap="ipip"))
    unit = os.path.join(ROOT, "roles", "bgp", "templates", "etc", "systemd", "system",
                        "crosshost-fabric-ipip.service.j2")
    text = env().from_string(open(unit).read()).render(bgp_speaker=bgp.bgp_state(plan, "node1"), bgp_service="bird")
    assert "ExecStart=/sbin/modprobe ipip\n" in text
    assert "ExecStart=/sbin/ip link set tunl0 up mtu 1480\n" in text
    assert "ExecStart=/sbin/ip addr replace 10.244.1.0/32 dev tunl0\n" in text
    assert "Before=bird.service docker.service" in text
    # Without ipip there is nothing to render: the role removes the unit.
    plan, _ = make_plan(mesh(2))
    assert bgp.bgp_state(plan, "node1")["ipip"] is None
