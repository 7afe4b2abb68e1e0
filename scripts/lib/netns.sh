# shellcheck shell=bash
# netns.sh - helpers for tests and demos that build throwaway network
# namespaces joined by veth pairs, run vaultwall inside them, and remove
# everything they made. Source it; do not execute it.
#
#   source scripts/lib/netns.sh
#   vw_require_root || exit 77
#   vw_require_bpffs
#   VW_PREFIX=vwe$$            # unique per run (namespaces, interfaces)
#   vw_sweep_stale vwe vwtest-e2e-   # leftovers of earlier killed runs
#   vw_install_cleanup_trap    # trap EXIT INT TERM -> vw_cleanup
#   VW_PIN_DIR=/sys/fs/bpf/vwtest-e2e-$$; vw_register_pin_dir "$VW_PIN_DIR"
#   vw_ns_add "${VW_PREFIX}vault"; vw_ns_add "${VW_PREFIX}cli"
#   vw_veth_add "${VW_PREFIX}vault" "${VW_PREFIX}v" 192.0.2.10/24 \
#               "${VW_PREFIX}cli"   "${VW_PREFIX}c" 192.0.2.20/24
#   vw_loader "${VW_PREFIX}vault" load
#   vw_loader "${VW_PREFIX}vault" attach "${VW_PREFIX}v" --mode native
#   vw_in_ns "${VW_PREFIX}cli" curl --max-time 3 http://192.0.2.10:8443/
#
# Why nsenter and not `ip netns exec`: the latter remounts /sys for the
# namespace, which hides /sys/fs/bpf and with it every pin. `nsenter --net`
# changes only the network namespace, so the loader sees the host's bpffs
# and the namespace's interfaces.
#
# Everything created through these helpers is recorded and removed by
# vw_cleanup, in reverse dependency order: background processes, pin
# directories (which detaches pinned XDP links), host-side links, namespaces
# (which removes their veths), temporary directories.

VW_PREFIX=${VW_PREFIX:-vw$$}
VW_CREATED_NS=()
VW_CREATED_LINKS=()  # links made in the host namespace
VW_CREATED_PINS=()
VW_CREATED_TMP=()
VW_STARTED_PIDS=()

vw_log() { printf '%s\n' "$*" >&2; }

# Returns 1 (and says why) unless running as root; callers turn that into
# their skip code, e.g. `vw_require_root || exit 77`.
vw_require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		vw_log "SKIP: needs root (creates network namespaces and loads XDP programs)"
		return 1
	fi
}

# Makes sure bpffs is mounted at /sys/fs/bpf (mounts it when missing).
vw_require_bpffs() {
	if mountpoint -q /sys/fs/bpf && [ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ]; then
		return 0
	fi
	vw_log "bpffs is not mounted at /sys/fs/bpf; mounting it"
	mount -t bpf bpf /sys/fs/bpf
}

