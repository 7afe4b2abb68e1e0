#!/usr/bin/env bash
# reject_test.sh - vaultwall.denyAction as a client meets it: under "drop"
# a denied curl times out, under "reject" it is refused at once (a RST from
# the vault host's XDP program), an allowed client is unaffected either way,
# and a spoofed SYN flood gets no more RSTs back than the per-CPU reply
# budget allows (counted at the sender's interface).
#
#   reject_test.sh LOADER VAULTWALLCTL NETNS_LIB SYN_FLOOD_PY
#
# Topology: namespaces <P>vault (192.0.2.10, an HTTP server on tcp/443) and
# <P>cli (198.51.100.20 allowed by an IP rule, 203.0.113.20 denied), one veth
# pair. Exit 0 when every check passed, 1 otherwise, 77 when not root.
set -uo pipefail

[ $# -eq 4 ] || { echo "usage: $0 LOADER VAULTWALLCTL NETNS_LIB SYN_FLOOD_PY" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"
FLOOD=$4

vw_preflight ip nsenter curl python3 jq timeout mountpoint -- "$LOADER" "$CTL" || exit $?

VW_PREFIX=vwr$$
vw_client_vault_names
PIN_DIR=/sys/fs/bpf/vwtest-reject-$$
FLOOD_COUNT=20000
BUDGET=8 # VW_REJECT_CPU_BUDGET: replies per CPU per kernel tick

vw_sweep_stale vwr vwtest-reject-
vw_install_cleanup_trap
vw_register_pin_dir "$PIN_DIR"
VW_LOADER=$LOADER VW_CTL=$CTL VW_PIN_DIR=$PIN_DIR VW_CMD_TIMEOUT=30
loader() { vw_loader "$NS_VAULT" "$@"; }
ctl() { vw_ctl "$NS_VAULT" "$@"; }
ctl_cmd=(nsenter --net="/run/netns/$NS_VAULT" -- "$CTL" --pin-dir "$PIN_DIR") # for run
loader_cmd=(nsenter --net="/run/netns/$NS_VAULT" -- "$LOADER" --pin-dir "$PIN_DIR")

# policy FILE ACTION: default Deny, the allowed source as an IP rule.
policy() {
	cat >"$1" <<EOF
{"networkAcls": {"defaultAction": "Deny", "bypass": "None",
                 "ipRules": [{"value": "$ALLOWED_IP"}]},
 "vaultwall": {"dataPlane": {"addresses": ["$VAULT_IP"], "ports": ["tcp/443"]},
               "denyAction": "$2"}}
EOF
}

# get SOURCE: curl's exit code and total time in seconds, "RC SECONDS".
get() {
	local out rc
	out=$(vw_in_ns "$NS_CLI" timeout 5 curl -s -o /dev/null -w '%{time_total}' \
		--connect-timeout 1 --max-time 2 --interface "$1" "http://$VAULT_IP:443/")
	rc=$?
	echo "$rc ${out:-0}"
}
allowed_gets_in() {
	local got
	got=$(vw_in_ns "$NS_CLI" timeout 5 curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		--interface "$ALLOWED_IP" "http://$VAULT_IP:443/")
	[ "$got" = 200 ] || { echo "  (allowed client got '$got', expected HTTP 200)"; return 1; }
}
denied_times_out() {
	local rc secs
	read -r rc secs < <(get "$DENIED_IP")
	[ "$rc" = 28 ] || { echo "  (curl rc=$rc after ${secs}s, expected 28 = timed out)"; return 1; }
}
# Refused (curl 7, "Failed to connect ... Connection refused") in < 100 ms.
denied_refused_fast() {
	local rc secs
	read -r rc secs < <(get "$DENIED_IP")
	echo "  (denied client: curl rc=$rc in ${secs}s)"
	[ "$rc" = 7 ] || { echo "  (expected rc=7 = connection refused)"; return 1; }
	awk -v s="$secs" 'BEGIN { exit !(s < 0.1) }' || { echo "  (took ${secs}s, bound 0.1s)"; return 1; }
}
rx_packets() { ip -n "$NS_CLI" -j -s link show "$IF_CLI" | jq '.[0].stats64.rx.packets'; }
jiffies() { awk '/^jiffies:/ { print $2; exit }' /proc/timer_list; }
stat_of() { jq -r "$2" "$1"; }

# ---- setup ---------------------------------------------------------------------
vw_workspace || fatal "create a temporary directory"
vw_client_vault_up || fatal "namespaces and veth pair"
VW_BG_LOG=$TMP/http.log vw_in_ns_bg "$NS_VAULT" python3 -m http.server 443 --bind "$VAULT_IP" --directory "$TMP"
vw_wait_tcp_listen "$NS_VAULT" 443 10 || fatal "HTTP server on tcp/443"
policy "$TMP/drop.json" drop
policy "$TMP/reject.json" reject
policy "$TMP/bad.json" bounce

essential "vaultwall-loader load" loader load
essential "vaultwallctl apply (denyAction drop)" ctl apply -f "$TMP/drop.json"
# Generic XDP: a veth in native mode drops what XDP_TX sends back unless
# its peer runs an XDP program of its own (DESIGN §1.10).
essential "vaultwall-loader attach $IF_VAULT" loader attach "$IF_VAULT" --mode generic

# ---- drop: the denied client waits for its timeout --------------------------
check "drop: allowed client gets HTTP 200" allowed_gets_in
check "drop: denied client times out" denied_times_out

# ---- the setting: validated, shown, diffed ---------------------------------------
run "${ctl_cmd[@]}" apply -f "$TMP/bad.json"
check "apply refuses denyAction bounce" test "$RC" -ne 0
check "the error names vaultwall.denyAction and the values" grep -q 'vaultwall.denyAction.*expected drop or reject' <<<"$OUT$ERR"
run "${ctl_cmd[@]}" apply --dry-run -f "$TMP/reject.json"
check "apply --dry-run shows denyAction: drop -> reject" grep -q 'denyAction: drop -> reject' <<<"$OUT"
essential "vaultwallctl apply (denyAction reject)" ctl apply -f "$TMP/reject.json"
ctl show >"$TMP/show.json" || fatal "vaultwallctl show"
check "show has denyAction reject" test "$(stat_of "$TMP/show.json" '.vaultwall.denyAction')" = reject

# ---- reject: refused at once -----------------------------------------------------
ctl stats -o json >"$TMP/stats0.json" || fatal "vaultwallctl stats -o json"
check "reject: denied client is refused in under 100 ms" denied_refused_fast
check "reject: allowed client still gets HTTP 200" allowed_gets_in
ctl stats -o json >"$TMP/stats1.json" || fatal "vaultwallctl stats -o json"
check "stats: reject.sent moved" test "$(jq -n --slurpfile a "$TMP/stats0.json" --slurpfile b "$TMP/stats1.json" \
	'$b[0].reject.sent - $a[0].reject.sent')" -ge 1
ctl explain "$DENIED_IP" --interface "$IF_VAULT" --destination "$VAULT_IP" -o json >"$TMP/explain.json" ||
	fatal "vaultwallctl explain"
check "explain: verdict reject" test "$(stat_of "$TMP/explain.json" '.verdict')" = reject
check "explain: would be rejected" grep -q 'would be rejected' "$TMP/explain.json"

# ---- a spoofed SYN flood gets a bounded trickle back ---------------------------
cli_mac=$(ip -n "$NS_CLI" -j link show "$IF_CLI" | jq -r '.[0].address')
vault_mac=$(ip -n "$NS_VAULT" -j link show "$IF_VAULT" | jq -r '.[0].address')
rx0=$(rx_packets) j0=$(jiffies)
vw_in_ns "$NS_CLI" timeout 30 python3 "$FLOOD" "$IF_CLI" "$cli_mac" "$vault_mac" "$VAULT_IP" 443 \
	"$FLOOD_COUNT" 10 203.0.113.0 >"$TMP/flood.json" || fatal "syn_flood.py"
j1=$(jiffies)
sleep 0.2 # replies in flight
rx1=$(rx_packets)
ctl stats -o json >"$TMP/stats2.json" || fatal "vaultwallctl stats -o json"
sent=$(stat_of "$TMP/flood.json" .sent)
replies=$((rx1 - rx0)) ticks=$((j1 - j0))
bound=$((BUDGET * $(nproc) * (ticks + 1)))
reject_sent=$(jq -n --slurpfile a "$TMP/stats1.json" --slurpfile b "$TMP/stats2.json" '$b[0].reject.sent - $a[0].reject.sent')
reject_suppressed=$(jq -n --slurpfile a "$TMP/stats1.json" --slurpfile b "$TMP/stats2.json" \
	'$b[0].reject.suppressed - $a[0].reject.suppressed')
echo "  (flood: $sent SYNs in $(stat_of "$TMP/flood.json" .seconds)s, $ticks ticks; $replies frames back" \
	"at the sender, budget bound $bound; vault: $reject_sent sent, $reject_suppressed suppressed)"
check "flood: every SYN was sent" test "$sent" -eq "$FLOOD_COUNT"
check "flood: replies at the sender within the budget" test "$replies" -le "$bound"
check "flood: far fewer replies than SYNs" test $((replies * 4)) -lt "$sent"
check "flood: some replies came back" test "$replies" -ge 1
check "flood: vault counted every SYN as sent or suppressed" test $((reject_sent + reject_suppressed)) -eq "$sent"
check "flood: the sender saw the RSTs the vault sent" test "$replies" -ge "$reject_sent"
check "after the flood: allowed client still gets HTTP 200" allowed_gets_in

# ---- native mode on a veth: the RSTs are lost, and status says so --------------
check "status (generic mode): no warning about lost replies" \
	bash -c '! "$@" 2>&1 | grep -q "does not deliver the RSTs"' _ "${loader_cmd[@]}" status
essential "detach, then attach in native mode" loader detach "$IF_VAULT"
essential "vaultwall-loader attach $IF_VAULT --mode native" loader attach "$IF_VAULT" --mode native
run "${loader_cmd[@]}" status -o json
check "status -o json warns that $IF_VAULT does not deliver the RSTs" \
	jq -e --arg i "$IF_VAULT" 'any(.warnings[]; contains($i) and contains("does not deliver the RSTs"))' <<<"$OUT"
check "... naming generic mode as the fix" grep -q -- "--mode generic" <<<"$OUT"
essential "back to generic mode" loader detach "$IF_VAULT"
essential "vaultwall-loader attach $IF_VAULT --mode generic" loader attach "$IF_VAULT" --mode generic

# ---- update --deny-action drop: back to silence -------------------------------
essential "vaultwallctl update --deny-action drop" ctl update --deny-action drop
ctl show >"$TMP/show2.json" || fatal "vaultwallctl show"
check "update: show has denyAction drop" test "$(stat_of "$TMP/show2.json" '.vaultwall.denyAction')" = drop
check "update: the denied client times out again" denied_times_out

finish
