#!/usr/bin/env python3
"""Combine the three suites' result files into one, draw the PNG plots with
gnuplot and regenerate BENCHMARKS.md. Every number in BENCHMARKS.md comes
from the combined JSON, so any result file can be re-rendered:

  report.py combine OUT.json DATAPATH.json APPLY.json E2E.json
  report.py render RESULT.json REPO_DIR     (plots next to RESULT, BENCHMARKS.md)
  report.py fleet FLEET.json REPO_DIR       (scripts/bench-fleet.sh's result: its plot,
                                             and BENCHMARKS.md again with its section)

BENCHMARKS.md always carries the newest bench/results/*-fleet.json as its
fleet section, whichever command regenerates it.
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile


def load(path):
    if not path or not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path) as f:
        return json.load(f)


def combine(out, datapath, apply, e2e):
    doc = {"schema": "vaultwall-bench/1", "datapath": load(datapath), "apply": load(apply),
           "e2e": load(e2e)}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def r2(x):
    return "-" if x is None else f"{x:.2f}"


def spread(s, fmt="{:.2f}"):
    if not s:
        return "-"
    return (fmt + " ({}–{})").format(s["median"], fmt.format(s["min"]), fmt.format(s["max"]))


def ms(s):
    return spread(s, "{:.1f}") if s else "-"


# ---- plots ----------------------------------------------------------------------

def gnuplot(script):
    with tempfile.NamedTemporaryFile("w", suffix=".gp", delete=False) as f:
        f.write(script)
        name = f.name
    try:
        subprocess.run(["gnuplot", name], check=True)
    finally:
        os.unlink(name)


def plot_datapath(dp, png, tmp):
    """Two panels (allowed by a /32, denied): ns per packet vs rules for each
    program; realistic sets solid, dense /32 sets dashed."""
    colours = {"empty": 4, "lower_bound": 2, "xdp_filter": 3, "vaultwall": 1, "cold": 7}
    panels = []
    for pkt in ("allowed_32", "denied"):
        series = {}
        for cell in dp["results"]:
            if cell["packet"] != pkt or cell["kind"] not in ("realistic", "dense"):
                continue
            for prog, p in cell["programs"].items():
                series.setdefault((prog, cell["kind"]), []).append((cell["rules"], p["ns_median"]))
        for c in dp.get("cold_lookups", []):
            v = c.get("vaultwall_cold_model_ns", {}).get(pkt)
            if v is not None:
                series.setdefault(("cold", c["kind"]), []).append((c["rules"], v))
        plots = []
        for (prog, kind), pts in sorted(series.items(), key=lambda kv: (list(colours).index(kv[0][0]), kv[0][1])):
            fn = os.path.join(tmp, f"dp-{pkt}-{prog}-{kind}.dat")
            with open(fn, "w") as f:
                for n, v in sorted(pts):
                    f.write(f"{n} {v}\n")
            name = {"cold": "vaultwall, cold cache (model)", "lower_bound": "lower bound (parse+LPM)",
                    "xdp_filter": "xdp-filter (exact hash)", "empty": "empty program"}.get(prog, prog)
            title = f"{name}, {kind}"
            plots.append(f"'{fn}' using 1:2 with linespoints lc {colours[prog]} "
                         f"dt {1 if kind == 'realistic' else 2} pt 7 ps 0.8 title '{title}'")
        panels.append(f"set title '{pkt.replace('_', ' ')} packet'\nplot " + ", ".join(plots) + "\n")
    gnuplot(f"""set terminal pngcairo size 1400,650 font ',10'
