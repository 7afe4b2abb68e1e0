#!/usr/bin/env python3
"""scope_peer.py - both ends of the data-plane scope test (scope_test.sh).

    scope_peer.py serve LOG MAX_SECONDS TCP_LISTEN... -- UDP_BIND...
        The vault: accepts TCP connections on every ADDRESS:PORT of
        TCP_LISTEN and receives datagrams on every ADDRESS:PORT of UDP_BIND,
        writing one line per arrival to LOG ("tcp SRC DST" or "udp SRC DST",
        DST from IP_PKTINFO for datagrams), until MAX_SECONDS have passed.
    scope_peer.py connect SRC DST PORT TIMEOUT
        Exit 0 when a TCP connection from SRC to DST:PORT is established
        within TIMEOUT seconds (the SYN got a SYN-ACK), 1 otherwise.
    scope_peer.py send SRC DST PORT COUNT [DEVICE]
        COUNT datagrams from SRC to DST:PORT, broadcast and multicast
        allowed; DEVICE pins the way out (limited broadcast has no route).
"""
import select
import socket
import struct
import sys
import time

IP_PKTINFO = 8
IP_FREEBIND = 15  # linux/in.h; not exported by Python's socket module


def endpoint(text):
    address, port = text.rsplit(":", 1)
    return address, int(port)


def serve(log_path, max_seconds, tcp_endpoints, udp_endpoints):
    listeners, receivers = [], []
    for address, port in map(endpoint, tcp_endpoints):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        s.bind((address, port))
        s.listen(16)
        listeners.append(s)
    for address, port in map(endpoint, udp_endpoints):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_IP, IP_PKTINFO, 1)
        s.bind((address, port))
        receivers.append(s)
    deadline = time.monotonic() + max_seconds
    with open(log_path, "a", buffering=1) as log:
        log.write("ready\n")
        while time.monotonic() < deadline:
            ready, _, _ = select.select(listeners + receivers, [], [], 0.5)
            for s in ready:
                if s in listeners:
                    conn, (src, _) = s.accept()
                    log.write(f"tcp {src} {conn.getsockname()[0]}\n")
                    conn.close()
                    continue
                _, ancillary, _, (src, _) = s.recvmsg(2048, socket.CMSG_SPACE(12))
                dst = "?"
                for level, kind, data in ancillary:
                    if level == socket.SOL_IP and kind == IP_PKTINFO:
                        dst = socket.inet_ntoa(data[8:12])  # ipi_addr: the header's destination
                log.write(f"udp {src} {dst}\n")


def connect(src, dst, port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    s.bind((src, 0))
    try:
        s.connect((dst, int(port)))
        return 0
    except OSError:
        return 1
    finally:
        s.close()


def send(src, dst, port, count, device=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.SOL_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
    if device:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
    s.bind((src, 0))
    for i in range(int(count)):
        s.sendto(struct.pack("!I", i) + bytes(60), (dst, int(port)))
        time.sleep(0.01)
    return 0


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "serve":
        split = args.index("--")
        return serve(args[0], float(args[1]), args[2:split], args[split + 1:])
    if mode == "connect":
        return connect(*args)
    if mode == "send":
        return send(*args)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main() or 0)
