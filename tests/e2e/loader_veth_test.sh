#!/usr/bin/env bash
# loader_veth_test.sh - vaultwall-loader end to end on a veth pair, with real
# traffic, in namespaces this test creates and removes.
#
#   loader_veth_test.sh LOADER CTL NETNS_LIB
#
# Topology (documentation addresses only; traffic never leaves the namespaces):
#
#   ns <P>vault                          ns <P>cli
#   <P>v  192.0.2.10/24   <-- veth -->   <P>c  192.0.2.20/24
#         routes to the two sources            198.51.100.20/32 (allowed source)
#                                              203.0.113.20/32  (denied source)
#
# Policy: default deny, allow 198.51.100.20/32, protected ports tcp/8443
# (an HTTP server) and tcp/9443 (a byte sink for bulk uploads); tcp/22 is a
# management port and must stay reachable from everywhere.
# vaultwall is attached to <P>v, the vault's ingress.
#
# Sequence: load -> policy -> attach native -> checks -> detach -> attach
# generic -> checks -> reload (load again) -> pins reused, counters kept,
# still attached and enforcing -> detach --all --purge -> nothing enforces.
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 LOADER CTL NETNS_LIB" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"

vw_preflight ip nsenter curl ping ss python3 jq timeout mountpoint -- "$LOADER" "$CTL" || exit $?

VW_PREFIX=vwe$$
vw_client_vault_names
DATA_PORT=8443
SINK_PORT=9443
UPLOAD_BYTES=$((4 << 20))
MGMT_PORT=22
PIN_DIR=/sys/fs/bpf/vwtest-e2e-$$
DENY_WAIT=2  # seconds a denied connection attempt is given

vw_sweep_stale vwe vwtest-e2e-
vw_install_cleanup_trap

# check and fatal come from scripts/lib/checks.sh (sourced by netns.sh).

VW_LOADER=$LOADER VW_PIN_DIR=$PIN_DIR VW_CMD_TIMEOUT=30
loader() { vw_loader "$NS_VAULT" "$@"; }
refused() { ! "$@" >/dev/null 2>&1; }

# ---- traffic -------------------------------------------------------------
# HTTP GET from SOURCE to the vault's PORT; prints curl's exit code
# (0 = got a reply, 28 = timed out: SYN dropped, 7 = refused).
http_get_rc() {
	local source=$1 port=$2 rc
	vw_in_ns "$NS_CLI" timeout $((DENY_WAIT + 3)) curl -s -o /dev/null \
		--interface "$source" --connect-timeout "$DENY_WAIT" --max-time $((DENY_WAIT + 1)) \
		"http://$VAULT_IP:$port/"
	rc=$?
	echo "$rc"
}
connects() { [ "$(http_get_rc "$1" "$2")" = 0 ]; }
# Dropped, not refused: the SYN vanished, so the attempt timed out.
times_out() {
	local rc
	rc=$(http_get_rc "$1" "$2")
	[ "$rc" = 28 ] || { echo "  (curl exit code $rc, expected 28 = timeout)"; return 1; }
}
# Sends UPLOAD_BYTES from SOURCE to the sink, which answers with the count it
# received: proves large (GSO-sized) segments pass the program intact.
uploads() {
	local got
	got=$(vw_in_ns "$NS_CLI" timeout 15 python3 -c "$SEND_PY" "$VAULT_IP" "$SINK_PORT" "$1" "$UPLOAD_BYTES")
	[ "$got" = "$UPLOAD_BYTES" ] || { echo "  (sink received '${got}' bytes, expected $UPLOAD_BYTES)"; return 1; }
}
SINK_PY='
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
while True:
    c, _ = s.accept()
    c.settimeout(10)
    n = 0
    try:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            n += len(b)
        c.sendall(b"%d\n" % n)
    except OSError:
        pass
    c.close()
