#!/usr/bin/env bash
# usage_test.sh - what vaultwallctl and vaultwall-loader do before they touch
# the kernel: usage errors exit 2, `validate` needs no root and exits 0/1,
# its JSON output parses. Runs as any user.
#
#   usage_test.sh VAULTWALLCTL VAULTWALL_LOADER SOURCE_DIR
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 VAULTWALLCTL VAULTWALL_LOADER SOURCE_DIR" >&2; exit 2; }
CTL=$1 LOADER=$2 SRC=$3
# shellcheck source=../../scripts/lib/checks.sh
source "$(dirname "$0")/../../scripts/lib/checks.sh"

TMP=$(mktemp -d "/tmp/vwcu$$.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
# A pin dir that cannot exist: usage errors must be found before any use of it.
NO_PINS=/sys/fs/bpf/vwtest-cli-usage-$$-absent

ctl() { run "$CTL" --pin-dir "$NO_PINS" "$@"; }
loader() { run "$LOADER" --pin-dir "$NO_PINS" "$@"; }

echo "== usage errors exit 2 (vaultwallctl)"
ctl
expect_exit 2 "no subcommand"
ctl frobnicate
expect_exit 2 "unknown subcommand"
expect_err 'unknown command "frobnicate"' "... named as such"
expect_err "network-rule" "... with the commands there are"
ctl fleet frobnicate
expect_exit 2 "unknown fleet subcommand"
expect_err 'unknown command "fleet frobnicate"' "... named with its parent"
for command in validate apply diff; do
	ctl $command
	expect_exit 2 "$command without -f"
done
ctl apply -f x.json --no-such-flag
expect_exit 2 "apply with an unknown flag"
ctl network-rule
expect_exit 2 "network-rule without add/remove/list"
ctl network-rule add
expect_exit 2 "network-rule add without --ip-address or --subnet"
expect_err "give --ip-address and/or --subnet" "network-rule add says what to give"
ctl network-rule remove
expect_exit 2 "network-rule remove without --ip-address or --subnet"
ctl update
expect_exit 2 "update without a setting"
expect_err "give at least one setting to change" "update says what to give"
ctl explain
expect_exit 2 "explain without a source"
ctl explain 203.0.113.9 --port https
expect_exit 2 "explain --port that is not a number"
ctl explain 203.0.113.9 --proto sctp
expect_exit 2 "explain --proto other than tcp/udp"
for command in stats show verify "network-rule list"; do
	# shellcheck disable=SC2086
	ctl $command -o yaml
	expect_exit 2 "$command -o yaml (only table or json)"
done
ctl validate -f x.json --profile akv-2030
expect_exit 2 "validate --profile that does not exist"
ctl --help
expect_exit 0 "--help"
expect_out "Exit codes: 0 ok, 1 error, 2 usage" "--help documents the exit codes"

echo "== options before or after the subcommand"
run "$CTL" stats --pin-dir "$NO_PINS"
expect_exit 1 "stats --pin-dir after the subcommand is accepted (then: nothing loaded)"
expect_err "$NO_PINS" "the pin dir given after the subcommand is the one used"
run "$CTL" -o json --pin-dir "$NO_PINS" verify
expect_exit 1 "-o and --pin-dir before the subcommand are accepted"
run env VAULTWALL_PIN_DIR="$NO_PINS" "$CTL" stats
expect_err "$NO_PINS" "VAULTWALL_PIN_DIR is the default pin dir"
run env VAULTWALL_PIN_DIR=/sys/fs/bpf/elsewhere "$CTL" stats --pin-dir "$NO_PINS"
expect_err "$NO_PINS" "--pin-dir wins over VAULTWALL_PIN_DIR"
ctl -o jsonl stats
expect_exit 2 "-o before the subcommand is checked against what it takes"
ctl network-rule add --ip-address 198.51.100.7 --pin-dir "$NO_PINS" --bogus
expect_exit 2 "unknown options after a nested subcommand are still usage errors"
run "$LOADER" status --pin-dir "$NO_PINS" -o json
check "loader: --pin-dir after the subcommand" grep -qF -- "$NO_PINS" <<<"$OUT$ERR"
run env VAULTWALL_PIN_DIR="$NO_PINS" "$LOADER" status
check "loader: VAULTWALL_PIN_DIR is the default pin dir" grep -qF -- "$NO_PINS" <<<"$OUT$ERR"
loader -o tsv attach lo
expect_exit 2 "loader: -o tsv on a subcommand without a table"
check "... the error says what attach takes" grep -qF "attach -o takes table or json" <<<"$ERR"

echo "== usage errors exit 2 (vaultwall-loader)"
loader
expect_exit 2 "no subcommand"
loader frobnicate
expect_exit 2 "unknown subcommand"
loader attach
expect_exit 2 "attach without an interface"
loader attach lo --mode turbo
expect_exit 2 "attach --mode other than auto/native/generic"
loader detach
expect_exit 2 "detach without interfaces or --all"
expect_err "name interfaces or give --all" "detach says what to give"
loader detach lo --all
expect_exit 2 "detach with both interfaces and --all"
loader status -o yaml
expect_exit 2 "status -o yaml"
loader --help
expect_exit 0 "--help"

echo "== validate: no kernel, exit 0 valid / 1 invalid"
for doc in "$SRC"/tests/data/good/*.json "$SRC"/examples/vault.json; do
	ctl validate -f "$doc"
	expect_exit 0 "validate ${doc#"$SRC"/}"
	ctl validate -f "$doc" -o json
	expect_json "validate -o json ${doc#"$SRC"/}"
	expect_json_value '.valid' true "validate -o json ${doc#"$SRC"/} says valid"
done

cat >"$TMP/typo-and-private.json" <<'EOF'
{"defaultAction": "Deny", "bypas": "None", "ipRules": [{"value": "10.0.0.0/8"}]}
EOF
ctl validate -f "$TMP/typo-and-private.json"
expect_exit 1 "validate: a document with two errors"
expect_err 'bypas: unknown field "bypas" in networkAcls (did you mean "bypass"?)' \
	"the unknown field is named with its path and a suggestion"
expect_err "ipRules[0].value: 10.0.0.0/8 belongs to forbidden range 10.0.0.0-10.255.255.255 (private IP addresses)" \
	"the private range is named with its path (every error is reported)"
expect_err "invalid; nothing was applied" "validate says nothing was applied"
ctl validate -f "$TMP/typo-and-private.json" -o json
expect_exit 1 "validate -o json of an invalid document"
expect_json "validate -o json of an invalid document"
expect_json_value '.valid' false "validate -o json says invalid"
expect_json_value '[.diagnostics[] | select(.severity == "error") | .path]' \
	'["bypas","ipRules[0].value"]' "validate -o json lists both errors with their paths"

ctl validate -f "$TMP/does-not-exist.json"
expect_exit 1 "validate of a missing file"
expect_err "cannot read $TMP/does-not-exist.json" "a missing file is named"

echo "== profiles: /32 is the address under both, /31 a range akv-2018 refuses"
echo '{"defaultAction": "Deny", "ipRules": [{"value": "198.51.100.7/32"}]}' >"$TMP/slash32.json"
ctl validate -f "$TMP/slash32.json"
expect_exit 0 "akv-current (the default) accepts Azure's /32 form as the address"
expect_out "profile akv-current" "akv-current is the default profile"
ctl validate -f "$TMP/slash32.json" --profile akv-2018
expect_exit 0 "akv-2018 accepts the /32 form too"
echo '{"defaultAction": "Deny", "ipRules": [{"value": "198.51.100.6/31"}]}' >"$TMP/slash31.json"
ctl validate -f "$TMP/slash31.json" --profile akv-2018
expect_exit 1 "akv-2018 refuses a /31 range"
expect_err "ipRules[0].value: 198.51.100.6/31: /31 ranges are not supported by profile akv-2018; configure individual IP address rules" \
	"akv-2018 says to configure individual IP address rules"
ctl validate -f "$TMP/slash31.json"
expect_exit 0 "akv-current accepts a /31 range"

echo "== validate needs no root"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	cp "$SRC/tests/data/good/bare-network-acls.json" "$TMP/bare-network-acls.json"
	chmod 644 "$TMP/bare-network-acls.json"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" --pin-dir "$NO_PINS" \
		validate -f "$TMP/bare-network-acls.json"
	expect_exit 0 "validate as user nobody"
else
	ctl validate -f "$SRC/tests/data/good/bare-network-acls.json"
	expect_exit 0 "validate as $(id -un)"
fi

finish
