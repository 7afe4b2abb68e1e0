#!/usr/bin/env bash
# ctl_test.sh - every vaultwallctl subcommand against a pin directory of its
# own: exit codes, `-o json` output, the show -> apply round trip, canonical
# comparisons in network-rule, drift found by verify, failed applies that
# change nothing, and the errors for "not root" and "not loaded".
#
#   ctl_test.sh VAULTWALLCTL VAULTWALL_LOADER SERVICE_TAGS_JSON
#
# Root only: exits 77 (ctest: skipped) otherwise. No traffic: the policy's
# VNET segment is VLAN 100 on loopback, which exists everywhere.
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 VAULTWALLCTL VAULTWALL_LOADER SERVICE_TAGS_JSON" >&2; exit 2; }
CTL=$1 LOADER=$2 TAGS=$3
# shellcheck source=../../scripts/lib/netns.sh
source "$(dirname "$0")/../../scripts/lib/netns.sh"
vw_preflight bpftool jq setpriv timeout ip nsenter mountpoint -- "$CTL" "$LOADER" || exit $?

PIN=/sys/fs/bpf/vwtest-cli-$$
TMP=$(mktemp -d "/tmp/vwcc$$.XXXXXX")
# The documents bind a virtual network to interface lo; segments bind through
# vaultwall's links, so lo of a namespace of this test's own carries one.
SEGMENT_NS=vwcc$$
cleanup() {
	rm -rf "$PIN" "$TMP"
	ip netns del "$SEGMENT_NS" 2>/dev/null
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM
chmod 755 "$TMP"  # user nobody reads documents from here

# Pin dirs of earlier runs killed before their trap ran.
for dir in /sys/fs/bpf/vwtest-cli-[0-9]*; do
	[ -d "$dir" ] && [ ! -d "/proc/${dir##*-}" ] && rm -rf "$dir"
done

ctl() { run "$CTL" --pin-dir "$PIN" "$@"; }

# The active slot and its vw_policy_info (generation, digest, applied-at),
# read with bpftool, not with the tool under test.
policy_state() {
	local slot
	slot=$(bpftool -j map lookup pinned "$PIN/vw_active" key 0 0 0 0 | jq -r '.formatted.value.slot')
	printf '%s %s\n' "$slot" \
		"$(bpftool -j map lookup pinned "$PIN/vw_policy_info" key "$slot" 0 0 0 | jq -cS '.formatted.value')"
}
active_slot() { policy_state | cut -d' ' -f1; }
generation() {
	"$LOADER" --pin-dir "$PIN" status -o json | jq -r '.generation'
}
# expect_generation N DESCRIPTION
expect_generation() {
	local got
	got=$(generation)
	if [ "$got" = "$1" ]; then _pass "$2 (generation $1)"; else _fail "$2" "expected generation $1, got $got"; fi
}

# ---- documents ------------------------------------------------------------

VNET=/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/app-vnet
SUBNET_CANONICAL=/subscriptions/0000/resourcegroups/rg/providers/microsoft.network/virtualnetworks/app-vnet/subnets/web

# vault_document PROFILE SEGMENT_INTERFACE: a vault resource as az keyvault
# show prints it, with the host section.
vault_document() {
	cat <<EOF
{
  "id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/cli-vault",
  "name": "cli-vault",
  "type": "Microsoft.KeyVault/vaults",
  "location": "westeurope",
  "properties": {
    "tenantId": "00000000-0000-0000-0000-000000000000",
    "sku": {"family": "A", "name": "standard"},
    "publicNetworkAccess": "Enabled",
    "networkAcls": {
      "defaultAction": "Deny",
      "bypass": "AzureServices",
      "ipRules": [{"value": "203.0.113.0/24"}, {"value": "198.51.100.7"}],
      "virtualNetworkRules": [{"id": "/subscriptions/0000/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/App-VNet/subnets/Web", "ignoreMissingVnetServiceEndpoint": false}]
    }
  },
  "vaultwall": {
    "profile": "$1",
    "dataPlane": {"ports": ["tcp/443"], "addresses": ["192.0.2.10"]},
    "privateEndpoints": ["10.20.0.5"],
    "virtualNetworks": [{"id": "$VNET",
      "segment": {"interface": "$2", "vlan": 100},
      "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24", "serviceEndpoints": ["Microsoft.KeyVault"]}]}],
    "trustedServices": {"serviceTags": "$TAGS", "services": ["Storage"]},
    "mode": "enforce"
  }
}
EOF
}
DOC=$TMP/vault.json
DOC_2018=$TMP/vault-akv-2018.json
DOC_NO_SUCH_INTERFACE=$TMP/vault-no-such-interface.json
DOC_INVALID=$TMP/invalid.json
vault_document akv-current lo >"$DOC"
vault_document akv-2018 lo >"$DOC_2018"
vault_document akv-current vwcnosuch0 >"$DOC_NO_SUCH_INTERFACE"
echo '{"defaultAction": "Deny", "ipRules": [{"value": "10.0.0.0/8"}]}' >"$DOC_INVALID"
chmod 644 "$TMP"/*.json

# ---- fleet put names the vault it writes -----------------------------------

# A shared policy exported from one vault, put for another: refused before
# etcd is reached (the endpoint is a closed port), naming both vaults.
cat >"$TMP/shared.json" <<'EOF'
{"id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/cli-vault",
 "name": "cli-vault",
 "properties": {"networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]}}}
EOF
run "$CTL" fleet put --vault kv-other -f "$TMP/shared.json" --endpoints http://127.0.0.1:1 --dry-run
expect_exit 1 "fleet put --vault of another vault than the document's is refused"
expect_err "--vault kv-other" "... naming the vault asked for"
expect_err "cli-vault" "... and the document's vault"
run "$CTL" fleet put --vault CLI-VAULT -f "$TMP/shared.json" --endpoints http://127.0.0.1:1 --dry-run
expect_exit 1 "fleet put for the document's own vault (any case) goes on to etcd"
expect_err "127.0.0.1:1" "... and fails only on reaching it"

# ---- nothing loaded --------------------------------------------------------

echo "== no pinned maps: every kernel command says to load first"
for command in show stats verify "network-rule list" "explain 203.0.113.9" "apply -f $DOC" \
	"network-rule add --ip-address 192.0.2.77" "update --default-action Deny"; do
	# shellcheck disable=SC2086
	ctl $command
	expect_exit 1 "$command without pinned maps"
	expect_err_ends_with "run vaultwall-loader load first" "$command without pinned maps: hint"
done
ctl diff -f "$DOC"
expect_exit 2 "diff without pinned maps is trouble"
expect_err_ends_with "run vaultwall-loader load first" "diff without pinned maps: hint"

run "$LOADER" --pin-dir "$PIN" load
expect_exit 0 "vaultwall-loader load"
ip netns add "$SEGMENT_NS" && ip -n "$SEGMENT_NS" link set lo up || { echo "FAIL: namespace $SEGMENT_NS"; exit 1; }
run nsenter --net="/run/netns/$SEGMENT_NS" "$LOADER" --pin-dir "$PIN" attach lo --mode generic
expect_exit 0 "vaultwall-loader attach lo (in $SEGMENT_NS, for the segment)"

# ---- a fresh install: Azure's defaults -----------------------------------

echo "== fresh install"
ctl show
expect_exit 0 "show before any apply"
expect_err "no policy applied" "show says no policy is applied"
run jq -e '.properties.networkAcls.defaultAction == "Allow"' <<<"$OUT"
expect_exit 0 "show before any apply: Azure's default (firewall off, defaultAction Allow)"
ctl verify
expect_exit 0 "verify with nothing applied"
ctl verify -o json
check "verify -o json before any apply prints JSON" is_json_with_schema_version <<<"$OUT"
expect_generation 0 "nothing applied yet"

# ---- diff, apply --dry-run, apply ----------------------------------------

echo "== diff / apply --dry-run / apply"
ctl diff -f "$DOC"
expect_exit 1 "diff against a fresh install: different"
expect_out "+ rule 198.51.100.7" "diff lists the added IP rule"
expect_out "+ rule $SUBNET_CANONICAL" "diff lists the added VNET rule in canonical form"
expect_out "~ defaultAction: Allow -> Deny" "diff lists the changed setting"
ctl diff -f "$DOC" -o json
expect_exit 1 "diff -o json: different"
expect_json "diff -o json"
expect_json_value '.changes.same' false "diff -o json says not the same"
ctl diff -f "$DOC_INVALID"
expect_exit 2 "diff with an invalid document is trouble"
ctl diff -f "$TMP/absent.json"
expect_exit 2 "diff with a missing document is trouble"

ctl apply -f "$DOC" --dry-run
expect_exit 0 "apply --dry-run"
expect_out "dry run: would apply generation 1" "apply --dry-run says what it would do"
expect_generation 0 "apply --dry-run changes nothing"
ctl apply -f "$DOC" --dry-run -o json
expect_json "apply --dry-run -o json"
expect_json_value '.dryRun' true "apply --dry-run -o json says dryRun"
expect_generation 0 "apply --dry-run -o json changes nothing"

ctl apply -f "$DOC" -o json
expect_exit 0 "apply"
expect_json "apply -o json"
expect_json_value '.applied' true "apply -o json says applied"
expect_json_value '.generation' 1 "apply -o json gives the new generation"
DIGEST=$(json_value '.digest')
expect_generation 1 "apply makes generation 1"
ctl diff -f "$DOC"
expect_exit 0 "diff after apply: same"
expect_out "no differences" "diff says no differences"
jq '.vaultwall.dataPlane.ports += ["tcp/8443"] | .vaultwall.virtualNetworks[0].subnets[0].addressPrefix = "10.1.1.0/24"' \
	"$DOC" >"$TMP/vault-host-edit.json"
ctl diff -f "$TMP/vault-host-edit.json"
expect_exit 1 "diff of a host-facts edit: different"
expect_out "~ vaultwall.dataPlane.ports: + tcp/8443" "diff names an added port"
expect_out "~ vaultwall.virtualNetworks[app-vnet].subnets[web].addressPrefixes: + 10.1.1.0/24" \
	"diff names a changed subnet prefix at its path (added)"
expect_out "~ vaultwall.virtualNetworks[app-vnet].subnets[web].addressPrefixes: - 10.1.0.0/24" \
	"diff names a changed subnet prefix at its path (removed)"
ctl diff -f "$TMP/vault-host-edit.json" -o json
expect_json_value '.changes.hostChanges | index("vaultwall.dataPlane.ports: + tcp/8443") != null' true \
	"diff -o json lists the host changes"

ctl apply -f "$DOC"
expect_exit 0 "apply of the same document"
expect_out "no change" "apply of the same document: no change"
expect_generation 1 "apply of the same document keeps the generation"
ctl apply -f "$DOC" --force -o json
expect_exit 0 "apply --force"
expect_json_value '.generation' 2 "apply --force rewrites the maps"
expect_json_value '.digest' "$DIGEST" "apply --force keeps the digest"

# ---- show -> apply is a no-op ---------------------------------------------

echo "== show -> apply round trip"
ctl show
expect_exit 0 "show"
printf '%s\n' "$OUT" >"$TMP/shown.json"
ctl show -o json
expect_exit 0 "show -o json"
run jq empty <<<"$OUT"
expect_exit 0 "show -o json parses"
ctl show -o json
check "show -o json has a schemaVersion" is_json_with_schema_version <<<"$OUT"
BEFORE=$(policy_state)
ctl apply -f "$TMP/shown.json"
expect_exit 0 "apply of show's output"
expect_out "no change" "apply of show's output: no change"
check "apply of show's output leaves generation and digest as they were" \
	test "$(policy_state)" = "$BEFORE"
ctl apply -f "$TMP/shown.json" -o json
expect_json_value '.unchanged' true "apply -o json of show's output: unchanged"
ctl diff -f "$TMP/shown.json"
expect_exit 0 "diff of show's output: same"

# ---- network-rule ---------------------------------------------------------

echo "== network-rule list / add / remove"
ctl network-rule list
expect_exit 0 "network-rule list"
check "network-rule list shows each rule with its id" \
	grep -Eq '^[0-9]+ +ip +198\.51\.100\.7$' <<<"$OUT"
ctl network-rule list -o json
expect_json "network-rule list -o json"
expect_json_value '[.ipRules[].value]' '["203.0.113.0/24","198.51.100.7"]' \
	"network-rule list -o json lists the IP rules in document order"
expect_json_value '[.virtualNetworkRules[].id]' "[\"$SUBNET_CANONICAL\"]" \
	"network-rule list -o json lists the VNET rule lower-cased"

# rule_ids: {"rule value": id, ...} from stats -o json.
rule_ids() { "$CTL" --pin-dir "$PIN" stats -o json | jq -c '[.rules[] | {(.value): .id}] | add // {}'; }
IDS=$(rule_ids)
GEN=$(generation)
ctl network-rule add --ip-address 198.51.100.7/32
expect_exit 0 "network-rule add 198.51.100.7/32 when 198.51.100.7 exists (akv-current)"
expect_out "no change" "the /32 is the existing rule: no change"
expect_generation "$GEN" "adding the /32 form changes nothing"
ctl network-rule add --ip-address 203.0.113.0/24
expect_out "no change" "network-rule add of an existing range: no change"
expect_generation "$GEN" "adding an existing range changes nothing"

ctl network-rule add --ip-address 192.0.2.77 192.0.2.78
expect_exit 0 "network-rule add of two addresses"
expect_out "+ rule 192.0.2.77" "the first address is added"
expect_out "+ rule 192.0.2.78" "the second address is added"
expect_generation $((GEN + 1)) "one apply for both addresses"
run jq -en --argjson before "$IDS" --argjson after "$(rule_ids)" \
	'$before | to_entries | all(.value == $after[.key])'
expect_exit 0 "existing rules keep their ids across network-rule add"
ctl network-rule remove --ip-address 192.0.2.77/32 192.0.2.78
expect_exit 0 "network-rule remove (one written as /32)"
expect_out "- rule 192.0.2.77" "the /32 form removes the address rule"
expect_out "- rule 192.0.2.78" "the second address is removed"
ctl network-rule add --ip-address 192.0.2.79 -o json
expect_exit 0 "network-rule add -o json"
expect_json "network-rule add -o json"
expect_json_value '.changes.rulesAdded' '["192.0.2.79"]' "network-rule add -o json names the rule added"
ctl network-rule remove -o json --ip-address 192.0.2.79
expect_json_value '.changes.rulesRemoved' '["192.0.2.79"]' "network-rule remove -o json names the rule removed"
ctl network-rule remove --ip-address 192.0.2.99
expect_exit 0 "network-rule remove of an absent rule"
expect_out "IP rule 192.0.2.99 is not present" "remove says the rule is absent"
expect_out "no change" "remove of an absent rule: no change"

GEN=$(generation)
ctl network-rule add --subnet "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/rg/providers/Microsoft.Network/virtualNetworks/APP-VNET/subnets/WEB"
expect_exit 0 "network-rule add --subnet ID in other case"
expect_out "no change" "subnet ids compare case-insensitively"
ctl network-rule add --vnet-name App-VNet --subnet Web
expect_out "no change" "--vnet-name/--subnet of the existing rule, other case: no change"
expect_generation "$GEN" "the VNET rule exists: nothing applied"
ctl network-rule remove --subnet "${SUBNET_CANONICAL^^}"
expect_exit 0 "network-rule remove --subnet in upper case"
expect_out "- rule $SUBNET_CANONICAL" "the VNET rule is removed"
ctl network-rule add --vnet-name app-vnet --subnet web
expect_exit 0 "network-rule add --vnet-name app-vnet --subnet web"
expect_out "+ rule $SUBNET_CANONICAL" "the VNET rule is back"

GEN=$(generation)
ctl network-rule add --ip-address 10.0.0.1
expect_exit 1 "network-rule add of a private address"
expect_err "--ip-address 10.0.0.1: 10.0.0.1 belongs to forbidden range 10.0.0.0-10.255.255.255 (private IP addresses)" \
	"the error is named by the flag that brought the value"
ctl network-rule add --vnet-name other-vnet --subnet web
expect_exit 1 "network-rule add --vnet-name of an unknown virtual network"
expect_err_ends_with "describe it under vaultwall.virtualNetworks and apply that document first" \
	"unknown virtual network: hint"
ctl network-rule add --subnet web
expect_exit 1 "network-rule add --subnet NAME without --vnet-name"
expect_err_ends_with "give the full id, or the subnet name with --vnet-name" "subnet name alone: hint"
expect_generation "$GEN" "refused edits apply nothing"

# ---- update ---------------------------------------------------------------

echo "== update"
GEN=$(generation)
ctl update --default-action Allow --bypass None
expect_exit 0 "update --default-action Allow --bypass None"
expect_out "~ defaultAction: Deny -> Allow" "update reports the default action change"
expect_out "~ bypass: AzureServices -> None" "update reports the bypass change"
expect_generation $((GEN + 1)) "update applies once"
ctl update --default-action allow
expect_out "no change" "update to the current value (any case): no change"
ctl update --default-action allow -o json
expect_json "update -o json"
expect_json_value '.unchanged' true "update -o json says unchanged"
ctl update --public-network-access Disabled --mode audit
expect_exit 0 "update --public-network-access Disabled --mode audit"
ctl show
run jq -e '.properties.publicNetworkAccess == "Disabled" and .vaultwall.mode == "audit"' <<<"$OUT"
expect_exit 0 "show reflects the updated settings"
GEN=$(generation)
ctl update --default-action Maybe
expect_err '--default-action: Maybe not in {Allow,Deny}' "a bad --default-action is named"
expect_exit 2 "a bad --default-action is a usage error"
expect_generation "$GEN" "a refused update applies nothing"
ctl apply -f "$DOC"
expect_exit 0 "apply the document again after the updates"

# ---- stats / explain ------------------------------------------------------

echo "== stats / explain"
ctl stats
expect_exit 0 "stats"
expect_out "default_deny" "stats lists the verdict classes"
expect_out "198.51.100.7" "stats lists the rules"
ctl stats -o json
expect_exit 0 "stats -o json"
expect_json "stats -o json"
expect_json_value '.classes | length' 18 "stats -o json has every verdict class"
expect_json_value '[.rules[] | .kind + " " + .value] | sort' \
	"[\"ip 198.51.100.7\",\"ip 203.0.113.0/24\",\"vnet $SUBNET_CANONICAL\"]" \
	"stats -o json has every rule with kind and value"
expect_json_value '[.trustedServices[].service]' '["Storage"]' \
	"stats -o json has the trusted service"
expect_json_value '.generation' "$(generation)" "stats -o json has the generation"

# explain_json SOURCE ARGS... -> prints "verdict class rule-or-service"
explain_expect() { # explain_expect WANT DESCRIPTION SOURCE [ARGS...]
	local want=$1 what=$2
	shift 2
	ctl explain "$@" -o json
	expect_exit 0 "explain $*"
	expect_json "explain $* -o json"
	expect_json_value '.verdict + " " + .class + " " + (.rule.value // .trustedService.name // "-")' \
		"$want" "explain: $what"
}
explain_expect "pass ip_rule 203.0.113.0/24" "an IP rule source" 203.0.113.9
explain_expect "pass ip_rule 198.51.100.7" "the single-address rule" 198.51.100.7
explain_expect "drop default_deny -" "a stranger" 198.51.100.50
explain_expect "pass vnet_rule $SUBNET_CANONICAL" "a subnet source on its segment" 10.1.0.5 --interface lo --vlan 100
explain_expect "drop default_deny -" "a subnet source from the internet" 10.1.0.5
explain_expect "pass trusted_service Storage" "a Storage address (Service Tags file)" 13.65.107.33
explain_expect "pass private_endpoint -" "to the private endpoint from its virtual network" 198.51.100.50 --destination 10.20.0.5 --interface lo --vlan 100
explain_expect "drop default_deny -" "to the private endpoint from the internet: the rules decide" 198.51.100.50 --destination 10.20.0.5
explain_expect "drop default_deny -" "GRE from a stranger (no tunnel declared)" 198.51.100.50 --proto gre
explain_expect "pass ip_rule 203.0.113.0/24" "VXLAN from an IP rule's source" 203.0.113.9 --proto udp --port 4789
explain_expect "drop default_deny -" "VXLAN to the limited broadcast address (weak host)" 198.51.100.50 --proto udp --port 4789 --destination 255.255.255.255
explain_expect "pass unprotected -" "ssh is not data plane" 198.51.100.50 --port 22
ctl explain 203.0.113.9
expect_exit 0 "explain (table)"
expect_out "credited rule" "explain names the credited rule"
ctl explain 203.0.113.9 --interface vwcnosuch0
expect_exit 1 "explain --interface that does not exist"

# ---- verify and drift -----------------------------------------------------

echo "== verify"
ctl verify
expect_exit 0 "verify in sync"
expect_out "in sync" "verify says in sync"
ctl verify -o json
expect_json "verify -o json"
expect_json_value '.inSync' true "verify -o json says in sync"

SLOT=$(active_slot)
# 192.0.2.99/32 (vnet 0) -> rule 1, written behind vaultwallctl's back into
# the ACTIVE slot's trie: vw_rule_key {prefixlen 64, vnet_id 0, addr}.
run bpftool map update pinned "$PIN/vw_rules_$SLOT" \
	key hex 40 00 00 00 00 00 00 00 c0 00 02 63 value hex 01 00 00 00
expect_exit 0 "tamper with vw_rules_$SLOT (the active slot) using bpftool"
ctl verify
expect_exit 1 "verify after tampering"
expect_out "DRIFT" "verify reports drift"
expect_out "rule trie: 1 unexpected entries in the kernel" "verify names the extra entry"
expect_out "apply --force" "verify says how to repair"
# Host facts named by the environment: show's document carries its own, so
# the repair verify prints unsets the variable, and works as printed.
echo '{"dataPlane": {"ports": ["tcp/443"]}}' >"$TMP/facts.json"
VAULTWALL_HOST_FACTS=$TMP/facts.json ctl verify
expect_out "env -u VAULTWALL_HOST_FACTS" "... with \$VAULTWALL_HOST_FACTS set, the repair unsets it"
REPAIR=$(grep -o 'vaultwallctl --pin-dir [^)]*' <<<"$OUT")
run env VAULTWALL_HOST_FACTS="$TMP/facts.json" PATH="$(dirname "$CTL"):$PATH" \
	bash -c "cd '$TMP' && $REPAIR"
expect_exit 0 "... the repair as printed re-applies the stored policy"
ctl verify
expect_exit 0 "... and verify is in sync again"
SLOT=$(active_slot) # the repair wrote the other slot and flipped to it
run bpftool map update pinned "$PIN/vw_rules_$SLOT" \
	key hex 40 00 00 00 00 00 00 00 c0 00 02 63 value hex 01 00 00 00
expect_exit 0 "tamper with vw_rules_$SLOT again"
ctl verify -o json
expect_exit 1 "verify -o json after tampering"
expect_json "verify -o json after tampering"
expect_json_value '.inSync' false "verify -o json says not in sync"
ctl apply -f "$DOC" --force
expect_exit 0 "apply --force repairs drift"
ctl verify
expect_exit 0 "verify after apply --force"

# The source index is derived from the tries; a write behind vaultwallctl's
# back would admit sources no rule names. Top chunk 0xc00 covers 192.0.0.0
# to 192.15.255.255; make all 16 of its /16 entries say "IP rule 1".
SLOT=$(active_slot)
run bpftool map update pinned "$PIN/vw_index_$SLOT" key hex 00 0c 00 00 \
	value hex $(for i in $(seq 16); do printf '01 00 00 00 '; done)
expect_exit 0 "tamper with vw_index_$SLOT (the active slot's source index) using bpftool"
ctl verify
expect_exit 1 "verify after tampering with the source index"
expect_out "vw_index_$SLOT: 16 of 65536 entries differ from the rules" "verify names the index entries"
ctl apply -f "$DOC" --force
expect_exit 0 "apply --force repairs the source index"
ctl verify
expect_exit 0 "verify after repairing the source index"

# VLANs on any interface are an array by VID (vw_vlans_N); an entry written
# behind vaultwallctl's back would put VLAN 300 into vnet 1 on every
# interface: vw_vlans_N[300] = {vnet_id 1, index 0}.
SLOT=$(active_slot)
run bpftool map update pinned "$PIN/vw_vlans_$SLOT" key hex 2c 01 00 00 \
	value hex 01 00 00 00 00 00 00 00
expect_exit 0 "tamper with vw_vlans_$SLOT (the active slot's VLAN segments) using bpftool"
ctl verify
expect_exit 1 "verify after tampering with a VLAN segment"
expect_out "segments: 1 unexpected entries in the kernel" "verify names the VLAN entry"
ctl apply -f "$DOC" --force
expect_exit 0 "apply --force repairs the VLAN segments"
ctl verify
expect_exit 0 "verify after repairing the VLAN segments"

# ---- a perimeter's IPv6 prefixes --------------------------------------------

# A perimeter decides IPv6 as IPv4 (DESIGN §1.2, §1.11), under akv-current
# too: explain, stats, show and verify see its IPv6 prefix.
echo "== perimeter: IPv6 prefixes in both access modes"
DOC_PERIMETER=$TMP/vault-perimeter.json
for mode in Enforced Transition; do
	jq --arg mode "$mode" '.vaultwall.perimeter = {accessMode: $mode, accessRules: [{name: "office",
		direction: "Inbound", addressPrefixes: ["198.51.100.48/29", "2001:db8:4800::/48"]}]}' \
		"$DOC" >"$DOC_PERIMETER"
	chmod 644 "$DOC_PERIMETER"
	ctl apply -f "$DOC_PERIMETER"
	expect_exit 0 "apply a perimeter with an IPv6 prefix ($mode)"
	check "no IPv6 prefix is skipped ($mode)" test "${ERR/not enforceable/}" = "$ERR"
	explain_expect "pass perimeter_rule perimeter:office" "the perimeter's IPv6 prefix ($mode)" 2001:db8:4800::9
	explain_expect "pass perimeter_rule perimeter:office" "an IPv4-mapped source of its IPv4 prefix ($mode)" ::ffff:198.51.100.50
	ctl stats -o json
	expect_json_value '[.rules[] | select(.kind == "perimeter") | .value]' '["perimeter:office"]' \
		"stats -o json names the perimeter rule ($mode)"
	ctl show -o json
	expect_json_value '.vaultwall.perimeter.accessRules[0].addressPrefixes' \
		'["198.51.100.48/29","2001:db8:4800::/48"]' "show -o json keeps the IPv6 prefix ($mode)"
	ctl verify
	expect_exit 0 "verify in sync with a perimeter's IPv6 prefix ($mode)"
	explain_expect "$([ $mode = Enforced ] && echo "drop perimeter_deny" || echo "drop ipv6_deny") -" \
		"any other IPv6 source ($mode)" 2001:db8:4801::9
done
ctl apply -f "$DOC"
expect_exit 0 "back to the document without a perimeter"

# ---- failed applies change nothing ----------------------------------------

echo "== failed applies leave generation and digest unchanged"
BEFORE=$(policy_state)
ctl apply -f "$DOC_INVALID"
expect_exit 1 "apply of an invalid document"
expect_err "nothing was applied" "apply of an invalid document says nothing was applied"
check "an invalid document changes nothing" test "$(policy_state)" = "$BEFORE"
ctl apply --strict-interfaces -f "$DOC_NO_SUCH_INTERFACE"
expect_exit 1 "apply --strict-interfaces naming an interface that vaultwall does not filter"
expect_err "vwcnosuch0" "the missing interface is named"
check "a document that does not compile changes nothing" test "$(policy_state)" = "$BEFORE"
ctl apply -f "$DOC_INVALID" -o json
expect_json "apply -o json of an invalid document"
expect_json_value '.applied' false "apply -o json says not applied"
# A crash in the middle of writing the idle slot (test hook of slots.h).
run env VAULTWALL_TEST_ABORT_AFTER_WRITES=3 "$CTL" --pin-dir "$PIN" apply -f "$DOC_2018" --force
check "apply killed after 3 map writes did not succeed (exit $RC)" test "$RC" -ne 0
check "a crash before the flip changes nothing" test "$(policy_state)" = "$BEFORE"
ctl verify
expect_exit 0 "the active slot is intact after the crash"

# ---- profile akv-2018 ------------------------------------------------------

echo "== akv-2018: a /31 is refused, a /32 is the address"
ctl apply -f "$DOC_2018"
expect_exit 0 "apply under akv-2018"
GEN=$(generation)
ctl network-rule add --ip-address 198.51.100.6/31
expect_exit 1 "network-rule add 198.51.100.6/31 under akv-2018"
expect_err "configure individual IP address rules" "akv-2018 says to configure individual IP address rules"
expect_generation "$GEN" "the refused /31 applies nothing"
ctl network-rule add --ip-address 198.51.100.7/32
expect_out "no change" "under akv-2018 too, the /32 is the existing address rule"
ctl network-rule add --ip-address 198.51.100.7
expect_out "no change" "the bare address is the existing rule"

# ---- not root -------------------------------------------------------------

echo "== not root: a clear error, exit 1"
as_nobody() { run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" --pin-dir "$PIN" "$@"; }
for command in show stats verify "network-rule list" "explain 203.0.113.9" "apply -f $DOC" \
	"network-rule add --ip-address 192.0.2.77" "update --default-action Allow"; do
	# shellcheck disable=SC2086
	as_nobody $command
	expect_exit 1 "$command as nobody"
	expect_err "needs root" "$command as nobody: says root is needed"
	expect_err_ends_with "run it as root (or with sudo)" "$command as nobody: hint"
done
as_nobody diff -f "$DOC"
expect_exit 2 "diff as nobody is trouble"
as_nobody validate -f "$DOC"
expect_exit 0 "validate as nobody (no kernel, no root)"
check "nobody changed nothing" test "$(generation)" = "$GEN"

finish