set output '{png}'
set multiplot layout 1,2 title 'BPF\\_PROG\\_TEST\\_RUN ns per packet vs rules (hot cache; cold = hot - hot lookup + random-source lookup)'
set logscale xy
set xlabel 'rules'
set ylabel 'ns per packet'
set key top left font ',9'
set grid
set yrange [10:2000]
""" + "".join(panels) + "unset multiplot\n")


def plot_e2e(e2e, png, tmp):
    fn = os.path.join(tmp, "e2e.dat")
    configs = ["xdp_drop", "vaultwall_native", "vaultwall_generic", "nft_set"]
    # The receiver's share when the run sampled it, else sender + receiver.
    receiver = all(s["configs"][c].get("receiver_ns_per_packet") for s in e2e["summary"] for c in configs)
    metric = "receiver_ns_per_packet" if receiver else "cpu_ns_per_packet"
    what = "receiver CPU ns per packet" if receiver else "CPU 0 kernel ns per packet (sender + receiver)"
    with open(fn, "w") as f:
        f.write("rules " + " ".join(configs) + "\n")
        for s in e2e["summary"]:
            vals = []
            for c in configs:
                v = s["configs"][c][metric]
                vals.append(str(v["median"]) if v else "0")
            f.write(f"{s['rules']} " + " ".join(vals) + "\n")
    gnuplot(f"""set terminal pngcairo size 900,550 font ',10'
set output '{png}'
set title 'veth flood of denied SYNs: {what}, medians'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel 'ns per packet'
set xlabel 'rules'
set key top left
set grid ytics
set yrange [0:*]
set xrange [-0.6:{len(e2e['summary']) - 0.4}]
plot '{fn}' using 2:xtic(1) title 'XDP drop floor', '' using 3 title 'vaultwall native', \\
     '' using 4 title 'vaultwall generic', '' using 5 title 'nftables netdev ingress, interval set'
""")


def plot_apply(ap, png, tmp):
    lines = []
    for key, title, lc in (("library_ms", "vaultwall library (parse→visible)", 1),
                           ("ctl_ms", "vaultwallctl apply -f", 2), ("nft_ms", "nft -f (interval set)", 3)):
        fn = os.path.join(tmp, f"apply-{key}.dat")
        pts = sorted((r["prefixes"], r[key]["median"]) for r in ap["results"] if key in r)
        if not pts:
            continue
        with open(fn, "w") as f:
            for n, v in pts:
                f.write(f"{n} {v}\n")
        lines.append(f"'{fn}' using 1:2 with linespoints lc {lc} pt 7 title '{title}'")
    gnuplot(f"""set terminal pngcairo size 900,550 font ',10'
