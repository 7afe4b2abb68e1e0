#!/usr/bin/env bash
# Every benchmark, one run: the datapath (BPF_PROG_TEST_RUN vs an
# empty program, a minimal LPM program and xdp-filter; cold-cache lookups),
# the control plane (apply time vs nft -f, flip, memory per prefix) and the
# veth end-to-end flood (vaultwall native/generic vs XDP drop vs nftables).
# Writes bench/results/<UTC date>-<commit>[-quick].json (all suites), PNG
# plots next to it, and regenerates BENCHMARKS.md from that file. Not a
# test: it reports, it asserts nothing.
#
#   scripts/bench.sh            full run (about 20 minutes on the 2-vCPU VM)
#   scripts/bench.sh --quick    a few minutes: fewer rule sets, sizes, rounds
#   scripts/bench.sh --only datapath|apply|e2e   one suite
#
# Environment: BUILD_DIR (default build-bench), NO_BUILD=1 to use binaries as
# they are. Runs as root (BPF, namespaces, nftables).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# shellcheck source=lib/options.sh
source scripts/lib/options.sh

quick=0 only=""
vw_parse_options 2,16 --quick quick=1 --only only= -- "$@"
if [ "$(id -u)" -ne 0 ]; then
	echo "bench.sh: needs root (BPF_PROG_TEST_RUN, bpffs pins, namespaces, nftables)" >&2
	exit 1
fi

build_dir=${BUILD_DIR:-build-bench}
export BUILD_DIR=$build_dir
if [ "${NO_BUILD:-0}" != 1 ]; then
	[ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" >/dev/null
	make -C "$build_dir" -j2 --no-print-directory vaultwall_bench_datapath vaultwall_bench_apply \
		vaultwallctl vaultwall-loader bench_drop_object >/dev/null
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git --no-optional-locks status --porcelain 2>/dev/null)" ]; then
	commit="$commit-dirty"
fi
suffix=$([ "$quick" = 1 ] && echo -quick || true)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="bench/results/$stamp-$commit$suffix.json"
mkdir -p bench/results

work=$(mktemp -d /tmp/vwbench.XXXXXX)
pin_dir=/sys/fs/bpf/vwb-bench-$$
netns=vwbap$$
cleanup() {
	rm -rf "$work" "$pin_dir"
	ip netns del "$netns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM

if [ "$quick" = 1 ]; then
	dp_args=(--rounds 5 --repeat 200000 --sets realistic:1,realistic:254,tags:254,realistic:10000,dense:10000)
	ap_args=(--rounds 5 --workloads tags:254,ip:4000,trusted:20000,library:100000 --no-memory)
	e2e_env=(ROUNDS=3 DURATION=2)
else
	dp_args=(--rounds 7 --repeat 1000000 --sets realistic:1,realistic:254,tags:254,realistic:10000,dense:10000,realistic:100000,dense:100000,realistic:1000000,dense:1000000)
	# trusted:25000: the ctl path keeps the normalised document beside each
	# slot (1 MiB), which holds ~30k prefixes; beyond, the kernel library.
	ap_args=(--rounds 5 --workloads tags:254,ip:4000,trusted:25000,library:100000,library:1000000)
	e2e_env=(ROUNDS=5 DURATION=5)
fi

run_suite() { [ -z "$only" ] || [ "$only" = "$1" ]; }
# A failing suite is reported and the others still run and are written.
failed=()

echo "bench.sh: load average $(cut -d' ' -f1-3 /proc/loadavg) at start" >&2
if run_suite datapath; then
	echo "== datapath (BPF_PROG_TEST_RUN)" >&2
	timeout 1800 "$build_dir/tests/bench/vaultwall_bench_datapath" "${dp_args[@]}" --commit "$commit" \
		--pin-dir "$pin_dir/dp" --out "$work/datapath.json" >&2 || failed+=(datapath)
fi
if run_suite apply; then
	echo "== control plane (apply time)" >&2
	ip netns add "$netns"
	mkdir -p "$work/apply"
	timeout 1800 "$build_dir/tests/bench/vaultwall_bench_apply" "${ap_args[@]}" --commit "$commit" \
		--ctl "$build_dir/ctl/vaultwallctl" --netns "$netns" --pin-dir "$pin_dir/apply" \
		--work-dir "$work/apply" --out "$work/apply.json" >&2 || failed+=(apply)
fi
if run_suite e2e; then
	echo "== end to end (veth flood)" >&2
	env "${e2e_env[@]}" timeout 1800 scripts/bench-e2e.sh ${suffix:+--quick} --out "$work/e2e.json" ||
		failed+=(e2e)
fi

python3 bench/tools/report.py combine "$out" "$work/datapath.json" "$work/apply.json" "$work/e2e.json"
python3 bench/tools/report.py render "$out" "$repo"
echo "bench.sh: load average $(cut -d' ' -f1-3 /proc/loadavg) at end" >&2
echo "results: $out (plots: ${out%.json}-*.png), BENCHMARKS.md regenerated" >&2
if [ ${#failed[@]} -gt 0 ]; then
	echo "bench.sh: suites that failed (missing from the results): ${failed[*]}" >&2
	exit 1
fi
