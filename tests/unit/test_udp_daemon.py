"""The pure parts of the UDP backend's daemon (roles/udp/files/crosshost_fabric_udp.py): the peer
file, the peer lookup, the inbound checks, checksums, TSO splitting, GRO coalescing and GSO batching.
No TUN device and no socket here (the molecule scenario `udp` runs the daemon for real)."""

import importlib.util
import ipaddress
import json
import os
import random
import struct

import pytest

PATH = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "udp", "files", "crosshost_fabric_udp.py")
_spec = importlib.util.spec_from_file_location("crosshost_fabric_udp", PATH)
udp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(udp)


def conf(**over):
    data = {
        "device": "flannel0", "port": 8285, "listen": "192.0.2.11", "mtu": 1472, "address": "10.244.1.0/16",
        "cluster_network": "10.244.0.0/16", "local_subnet": "10.244.1.0/24",
        "peers": [
            {"name": "n2", "subnet": "10.244.2.0/24", "ip": "192.0.2.12", "port": 8285},
            {"name": "n3", "subnet": "10.244.3.0/24", "ip": "192.0.2.13", "port": 8285},
        ],
    }
    data.update(over)
    return data


def ip(text):
    return int(ipaddress.IPv4Address(text))


def slow_checksum(data):
    """RFC 1071 word by word, the reference."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_packet(src, dst, payload, seq=1000, flags=0x18, ip_id=7, options=b"\x01\x01\x08\x0a" + bytes(8)):
    thl = 20 + len(options)
    tcp = struct.pack("!HHIIBBHHH", 40000, 5201, seq, 555, (thl // 4) << 4, flags, 501, 0, 0) + options
    total = 20 + thl + len(payload)
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ip_id, 0x4000, 64, 6, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    iph = iph[:10] + slow_checksum(iph).to_bytes(2, "big") + iph[12:]
    pseudo = iph[12:20] + struct.pack("!BBH", 0, 6, thl + len(payload))
    csum = slow_checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + csum.to_bytes(2, "big") + tcp[18:]
    return iph + tcp + payload


def valid(packet):
    """IP header and TCP checksums both verify."""
    ihl = (packet[0] & 15) * 4
    pseudo = packet[12:20] + struct.pack("!BBH", 0, packet[9], len(packet) - ihl)
    return slow_checksum(packet[:ihl]) == 0 and slow_checksum(pseudo + packet[ihl:]) == 0


# --------------------------------------------------------------------------- peer file


def test_config_reads_the_rendered_peer_file(tmp_path):
    path = tmp_path / "udp.json"
    path.write_text(json.dumps(conf()))
    cfg = udp.Config.load(str(path))
    assert [p.name for p in cfg.peers] == ["n2", "n3"]
    assert cfg.peer_for(ip("10.244.3.77")).addr == ("192.0.2.13", 8285)
    assert cfg.peer_for(ip("10.244.2.1")).name == "n2"
    assert cfg.peer_for(ip("10.244.9.1")) is None  # no peer owns it
    assert cfg.peer_for(ip("10.244.1.5")) is None  # our own subnet
    assert cfg.is_local(ip("10.244.1.0")) and cfg.is_local(ip("10.244.1.255"))
    assert not cfg.is_local(ip("10.244.2.0"))
    assert cfg.by_ip["192.0.2.12"].name == "n2"


@pytest.mark.parametrize("over, message", [
    ({"port": 0}, "port 0 is not a port"),
    ({"port": True}, "port True is not a port"),
    ({"mtu": 100}, "mtu 100 is outside"),
    ({"listen": "nope"}, "listen 'nope' is not an IPv4 address"),
    ({"local_subnet": "10.245.1.0/24"}, "local_subnet 10.245.1.0/24 is not inside cluster_network"),
    ({"device": "a/b"}, "device 'a/b' is not an interface name"),
    ({"peers": [{"name": "x", "subnet": "10.244.1.0/24", "ip": "192.0.2.9"}]},
     "peer x: subnet 10.244.1.0/24 overlaps this host's subnet"),
    ({"peers": [{"name": "x", "subnet": "10.99.1.0/24", "ip": "192.0.2.9"}]}, "is not inside cluster_network"),
    ({"peers": [{"name": "x", "subnet": "10.244.2.1/24", "ip": "192.0.2.9"}]}, "is not an IPv4 network"),
    ({"peers": [{"name": "x", "subnet": "10.244.2.0/24", "ip": "192.0.2.9"},
                {"name": "y", "subnet": "10.244.2.0/25", "ip": "192.0.2.8"}]}, "peers x and y both hold"),
    ({"peers": [{"name": "x", "subnet": "10.244.2.0/24", "ip": "192.0.2.9"},
                {"name": "y", "subnet": "10.244.3.0/24", "ip": "192.0.2.9"}]}, "peers x and y have the same ip"),
    ({"peers": [{"name": "x", "subnet": "10.244.2.0/24", "ip": "192.0.2.9", "port": 70000}]}, "peer x: port"),
])
def test_config_refuses_bad_entries_naming_them(over, message):
    with pytest.raises(udp.ConfigError, match=message.replace("(", r"\(")):
        udp.Config(conf(**over))


def test_config_refuses_a_missing_key_and_bad_json(tmp_path):
    data = conf()
    del data["peers"]
    with pytest.raises(udp.ConfigError, match="lacks peers"):
        udp.Config(data)
    path = tmp_path / "bad.json"
    path.write_text("{")
    with pytest.raises(udp.ConfigError, match="is not JSON"):
        udp.Config.load(str(path))


def test_lookup_with_mixed_prefix_lengths():
    cfg = udp.Config(conf(peers=[{"name": "a", "subnet": "10.244.2.0/24", "ip": "192.0.2.2"},
                                 {"name": "b", "subnet": "10.244.128.0/17", "ip": "192.0.2.3"}]))
    assert cfg.peer_for(ip("10.244.2.9")).name == "a"
    assert cfg.peer_for(ip("10.244.200.9")).name == "b"
    assert cfg.peer_for(ip("10.244.3.9")) is None


# --------------------------------------------------------------------------- inbound checks


def test_inbound_packets_must_come_from_the_senders_subnet_to_ours():
    cfg = udp.Config(conf())
    n2 = cfg.by_ip["192.0.2.12"]
    assert udp.inbound_fault(cfg, n2, tcp_packet("10.244.2.5", "10.244.1.7", b"x")) is None
    assert udp.inbound_fault(cfg, n2, tcp_packet("10.244.2.0", "10.244.1.0", b"x")) is None  # host to host
    # n2 may not speak for n3's subnet, nor for anything outside the fabric
    assert udp.inbound_fault(cfg, n2, tcp_packet("10.244.3.5", "10.244.1.7", b"x")) == "bad_source"
    assert udp.inbound_fault(cfg, n2, tcp_packet("192.0.2.99", "10.244.1.7", b"x")) == "bad_source"
    # ... nor send us traffic for another subnet (we would route it on)
    assert udp.inbound_fault(cfg, n2, tcp_packet("10.244.2.5", "10.244.3.7", b"x")) == "bad_destination"
    assert udp.inbound_fault(cfg, n2, tcp_packet("10.244.2.5", "8.8.8.8", b"x")) == "bad_destination"
    assert udp.inbound_fault(cfg, n2, b"\x60" + bytes(39)) == "malformed"  # IPv6
    assert udp.inbound_fault(cfg, n2, b"\x45" + bytes(10)) == "malformed"  # short


# --------------------------------------------------------------------------- checksums


def test_checksum_matches_rfc1071():
    assert udp.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D  # RFC 1071's example
    rnd = random.Random(1)
    for n in list(range(0, 70)) + [1419, 1420, 1500, 9000, 65000]:
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        assert udp.checksum(data) == slow_checksum(data), n
    assert udp.checksum(b"\xff\xff") == slow_checksum(b"\xff\xff") == 0
    assert udp.checksum(b"") == slow_checksum(b"") == 0xFFFF


def test_complete_checksum_finishes_a_partial_tcp_and_udp_packet():
    full = tcp_packet("10.244.1.5", "10.244.2.7", b"hello world")
    partial = bytearray(full)
    pseudo = udp.pseudo_sum(full[12:16], full[16:20], 6, len(full) - 20)
    partial[36:38] = ((pseudo % 0xFFFF) or 0xFFFF).to_bytes(2, "big")
    assert bytes(udp.complete_checksum(bytes(partial), 20, 16)) == full
    # UDP whose sum comes out 0 is sent as 0xffff
    pkt = bytearray(28)
    pkt[0], pkt[9] = 0x45, 17
    out = udp.complete_checksum(bytes(pkt), 20, 6)
    assert out[26:28] == b"\xff\xff"
    with pytest.raises(ValueError):
        udp.complete_checksum(bytes(pkt), 20, 60)


# --------------------------------------------------------------------------- TSO split and GRO join


def tso(payload, **kw):
    """A TSO super-packet as the kernel hands it over: one header, the whole payload."""
    return tcp_packet("10.244.1.5", "10.244.2.7", payload, **kw)


@pytest.mark.parametrize("size", [1, 1400, 1401, 5000, 64000, 4321])
def test_split_tso_gives_wire_packets_with_their_own_headers(size):
    payload = bytes(random.Random(size).getrandbits(8) for _ in range(size))
    segs = udp.split_tso(tso(payload, seq=0xFFFFF000, flags=0x19), 1400)  # ACK PSH FIN, seq wraps
    assert len(segs) == -(-size // 1400)
    assert b"".join(s[52:] for s in segs) == payload
    seq = 0xFFFFF000
    for i, s in enumerate(segs):
        assert valid(s), i
        assert len(s) == int.from_bytes(s[2:4], "big") <= 52 + 1400
        assert int.from_bytes(s[4:6], "big") == 7 + i  # IP id
        assert int.from_bytes(s[24:28], "big") == seq & 0xFFFFFFFF
        last = i == len(segs) - 1
        assert s[33] == (0x19 if last else 0x10)  # FIN and PSH only on the last
        assert s[32:33] == bytes([0x80]) and s[40:52] == b"\x01\x01\x08\x0a" + bytes(8)
        seq += len(s) - 52


def test_split_tso_refuses_what_is_not_tcp_over_ipv4():
    with pytest.raises(ValueError):
        udp.split_tso(b"\x60" + bytes(60), 1400)
    udp_pkt = bytearray(tso(b"x" * 100))
    udp_pkt[9] = 17
    with pytest.raises(ValueError):
        udp.split_tso(bytes(udp_pkt), 1400)


def test_coalesce_joins_one_stream_into_a_single_tso_write():
    payload = bytes(random.Random(3).getrandbits(8) for _ in range(10000))
    segs = udp.split_tso(tso(payload, flags=0x18), 1400)
    (hdr, packet), = udp.coalesce(segs)
    flags, gso_type, hdr_len, gso_size, csum_start, csum_offset = udp.VNET_HDR.unpack(hdr)
    assert (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset) == (1, udp.GSO_TCPV4, 52, 1400, 20, 16)
    assert packet[52:] == payload and int.from_bytes(packet[2:4], "big") == len(packet)
    assert packet[33] == 0x18 and slow_checksum(packet[:20]) == 0
    # the partial checksum finishes into the checksum of the whole stream's packet
    assert bytes(udp.complete_checksum(packet, 20, 16)) == tso(payload, flags=0x18)


def test_coalesce_keeps_apart_what_the_kernel_would_not_join():
    a = udp.split_tso(tso(b"a" * 2800, seq=100), 1400)
    gap = udp.split_tso(tso(b"b" * 2800, seq=100 + 2800 + 1), 1400)  # a hole in the sequence
    out = udp.coalesce(a + gap)
    assert [len(p) - 52 for _h, p in out] == [2800, 2800]
    other_flow = udp.split_tso(tcp_packet("10.244.1.6", "10.244.2.7", b"c" * 2800, seq=2900), 1400)
    assert len(udp.coalesce(a + other_flow)) == 2
    syn = tso(b"", flags=0x02)
    lone = udp.coalesce([syn])
    assert lone == [(udp.ZERO_VNET_HDR, syn)]
    pushed_first = udp.split_tso(tso(b"p" * 1400, seq=1, flags=0x18), 1400) + \
        udp.split_tso(tso(b"q" * 1400, seq=1401, flags=0x18), 1400)
    assert len(udp.coalesce(pushed_first)) == 2  # a PSH segment ends a run
    short_then_full = udp.split_tso(tso(b"s" * 700, seq=1, flags=0x10), 1400) + \
        udp.split_tso(tso(b"t" * 1400, seq=701, flags=0x10), 1400)
    assert len(udp.coalesce(short_then_full)) == 2  # a short segment ends a run


def test_split_datagrams_and_gso_chunks():
    buf = bytes(range(256)) * 10
    assert udp.split_datagrams(buf, 0) == [buf]
    parts = udp.split_datagrams(buf, 1000)
    assert [len(p) for p in parts] == [1000, 1000, 560] and b"".join(parts) == buf
    # 50 full datagrams and a short one: 44 (65,507 bytes at most) then the rest
    assert udp.gso_chunks(50 * 1472 + 100, 1472) == [(0, 44 * 1472), (44 * 1472, 50 * 1472 + 100)]
    assert udp.gso_chunks(130 * 10, 10) == [(0, 640), (640, 1280), (1280, 1300)]  # at most 64 segments


def test_tso_segments_lays_the_wire_packets_end_to_end_for_gso():
    payload = bytes(random.Random(9).getrandbits(8) for _ in range(64000))
    packet = tso(payload, seq=77, flags=0x18)
    out, size = udp.tso_segments(packet, 1420)
    assert size == 52 + 1420 and isinstance(out, bytearray)
    segs = [bytes(out[a:a + size]) for a in range(0, len(out), size)]
    assert segs == udp.split_tso(packet, 1420) and len(segs) == 46 and len(segs[-1]) == 52 + 64000 - 45 * 1420
    assert all(valid(s) for s in segs)
    # a partial checksum in the TSO packet (what the kernel hands over) changes nothing
    partial = bytearray(packet)
    partial[36:38] = b"\x12\x34"
    assert udp.tso_segments(bytes(partial), 1420) == (out, size)
    # a packet smaller than the MSS is one segment, as it was
    assert udp.tso_segments(tso(b"x" * 10), 1420) == (bytearray(tso(b"x" * 10)), 62)


def test_gro_join_gives_the_same_tso_write_as_coalesce():
    payload = bytes(random.Random(4).getrandbits(8) for _ in range(60000))
    segs = udp.split_tso(tso(payload, flags=0x18, seq=0xFFFFFF00), 1400)  # the sequence wraps
    data = b"".join(segs)
    hdr, head, payloads = udp.gro_join(data, 1452)
    (want_hdr, want), = udp.coalesce(segs)
    assert hdr == want_hdr and bytes(head) + b"".join(payloads) == want


def test_gro_join_leaves_to_the_general_path_what_it_cannot_join():
    def joined(segs):
        return udp.gro_join(b"".join(segs), len(segs[0]))
    full = udp.split_tso(tso(b"a" * 4200, seq=100, flags=0x10), 1400)
    assert joined(full) is not None
    gap = full[:1] + udp.split_tso(tso(b"b" * 2800, seq=100 + 1400 + 1, flags=0x10), 1400)
    assert joined(gap) is None  # a hole in the sequence
    other = full[:1] + udp.split_tso(tcp_packet("10.244.1.6", "10.244.2.7", b"c" * 2800, seq=1500), 1400)
    assert joined(other) is None  # another flow
    pushed = udp.split_tso(tso(b"p" * 1400, seq=1, flags=0x18), 1400) + \
        udp.split_tso(tso(b"q" * 1400, seq=1401, flags=0x10), 1400)
    assert joined(pushed) is None  # PSH only on the last
    acks = [tso(b"", seq=1, flags=0x10)] * 3
    assert joined(acks) is None  # no payload
    fin = udp.split_tso(tso(b"f" * 2800, seq=1, flags=0x11), 1400)
    assert joined(fin) is None
    assert udp.gro_join(full[0], 0) is None and udp.gro_join(full[0], len(full[0])) is None  # one datagram
    frag = [bytearray(s) for s in full]
    frag[1][6] |= 0x20  # more fragments
    assert joined([bytes(s) for s in frag]) is None


def test_status_text_names_peers_packets_and_drops():
    status = {"pid": 1, "uptime": 5, "device": "flannel0", "port": 8285,
              "offload": {"tun_tso": True, "udp_gso": True, "udp_gro": True},
              "counters": {"tx_packets": 3, "tx_bytes": 300, "rx_packets": 4, "rx_bytes": 400},
              "drops": dict.fromkeys(udp.DROP_REASONS, 0) | {"not_peer": 2},
              "peers": [{"name": "n2", "subnet": "10.244.2.0/24", "ip": "192.0.2.12", "port": 8285,
                         "tx_packets": 3, "rx_packets": 4}], "last_error": None}
    text = udp.status_text(status)
    assert "tun->udp 3 (300 bytes), udp->tun 4 (400 bytes)" in text
    assert "not_peer 2" in text and "n2" in text and "192.0.2.12:8285" in text
