#!/usr/bin/env bash
# host_init_test.sh - from Azure to a host as operations.md tells it: a
# vault exported from Azure, `vaultwallctl host init` for its host facts
# skeleton (documents with 0, 1 and several virtual networks), the skeleton
# refused until its placeholders are filled in, then validated and applied
# with --host, and stored self-contained.
#
#   host_init_test.sh VAULTWALLCTL VAULTWALL_LOADER
#
# The apply part needs root (exits 77 without it, after the checks that
# need no privileges). No traffic: the segments are VLANs.
set -uo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 VAULTWALLCTL VAULTWALL_LOADER" >&2
	exit 2
fi
CTL=$1 LOADER=$2
# shellcheck source=../../scripts/lib/checks.sh
source "$(dirname "$0")/../../scripts/lib/checks.sh"
command -v python3 >/dev/null || { echo "missing python3 (run scripts/setup.sh)"; exit 1; }

PIN=/sys/fs/bpf/vwtest-hostinit-$$
TMP=$(mktemp -d "/tmp/vwhi$$.XXXXXX")
cleanup() {
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'cleanup; trap - EXIT; exit 130' INT
trap 'cleanup; trap - EXIT; exit 143' TERM

SUB=/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks
# vault FILE [--private-endpoint] VNET_RULE_IDS...: a vault resource as az
# keyvault show prints it (read-only fields included), with these virtual
# network rules (and a private endpoint connection). az prints the SDK's
# models: a connection's properties flattened into it, and "resourceGroup"
# added to every object that has a resource id (azure-cli's result
# transform), virtual network rules included.
vault() {
	local file=$1
	shift
	python3 - "$file" "$@" <<'EOF'
import json, sys
args = sys.argv[2:]
with_endpoint = args[:1] == ["--private-endpoint"]
rules = [{"id": i, "ignoreMissingVnetServiceEndpoint": False} for i in args[with_endpoint:]]
vault_id = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-prod-1"
endpoint = "/subscriptions/0000/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-kv-prod-1"
connection = {"etag": "", "id": vault_id + "/privateEndpointConnections/pe-kv-prod-1_0a1b",
              "privateEndpoint": {"id": endpoint},
              "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
              "provisioningState": "Succeeded"}
doc = {"id": vault_id, "name": "kv-prod-1", "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
       "properties": {"tenantId": "00000000-0000-0000-0000-000000000000",
                      "sku": {"family": "A", "name": "standard"}, "accessPolicies": [],
                      "vaultUri": "https://kv-prod-1.vault.azure.net/", "provisioningState": "Succeeded",
                      "publicNetworkAccess": "Enabled",
                      "networkAcls": {"defaultAction": "Deny", "bypass": "None",
                                      "ipRules": [{"value": "203.0.113.7/32"}],
                                      "virtualNetworkRules": rules},
                      "privateEndpointConnections": [connection] if with_endpoint else []}}
def add_resource_group(obj):
    if isinstance(obj, list):
        for item in obj:
            add_resource_group(item)
    elif isinstance(obj, dict):
        parts = str(obj.get("id") or "").split("/")
        if "resourceGroup" not in obj and len(parts) > 4 and parts[3].lower() == "resourcegroups":
            obj["resourceGroup"] = parts[4]
        for value in list(obj.values()):
            add_resource_group(value)
add_resource_group(doc)
json.dump(doc, open(sys.argv[1], "w"), indent=2)
EOF
}
# count FILE FILTER: the jq FILTER over a JSON file (compact, strings raw).
count() { jq -rc "$2" "$1"; }
# fill SKELETON OUT: every placeholder filled in, as an operator would.
fill() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
facts = json.load(open(sys.argv[1]))
for n, endpoint in enumerate(facts["privateEndpoints"]):
    endpoint["address"] = "10.9.0.%d" % (n + 1)
for n, vnet in enumerate(facts["virtualNetworks"]):
    vnet["segment"] = {"vlan": 100 + n}
    for m, subnet in enumerate(vnet["subnets"]):
        subnet["addressPrefix"] = "10.%d.%d.0/24" % (n + 1, m)
json.dump(facts, open(sys.argv[2], "w"), indent=2)
EOF
}

