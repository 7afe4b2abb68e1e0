#!/usr/bin/env python3
"""Split CPU 0's kernel samples between the receiver and the rest.

Reads `perf script -F ip,sym` output (callchains, one blank line between
samples) of `perf record -e cpu-clock -g -C 0` taken during a flood, and
prints {"samples", "kernel", "receive"}: every sample, the kernel samples
that are not idle, and those of them under the receive softirq
(net_rx_action: veth's NAPI poll, the XDP program or the stack up to the
netdev ingress hook, and the frees of what they drop). veth runs its
receiver on the sending CPU, so this share is what isolates the receiver's
part of CPU 0's kernel time.

usage: perf script -i perf.data -F ip,sym | e2e_rx_share.py
"""
import json
import sys

RECEIVE = {"net_rx_action"}
IDLE = {"do_idle", "cpu_startup_entry", "default_idle_call", "cpuidle_enter"}
KERNEL_BASE = 0xffff800000000000


def samples(lines):
    frames = []
    for line in lines:
        line = line.strip()
        if not line:
            if frames:
                yield frames
            frames = []
            continue
        parts = line.split(None, 1)
        try:
            ip = int(parts[0], 16)
        except ValueError:
            continue
        sym = parts[1].split("+")[0] if len(parts) > 1 else ""
        frames.append((ip, sym))
    if frames:
        yield frames


total = kernel = receive = 0
for frames in samples(sys.stdin):
    total += 1
    if frames[0][0] < KERNEL_BASE or any(sym in IDLE for _, sym in frames):
        continue
    kernel += 1
    if any(sym in RECEIVE for _, sym in frames):
        receive += 1
print(json.dumps({"samples": total, "kernel": kernel, "receive": receive}))
