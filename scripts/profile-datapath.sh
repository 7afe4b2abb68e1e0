#!/usr/bin/env bash
# Where the datapath's nanoseconds go: perf samples every CPU while the
# datapath benchmark runs (tags:254: 254 IPv4 and 254 IPv6 rules, every
# service-tag prefix trusted; hot cache, all packet kinds), then gives each
# sample in vaultwall's program to the source line its machine code came
# from (the program's jited line info, read by vaultwall_jited_lines while
# the benchmark runs). Writes bench/results/<date>-<commit>-profile.txt: the
# benchmark's table, samples per function and the hottest source lines. The
# samples of all packet kinds are pooled: compare kinds with the benchmark's
# ns, and lines with each other. Not a test.
#
#   scripts/profile-datapath.sh            5 rounds x repeat 1e6
#   scripts/profile-datapath.sh --lines N  show the N hottest lines (default 40)
#
# Environment: BUILD_DIR (default build), NO_BUILD=1 to use the binaries as
# they are. Needs root and perf (installed with apt-get when missing).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

top_lines=40
while [ $# -gt 0 ]; do
  case "$1" in
    --lines) top_lines=${2:?--lines needs a number}; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile-datapath.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "profile-datapath.sh: needs root (perf -a, BPF); run it as root" >&2; exit 1; }
if ! command -v perf >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null
fi

build_dir=${BUILD_DIR:-build}
bench="$build_dir/tests/bench/vaultwall_bench_datapath"
lines_tool="$build_dir/tests/bench/vaultwall_jited_lines"
if [ "${NO_BUILD:-0}" != 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" >/dev/null
  make -C "$build_dir" -j2 --no-print-directory vaultwall_bench_datapath vaultwall_jited_lines >/dev/null
fi
for b in "$bench" "$lines_tool"; do
  [ -x "$b" ] || { echo "profile-datapath.sh: $b not found; build it or unset NO_BUILD" >&2; exit 1; }
done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git --no-optional-locks status --porcelain 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
stem="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$commit-profile"
work=$(mktemp -d)
pin_dir="/sys/fs/bpf/vaultwall-profile-$$"
trap 'rm -rf "$work" "$pin_dir"' EXIT

# The line map must be read while the program is loaded: wait (at most two
# minutes) for the benchmark to load it (a vaultwall_xdp newer than any
# program loaded before).
last_id=$(bpftool prog show | sed -n 's/^\([0-9]*\):.*/\1/p' | sort -n | tail -1)
snapshot_lines() {
  local id
  for _ in $(seq 240); do
    id=$(bpftool prog show | sed -n 's/^\([0-9]*\): xdp  name vaultwall_xdp .*/\1/p' |
      awk -v after="${last_id:-0}" '$1 > after' | tail -1)
    if [ -n "$id" ]; then
      "$lines_tool" "$id" > "$work/lines.tsv" && return 0
    fi
    sleep 0.5
  done
  echo "profile-datapath.sh: the benchmark did not load its program in time" >&2
  return 1
}
snapshot_lines &
snapshot=$!
perf record -q -a -F 4999 -o "$work/perf.data" -- \
  "$bench" --rounds 5 --repeat 1000000 --sets tags:254 --no-cold --no-xdp-filter \
  --commit "$commit" --pin-dir "$pin_dir" --out "$work/bench.json" > "$work/bench.log" 2>&1 ||
  { cat "$work/bench.log" >&2; exit 1; }
wait "$snapshot"

# Samples and line records merged by address (both 16 lowercase hex digits):
# each sample goes to the last record at or below it; "-" records end a
# function, and samples before the first record are outside the program.
perf script -i "$work/perf.data" -F ip 2>/dev/null | awk '{print $1}' | sort | uniq -c |
  awk '{printf "%016s\tS\t%d\n", $2, $1}' > "$work/samples.tsv"
awk -F'\t' '{printf "%s\tL\t%s\t%s\t%s\n", $1, $2, $3, $4}' "$work/lines.tsv" |
  sort -t$'\t' -k1,1 -k2,2 - "$work/samples.tsv" |
  awk -F'\t' -v top="$top_lines" '
    $2 == "L" { func_ = $3; where = $4; text = $5; next }
    { all += $3 }
    func_ != "" && func_ != "-" { by_func[func_] += $3; by_line[func_ "\t" where "\t" text] += $3; mine += $3 }
    END {
      printf "samples: %d in all, %d (%.1f%%) in vaultwall_xdp and its subprograms\n\n", all, mine, 100 * mine / (all ? all : 1)
      print "by function (share of the program'"'"'s samples):"
      for (f in by_func) printf "  %6.1f%%  %s\n", 100 * by_func[f] / mine, f | "sort -rn"
      close("sort -rn")
      printf "\nhottest source lines (share of the program'"'"'s samples; a sample lands just after the instruction it waited for):\n"
      for (l in by_line) printf "  %6.1f%%  %s\n", 100 * by_line[l] / mine, l | ("sort -rn | head -" top)
      close("sort -rn | head -" top)
    }' > "$work/profile.txt"

{
  echo "# Datapath profile ($commit, $(uname -r))"
  echo
  sed -n '/^| packet/,/^$/p' "$work/bench.md" | cut -d'|' -f1,2,4,7,8 | sed 's/$/|/'
  echo
  cat "$work/profile.txt"
} > "$stem.txt"
echo "profile: $stem.txt"
