#!/usr/bin/env bash
# json_schema_test.sh - every -o json output of vaultwallctl and
# vaultwall-loader, in a success and a failure outcome, validated against
# its published schema (docs/schema/*.schema.json) with python3-jsonschema;
# both outcomes of a command have the same top-level keys (one shape, the
# error an object when it failed). Also: -o tsv / --no-headers rows, -n/-g,
# the digest of the file applied in the journal, history --follow.
#
#   json_schema_test.sh VAULTWALLCTL VAULTWALL_LOADER SCHEMA_DIR
#
# Root only: exits 77 (ctest: skipped) otherwise. Runs in a network
# namespace of its own (attach: its lo) with a one-member etcd on 127.0.0.1.
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 VAULTWALLCTL VAULTWALL_LOADER SCHEMA_DIR" >&2; exit 2; }
CTL=$1 LOADER=$2 SCHEMAS=$3
# shellcheck source=../../scripts/lib/netns.sh
source "$(dirname "$0")/../../scripts/lib/netns.sh"
vw_preflight jq python3 timeout ip nsenter sha256sum -- "$CTL" "$LOADER" || exit $?
python3 -c 'import jsonschema' 2>/dev/null || { echo "python3-jsonschema is missing (scripts/setup.sh)"; exit 1; }

NS=vwsc$$
PIN=/sys/fs/bpf/vwtest-schema-$$
TMP=$(mktemp -d "/tmp/vwsc$$.XXXXXX")
OUTS=$TMP/outputs
mkdir -p "$OUTS"
export VAULTWALL_JOURNAL=$TMP/journal.jsonl
ETCD_PID=
FOLLOW_PID=
cleanup() {
	[ -n "$FOLLOW_PID" ] && kill "$FOLLOW_PID" 2>/dev/null
	[ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null && wait "$ETCD_PID" 2>/dev/null
	[ -d "$PIN" ] && nsenter --net="/run/netns/$NS" "$LOADER" --pin-dir "$PIN" detach --all --purge >/dev/null 2>&1
	# VW_SCHEMA_OUTPUTS=DIR keeps what was validated, to write or debug a schema.
	[ -n "${VW_SCHEMA_OUTPUTS:-}" ] && cp -r "$OUTS/." "$VW_SCHEMA_OUTPUTS/"
	rm -rf "$PIN" "$TMP"
	ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM
ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up

IN_NS=(nsenter --net="/run/netns/$NS")
ctl() { run "${IN_NS[@]}" "$CTL" --pin-dir "$PIN" "$@"; }
loader() { run "${IN_NS[@]}" "$LOADER" --pin-dir "$PIN" "$@"; }
# Fleet commands reach etcd on the host's 127.0.0.1.
fleet() { run "$CTL" fleet "$@"; }

# keep SCHEMA CASE: the last run's stdout, to be validated against SCHEMA.
keep() {
	if [ -z "$OUT" ]; then
		_fail "$1 ($2): -o json printed nothing"
		return
	fi
	printf '%s\n' "$OUT" >"$OUTS/$1.$2.json"
}
# json_case SCHEMA CASE EXIT CMD...: runs, checks the exit code, keeps stdout.
json_case() {
	local schema=$1 case=$2 code=$3
	shift 3
	"$@"
	expect_exit "$code" "$schema ($case) exits $code"
	keep "$schema" "$case"
}

VAULT_ID=/subscriptions/0000/resourceGroups/Schema-RG/providers/Microsoft.KeyVault/vaults/schema-vault
cat >"$TMP/vault.json" <<DOC
{
  "id": "$VAULT_ID",
  "name": "schema-vault",
  "type": "Microsoft.KeyVault/vaults",
  "properties": {
    "publicNetworkAccess": "Enabled",
    "networkAcls": {
      "defaultAction": "Deny",
      "bypass": "None",
      "ipRules": [{"value": "203.0.113.0/24"}],
      "virtualNetworkRules": []
    }
  },
  "vaultwall": {"dataPlane": {"ports": ["tcp/443"], "addresses": []}}
}
DOC
echo '{"properties": {"networkAcls": {"defaultAction": "Sometimes"}}}' >"$TMP/bad.json"

# validate_outputs SCHEMA_DIR OUTPUT_DIR [SCHEMA]: every SCHEMA.CASE.json
# (of SCHEMA only, when given) against SCHEMA_DIR/SCHEMA.schema.json; the
# outcomes of one command have the same top-level keys.
validate_outputs() {
	python3 - "$@" <<'PY'
import collections, glob, json, os, sys
import jsonschema
from referencing import Registry, Resource
schemas, outputs = sys.argv[1], sys.argv[2]
only = sys.argv[3] if len(sys.argv) > 3 else None
registry = Registry()
for path in glob.glob(os.path.join(schemas, "*.schema.json")):
    with open(path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
shapes = collections.defaultdict(dict)
bad = 0
for name in sorted(os.listdir(outputs)):
    schema_name, case, _ = name.rsplit(".", 2)
    if only and schema_name != only:
        continue
    with open(os.path.join(schemas, schema_name + ".schema.json")) as f:
        validator = jsonschema.Draft202012Validator(json.load(f), registry=registry)
    with open(os.path.join(outputs, name)) as f:
        doc = json.load(f)
    errors = list(validator.iter_errors(doc))
    if case.startswith("invalid-input"):  # an input the schema must refuse
        bad += not errors
        if not errors: print(f"{name}: valid, but should not be")
        continue
    for e in errors:
        print(f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}"[:400])
    bad += bool(errors)
    if isinstance(doc, dict) and "error" in doc and doc["error"] is not None and not isinstance(doc["error"], dict):
        print(f"{name}: error is not an object"); bad += 1
    if schema_name not in ("show", "document", "host-facts"):  # show is the document itself
        shapes[schema_name][case] = set(doc)
for schema_name, cases in shapes.items():
    if len(set(map(frozenset, cases.values()))) > 1:
        print(f"{schema_name}: top-level keys differ between outcomes: "
              + "; ".join(f"{c}: {sorted(k)}" for c, k in cases.items())); bad += 1
print(f"{sum(len(c) for c in shapes.values())} outputs checked")
sys.exit(1 if bad else 0)
PY
}

# The inputs: documents and host facts against theirs.
cp "$(dirname "$0")/../../examples/vault.json" "$OUTS/document.example.json"
cp "$TMP/vault.json" "$OUTS/document.test.json"
cp "$TMP/bad.json" "$OUTS/document.invalid-input.json"
# What az keyvault show prints: lower-case subnet ids, null flags, az's resourceGroup.
cp "$(dirname "$0")/../data/azure/az-keyvault-show.json" "$OUTS/document.az-keyvault-show.json"
cat >"$OUTS/host-facts.filled.json" <<'DOC'
{"dataPlane": {"ports": ["tcp/443"], "addresses": ["192.0.2.10"]},
 "privateEndpoints": [],
 "virtualNetworks": [{"id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app",
   "segment": {"interface": "eth1", "vlan": 100}, "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24"}]}]}
DOC
echo '{"virtualNetworks": [{"id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app", "segment": {"interface": "<interface>", "vlan": "<vlan 1-4094>"}}]}' \
	>"$OUTS/host-facts.invalid-input.json"

# ---- failures: nothing loaded, nothing listening -----------------------------

json_case status failure 1 loader status -o json
json_case attach failure 1 loader attach no-such-if0 -o json
json_case detach failure 1 loader detach no-such-if0 -o json
json_case load failure 1 run "${IN_NS[@]}" "$LOADER" --pin-dir /tmp/not-bpffs-$$ load -o json
json_case verify failure 1 ctl verify -o json
json_case stats failure 1 ctl stats -o json
json_case explain failure 1 ctl explain 203.0.113.9 -o json
json_case show failure 1 ctl show -o json
json_case diff failure 2 ctl diff -f "$TMP/vault.json" -o json
json_case apply failure 1 ctl apply -f "$TMP/bad.json" -o json
json_case apply not-loaded 1 ctl apply -f "$TMP/vault.json" -o json
json_case apply failure-dry-run 1 ctl apply --dry-run -f "$TMP/vault.json" -o json
json_case apply update-failure 1 ctl update --bypass None -o json
json_case apply rule-add-failure 1 ctl network-rule add --ip-address 198.51.100.1 -o json
json_case apply rule-remove-failure 1 ctl network-rule remove --ip-address 198.51.100.1 -o json
json_case network-rule-list failure 1 ctl network-rule list -o json
json_case validate failure 1 ctl validate -f "$TMP/bad.json" -o json
json_case history failure 1 ctl history --since yesterday -o json
json_case host-init failure 1 ctl host init -f "$TMP/missing.json" -o json
NOWHERE=(--endpoints http://127.0.0.1:1)
json_case fleet-put failure 1 fleet put --vault schema-vault -f "$TMP/vault.json" "${NOWHERE[@]}" -o json
json_case fleet-put invalid 1 fleet put --vault schema-vault -f "$TMP/bad.json" "${NOWHERE[@]}" -o json
json_case fleet-get failure 1 fleet get --vault schema-vault "${NOWHERE[@]}" -o json
json_case fleet-diff failure 2 fleet diff --vault schema-vault -f "$TMP/vault.json" "${NOWHERE[@]}" -o json
json_case fleet-status failure 1 fleet status "${NOWHERE[@]}" -o json

# ---- successes -----------------------------------------------------------------

json_case load success 0 loader load -o json
json_case validate success 0 ctl validate -f "$TMP/vault.json" -o json
json_case diff different 1 ctl diff -f "$TMP/vault.json" -o json
json_case apply dry-run 0 ctl apply --dry-run -f "$TMP/vault.json" -o json
json_case apply success 0 ctl apply -f "$TMP/vault.json" -o json
json_case attach success 0 loader attach lo -o json
json_case status success 0 loader status -o json
json_case verify success 0 ctl verify -o json
json_case stats success 0 ctl stats -o json
json_case explain success 0 ctl explain 203.0.113.9 -o json
json_case show success 0 ctl show -o json
json_case diff same 0 ctl diff -f "$TMP/vault.json" -o json
json_case apply update 0 ctl update --bypass AzureServices -o json
json_case apply rule-add 0 ctl network-rule add --ip-address 198.51.100.1 -o json
json_case apply rule-remove 0 ctl network-rule remove --ip-address 198.51.100.1 -o json
json_case network-rule-list success 0 ctl network-rule list -o json
json_case history success 0 ctl history -o json
json_case host-init success 0 ctl host init -f "$TMP/vault.json" -o json

# Fleet against a one-member etcd of this test.
read -r CLIENT_PORT PEER_PORT <<<"$(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')"
ENDPOINT=http://127.0.0.1:$CLIENT_PORT
etcd --name schema --data-dir "$TMP/etcd" --listen-client-urls "$ENDPOINT" \
	--advertise-client-urls "$ENDPOINT" --listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
	--initial-cluster "schema=http://127.0.0.1:$PEER_PORT" --logger zap --log-level error \
	>"$TMP/etcd.log" 2>&1 </dev/null &
ETCD_PID=$!
for _ in $(seq 100); do
	ETCDCTL_API=3 timeout 2 etcdctl --endpoints "$ENDPOINT" endpoint health >/dev/null 2>&1 && break
	sleep 0.2
done
ETCD=(--endpoints "$ENDPOINT")
cat >"$TMP/shared.json" <<'DOC'
{"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None",
  "ipRules": [{"value": "203.0.113.0/24"}], "virtualNetworkRules": []}}}
