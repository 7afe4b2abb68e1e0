#!/usr/bin/env bash
# no_gap_test.sh - no packet sees a half-applied policy, and killing the
# loader never opens the firewall. Real traffic through a veth pair, in
# namespaces this test creates and removes.
#
#   no_gap_test.sh LOADER VAULTWALLCTL NETNS_LIB DATA_DIR UDP_FLOOD
#
# Topology (documentation addresses; traffic never leaves the namespaces):
#
#   ns <P>vault                        ns <P>cli
#   <P>v  192.0.2.10/24  <-- veth -->  eth0 192.0.2.20/24 + four sources:
#                                        198.51.100.1  allowed only in policy A
#                                        198.51.100.2  allowed only in policy B
#                                        198.51.100.3  allowed in A and in B
#                                        203.0.113.4   allowed in neither
#
# Policies data/swap-a.json and data/swap-b.json: default Deny, protected
# udp/443 and tcp/443. The generator (udp_flood.py) sends paced UDP datagrams
# to 192.0.2.10:443 from the four sources; nftables in the vault namespace
# counts, per source, what got past XDP (prerouting, priority -300, the first
# hook after XDP) and drops it there.
#
# (a) swap under flood: while the generator runs, apply A and B alternately
#     SWAPS times (>= 200). Receiver counts must show: never-allowed source
#     0 delivered; both-allowed source every datagram delivered; A-only and
#     B-only sources some delivered and some dropped; the per-class counters
#     account for every datagram sent (ip_rule = delivered, default_deny =
#     dropped, ip_rule + default_deny = sent); the both-allowed rule's own
#     counter = its datagrams sent.
# (b) kill -9 the loader during `vaultwall-loader load`, KILLS times at
#     random moments, and run it to completion between kills, while traffic
#     flows under policy A: never-allowed source 0 delivered, the allowed
#     sources' traffic continues through every round and is delivered whole,
#     and a final clean load leaves the interface attached with the policy.
#
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 5 ] || { echo "usage: $0 LOADER VAULTWALLCTL NETNS_LIB DATA_DIR UDP_FLOOD" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"
DATA=$4 FLOOD=$5

vw_preflight ip tc nft nsenter python3 jq timeout mountpoint -- "$LOADER" "$CTL" || exit $?

VW_PREFIX=vwg$$
NS_VAULT=${VW_PREFIX}vault NS_CLI=${VW_PREFIX}cli IF_VAULT=${VW_PREFIX}v
VAULT_IP=192.0.2.10 CLI_IP=192.0.2.20
SRC_A=198.51.100.1 SRC_B=198.51.100.2 SRC_AB=198.51.100.3 SRC_N=203.0.113.4
SOURCES=("$SRC_A" "$SRC_B" "$SRC_AB" "$SRC_N")
PORT=443
RATE=${VW_NOGAP_RATE:-8000}     # datagrams per second, all sources together
SWAPS=${VW_NOGAP_SWAPS:-200}    # applies in (a), alternating A and B
SWAP_DEADLINE=90                # seconds (a) may take, at most
KILLS=${VW_NOGAP_KILLS:-20}     # loader kills in (b)
PIN_DIR=/sys/fs/bpf/vwg-e2e-$$

vw_begin_vault_test vwg vwg-e2e-

# ---- receiver-side counts (nftables in the vault namespace) ---------------------
install_counters() {
	local rules="" s
	for s in "${SOURCES[@]}"; do
		rules+="    udp dport $PORT ip saddr $s counter"$'\n'
	done
	vw_in_ns "$NS_VAULT" nft -f - <<EOF
table ip vwg_count {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
$rules    udp dport $PORT drop
  }
}
EOF
}
# delivered FILE: {"source": packets, ...} of the nft counters, into FILE.
delivered() { vw_nft_counts_by_source "$NS_VAULT" vwg_count >"$1"; }
stats() { ctl stats -o json >"$1"; }
# Datagrams lost on the wire, not by vaultwall: veth TX drops on the client,
# RX drops on the vault side. Must stay 0 for the counts to be exact.
link_drops() {
	local tx rx
	tx=$(ip -n "$NS_CLI" -j -s link show dev eth0 | jqf '$j[0][0].stats64.tx.dropped' /dev/stdin)
	rx=$(ip -n "$NS_VAULT" -j -s link show dev "$IF_VAULT" | jqf '$j[0][0].stats64.rx.dropped' /dev/stdin)
	echo $((tx + rx))
}

