#!/usr/bin/env python3
"""tun_probe.py - real packets through a TUN device (no Ethernet header).

  tun_probe.py create IFNAME          makes IFNAME a persistent TUN device
                                      (IFF_TUN | IFF_NO_PI) and exits
  tun_probe.py syn IFNAME SRC DST PORT COUNT
                                      writes COUNT TCP SYNs SRC -> DST:PORT into
                                      the device (the kernel receives them on
                                      IFNAME, as from a VPN peer) and prints how
                                      many SYN-ACKs the kernel sent back through
                                      it within a second

Run it inside the vault's network namespace; the route back to SRC must go
through IFNAME. Bounded: COUNT packets, one second of reading.
"""
import fcntl
import os
import random
import select
import socket
import struct
import sys
import time

from inet_checksum import checksum  # beside this script (sys.path[0])

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def syn(src, dst, sport, dport):
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000 + sport, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), sport, 0, 64, socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def is_syn_ack(packet, src, dst, port, client_ports):
    """A SYN-ACK to one of this run's SYNs (not a retransmission for an
    earlier run's connection attempt)."""
    if len(packet) < 40 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_TCP:
        return False
    ihl = (packet[0] & 0x0F) * 4
    sport, dport = struct.unpack("!HH", packet[ihl:ihl + 4])
    flags = packet[ihl + 13]
    return (packet[12:16] == socket.inet_aton(dst) and packet[16:20] == socket.inet_aton(src)
            and sport == port and dport in client_ports and flags & 0x12 == 0x12)


def main():
    if sys.argv[1:2] == ["create"]:
        fd = open_tun(sys.argv[2])
        fcntl.ioctl(fd, TUNSETPERSIST, 1)
        return 0
    if sys.argv[1:2] != ["syn"] or len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    name, src, dst, port, count = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
    fd = open_tun(name)
    # Opening the device raises its carrier; the kernel starts its transmit
    # queue a moment later (link watch, under a second). Replies sent before
    # that are dropped, so wait for it.
    time.sleep(1.2)
    first_port = random.randrange(20000, 60000 - count)
    client_ports = range(first_port, first_port + count)
    for client_port in client_ports:
        os.write(fd, syn(src, dst, client_port, port))
    answered = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            continue
        try:
            if is_syn_ack(os.read(fd, 65535), src, dst, port, client_ports):
                answered += 1
        except BlockingIOError:
            pass
    print(answered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
