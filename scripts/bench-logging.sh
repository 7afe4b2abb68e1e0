#!/usr/bin/env bash
# What the deny log costs under a flood of random sources: ns per denied
# packet with events on (the production program) vs off (the same source
# built with -DVW_BENCH_NO_EVENTS), with an empty XDP program as the floor,
# interleaved packet by packet. Writes bench/results/<date>-<commit>-logging.json.
# Not a test: it reports.   scripts/bench-logging.sh [--rounds N] [--packets N]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench-binary.sh
source scripts/lib/bench-binary.sh
vw_run_bench_binary logging vaultwall_bench_logging "$@"
