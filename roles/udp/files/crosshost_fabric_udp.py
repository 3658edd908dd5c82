# Copyright: crosshost.fabric contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""crosshost-fabric-udp: the UDP backend of crosshost.fabric (flannel's ``udp`` backend).

The kernel routes the whole cluster network to the TUN device ``flannel0`` (its address is the
host's subnet address with the cluster network's prefix; docker0's more specific subnet stays
local). For every IP packet read from flannel0 the daemon finds the peer that owns the destination
subnet and sends the packet, as it is, in one UDP datagram to ``<peer public ip>:<port>`` (8285).
What arrives on that port from a peer is written to flannel0. The wire format is flannel's: one
IP packet per datagram, nothing else, so a flannel UDP peer can talk to it.

Dropped and counted: datagrams from an address that is not a peer, packets whose inner source is
not in the sending peer's subnet or whose destination is not this host's subnet, packets from
flannel0 to an address no peer owns, malformed packets.

Speed (all optional, each falls back when the kernel refuses it): TUN offloads (IFF_VNET_HDR with
TSO4): one read brings up to 64 KiB of one TCP stream, cut here into MSS-sized IP packets with
their own headers and checksums, sent with UDP GSO (UDP_SEGMENT) in one system call, still one
IP packet per datagram on the wire; UDP GRO (UDP_GRO): one receive brings many datagrams, whose
consecutive TCP segments are joined into one TSO write to flannel0; draining up to ``--batch``
packets per wake-up; large socket buffers.

Files and commands (the udp role installs this file without a shebang, run by python3 from the unit,
and the command crosshost-fabric-udp that runs it):
  crosshost-fabric-udp [--config FILE] ...   the daemon (systemd unit crosshost-fabric-udp.service)
  crosshost-fabric-udp status [--json]       peers, packets, bytes and drops of the running daemon
  SIGHUP: reload the peer file (adding or removing a host never restarts the daemon)
  SIGUSR1: write the status to the journal

Python 3 standard library only. Must run as root (TUN device, ``ip``).
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import ipaddress
import json
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import time

DEFAULT_CONFIG = "/etc/crosshost-fabric/udp.json"
DEFAULT_CONTROL = "/run/crosshost-fabric/udp.sock"

# linux/if_tun.h
TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
TUNSETVNETHDRSZ = 0x400454D8
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
# linux/virtio_net.h: struct virtio_net_hdr (native byte order for TUN)
VNET_HDR = struct.Struct("=BBHHHH")  # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset
VNET_HDR_LEN = VNET_HDR.size  # 10
VNET_F_NEEDS_CSUM = 1
GSO_NONE = 0
GSO_TCPV4 = 1
GSO_ECN = 0x80
ZERO_VNET_HDR = bytes(VNET_HDR_LEN)
# linux/udp.h
SOL_UDP = 17
UDP_SEGMENT = 103
UDP_GRO = 104
UDP_MAX_SEGMENTS = 64
MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4

DROP_REASONS = ("not_peer", "bad_source", "bad_destination", "no_route", "malformed", "send_error", "write_error")


# --------------------------------------------------------------------------- #
# Pure parts (unit-tested: tests/unit/test_udp_daemon.py)
# --------------------------------------------------------------------------- #


class ConfigError(ValueError):
    """The peer file is wrong; the message names the entry and the value."""


def _net(value, what):
    try:
        net = ipaddress.IPv4Network(str(value))
    except ValueError:
        raise ConfigError("%s %r is not an IPv4 network (address/prefix, no host bits)" % (what, value)) from None
    return net


def _ip(value, what):
    try:
        return ipaddress.IPv4Address(str(value))
    except ValueError:
        raise ConfigError("%s %r is not an IPv4 address" % (what, value)) from None


