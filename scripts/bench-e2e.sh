#!/usr/bin/env bash
# End-to-end benchmark on veth: one trafgen process (pinned to CPU 0) floods
# the vault namespace with TCP SYNs to :443 from random sources; veth runs
# the vault's receive path (NAPI) in softirq on the sending CPU, so CPU 0
# carries sender + receiver and nothing else of the benchmark.
# Compared, interleaved in every round: an XDP drop-all floor (native),
# vaultwall native, vaultwall generic and an nftables netdev-ingress chain
# with an interval set of the same rules, at each rule count.
#
# Metric: CPU 0 kernel time (system + irq + softirq jiffies of /proc/stat)
# per packet the vault veth handled (rx packets + rx dropped, XDP drops
# included); cross-checked with the hooks' own counters (vaultwall's class
# counters, nft's counter), both recorded. It includes the sender's kernel
# cost, equal in every configuration, so ratios of it understate the
# receiver's differences; "above floor" ratios subtract the XDP drop floor.
# The receiver's part is isolated by sampling CPU 0 (perf record -g,
# cpu-clock, from CPU 1): the share of its non-idle kernel samples under the
# receive softirq (net_rx_action) times the kernel time per packet is the
# receiver's CPU per packet, the target's metric. (Threaded NAPI would
# isolate it by CPU instead, but on this kernel a veth in threaded mode stops
# polling once native XDP is attached: 245 packets, then trafgen's TX ring
# stays full.) rp_filter 0, GRO on
# (veth's NAPI path without XDP), no conntrack rules: the same in every
# configuration and recorded.
#
#   scripts/bench-e2e.sh --out FILE [--quick]   (root; bounded: each run
#   lasts DURATION s, the whole script is killed by the caller's timeout)
#
# Environment: BUILD_DIR (default build), ROUNDS, DURATION, SIZES.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
# shellcheck source=lib/netns.sh
source scripts/lib/netns.sh

# shellcheck source=lib/options.sh
source scripts/lib/options.sh

out="" quick=0
vw_parse_options 2,20 --quick quick=1 --out out= -- "$@"
[ -n "$out" ] || { echo "bench-e2e.sh: --out FILE is required" >&2; exit 2; }
vw_require_root || exit 1
vw_require_bpffs
vw_require_commands trafgen nft ethtool taskset python3 jq perf || exit 1

if [ "$quick" = 1 ]; then
	rounds=${ROUNDS:-3} duration=${DURATION:-2} sizes=${SIZES:-254 10000}
else
	rounds=${ROUNDS:-5} duration=${DURATION:-4} sizes=${SIZES:-254 10000}
fi
build_dir=${BUILD_DIR:-build}
VW_LOADER=$build_dir/loader/vaultwall-loader
VW_CTL=$build_dir/ctl/vaultwallctl
drop_obj=$build_dir/tests/bench/bench_drop.bpf.o
for f in "$VW_LOADER" "$VW_CTL" "$drop_obj"; do
	[ -e "$f" ] || { echo "bench-e2e.sh: $f not built (make -C $build_dir vaultwall-loader vaultwallctl bench_drop_object)" >&2; exit 1; }
done
export VW_LOADER VW_CTL

VW_PREFIX=vwb$$
vw_sweep_stale vwb vwb-e2e-
vw_install_cleanup_trap
VW_PIN_DIR=/sys/fs/bpf/vwb-e2e-$$
export VW_PIN_DIR
vw_register_pin_dir "$VW_PIN_DIR"
gen=${VW_PREFIX}g dut=${VW_PREFIX}d G=${VW_PREFIX}G D=${VW_PREFIX}D
vw_ns_add "$gen"
vw_ns_add "$dut"
vw_veth_add "$gen" "$G" 192.0.2.20/24 "$dut" "$D" 192.0.2.10/24
vw_mktemp_dir work

# Same stack settings for every configuration.
vw_in_ns "$dut" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
	"net.ipv4.conf.$D.rp_filter=0"