# ---- no virtual network ------------------------------------------------------
vault "$TMP/none.json"
run "$CTL" host init -f "$TMP/none.json"
expect_exit 0 "host init on a vault without VNET rules"
printf '%s\n' "$OUT" >"$TMP/none-host.json"
check "... prints JSON with no virtual networks" test "$(count "$TMP/none-host.json" '.virtualNetworks | length')" = 0
check "... with the data plane described" test "$(count "$TMP/none-host.json" '.dataPlane | has("description")')" = true
run "$CTL" validate -f "$TMP/none.json" --host "$TMP/none-host.json"
expect_exit 0 "... its skeleton has nothing to fill in: it validates as printed"

# ---- one virtual network -----------------------------------------------------
vault "$TMP/one.json" --private-endpoint "$SUB/app-vnet/subnets/web"
run env -u VAULTWALL_HOST_FACTS "$CTL" validate -f "$TMP/one.json"
expect_exit 1 "a VNET rule without host facts is refused"
check "... in one error" test "$(grep -c 'error' <<<"$ERR")" = 1
expect_err "vaultwallctl host init" "... that names host init"
run "$CTL" validate --policy-only -f "$TMP/one.json"
expect_exit 0 "validate --policy-only: the Azure side alone is valid"

run "$CTL" host init -f "$TMP/one.json"
expect_exit 0 "host init on a vault with one virtual network"
printf '%s\n' "$OUT" >"$TMP/one-host.json"
check "... one virtual network entry" test "$(count "$TMP/one-host.json" '.virtualNetworks | length')" = 1
check "... with its subnet" test "$(count "$TMP/one-host.json" '.virtualNetworks[0].subnets[0].name')" = web
check "... and the private endpoint of az's flattened connection" \
	test "$(count "$TMP/one-host.json" '[.privateEndpoints[].description | contains("pe-kv-prod-1:")]')" = "[true]"
check "... and descriptions saying what each is" \
	test "$(count "$TMP/one-host.json" '.virtualNetworks[0] | (.description | contains("app-vnet")) and (.subnets[0].description | contains("web"))')" = true
run "$CTL" validate -f "$TMP/one.json" --host "$TMP/one-host.json"
expect_exit 1 "the skeleton is refused until it is filled in"
expect_err "one-host.json:virtualNetworks[0].segment.interface" "... naming the placeholder's path in the host facts file"
expect_err "one-host.json:virtualNetworks[0].subnets[0].addressPrefix" "... every placeholder"
fill "$TMP/one-host.json" "$TMP/one-filled.json"
run "$CTL" validate -f "$TMP/one.json" --host "$TMP/one-filled.json"
expect_exit 0 "filled in, it validates"
VAULTWALL_HOST_FACTS=$TMP/one-filled.json run "$CTL" validate -f "$TMP/one.json"
expect_exit 0 "... and \$VAULTWALL_HOST_FACTS names it too"

# ---- several virtual networks ------------------------------------------------
vault "$TMP/several.json" "$SUB/app-vnet/subnets/web" "$SUB/app-vnet/subnets/api" \
	"$SUB/data-vnet/subnets/db" "${SUB,,}/app-vnet/subnets/WEB"
run "$CTL" host init -f "$TMP/several.json"
expect_exit 0 "host init on a vault with several virtual networks"
printf '%s\n' "$OUT" >"$TMP/several-host.json"
check "... one entry per virtual network (ids compare case-insensitively)" \
	test "$(count "$TMP/several-host.json" '.virtualNetworks | length')" = 2
check "... one per subnet, each once" \
	test "$(count "$TMP/several-host.json" '[.virtualNetworks[].subnets | length]')" = "[2,1]"
fill "$TMP/several-host.json" "$TMP/several-filled.json"
run "$CTL" validate -f "$TMP/several.json" --host "$TMP/several-filled.json"
expect_exit 0 "filled in, it validates"
run "$CTL" validate -f "$TMP/several.json" --host "$TMP/one-filled.json"
expect_exit 1 "another host's facts that lack a virtual network are refused"

