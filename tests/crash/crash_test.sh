#!/usr/bin/env bash
# Crash safety of vaultwallctl apply.
#  1. Kill points: with the old policy applied, `vaultwallctl apply -f NEW` is
#     aborted after k map writes (VAULTWALL_TEST_ABORT_AFTER_WRITES=k) for
#     k = 0, 1, 2, ... until an apply completes. After each kill the kernel
#     must hold exactly the old or the new policy: `show` equals one of the
#     two normalised documents, `verify` passes (the maps equal what that
#     document compiles to), and probe verdicts (`explain`) are those of
#     that policy. Then a plain apply of the new policy converges.
#  2. Races: two vaultwallctl apply processes, one per policy, started
#     together 100 times; the final state is one of the two, never a mix.
#   crash_test.sh CTL LOADER SOURCE_DIR [RACES]
set -euo pipefail
ctl=$1 loader=$2 src=$3 races=${4:-100}
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIPPED: the crash test loads the XDP program and pins maps; run ctest as root"
	exit 77
fi
pin=/sys/fs/bpf/vwtest-crash-$$
work=$(mktemp -d)
trap 'rm -rf "$pin" "$work"' EXIT
old=$src/tests/crash/policy_old.json
new=$src/tests/crash/policy_new.json
vw() { "$ctl" --pin-dir "$pin" "$@"; }
# shellcheck source=../../scripts/lib/checks.sh
source "$src/scripts/lib/checks.sh"

"$loader" --pin-dir "$pin" load >/dev/null

# The normalised documents and probe verdicts of each policy, taken once.
probes=("203.0.113.200" "203.0.113.5" "52.1.2.3" "20.30.4.5" "40.1.2.3" "20.1.200.1" "20.2.0.1" "8.8.8.8")
probe_all() {
	for source in "${probes[@]}"; do
		# explain reads the kernel's rule ids; the generation differs between
		# applies of the same policy, so it is left out.
		vw explain "$source" --port 443 --destination 192.0.2.10 -o json 2>&1 | grep -v '"generation"' || true
	done
}
vw apply -f "$new" >/dev/null
vw show -o json >"$work/show-new"
probe_all >"$work/probe-new"
vw apply -f "$old" >/dev/null
vw show -o json >"$work/show-old"
probe_all >"$work/probe-old"
if cmp -s "$work/show-old" "$work/show-new"; then
	echo "FAIL: the two test policies must differ"; exit 1
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Which of the two policies the kernel holds: "old", "new" or "mix".
# With "quick", by its document only (verify then proves the maps match it).
held_policy() {
	vw show -o json >"$work/show-now" 2>&1 || { echo "mix"; return; }
	if [ "${1:-}" = quick ]; then
		cp "$work/probe-old" "$work/probe-now"
		cmp -s "$work/show-now" "$work/show-new" && cp "$work/probe-new" "$work/probe-now"
	else
		probe_all >"$work/probe-now"
	fi
	for which in old new; do
		if cmp -s "$work/show-now" "$work/show-$which" && cmp -s "$work/probe-now" "$work/probe-$which"; then
			echo "$which"; return
		fi
	done
	echo "mix"
}

kill_points=0 outcomes_old=0 outcomes_new=0
for k in $(seq 0 500); do
	vw apply -f "$old" >/dev/null
	set +e
	VAULTWALL_TEST_ABORT_AFTER_WRITES=$k "$ctl" --pin-dir "$pin" apply -f "$new" >"$work/out" 2>&1
	code=$?
	set -e
	held=$(held_policy)
	maps_in_sync vw >"$work/verify" 2>&1 || fail "k=$k: verify after the kill failed: $(cat "$work/verify")"
	case $held in
	old) outcomes_old=$((outcomes_old + 1)) ;;
	new) outcomes_new=$((outcomes_new + 1)) ;;
	*) fail "k=$k: the kernel holds neither policy (exit $code)"; diff "$work/show-now" "$work/show-new" | head -5 ;;
	esac
	if [ "$code" -eq 0 ]; then
		[ "$held" = new ] || fail "k=$k: apply succeeded but the kernel holds $held"
		echo "crash: apply completed with k=$k; $kill_points kill points tried (old policy after $outcomes_old, new after $((outcomes_new - 1)))"
		break
	fi
	kill_points=$((kill_points + 1))
	[ "$code" -eq 134 ] || fail "k=$k: expected an abort (134), got exit $code: $(head -3 "$work/out")"
	# The next apply converges.
	vw apply -f "$new" >/dev/null || fail "k=$k: the apply after the kill failed"
	[ "$(held_policy)" = new ] || fail "k=$k: the apply after the kill did not converge"
	maps_in_sync vw >/dev/null 2>&1 || fail "k=$k: verify after the converging apply failed"
done
[ "$kill_points" -ge 3 ] || fail "only $kill_points kill points: the abort hook does not cover the apply"

race_old=0 race_new=0
for i in $(seq 1 "$races"); do
	vw apply -f "$old" >"$work/race-a" 2>&1 &
	a=$!
	vw apply -f "$new" >"$work/race-b" 2>&1 &
	b=$!
	wait $a || fail "race $i: apply of the old policy failed: $(cat "$work/race-a")"
	wait $b || fail "race $i: apply of the new policy failed: $(cat "$work/race-b")"
	held=$(held_policy quick)
	case $held in
	old) race_old=$((race_old + 1)) ;;
	new) race_new=$((race_new + 1)) ;;
	*) fail "race $i: the final state is a mix" ;;
	esac
	maps_in_sync vw >/dev/null 2>&1 || fail "race $i: verify failed"
done
echo "crash: $races races of two applies: final state old $race_old times, new $race_new times, mixed 0"
[ "$failures" -eq 0 ] && echo "crash: 0 failures" || { echo "crash: $failures failures"; exit 1; }
