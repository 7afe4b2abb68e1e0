#!/usr/bin/env python3
"""Summarise scripts/bench-e2e.sh runs: medians per configuration and the
per-round ratios (vaultwall native / nft set, / XDP drop floor).

usage: e2e_summary.py RUNS_JSON STACK_JSON DURATION ROUNDS TRAFGEN LOADAVG
"""
import json
import statistics
import sys

runs = json.load(open(sys.argv[1]))
stack = json.loads(sys.argv[2])
duration, rounds = float(sys.argv[3]), int(sys.argv[4])
CONFIGS = ["xdp_drop", "vaultwall_native", "vaultwall_generic", "nft_set"]


def pick(config, rules, rnd=None):
    return [r for r in runs if r["config"] == config and r["rules"] == rules
            and (rnd is None or r["round"] == rnd) and r.get("cpu_ns_per_packet")]


def spread(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "per_round": values}


def ratio(a, b, rules, metric="cpu_ns_per_packet"):
    out = []
    for rnd in range(rounds):
        x, y = pick(a, rules, rnd), pick(b, rules, rnd)
        if x and y and x[0].get(metric) and y[0].get(metric):
            out.append(x[0][metric] / y[0][metric])
    return spread(out)


summary = []
for rules in sorted({r["rules"] for r in runs if r["config"] != "xdp_drop"}):
    entry = {"rules": rules, "configs": {}}
    for c in CONFIGS:
        sel = pick(c, rules)
        entry["configs"][c] = {
            "cpu_ns_per_packet": spread([r["cpu_ns_per_packet"] for r in sel]),
            "receiver_ns_per_packet": spread([r["receiver_ns_per_packet"] for r in sel
                                              if r.get("receiver_ns_per_packet")]),
            "pps": statistics.median([r["pps"] for r in sel]) if sel else None,
        }
    entry["native_to_nft"] = ratio("vaultwall_native", "nft_set", rules)
    entry["generic_to_nft"] = ratio("vaultwall_generic", "nft_set", rules)
    entry["native_to_floor"] = ratio("vaultwall_native", "xdp_drop", rules)
    entry["nft_to_floor"] = ratio("nft_set", "xdp_drop", rules)
    above = []
    for rnd in range(rounds):
        v, f, d = (pick(c, rules, rnd) for c in ("vaultwall_native", "nft_set", "xdp_drop"))
        if v and f and d and f[0]["cpu_ns_per_packet"] > d[0]["cpu_ns_per_packet"]:
            fl = d[0]["cpu_ns_per_packet"]
            above.append((v[0]["cpu_ns_per_packet"] - fl) / (f[0]["cpu_ns_per_packet"] - fl))
    entry["native_to_nft_above_floor"] = spread(above)
    entry["receiver_native_to_nft"] = ratio("vaultwall_native", "nft_set", rules, "receiver_ns_per_packet")
    entry["receiver_generic_to_nft"] = ratio("vaultwall_generic", "nft_set", rules, "receiver_ns_per_packet")
    entry["receiver_native_to_floor"] = ratio("vaultwall_native", "xdp_drop", rules, "receiver_ns_per_packet")
    r = entry["receiver_native_to_nft"]
    entry["target"] = {"metric": "vaultwall_native / nft_set, receiver CPU per denied packet "
                                 "(CPU 0 kernel time x the receive softirq's share of its samples)",
                       "max": 0.5, "value": r and r["median"],
                       "met": bool(r and r["median"] <= 0.5)}
    summary.append(entry)

print(json.dumps({
    "schema": "vaultwall-bench-e2e/1",
    "method": {
        "traffic": "one trafgen (-P 1) pinned to CPU 0: TCP SYN to 192.0.2.10:443 from random "
                   "sources (drnd), valid IPv4/TCP checksums, the vault veth's MAC as destination, "
                   "unlimited rate; every packet is denied by every configuration",
        "receiver": "veth NAPI (GRO on gives veth its NAPI path without XDP) in softirq on "
                    "CPU 0, the sender's CPU; threaded NAPI is off: on this kernel a threaded "
                    "veth stops polling once native XDP is attached",
        "metric": "CPU 0 kernel jiffies (system + irq + softirq, /proc/stat) x 1e9/USER_HZ / "
                  "packets the vault veth handled (rx packets + rx dropped): sender and receiver "
                  "together. The receiver's part: that figure x the share of CPU 0's non-idle "
                  "kernel samples (perf record -e cpu-clock -F 2000 -g -C 0, run from CPU 1) "
                  "whose call chain holds net_rx_action, the receive softirq where veth's NAPI "
                  "poll runs the XDP program, or the stack up to the nft netdev ingress hook, and "
                  "frees what they drop. above_floor ratios subtract the XDP drop floor",
        "configs": {
            "xdp_drop": "tests/bench/drop.bpf.c attached native (ip link set xdpdrv)",
            "vaultwall_native": "vaultwall-loader attach --mode native, policy via vaultwallctl apply",
            "vaultwall_generic": "vaultwall-loader attach --mode generic",
            "nft_set": "table netdev, ingress hook on the vault veth, priority -500: "
                       "tcp dport 443 ip saddr @allow accept; tcp dport 443 drop; "
                       "interval set (auto-merge) of the same prefixes",
        },
        "duration_s": duration, "rounds": rounds, "stack": stack, "trafgen": sys.argv[5],
        "loadavg_at_end": sys.argv[6],
    },
    "runs": runs,
    "summary": summary,
}, indent=1))
