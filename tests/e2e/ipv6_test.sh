#!/usr/bin/env bash
# ipv6_test.sh - IPv6 through the attached program, with real traffic, in
# namespaces this test creates and removes.
#
#   ipv6_test.sh LOADER CTL NETNS_LIB
#
#   ns <P>vault                          ns <P>cli
#   <P>v  192.0.2.10/24                  <P>c  192.0.2.20/24
#         2001:db8:10::10/64  <-- veth -->     2001:db8:10::20/64
#         routes to the two sources            2001:db8:7000::20 (trusted source)
#                                              2001:db8:eeee::20 (denied source)
#                                              2001:db8:5000::20 (IPv6 IP rule source)
#
# Policy: default deny, bypass AzureServices with a custom trusted service
# holding 2001:db8:7000::/48, protected tcp/8443 (an HTTP server on [::]);
# tcp/22 is a management port, reachable from both. Checks the trusted
# client connects (credited to its service), the denied one times out
# (ipv6_deny), tcp/22 is untouched, and explain agrees. Then a dualstack
# document (profile dualstack, IPv6 ipRules 2001:db8:5000::/48): the rule's
# client connects, credited to that rule; the denied one is still dropped.
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 LOADER CTL NETNS_LIB" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"

vw_preflight ip nsenter curl python3 jq timeout mountpoint -- "$LOADER" "$CTL" || exit $?

VW_PREFIX=vw6$$
vw_client_vault_names
VAULT6=2001:db8:10::10 CLI6=2001:db8:10::20
TRUSTED6=2001:db8:7000::20 DENIED6=2001:db8:eeee::20 RULE6=2001:db8:5000::20
RULE6_PREFIX=2001:db8:5000::/48
DATA_PORT=8443 MGMT_PORT=22
PIN_DIR=/sys/fs/bpf/vwtest-ipv6-$$
DENY_WAIT=2

vw_sweep_stale vw6 vwtest-ipv6-
vw_install_cleanup_trap

VW_LOADER=$LOADER VW_PIN_DIR=$PIN_DIR VW_CMD_TIMEOUT=30
loader() { vw_loader "$NS_VAULT" "$@"; }
ctl() { vw_in_ns "$NS_VAULT" "$CTL" --pin-dir "$PIN_DIR" "$@"; }

# curl's exit code for an HTTP GET from SOURCE to [VAULT6]:PORT (0 = reply,
# 28 = timed out: the SYN was dropped).
http_get_rc() {
	vw_in_ns "$NS_CLI" timeout $((DENY_WAIT + 3)) curl -s -o /dev/null -g \
		--interface "$1" --connect-timeout "$DENY_WAIT" --max-time $((DENY_WAIT + 1)) \
		"http://[$VAULT6]:$2/"
	echo $?
}
connects() { [ "$(http_get_rc "$1" "$2")" = 0 ]; }
times_out() {
	local rc
	rc=$(http_get_rc "$1" "$2")
	[ "$rc" = 28 ] || { echo "  (curl exit code $rc, expected 28 = timeout)"; return 1; }
}
snapshot() { ctl stats -o json >"$1"; }
delta() {
	jq -n --slurpfile a "$1" --slurpfile b "$2" --arg class "$3" \
		'$b[0].classes[$class].packets - $a[0].classes[$class].packets'
}
delta_at_least() { local d; d=$(delta "$1" "$2" "$3"); [ "$d" -ge "$4" ] || { echo "  ($3 moved by $d, expected >= $4)"; return 1; }; }
delta_is() { local d; d=$(delta "$1" "$2" "$3"); [ "$d" -eq "$4" ] || { echo "  ($3 moved by $d, expected $4)"; return 1; }; }

# ---- setup ---------------------------------------------------------------------
vw_mktemp_dir TMP || fatal "create a temporary directory"
vw_register_pin_dir "$PIN_DIR"
vw_client_vault_up || fatal "namespaces $NS_VAULT and $NS_CLI, veth pair"
# The host may start namespaces with IPv6 off; turn it on in both.
for ns_if in "$NS_VAULT:$IF_VAULT" "$NS_CLI:$IF_CLI"; do
	vw_in_ns "${ns_if%%:*}" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
		"net.ipv6.conf.${ns_if#*:}.disable_ipv6=0" || fatal "enable IPv6 in ${ns_if%%:*}"
done
# nodad: a new namespace would hold the addresses tentative for a second.
ip -n "$NS_VAULT" -6 addr add "$VAULT6/64" dev "$IF_VAULT" nodad || fatal "vault IPv6 address"
ip -n "$NS_CLI" -6 addr add "$CLI6/64" dev "$IF_CLI" nodad || fatal "client IPv6 address"
for src in "$TRUSTED6" "$DENIED6" "$RULE6"; do
	ip -n "$NS_CLI" -6 addr add "$src/128" dev "$IF_CLI" nodad || fatal "client source $src"
	ip -n "$NS_VAULT" -6 route add "$src/128" dev "$IF_VAULT" || fatal "route to $src"
done

