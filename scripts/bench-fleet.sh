#!/usr/bin/env bash
# bench-fleet.sh - fleet convergence: the time from `vaultwallctl fleet put`
# to every host enforcing the new policy, and what the fleet costs etcd.
# A benchmark, not a test: it reports and asserts nothing.
#
#   scripts/bench-fleet.sh [--quick] [--out FILE] [--no-render]   (root)
#
# Real agents (1, 10, 50 by default): each host is a pin directory with
# vaultwall loaded and its own vaultwall-agent; "enforcing" is seen from the
# kernel: vaultwall_bench_fleet_probe starts the put and sends a packet
# through every host's pinned program (BPF_PROG_TEST_RUN) until each gives
# the new verdict. Simulated agents (100, 1000): vaultwall_bench_fleet_sim,
# the agent's own sync code per host (reader, decisions, status writer, its
# own connections) with the kernel apply modelled as a sleep of the apply
# time a real agent took here alone. Everything shares this machine's 2 CPUs
# with a 3-member etcd cluster on 127.0.0.1: the figures are upper bounds.
#
# Writes bench/results/<UTC>-<commit>[-dirty][-quick]-fleet.json (or FILE),
# a plot beside it, and the fleet section of BENCHMARKS.md.
# Environment: BUILD_DIR (default build), REAL_SIZES, SIM_SIZES, ROUNDS,
# SIM_ROUNDS.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=lib/netns.sh
source scripts/lib/netns.sh
# shellcheck source=lib/etcd.sh
source scripts/lib/etcd.sh
# shellcheck source=lib/fleet.sh
source scripts/lib/fleet.sh

# shellcheck source=lib/options.sh
source scripts/lib/options.sh

quick=0 out="" render=1
vw_parse_options 2,22 --quick quick=1 --out out= --no-render render=0 -- "$@"
vw_require_root || exit 1
vw_require_bpffs
vw_require_commands etcd etcdctl jq python3 gnuplot || exit 1

if [ "$quick" = 1 ]; then
	real_sizes=${REAL_SIZES:-1 10} sim_sizes=${SIM_SIZES:-100} rounds=${ROUNDS:-5} sim_rounds=${SIM_ROUNDS:-3}
else
	real_sizes=${REAL_SIZES:-1 10 50} sim_sizes=${SIM_SIZES:-100 1000} rounds=${ROUNDS:-20} sim_rounds=${SIM_ROUNDS:-10}
fi
build_dir=${BUILD_DIR:-build}
cmake --build "$build_dir" -j2 --target vaultwall-agent vaultwallctl vaultwall-loader \
	vaultwall_bench_fleet_probe vaultwall_bench_fleet_sim >/dev/null
VW_AGENT=$build_dir/agent/vaultwall-agent
VW_CTL=$build_dir/ctl/vaultwallctl
VW_LOADER=$build_dir/loader/vaultwall-loader
probe=$build_dir/tests/bench/vaultwall_bench_fleet_probe
sim=$build_dir/tests/bench/vaultwall_bench_fleet_sim

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- . ':!bench/results' ':!BENCHMARKS.md' || commit+=-dirty
stamp=$(date -u +%Y%m%dT%H%M%SZ)
suffix=$([ "$quick" = 1 ] && echo -quick || true)
[ -n "$out" ] || out=bench/results/$stamp-$commit$suffix-fleet.json

VW_PREFIX=vwk$$
VW_FLEET_PIN_ROOT=/sys/fs/bpf/vwbench-fleet-$$
vw_sweep_stale vwk vwbench-fleet-
vw_mktemp_dir TMP
VW_FLEET_TMP=$TMP
VW_ETCD_DIR=$TMP/etcd
VW_ETCD_PROGRESS=5s
VW_FLEET_VAULT=kv-bench
# The agents' defaults, but a heartbeat short enough to be counted here.
VW_FLEET_AGENT_ARGS=(--heartbeat-interval 60)
vw_fleet_install_cleanup_trap
ulimit -n "$(ulimit -Hn)" # etcd: a connection per watch and per status writer, per host

log() { printf '%s\n' "$*" >&2; }