'
SEND_PY='
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3, source_address=(sys.argv[3], 0))
s.sendall(b"x" * int(sys.argv[4]))
s.shutdown(socket.SHUT_WR)
print(s.makefile().readline().strip())
'
pings() { vw_in_ns "$NS_CLI" timeout 5 ping -q -c 2 -i 0.2 -W 1 -I "$1" "$VAULT_IP" >/dev/null; }
# Forget cached neighbours, so the next packets start with ARP.
flush_arp() {
	ip -n "$NS_CLI" neigh flush dev "$IF_CLI" 2>/dev/null
	ip -n "$NS_VAULT" neigh flush dev "$IF_VAULT" 2>/dev/null
	return 0
}

# ---- counters and status ---------------------------------------------------
ctl() { vw_in_ns "$NS_VAULT" "$CTL" --pin-dir "$PIN_DIR" "$@"; }
snapshot() { ctl stats -o json >"$1"; }
# delta BEFORE AFTER CLASS [FIELD]: packets (or bytes) counted in CLASS
# between two snapshots.
delta() {
	jq -n --slurpfile a "$1" --slurpfile b "$2" --arg class "$3" --arg field "${4:-packets}" \
		'$b[0].classes[$class][$field] - $a[0].classes[$class][$field]'
}
delta_at_least() { local d; d=$(delta "$1" "$2" "$3"); [ "$d" -ge "$4" ] || { echo "  ($3 moved by $d, expected >= $4)"; return 1; }; }
delta_bytes_at_least() { local d; d=$(delta "$1" "$2" "$3" bytes); [ "$d" -ge "$4" ] || { echo "  ($3 bytes moved by $d, expected >= $4)"; return 1; }; }
delta_is() { local d; d=$(delta "$1" "$2" "$3"); [ "$d" -eq "$4" ] || { echo "  ($3 moved by $d, expected $4)"; return 1; }; }
# json FILE FILTER: the jq FILTER's result on FILE, compact.
json() { jq -c "$2" "$1"; }
status_json() { loader status -o json >"$1"; }
attached_mode() { # prints the XDP mode ip(8) reports for the vault interface
	local line
	line=$(ip -n "$NS_VAULT" -details link show dev "$IF_VAULT")
	case $line in
	*" xdpgeneric"*) echo generic ;;
	*" xdp "* | *" xdpdrv"*) echo native ;;
	*) echo none ;;
	esac
}

