#!/usr/bin/env bash
# What the readers cost as the trusted set grows: a Prometheus scrape
# (GET /metrics from `vaultwallctl metrics --listen`, timed by curl), and
# the whole commands `stats -o json`, `show` and `explain` (process start
# included), at 0, 4k and 25k trusted prefixes, each in a pin directory of
# its own. Sizes are measured interleaved (the order reversed every other
# round) and reported as the median per size and its ratio to 0 prefixes.
# A scrape, stats and show need no trie; explain needs the trusted
# prefixes that hold its source, not the whole trie.
#
#   scripts/bench-readers.sh [--rounds N] [--sizes 0,4000,25000] [--bin-dir DIR]
#
# --bin-dir runs other binaries (e.g. copies of an older build) than
# $BUILD_DIR (default build). Writes bench/results/<date>-<commit>-readers.json.
# Not a test: it reports and asserts nothing. Needs root (pins).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# shellcheck source=lib/options.sh
source scripts/lib/options.sh

rounds=15 sizes=0,4000,25000 bin_dir="" scrapes=5
vw_parse_options 2,14 --rounds rounds= --sizes sizes= --bin-dir bin_dir= -- "$@"
[ "$(id -u)" -eq 0 ] || { echo "bench-readers.sh: needs root (bpffs pins); run it as root" >&2; exit 1; }
command -v curl >/dev/null && command -v jq >/dev/null ||
	{ echo "bench-readers.sh: needs curl and jq (scripts/setup.sh installs them)" >&2; exit 1; }

if [ -z "$bin_dir" ]; then
	build_dir=${BUILD_DIR:-build}
	[ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" >/dev/null
	cmake --build "$build_dir" -j2 --target vaultwall-loader vaultwallctl >/dev/null
	loader="$build_dir/loader/vaultwall-loader" ctl="$build_dir/ctl/vaultwallctl"
else
	loader="$bin_dir/vaultwall-loader" ctl="$bin_dir/vaultwallctl"
fi

work=$(mktemp -d /tmp/vw-bench-readers.XXXXXX)
pins=() servers=()
cleanup() {
	local pid pin
	for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
	for pin in "${pins[@]}"; do "$loader" detach --all --purge --pin-dir "$pin" >/dev/null 2>&1 || rm -rf "$pin"; done
	rm -rf "$work"
}
trap cleanup EXIT
export VAULTWALL_JOURNAL="$work/journal.jsonl" VAULTWALL_RUN_DIR="$work/run"

# A Service Tags file with N public /24s (20.0.0.0/24, 20.0.1.0/24, ...) in
# one tag, and a document that trusts that tag.
write_policy() { # N DIR
	local n=$1 dir=$2
	awk -v n="$n" 'BEGIN {
		printf "{\"values\": [{\"name\": \"Bench\", \"id\": \"Bench\", \"properties\": {\"addressPrefixes\": ["
		for (i = 0; i < n; i++) printf "%s\"20.%d.%d.0/24\"", (i ? "," : ""), int(i / 256), i % 256
		printf "]}}]}\n" }' >"$dir/tags.json"
	jq -n --arg tags "$dir/tags.json" '{
		properties: {networkAcls: {defaultAction: "Deny", bypass: "AzureServices",
			ipRules: [{value: "198.51.100.0/24"}]}},
		vaultwall: {profile: "akv-current", trustedServices: {serviceTags: $tags, services: ["Bench"]}}}' \
		>"$dir/vault.json"
}

IFS=, read -r -a size_list <<<"$sizes"
port=$((20000 + $$ % 20000))
declare -A url
for n in "${size_list[@]}"; do
	dir="$work/$n" pin="/sys/fs/bpf/vwbench-readers-$n-$$"
	mkdir -p "$dir"
	write_policy "$n" "$dir"
	pins+=("$pin")
	"$loader" load --pin-dir "$pin" >/dev/null
	"$ctl" apply -f "$dir/vault.json" --pin-dir "$pin" >/dev/null
	"$ctl" metrics --listen "127.0.0.1:$port" --pin-dir "$pin" 2>/dev/null &
	servers+=($!)
	url[$n]="http://127.0.0.1:$port/metrics"
	port=$((port + 1))
done
for n in "${size_list[@]}"; do # the servers are up once they answer
	for _ in $(seq 50); do curl -sf -o /dev/null "${url[$n]}" && break; sleep 0.1; done
done

now_ns() { date +%s%N; }
declare -A scrape stats show explain # size -> space-separated ms samples
time_ms() { # COMMAND...: prints how long it ran
	local start
	start=$(now_ns)
	"$@" >/dev/null
	awk -v a="$start" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'
}
for round in $(seq "$rounds"); do
	order=("${size_list[@]}")
	if [ $((round % 2)) -eq 0 ]; then
		order=()
		for ((i = ${#size_list[@]} - 1; i >= 0; i--)); do order+=("${size_list[$i]}"); done
	fi
	for n in "${order[@]}"; do
		for _ in $(seq "$scrapes"); do
			t=$(curl -sf -o /dev/null -w '%{time_total}' "${url[$n]}")
			scrape[$n]+="$(awk -v t="$t" 'BEGIN { printf "%.3f", t * 1000 }') "
		done
		pin="/sys/fs/bpf/vwbench-readers-$n-$$"
		stats[$n]+="$(time_ms "$ctl" stats -o json --pin-dir "$pin") "
		show[$n]+="$(time_ms "$ctl" show --pin-dir "$pin") "
		explain[$n]+="$(time_ms "$ctl" explain 20.0.3.9 --pin-dir "$pin") "
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git --no-optional-locks status --porcelain 2>/dev/null)" ] || commit="$commit-dirty"
[ -z "$bin_dir" ] || commit="$commit-bin"
mkdir -p bench/results
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$commit-readers.json"
rows=()
printf '%-8s %-9s %10s %7s\n' READER PREFIXES "MEDIAN ms" RATIO
for reader in scrape stats show explain; do
	declare -n samples=$reader
	base=$(median <<<"${samples[${size_list[0]}]}")
	for n in "${size_list[@]}"; do
		m=$(median <<<"${samples[$n]}")
		ratio=$(awk -v a="$m" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
		printf '%-8s %-9s %10s %7s\n' "$reader" "$n" "$m" "$ratio"
		rows+=("$(jq -n --arg r "$reader" --argjson n "$n" --argjson m "$m" --argjson ratio "$ratio" \
			'{reader: $r, trustedPrefixes: $n, medianMs: $m, ratioToFirst: $ratio}')")
	done
	unset -n samples
done
printf '%s\n' "${rows[@]}" | jq -s --arg commit "$commit" --arg loadavg "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--argjson rounds "$rounds" --argjson scrapes "$scrapes" \
	'{benchmark: "readers", commit: $commit, rounds: $rounds, scrapesPerRound: $scrapes, loadavg: $loadavg, results: .}' >"$out"
echo "results: $out"
