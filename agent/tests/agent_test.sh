#!/usr/bin/env bash
# agent_test.sh - vaultwall-agent keeps named interfaces covered, with real
# interfaces and real traffic, in namespaces this test creates and removes.
#
#   agent_test.sh AGENT LOADER VAULTWALLCTL NETNS_LIB DATA_DIR UDP_FLOOD
#
# Topology (documentation addresses; traffic never leaves the namespaces):
#
#   ns <P>vault                               ns <P>cli
#   <P>v  192.0.2.10/24  <-- veth -->  <P>p in bridge br0: 192.0.2.20/24,
#     (fixed MAC, as a NIC keeps its own       198.51.100.1 (allowed by data/swap-a.json)
#      across a driver reload)                 203.0.113.4  (denied)
#   <P>l  created later (veth <P>l/<P>m)
#
# The client's addresses live on the bridge, so they survive the vault
# link's deletion and the generator (udp_flood.py) keeps sending. nftables
# in the vault namespace counts, per source, the UDP/443 datagrams that got
# past XDP (prerouting, priority -300) and drops them there.
#
# Checks: the agent signals READY=1 (to a notification socket standing in
# for systemd) once every interface is covered or reported missing, and
# pings its watchdog; a second agent on the pin directory exits non-zero
# with a clear message; an interface created after the start is attached
# within 1 s; link down/up detaches nothing and repairs nothing; the vault
# link deleted and re-created under a flood: the program is back within 1 s
# (printed) and from then on 0 denied datagrams are delivered while allowed
# ones flow; a deleted link pin is re-attached by the periodic check; a
# foreign XDP program is reported and left alone, then replaced once it is
# removed; an interface renamed away keeps its link (the pin follows it)
# while a new one under the name is attached and the stored policy is
# re-applied so the segment on it binds to the new link; kill -9 detaches
# nothing; SIGTERM stops it cleanly, nothing detached.
#
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 6 ] || { echo "usage: $0 AGENT LOADER VAULTWALLCTL NETNS_LIB DATA_DIR UDP_FLOOD" >&2; exit 2; }
AGENT=$1 LOADER=$2 CTL=$3
# shellcheck source=../../scripts/lib/netns.sh
source "$4"
DATA=$5 FLOOD=$6

vw_preflight ip nft nsenter python3 jq timeout mountpoint -- "$AGENT" "$LOADER" "$CTL" || exit $?

VW_PREFIX=vwa$$
NS_VAULT=${VW_PREFIX}vault NS_CLI=${VW_PREFIX}cli
IF_VAULT=${VW_PREFIX}v IF_PEER=${VW_PREFIX}p IF_LATE=${VW_PREFIX}l IF_LATE_PEER=${VW_PREFIX}m
VAULT_MAC=02:00:c0:00:02:0a
VAULT_IP=192.0.2.10 CLI_IP=192.0.2.20
SRC_ALLOWED=198.51.100.1 SRC_DENIED=203.0.113.4
PORT=443
RATE=${VW_AGENT_RATE:-3000} # datagrams per second, both sources together
PIN_DIR=/sys/fs/bpf/vwtest-agent-$$
# The agent's lock for this pin directory (see instance_lock.h for the escaping).
AGENT_LOCK=/run/vaultwall/agent.sys-fs-bpf-vwtest_2dagent_2d$$.lock
FOREIGN_XDP=/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o # xdp-tools: passes everything
REPAIR_LIMIT_MS=1000