# The checks both attach modes must pass. $1 = mode name for the messages.
traffic_checks() {
	local mode=$1 s0 s1 s2 s3 s4 s5 s6
	s0=$TMP/$mode.0.json s1=$TMP/$mode.1.json s2=$TMP/$mode.2.json
	s3=$TMP/$mode.3.json s4=$TMP/$mode.4.json s5=$TMP/$mode.5.json s6=$TMP/$mode.6.json

	flush_arp
	snapshot "$s0"
	check "[$mode] allowed source $ALLOWED_IP reaches protected tcp/$DATA_PORT" connects "$ALLOWED_IP" "$DATA_PORT"
	snapshot "$s1"
	check "[$mode] ip_rule counter moved for the allowed connection" delta_at_least "$s0" "$s1" ip_rule 3
	check "[$mode] ARP counted as not_ip (passed)" delta_at_least "$s0" "$s1" not_ip 1
	check "[$mode] nothing denied during the allowed connection" delta_is "$s0" "$s1" default_deny 0

	check "[$mode] denied source $DENIED_IP cannot reach tcp/$DATA_PORT (dropped within ${DENY_WAIT}s)" times_out "$DENIED_IP" "$DATA_PORT"
	snapshot "$s2"
	check "[$mode] default_deny counter moved for the denied SYNs" delta_at_least "$s1" "$s2" default_deny 1
	check "[$mode] no ip_rule credit for the denied source" delta_is "$s1" "$s2" ip_rule 0

	check "[$mode] management tcp/$MGMT_PORT reachable from allowed source" connects "$ALLOWED_IP" "$MGMT_PORT"
	check "[$mode] management tcp/$MGMT_PORT reachable from denied source" connects "$DENIED_IP" "$MGMT_PORT"
	snapshot "$s3"
	check "[$mode] management traffic counted as unprotected" delta_at_least "$s2" "$s3" unprotected 6
	check "[$mode] management traffic not denied" delta_is "$s2" "$s3" default_deny 0

	flush_arp
	check "[$mode] ping from allowed source (ICMP unprotected, ARP passes)" pings "$ALLOWED_IP"
	check "[$mode] ping from denied source" pings "$DENIED_IP"
	snapshot "$s4"
	check "[$mode] pings counted as unprotected" delta_at_least "$s3" "$s4" unprotected 4
	check "[$mode] ARP after flush counted as not_ip" delta_at_least "$s3" "$s4" not_ip 1

	check "[$mode] 4 MiB upload from allowed source to protected tcp/$SINK_PORT arrives intact" uploads "$ALLOWED_IP"
	snapshot "$s5"
	check "[$mode] the upload's bytes are credited to ip_rule" delta_bytes_at_least "$s4" "$s5" ip_rule "$UPLOAD_BYTES"
	check "[$mode] denied source cannot upload to tcp/$SINK_PORT" refused uploads "$DENIED_IP"
	snapshot "$s6"
	check "[$mode] the denied upload's SYNs counted as default_deny" delta_at_least "$s5" "$s6" default_deny 1
	check "[$mode] no malformed packets in all this traffic" delta_is "$s0" "$s6" malformed 0
}

# ---- setup -------------------------------------------------------------------
vw_mktemp_dir TMP || fatal "create a temporary directory"
vw_register_pin_dir "$PIN_DIR"

vw_client_vault_up || fatal "namespaces $NS_VAULT and $NS_CLI, veth pair, client addresses"

mkdir -p "$TMP/www" && echo "vaultwall e2e" >"$TMP/www/index.html"
for port in "$DATA_PORT" "$MGMT_PORT"; do
	VW_BG_LOG=$TMP/http-$port.log vw_in_ns_bg "$NS_VAULT" \
		python3 -m http.server --bind "$VAULT_IP" --directory "$TMP/www" "$port"
	vw_wait_tcp_listen "$NS_VAULT" "$port" 10 || fatal "HTTP listener on tcp/$port"
done
VW_BG_LOG=$TMP/sink.log vw_in_ns_bg "$NS_VAULT" python3 -c "$SINK_PY" "$VAULT_IP" "$SINK_PORT"
vw_wait_tcp_listen "$NS_VAULT" "$SINK_PORT" 10 || fatal "byte sink on tcp/$SINK_PORT"

check "baseline (nothing attached): denied source reaches tcp/$DATA_PORT" connects "$DENIED_IP" "$DATA_PORT"

# ---- load, policy, attach native ---------------------------------------------
check "vaultwall-loader load" loader load
[ -d "$PIN_DIR" ] || fatal "pin directory $PIN_DIR was not created"
jq -n --arg allowed "$ALLOWED_IP" --arg data "tcp/$DATA_PORT" --arg sink "tcp/$SINK_PORT" '{
	networkAcls: {defaultAction: "Deny", bypass: "None", ipRules: [{value: $allowed}]},
	vaultwall: {dataPlane: {ports: [$data, $sink]}}}' >"$TMP/vault.json"
check "policy: default deny, allow $ALLOWED_IP, protect tcp/$DATA_PORT and tcp/$SINK_PORT" \
	ctl apply -f "$TMP/vault.json"
check "attach $IF_VAULT --mode native" loader attach "$IF_VAULT" --mode native
status_json "$TMP/status.native.json" || fatal "status -o json"
check "status reports $IF_VAULT attached in native mode" \
	test "$(json "$TMP/status.native.json" '.interfaces[0].mode')" = '"native"'