DOC
json_case fleet-put dry-run 0 fleet put --vault schema-vault -f "$TMP/shared.json" --dry-run "${ETCD[@]}" -o json
json_case fleet-put success 0 fleet put --vault schema-vault -f "$TMP/shared.json" "${ETCD[@]}" -o json
json_case fleet-put unchanged 0 fleet put --vault schema-vault -f "$TMP/shared.json" "${ETCD[@]}" -o json
json_case fleet-get success 0 fleet get --vault schema-vault "${ETCD[@]}" -o json
json_case fleet-diff same 0 fleet diff --vault schema-vault -f "$TMP/shared.json" "${ETCD[@]}" -o json
# No host is enrolled: exit 1, the shape of every status.
json_case fleet-status no-hosts 1 fleet status "${ETCD[@]}" -o json


# ---- every output against its schema; one shape per command -------------------

check "every -o json output (and input) is valid against its schema, one shape per command" \
	quiet validate_outputs "$SCHEMAS" "$OUTS"
for schema in status verify stats explain show diff apply network-rule-list validate history load \
	attach host-init fleet-put fleet-get fleet-diff fleet-status document host-facts; do
	check "$schema: a success and a failure were validated" \
		test "$(find "$OUTS" -name "$schema.*.json" | wc -l)" -ge 2