vw_begin_vault_test vwa vwtest-agent-
trap 'vw_cleanup; rm -f "$AGENT_LOCK"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- what the kernel runs, and what the agent did ------------------------------------
xdp_prog_on() { # the XDP program id on an interface of the vault namespace, or 0
	local id
	id=$(ip -n "$NS_VAULT" link show dev "$1" 2>/dev/null | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p')
	echo "${id:-0}"
}
pinned_prog_id() { loader status -o json | jqf '$j[0].programId' /dev/stdin; }
link_id_of() { # the pinned link's id for an interface (status), or 0
	loader status -o json | jqf "[\$j[0].interfaces[] | select(.interface == \"$1\") | .linkId][0] // 0" /dev/stdin
}
covered() { [ "$(xdp_prog_on "$1")" = "$PROG_ID" ]; }
# wait_covered IF LIMIT_MS [SINCE_MS]: waits (bounded) until vaultwall runs on
# IF; sets WAITED_MS, counted from SINCE_MS (default: now).
wait_covered() {
	local ifname=$1 limit=$2 start=${3:-$(now_ms)}
	while ! covered "$ifname"; do
		if [ $(($(now_ms) - start)) -gt $((limit + 2000)) ]; then
			WAITED_MS=timeout
			return 1
		fi
		sleep 0.01
	done
	WAITED_MS=$(($(now_ms) - start))
	[ "$WAITED_MS" -le "$limit" ]
}
# created_and_covered IF PEER: creates the veth pair IF/PEER in the vault
# namespace; true when vaultwall runs on IF within REPAIR_LIMIT_MS (printed).
created_and_covered() {
	local created status
	created=$(now_ms)
	ip -n "$NS_VAULT" link add "$1" type veth peer name "$2" || return 1
	wait_covered "$1" "$REPAIR_LIMIT_MS" "$created"
	status=$?
	echo "  $1 covered ${WAITED_MS} ms after it was created"
	return $status
}
repairs_of() { # journaled agent repairs of an interface with a result (ok/failed)
	[ -f "$VAULTWALL_JOURNAL" ] || { echo 0; return; }
	python3 - "$VAULTWALL_JOURNAL" "$1" "$2" <<'EOF'
import json, sys
path, ifname, result = sys.argv[1:]
n = 0
for line in open(path):
    e = json.loads(line)
    n += e["command"] == "agent repair" and e.get("interfaces") == [ifname] and e["result"] == result
print(n)
EOF
}
log_has() { grep -qF -- "$1" "$AGENT_LOG" || { echo "  (agent log lacks: $1)"; return 1; }; }
wait_log() { # wait_log TEXT SECONDS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		grep -qF -- "$1" "$AGENT_LOG" && return 0
		sleep 0.05
	done
	log_has "$1"
}

# ---- receiver-side counts (nftables in the vault namespace) ---------------------------
install_counters() {
	vw_in_ns "$NS_VAULT" nft -f - <<EOF
table ip vwa_count {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    udp dport $PORT ip saddr $SRC_ALLOWED counter
    udp dport $PORT ip saddr $SRC_DENIED counter
    udp dport $PORT drop
  }
}
EOF
}
delivered_from() { # datagrams from a source that got past XDP so far
	vw_nft_counts_by_source "$NS_VAULT" vwa_count | jqf "\$j[0][\"$1\"] // 0" /dev/stdin
}
default_denies() { ctl stats -o json | jqf '$j[0].classes.default_deny.packets' /dev/stdin; }

# ---- topology -----------------------------------------------------------------------------
# The vault end of the client link: fixed MAC, address, routes back to the
# sources. Run at setup and again right after the re-creation, as a
# driver reload followed by the network configuration would.
vault_link_add() {
	ip link add "$IF_VAULT" address "$VAULT_MAC" netns "$NS_VAULT" type veth peer name "$IF_PEER" netns "$NS_CLI" &&
		ip -n "$NS_CLI" link set "$IF_PEER" master br0 up &&
		ip -n "$NS_VAULT" addr add "$VAULT_IP/24" dev "$IF_VAULT" &&
		ip -n "$NS_VAULT" link set "$IF_VAULT" up &&
		ip -n "$NS_VAULT" route add "$SRC_ALLOWED/32" dev "$IF_VAULT" &&
		ip -n "$NS_VAULT" route add "$SRC_DENIED/32" dev "$IF_VAULT"
}
topology_up() {
	vw_ns_add "$NS_VAULT" && vw_ns_add "$NS_CLI" || return 1
	local ns
	for ns in "$NS_VAULT" "$NS_CLI"; do # no router solicitations or DAD noise
		vw_in_ns "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1 || return 1
	done
	ip -n "$NS_CLI" link add br0 type bridge && ip -n "$NS_CLI" link set br0 up || return 1
	ip -n "$NS_CLI" addr add "$CLI_IP/24" dev br0 || return 1
	for src in "$SRC_ALLOWED" "$SRC_DENIED"; do ip -n "$NS_CLI" addr add "$src/32" dev br0 || return 1; done
	# The vault's MAC does not change, so neither does the client's neighbour
	# entry: no ARP failure (and no send error) while the link is gone.
	ip -n "$NS_CLI" neigh replace "$VAULT_IP" lladdr "$VAULT_MAC" dev br0 nud permanent || return 1
	vault_link_add
}

