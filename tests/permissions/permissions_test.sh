#!/usr/bin/env bash
# Permissions: pins are 0600 and the pin directory 0700; an
# unprivileged user can neither change the maps, nor detach the program,
# nor read the journal, and is told why.
#   permissions_test.sh CTL LOADER SOURCE_DIR
set -euo pipefail
ctl=$1 loader=$2 src=$3
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIPPED: the permissions test loads the XDP program and switches users; run ctest as root"
	exit 77
fi
if ! command -v setpriv >/dev/null; then
	echo "SKIPPED: setpriv (util-linux) is missing"; exit 77
fi
pin=/sys/fs/bpf/vwtest-perm-$$
veth=vwperm$$
work=$(mktemp -d)
chmod 0755 "$work"
cleanup() {
	"$loader" --pin-dir "$pin" detach --all >/dev/null 2>&1 || true
	ip link del "$veth" 2>/dev/null || true
	rm -rf "$pin" "$work"
}
trap cleanup EXIT
failures=0 checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { checks=$((checks + 1)); }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }

"$loader" --pin-dir "$pin" load >/dev/null
cp "$src/tests/hostile/good.json" "$work/good.json"
chmod 0644 "$work/good.json"
journal_args=()
if "$ctl" --help 2>&1 | grep -q -- "--journal"; then
	journal_args=(--journal "$work/journal/journal.jsonl")
fi
"$ctl" --pin-dir "$pin" "${journal_args[@]}" apply -f "$work/good.json" >/dev/null 2>&1
ip link add "$veth" type veth peer name "${veth}p"
ip link set "$veth" up
"$loader" --pin-dir "$pin" attach "$veth" >/dev/null
generation_before=$("$ctl" --pin-dir "$pin" show -o json | sha256sum)

# Modes of the pin directory and of every pin.
mode=$(stat -c %a "$pin")
check; [ "$mode" = 700 ] || fail "pin directory $pin has mode $mode, expected 700"
pins=0
for f in "$pin"/*; do
	pins=$((pins + 1))
	mode=$(stat -c %a "$f")
	check; [ "$mode" = 600 ] || fail "pin $f has mode $mode, expected 600"
done
echo "permissions: pin directory 0700, $pins pins checked for 0600"

# The unprivileged user is refused, with a message that says why.
expect_refused() {
	local what=$1; shift
	set +e
	as_nobody "$@" >"$work/out" 2>&1
	local code=$?
	set -e
	check
	if [ "$code" -eq 0 ]; then
		fail "nobody could $what: $*"
	elif ! grep -qiE "root|permission|not permitted|privilege" "$work/out"; then
		fail "nobody's attempt to $what failed without a clear reason: $(head -3 "$work/out")"
	else
		echo "permissions: nobody cannot $what: $(head -1 "$work/out")"
	fi
}
expect_refused "apply a policy" "$ctl" --pin-dir "$pin" apply -f "$work/good.json"
expect_refused "change a setting" "$ctl" --pin-dir "$pin" update --default-action Allow
expect_refused "add a rule" "$ctl" --pin-dir "$pin" network-rule add --ip-address 8.8.8.8
expect_refused "detach the program" "$loader" --pin-dir "$pin" detach "$veth"
expect_refused "detach everything" "$loader" --pin-dir "$pin" detach --all
expect_refused "update a map with bpftool" bpftool map update pinned "$pin/vw_active" key 0 0 0 0 value 1 0 0 0
expect_refused "remove a pin" rm -f "$pin/vw_active"

# Nothing changed: same policy, still attached.
check; [ "$("$ctl" --pin-dir "$pin" show -o json | sha256sum)" = "$generation_before" ] ||
	fail "the policy changed after nobody's attempts"
check; "$loader" --pin-dir "$pin" status 2>&1 | grep -q "$veth" || fail "the program is no longer attached to $veth"

# The journal: written by vaultwallctl (--journal) or at its default place.
journal=""
if [ ${#journal_args[@]} -gt 0 ] && [ -f "$work/journal/journal.jsonl" ]; then
	journal=$work/journal/journal.jsonl
elif [ -f /var/lib/vaultwall/journal.jsonl ]; then
	journal=/var/lib/vaultwall/journal.jsonl
fi
if [ -n "$journal" ]; then
	mode=$(stat -c %a "$journal")
	check; [ "$mode" = 600 ] || fail "journal $journal has mode $mode, expected 600"
	expect_refused "read the journal" cat "$journal"
	if "$ctl" --help 2>&1 | grep -qE "^\s+history"; then
		expect_refused "read the journal with vaultwallctl history" "$ctl" --pin-dir "$pin" "${journal_args[@]}" history
	fi
else
	echo "permissions: no journal found (vaultwallctl has no --journal and /var/lib/vaultwall/journal.jsonl does not exist): journal checks skipped"
fi

echo "permissions: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