mkdir -p "$TMP/www" && echo "vaultwall ipv6" >"$TMP/www/index.html"
for port in "$DATA_PORT" "$MGMT_PORT"; do
	VW_BG_LOG=$TMP/http-$port.log vw_in_ns_bg "$NS_VAULT" \
		python3 -m http.server --bind :: --directory "$TMP/www" "$port"
	vw_wait_tcp_listen "$NS_VAULT" "$port" 10 || fatal "HTTP listener on tcp/$port"
done
check "baseline (nothing attached): denied IPv6 source reaches tcp/$DATA_PORT" connects "$DENIED6" "$DATA_PORT"

# ---- policy and attach -----------------------------------------------------------
check "vaultwall-loader load" loader load
jq -n --arg data "tcp/$DATA_PORT" '{
	networkAcls: {defaultAction: "Deny", bypass: "AzureServices", ipRules: []},
	vaultwall: {dataPlane: {ports: [$data]},
		trustedServices: {custom: [{name: "v6svc", addressPrefixes: ["2001:db8:7000::/48"]}]}}}' \
	>"$TMP/vault.json"
check "policy: default deny, trusted 2001:db8:7000::/48, protect tcp/$DATA_PORT" ctl apply -f "$TMP/vault.json"
check "attach $IF_VAULT" loader attach "$IF_VAULT" --mode native

# ---- traffic -----------------------------------------------------------------------
snapshot "$TMP/s0.json"
check "trusted IPv6 source $TRUSTED6 reaches tcp/$DATA_PORT" connects "$TRUSTED6" "$DATA_PORT"
snapshot "$TMP/s1.json"
check "... counted as trusted_service" delta_at_least "$TMP/s0.json" "$TMP/s1.json" trusted_service 3
check "... credited to service v6svc" \
	test "$(jq '[.trustedServices[] | select(.service == "v6svc") | .packets] | add' "$TMP/s1.json")" -ge 3
check "denied IPv6 source $DENIED6 cannot reach tcp/$DATA_PORT (dropped)" times_out "$DENIED6" "$DATA_PORT"
snapshot "$TMP/s2.json"
check "... counted as ipv6_deny" delta_at_least "$TMP/s1.json" "$TMP/s2.json" ipv6_deny 1
check "management tcp/$MGMT_PORT reachable from the denied IPv6 source" connects "$DENIED6" "$MGMT_PORT"
check "management tcp/$MGMT_PORT reachable from the trusted IPv6 source" connects "$TRUSTED6" "$MGMT_PORT"
snapshot "$TMP/s3.json"
check "... not denied" delta_is "$TMP/s2.json" "$TMP/s3.json" ipv6_deny 0
check "... counted as unprotected" delta_at_least "$TMP/s2.json" "$TMP/s3.json" unprotected 6

ctl explain "$TRUSTED6" --port "$DATA_PORT" -o json >"$TMP/explain.json"
check "explain $TRUSTED6: pass, trusted_service v6svc" \
	test "$(jq -c '[.verdict, .class, .trustedService.name]' "$TMP/explain.json")" = '["pass","trusted_service","v6svc"]'
ctl explain "$DENIED6" --port "$DATA_PORT" -o json >"$TMP/explain.json"
check "explain $DENIED6: drop, ipv6_deny" \
	test "$(jq -c '[.verdict, .class]' "$TMP/explain.json")" = '["drop","ipv6_deny"]'

# ---- dual stack: an IPv6 IP rule -------------------------------------------------
check "before the dualstack policy: the rule's source $RULE6 is dropped" times_out "$RULE6" "$DATA_PORT"
jq --arg rule "$RULE6_PREFIX" '.vaultwall.profile = "dualstack" | .networkAcls.ipRules = [{value: "203.0.113.0/24"}, {value: $rule}]' \
	"$TMP/vault.json" >"$TMP/dualstack.json"
check "policy: profile dualstack, IPv6 ipRules $RULE6_PREFIX" ctl apply -f "$TMP/dualstack.json"
rule_packets() {
	ctl stats -o json | jq --arg rule "$RULE6_PREFIX" '[.rules[] | select(.value == $rule) | .packets] | add // 0'
}
check "show lists the IPv6 rule" \
	test "$(ctl show | jq -c '[.properties.networkAcls.ipRules[].value]')" = "[\"203.0.113.0/24\",\"$RULE6_PREFIX\"]"
snapshot "$TMP/s4.json"
check "IPv6 IP rule source $RULE6 reaches tcp/$DATA_PORT" connects "$RULE6" "$DATA_PORT"
snapshot "$TMP/s5.json"
check "... counted as ip_rule" delta_at_least "$TMP/s4.json" "$TMP/s5.json" ip_rule 3
check "... credited to rule $RULE6_PREFIX" test "$(rule_packets)" -ge 3
check "denied IPv6 source $DENIED6 still cannot reach tcp/$DATA_PORT" times_out "$DENIED6" "$DATA_PORT"
snapshot "$TMP/s6.json"
check "... counted as ipv6_deny" delta_at_least "$TMP/s5.json" "$TMP/s6.json" ipv6_deny 1
ctl explain "$RULE6" --port "$DATA_PORT" -o json >"$TMP/explain.json"
check "explain $RULE6: pass, ip_rule $RULE6_PREFIX" \
	test "$(jq -c '[.verdict, .class, .rule.value]' "$TMP/explain.json")" = "[\"pass\",\"ip_rule\",\"$RULE6_PREFIX\"]"

finish