done

# ---- -o tsv and --no-headers -----------------------------------------------------

ctl network-rule list -o tsv
expect_exit 0 "network-rule list -o tsv"
check "tsv: a header row, then one tab-separated row per rule" \
	test "$OUT" = "$(printf 'ID\tKIND\tRULE\n1\tip\t203.0.113.0/24')"
ctl network-rule list --no-headers
check "--no-headers: the rule row alone, aligned" \
	test "$(sed 's/  */ /g' <<<"$OUT")" = "1 ip 203.0.113.0/24"
ctl --no-headers -o tsv network-rule list
check "--no-headers -o tsv before the subcommand: the row alone" test "$OUT" = "$(printf '1\tip\t203.0.113.0/24')"
loader status -o tsv --no-headers
check "loader status -o tsv: the interface row, tab-separated" \
	grep -qP '^lo\t1\t' <<<"$OUT"
ctl history -o tsv --no-headers
check "history -o tsv: one row per entry, 5 fields" \
	test "$(awk -F'\t' 'NF != 5' <<<"$OUT" | wc -l)" -eq 0 -a -n "$OUT"

# ---- -n/-g ------------------------------------------------------------------------

ctl apply -f "$TMP/vault.json" -n schema-vault -g schema-rg
expect_exit 0 "apply -n NAME -g GROUP (group in another case) is accepted"
ctl apply -f "$TMP/vault.json" -n other-vault
expect_exit 1 "apply -n of another vault is refused"
check "the refusal names both vaults" grep -q "other-vault does not match.*schema-vault" <<<"$ERR"
ctl diff -f "$TMP/vault.json" -g other-rg
expect_exit 2 "diff -g of another group is refused (trouble)"
ctl validate -f "$TMP/vault.json" --resource-group other-rg -o json
expect_json_value '.diagnostics[0].path' id "validate -g mismatch is an error of the document's id"
ctl network-rule add --ip-address 198.51.100.9 -n other-vault
expect_exit 1 "network-rule add -n of another vault is refused"
ctl network-rule list -o json
check "nothing was added" test "$(jq '[.ipRules[].value] | index("198.51.100.9")' <<<"$OUT")" = null
ctl update --bypass None --name schema-vault
expect_exit 0 "update --name of the applied vault is accepted"
ctl show -g Other-RG
expect_exit 1 "show -g of another group is refused"
ctl network-rule list -n SCHEMA-VAULT --resource-group SCHEMA-rg
expect_exit 0 "network-rule list -n/-g in any case"

