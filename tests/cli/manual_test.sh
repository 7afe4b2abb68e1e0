#!/usr/bin/env bash
# manual_test.sh - the manual pages render and document every command and
# option the binaries have: a subcommand or option added without its
# manual entry fails here.
#
#   manual_test.sh VAULTWALLCTL VAULTWALL_LOADER VAULTWALL_AGENT MAN_DIR
#
# MAN_DIR holds the built pages (*.8.gz, *.5.gz). Runs as any user; exits 77
# when man(1) is missing.
set -uo pipefail

[ $# -eq 4 ] || { echo "usage: $0 VAULTWALLCTL VAULTWALL_LOADER VAULTWALL_AGENT MAN_DIR" >&2; exit 2; }
CTL=$1 LOADER=$2 AGENT=$3 MAN_DIR=$4
# shellcheck source=../../scripts/lib/checks.sh
source "$(dirname "$0")/../../scripts/lib/checks.sh"
command -v man >/dev/null || { echo "SKIP: man is missing (apt-get install man-db)"; exit 77; }

# The page as plain text, wide enough that no option is hyphenated away.
rendered() { MANWIDTH=250 man -l "$MAN_DIR/$1.gz" 2>&1 | col -b; }

# subcommands BINARY [SUBCOMMAND...]: the names listed under "Subcommands:".
subcommands() {
	"$@" --help 2>/dev/null | awk '/^Subcommands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^[^ ]/ {on = 0}'
}

# long_options BINARY [SUBCOMMAND...]: the --long options --help lists.
long_options() {
	"$@" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u
}

# covers PAGE BINARY [SUBCOMMAND...]: the page names the command and its
# options, then recurses into nested subcommands.
covers() {
	local page=$1 text=$2
	shift 2
	local label="${*:2}" sub opt
	if [ $# -gt 1 ]; then
		check "$page documents the command '$label'" grep -qF -- "${*: -1}" <<<"$text"
	fi
	for opt in $(long_options "$@"); do
		check "$page documents ${label:+$label }$opt" grep -qF -- "$opt" <<<"$text"
	done
	for sub in $(subcommands "$@"); do
		covers "$page" "$text" "$@" "$sub"
	done
}

for page in vaultwallctl.8 vaultwall-loader.8 vaultwall-agent.8 vaultwall.json.5 vaultwall-host.json.5; do
	check "$page is built" test -s "$MAN_DIR/$page.gz"
	run man -l "$MAN_DIR/$page.gz"
	expect_exit 0 "man -l $page renders"
	check "$page renders without warnings" bash -c "! MANWIDTH=120 man --warnings -l '$MAN_DIR/$page.gz' 2>&1 >/dev/null | grep -q ."
done

covers vaultwallctl.8 "$(rendered vaultwallctl.8)" "$CTL"
covers vaultwall-loader.8 "$(rendered vaultwall-loader.8)" "$LOADER"
covers vaultwall-agent.8 "$(rendered vaultwall-agent.8)" "$AGENT"
json_page=$(rendered vaultwall.json.5)
for field in defaultAction bypass ipRules virtualNetworkRules ignoreMissingVnetServiceEndpoint \
	publicNetworkAccess profile dataPlane privateEndpoints virtualNetworks trustedServices mode \
	SecuredByPerimeter perimeter accessMode accessRules addressPrefixes Transition Enforced \
	"ARM template" Get-AzKeyVault Get-AzResource "--network-acls" "terraform show" nextLink; do
	check "vaultwall.json.5 documents $field" grep -qF -- "$field" <<<"$json_page"
done
host_page=$(rendered vaultwall-host.json.5)
for field in dataPlane.ports dataPlane.addresses dataPlane.listen dataPlane.tunnels privateEndpoints \
	virtualNetworks[].segment virtualNetworks[].subnets serviceTags description VAULTWALL_HOST_FACTS \
	"host init"; do
	check "vaultwall-host.json.5 documents $field" grep -qF -- "$field" <<<"$host_page"
done

finish