# Fails unless every named command exists.
vw_require_commands() {
	local missing=() c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
	if [ ${#missing[@]} -gt 0 ]; then
		vw_log "missing commands: ${missing[*]} (run scripts/setup.sh)"
		return 1
	fi
}

# Fails unless every named file is an executable (the binaries under test).
vw_require_executables() {
	local bin
	for bin in "$@"; do
		[ -x "$bin" ] || { vw_log "not executable: $bin (build it first)"; return 1; }
	done
}

# vw_preflight COMMAND... [-- EXECUTABLE...]: what a test needs before it
# starts: root (else returns 77, the skip code), the commands and the
# binaries under test (else 1), bpffs (mounted when missing). Use:
#   vw_preflight ip nsenter jq -- "$LOADER" "$CTL" || exit $?
vw_preflight() {
	local commands=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		commands+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	vw_require_root || return 77
	vw_require_commands "${commands[@]}" && vw_require_executables "$@" && vw_require_bpffs || return 1
}

# Interface names are limited to 15 characters (IFNAMSIZ - 1).
vw_check_ifname() {
	if [ ${#1} -gt 15 ] || [ -z "$1" ]; then
		vw_log "interface name '$1' is empty or longer than 15 characters"
		return 1
	fi
}

# Creates a namespace with loopback up; recorded for cleanup.
vw_ns_add() {
	local ns=$1
	ip netns add "$ns" || return 1
	VW_CREATED_NS+=("$ns")
	ip -n "$ns" link set lo up
}

# Runs a command in a namespace's network stack, keeping the host's mounts
# (so /sys/fs/bpf stays visible).
vw_in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# vw_loader NS ARGS... / vw_ctl NS ARGS...: vaultwall's binaries inside a
# namespace, against $VW_PIN_DIR (default /sys/fs/bpf/vaultwall), killed
# after $VW_CMD_TIMEOUT seconds (default 60). Set VW_LOADER / VW_CTL to the
# binaries' paths when they are not on PATH.
vw_loader() {
	local ns=$1
	shift
	vw_in_ns "$ns" timeout "${VW_CMD_TIMEOUT:-60}" "${VW_LOADER:-vaultwall-loader}" --pin-dir "${VW_PIN_DIR:-/sys/fs/bpf/vaultwall}" "$@"
}
vw_ctl() {
	local ns=$1
	shift
	vw_in_ns "$ns" timeout "${VW_CMD_TIMEOUT:-60}" "${VW_CTL:-vaultwallctl}" --pin-dir "${VW_PIN_DIR:-/sys/fs/bpf/vaultwall}" "$@"
}

# Starts a command in a namespace in the background; its pid is recorded and
# killed by vw_cleanup. Sets VW_LAST_PID. Output goes to the file in $VW_BG_LOG
# (default /dev/null).
vw_in_ns_bg() {
	local ns=$1
	shift
	# nsenter without --fork execs the command, so $! is the command itself.
	nsenter --net="/run/netns/$ns" -- "$@" >"${VW_BG_LOG:-/dev/null}" 2>&1 </dev/null &
	VW_LAST_PID=$!
	VW_STARTED_PIDS+=("$VW_LAST_PID")
}

# vw_veth_add NS_A IF_A ADDR_A NS_B IF_B ADDR_B
# Creates a veth pair with one end in each namespace ("" or "-" = host
# namespace), assigns the addresses (CIDR; "-" for none), disables IPv6 on
# both ends (no router solicitations or DAD noise in counters) and brings
# them up.
vw_veth_add() {
	local ns_a=$1 if_a=$2 addr_a=$3 ns_b=$4 if_b=$5 addr_b=$6
	vw_check_ifname "$if_a" && vw_check_ifname "$if_b" || return 1
	ip link add "$if_a" type veth peer name "$if_b" || return 1
	# Recorded before moving: if anything below fails, cleanup still finds it.
	VW_CREATED_LINKS+=("$if_a")
	if [ -n "$ns_a" ] && [ "$ns_a" != - ]; then ip link set "$if_a" netns "$ns_a" || return 1; fi
	if [ -n "$ns_b" ] && [ "$ns_b" != - ]; then ip link set "$if_b" netns "$ns_b" || return 1; fi
	_vw_iface_setup "$ns_a" "$if_a" "$addr_a" && _vw_iface_setup "$ns_b" "$if_b" "$addr_b"
}

_vw_ns_ip() {
	local ns=$1
	shift
	if [ -n "$ns" ] && [ "$ns" != - ]; then ip -n "$ns" "$@"; else ip "$@"; fi
}

_vw_iface_setup() {
	local ns=$1 ifname=$2 addr=$3
	local sysctl_key="net.ipv6.conf.${ifname}.disable_ipv6"
	if [ -n "$ns" ] && [ "$ns" != - ]; then
		vw_in_ns "$ns" sysctl -qw "$sysctl_key=1" || return 1
	else
		sysctl -qw "$sysctl_key=1" || return 1
	fi
	if [ -n "$addr" ] && [ "$addr" != - ]; then
		_vw_ns_ip "$ns" addr add "$addr" dev "$ifname" || return 1
	fi
	_vw_ns_ip "$ns" link set "$ifname" up
}

# Adds one more address to an interface in a namespace (e.g. a second
# client source address): vw_addr_add NS IFACE CIDR
vw_addr_add() { _vw_ns_ip "$1" addr add "$3" dev "$2"; }

# Adds a route in a namespace: vw_route_add NS PREFIX dev IFACE ...
vw_route_add() {
	local ns=$1
	shift
	_vw_ns_ip "$ns" route add "$@"
}

# vw_workspace: a temporary directory TMP, this run's change journal in it
# (never the host's /var/lib/vaultwall), and PIN_DIR registered: both
# removed by vw_cleanup.
vw_workspace() {
	vw_mktemp_dir TMP || return 1
	export VAULTWALL_JOURNAL=$TMP/journal.jsonl
	vw_register_pin_dir "$PIN_DIR"
}

# Records a pin directory for removal by vw_cleanup.
vw_register_pin_dir() { VW_CREATED_PINS+=("$1"); }

# vw_mktemp_dir VAR: makes a temporary directory, recorded for cleanup, and
# stores its path in VAR. (Not `dir=$(vw_mktemp_dir)`: a command
# substitution runs in a subshell, and the record would be lost.)
vw_mktemp_dir() {
	local d
	d=$(mktemp -d "/tmp/${VW_PREFIX}.XXXXXX") || return 1
	VW_CREATED_TMP+=("$d")
	printf -v "$1" '%s' "$d"
}

# Waits (bounded: at most TIMEOUT seconds, default 5) until a TCP listener
# on PORT exists in NS.
vw_wait_tcp_listen() {
	local ns=$1 port=$2 timeout_s=${3:-5} i
	for ((i = 0; i < timeout_s * 10; i++)); do
		if vw_in_ns "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	vw_log "no TCP listener on port $port in namespace $ns after ${timeout_s}s"
	return 1
}

# Prints {"source address": packets, ...} for every rule of an nftables
# table in NS that matches `ip saddr` and has a counter (receiver-side
# counts per source): vw_nft_counts_by_source NS TABLE   (family ip)
vw_nft_counts_by_source() {
	vw_in_ns "$1" nft -j list table ip "$2" | jq -c '[.nftables[].rule // empty
		| ([.expr[].match // empty | select(.left.payload.field? == "saddr") | .right] | last) as $saddr
		| ([.expr[].counter // empty | .packets] | last) as $packets
		| select($saddr != null and $packets != null) | {($saddr): $packets}] | add // {}'
}

# Removes leftovers of earlier runs that were killed before their trap ran
# (e.g. by a ctest timeout): namespaces named PREFIX<pid>... (and the
# processes still inside them), temporary dirs /tmp/PREFIX<pid>.* and pin
# dirs /sys/fs/bpf/PINPREFIX<pid>, whose pid no longer exists.
# vw_sweep_stale NS_PREFIX PIN_PREFIX   e.g. vw_sweep_stale vwe vwtest-e2e-
vw_sweep_stale() {
	local ns_prefix=$1 pin_prefix=$2 ns pid dir
	while read -r ns _; do
		[[ $ns =~ ^${ns_prefix}([0-9]+) ]] || continue
		pid=${BASH_REMATCH[1]}
		[ -d "/proc/$pid" ] && continue
		vw_log "removing stale namespace $ns (pid $pid is gone)"
		# Servers that run was running in its namespace were orphaned with it.
		local orphan
		for orphan in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$orphan" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done < <(ip netns list 2>/dev/null)
	for dir in /tmp/"$ns_prefix"[0-9]*.*; do
		[ -d "$dir" ] || continue
		[[ ${dir##*/} =~ ^${ns_prefix}([0-9]+)\. ]] || continue
		[ -d "/proc/${BASH_REMATCH[1]}" ] && continue
		rm -rf "$dir" || true
	done
	for dir in /sys/fs/bpf/"$pin_prefix"*; do
		[ -d "$dir" ] || continue
		[[ ${dir##*/} =~ ^${pin_prefix}([0-9]+)$ ]] || continue
		pid=${BASH_REMATCH[1]}
		[ -d "/proc/$pid" ] && continue
		vw_log "removing stale pin directory $dir (pid $pid is gone)"
		rm -rf "$dir" || true
	done
}

# Removes everything the helpers above created. Idempotent; safe to call
# from a trap at any point of a half-built setup.
vw_cleanup() {
	local pid dir link ns i
	for pid in "${VW_STARTED_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${VW_STARTED_PIDS[@]}"; do
		# Bounded: a process that ignores SIGTERM gets SIGKILL after ~2 s.
		for ((i = 0; i < 20; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	VW_STARTED_PIDS=()
	# Removing the pins drops the last reference to each XDP link: detached.
	for dir in "${VW_CREATED_PINS[@]}"; do
		[ -e "$dir" ] && rm -rf "$dir"
	done
	VW_CREATED_PINS=()
	for link in "${VW_CREATED_LINKS[@]}"; do
		# Only present in the host namespace when setup failed half-way.
		ip link show dev "$link" >/dev/null 2>&1 && ip link del "$link" 2>/dev/null
	done
	VW_CREATED_LINKS=()
	for ns in "${VW_CREATED_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	VW_CREATED_NS=()
	for dir in "${VW_CREATED_TMP[@]}"; do
		rm -rf "$dir"
	done
	VW_CREATED_TMP=()
	return 0
}

# Runs vw_cleanup on normal exit, on failure, and on Ctrl-C / SIGTERM
# (then exits 130 / 143).
vw_install_cleanup_trap() {
	trap 'vw_cleanup' EXIT
	trap 'vw_cleanup; trap - EXIT; exit 130' INT
	trap 'vw_cleanup; trap - EXIT; exit 143' TERM
}

# vw_begin_vault_test NS_PREFIX PIN_PREFIX: how every vault test starts —
# leftovers of dead runs swept, the cleanup trap installed, and `loader` and
# `ctl` running $LOADER and $CTL in $NS_VAULT on the test's $PIN_DIR.
vw_begin_vault_test() {
	vw_sweep_stale "$1" "$2"
	vw_install_cleanup_trap
	VW_LOADER=$LOADER VW_CTL=${CTL:-} VW_PIN_DIR=$PIN_DIR VW_CMD_TIMEOUT=30
	loader() { vw_loader "$NS_VAULT" "$@"; }
	ctl() { vw_ctl "$NS_VAULT" "$@"; }
}

# vw_start_flood NAME MAX_SECONDS SOURCE...: the datagram generator ($FLOOD)
# in $NS_CLI, sending to $VAULT_IP:$PORT at $RATE/s from the SOURCEs until
# vw_stop_flood NAME (or MAX_SECONDS); its JSON report lands in $TMP/NAME.json.
vw_start_flood() {
	local name=$1 max=$2
	shift 2
	rm -f "$TMP/$name.stop"
	VW_BG_LOG=$TMP/$name.json vw_in_ns_bg "$NS_CLI" python3 "$FLOOD" "$VAULT_IP" "$PORT" "$RATE" "$max" \
		"$TMP/$name.stop" "$@"
	FLOOD_PID=$VW_LAST_PID
}
# vw_stop_flood NAME: stops it (bounded wait) and fails unless it reported.
vw_stop_flood() {
	local name=$1 i
	touch "$TMP/$name.stop"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$FLOOD_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$FLOOD_PID" 2>/dev/null
	jqf '$j[0].sent' "$TMP/$name.json" >/dev/null 2>&1 || { sed 's/^/  | /' "$TMP/$name.json"; return 1; }
}

# vw_demo_prepare NAME TARGET...: how a demo starts (from the repository's
# root) — root or an exit, the project's packages (scripts/setup.sh), and
# TARGETs built in build/.
vw_demo_prepare() {
	local name=$1
	shift
	if [ "$(id -u)" -ne 0 ]; then
		echo "$name: run as root (it creates network namespaces and loads XDP programs)" >&2
		exit 1
	fi
	scripts/setup.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j "$(nproc)" --target "$@" >/dev/null
}

# PASS/FAIL bookkeeping for test scripts.
# shellcheck source=checks.sh
source "${BASH_SOURCE[0]%/*}/checks.sh"

# ---- the client/vault topology the end-to-end tests share -----------------

# vw_client_vault_names: from VW_PREFIX, sets NS_VAULT NS_CLI IF_VAULT IF_CLI
# and the addresses VAULT_IP CLI_IP ALLOWED_IP DENIED_IP (TEST-NET ranges).
# vw_flip_active_slot PIN_DIR: flips vw_active.slot behind vaultwallctl's
# back with bpftool (what a tampering root or a stray tool could do).
vw_flip_active_slot() {
	python3 - "$1/vw_active" <<'PY'
import json, subprocess, sys
pin = sys.argv[1]
value = json.loads(subprocess.check_output(["bpftool", "-j", "map", "lookup", "pinned", pin, "key", "0", "0", "0", "0"]))["value"]
value[0] = hex(int(value[0], 16) ^ 1)
subprocess.check_call(["bpftool", "map", "update", "pinned", pin, "key", "0", "0", "0", "0", "value"] + value)
PY
}

vw_client_vault_names() {
	NS_VAULT=${VW_PREFIX}vault NS_CLI=${VW_PREFIX}cli
	IF_VAULT=${VW_PREFIX}v IF_CLI=${VW_PREFIX}c
	VAULT_IP=192.0.2.10 CLI_IP=192.0.2.20
	ALLOWED_IP=198.51.100.20 DENIED_IP=203.0.113.20
}

# vw_client_vault_up: creates both namespaces and the veth pair between
# them; the client also holds ALLOWED_IP and DENIED_IP, routed back from
# the vault, so it can connect from either source. Everything is registered
# for the cleanup trap.
vw_client_vault_up() {
	vw_ns_add "$NS_VAULT" && vw_ns_add "$NS_CLI" || return 1
	vw_client_vault_link
}

# vw_client_vault_link: the veth pair between the two namespaces, with the
# client's sources and their routes (again, e.g. after the vault's end was
# deleted).
vw_client_vault_link() {
	vw_veth_add "$NS_VAULT" "$IF_VAULT" "$VAULT_IP/24" "$NS_CLI" "$IF_CLI" "$CLI_IP/24" || return 1
	local src
	for src in "$ALLOWED_IP" "$DENIED_IP"; do
		vw_addr_add "$NS_CLI" "$IF_CLI" "$src/32" || return 1
		vw_route_add "$NS_VAULT" "$src/32" dev "$IF_VAULT" || return 1
	done
}
