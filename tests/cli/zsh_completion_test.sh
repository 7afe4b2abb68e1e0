#!/usr/bin/env bash
# zsh_completion_test.sh - the zsh completion (packaging/zsh-completion/_vaultwall)
# turns the binaries' own --help into completion specs: subcommands, nested
# subcommands, option values CLI11 lists, files, directories, interfaces.
# compsys is stubbed (_arguments/_describe print what they are given), so
# this runs without a terminal. Exits 77 when zsh is missing.
#
#   zsh_completion_test.sh VAULTWALLCTL VAULTWALL_LOADER COMPLETION_FILE
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 VAULTWALLCTL VAULTWALL_LOADER COMPLETION_FILE" >&2; exit 2; }
CTL=$1 LOADER=$2 COMPLETION=$3
# shellcheck source=../../scripts/lib/checks.sh
source "$(dirname "$0")/../../scripts/lib/checks.sh"
command -v zsh >/dev/null || { echo "SKIP: zsh is missing (apt-get install zsh)"; exit 77; }

check "the completion file is valid zsh" zsh -n "$COMPLETION"

# specs BINARY WORDS...: what the completion hands to compsys when the
# cursor follows WORDS.
specs() {
	local binary=$1
	shift
	zsh -f -c '
		_arguments() { print -rl -- "$@" }
		_describe() { local -a list; list=(${(P)${@[-1]}}); print -rl -- $list }
		compdef() { : }
		state=subcommand
		words=("$1" "${@:2}" "")
		CURRENT=${#words}
		source "$COMPLETION"' zsh "$binary" "$@"
}
export COMPLETION

has() { # has TEXT BINARY WORDS...: the specs contain TEXT
	local want=$1
	shift
	OUT=$(specs "$@")
	grep -qF -- "$want" <<<"$OUT"
}

check "vaultwallctl <TAB> offers subcommands with descriptions" has "update:change settings" "$CTL"
check "vaultwallctl network-rule <TAB> offers add/remove/list" has "remove:remove rules" "$CTL" network-rule
check "vaultwallctl network-rule add takes --ip-address" has "{--ip-address}" "$CTL" network-rule add
check "vaultwallctl update --bypass values come from --help" has "--bypass}[bypass]:value:(AzureServices None)" "$CTL" update
check "vaultwallctl apply -f completes files" has "{-f,--file}[file]:file:_files" "$CTL" apply
check "--pin-dir completes directories after the subcommand" has "[pin-dir]:directory:_files -/" "$CTL" stats
check "options before the subcommand are skipped with their value" \
	has "{--default-action}" "$CTL" --pin-dir /tmp update
check "vaultwallctl explain --interface completes interfaces" has "[interface]:interface:_net_interfaces" "$CTL" explain 192.0.2.1
check "vaultwall-loader attach completes interfaces" has "*:interface:_net_interfaces" "$LOADER" attach
check "vaultwall-loader attach --mode values come from --help" has "[mode]:value:(auto native generic)" "$LOADER" attach
check "vaultwall-loader <TAB> offers its subcommands" has "status:show program" "$LOADER"

finish
