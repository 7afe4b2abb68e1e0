#!/usr/bin/env bash
# observability_test.sh - deny logs, audit mode, metrics and the change
# journal end to end, with real connections, in namespaces this test creates
# and removes.
#
#   observability_test.sh LOADER CTL NETNS_LIB
#
# Topology (documentation addresses only; traffic never leaves the namespaces):
#
#   ns <P>vault                          ns <P>cli
#   <P>v  192.0.2.10/24   <-- veth -->   <P>c  192.0.2.20/24
#         routes to the two sources            198.51.100.20/32 (allowed source)
#                                              203.0.113.20/32  (denied source)
#
# Policy (applied with vaultwallctl): default deny, allow 198.51.100.20,
# protected port tcp/8443 (an HTTP server on the vault).
# Checks: a denied connection shows up in `vaultwallctl log -o jsonl` within
# a second with the right callerIpAddress and port; `log --follow
# --output-file` reopens its file on SIGHUP; audit mode lets the denied
# source in and logs it as such; `metrics --listen` answers over HTTP and
# passes promtool, as does `metrics --textfile`; the journal has one entry
# per command run, including a failed apply.
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 LOADER CTL NETNS_LIB" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"

vw_preflight ip nsenter curl python3 jq timeout ss promtool -- "$LOADER" "$CTL" || exit $?

VW_PREFIX=vwo$$
vw_client_vault_names
DATA_PORT=8443
METRICS_PORT=9465
PIN_DIR=/sys/fs/bpf/vwo-e2e-$$

vw_sweep_stale vwo vwo-e2e-
vw_install_cleanup_trap

# check and fatal come from scripts/lib/checks.sh (sourced by netns.sh).

vw_workspace || fatal "temporary directory"
VW_LOADER=$LOADER VW_CTL=$CTL VW_PIN_DIR=$PIN_DIR VW_CMD_TIMEOUT=30
loader() { vw_loader "$NS_VAULT" "$@"; }
ctl() { vw_ctl "$NS_VAULT" "$@"; }

# ---- topology and server ---------------------------------------------------
vw_client_vault_up || fatal "namespaces $NS_VAULT and $NS_CLI, veth pair, client addresses"
vw_in_ns_bg "$NS_VAULT" python3 -m http.server "$DATA_PORT" --bind "$VAULT_IP" --directory "$TMP"
vw_wait_tcp_listen "$NS_VAULT" "$DATA_PORT" || fatal "HTTP server"

cat >"$TMP/policy.json" <<EOF
{
  "properties": {
    "publicNetworkAccess": "Enabled",
    "networkAcls": {"defaultAction": "Deny", "bypass": "None",
                    "ipRules": [{"value": "$ALLOWED_IP"}], "virtualNetworkRules": []}
  },
  "vaultwall": {"dataPlane": {"ports": ["tcp/$DATA_PORT"], "addresses": ["$VAULT_IP"]}}
}
EOF
echo '{"properties": {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "10.0.0.0/8"}]}}}' >"$TMP/invalid.json"