check "ip link shows native XDP on $IF_VAULT" test "$(attached_mode)" = native
check "attaching again is refused (already attached)" refused loader attach "$IF_VAULT" --mode native

traffic_checks native

# ---- detach, attach generic ----------------------------------------------------
check "detach $IF_VAULT" loader detach "$IF_VAULT"
check "no XDP program left on $IF_VAULT after detach" test "$(attached_mode)" = none
check "after detach: denied source reaches tcp/$DATA_PORT again" connects "$DENIED_IP" "$DATA_PORT"
check "attach $IF_VAULT --mode generic" loader attach "$IF_VAULT" --mode generic
status_json "$TMP/status.generic.json" || fatal "status -o json"
check "status reports $IF_VAULT attached in generic mode" \
	test "$(json "$TMP/status.generic.json" '.interfaces[0].mode')" = '"generic"'
check "ip link shows generic XDP on $IF_VAULT" test "$(attached_mode)" = generic

traffic_checks generic

# ---- reload -----------------------------------------------------------------------
snapshot "$TMP/before-reload.json"
status_json "$TMP/status.before-reload.json" || fatal "status -o json"
# A denied attempt in flight across the reload must stay dropped (no window).
(times_out "$DENIED_IP" "$DATA_PORT" >"$TMP/during-reload.out") &
during_reload_pid=$!
sleep 0.3
check "vaultwall-loader load again (reload)" loader load
wait "$during_reload_pid"
during_reload_rc=$?
check "a denied connection attempt during the reload stays dropped" test "$during_reload_rc" = 0
snapshot "$TMP/after-reload.json"
status_json "$TMP/status.after-reload.json" || fatal "status -o json"
B=$TMP/status.before-reload.json A=$TMP/status.after-reload.json
check "reload reuses every pinned map (same map ids)" \
	test "$(json "$B" '.maps | to_entries | sort')" = "$(json "$A" '.maps | to_entries | sort')"
check "reload loaded a new program (program id changed)" \
	test "$(json "$B" '.programId')" != "$(json "$A" '.programId')"
check "the interface stayed attached: same link, now running the new program" \
	test "$(json "$A" '[.interfaces[0].linkId, .interfaces[0].programId, .interfaces[0].mode]')" = \
	"[$(json "$B" '.interfaces[0].linkId'),$(json "$A" '.programId'),\"generic\"]"
check "policy survived the reload (same generation)" \
	test "$(json "$B" '[.activeSlot, .generation]')" = "$(json "$A" '[.activeSlot, .generation]')"
check "counters survived the reload (ip_rule not reset)" delta_at_least "$TMP/before-reload.json" "$TMP/after-reload.json" ip_rule 0
check "counters survived the reload (ip_rule > 0)" \
	test "$(json "$TMP/after-reload.json" '.classes.ip_rule.packets > 0')" = true
check "counters survived the reload (default_deny kept and grew)" \
	delta_at_least "$TMP/before-reload.json" "$TMP/after-reload.json" default_deny 1
check "after reload: allowed source reaches tcp/$DATA_PORT" connects "$ALLOWED_IP" "$DATA_PORT"
check "after reload: denied source is dropped on tcp/$DATA_PORT" times_out "$DENIED_IP" "$DATA_PORT"
snapshot "$TMP/after-reload-traffic.json"
check "after reload: the new program counts into the same maps" \
	delta_at_least "$TMP/after-reload.json" "$TMP/after-reload-traffic.json" ip_rule 3

# ---- detach --all --purge ------------------------------------------------------------
check "detach --all --purge" loader detach --all --purge
check "pin directory $PIN_DIR is gone" test ! -e "$PIN_DIR"
check "no XDP program left on $IF_VAULT" test "$(attached_mode)" = none
check "after purge: denied source reaches tcp/$DATA_PORT (nothing enforces)" connects "$DENIED_IP" "$DATA_PORT"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