# ---- generator and notification socket ------------------------------------------------
# A datagram socket standing in for systemd's: every message it gets is a
# line in $TMP/notify.log (bounded: it ends after 180 s or on its stop file).
start_notify_socket() {
	python3 - "$TMP/notify.sock" "$TMP/notify.log" "$TMP/notify.stop" <<'EOF' &
import os, socket, sys, time
path, log, stop = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
end = time.monotonic() + 180
with open(log, "a", buffering=1) as out:
    while time.monotonic() < end and not os.path.exists(stop):
        try:
            out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
        except socket.timeout:
            pass
EOF
	VW_STARTED_PIDS+=("$!")
	local i
	for ((i = 0; i < 50; i++)); do [ -S "$TMP/notify.sock" ] && return 0; sleep 0.1; done
	return 1
}
start_agent() { # start_agent LOGFILE: the agent in the vault namespace, pid in AGENT_PID
	AGENT_LOG=$1
	# A watchdog of 0.5 s, as WatchdogSec= sets it: pings every 0.25 s.
	VW_BG_LOG=$AGENT_LOG vw_in_ns_bg "$NS_VAULT" env NOTIFY_SOCKET="$TMP/notify.sock" WATCHDOG_USEC=500000 "$AGENT" \
		--pin-dir "$PIN_DIR" --interface "$IF_VAULT" --interface "$IF_LATE" --check-interval 1
	AGENT_PID=$VW_LAST_PID
}
wait_ready() { # wait_ready N: the N-th READY=1 arrives within 5 s
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^READY=1' "$TMP/notify.log" 2>/dev/null)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
exits_within() { # exits_within PID SECONDS: the process ends in time; its status in EXIT_STATUS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1"
			EXIT_STATUS=$?
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# ---- setup -----------------------------------------------------------------------------------
vw_mktemp_dir TMP || fatal "create a temporary directory"
export VAULTWALL_JOURNAL=$TMP/journal.jsonl
vw_register_pin_dir "$PIN_DIR"
topology_up || fatal "create the namespaces, the bridge and the vault link"
install_counters || fatal "nftables counters in $NS_VAULT"
vw_in_ns "$NS_CLI" timeout 5 ping -q -c 1 -W 2 "$VAULT_IP" >/dev/null || fatal "ping the vault"
essential "vaultwall-loader load" loader load
essential "apply data/swap-a.json (default Deny, $SRC_ALLOWED allowed)" ctl apply -f "$DATA/swap-a.json"
PROG_ID=$(pinned_prog_id)
start_notify_socket || fatal "notification socket"

# =========== start: one interface present, one missing =====================================
echo "--- start: $IF_VAULT present (not attached yet), $IF_LATE not created yet"
start_agent "$TMP/agent.log"
check "READY=1 sent once every interface is covered or reported" wait_ready 1
check "STATUS says 1 of 2 covered and names the missing one" \
	grep -q "^READY=1|STATUS=1 of 2 interfaces covered; missing: $IF_LATE\$" "$TMP/notify.log"
check "the agent attached $IF_VAULT (it was not attached)" covered "$IF_VAULT"
check "the log says $IF_LATE is missing and will be attached when it appears" \
	log_has "$IF_LATE: no such interface in this network namespace; it is attached when it appears"
check "the attach is journaled (agent repair, ok)" test "$(repairs_of "$IF_VAULT" ok)" -eq 1
sleep 0.6
check "WATCHDOG=1 is sent at half the watchdog interval" test "$(grep -c '^WATCHDOG=1$' "$TMP/notify.log")" -ge 2

echo "--- a second agent on the same pin directory"
vw_in_ns "$NS_VAULT" timeout 10 "$AGENT" --pin-dir "$PIN_DIR" --interface "$IF_VAULT" >"$TMP/second.out" 2>&1
second_status=$?
sed 's/^/  | /' "$TMP/second.out"
check "the second agent exits non-zero (status $second_status)" test "$second_status" -ne 0 -a "$second_status" -ne 124
check "... saying which agent already covers the pin directory" \
	grep -qF "another vaultwall-agent (pid $AGENT_PID) already keeps $PIN_DIR covered" "$TMP/second.out"
check "the first agent still runs" kill -0 "$AGENT_PID"

# =========== an interface created after the start ===========================================
echo "--- $IF_LATE created"
check "$IF_LATE (created after the start) attached within ${REPAIR_LIMIT_MS} ms" \
	created_and_covered "$IF_LATE" "$IF_LATE_PEER"
check "... and journaled" test "$(repairs_of "$IF_LATE" ok)" -eq 1

# =========== link down/up ===================================================================
echo "--- link down/up of $IF_VAULT"
link_before=$(link_id_of "$IF_VAULT") repairs_before=$(repairs_of "$IF_VAULT" ok)
ip -n "$NS_VAULT" link set "$IF_VAULT" down && sleep 0.3 && ip -n "$NS_VAULT" link set "$IF_VAULT" up
sleep 1.5 # a periodic check included
check "after down/up $IF_VAULT runs the same pinned link (id $link_before)" \
	test "$(link_id_of "$IF_VAULT")" = "$link_before" -a "$(xdp_prog_on "$IF_VAULT")" = "$PROG_ID"
check "... and the agent repaired nothing" test "$(repairs_of "$IF_VAULT" ok)" -eq "$repairs_before"

# =========== delete and re-create the vault link under a flood ===============================
echo "--- $IF_VAULT deleted and re-created while $SRC_ALLOWED and $SRC_DENIED send $RATE datagrams/s"
vw_start_flood flood 90 "$SRC_ALLOWED" "$SRC_DENIED"
for ((i = 0; i < 50; i++)); do [ "$(delivered_from "$SRC_ALLOWED")" -gt 0 ] && break; sleep 0.1; done
denied_before=$(delivered_from "$SRC_DENIED")
check "before: allowed datagrams arrive, 0 denied delivered" \
	test "$(delivered_from "$SRC_ALLOWED")" -gt 0 -a "$denied_before" -eq 0
sleep 1
ip -n "$NS_VAULT" link del "$IF_VAULT" || fatal "delete $IF_VAULT"
sleep 0.3
created_ms=$(now_ms)
vault_link_add || fatal "re-create $IF_VAULT"
wait_covered "$IF_VAULT" "$REPAIR_LIMIT_MS" "$created_ms"
back_status=$?
denied_at_back=$(delivered_from "$SRC_DENIED") allowed_at_back=$(delivered_from "$SRC_ALLOWED")
denies_at_back=$(default_denies)
echo "  program back on $IF_VAULT (ifindex $(ip -n "$NS_VAULT" -o link show dev "$IF_VAULT" | cut -d: -f1)) ${WAITED_MS} ms after 'ip link add' (which the configuration of the new link follows at once)"
sed -n "s/.*$IF_VAULT: its pinned link is severed.*\(repaired in [0-9]* ms\).*/  agent: $IF_VAULT \1 after the link event/p" "$AGENT_LOG" | tail -1
check "the program is back on the re-created $IF_VAULT within ${REPAIR_LIMIT_MS} ms" test "$back_status" -eq 0
# Traffic runs through the new link for a while.
for ((i = 0; i < 50; i++)); do [ "$(delivered_from "$SRC_ALLOWED")" -gt "$allowed_at_back" ] && break; sleep 0.1; done
sleep 2
vw_stop_flood flood || fatal "the generator did not report"
sleep 0.3
allowed_after=$(($(delivered_from "$SRC_ALLOWED") - allowed_at_back))
denied_after=$(($(delivered_from "$SRC_DENIED") - denied_at_back))
denied_gap=$((denied_at_back - denied_before))
denies_after=$(($(default_denies) - denies_at_back))
echo "  generator: $(jqf '$j[0].sent' "$TMP/flood.json") sent in $(jqf '$j[0].seconds' "$TMP/flood.json") s"
echo "  since the program came back: $allowed_after allowed delivered, $denied_after denied delivered, $denies_after default_deny counted"
echo "  denied delivered between the deletion and the repair: $denied_gap"
check "from then on 0 denied datagrams delivered" test "$denied_after" -eq 0
check "... while allowed datagrams flow through the new link" test "$allowed_after" -gt 0
check "... and the denied ones are dropped by the program (default_deny grew)" test "$denies_after" -gt 0
check "the re-creation is journaled as a repair of the severed link" \
	grep -q '"reason":"[^"]*severed[^"]*: severed link removed; attached in native mode"' "$VAULTWALL_JOURNAL"
check "loader status: $IF_VAULT attached natively on its new ifindex" \
	test "$(loader status -o json | jqf "[\$j[0].interfaces[] | select(.interface == \"$IF_VAULT\") | .mode]" /dev/stdin)" = '["native"]'

# =========== a deleted link pin ===========================================================
echo "--- the link pin of $IF_LATE removed (detaches it)"
old_link=$(link_id_of "$IF_LATE")
removed_ms=$(now_ms)
rm "$PIN_DIR/link_$IF_LATE"
# No link event says so: the agent's periodic check (every 1 s) finds it.
for ((i = 0; i < 60; i++)); do
	new_link=$(link_id_of "$IF_LATE")
	[ "$new_link" != 0 ] && [ "$new_link" != "$old_link" ] && covered "$IF_LATE" && break
	sleep 0.05
done
echo "  link $old_link replaced by link $new_link $(($(now_ms) - removed_ms)) ms after the pin was removed"
check "the periodic check re-attached $IF_LATE with a new pinned link" \
	test "$new_link" != 0 -a "$new_link" != "$old_link" -a "$(xdp_prog_on "$IF_LATE")" = "$PROG_ID"
check "... and journaled it" test "$(repairs_of "$IF_LATE" ok)" -eq 2

# =========== a foreign XDP program ========================================================
if [ -f "$FOREIGN_XDP" ]; then
	echo "--- another XDP program put on $IF_LATE"
	for ((i = 0; i < 5; i++)); do # the agent may win the race and re-attach first
		rm -f "$PIN_DIR/link_$IF_LATE"
		ip -n "$NS_VAULT" link set dev "$IF_LATE" xdpgeneric obj "$FOREIGN_XDP" sec xdp 2>/dev/null && break
	done
	foreign=$(xdp_prog_on "$IF_LATE")
	check "a foreign program ($foreign) runs on $IF_LATE" test "$foreign" != 0 -a "$foreign" != "$PROG_ID"
	check "the agent reports it loudly" wait_log "$IF_LATE runs another XDP program (id $foreign) and vaultwall is NOT filtering it" 3
	check "... as an error" grep -qE "error: $IF_LATE runs another XDP program" "$AGENT_LOG"
	check "... journaled once as a failed repair" test "$(repairs_of "$IF_LATE" failed)" -eq 1
	sleep 1.5
	check "the agent left it in place (it repairs only what is vaultwall's)" test "$(xdp_prog_on "$IF_LATE")" = "$foreign"
	ip -n "$NS_VAULT" link set dev "$IF_LATE" xdpgeneric off
	wait_covered "$IF_LATE" 2500
	check "once it is removed the agent attaches vaultwall" covered "$IF_LATE"
else
	echo "NOTE: $FOREIGN_XDP missing (xdp-tools); foreign-program checks skipped"
fi

# =========== renamed away, and a new interface under the name ==============================
IF_RENAMED=${VW_PREFIX}r
echo "--- $IF_LATE renamed to $IF_RENAMED, and a new $IF_LATE created (a virtual network's segment is on it)"
# data/swap-a.json plus a virtual network whose segment is IF_LATE: the
# segment is compiled to IF_LATE's ifindex, which the new one does not have.
python3 - "$DATA/swap-a.json" "$IF_LATE" >"$TMP/segment.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
vnet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app-vnet"
doc["properties"]["networkAcls"]["virtualNetworkRules"] = [{"id": vnet + "/subnets/web"}]
doc["vaultwall"]["virtualNetworks"] = [{"id": vnet, "segment": {"interface": sys.argv[2]},
    "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}]
json.dump(doc, sys.stdout)
EOF
essential "apply a policy with a segment on $IF_LATE" ctl apply -f "$TMP/segment.json"
renamed_link=$(link_id_of "$IF_LATE")
ip -n "$NS_VAULT" link set dev "$IF_LATE" name "$IF_RENAMED" || fatal "rename $IF_LATE"
check "the new $IF_LATE is attached within ${REPAIR_LIMIT_MS} ms" created_and_covered "$IF_LATE" "${VW_PREFIX}s"
check "$IF_RENAMED keeps its link (id $renamed_link), its pin moved to link_$IF_RENAMED" \
	test "$(link_id_of "$IF_RENAMED") $(xdp_prog_on "$IF_RENAMED")" = "$renamed_link $PROG_ID"
check "after repairing $IF_LATE the agent re-applied the stored policy (its segment binds to the new link)" \
	wait_log "$IF_LATE: re-applied the stored policy so its segments bind to the new link" 3
new_ifindex=$(ip -n "$NS_VAULT" -o link show dev "$IF_LATE" | cut -d: -f1)
segment_ifindex() { # the ifindex of the active slot's only segment
	local slot
	slot=$(bpftool -j map lookup pinned "$PIN_DIR/vw_active" key 0 0 0 0 | jq '.formatted.value.slot')
	bpftool -j map dump pinned "$PIN_DIR/vw_segments_$slot" | jq '.[0].formatted.key.ifindex'
}
check "... the live segment is the new $IF_LATE (ifindex $new_ifindex)" test "$(segment_ifindex)" = "$new_ifindex"
check "... journaled as an agent reapply" grep -q '"command":"agent reapply"' "$VAULTWALL_JOURNAL"
check "... and no re-apply came from repairing $IF_VAULT (no segment on it)" \
	bash -c "! grep -qF '$IF_VAULT: re-applied the stored policy' '$AGENT_LOG'"

# =========== kill -9, restart, SIGTERM =====================================================
echo "--- kill -9 of the agent"
links_before="$(link_id_of "$IF_VAULT") $(link_id_of "$IF_LATE")"
kill -9 "$AGENT_PID"
exits_within "$AGENT_PID" 5
sleep 0.5
check "after kill -9 both interfaces run the same pinned links ($links_before)" \
	test "$(link_id_of "$IF_VAULT") $(link_id_of "$IF_LATE")" = "$links_before" -a \
	"$(xdp_prog_on "$IF_VAULT") $(xdp_prog_on "$IF_LATE")" = "$PROG_ID $PROG_ID"
denied_now=$(delivered_from "$SRC_DENIED")
vw_in_ns "$NS_CLI" python3 "$FLOOD" "$VAULT_IP" "$PORT" 1000 1 "$TMP/none" "$SRC_DENIED" >/dev/null
sleep 0.3
check "... and still drop the denied source" test "$(delivered_from "$SRC_DENIED")" -eq "$denied_now"

echo "--- restarted (its lock file left by kill -9), then SIGTERM"
start_agent "$TMP/agent2.log"
check "a new agent starts over the stale lock file and is READY" wait_ready 2
check "... with both interfaces covered, nothing repaired" \
	bash -c "grep -q '^READY=1|STATUS=2 of 2 interfaces covered\$' '$TMP/notify.log' && ! grep -q repaired '$AGENT_LOG'"
kill -TERM "$AGENT_PID"
check "SIGTERM: the agent exits within 2 s" exits_within "$AGENT_PID" 2
check "... with status 0" test "${EXIT_STATUS:-1}" -eq 0
check "... saying nothing is detached" log_has "stopping; nothing is detached"
check "... and removes its lock file" test ! -e "$AGENT_LOCK"
check "after SIGTERM both interfaces run the same pinned links" \
	test "$(link_id_of "$IF_VAULT") $(link_id_of "$IF_LATE")" = "$links_before"

touch "$TMP/notify.stop"
if [ "$failed" -gt 0 ] || [ -n "${VW_AGENT_SHOW_LOG:-}" ]; then
	for log in "$TMP"/agent*.log; do
		echo "--- ${log##*/}"
		sed 's/^/  | /' "$log"
	done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