# ---- generator ---------------------------------------------------------------------
start_flood() { vw_start_flood "$@"; }
stop_flood() {
	vw_stop_flood "$1" || return 1
	sleep 0.3 # the last datagrams reach the vault
}
# Waits (bounded) until the counters show datagrams from SOURCE arriving.
wait_flowing() {
	local source=$1 i
	for ((i = 0; i < 50; i++)); do
		delivered "$TMP/probe.json"
		[ "$(jqf "\$j[0][\"$source\"] // 0" "$TMP/probe.json")" -gt 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- setup ---------------------------------------------------------------------------
vw_workspace || fatal "create a temporary directory"
vw_ns_add "$NS_VAULT" || fatal "create namespace $NS_VAULT"
vw_ns_add "$NS_CLI" || fatal "create namespace $NS_CLI"
vw_veth_add "$NS_VAULT" "$IF_VAULT" "$VAULT_IP/24" "$NS_CLI" "${VW_PREFIX}c" "$CLI_IP/24" ||
	fatal "create the veth pair"
ip -n "$NS_CLI" link set "${VW_PREFIX}c" down && ip -n "$NS_CLI" link set "${VW_PREFIX}c" name eth0 &&
	ip -n "$NS_CLI" link set eth0 up || fatal "rename the client end to eth0"
for s in "${SOURCES[@]}"; do
	vw_addr_add "$NS_CLI" eth0 "$s/32" || fatal "add source $s"
	vw_route_add "$NS_VAULT" "$s/32" dev "$IF_VAULT" || fatal "route to $s"
done
# A queue on the client end: when the vault's XDP ring is full the veth pushes
# back instead of dropping, and the generator sees ENOBUFS, never a silent loss.
tc -n "$NS_CLI" qdisc replace dev eth0 root pfifo limit 10000 || fatal "qdisc on the client end"
install_counters || fatal "nftables counters in $NS_VAULT"
vw_in_ns "$NS_CLI" timeout 5 ping -q -c 1 -W 2 "$VAULT_IP" >/dev/null || fatal "ping the vault"

essential "vaultwall-loader load" loader load
essential "apply policy A (data/swap-a.json)" ctl apply -f "$DATA/swap-a.json"
essential "vaultwall-loader attach $IF_VAULT" loader attach "$IF_VAULT"

# =========================== (a) swap under flood =====================================
echo "--- (a) swap under flood: $SWAPS applies alternating A/B, generator at $RATE datagrams/s"
delivered "$TMP/a.d0.json"
stats "$TMP/a.s0.json"
drops0=$(link_drops)
loader status -o json >"$TMP/a.status0.json"
start_flood flood-a 120 "${SOURCES[@]}"
wait_flowing "$SRC_AB" || fatal "the generator's datagrams do not arrive"

applies=0 apply_failures=0 started=$SECONDS
for ((i = 0; i < SWAPS; i++)); do
	if [ $((SECONDS - started)) -ge "$SWAP_DEADLINE" ]; then
		echo "  deadline: stopped after $i applies in ${SWAP_DEADLINE}s"
		break
	fi
	if ((i % 2 == 0)); then doc=swap-b.json; else doc=swap-a.json; fi
	if ctl apply -f "$DATA/$doc" >"$TMP/apply.out" 2>&1; then
		applies=$((applies + 1))
	else
		apply_failures=$((apply_failures + 1))
		sed 's/^/  | /' "$TMP/apply.out" | head -5
	fi
done
swap_seconds=$((SECONDS - started))
stop_flood flood-a || fatal "the generator did not report"
delivered "$TMP/a.d1.json"
stats "$TMP/a.s1.json"
loader status -o json >"$TMP/a.status1.json"
drops=$(($(link_drops) - drops0))

# Figures: sent and delivered per source, and the class counters.
SENT=$TMP/flood-a.json D0=$TMP/a.d0.json D1=$TMP/a.d1.json S0=$TMP/a.s0.json S1=$TMP/a.s1.json
sent_of() { jqf "\$j[0].sent[\"$1\"]" "$SENT"; }
got_of() { jqf "(\$j[1][\"$1\"] // 0) - (\$j[0][\"$1\"] // 0)" "$D0" "$D1"; }
class_of() { jqf "\$j[1].classes[\"$1\"].packets - \$j[0].classes[\"$1\"].packets" "$S0" "$S1"; }
rule_of() { # packets credited to the rule whose value is $1 (0 when absent)
	jqf "([\$j[1].rules[] | select(.value == \"$1\") | .packets] | add // 0) - ([\$j[0].rules[] | select(.value == \"$1\") | .packets] | add // 0)" "$S0" "$S1"
}
echo "  applies done: $applies (failed: $apply_failures) in ${swap_seconds}s; generator ran $(jqf '$j[0].seconds' "$SENT")s, send errors (ENOBUFS, retried as not sent): $(jqf '[$j[0].errors[]] | add // 0' "$SENT"); link drops: $drops"
printf '  %-14s %-22s %10s %10s %10s\n' SOURCE ALLOWED-IN SENT DELIVERED DROPPED
total_sent=0 total_got=0
for s in "${SOURCES[@]}"; do
	case $s in
	"$SRC_A") where="A only" ;; "$SRC_B") where="B only" ;; "$SRC_AB") where="A and B" ;; *) where="neither" ;;
	esac
	n=$(sent_of "$s") g=$(got_of "$s")
	total_sent=$((total_sent + n)) total_got=$((total_got + g))
	printf '  %-14s %-22s %10d %10d %10d\n' "$s" "$where" "$n" "$g" $((n - g))
	eval "SENT_${s//./_}=$n GOT_${s//./_}=$g"
