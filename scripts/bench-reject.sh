#!/usr/bin/env bash
# What denyAction reject costs: ns per denied SYN (random sources) of the
# production program under drop, of the same source built with
# -DVW_BENCH_UNBOUNDED_REJECT under reject (every SYN answered with a RST),
# and of the production program past the reply budget, with an empty XDP
# program as the floor, as ratios measured in one run. Writes bench/results/<date>-<commit>-reject.json.
# Not a test: it reports.   scripts/bench-reject.sh [--rounds N] [--packets N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-reject.sh: needs root (BPF_PROG_TEST_RUN, bpffs pins)" >&2
	exit 1
fi
build_dir=${BUILD_DIR:-build}
[ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" >/dev/null
cmake --build "$build_dir" -j 2 --target vaultwall_bench_reject >/dev/null
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet 2>/dev/null || commit="$commit-dirty"
mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$commit-reject.json"
"$build_dir/tests/bench/vaultwall_bench_reject" --out "$out" "$@"
echo "results: $out"
