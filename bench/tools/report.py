#!/usr/bin/env python3
"""Combine the three suites' result files into one, draw the PNG plots with
gnuplot and regenerate BENCHMARKS.md. Every number in BENCHMARKS.md comes
from the combined JSON, so any result file can be re-rendered:

  report.py combine OUT.json DATAPATH.json APPLY.json E2E.json
  report.py render RESULT.json REPO_DIR     (plots next to RESULT, BENCHMARKS.md)
"""
import json
import os
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

def md_datapath(dp):
    ctx = dp["context"]
    out = ["## 1. Datapath: BPF_PROG_TEST_RUN, ns per packet", ""]
    out.append(f"{dp['method']['rounds']} interleaved rounds × repeat {dp['method']['repeat']}; "
               f"steal {dp['steal_percent']['total']:.2f}% (worst round {dp['steal_percent']['max_round']:.2f}%); "
               f"load average {ctx.get('loadavg_at_start', '?')} → {ctx.get('loadavg_at_end', '?')}.")
    out.append("Ratios: median of per-round ratios (min–max). `x floor` is against the empty XDP "
               "program, `x lower bound` against parse + one LPM lookup + one counter, `x xdp-filter` "
               "against xdp-filter's own allowlist program (exact addresses in a hash) at the same "
               "number of entries. Hot cache: the same packet every iteration.")
    out.append("")
    out.append("| packet | rule set | empty ns | lower bound ns | xdp-filter ns | vaultwall ns | x floor | x lower bound | x xdp-filter | targets |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for c in dp["results"]:
        p = c["programs"]
        v = p["vaultwall"]
        ns = lambda k: f"{p[k]['ns_median']:.0f}" if k in p else "-"
        tg = "; ".join(f"{t['metric'].split(' ')[1].replace('ratio_to_', 'x ')} ≤ {t['max']}: "
                       f"{'met' if t['met'] else '**missed**'}" for t in c.get("targets", []))
        out.append(f"| {c['packet']} | {c['set']} | {ns('empty')} | {ns('lower_bound')} | {ns('xdp_filter')} | "
                   f"{ns('vaultwall')} | {spread(v.get('ratio_to_floor'))} | {spread(v.get('ratio_to_lower_bound'))} | "
                   f"{spread(v.get('ratio_to_xdp_filter'))} | {tg} |")
    if dp.get("cold_lookups"):
        out += ["", "### Source lookup with a cold cache", "",
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


def render(result, repo):
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
    with open(os.path.join(repo, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "combine":
        combine(*sys.argv[2:6])
    elif sys.argv[1] == "render":
        render(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