vw_in_ns "$dut" ethtool -K "$D" gro on >/dev/null
stack=$(
	printf '{"rp_filter_all": %s, "rp_filter_iface": %s, "gro": "%s", "threaded_napi": %s, "conntrack_rules": %s, "sender_cpu": 0}' \
		"$(vw_in_ns "$dut" sysctl -n net.ipv4.conf.all.rp_filter)" \
		"$(vw_in_ns "$dut" sysctl -n "net.ipv4.conf.$D.rp_filter")" \
		"$(vw_in_ns "$dut" ethtool -k "$D" | awk '/generic-receive-offload/ {print $2}')" \
		"$(ip netns exec "$dut" cat "/sys/class/net/$D/threaded")" \
		"$(vw_in_ns "$dut" nft list ruleset | grep -c ' ct ' || true)"
)

dut_mac=$(ip -n "$dut" -j link show dev "$D" | jq -r ".[0].address")
gen_mac=$(ip -n "$gen" -j link show dev "$G" | jq -r ".[0].address")
# shellcheck disable=SC2086
python3 bench/tools/e2e_files.py "$work" "$D" "$dut_mac" "$gen_mac" $sizes

vw_loader "$dut" load >/dev/null
export VAULTWALL_JOURNAL=$work/journal

# ---- configurations -----------------------------------------------------------

current_size=""
use_size() { # apply the vaultwall policy of this size (only when it changes)
	[ "$current_size" = "$1" ] && return 0
	vw_ctl "$dut" apply -f "$work/doc-$1.json" >/dev/null 2>"$work/ctl.err" ||
		{ cat "$work/ctl.err" >&2; return 1; }
	current_size=$1
}

setup() { # CONFIG SIZE
	case "$1" in
	xdp_drop) ip -n "$dut" link set dev "$D" xdpdrv obj "$drop_obj" sec xdp ;;
	vaultwall_native) use_size "$2" && vw_loader "$dut" attach "$D" --mode native >/dev/null ;;
	vaultwall_generic) use_size "$2" && vw_loader "$dut" attach "$D" --mode generic >/dev/null ;;
	nft_set) vw_in_ns "$dut" nft -f "$work/nft-$2.nft" ;;
	esac
}

teardown() { # CONFIG
	case "$1" in
	xdp_drop) ip -n "$dut" link set dev "$D" xdpdrv off ;;
	vaultwall_*) vw_loader "$dut" detach "$D" >/dev/null ;;
	nft_set) vw_in_ns "$dut" nft delete table netdev vwbe ;;
	esac
}

hook_packets() { # CONFIG: packets the hook itself counted
	case "$1" in
	vaultwall_*) vw_ctl "$dut" stats -o json 2>/dev/null |
		jq '[.classes[]? | (.packets // 0)] | add // 0' 2>/dev/null || echo null ;;
	nft_set) vw_in_ns "$dut" nft -j list table netdev vwbe 2>/dev/null |
		jq '[.nftables[] | .rule? | select(.) | .expr[] | .counter? | select(.) | .packets] | add // 0' ;;
	*) echo null ;;
	esac
}

rx_handled() { # rx packets + rx dropped of the vault veth
	vw_in_ns "$dut" ip -s -j link show dev "$D" | jq '.[0].stats64.rx.packets + .[0].stats64.rx.dropped'
}

cpu_ticks() { # kernel (system + irq + softirq) and steal jiffies of cpu0
	awk '/^cpu0 / {print $4 + $7 + $8, $9}' /proc/stat
}

