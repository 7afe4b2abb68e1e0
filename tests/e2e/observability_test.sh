#!/usr/bin/env bash
# observability_test.sh - deny logs, audit mode, metrics and the change
# journal end to end, with real connections, in namespaces this test creates
# and removes.
#
#   observability_test.sh LOADER CTL NETNS_LIB SCHEMA SERVICE_TAGS
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
# per command run, including a failed apply. Then: a denied connection's
# line validates against docs/schema/deny-log.schema.json and carries what a
# SIEM joins on (resourceId, httpStatusCode 403, correlationId, host, the
# virtual network by name); vaultwall_policy_in_sync turns 0 on drift and 1
# after apply --force; --no-rule-metrics drops every series per rule.
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

if [ $# -ne 5 ]; then
	echo "usage: $0 LOADER CTL NETNS_LIB SCHEMA SERVICE_TAGS" >&2
	exit 2
fi
LOADER=$1
CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"
SCHEMA=$4
SERVICE_TAGS=$5

vw_preflight ip nsenter curl python3 jq timeout ss promtool -- "$LOADER" "$CTL" || exit $?
python3 -c 'import jsonschema' 2>/dev/null || {
	echo "python3 jsonschema is missing: run scripts/setup.sh (it installs python3-jsonschema)" >&2
	exit 1
}

VW_PREFIX=vwo$$
vw_client_vault_names
DATA_PORT=8443
METRICS_PORT=9465
PIN_DIR=/sys/fs/bpf/vwo-e2e-$$

vw_begin_vault_test vwo vwo-e2e-

vw_workspace || fatal "temporary directory"

# ---- topology and server ---------------------------------------------------
vw_client_vault_up || fatal "namespaces $NS_VAULT and $NS_CLI, veth pair, client addresses"
vw_in_ns_bg "$NS_VAULT" python3 -m http.server "$DATA_PORT" --bind "$VAULT_IP" --directory "$TMP"
vw_wait_tcp_listen "$NS_VAULT" "$DATA_PORT" || fatal "HTTP server"

VAULT_ID=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-e2e/providers/Microsoft.KeyVault/vaults/kv-e2e
cat >"$TMP/policy.json" <<EOF
{
  "id": "$VAULT_ID",
  "properties": {
    "publicNetworkAccess": "Enabled",
    "networkAcls": {"defaultAction": "Deny", "bypass": "None",
                    "ipRules": [{"value": "$ALLOWED_IP"}], "virtualNetworkRules": []}
  },
  "vaultwall": {"dataPlane": {"ports": ["tcp/$DATA_PORT"], "addresses": ["$VAULT_IP"]}}
}
EOF
echo '{"properties": {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "10.0.0.0/8"}]}}}' >"$TMP/invalid.json"
sed 's/"defaultAction": "Deny"/"defaultAction": "Allow"/' "$TMP/policy.json" >"$TMP/second.json"

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
	python3 - "$@" <<'PY'
import json, sys
path, source, mode = sys.argv[1:4]
# An audit pass is no refusal: its own resultType, no HTTP status.
result = {"enforce": ("ForbiddenByFirewall", "Forbidden"), "audit": ("WouldBeForbiddenByFirewall", None)}[mode]
for line in open(path):
    e = json.loads(line)
    if (e["callerIpAddress"] == source and e["port"] == 8443 and e["mode"] == mode
            and (e["resultType"], e["resultSignature"]) == result
            and e["protocol"] == "tcp" and e["destinationIpAddress"] == "192.0.2.10"):
        sys.exit(0)
sys.exit(1)
PY
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
# first_event FILE TEXT FILTER: FILTER holds for the first line of FILE with TEXT.
first_event() {
	grep -F -m1 -- "$2" "$1" | jq -e "$3" >/dev/null || { grep -F -m1 -- "$2" "$1" | sed 's/^/  | /'; return 1; }
}
check "the event says the action was denied, by defaultAction Deny" first_event "$TMP/log.jsonl" 203.0.113.20 '
	.action == "denied" and .class == "default_deny" and .rule == "defaultAction: Deny" and
	.interface == "'"$IF_VAULT"'" and .callerPort > 0 and (.time | endswith("Z")) and
	.resultDescription == "Client address is not authorized and caller is not a trusted service."'
# validate_lines FILE SOURCE [VNET]: every line from SOURCE validates against
# the published schema and carries what a SIEM joins on; the lines of one
# connection (its SYN retransmits) share one correlationId.
validate_lines() {
	python3 - "$SCHEMA" "$1" "$2" "$VAULT_ID" "$(hostname)" "${3:-}" <<'PY'
import json, sys, jsonschema
schema_path, path, source, vault_id, host, vnet = sys.argv[1:7]
validator = jsonschema.Draft202012Validator(json.load(open(schema_path)))
lines = [json.loads(l) for l in open(path) if l.strip()]
mine = [e for e in lines if e["callerIpAddress"] == source and e["mode"] == "enforce"]
assert mine, "no line from " + source
for e in mine:
    errors = sorted(validator.iter_errors(e), key=str)
    assert not errors, "schema: " + "; ".join(f"{list(x.path)}: {x.message}" for x in errors)
    assert e["resourceId"] == vault_id, e["resourceId"]
    assert e["properties"]["httpStatusCode"] == 403, e["properties"]
    assert e["host"] == host, (e["host"], host)
    assert e["virtualNetwork"] == (vnet.rsplit("/", 1)[-1] if vnet else None), e["virtualNetwork"]
    assert e["virtualNetworkId"] == (vnet.lower() if vnet else None), e["virtualNetworkId"]
by_port = {}
for e in mine:
    by_port.setdefault(e["callerPort"], set()).add(e["correlationId"])
assert all(len(ids) == 1 for ids in by_port.values()), by_port
ids = [next(iter(i)) for i in by_port.values()]
assert len(set(ids)) == len(ids), "two connections share a correlationId: " + str(by_port)
print(f"  ({len(mine)} lines from {source}, {len(by_port)} connections)")
PY
}
sleep 4  # let the background attempt give up, so it does not log again below
ctl log -o jsonl >>"$TMP/log.jsonl"  # its retransmits
check "the denied connection's lines validate against the published schema and carry resourceId, 403, correlationId, host" \
	validate_lines "$TMP/log.jsonl" "$DENIED_IP"

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
check "the audit event says the request was allowed" first_event "$TMP/follow.jsonl" '"audit"' \
	'.action == "allowed" and .class == "default_deny"'
check "every line of log --follow, audit passes included, validates against the schema" python3 -c '
import json, sys, jsonschema
validator = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
lines = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert any(e["mode"] == "audit" for e in lines), lines
for e in lines:
    errors = [f"{list(x.path)}: {x.message}" for x in validator.iter_errors(e)]
    assert not errors, errors' "$SCHEMA" "$TMP/follow.jsonl"
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
check "metrics count the denied packets" grep -Eq '^vaultwall_packets_total\{class="default_deny",verdict="drop"\} [1-9]' "$TMP/scrape.prom"
check "metrics count audit packets" grep -Eq '^vaultwall_packets_total\{class="audit_would_deny",verdict="pass"\} [1-9]' "$TMP/scrape.prom"
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
want = [("load", "ok"), ("apply", "ok"), ("apply", "failed"), ("attach", "ok"), ("update", "ok"),
        ("update", "ok"), ("network-rule add", "ok"), ("network-rule remove", "ok"), ("detach", "ok")]
assert got == want, got
failed = h[2]
assert "10.0.0.0/8" in failed["reason"], failed["reason"]
assert h[1]["from"]["generation"] == 0 and h[1]["to"]["generation"] == 1, h[1]
assert h[6]["rulesAdded"] == ["198.51.100.30"] and h[7]["rulesRemoved"] == ["198.51.100.30"], h[6:8]
assert h[3]["interfaces"] == [sys.argv[3]], h[3]
assert all(e["uid"] == 0 and e["argv"] for e in h)
assert stat.S_IMODE(os.stat(sys.argv[2]).st_mode) == 0o600
' "$TMP/history.json" "$VAULTWALL_JOURNAL" "$IF_VAULT"

# ---- alerting metrics: in sync, drift, apply --force, the per-rule switch --------
# Drift is checked at most every --verify-interval: the server, asked often.
VW_BG_LOG=$TMP/metrics2.stderr vw_in_ns_bg "$NS_VAULT" "$CTL" --pin-dir "$PIN_DIR" metrics \
	--listen "127.0.0.1:$METRICS_PORT" --verify-interval 1
METRICS_PID=$VW_LAST_PID
vw_wait_tcp_listen "$NS_VAULT" "$METRICS_PORT" || echo "  (metrics server: $(cat "$TMP/metrics2.stderr"))"
get_metrics() { vw_in_ns "$NS_VAULT" curl -sf --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics"; }
# wait_metric REGEX SECONDS: a scrape has a line matching REGEX within SECONDS.
wait_metric() {
	local i
	for ((i = 0; i < $2 * 4; i++)); do
		get_metrics >"$TMP/scrape2.prom" && grep -Eq "$1" "$TMP/scrape2.prom" && return 0
		sleep 0.25
	done
	echo "  (no line matches $1; last scrape: $(grep -E "${1%% *}" "$TMP/scrape2.prom" | head -3))"
	return 1
}
check "vaultwall_policy_in_sync is 1 while the maps match" wait_metric '^vaultwall_policy_in_sync 1$' 5
check "the scrape passes promtool check metrics" bash -c "promtool check metrics <'$TMP/scrape2.prom'"
check "build_info names version, ABI, commit and libbpf" \
	grep -Eq '^vaultwall_build_info\{version="[^"]+",abi="[0-9]+",commit="[^"]+",libbpf="[0-9]+\.[0-9]+"\} 1$' "$TMP/scrape2.prom"
check "the failed apply is counted from the journal" grep -Eq '^vaultwall_apply_failures_total 1$' "$TMP/scrape2.prom"
check "the last apply attempt has a time" grep -Eq '^vaultwall_apply_last_attempt_timestamp_seconds [1-9][0-9]{9}\.' "$TMP/scrape2.prom"
check "rules against the profile's limits" bash -c "grep -Eq '^vaultwall_rules\{kind=\"ip\"\} 1$' '$TMP/scrape2.prom' &&
	grep -Eq '^vaultwall_rules_limit\{kind=\"ip\"\} [1-9]' '$TMP/scrape2.prom'"
check "policy_info has defaultAction, bypass, publicNetworkAccess and the vault" \
	grep -Fq "default_action=\"Deny\",bypass=\"None\",public_network_access=\"Enabled\",vault=\"$VAULT_ID\"} 1" "$TMP/scrape2.prom"
check "the allowed IP rule has a last hit" \
	grep -Eq "^vaultwall_rule_last_hit_timestamp_seconds\{rule=\"$ALLOWED_IP\",kind=\"ip\"\} [1-9]" "$TMP/scrape2.prom"
# 192.0.2.99/32 (vnet 0) -> rule 1, behind vaultwallctl's back, into the
# ACTIVE slot's trie: vw_rule_key {prefixlen 64, vnet_id 0, addr}.
SLOT=$(bpftool -j map lookup pinned "$PIN_DIR/vw_active" key 0 0 0 0 |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["formatted"]["value"]["slot"])')
check "tamper with vw_rules_$SLOT using bpftool" bpftool map update pinned "$PIN_DIR/vw_rules_$SLOT" \
	key hex 40 00 00 00 00 00 00 00 c0 00 02 63 value hex 01 00 00 00
check "vaultwall_policy_in_sync turns 0 on drift" wait_metric '^vaultwall_policy_in_sync 0$' 5
check "apply --force repairs the drift" ctl apply --force -f "$TMP/policy.json"
check "vaultwall_policy_in_sync is 1 again after apply --force" wait_metric '^vaultwall_policy_in_sync 1$' 5
# Each slot matches its own document, but the active one is the older policy.
ctl apply -f "$TMP/second.json" >/dev/null || fatal "apply a second policy"
vw_flip_active_slot "$PIN_DIR" || fatal "flip vw_active.slot with bpftool"
check "vaultwall_policy_in_sync turns 0 when vw_active.slot is flipped back" \
	wait_metric '^vaultwall_policy_in_sync 0$' 5
check "apply --force repairs the flip" ctl apply --force -f "$TMP/policy.json"
check "vaultwall_policy_in_sync is 1 after the repair" wait_metric '^vaultwall_policy_in_sync 1$' 5
kill -TERM "$METRICS_PID" 2>/dev/null
for ((i = 0; i < 30; i++)); do kill -0 "$METRICS_PID" 2>/dev/null || break; sleep 0.1; done
# ctl_to FILE ARGS...: vaultwallctl ARGS with stdout to FILE.
ctl_to() { local out=$1; shift; ctl "$@" >"$out"; }
check "metrics --no-rule-metrics" ctl_to "$TMP/norules.prom" metrics --no-rule-metrics
check "... has no series per rule, and keeps the rule counts" bash -c "! grep -q 'rule=\"' '$TMP/norules.prom' &&
	grep -Eq '^vaultwall_rules\{kind=\"ip\"\} 1$' '$TMP/norules.prom' && grep -q 'rule=\"' '$TMP/scrape2.prom'"
check "... and passes promtool check metrics" bash -c "promtool check metrics <'$TMP/norules.prom'"

# ---- a denied connection from a virtual network --------------------------------------
# The vault's interface is the segment of one virtual network: a source not
# in its subnet is denied, and its line names the network.
VNET_ID=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-e2e/providers/Microsoft.Network/virtualNetworks/vnet-e2e
cat >"$TMP/vnet.json" <<JSON
{
  "id": "$VAULT_ID",
  "properties": {
    "publicNetworkAccess": "Enabled",
    "networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [],
                    "virtualNetworkRules": [{"id": "$VNET_ID/subnets/app"}]}
  },
  "vaultwall": {
    "dataPlane": {"ports": ["tcp/$DATA_PORT"], "addresses": ["$VAULT_IP"]},
    "virtualNetworks": [{"id": "$VNET_ID", "segment": {"interface": "$IF_VAULT"},
      "subnets": [{"name": "app", "addressPrefix": "198.51.100.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}]
  }
}
JSON
check "apply a document with a virtual network on the vault's interface" ctl apply -f "$TMP/vnet.json"
check "attach again" loader attach "$IF_VAULT" --mode native
check "the subnet's source connects (VNET rule)" connect "$ALLOWED_IP"
: >"$TMP/vnet.jsonl"
knock
check "the denied connection from the virtual network is logged" \
	wait_for_event "$TMP/vnet.jsonl" "$DENIED_IP" enforce 2 collect
check "its line validates and names the virtual network" validate_lines "$TMP/vnet.jsonl" "$DENIED_IP" "$VNET_ID"
check "detach at the end" loader detach "$IF_VAULT"
# ---- the Service Tags file's changeNumber and age ------------------------------------
cp "$SERVICE_TAGS" "$TMP/tags.json" && touch -d '2026-01-02 03:04:05 UTC' "$TMP/tags.json"
python3 - "$TMP/policy.json" "$TMP/tags.json" >"$TMP/trusted.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["properties"]["networkAcls"]["bypass"] = "AzureServices"
doc["vaultwall"]["trustedServices"] = {"serviceTags": sys.argv[2], "services": ["Storage"]}
print(json.dumps(doc))
PY
check "apply a document that trusts a service tag" ctl apply -f "$TMP/trusted.json"
check "metrics once" ctl_to "$TMP/tags.prom" metrics
check "the Service Tags file's changeNumber and mtime" bash -c "
	grep -qx \"vaultwall_service_tags_change_number \$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"changeNumber\"])' '$TMP/tags.json')\" '$TMP/tags.prom' &&
	grep -qx 'vaultwall_service_tags_file_timestamp_seconds 1767323045.000' '$TMP/tags.prom'"
check "policy_info says bypass AzureServices" grep -q 'bypass="AzureServices"' "$TMP/tags.prom"

# The reader's lock and connections files of this run's pin directory.
rm -f "${VAULTWALL_RUN_DIR:-/run/vaultwall}/log-sys-fs-bpf-vwo_e2e_$$".*

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
