#!/usr/bin/env bash
# Datapath benchmark alone: ns per packet through BPF_PROG_TEST_RUN for
# vaultwall on eight packet kinds at several rule sets, as ratios to an empty
# XDP program, a minimal LPM program and xdp-filter measured in the same run,
# plus cold-cache rule-trie lookups. (scripts/bench.sh runs every suite.)
#
# Builds vaultwall_bench_datapath if needed, runs it as root and writes
# bench/results/<date>-<commit>.json plus a Markdown summary (.md) next to
# it. Not a test: it reports figures and asserts nothing.
#
#   scripts/bench-datapath.sh            full run (7 rounds, repeat 1e6, up to 100k rules)
#   scripts/bench-datapath.sh --quick    under a minute (5 rounds, repeat 1e5, up to 10k rules)
#   scripts/bench-datapath.sh --ipv6     the IPv6 cells only matter here: tags:254 (254 IPv4
#                                        and 254 IPv6 rules, every service-tag prefix of both
#                                        families trusted), 7 rounds, repeat 1e6
#   scripts/bench-datapath.sh --flat     flat cost: VNET and public decisions at 1 to 100k rules and
#                                        1M /32 rules, each set's source index sized to what its
#                                        policy needs (vaultwall-loader load --index-chunks), 5 rounds
#   scripts/bench-datapath.sh --flat-default-index   1M /32 rules with the default index size
#   scripts/bench-datapath.sh -- --cpu 1 anything after -- goes to the binary
#
# Environment: BUILD_DIR (default build), NO_BUILD=1 to use the binary as is.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

rounds=7 repeat=1000000 sets=realistic:1,realistic:254,tags:254,realistic:10000,dense:10000,realistic:100000 suffix=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) rounds=5 repeat=100000 sets=realistic:1,tags:254,realistic:10000 suffix="-quick" ;;
    --ipv6) sets=tags:254 suffix="-ipv6" ;;
    --flat) rounds=5 sets=realistic:1,realistic:10000,realistic:100000,dense:1000000 suffix="-flat" ;;
    --flat-default-index) rounds=3 sets=dense:1000000 suffix="-flat-default-index" extra=(--default-index) ;;
    --) shift; break ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-datapath.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "bench-datapath.sh: needs root (BPF_PROG_TEST_RUN, bpffs pins); run it as root" >&2; exit 1; }
  exec sudo --preserve-env=BUILD_DIR,NO_BUILD "$0" ${suffix:+--${suffix#-}} -- "$@"
fi

build_dir=${BUILD_DIR:-build}
bin="$build_dir/tests/bench/vaultwall_bench_datapath"
if [ "${NO_BUILD:-0}" != 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" >/dev/null
  make -C "$build_dir" -j2 --no-print-directory vaultwall_bench_datapath >/dev/null
fi
[ -x "$bin" ] || { echo "bench-datapath.sh: $bin not found; build it or unset NO_BUILD" >&2; exit 1; }

# Read-only git queries: --no-optional-locks keeps status from rewriting the index.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git --no-optional-locks status --porcelain 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
out="bench/results/$(date -u +%Y%m%dT%H%M%SZ)-$commit$suffix.json"

# The binary removes its pin directory itself; this covers a killed binary.
pin_dir="/sys/fs/bpf/vaultwall-bench-$$"
trap 'rm -rf "$pin_dir"' EXIT

"$bin" --rounds "$rounds" --repeat "$repeat" --sets "$sets" --commit "$commit" \
  --pin-dir "$pin_dir" --out "$out" ${extra[@]+"${extra[@]}"} "$@"
