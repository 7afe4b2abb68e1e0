#!/usr/bin/env bash
# What denyAction reject costs: ns per denied SYN (random sources) of the
# production program under drop, of the same source built with
# -DVW_BENCH_UNBOUNDED_REJECT under reject (every SYN answered with a RST),
# and of the production program past the reply budget, with an empty XDP
# program as the floor, as ratios measured in one run. Writes bench/results/<date>-<commit>-reject.json.
# Not a test: it reports.   scripts/bench-reject.sh [--rounds N] [--packets N]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench-binary.sh
source scripts/lib/bench-binary.sh
vw_run_bench_binary reject vaultwall_bench_reject "$@"