measure() { # CONFIG SIZE -> one JSON object
	local config=$1 size=$2 pid before_ns after_ns rx0 rx1 hook0 hook1 ticks0 ticks1 tx
	setup "$config" "$size"
	# A short burst brings the NAPI thread up (it exists while NAPI is enabled).
	vw_in_ns "$gen" timeout 2 taskset -c 0 trafgen -o "$G" -c "$work/flood.trafgen" -P 1 -n 2000 -C >/dev/null 2>&1 || true
	pid=""
	hook0=$(hook_packets "$config")
	rx0=$(rx_handled)
	ticks0=$(cpu_ticks)
	before_ns=0
	vw_in_ns "$gen" timeout -s INT "$duration" taskset -c 0 trafgen -o "$G" -c "$work/flood.trafgen" \
		-P 1 -C >"$work/trafgen.out" 2>&1 &
	local flood=$!
	# Samples of CPU 0 (perf itself runs on CPU 1) split its kernel time
	# between the receiver and the sender (bench/tools/e2e_rx_share.py).
	taskset -c 1 perf record -q -e cpu-clock -F 2000 -C 0 -g -o "$work/perf.data" \
		-- sleep "$duration" >/dev/null 2>&1 || true
	wait "$flood" || true
	sleep 0.2
	after_ns=0
	ticks1=$(cpu_ticks)
	rx1=$(rx_handled)
	hook1=$(hook_packets "$config")
	tx=$(vw_in_ns "$gen" ip -s -j link show dev "$G" | jq '.[0].stats64.tx.packets')
	teardown "$config"
	local share
	share=$(perf script -i "$work/perf.data" -F ip,sym 2>/dev/null | python3 bench/tools/e2e_rx_share.py)
	python3 - "$config" "$size" "$pid" "$before_ns" "$after_ns" "$rx0" "$rx1" "$hook0" "$hook1" \
		"$ticks0" "$ticks1" "$duration" "$tx" "$share" <<'EOF'
import json, os, sys
config, size, pid, b, a, rx0, rx1, h0, h1, t0, t1, dur, tx, share = sys.argv[1:]
share = json.loads(share)
packets = int(rx1) - int(rx0)
ns = int(a) - int(b)
hz = os.sysconf("SC_CLK_TCK")
busy0, steal0 = map(int, t0.split()); busy1, steal1 = map(int, t1.split())
hook = None if h0 == "null" or h1 == "null" else int(h1) - int(h0)
print(json.dumps({
    "config": config, "rules": int(size), "napi_pid": int(pid) if pid else None,
    "packets": packets, "pps": packets / float(dur),
    "hook_packets": hook,
    "cpu0_kernel_jiffies": busy1 - busy0,
    "cpu_ns_per_packet": (busy1 - busy0) * 1e9 / hz / packets if packets else None,
    "perf_samples": share,
    "receiver_share": share["receive"] / share["kernel"] if share["kernel"] else None,
    "receiver_ns_per_packet": ((busy1 - busy0) * 1e9 / hz / packets * share["receive"] / share["kernel"])
                              if packets and share["kernel"] else None,
    "steal_percent": 100.0 * (steal1 - steal0) / max(1, (busy1 - busy0) + (steal1 - steal0)),
}))
EOF
}

# ---- rounds ---------------------------------------------------------------------

configs=(xdp_drop vaultwall_native vaultwall_generic nft_set)
runs=()
for ((round = 0; round < rounds; round++)); do
	for size in $sizes; do
		order=("${configs[@]}")
		if ((round % 2 == 1)); then order=(nft_set vaultwall_generic vaultwall_native xdp_drop); fi
		for config in "${order[@]}"; do
			# The floor does not depend on the rule count, but measuring it next
			# to each size keeps every ratio's two sides close in time.
			r=$(measure "$config" "$size")
			r=$(jq -c --argjson round "$round" '. + {round: $round}' <<<"$r")
			runs+=("$r")
			jq -r '"round \(.round) \(.config) \(.rules): \(.pps|floor) pps, \(.cpu_ns_per_packet // "n/a") ns/pkt, receiver \(.receiver_ns_per_packet // "n/a") (hook \(.hook_packets // "-"))"' <<<"$r" >&2
		done
	done
done

printf '%s\n' "${runs[@]}" | jq -s '.' >"$work/runs.json"
python3 bench/tools/e2e_summary.py "$work/runs.json" "$stack" "$duration" "$rounds" \
	"$(trafgen -v 2>&1 | head -1)" "$(cat /proc/loadavg)" >"$out"
echo "bench-e2e.sh: results in $out" >&2