done
printf '  %-14s %-22s %10d %10d %10d\n' total "" "$total_sent" "$total_got" $((total_sent - total_got))
ip_rule=$(class_of ip_rule) default_deny=$(class_of default_deny)
echo "  class counters: ip_rule +$ip_rule, default_deny +$default_deny (sum $((ip_rule + default_deny))); rule $SRC_AB +$(rule_of "$SRC_AB")"
v() { local n=${1//./_}; eval "echo \$$2_$n"; }

check "(a) at least 200 applies done, none failed" test "$applies" -ge 200 -a "$apply_failures" -eq 0
check "(a) policy generation advanced by the number of applies" \
	test $(($(jqf '$j[0].generation' "$TMP/a.status1.json") - $(jqf '$j[0].generation' "$TMP/a.status0.json"))) -eq "$applies"
check "(a) no datagram lost on the wire (veth drops)" test "$drops" -eq 0
check "(a) the generator sent from every source" test "$(v "$SRC_N" SENT)" -gt 1000 -a "$(v "$SRC_AB" SENT)" -gt 1000
check "(a) 0 datagrams delivered from $SRC_N (allowed in neither)" test "$(v "$SRC_N" GOT)" -eq 0
check "(a) every datagram from $SRC_AB (allowed in both) delivered" test "$(v "$SRC_AB" GOT)" -eq "$(v "$SRC_AB" SENT)"
check "(a) $SRC_A (A only): some delivered, some dropped" \
	test "$(v "$SRC_A" GOT)" -gt 0 -a "$(v "$SRC_A" GOT)" -lt "$(v "$SRC_A" SENT)"
check "(a) $SRC_B (B only): some delivered, some dropped" \
	test "$(v "$SRC_B" GOT)" -gt 0 -a "$(v "$SRC_B" GOT)" -lt "$(v "$SRC_B" SENT)"
check "(a) ip_rule + default_deny = datagrams sent ($total_sent)" test $((ip_rule + default_deny)) -eq "$total_sent"
check "(a) ip_rule = datagrams delivered ($total_got): every delivered datagram was allowed by a rule" \
	test "$ip_rule" -eq "$total_got"
check "(a) default_deny = datagrams dropped ($((total_sent - total_got)))" \
	test "$default_deny" -eq $((total_sent - total_got))
check "(a) no other verdict class moved (no default_allow, public_disabled, audit, malformed)" \
	test "$(jqf '[$j[1].classes | keys[] | select(IN("ip_rule", "default_deny", "not_ip", "unprotected") | not) as $c | $j[1].classes[$c].packets - $j[0].classes[$c].packets] | add // 0' "$S0" "$S1")" -eq 0
check "(a) rule $SRC_AB credited with exactly its datagrams sent" test "$(rule_of "$SRC_AB")" -eq "$(v "$SRC_AB" SENT)"
check "(a) verify after the swaps" quiet ctl verify

# =========================== (b) loader killed and restarted ============================
echo "--- (b) kill -9 vaultwall-loader load $KILLS times while traffic flows (policy A active)"
essential "apply policy A" ctl apply -f "$DATA/swap-a.json"
loader status -o json >"$TMP/b.status0.json" || fatal "status -o json"
delivered "$TMP/b.d0.json"
stats "$TMP/b.s0.json"
drops0=$(link_drops)
start_flood flood-b 120 "$SRC_A" "$SRC_AB" "$SRC_N"
wait_flowing "$SRC_A" || fatal "the generator's datagrams do not arrive"

killed_running=0 completed=0 stalled=0 status_unreadable=0 prev_a=0 prev_ab=0
for ((k = 0; k < KILLS; k++)); do
	# The loader process itself: nsenter execs it, so $! is its pid.
	nsenter --net="/run/netns/$NS_VAULT" -- "$LOADER" --pin-dir "$PIN_DIR" load >"$TMP/kill-load.out" 2>&1 &
	pid=$!
	# A load takes some 20-80 ms: kill it 0-29 ms in, at a different step each time.
	sleep "$(printf '0.%03d' $((RANDOM % 30)))"
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null && killed_running=$((killed_running + 1))
	fi
	wait "$pid" 2>/dev/null
	# What a kill leaves behind, for the record (enforcement is judged by traffic).
	loader status -o json >"$TMP/kill-status.json" 2>/dev/null || status_unreadable=$((status_unreadable + 1))
	# ... and started again, to completion, every other round.
	if ((k % 2 == 1)); then
		if loader load >"$TMP/load.out" 2>&1; then
			completed=$((completed + 1))
		else
			echo "  round $k: load after a kill failed:"
			sed 's/^/  | /' "$TMP/load.out"
		fi
	fi
	sleep 0.1
	delivered "$TMP/b.round.json"
	now_a=$(jqf "\$j[0][\"$SRC_A\"] // 0" "$TMP/b.round.json") now_ab=$(jqf "\$j[0][\"$SRC_AB\"] // 0" "$TMP/b.round.json")
	if [ "$now_a" -le "$prev_a" ] || [ "$now_ab" -le "$prev_ab" ]; then
		stalled=$((stalled + 1))
		echo "  round $k: allowed traffic did not advance ($SRC_A $prev_a -> $now_a, $SRC_AB $prev_ab -> $now_ab)"
	fi
	prev_a=$now_a prev_ab=$now_ab
done
essential "a final vaultwall-loader load completes" loader load
sleep 0.3
stop_flood flood-b || fatal "the generator did not report"
delivered "$TMP/b.d1.json"
stats "$TMP/b.s1.json"
loader status -o json >"$TMP/b.status1.json" || fatal "status -o json"
drops=$(($(link_drops) - drops0))

SENT=$TMP/flood-b.json D0=$TMP/b.d0.json D1=$TMP/b.d1.json S0=$TMP/b.s0.json S1=$TMP/b.s1.json
echo "  kills: $KILLS rounds, $killed_running killed while loading, $completed loads run to completion in between; status unreadable right after a kill: $status_unreadable; link drops: $drops"
printf '  %-14s %-10s %10s %10s\n' SOURCE ALLOWED SENT DELIVERED
for s in "$SRC_A" "$SRC_AB" "$SRC_N"; do
	[ "$s" = "$SRC_N" ] && where=no || where=yes
	printf '  %-14s %-10s %10d %10d\n' "$s" "$where" "$(sent_of "$s")" "$(got_of "$s")"
done
echo "  class counters: ip_rule +$(class_of ip_rule), default_deny +$(class_of default_deny)"

check "(b) the loader was killed mid-load at least $((KILLS / 4)) times" test "$killed_running" -ge $((KILLS / 4))
check "(b) every load run to completion between kills succeeded" test "$completed" -eq $((KILLS / 2))
check "(b) no datagram lost on the wire (veth drops)" test "$drops" -eq 0
check "(b) 0 datagrams delivered from $SRC_N (denied)" test "$(got_of "$SRC_N")" -eq 0
check "(b) every datagram from $SRC_A delivered" test "$(got_of "$SRC_A")" -eq "$(sent_of "$SRC_A")"
check "(b) every datagram from $SRC_AB delivered" test "$(got_of "$SRC_AB")" -eq "$(sent_of "$SRC_AB")"
check "(b) allowed traffic advanced in every round" test "$stalled" -eq 0
check "(b) default_deny = datagrams sent from $SRC_N" test "$(class_of default_deny)" -eq "$(sent_of "$SRC_N")"
check "(b) ip_rule = datagrams delivered from the allowed sources" \
	test "$(class_of ip_rule)" -eq $(($(got_of "$SRC_A") + $(got_of "$SRC_AB")))
check "(b) still attached to $IF_VAULT after the kills (status)" \
	test "$(jqf '[$j[0].interfaces[].interface]' "$TMP/b.status1.json")" = "[\"$IF_VAULT\"]"
check "(b) policy kept: same generation as before the kills" \
	test "$(jqf '$j[0].generation' "$TMP/b.status0.json")" = "$(jqf '$j[0].generation' "$TMP/b.status1.json")"
check "(b) the interface runs the pinned program" \
	test "$(jqf '$j[0].interfaces[0].programId == $j[0].programId' "$TMP/b.status1.json")" = true
check "(b) verify: kernel maps equal policy A" quiet ctl verify
check "(b) diff: the applied policy is data/swap-a.json" quiet ctl diff -f "$DATA/swap-a.json"

check "detach --all --purge" quiet loader detach --all --purge
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
