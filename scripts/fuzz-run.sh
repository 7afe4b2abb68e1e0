#!/usr/bin/env bash
# Runs both libFuzzer targets side by side for SECONDS each (default 60; the
# long mode: scripts/fuzz-run.sh 3600). Seeds: the good and bad documents
# of tests/data. Fails on a crash, a sanitizer report or a broken property;
# prints the executions of each target. The inputs that failed are kept in
# BUILD_DIR/crashes/ (the work directory is removed) and dumped in the
# output, so a CI failure can be reproduced:  BUILD_DIR/<target> <input>
#   scripts/fuzz-run.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${2:-$src/build-fuzz}
"$src/scripts/fuzz-build.sh" "$build" || exit $?
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/documents" "$work/packets" "$work/artifacts"
cp "$src"/tests/data/good/*.json "$src"/tests/data/bad/*.json "$work/documents/" 2>/dev/null || true
ls "$src"/tests/data/hostile/*.json 2>/dev/null | awk 'NR % 4 == 0' | xargs -r cp -t "$work/documents/"
# Copies the inputs libFuzzer wrote for $1 (crash-, leak-, timeout-, oom-)
# to $build/crashes/ before the work directory goes, and prints where they
# are, how to rerun them and an escaped dump of the start of each.
keep_artifacts() {
	local target=$1 artifact kept size
	for artifact in "$work/artifacts/$target"-{crash,leak,timeout,oom}-*; do
		[ -f "$artifact" ] || continue
		mkdir -p "$build/crashes"
		kept=$build/crashes/$(basename "$artifact")
		cp "$artifact" "$kept"
		size=$(wc -c <"$kept")
		echo "fuzz: $target: input kept in $kept ($size bytes); rerun: $build/$target $kept"
		# Escaped like `sed -n l`: \ooo for non-printable bytes, $ at each newline.
		head -c 1024 "$kept" | LC_ALL=C sed -n 'l 100' | head -40 | sed 's/^/fuzz:   | /' || true
		[ "$size" -le 1024 ] || echo "fuzz:   ... (first 1024 of $size bytes shown)"
	done
}

status=0
for target in fuzz_document fuzz_classify; do
	corpus=$work/documents
	[ "$target" = fuzz_classify ] && corpus=$work/packets
	(cd "$work" && "$build/$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" "$corpus" \
		>"$work/$target.log" 2>&1) &
	eval "pid_$target=$!"
done
for target in fuzz_document fuzz_classify; do
	eval "pid=\$pid_$target"
	if ! wait "$pid"; then
		status=1
		echo "fuzz: $target FAILED (log follows)"
		tail -40 "$work/$target.log"
	fi
	keep_artifacts "$target"
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$' || echo 0)
	echo "fuzz: $target: $runs executions in ${seconds}s"
done
exit $status