# etcd's members: RSS (KiB) and CPU seconds, summed.
etcd_usage() {
	local pid rss=0 cpu=0 ticks
	ticks=$(getconf CLK_TCK)
	for pid in "${VW_ETCD_PIDS[@]}"; do
		[ "$pid" -gt 0 ] || continue
		rss=$((rss + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
		cpu=$((cpu + $(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$pid/stat")))
	done
	printf '{"rss_kib": %d, "cpu_s": %s}' "$rss" "$(python3 -c "print($cpu / $ticks)")"
}

vw_etcd_start 3
etcd_pids=$(IFS=,; echo "${VW_ETCD_PIDS[*]}")
put() { "$VW_CTL" fleet put --endpoints "$VW_ETCD_ENDPOINTS" --vault "$VW_FLEET_VAULT" "$@"; }
allow_policy() { vw_fleet_policy "$1" 198.51.100.0/24 "203.0.113.$2"; }  # the probe source passes
deny_policy() { vw_fleet_policy "$1" 203.0.113.0/24 "198.18.$2.1"; }       # it is dropped

# ---- real agents ---------------------------------------------------------------------------
real_results=()
for n in $real_sizes; do
	log "real agents: $n"
	VW_FLEET_HOSTS=()
	allow_policy "$TMP/start.json" 1
	put -f "$TMP/start.json" >/dev/null
	before=$(etcd_usage)
	for ((i = 1; i <= n; i++)); do vw_fleet_host_add "$i" - >/dev/null; done
	for ((i = 1; i <= n; i++)); do vw_fleet_agent_start "$i"; done
	started=$(date +%s.%N)
	put -f "$TMP/start.json" --wait --timeout 120 >/dev/null 2>"$TMP/start.err" ||
		{ cat "$TMP/start.err" >&2; exit 1; }
	startup_ms=$(python3 -c "print(($(date +%s.%N) - $started) * 1000)")
	sleep 2
	connected=$(etcd_usage)
	pins=$(for i in "${VW_FLEET_HOSTS[@]}"; do printf '%s,' "${VW_FLEET_PIN[$i]}"; done)
	: >"$TMP/rounds-$n.jsonl"
	for ((r = 1; r <= rounds; r++)); do
		if [ $((r % 2)) = 1 ]; then
			deny_policy "$TMP/round.json" "$r"
			expect=drop
		else
			allow_policy "$TMP/round.json" "$r"
			expect=pass
		fi
		"$probe" --pins "${pins%,}" --source 198.51.100.20 --expect "$expect" --timeout 30 -- \
			"$VW_CTL" fleet put --endpoints "$VW_ETCD_ENDPOINTS" --vault "$VW_FLEET_VAULT" \
			-f "$TMP/round.json" --comment "bench round $r" >>"$TMP/rounds-$n.jsonl" 2>>"$TMP/probe.err" || true
		sleep 0.5
	done
	after=$(etcd_usage)
	# How long the agents' applies took (their log: decided, compiled, applied, verified).
	apply_ms=$(cat "$TMP"/agent-h*.log | sed -n 's/.*; applied in \([0-9.]*\) ms.*/\1/p' | jq -s -c .)
	real_results+=("$(jq -n --argjson n "$n" --argjson before "$before" --argjson connected "$connected" \
		--argjson after "$after" --argjson startup "$startup_ms" --argjson apply "$apply_ms" \
		--slurpfile rounds "$TMP/rounds-$n.jsonl" \
		'{hosts: $n, startup_ms: $startup, etcd_before: $before, etcd_connected: $connected,
		  etcd_after_rounds: $after, apply_ms: $apply, rounds: $rounds}')")
	vw_fleet_cleanup
	for i in "${VW_FLEET_HOSTS[@]}"; do rm -rf "${VW_FLEET_PIN[$i]}"; done
	rm -f "$TMP"/journal-h*.jsonl "$TMP"/agent-h*.log
done

# The model of the simulated agents' apply: what a real one took when it
# had the machine to itself (the smallest fleet; larger ones share 2 CPUs).
model_ms=$(printf '%s\n' "${real_results[@]}" | jq -s 'min_by(.hosts) | .apply_ms | sort | if length > 0 then .[length / 2 | floor] else 50 end')

# ---- simulated agents -------------------------------------------------------------------------
sim_results=()
for n in $sim_sizes; do
	log "simulated agents: $n (apply modelled as $model_ms ms +- 30%)"
	sim_results+=("$("$sim" --endpoints "$VW_ETCD_ENDPOINTS" --hosts "$n" --rounds "$sim_rounds" \
		--apply-ms "$model_ms" --apply-jitter 0.3 --etcd-pids "$etcd_pids" --work-dir "$TMP" \
		--heartbeat 60 --idle 10 2>>"$TMP/sim.err")")
done

# ---- the result -------------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
context=$(jq -n --arg commit "$commit" --arg date "$stamp" --arg kernel "$(uname -r)" \
	--arg cpu "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
	--arg cpus "$(nproc)" --arg load "$(cat /proc/loadavg)" \
	--arg etcd "$(etcd --version | awk '/etcd Version/ {print $3}')" --argjson quick "$quick" \
	'{commit: $commit, date: $date, kernel_release: $kernel, cpu_model: $cpu, cpus_online: ($cpus | tonumber),
	  loadavg_end: $load, etcd_version: $etcd, quick: ($quick == 1), members: 3,
	  progress_notify_interval: "5s"}')
printf '%s\n' "${real_results[@]}" | jq -s . >"$TMP/real.json"
printf '%s\n' "${sim_results[@]}" | jq -s . >"$TMP/sim.json"
jq -n --argjson context "$context" --slurpfile real "$TMP/real.json" --slurpfile sim "$TMP/sim.json" \
	--argjson model "$model_ms" \
	-c '{fleet: {context: $context, apply_model_ms: $model, real: $real[0], simulated: $sim[0]}}' >"$out"
log "wrote $out"
if [ "$render" = 1 ]; then
	python3 bench/tools/report.py fleet "$out" .
	log "BENCHMARKS.md: fleet section from $out"
fi