# ---- traffic -----------------------------------------------------------------
# connect SOURCE [SECONDS]: HTTP GET to the vault's data port; true when a
# reply came back.
connect() {
	vw_in_ns "$NS_CLI" timeout $((${2:-2} + 2)) curl -s -o /dev/null --interface "$1" \
		--connect-timeout "${2:-2}" "http://$VAULT_IP:$DATA_PORT/"
}
# Starts a denied connection attempt in the background (its SYNs are dropped).
knock() {
	vw_in_ns_bg "$NS_CLI" timeout 4 curl -s -o /dev/null --interface "$DENIED_IP" \
		--connect-timeout 3 "http://$VAULT_IP:$DATA_PORT/"
}
# has_event FILE SOURCE MODE: FILE has an event line from SOURCE to the data
# port with the given mode and its AuditEvent fields.
has_event() {
	jq -en --arg source "$2" --arg mode "$3" 'any(inputs;
		.callerIpAddress == $source and .port == 8443 and .mode == $mode and
		.resultType == "ForbiddenByFirewall" and .resultSignature == "Forbidden" and
		.protocol == "tcp" and .destinationIpAddress == "192.0.2.10")' "$1" >/dev/null 2>&1
}
# wait_for_event FILE SOURCE MODE SECONDS [COLLECT]: bounded wait; with
# COLLECT, runs `vaultwallctl log -o jsonl` each round and appends to FILE.
wait_for_event() {
	local file=$1 source=$2 mode=$3 seconds=$4 collect=${5:-} i
	for ((i = 0; i < seconds * 20; i++)); do
		[ -n "$collect" ] && ctl log -o jsonl >>"$file"
		[ -s "$file" ] && has_event "$file" "$source" "$mode" && return 0
		sleep 0.05
	done
	echo "  (no $mode event from $source in ${seconds}s; file has: $(head -c 600 "$file"))"
	return 1
}

# ---- load, apply (ok and failed), attach ---------------------------------------
loader load >/dev/null || fatal "vaultwall-loader load"
check "apply a valid document" ctl apply -f "$TMP/policy.json"
check "apply an invalid document fails" fails ctl apply -f "$TMP/invalid.json"
check "attach to the vault's interface" loader attach "$IF_VAULT" --mode native
check "allowed source connects" connect "$ALLOWED_IP"

# ---- deny log ------------------------------------------------------------------------
: >"$TMP/log.jsonl"
knock
check "denied connection appears in 'vaultwallctl log -o jsonl' within 1s" \
	wait_for_event "$TMP/log.jsonl" "$DENIED_IP" enforce 1 collect
check "the event says the action was denied, by defaultAction Deny" python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if "203.0.113.20" in l][0]
assert e["action"] == "denied" and e["class"] == "default_deny" and e["rule"] == "defaultAction: Deny", e
assert e["interface"] == sys.argv[2] and e["callerPort"] > 0 and e["time"].endswith("Z"), e
assert e["resultDescription"] == "Client address is not authorized and caller is not a trusted service.", e
' "$TMP/log.jsonl" "$IF_VAULT"
sleep 4  # let the background attempt give up, so it does not log again below

# --follow with --output-file, reopened on SIGHUP (logrotate's way).
VW_BG_LOG=$TMP/follow.stderr vw_in_ns_bg "$NS_VAULT" "$CTL" --pin-dir "$PIN_DIR" log --follow -o jsonl \
	--output-file "$TMP/follow.jsonl"
FOLLOW_PID=$VW_LAST_PID
for ((i = 0; i < 50; i++)); do [ -e "$TMP/follow.jsonl" ] && break; sleep 0.1; done
mv "$TMP/follow.jsonl" "$TMP/follow.jsonl.1"
kill -HUP "$FOLLOW_PID"
for ((i = 0; i < 50; i++)); do [ -e "$TMP/follow.jsonl" ] && break; sleep 0.1; done
check "log --follow reopened its file on SIGHUP" test -e "$TMP/follow.jsonl"

# ---- audit mode ----------------------------------------------------------------------
check "update --mode audit" ctl update --mode audit
check "in audit mode the denied source connects" connect "$DENIED_IP"
check "... and is logged as an audit event by log --follow" wait_for_event "$TMP/follow.jsonl" "$DENIED_IP" audit 2
check "the audit event says the request was allowed" python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if "\"audit\"" in l][0]
assert e["action"] == "allowed" and e["class"] == "default_deny", e' "$TMP/follow.jsonl"
check "update --mode enforce" ctl update --mode enforce
check "in enforce mode the denied source is dropped again" fails connect "$DENIED_IP" 1
kill -TERM "$FOLLOW_PID" 2>/dev/null
for ((i = 0; i < 30; i++)); do kill -0 "$FOLLOW_PID" 2>/dev/null || break; sleep 0.1; done
check "log --follow exits on SIGTERM" bash -c "! kill -0 $FOLLOW_PID 2>/dev/null"

