#!/usr/bin/env python3
"""udp_flood.py - a paced, bounded UDP generator for the no-gap tests.

    udp_flood.py DEST PORT RATE_PPS MAX_SECONDS STOP_FILE SOURCE...

Sends datagrams round-robin from every SOURCE address (one socket bound to
each) to DEST:PORT at about RATE_PPS in total, until STOP_FILE exists,
MAX_SECONDS have passed, or 5 million datagrams were sent, whichever comes
first. Prints one JSON object: datagrams sent per source, errors, seconds.

A datagram counts as sent only when the kernel accepted it: IP_RECVERR is
set, so a full queue on the way out surfaces as ENOBUFS (and is counted as
an error, not as sent) instead of being swallowed as UDP does by default.
"""
import errno
import json
import os
import socket
import sys
import time

MAX_TOTAL = 5_000_000
BURST = 4  # datagrams per source per burst


def main():
    dest, port, rate, max_seconds, stop_file = sys.argv[1:6]
    sources = sys.argv[6:]
    port, rate, max_seconds = int(port), float(rate), float(max_seconds)
    socks = []
    for source in sources:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_IP, 11, 1)  # IP_RECVERR
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.bind((source, 0))
        socks.append(s)
    sent = {source: 0 for source in sources}
    errors = {source: 0 for source in sources}
    payload = bytearray(64)
    start = time.monotonic()
    burst_period = BURST * len(sources) / rate
    next_burst = start
    total = 0
    while total < MAX_TOTAL:
        now = time.monotonic()
        if now - start >= max_seconds:
            break
        if total % 2048 < BURST * len(sources) and os.path.exists(stop_file):
            break
        if now < next_burst:
            time.sleep(next_burst - now)
        next_burst += burst_period
        for _ in range(BURST):
            for source, s in zip(sources, socks):
                payload[0:8] = sent[source].to_bytes(8, "big")
                try:
                    s.sendto(payload, (dest, port))
                    sent[source] += 1
                    total += 1
                except OSError as e:
                    if e.errno not in (errno.ENOBUFS, errno.EAGAIN, errno.ECONNREFUSED):
                        raise
                    errors[source] += 1
    print(json.dumps({"sent": sent, "errors": errors,
                      "seconds": round(time.monotonic() - start, 3)}))


if __name__ == "__main__":
    main()