set output '{png}'
set title 'Apply time vs prefixes (steady-state replace; medians)'
set logscale xy
set xlabel 'prefixes'
set ylabel 'ms'
set key top left
set grid
plot {', '.join(lines)}
""")


# ---- BENCHMARKS.md -------------------------------------------------------------

def md_datapath(dp, title="## 1. Datapath: BPF_PROG_TEST_RUN, ns per packet", source=None):
    ctx = dp["context"]
    out = [title, ""]
    if source:
        out.append(f"From {source}, commit `{ctx.get('commit')}`.")
    out.append(f"{dp['method']['rounds']} interleaved rounds × repeat {dp['method']['repeat']}; "
               f"steal {dp['steal_percent']['total']:.2f}% (worst round {dp['steal_percent']['max_round']:.2f}%); "
               f"load average {ctx.get('loadavg_at_start', '?')} → {ctx.get('loadavg_at_end', '?')}.")
    out.append("Ratios: median of per-round ratios (min–max). `x floor` is against the empty XDP "
               "program and `added ns` is vaultwall minus the empty program in each round (what a decision "
               "costs), `x lower bound` against parse + one LPM lookup + one counter, `x xdp-filter` "
               "against xdp-filter's own allowlist program (exact addresses in a hash) at the same "
               "number of entries. Hot cache: the same packet every iteration.")
    out.append("")
    out.append("| packet | rule set | empty ns | lower bound ns | xdp-filter ns | vaultwall ns | added ns | x floor | x lower bound | x xdp-filter | targets |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in dp["results"]:
        p = c["programs"]
        v = p["vaultwall"]
        ns = lambda k: f"{p[k]['ns_median']:.0f}" if k in p else "-"
        tg = "; ".join(f"{t['metric'].split(' ')[1].replace('ratio_to_', 'x ')} ≤ {t['max']}: "
                       f"{'met' if t['met'] else '**missed**'}" for t in c.get("targets", []))
        out.append(f"| {c['packet']} | {c['set']} | {ns('empty')} | {ns('lower_bound')} | {ns('xdp_filter')} | "
                   f"{ns('vaultwall')} | {spread(v.get('added_ns'), '{:+.0f}')} | {spread(v.get('ratio_to_floor'))} | {spread(v.get('ratio_to_lower_bound'))} | "
                   f"{spread(v.get('ratio_to_xdp_filter'))} | {tg} |")
    if dp.get("cold_lookups"):
        out += ["", title.split(" ")[0] + "# Source lookup with a cold cache", "",
                "ns per source resolved the way vaultwall does (source index walk, then the rule trie "
                "where the index leaves the /16 to it), in vaultwall's own maps: one key repeated (hot), random addresses "
                "inside the rules (cold hit), uniformly random addresses (cold random); the bpf_loop "
                "baseline is subtracted. The model column is vaultwall's hot ns per packet − hot "
                "lookup + cold lookup.", "",
                "| rule set | probe pool | hot | cold hit | cold random | vaultwall allowed, cold model | vaultwall denied, cold model |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for c in dp["cold_lookups"]:
            l, m = c["ns_per_lookup"], c["vaultwall_cold_model_ns"]
            out.append(f"| {c['set']} | {c['probe_pool']} | {l['hot']['median']:.1f} | {l['cold_hit']['median']:.1f} | "
                       f"{l['cold_random']['median']:.1f} | {m.get('allowed_32', 0):.0f} | {m.get('denied', 0):.0f} |")
    return out


def md_apply(ap):
    out = ["## 3. Control plane: apply time, flip, memory", ""]
    out.append(ap["method"]["state"] + ". Visible = " + ap["method"]["visible"] + ". nft: " + ap["method"]["nft"] + ".")
    out.append("")
    out.append("| workload | prefixes | path | library ms (parse→visible) | parse+validate | read kernel | compile | write+flip | vaultwallctl ms | nft -f ms | library / nft | ctl / nft |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in ap["results"]:
        ph = r["library_phases_ms"]
        path = "full ctl path" if r["kind"] != "library" else "kernel library only"
        g = lambda k: f"{ph[k]['median']:.1f}" if k in ph else "-"
        out.append(f"| {r['workload']} | {r['prefixes']} | {path} | {ms(r['library_ms'])} | {g('parse_validate')} | "
                   f"{g('read_kernel_policy')} | {g('compile')} | {g('write_flip')} | {ms(r.get('ctl_ms'))} | "
                   f"{ms(r['nft_ms'])} | {spread(r['library_to_nft'])} | {spread(r.get('ctl_to_nft'))} |")
    out.append("")
    g = [r["grace_period_ms"]["median"] for r in ap["results"]]
    fl = [r["flip_word_ms"]["median"] * 1000 for r in ap["results"]]
    out.append(f"Slot flip: the grace-period wait every apply starts with takes {min(g):.1f}–{max(g):.1f} ms "
               f"(medians per workload); the one-word flip itself {min(fl):.1f}–{max(fl):.1f} µs.")
    if ap.get("memory"):
        out += ["", "| prefixes in one rule trie | slab bytes per prefix (median of 3, min–max) | memlock bytes per prefix (what fdinfo claims) |",
                "|---:|---:|---:|"]
        for m in ap["memory"]:
            out.append(f"| {m['prefixes']} | {spread(m['slab_bytes_per_prefix'], '{:.0f}')} | {m['memlock_bytes_per_prefix']:.0f} |")
    idx = ap.get("source_index_memory")
    if idx:
        mib = idx["bytes_both_slots"] / (1 << 20)
        per = ", ".join(f"{idx['bytes_both_slots'] / m['prefixes']:.0f} B per prefix at {m['prefixes']}"
                        for m in ap.get("memory", []))
        out += ["", f"The public source index (`vw_index_N` + `vw_chunks_N`, {idx['chunks_per_slot']} chunks of "
                    f"{idx['chunk_bytes']} B per slot) is preallocated when the maps are created: "
                    f"{mib:.1f} MiB for both slots (memlock), whatever the rule count ({per}, on top of the "
                    f"trie's slab above)."]
    return out


def md_e2e(e2e):
    m = e2e["method"]
    out = ["## 2. End to end on veth", ""]
    out.append(f"{m['traffic']}. {m['receiver']}. Metric: {m['metric']}. "
               f"{m['rounds']} rounds × {m['duration_s']} s per configuration; stack: `{json.dumps(m['stack'])}`; "
               f"load average at the end {m['loadavg_at_end']}.")
    out.append("")
    out.append("| rules | XDP drop floor ns | vaultwall native ns | vaultwall generic ns | nft set ns | native / nft | generic / nft | native / nft above floor | native pps | nft pps |")
    out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in e2e["summary"]:
        c = s["configs"]
        v = lambda k: f"{c[k]['cpu_ns_per_packet']['median']:.0f}" if c[k]["cpu_ns_per_packet"] else "-"
        pps = lambda k: f"{c[k]['pps']:.0f}" if c[k]["pps"] else "-"
        out.append(f"| {s['rules']} | {v('xdp_drop')} | {v('vaultwall_native')} | {v('vaultwall_generic')} | {v('nft_set')} | "
                   f"{spread(s['native_to_nft'])} | {spread(s['generic_to_nft'])} | {spread(s.get('native_to_nft_above_floor'))} | "
                   f"{pps('vaultwall_native')} | {pps('nft_set')} |")
    if any(s.get("receiver_native_to_nft") for s in e2e["summary"]):
        out += ["", "Receiver only (the receive softirq's share of CPU 0's kernel samples):", "",
                "| rules | XDP drop floor ns | vaultwall native ns | vaultwall generic ns | nft set ns | native / nft | generic / nft | native / floor | target native/nft ≤ 0.5 |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for s in e2e["summary"]:
            c = s["configs"]
            v = lambda k: (f"{c[k]['receiver_ns_per_packet']['median']:.0f}"
                           if c[k].get("receiver_ns_per_packet") else "-")
            out.append(f"| {s['rules']} | {v('xdp_drop')} | {v('vaultwall_native')} | {v('vaultwall_generic')} | {v('nft_set')} | "
                       f"{spread(s.get('receiver_native_to_nft'))} | {spread(s.get('receiver_generic_to_nft'))} | "
                       f"{spread(s.get('receiver_native_to_floor'))} | {'met' if s['target']['met'] else '**missed**'} |")
    return out


# ---- fleet ---------------------------------------------------------------------

def percentile(values, p):
    """Nearest rank: with 20 samples p99 is the largest."""
    values = sorted(v for v in values if v is not None and v >= 0)
    if not values:
        return None
    rank = max(1, int(-(-p * len(values) // 100)))
    return values[min(rank, len(values)) - 1]


def fleet_rows(fleet):
    """One row per fleet size: convergence p50/p99 over rounds (the slowest
    host of each round), per-host p50/p99, and etcd's cost per host."""
    rows = []
    for r in fleet.get("real", []):
        rounds = r["rounds"]
        fleet_ms = [x["all_ms"] for x in rounds]
        per_host = [l for x in rounds for l in x["latency_ms"]]
        changes = max(1, len(rounds))
        rows.append({
            "kind": "real agents", "hosts": r["hosts"], "rounds": len(rounds),
            "complete": sum(1 for x in rounds if x["all_ms"] >= 0),
            "p50": percentile(fleet_ms, 50), "p99": percentile(fleet_ms, 99),
            "host_p50": percentile(per_host, 50), "host_p99": percentile(per_host, 99),
            "put_ms": percentile([x["command_ms"] for x in rounds], 50),
            "seen": "kernel (BPF_PROG_TEST_RUN)",
            "rss_kib_per_host": (r["etcd_connected"]["rss_kib"] - r["etcd_before"]["rss_kib"]) / r["hosts"],
            "cpu_ms_per_change_per_host": 1000 * (r["etcd_after_rounds"]["cpu_s"] - r["etcd_connected"]["cpu_s"]) / changes / r["hosts"],
            "startup_ms": r.get("startup_ms"),
            "apply_p50": percentile(r.get("apply_ms", []), 50),
        })
    for s in fleet.get("simulated", []):
        rounds = s["rounds_detail"]
        applied = [max(x["applied_ms"]) if min(x["applied_ms"]) >= 0 else -1 for x in rounds]
        reported = [max(x["reported_ms"]) if min(x["reported_ms"]) >= 0 else -1 for x in rounds]
        per_host = [l for x in rounds for l in x["applied_ms"]]
        idle = s.get("idle", {})
        rows.append({
            "kind": "simulated agents", "hosts": s["hosts"], "rounds": len(rounds),
            "complete": sum(1 for x in rounds if x["complete"]),
            "p50": percentile(applied, 50), "p99": percentile(applied, 99),
            "reported_p50": percentile(reported, 50), "reported_p99": percentile(reported, 99),
            "host_p50": percentile(per_host, 50), "host_p99": percentile(per_host, 99),
            "seen": "modelled apply done",
            "rss_kib_per_host": (s["etcd_connected"]["rss_kib"] - s["etcd_before"]["rss_kib"]) / s["hosts"],
            "cpu_ms_per_change_per_host": 1000 * (s["etcd_after_rounds"]["cpu_s"] - s["etcd_connected"]["cpu_s"]) / max(1, len(rounds)) / s["hosts"],
            "startup_ms": s.get("startup_ms"),
            "idle_writes_per_s_per_host": idle.get("revisions", 0) / max(1e-9, idle.get("seconds", 1)) / s["hosts"],
            "idle_cpu_pct_per_host": 100 * idle.get("cpu_s", 0) / max(1e-9, idle.get("seconds", 1)) / s["hosts"],
        })
    return sorted(rows, key=lambda row: (row["hosts"], row["kind"]))


