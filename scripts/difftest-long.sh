#!/usr/bin/env bash
# Long differential run: random policies x random frames through
# the production XDP program vs the reference classifier, 10M+ verdicts by
# default, bounded in time. Needs root. Prints the seed; a mismatch prints
# a minimal replayable case.
#   scripts/difftest-long.sh [--seed N] [--verdicts N] [--max-seconds S] [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
verdicts=10000000
seconds=3600
build=$src/build
while [ $# -gt 0 ]; do
	case $1 in
	--seed) seed=$2; shift 2 ;;
	--verdicts) verdicts=$2; shift 2 ;;
	--max-seconds) seconds=$2; shift 2 ;;
	*) build=$1; shift ;;
	esac
done
binary=$build/tests/differential/vaultwall_difftest
[ -x "$binary" ] || cmake --build "$build" --target vaultwall_difftest -j 2
packets=5000
exec "$binary" --seed "$seed" --policies $(((verdicts + packets - 1) / packets)) --packets $packets \
	--max-seconds "$seconds"
