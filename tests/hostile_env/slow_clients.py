#!/usr/bin/env python3
"""Slow HTTP clients against a metrics server, and a timed scrape.

  slow_clients.py hold HOST PORT COUNT SECONDS
      opens COUNT connections, sends "GET /metrics HTTP/1.1" and then one
      header line per second on each (never the blank line that ends the
      request), for at most SECONDS; prints how many connections the server
      closed and how many it refused. Bounded in time and count.
  slow_clients.py idle HOST PORT COUNT SECONDS
      opens COUNT connections that send nothing; same report.
  slow_clients.py scrape HOST PORT TIMEOUT
      one GET /metrics; prints the seconds it took and exits 0 when the
      reply was a 200 with vaultwall metrics within TIMEOUT, else 1.
"""
import socket
import sys
import time


def open_many(host, port, count, greeting):
    conns, refused = [], 0
    for _ in range(count):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.settimeout(2)
        try:
            s.connect((host, port))
            if greeting:
                s.sendall(greeting)
            conns.append(s)
        except OSError:
            refused += 1
            s.close()
    return conns, refused


def trickle(conns, seconds, slow):
    """Keeps the connections busy; returns how many the server closed."""
    closed = set()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline and len(closed) < len(conns):
        for i, s in enumerate(conns):
            if i in closed:
                continue
            try:
                if slow:
                    s.sendall(b"X-Slow-%d: %d\r\n" % (n, n))
                s.setblocking(False)
                try:
                    if s.recv(4096) == b"":
                        closed.add(i)
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
            except OSError:
                closed.add(i)
        n += 1
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    return len(closed)


def scrape(host, port, timeout):
    start = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.settimeout(max(0.01, timeout - (time.monotonic() - start)))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError as e:
        print("%.3f failed: %s" % (time.monotonic() - start, e))
        return 1
    took = time.monotonic() - start
    ok = data.startswith(b"HTTP/1.1 200") and b"vaultwall_policy_generation" in data
    print("%.3f %s" % (took, "ok" if ok else "bad reply: %r" % data[:200]))
    return 0 if ok and took <= timeout else 1


def main():
    mode = sys.argv[1]
    host, port = sys.argv[2], int(sys.argv[3])
    if mode == "scrape":
        return scrape(host, port, float(sys.argv[4]))
    count, seconds = int(sys.argv[4]), float(sys.argv[5])
    greeting = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" if mode == "hold" else b""
    conns, refused = open_many(host, port, count, greeting)
    closed = trickle(conns, seconds, mode == "hold")
    print("opened %d refused %d closed-by-server %d" % (len(conns), refused, closed))
    for s in conns:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