FLEET_TARGETS = {100: 500.0, 1000: 2000.0}  # p99 ms


def plot_fleet(fleet, png, tmp):
    rows = fleet_rows(fleet)
    data = os.path.join(tmp, "fleet.dat")
    with open(data, "w") as f:
        for kind in ("real agents", "simulated agents"):
            for row in rows:
                if row["kind"] == kind and row["p99"] is not None:
                    f.write(f"{row['hosts']} {row['p50']} {row['p99']}\n")
            f.write("\n\n")
        for hosts, target in FLEET_TARGETS.items():
            f.write(f"{hosts} {target}\n")
    gnuplot(f"""set terminal pngcairo size 900,520
set output '{png}'
set title 'fleet put to every host enforcing (the slowest host of each change)'
set logscale x
set xlabel 'hosts'
set ylabel 'ms'
set key top left
set grid
plot '{data}' index 0 using 1:2 with linespoints lw 2 title 'real agents p50', \
     '{data}' index 0 using 1:3 with linespoints lw 2 dt 2 title 'real agents p99', \
     '{data}' index 1 using 1:2 with linespoints lw 2 title 'simulated p50', \
     '{data}' index 1 using 1:3 with linespoints lw 2 dt 2 title 'simulated p99', \
     '{data}' index 2 using 1:2 with points pt 7 ps 2 title 'target p99'
""")


