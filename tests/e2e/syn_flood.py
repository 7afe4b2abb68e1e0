#!/usr/bin/env python3
"""syn_flood.py - a bounded flood of spoofed TCP SYNs for the reject test.

    syn_flood.py IFACE SRC_MAC DST_MAC DST_IP PORT COUNT MAX_SECONDS SPOOF_PREFIX24

Writes COUNT Ethernet frames on IFACE (an AF_PACKET socket: no route, no
neighbour, the source is whatever the frame says), each a SYN to
DST_IP:PORT from SPOOF_PREFIX24.1-254 in turn with a new source port, and
stops after MAX_SECONDS whatever the count. Prints one JSON object: frames
sent, seconds taken.
"""
import json
import socket
import struct
import sys
import time

from inet_checksum import checksum  # beside this script (sys.path[0])


def syn_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0x10000 + sport, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def main():
    iface, src_mac, dst_mac, dst_ip, port, count, max_seconds, prefix = sys.argv[1:9]
    src_mac = bytes.fromhex(src_mac.replace(":", ""))
    dst_mac = bytes.fromhex(dst_mac.replace(":", ""))
    dst = socket.inet_aton(dst_ip)
    base = prefix.rsplit(".", 1)[0]
    count, port, max_seconds = int(count), int(port), float(max_seconds)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    frames = [
        syn_frame(src_mac, dst_mac, socket.inet_aton("%s.%d" % (base, 1 + i % 254)), dst,
                  1024 + i % 60000, port)
        for i in range(min(count, 4096))
    ]
    sent = 0
    start = time.monotonic()
    while sent < count and time.monotonic() - start < max_seconds:
        sock.send(frames[sent % len(frames)])
        sent += 1
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 3)}))


if __name__ == "__main__":
    main()