# ---- applied -------------------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the apply part needs root"
	finish
	exit 77
fi
if ! mountpoint -q /sys/fs/bpf; then mount -t bpf bpf /sys/fs/bpf || exit 1; fi
for dir in /sys/fs/bpf/vwtest-hostinit-[0-9]*; do
	[ -d "$dir" ] && [ ! -d "/proc/${dir##*-}" ] && rm -rf "$dir"
done
run "$LOADER" --pin-dir "$PIN" load
expect_exit 0 "the program loads"
ctl() { run "$CTL" --pin-dir "$PIN" --journal "$TMP/journal.jsonl" "$@"; }
ctl apply -f "$TMP/several.json" --host "$TMP/several-host.json"
expect_exit 1 "apply refuses the unfilled skeleton"
ctl apply -f "$TMP/several.json" --host "$TMP/several-filled.json"
expect_exit 0 "filled in, it applies"
expect_out "policy digest" "... printing the policy digest"
ctl show -o json
expect_exit 0 "show"
printf '%s\n' "$OUT" >"$TMP/shown.json"
check "... stores the policy with the host facts it was compiled with" \
	test "$(count "$TMP/shown.json" '.vaultwall.virtualNetworks | length')" = 2
rm "$TMP/several-filled.json"
# Nothing is attached here (no traffic), which verify reports; nothing else.
check "verify needs no host facts file (the stored document is self-contained)" \
	maps_in_sync "$CTL" --pin-dir "$PIN" --journal "$TMP/journal.jsonl"

# ---- warnings: once per apply, with a count; -q silences them ----------------
TAGS=$(realpath "$(dirname "$0")/../../data/service-tags/ServiceTags_Public_subset.json")
python3 - "$TMP/warned.json" "$TMP/warned-host.json" "$TAGS" "$SUB" <<'EOF'
import json, sys
vnet = sys.argv[4] + "/v"
json.dump({"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices",
    "virtualNetworkRules": [{"id": vnet + "/subnets/" + s, "ignoreMissingVnetServiceEndpoint": True}
                            for s in ("a", "b", "c")]}},
    "vaultwall": {"trustedServices": {"services": ["AzureKeyVault", "Azure CDN", "Azure Application Gateway"]}}},
    open(sys.argv[1], "w"))
json.dump({"serviceTags": sys.argv[3],
           "virtualNetworks": [{"id": vnet, "segment": {"vlan": 7},
                                "subnets": [{"name": s, "addressPrefix": "10.7.%d.0/24" % n, "serviceEndpoints": []}
                                            for n, s in enumerate(("a", "b", "c"))]}]},
          open(sys.argv[2], "w"))
EOF
warnings() { grep -c '^warning' <<<"$ERR"; }
ctl apply -f "$TMP/warned.json" --host "$TMP/warned-host.json"
expect_exit 0 "a policy with inactive rules, IPv6 trusted prefixes and services without a tag applies"
check "... with one warning for each kind (2: IPv6 trusted prefixes are enforced)" test "$(warnings)" = 2
expect_err "3 virtual network rule(s) kept but inactive" "... the inactive rules counted in one"
expect_err "2 trusted service(s) have no published service tag" "... the services without a tag in one"
check "... none for the IPv6 trusted prefixes" bash -c '! grep -q "IPv6 prefixes of trusted" <<<"$1"' _ "$ERR"
for command in stats show verify "explain 203.0.113.7"; do
	# shellcheck disable=SC2086
	ctl $command
	check "$command does not repeat them" test "$(warnings)" = 0
done
ctl apply -q -f "$TMP/warned.json" --host "$TMP/warned-host.json" --force
expect_exit 0 "apply -q"
check "... prints no warning" test "$(warnings)" = 0
ctl apply -f "$TMP/warned.json" --host "$TMP/warned-host.json" --force --only-show-errors
check "--only-show-errors after the command: none either" test "$(warnings)" = 0

finish