# ---- metrics -------------------------------------------------------------------------
VW_BG_LOG=$TMP/metrics.stderr vw_in_ns_bg "$NS_VAULT" "$CTL" --pin-dir "$PIN_DIR" metrics --listen "127.0.0.1:$METRICS_PORT"
METRICS_PID=$VW_LAST_PID
vw_wait_tcp_listen "$NS_VAULT" "$METRICS_PORT" || echo "  (metrics server: $(cat "$TMP/metrics.stderr"))"
check "metrics endpoint answers over HTTP" vw_in_ns "$NS_VAULT" curl -sf --max-time 5 -o "$TMP/scrape.prom" \
	"http://127.0.0.1:$METRICS_PORT/metrics"
check "scraped metrics pass promtool check metrics" bash -c "promtool check metrics <'$TMP/scrape.prom'"
check "metrics count the denied packets" grep -Eq '^vaultwall_packets_total\{class="default_deny"\} [1-9]' "$TMP/scrape.prom"
check "metrics count audit packets" grep -Eq '^vaultwall_packets_total\{class="audit_would_deny"\} [1-9]' "$TMP/scrape.prom"
check "metrics credit the IP rule" grep -Eq "^vaultwall_rule_packets_total\{rule=\"$ALLOWED_IP\",kind=\"ip\"\} [1-9]" "$TMP/scrape.prom"
check "metrics count emitted events" grep -Eq '^vaultwall_events_emitted_total [1-9]' "$TMP/scrape.prom"
check "metrics report the generation" grep -Eq '^vaultwall_policy_generation [1-9]' "$TMP/scrape.prom"
kill -TERM "$METRICS_PID" 2>/dev/null
for ((i = 0; i < 30; i++)); do kill -0 "$METRICS_PID" 2>/dev/null || break; sleep 0.1; done
check "metrics server exits on SIGTERM" bash -c "! kill -0 $METRICS_PID 2>/dev/null"
check "metrics --textfile writes vaultwall.prom" ctl metrics --textfile "$TMP"
check "the textfile passes promtool check metrics" bash -c "promtool check metrics <'$TMP/vaultwall.prom'"

# ---- more changes, then the journal --------------------------------------------------
check "network-rule add" ctl network-rule add --ip-address 198.51.100.30
check "network-rule remove" ctl network-rule remove --ip-address 198.51.100.30
check "detach" loader detach "$IF_VAULT"
check "history -o json" bash -c "VAULTWALL_JOURNAL=$VAULTWALL_JOURNAL $CTL history -o json >'$TMP/history.json'"
check "journal has one entry per command, in order, with results" python3 -c '
import json, os, stat, sys
h = json.load(open(sys.argv[1]))["entries"]
got = [(e["command"], e["result"]) for e in h]
want = [("apply", "ok"), ("apply", "failed"), ("attach", "ok"), ("update", "ok"), ("update", "ok"),
        ("network-rule add", "ok"), ("network-rule remove", "ok"), ("detach", "ok")]
assert got == want, got
failed = h[1]
assert "10.0.0.0/8" in failed["reason"], failed["reason"]
assert h[0]["from"]["generation"] == 0 and h[0]["to"]["generation"] == 1, h[0]
assert h[5]["rulesAdded"] == ["198.51.100.30"] and h[6]["rulesRemoved"] == ["198.51.100.30"], h[5:7]
assert h[2]["interfaces"] == [sys.argv[3]], h[2]
assert all(e["uid"] == 0 and e["argv"] for e in h)
assert stat.S_IMODE(os.stat(sys.argv[2]).st_mode) == 0o600
' "$TMP/history.json" "$VAULTWALL_JOURNAL" "$IF_VAULT"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