def _port(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError("%s %r is not a port (1..65535)" % (what, value))
    return value


class Peer:
    __slots__ = ("name", "subnet", "ip", "port", "addr", "key", "shift")

    def __init__(self, name, subnet, ip, port):
        self.name = name
        self.subnet = subnet
        self.ip = ip
        self.port = port
        self.addr = (str(ip), port)
        self.shift = 32 - subnet.prefixlen
        self.key = int(subnet.network_address) >> self.shift


class Config:
    """The peer file (JSON rendered by the crosshost.fabric.udp role from the planner's udp_state)."""

    def __init__(self, data):
        if not isinstance(data, dict):
            raise ConfigError("the peer file must hold a JSON object")
        missing = [k for k in ("device", "port", "listen", "mtu", "address", "cluster_network",
                               "local_subnet", "peers") if k not in data]
        if missing:
            raise ConfigError("the peer file lacks %s" % ", ".join(missing))
        self.device = str(data["device"])
        if not 1 <= len(self.device) <= 15 or "/" in self.device or " " in self.device:
            raise ConfigError("device %r is not an interface name" % data["device"])
        self.port = _port(data["port"], "port")
        self.listen = _ip(data["listen"], "listen")
        mtu = data["mtu"]
        if isinstance(mtu, bool) or not isinstance(mtu, int) or not 576 <= mtu <= 65507:
            raise ConfigError("mtu %r is outside 576..65507" % (mtu,))
        self.mtu = mtu
        try:
            self.address = ipaddress.IPv4Interface(str(data["address"]))
        except ValueError:
            raise ConfigError("address %r is not an IPv4 address/prefix" % (data["address"],)) from None
        self.cluster = _net(data["cluster_network"], "cluster_network")
        self.local = _net(data["local_subnet"], "local_subnet")
        if not self.local.subnet_of(self.cluster):
            raise ConfigError("local_subnet %s is not inside cluster_network %s" % (self.local, self.cluster))
        if not isinstance(data["peers"], list):
            raise ConfigError("peers must be a list")
        peers = []
        seen_ip = {}
        for i, entry in enumerate(data["peers"]):
            if not isinstance(entry, dict):
                raise ConfigError("peers[%d] is not an object" % i)
            name = str(entry.get("name") or "peers[%d]" % i)
            subnet = _net(entry.get("subnet"), "peer %s: subnet" % name)
            if not subnet.subnet_of(self.cluster):
                raise ConfigError("peer %s: subnet %s is not inside cluster_network %s" % (name, subnet, self.cluster))
            if subnet.overlaps(self.local):
                raise ConfigError("peer %s: subnet %s overlaps this host's subnet %s" % (name, subnet, self.local))
            for other in peers:
                if subnet.overlaps(other.subnet):
                    raise ConfigError("peers %s and %s both hold %s" % (other.name, name, subnet))
            ip = _ip(entry.get("ip"), "peer %s: ip" % name)
            if str(ip) in seen_ip:
                raise ConfigError("peers %s and %s have the same ip %s" % (seen_ip[str(ip)], name, ip))
            seen_ip[str(ip)] = name
            peers.append(Peer(name, subnet, ip, _port(entry.get("port", self.port), "peer %s: port" % name)))
        self.peers = peers
        self.by_ip = {str(p.ip): p for p in peers}
        # destination lookup: one dict per prefix length (one length in a fabric), longest first
        tables = {}
        for p in peers:
            tables.setdefault(p.shift, {})[p.key] = p
        self.routes = sorted(tables.items())
        self.local_shift = 32 - self.local.prefixlen
        self.local_key = int(self.local.network_address) >> self.local_shift

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError("%s is not JSON: %s" % (path, exc)) from None
        return cls(data)

    def peer_for(self, dst):
        """The peer owning destination address ``dst`` (an int), or None."""
        for shift, table in self.routes:
            peer = table.get(dst >> shift)
            if peer is not None:
                return peer
        return None

    def is_local(self, addr):
        return addr >> self.local_shift == self.local_key


def checksum(data, initial=0):
    """The Internet checksum (RFC 1071) of ``data`` plus ``initial`` (a partial sum), as a 16-bit int.

    2**16 = 1 (mod 0xffff), so the one's complement sum of the 16-bit words is the big-endian
    number modulo 0xffff (0 standing for 0xffff unless everything is zero). CPython reads bytes
    into an int faster little-endian; a byte swap of a 16-bit word is a product by 256 modulo
    0xffff (256 * 256 = 1), hence the shift.
    """
    if len(data) & 1:
        data = bytes(data) + b"\0"
    total = (int.from_bytes(data, "little") << 8) + initial
    folded = total % 0xFFFF
    if folded == 0 and total:
        folded = 0xFFFF
    return ~folded & 0xFFFF


def pseudo_sum(src, dst, proto, length):
    """Partial sum of the IPv4 pseudo header (src, dst: 4 bytes each)."""
    return int.from_bytes(src, "big") + int.from_bytes(dst, "big") + proto + length


def inbound_fault(config, peer, packet):
    """Why a packet received from ``peer`` must not go to flannel0, or None when it may."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return "malformed"
    if int.from_bytes(packet[12:16], "big") >> peer.shift != peer.key:
        return "bad_source"
    if not config.is_local(int.from_bytes(packet[16:20], "big")):
        return "bad_destination"
    return None


def complete_checksum(packet, csum_start, csum_offset):
    """Finish a CHECKSUM_PARTIAL packet (the field holds the pseudo header sum): a bytearray."""
    packet = bytearray(packet)
    end = csum_start + csum_offset
    if csum_start < 0 or end + 2 > len(packet):
        raise ValueError("checksum offsets %d+%d outside a %d-byte packet" % (csum_start, csum_offset, len(packet)))
    value = checksum(packet[csum_start:])
    if value == 0 and packet[9] == 17:
        value = 0xFFFF  # UDP: zero means "no checksum"
    packet[end:end + 2] = value.to_bytes(2, "big")
    return packet


def _fold(total):
    """The checksum field for a one's complement sum ``total`` (any size)."""
    folded = total % 0xFFFF
    if folded == 0 and total:
        folded = 0xFFFF
    return ~folded & 0xFFFF


_FOLD_PLANS = {}


def _fold_plan(nbytes):
    """Shifts and masks that bring the int of ``nbytes`` bytes down to about 1,500 bits, keeping it mod 0xffff.

    x = hi * 2**s + lo = hi + lo (mod 0xffff) when s is a multiple of 16; each step halves the
    size with a shift, a mask and an addition, which CPython does much faster than the long
    division of ``x % 0xffff`` on the whole number (measured: 0.8 against 1.6 us for 1,420 bytes).
    """
    plan = _FOLD_PLANS.get(nbytes)
    if plan is None:
        plan = []
        bits = nbytes * 8
        while bits > 1536:
            shift = (bits // 2 + 15) // 16 * 16
            plan.append((shift, (1 << shift) - 1))
            bits = max(bits - shift, shift) + 1
        if len(_FOLD_PLANS) < 4096:
            _FOLD_PLANS[nbytes] = plan
    return plan


def tso_segments(packet, mss):
    """Cut a TCP/IPv4 TSO packet (checksum partial or not) into MSS-sized IP packets, laid end to end.

    Returns ``(buffer, size)``: a bytearray holding the segments one after the other, every one
    ``size`` bytes but the last (which may be shorter), ready for UDP GSO sends (``UDP_SEGMENT``
    = ``size``) straight from slices of the buffer. Each segment gets the IP header (total length,
    id + i, checksum) and the TCP header (sequence number, FIN/PSH on the last segment only, CWR on
    the first only, full checksum) it would have had on the wire.

    The hot path of the daemon, per segment: one copy of the payload into place, one C call for its
    one's complement sum (see checksum()), a few integer additions for the fields that change and
    one struct.pack_into; the sums of the headers' constant parts are computed once.
    """
    if len(packet) < 40 or packet[0] >> 4 != 4 or packet[9] != 6:
        raise ValueError("not a TCP/IPv4 packet")
    ihl = (packet[0] & 15) * 4
    thl = (packet[ihl + 12] >> 4) * 4
    hl = ihl + thl
    if ihl < 20 or thl < 20 or hl > len(packet) or mss <= 0:
        raise ValueError("bad header lengths")
    total = len(packet) - hl
    count = max(1, -(-total // mss))
    size = hl + min(mss, total)
    out = bytearray(count * hl + total)
    ip_id = int.from_bytes(packet[4:6], "big")
    seq = int.from_bytes(packet[ihl + 4:ihl + 8], "big")
    flags = packet[ihl + 13]
    # the header of every segment, its changing fields zero
    head = bytearray(packet[:hl])
    head[2:6] = b"\0\0\0\0"
    head[10:12] = b"\0\0"
    head[ihl + 4:ihl + 8] = b"\0\0\0\0"
    head[ihl + 13] = 0
    head[ihl + 16:ihl + 18] = b"\0\0"
    # one's complement partial sums (2**16 = 1 mod 0xffff: a field's value adds as it is)
    ip_base = int.from_bytes(head[:ihl], "big") % 0xFFFF
    tcp_base = (int.from_bytes(head[ihl:hl], "big") + int.from_bytes(packet[12:16], "big")
                + int.from_bytes(packet[16:20], "big") + 6 + thl) % 0xFFFF
    # total length, id, fragment field, TTL and protocol (constant), checksum
    set_ip = struct.Struct("!HH4sH").pack_into
    frag_ttl = bytes(head[6:10])
    set_seq = struct.Struct("!I").pack_into
    set_fl = struct.Struct("!B2sH").pack_into  # flags, window (constant), checksum
    window = bytes(head[ihl + 14:ihl + 16])
    folds = _fold_plan(mss)
    for i in range(count):
        o = i * size
        src = hl + i * mss
        body = packet[src:src + mss]
        n = len(body)
        out[o:o + hl] = head
        out[o + hl:o + hl + n] = body
        last = i == count - 1
        if last:
            seg_flags = flags if i == 0 else flags & ~0x80
        else:
            seg_flags = flags & ~0x09 if i == 0 else flags & ~0x89
        length = hl + n
        pid = (ip_id + i) & 0xFFFF
        set_ip(out, o + 2, length, pid, frag_ttl, 0xFFFF - ((ip_base + length + pid) % 0xFFFF or 0xFFFF))
        s32 = (seq + i * mss) & 0xFFFFFFFF
        set_seq(out, o + ihl + 4, s32)
        body_sum = int.from_bytes(body, "little")
        for shift, mask in folds if n == mss else _fold_plan(n):
            body_sum = (body_sum >> shift) + (body_sum & mask)
        tsum = tcp_base + (s32 >> 16) + (s32 & 0xFFFF) + seg_flags + n + (body_sum % 0xFFFF << 8)
        set_fl(out, o + ihl + 13, seg_flags, window, 0xFFFF - (tsum % 0xFFFF or 0xFFFF))
    return out, size


def split_tso(packet, mss):
    """The segments of tso_segments() as a list of bytes (one IP packet each)."""
    out, size = tso_segments(packet, mss)
    return [bytes(out[i:i + size]) for i in range(0, len(out), size)]


def coalesce(segments):
    """Group consecutive TCP segments of one flow into TSO writes for a vnet-header TUN.

    Returns a list of (vnet header, packet). A run of two or more segments (same flow and
    headers, consecutive sequence numbers, every segment but the last a full ``gso_size``, only
    ACK/PSH flags, PSH only on the last) becomes one packet with GSO_TCPV4 and a partial
    checksum, as the kernel's own GRO would build it; anything else is written as it came.
    """
    out = []
    i = 0
    n = len(segments)
    while i < n:
        seg = segments[i]
        j = i + 1
        size = len(seg)
        # plain TCP/IPv4 (no IP options, not a fragment), only ACK/PSH, not pushed, with data
        if size > 40 and seg[0] == 0x45 and seg[9] == 6 and not seg[6] & 0x3F and not seg[7] \
                and seg[33] == 0x10 and int.from_bytes(seg[2:4], "big") == size:
            hl = 20 + (seg[32] >> 4) * 4
            mss = size - hl
            if hl >= 40 and mss > 0:
                flow, same, opts, tos_ttl = seg[12:24], seg[28:33], seg[40:hl], (seg[1], seg[8])
                expect = (int.from_bytes(seg[24:28], "big") + mss) & 0xFFFFFFFF
                total = size
                while j < n:
                    other = segments[j]
                    osize = len(other)
                    data = osize - hl
                    if not 0 < data <= mss or total + data > 65535 or other[0] != 0x45 or other[9] != 6 \
                            or other[6] & 0x3F or other[7] or other[33] & ~0x18 \
                            or int.from_bytes(other[2:4], "big") != osize or other[12:24] != flow \
                            or other[28:33] != same or other[40:hl] != opts or (other[1], other[8]) != tos_ttl \
                            or int.from_bytes(other[24:28], "big") != expect:
                        break
                    total += data
                    expect = (expect + data) & 0xFFFFFFFF
                    j += 1
                    if data < mss or other[33] & 0x08:
                        break  # a short or pushed segment ends the run
        if j - i < 2:
            out.append((ZERO_VNET_HDR, seg))
            i += 1
            continue
        run = segments[i:j]
        first = bytearray(seg[:hl])
        first[33] |= run[-1][33] & 0x08
        first[2:4] = total.to_bytes(2, "big")
        first[10:12] = b"\0\0"
        first[10:12] = checksum(first[:20]).to_bytes(2, "big")
        partial = pseudo_sum(first[12:16], first[16:20], 6, total - 20)
        partial = partial % 0xFFFF or (0xFFFF if partial else 0)
        first[36:38] = partial.to_bytes(2, "big")
        hdr = VNET_HDR.pack(VNET_F_NEEDS_CSUM, GSO_TCPV4, hl, mss, 20, 16)
        out.append((hdr, b"".join([first] + [memoryview(s)[hl:] for s in run])))
        i = j
    return out


def split_datagrams(buf, gso_size):
    """The datagrams of one UDP GRO receive (all ``gso_size`` bytes but the last)."""
    if not gso_size or gso_size >= len(buf):
        return [buf]
    return [buf[i:i + gso_size] for i in range(0, len(buf), gso_size)]


def gso_chunks(total, size, max_bytes=MAX_DATAGRAM, max_segments=UDP_MAX_SEGMENTS):
    """(start, stop) of the UDP GSO sends for ``total`` bytes of ``size``-byte datagrams laid end to end."""
    step = max(1, min(max_segments, max_bytes // size)) * size
    return [(a, min(a + step, total)) for a in range(0, total, step)]


# the header bytes that every segment of one GRO run must share (all but total length, IP id and
# checksum, sequence number, flags and TCP checksum), each taken as one column across the segments
_SAME_BYTES = (0, 1, 6, 7, 8, 9, *range(12, 24), 28, 29, 30, 31, 32, 34, 35)


def gro_join(data, gso_size):
    """One UDP GRO receive of one TCP stream's segments, as one TSO write for a vnet-header TUN.

    ``data`` holds datagrams of ``gso_size`` bytes laid end to end (the last may be shorter).
    When every one is a plain TCP/IPv4 segment (no IP options, not a fragment, ACK with PSH at
    most on the last) of the same flow and headers, with consecutive sequence numbers, returns
    ``(vnet header, IP+TCP header, [payload slices])`` (a partial checksum, as the kernel's own
    GRO would build it: the daemon writes them with one writev); otherwise None, and the caller
    takes the general path (split_datagrams, inbound_fault, coalesce). The caller still checks
    the first segment with inbound_fault(): the others have the same addresses.

    Cheap in Python: the shared header bytes are compared column by column (a strided slice of
    all segments at once), only the sequence numbers one by one.
    """
    n = len(data)
    g = gso_size
    if not g or n <= g or data[0] != 0x45 or data[9] != 6:
        return None
    hl = 20 + (data[32] >> 4) * 4
    mss = g - hl
    k = -(-n // g)
    last = (k - 1) * g
    tail = n - last - hl  # payload of the last segment
    if hl < 40 or mss <= 0 or tail <= 0 or n - (k - 1) * hl > 65535 or data[6] & 0x3F or data[7]:
        return None
    for off in (*_SAME_BYTES, *range(40, hl)):
        col = data[off::g]
        if col.count(col[0]) != k:
            return None
    lengths = data[2::g] + data[3::g]  # high bytes then low bytes of the total lengths
    if lengths[:k - 1] != bytes([g >> 8]) * (k - 1) or lengths[k:2 * k - 1] != bytes([g & 0xFF]) * (k - 1) \
            or lengths[k - 1] << 8 | lengths[2 * k - 1] != n - last:
        return None
    flags = data[33::g]
    if flags[:k - 1] != b"\x10" * (k - 1) or flags[k - 1] & ~0x08 != 0x10:
        return None
    seq = int.from_bytes(data[24:28], "big")
    for i in range(1, k):
        o = i * g + 24
        if int.from_bytes(data[o:o + 4], "big") != (seq + i * mss) & 0xFFFFFFFF:
            return None
    total = n - (k - 1) * hl
    head = bytearray(data[:hl])
    head[33] = flags[k - 1]
    head[2:4] = total.to_bytes(2, "big")
    head[10:12] = b"\0\0"
    head[10:12] = checksum(head[:20]).to_bytes(2, "big")
    partial = pseudo_sum(head[12:16], head[16:20], 6, total - 20)
    head[36:38] = (partial % 0xFFFF or 0xFFFF).to_bytes(2, "big")
    view = memoryview(data)
    return VNET_HDR.pack(VNET_F_NEEDS_CSUM, GSO_TCPV4, hl, mss, 20, 16), head, \
        [view[o + hl:o + g] for o in range(0, n, g)]


def status_text(status):
    """The status as the ``status`` command prints it."""
    lines = ["crosshost-fabric-udp pid %s, up %ss, device %s, port %s, offload %s" % (
        status["pid"], status["uptime"], status["device"], status["port"], status["offload"])]
    c = status["counters"]
    lines.append("packets: tun->udp %d (%d bytes), udp->tun %d (%d bytes)" % (
        c["tx_packets"], c["tx_bytes"], c["rx_packets"], c["rx_bytes"]))
    lines.append("drops: " + ", ".join("%s %d" % (r, status["drops"][r]) for r in DROP_REASONS))
    lines.append("peers (%d):" % len(status["peers"]))
    for p in status["peers"]:
        lines.append("  %-20s %-18s %s:%d  tx %d  rx %d" % (p["name"], p["subnet"], p["ip"], p["port"],
                                                            p["tx_packets"], p["rx_packets"]))
    if status.get("last_error"):
        lines.append("last error: %s" % status["last_error"])
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# The daemon
# --------------------------------------------------------------------------- #


def log(msg):
    print(msg, flush=True)  # stdout: the journal under systemd


def open_tun(name, offload, tso=True):
    """Open (create) the TUN device: L3, no packet info; with offload, vnet headers and TSO4."""
    if not os.path.exists("/dev/net/tun"):
        # Containers (and minimal /dev) may lack the node; the kernel module provides the device.
        os.makedirs("/dev/net", exist_ok=True)
        try:
            os.mknod("/dev/net/tun", stat.S_IFCHR | 0o666, os.makedev(10, 200))
        except FileExistsError:
            pass
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if offload else 0)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
    if offload:
        try:
            fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_LEN))
            # without TSO the kernel cuts and checksums each segment itself (in C) before handing
            # it over; vnet headers still let the daemon write joined (GRO) packets
            fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 if tso else 0)
        except OSError as exc:
            log("TUN offloads refused (%s): reopening without" % exc)
            os.close(fd)
            return open_tun(name, False)
    os.set_blocking(fd, False)
    return fd, offload


def ip_cmd(*args):
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise OSError("ip %s: %s" % (" ".join(args), proc.stderr.strip()))


def configure_link(config):
    ip_cmd("link", "set", "dev", config.device, "mtu", str(config.mtu))
    ip_cmd("addr", "replace", str(config.address), "dev", config.device)
    # addresses of an older configuration (another subnet or prefix)
    out = subprocess.run(["ip", "-j", "-4", "addr", "show", "dev", config.device], capture_output=True,
                         text=True, check=False).stdout
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info", []):
            if "%s/%s" % (a.get("local"), a.get("prefixlen")) != str(config.address):
                ip_cmd("addr", "del", "%s/%s" % (a["local"], a["prefixlen"]), "dev", config.device)
    ip_cmd("link", "set", "dev", config.device, "up")


def sd_notify(message):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(path)
            sock.sendall(message.encode())
        except OSError:
            pass


class Daemon:
    def __init__(self, args):
        self.args = args
        self.config = Config.load(args.config)
        self.started = time.time()
        self.counters = dict.fromkeys(("tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "tx_sends",
                                       "rx_receives", "tun_reads", "tun_writes"), 0)
        self.drops = dict.fromkeys(DROP_REASONS, 0)
        self.peer_tx = {}
        self.peer_rx = {}
        self.last_error = None
        self.reported = {}
        self.pending = set()
        self.gso = args.offload != "off"
        self.gro = args.offload != "off"
        self.tun, self.offload = open_tun(self.config.device, args.offload != "off", args.tun_tso == "on")
        configure_link(self.config)
        if args.txqueuelen:
            ip_cmd("link", "set", "dev", self.config.device, "txqueuelen", str(args.txqueuelen))
        self.sock = self.bind(self.config)
        self.control = self.open_control(args.control)
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        signal.set_wakeup_fd(self.wake_w.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_signal)
        self.q_peer, self.q_size, self.q_buf, self.q_count, self.q_closed = None, 0, bytearray(), 0, False
        self.tunbuf = bytearray(65536 + VNET_HDR_LEN)
        self.sockbuf = bytearray(65536)

    # -- setup ---------------------------------------------------------------
    def bind(self, config):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_IP, getattr(socket, "IP_FREEBIND", 15), 1)  # before the address is up
        size = self.args.sock_buf
        if size:
            for opt, force in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):  # SO_*BUFFORCE as root
                try:
                    sock.setsockopt(socket.SOL_SOCKET, force, size)
                except OSError:
                    sock.setsockopt(socket.SOL_SOCKET, opt, size)
        if self.gro:
            try:
                sock.setsockopt(SOL_UDP, UDP_GRO, 1)
            except OSError as exc:
                log("UDP GRO refused (%s): one datagram per receive" % exc)
                self.gro = False
        sock.bind((str(config.listen), config.port))
        sock.setblocking(False)
        return sock

    def open_control(self, path):
        if not path:
            return None
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(4)
        sock.setblocking(False)
        return sock

    # -- signals and status ------------------------------------------------
    def on_signal(self, signum, _frame):
        self.pending.add(signum)

    def handle_signals(self):
        try:
            while self.wake_r.recv(512):
                pass
        except BlockingIOError:
            pass
        pending, self.pending = self.pending, set()
        if signal.SIGTERM in pending or signal.SIGINT in pending:
            raise SystemExit(0)
        if signal.SIGHUP in pending:
            self.reload()
        if signal.SIGUSR1 in pending:
            log(status_text(self.status()))

    def reload(self):
        try:
            new = Config.load(self.args.config)
        except (OSError, ConfigError) as exc:
            self.error("reload refused, keeping %d peers: %s" % (len(self.config.peers), exc))
            return
        old = self.config
        added = sorted(set(new.by_ip) - set(old.by_ip))
        removed = sorted(set(old.by_ip) - set(new.by_ip))
        try:
            if new.device != old.device:
                raise ConfigError("device %s -> %s needs a restart" % (old.device, new.device))
            if (new.listen, new.port) != (old.listen, old.port):
                sock = self.bind(new)
                self.poller.unregister(self.sock.fileno())
                self.sock.close()
                self.sock = sock
                self.poller.register(self.sock.fileno(), select.EPOLLIN)
            if (new.mtu, new.address) != (old.mtu, old.address):
                configure_link(new)
        except (OSError, ConfigError) as exc:
            self.error("reload failed, keeping the old configuration: %s" % exc)
            return
        self.config = new
        log("reloaded %s: %d peers (added %s; removed %s)" % (
            self.args.config, len(new.peers), ", ".join(added) or "none", ", ".join(removed) or "none"))

    def status(self):
        return {
            "pid": os.getpid(),
            "uptime": int(time.time() - self.started),
            "device": self.config.device,
            "port": self.config.port,
            "listen": str(self.config.listen),
            "offload": {"tun_tso": self.offload, "udp_gso": self.gso, "udp_gro": self.gro},
            "counters": dict(self.counters),
            "drops": dict(self.drops),
            "peers": [{"name": p.name, "subnet": str(p.subnet), "ip": str(p.ip), "port": p.port,
                       "tx_packets": self.peer_tx.get(p.name, 0), "rx_packets": self.peer_rx.get(p.name, 0)}
                      for p in self.config.peers],
            "last_error": self.last_error,
        }

    def serve_control(self):
        while True:
            try:
                conn, _addr = self.control.accept()
            except BlockingIOError:
                return
            with conn:
                try:
                    conn.setblocking(True)
                    conn.settimeout(1)
                    conn.sendall(json.dumps(self.status()).encode() + b"\n")
                except OSError:
                    pass

    def error(self, msg):
        self.last_error = "%s %s" % (time.strftime("%Y-%m-%dT%H:%M:%S"), msg)
        log("error: " + msg)

    def drop(self, reason, detail):
        self.drops[reason] += 1
        # the first drop of each kind and source is logged at once, the rest in the periodic summary
        key = (reason, detail)
        if key not in self.reported and len(self.reported) < 1024:
            self.reported[key] = True
            log("dropped (%s): %s" % (reason, detail))

    # -- data path -----------------------------------------------------------
    def from_tun(self):
        """Drain flannel0: every packet to the peer owning its destination.

        A TSO read is cut into wire packets laid end to end and sent in one or two UDP GSO sends;
        other packets (ACKs and the like) are queued while they go to one peer with one size and
        sent together when the drain ends (one system call for many packets).
        """
        tun, buf, cfg = self.tun, self.tunbuf, self.config
        view = memoryview(buf)
        skip = VNET_HDR_LEN if self.offload else 0
        unpack = VNET_HDR.unpack_from
        counters = self.counters
        try:
            for _round in range(self.args.batch):
                try:
                    n = os.readv(tun, [buf])
                except BlockingIOError:
                    return
                except OSError as exc:
                    self.error("read %s: %s" % (cfg.device, exc))
                    return
                counters["tun_reads"] += 1
                if n - skip < 20 or buf[skip] >> 4 != 4:
                    continue  # IPv6 and the like: not the fabric's
                dst = int.from_bytes(buf[skip + 16:skip + 20], "big")
                peer = cfg.peer_for(dst)
                if peer is None:
                    self.drop("no_route", ipaddress.IPv4Address(dst))
                    continue
                flags, gso_type, _hl, gso_size, csum_start, csum_offset = unpack(buf) if skip else (0, 0, 0, 0, 0, 0)
                try:
                    if gso_type & ~GSO_ECN == GSO_TCPV4:
                        out, size = tso_segments(bytes(view[skip:n]), gso_size)
                        self.flush()
                        self.send(peer, out, size)
                        continue
                    if gso_type != GSO_NONE:
                        raise ValueError("GSO type %d" % gso_type)
                    if flags & VNET_F_NEEDS_CSUM:
                        self.queue(peer, complete_checksum(view[skip:n], csum_start, csum_offset))
                    else:
                        self.queue(peer, view[skip:n])
                except ValueError as exc:
                    self.drop("malformed", "from %s: %s" % (cfg.device, exc))
        finally:
            self.flush()

    def queue(self, peer, packet):
        """Add a packet to the pending send (equal sizes to one peer, a shorter one ends it)."""
        n = len(packet)
        if self.q_count and (peer is not self.q_peer or n > self.q_size or self.q_closed
                             or self.q_count >= UDP_MAX_SEGMENTS or len(self.q_buf) + n > MAX_DATAGRAM):
            self.flush()
        if not self.q_count:
            self.q_peer, self.q_size, self.q_closed = peer, n, False
        self.q_buf += packet
        self.q_count += 1
        if n < self.q_size:
            self.q_closed = True

    def flush(self):
        if self.q_count:
            buf, self.q_buf, self.q_count = self.q_buf, bytearray(), 0
            self.send(self.q_peer, buf, self.q_size)

    def send(self, peer, buf, size):
        """Send ``buf``: IP packets of ``size`` bytes laid end to end (the last may be shorter)."""
        sock, addr = self.sock, peer.addr
        total = len(buf)
        view = memoryview(buf)
        counters = self.counters
        done = sends = 0
        try:
            while done < total:
                if self.gso and total - done > size:
                    stop = gso_chunks(total - done, size)[0][1] + done
                    try:
                        sock.sendmsg([view[done:stop]], [(SOL_UDP, UDP_SEGMENT, size.to_bytes(2, sys.byteorder))],
                                     0, addr)
                    except OSError as exc:
                        if exc.errno not in (errno.EIO, errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP):
                            raise
                        self.gso = False  # the route's device can't do it: one datagram each
                        log("UDP GSO refused towards %s (%s): one datagram per send" % (addr[0], exc))
                        continue
                else:
                    stop = min(done + size, total)
                    sock.sendto(view[done:stop], addr)
                done = stop
                sends += 1
        except BlockingIOError:
            self.drops["send_error"] += -(-(total - done) // size)
        except OSError as exc:
            self.drops["send_error"] += -(-(total - done) // size)
            self.error("send to %s %s:%d: %s" % (peer.name, addr[0], addr[1], exc))
        finally:
            view.release()
        sent = -(-done // size)
        counters["tx_sends"] += sends
        counters["tx_packets"] += sent
        counters["tx_bytes"] += done
        self.peer_tx[peer.name] = self.peer_tx.get(peer.name, 0) + sent

    def from_udp(self):
        """Drain the UDP socket: every datagram of a peer, checked, to flannel0."""
        sock, buf, cfg = self.sock, self.sockbuf, self.config
        view = memoryview(buf)
        gro = self.gro
        for _round in range(self.args.batch):
            try:
                if gro:
                    n, anc, _flags, addr = sock.recvmsg_into([buf], 64)
                    gso_size = 0
                    for level, kind, data in anc:
                        if level == SOL_UDP and kind == UDP_GRO:
                            gso_size = int.from_bytes(data[:4], sys.byteorder) if len(data) >= 4 else \
                                int.from_bytes(data, sys.byteorder)
                else:
                    n, addr = sock.recvfrom_into(buf)
                    gso_size = 0
            except BlockingIOError:
                return
            except OSError as exc:
                self.error("receive: %s" % exc)
                return
            self.counters["rx_receives"] += 1
            peer = cfg.by_ip.get(addr[0])
            data = bytes(view[:n])
            if peer is not None and self.offload and gso_size:
                joined = gro_join(data, gso_size)
                if joined is not None:
                    fault = inbound_fault(cfg, peer, data[:20])
                    if fault is None:
                        self.write_joined(peer, joined, n)
                        continue
            datagrams = split_datagrams(data, gso_size)
            if peer is None:
                self.drops["not_peer"] += len(datagrams) - 1
                self.drop("not_peer", "%s:%d" % addr)
                continue
            good = []
            for pkt in datagrams:
                fault = inbound_fault(cfg, peer, pkt)
                if fault:
                    self.drop(fault, "from %s (%s): %s -> %s" % (
                        peer.name, addr[0], ipaddress.IPv4Address(pkt[12:16]) if len(pkt) >= 20 else "?",
                        ipaddress.IPv4Address(pkt[16:20]) if len(pkt) >= 20 else "?"))
                else:
                    good.append(pkt)
            if good:
                self.write(peer, good)

    def write_joined(self, peer, joined, nbytes):
        hdr, head, payloads = joined
        try:
            os.writev(self.tun, [hdr, head, *payloads])
            self.counters["tun_writes"] += 1
        except OSError as exc:
            self.drops["write_error"] += len(payloads)
            self.error("write %s: %s" % (self.config.device, exc))
            return
        self.counters["rx_packets"] += len(payloads)
        self.counters["rx_bytes"] += nbytes
        self.peer_rx[peer.name] = self.peer_rx.get(peer.name, 0) + len(payloads)

    def write(self, peer, packets):
        tun = self.tun
        writes = coalesce(packets) if self.offload else [(None, p) for p in packets]
        done = 0
        for hdr, pkt in writes:
            try:
                if hdr is None:
                    os.write(tun, pkt)
                else:
                    os.writev(tun, [hdr, pkt])
                self.counters["tun_writes"] += 1
            except OSError as exc:
                self.drops["write_error"] += 1
                self.error("write %s: %s" % (self.config.device, exc))
                continue
            done += 1
        self.counters["rx_packets"] += len(packets)
        self.counters["rx_bytes"] += sum(len(p) for p in packets)
        self.peer_rx[peer.name] = self.peer_rx.get(peer.name, 0) + len(packets)

    def run(self):
        self.poller = select.epoll()
        self.poller.register(self.tun, select.EPOLLIN)
        self.poller.register(self.sock.fileno(), select.EPOLLIN)
        self.poller.register(self.wake_r.fileno(), select.EPOLLIN)
        if self.control is not None:
            self.poller.register(self.control.fileno(), select.EPOLLIN)
        log("crosshost-fabric-udp: %s %s mtu %d, listening on %s:%d, %d peers, TUN offload %s, UDP GSO %s, GRO %s" % (
            self.config.device, self.config.address, self.config.mtu, self.config.listen, self.config.port,
            len(self.config.peers), "on" if self.offload else "off", "on" if self.gso else "off",
            "on" if self.gro else "off"))
        sd_notify("READY=1\nSTATUS=%d peers" % len(self.config.peers))
        summary_at = time.monotonic() + self.args.summary
        last_drops = dict(self.drops)
        naive = self.args.batch <= 1
        while True:
            events = self.poller.poll(1.0 if naive else 5.0)
            for fd, _ev in events:
                if fd == self.tun:
                    self.from_tun()
                elif fd == self.sock.fileno():
                    self.from_udp()
                elif fd == self.wake_r.fileno():
                    self.handle_signals()
                elif self.control is not None and fd == self.control.fileno():
                    self.serve_control()
            if self.pending:
                self.handle_signals()
            now = time.monotonic()
            if now >= summary_at:
                summary_at = now + self.args.summary
                if self.drops != last_drops:
                    log("drops since start: " + ", ".join("%s %d" % kv for kv in self.drops.items() if kv[1]))
                    last_drops = dict(self.drops)


def query_status(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return json.loads(b"".join(chunks))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="crosshost-fabric-udp", description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", nargs="?", choices=["run", "status", "check"], default="run",
                        help="run the daemon (default), print the running daemon's status, or check the peer file")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="the peer file (default %(default)s)")
    parser.add_argument("--control", default=DEFAULT_CONTROL, help="status socket (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="status: print JSON")
    parser.add_argument("--offload", choices=["auto", "off"], default="auto",
                        help="TUN TSO with UDP GSO/GRO (auto: when the kernel accepts them)")
    parser.add_argument("--tun-tso", choices=["on", "off"], default="on",
                        help="with --offload auto: TSO on flannel0 (on: the daemon cuts 64 KiB reads into "
                             "segments; off: the kernel does, one read per packet)")
    parser.add_argument("--txqueuelen", type=int, default=0, help="flannel0's queue length (0: the kernel's 500)")
    parser.add_argument("--batch", type=int, default=64, help="packets drained per wake-up (1: naive)")
    parser.add_argument("--sock-buf", type=int, default=4 << 20, help="socket buffer bytes (0: system default)")
    parser.add_argument("--summary", type=float, default=60.0, help="seconds between drop summaries in the journal")
    args = parser.parse_args(argv)
    if args.command == "status":
        try:
            status = query_status(args.control)
        except OSError as exc:
            print("crosshost-fabric-udp is not running (%s: %s)" % (args.control, exc), file=sys.stderr)
            return 3
        print(json.dumps(status, indent=2, sort_keys=True) if args.json else status_text(status))
        return 0
    if args.command == "check":
        try:
            config = Config.load(args.config)
        except (OSError, ConfigError) as exc:
            print("%s: %s" % (args.config, exc), file=sys.stderr)
            return 1
        print("%s: %d peers" % (args.config, len(config.peers)))
        return 0
    try:
        daemon = Daemon(args)
    except (OSError, ConfigError) as exc:
        print("crosshost-fabric-udp: %s" % exc, file=sys.stderr, flush=True)
        return 1
    try:
        daemon.run()
    except SystemExit:
        log("stopping: " + status_text(daemon.status()).replace("\n", "; "))
    finally:
        if daemon.control is not None:
            try:
                os.unlink(args.control)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