def fmt_ms(x):
    return "-" if x is None else f"{x:.0f}"


def md_fleet(fleet, rel_result, rel_png):
    ctx = fleet.get("context", {})
    rows = fleet_rows(fleet)
    out = ["## 4. Fleet: fleet put to every host enforcing", "",
           f"From `{rel_result}` (scripts/bench-fleet.sh): a 3-member etcd {ctx.get('etcd_version')} on "
           f"127.0.0.1 (progress notify {ctx.get('progress_notify_interval')}), commit `{ctx.get('commit')}`, "
           f"{ctx.get('cpus_online')} CPUs shared by etcd, every agent and the probe: upper bounds. "
           "Real agents: each host a pin directory with its own vaultwall-agent; a host enforces when a packet "
           "through its pinned program (BPF_PROG_TEST_RUN) gets the new verdict, timed from the start of "
           "`vaultwallctl fleet put` (the command's own start-up and validation included). "
           f"Simulated agents: the agent's sync code per host (reader, decisions, status writer, its own "
           f"connections), the kernel apply modelled as {fleet.get('apply_model_ms', 0):.0f} ms ±30% (the "
           "median apply of a real agent alone here), timed from the put. Per change, the slowest host counts; "
           "p50/p99 over the changes (nearest rank: with 20 changes p99 is the slowest).", "",
           "| agents | hosts | changes | p50 ms | p99 ms | target p99 | per host p50 / p99 ms | status seen p99 ms | etcd RSS per host | etcd CPU per change per host |",
           "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        target = FLEET_TARGETS.get(row["hosts"])
        verdict = "-" if target is None else (f"≤ {target:.0f}: " + ("met" if row["p99"] is not None and row["p99"] <= target else "**missed**"))
        out.append(f"| {row['kind']} | {row['hosts']} | {row['complete']}/{row['rounds']} | {fmt_ms(row['p50'])} | "
                   f"{fmt_ms(row['p99'])} | {verdict} | {fmt_ms(row['host_p50'])} / {fmt_ms(row['host_p99'])} | "
                   f"{fmt_ms(row.get('reported_p99'))} | {row['rss_kib_per_host']:.0f} KiB | "
                   f"{row['cpu_ms_per_change_per_host']:.2f} ms |")
    out.append("")
    real = [r for r in rows if r["kind"] == "real agents"]
    if real:
        out.append("Real agents: `fleet put` itself took " + ", ".join(
            f"{fmt_ms(r['put_ms'])} ms ({r['hosts']} host{'s' if r['hosts'] > 1 else ''})" for r in real) +
            " (median); an agent's apply (decide, compile, write the idle slot, flip, verify) took " +
            ", ".join(f"{fmt_ms(r['apply_p50'])} ms" for r in real) + " (median, same order). "
            "Real agents on one machine share its 2 CPUs: their applies queue (50 applies of "
            f"{fmt_ms(real[0]['apply_p50'])} ms each are over a second of CPU for 2 cores), which is what the "
            "larger real rows measure; a fleet's hosts apply in parallel on their own CPUs, which the "
            "simulated rows model. etcd's RSS per host is only meaningful for the larger fleets (its own "
            "footprint dominates a fleet of one).")
    sims = [r for r in rows if r["kind"] == "simulated agents"]
    for r in sims:
        out.append(f"Idle fleet of {r['hosts']}: {r['idle_writes_per_s_per_host'] * 60:.2f} status writes per host per "
                   f"minute (heartbeats; lease keep-alives make no revisions), etcd CPU "
                   f"{r['idle_cpu_pct_per_host']:.3f}% of a core per host; all {r['hosts']} started, "
                   f"listed, applied and reported in {fmt_ms(r['startup_ms'])} ms.")
    out += ["",
            "Azure publishes no propagation time for Key Vault firewall changes; the one figure it gives is for "
            'enabling a subnet\'s service endpoint: "It might take up to 15 minutes to take effect" (and Cosmos DB: '
            'firewall changes "may take up to 15min to propagate"). Each host\'s flip is atomic (DESIGN §1.6), '
            "so during those milliseconds only *which* hosts run the new policy differs, never *part of* a policy.",
            "", f"![fleet convergence]({rel_png})", ""]
    return out


def latest_result(repo, suite):
    """The newest bench/results file of one suite: <date>-<commit>[-dirty]-<suite>.json."""
    pattern = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]+(-dirty)?-" + re.escape(suite) + r"\.json$")
    found = sorted(f for f in glob.glob(os.path.join(repo, "bench", "results", "*.json"))
                   if pattern.match(os.path.basename(f)))
    return found[-1] if found else None