# ---- the digest of the file applied; history --follow -------------------------------

"${IN_NS[@]}" "$CTL" --pin-dir "$PIN" history --follow -o json >"$TMP/follow.jsonl" 2>"$TMP/follow.err" &
FOLLOW_PID=$!
sleep 0.5
cp "$TMP/vault.json" "$TMP/applied.json"
sed -i 's#203.0.113.0/24#203.0.113.0/25#' "$TMP/applied.json"
# The journal rotated under the follower: it goes on with the new file.
mv "$VAULTWALL_JOURNAL" "$VAULTWALL_JOURNAL.1"
ctl apply -f "$TMP/applied.json"
expect_exit 0 "apply after the journal was rotated"
for _ in $(seq 50); do
	grep -q applied.json "$TMP/follow.jsonl" && break
	sleep 0.1
done
kill -TERM "$FOLLOW_PID"
wait "$FOLLOW_PID"
check "history --follow ends 0 on SIGTERM" test $? -eq 0
FOLLOW_PID=
SHA=$(sha256sum "$TMP/applied.json" | cut -d' ' -f1)
check "history --follow printed the apply made after it started (in the new journal)" \
	test "$(jq -r 'select(.command == "apply") | .input.path' "$TMP/follow.jsonl" | tail -1)" = "$TMP/applied.json"
check "the journal's digest of the file is sha256sum's" \
	test "$(jq -r 'select(.input.path? == "'"$TMP/applied.json"'") | .input.sha256' "$VAULTWALL_JOURNAL")" = "$SHA"
ctl history -n 1
check "history shows the file and its digest" grep -q "file $TMP/applied.json sha256 ${SHA:0:12}" <<<"$OUT"

json_case detach success 0 loader detach lo -o json
check "detach: a success and a failure validated" quiet validate_outputs "$SCHEMAS" "$OUTS" detach

finish
