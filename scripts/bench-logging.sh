#!/usr/bin/env bash
# What the deny log costs under a flood of random sources: ns per denied
# packet with events on (the production program) vs off (the same source
# built with -DVW_BENCH_NO_EVENTS), with an empty XDP program as the floor,
# interleaved packet by packet. Writes bench/results/<date>-<commit>-logging.json.
# Not a test: it reports.   scripts/bench-logging.sh [--rounds N] [--packets N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-logging.sh: needs root (BPF_PROG_TEST_RUN, bpffs pins)" >&2
	exit 1
fi
build_dir=${BUILD_DIR:-build}
[ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" >/dev/null
cmake --build "$build_dir" -j 2 --target vaultwall_bench_logging >/dev/null
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet 2>/dev/null || commit="$commit-dirty"
mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$commit-logging.json"
"$build_dir/tests/bench/vaultwall_bench_logging" --out "$out" "$@"
echo "results: $out"