def latest_fleet(repo):
    return latest_result(repo, "fleet")


def md_reject(rj, source):
    ratio = lambda k: spread(rj.get(k))
    rounds = rj.get("rounds", [])
    med = lambda k: sorted(r[k] for r in rounds)[len(rounds) // 2] if rounds else None
    stats = rj.get("reject_stats", {})
    return [f"From `{source}` (scripts/bench-reject.sh): {rj.get('benchmark')}; {rj.get('method')}, "
            f"{rj.get('packets_per_half_round')} packets per half round, {len(rounds)} rounds. "
            "`reject` answers each denied SYN with a RST built in place (XDP_TX); `reject, suppressed` is the "
            "same program past its per-CPU reply budget (the packet is dropped and counted).", "",
            "| path | ns per packet (median round) | ratio |", "|---|---:|---|",
            f"| drop | {med('drop_ns'):.0f} | x floor {ratio('ratio_drop_vs_floor')} |",
            f"| reject | {med('reject_ns'):.0f} | x floor {ratio('ratio_reject_vs_floor')}; x drop {ratio('ratio_reject_vs_drop')} |",
            f"| reject, suppressed | {med('reject_suppressed_ns'):.0f} | x drop {ratio('ratio_reject_suppressed_vs_drop')} |",
            "", f"Replies sent {stats.get('sent', 0)}, suppressed by the budget {stats.get('suppressed', 0)}.", ""]


# The suites run by their own scripts, each shown from its newest result file:
# (suite suffix, title, how it was run).
SUITES = [
    ("ipv6", "### 5.1 IPv6 at 254 rules and every service-tag prefix", "scripts/bench-datapath.sh --ipv6"),
    ("flat", "### 5.2 Flat cost: VNET decisions, and one million prefixes with the index sized at load",
     "scripts/bench-datapath.sh --flat"),
    ("flat-default-index", "### 5.3 One million prefixes with the default index size",
     "scripts/bench-datapath.sh --flat-default-index"),
]


def suite_sections(repo):
    rel = lambda p: os.path.relpath(p, repo)
    out = []
    for suite, title, how in SUITES:
        path = latest_result(repo, suite)
        dp = load(path)
        dp = dp and dp.get("datapath", dp)
        if dp and dp.get("results"):
            out += md_datapath(dp, title, f"`{rel(path)}` ({how})") + [""]
    path = latest_result(repo, "reject")
    if load(path):
        out += ["## 6. Reject instead of drop", ""] + md_reject(load(path), rel(path))
    if out:
        out = ["## 5. Suites run on their own", "",
               "Each from the newest result of its script in bench/results (its own run, its own ratios).", ""] + out
    return out


def fleet_section(fleet_result, repo, tmp):
    doc = load(fleet_result)
    if not doc or not doc.get("fleet"):
        return []
    png = os.path.splitext(fleet_result)[0] + ".png"
    plot_fleet(doc["fleet"], png, tmp)
    rel = lambda p: os.path.relpath(p, repo)
    return md_fleet(doc["fleet"], rel(fleet_result), rel(png))


def render(result, repo, fleet_result=None):
    doc = load(result)
    base = os.path.splitext(result)[0]
    rel = lambda p: os.path.relpath(p, repo)
    md = ["# Benchmarks", "",
          "Generated by `scripts/bench.sh` from `" + rel(result) + "` (bench/tools/report.py); do not edit by hand.",
          "Nothing here is a test. Every figure is measured on a shared 2-vCPU KVM guest; ratios are "
          "taken between things measured interleaved in the same run. Method and pitfalls: "
          "bench/README.md.", ""]
    ctx = (doc.get("datapath") or doc.get("apply") or {}).get("context", {})
    if ctx:
        md.append(f"Commit `{ctx.get('commit')}`, {ctx.get('cpu_model')}, {ctx.get('cpus_online')} CPUs, "
                  f"kernel {ctx.get('kernel_release')}.")
        md.append("")
    with tempfile.TemporaryDirectory() as tmp:
        if doc.get("datapath"):
            png = base + "-datapath.png"
            plot_datapath(doc["datapath"], png, tmp)
            md += md_datapath(doc["datapath"]) + ["", f"![ns per packet vs rules]({rel(png)})", ""]
        if doc.get("e2e"):
            png = base + "-e2e.png"
            plot_e2e(doc["e2e"], png, tmp)
            md += md_e2e(doc["e2e"]) + ["", f"![end-to-end CPU per packet]({rel(png)})", ""]
        if doc.get("apply"):
            png = base + "-apply.png"
            plot_apply(doc["apply"], png, tmp)
            md += md_apply(doc["apply"]) + ["", f"![apply time vs prefixes]({rel(png)})", ""]
        fleet_result = fleet_result or latest_fleet(repo)
        if fleet_result:
            md += fleet_section(fleet_result, repo, tmp)
        md += suite_sections(repo)
    with open(os.path.join(repo, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "combine":
        combine(*sys.argv[2:6])
    elif sys.argv[1] == "render":
        render(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "fleet":
        # The main sections stay those of the result BENCHMARKS.md names.
        repo = sys.argv[3]
        with open(os.path.join(repo, "BENCHMARKS.md")) as f:
            named = re.search(r"from `([^`]+\.json)`", f.read())
        render(os.path.join(repo, named.group(1)), repo, sys.argv[2])
    else:
        sys.exit(__doc__)
