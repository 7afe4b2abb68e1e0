#!/usr/bin/env bash
# hostile_env_test.sh - vaultwall under hostile files, disks and clients:
# nothing a file, a disk or a client does may wedge, crash or mislead the
# tools an operator needs in an emergency.
#
#   hostile_env_test.sh GROUP CTL LOADER SOURCE_DIR
#
# Groups (one ctest each):
#   journal   markers of every wrong shape, wrong-shaped journal lines, a FIFO,
#             a symlink, planted markers and a foreign journal in a
#             world-writable directory, a full disk (small tmpfs), an
#             unprivileged reader, huge reasons
#   document  a damaged stored document: imperative edits say what to do,
#             apply --force -f FILE recovers with the rules' counters
#   phantom   an apply killed at every map write leaves no rule in stats or
#             metrics that the live slot does not enforce; a document too
#             large to store is refused by validate and --dry-run
#   metrics   8 and 64 slow clients, hundreds of idle ones: a scrape still
#             answers within 1 s; the default listen address is loopback
#   readers   purge + load under a running metrics --listen, textfile loop and
#             log --follow (in the host namespace, the interface in another):
#             within 5 s they show the new maps and the next deny, with the
#             interface's name; a second follower is refused
#   input     /dev/zero, FIFOs, oversized files, standard input, control
#             characters, huge values: refused within a second, bounded
#             memory, escaped and truncated output
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 4 ] || { echo "usage: $0 GROUP CTL LOADER SOURCE_DIR" >&2; exit 2; }
GROUP=$1 CTL=$2 LOADER=$3 SRC=$4
# shellcheck source=../../scripts/lib/netns.sh
source "$SRC/scripts/lib/netns.sh"
vw_preflight python3 jq bpftool setpriv timeout mkfifo curl ss /usr/bin/time -- "$CTL" "$LOADER" || exit $?

VW_PREFIX=vwh$$
PIN=/sys/fs/bpf/vwtest-hostile-$$
vw_sweep_stale vwh vwtest-hostile-
vw_install_cleanup_trap
vw_register_pin_dir "$PIN"
vw_mktemp_dir TMP || fatal "temporary directory"
chmod 0755 "$TMP"  # the unprivileged user must reach its world-writable subdirectory
export VAULTWALL_JOURNAL=$TMP/journal/journal.jsonl
export VAULTWALL_RUN_DIR=$TMP/run  # the event reader's lock, not in /run/vaultwall
OLD=$SRC/tests/crash/policy_old.json
NEW=$SRC/tests/crash/policy_new.json
SLOW=$SRC/tests/hostile_env/slow_clients.py
MOUNTS=()
cleanup_mounts() {
	local m
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	MOUNTS=()
}
trap 'cleanup_mounts; vw_cleanup' EXIT

ctl() { timeout 20 "$CTL" --pin-dir "$PIN" "$@"; }
loader() { timeout 20 "$LOADER" --pin-dir "$PIN" "$@"; }
as_nobody() { timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }

# run CMD...: stdout in OUT, stderr in ERR, exit code in RC, wall time in
# ELAPSED (seconds, float). Killed after RUN_TIMEOUT seconds (default 20).
ERRFILE=$TMP/stderr
run() {
	local start=$EPOCHREALTIME
	if declare -F "$1" >/dev/null; then
		OUT=$("$@" 2>"$ERRFILE")  # ctl, loader, as_nobody: bounded themselves
	else
		OUT=$(timeout "${RUN_TIMEOUT:-20}" "$@" 2>"$ERRFILE")
	fi
	RC=$?
	ERR=$(<"$ERRFILE")
	ELAPSED=$(python3 -c "print(round($EPOCHREALTIME - $start, 3))")
}
show_last() { echo "  (exit $RC in ${ELAPSED}s; stdout: ${OUT:0:400}; stderr: ${ERR:0:400})"; }
rc_is() { [ "$RC" -eq "$1" ] || { show_last; return 1; }; }
within() { python3 -c "import sys; sys.exit(0 if $ELAPSED <= $1 else 1)" || { show_last; return 1; }; }
err_has() { grep -qF -- "$1" <<<"$ERR" || { show_last; return 1; }; }
out_has() { grep -qF -- "$1" <<<"$OUT" || { show_last; return 1; }; }
not_aborted() { [ "$RC" -ne 134 ] && [ "$RC" -ne 124 ] || { show_last; return 1; }; }

# Every line of a journal is one whole JSON object and the file ends with a
# newline: records are whole or absent.
journal_whole() {
	python3 - "$1" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
if data and not data.endswith(b"\n"):
    print("  journal does not end with a newline: %r" % data[-80:]); sys.exit(1)
for n, line in enumerate(data.splitlines(), 1):
    try:
        entry = json.loads(line)
    except ValueError:
        print("  line %d is not whole: %r" % (n, line[:120])); sys.exit(1)
    if not isinstance(entry, dict) or "command" not in entry:
        print("  line %d is not an entry: %r" % (n, line[:120])); sys.exit(1)
PY
}
# journal_commands FILE: "command result" per line.
journal_commands() {
	python3 -c '
import json, sys
for line in open(sys.argv[1], "rb").read().splitlines():
    try:
        e = json.loads(line)
        print(e.get("command"), e.get("result"))
    except ValueError:
        print("DAMAGED")' "$1"
}

load_and_apply_old() {
	loader load >/dev/null || fatal "vaultwall-loader load"
	ctl apply -f "$OLD" >/dev/null || fatal "apply the old policy"
}

# ============================================================================
group_journal() {
	local dir=$TMP/journal j=$TMP/journal/journal.jsonl
	load_and_apply_old
	# Markers of every wrong shape beside the journal (dead pids).
	local shapes=('{"pid":"12"}' '{"pid":-7}' '{"pid":1e300,"procStartTicks":1}'
		'{"pid":12,"procStartTicks":"x"}' '{"pid":12,"procStartTicks":-1}' '42' '[1,2]'
		'"text"' 'null' '{}' '{"pid":3,"procStartTicks":1,"command":7,"argv":"x","time":5}'
		'not json at all' '' '{"pid":4,"procStartTicks":1,"rulesAdded":[1],"from":{"generation":"x"}}')
	local i=0 shape
	for shape in "${shapes[@]}"; do
		printf '%s\n' "$shape" >"$dir/.journal.jsonl.pending.$((4000000 + i))"
		i=$((i + 1))
	done
	head -c 3000000 /dev/zero | tr '\0' 'x' >"$dir/.journal.jsonl.pending.4000100"
	mkdir "$dir/.journal.jsonl.pending.4000101"
	mkfifo "$dir/.journal.jsonl.pending.4000102"
	echo precious >"$TMP/victim"
	ln -s "$TMP/victim" "$dir/.journal.jsonl.pending.4000103"

	run ctl apply -f "$NEW"
	check "apply with markers of every wrong shape: exit 0 within 5 s" eval 'rc_is 0 && within 5'
	check "... and a warning names a damaged marker" err_has "journal marker"
	run ctl update --mode enforce
	check "update with damaged markers: exit 0" rc_is 0
	run ctl network-rule add --ip-address 198.51.100.77
	check "network-rule add with damaged markers: exit 0" rc_is 0
	run loader detach --all
	check "loader detach --all with damaged markers: exit 0" rc_is 0
	run loader attach vwh-no-such-if
	check "loader attach (unknown interface) with damaged markers: exit 1, not an abort" rc_is 1
	run ctl history
	check "history with damaged markers: exit 0" rc_is 0
	check "the symlinked marker's target is untouched" grep -qx precious "$TMP/victim"
	rm -rf "$dir"/.journal.jsonl.pending.*

	# Journal lines that are JSON but not entries.
	local line
	for line in '42' '[1]' '"x"' 'null' '{"time":5}' '{"uid":"root"}' '{"rulesAdded":[1]}' \
		'{"from":{"generation":"x"},"to":7,"interfaces":"eth0","reason":5,"command":["a"]}' \
		'{"rulesRemoved":{"a":1},"settingsChanged":[null],"result":false}'; do
		printf '%s\n' "$line" >>"$j"
	done
	run ctl history
	check "history with wrong-shaped lines: exit 0" rc_is 0
	check "... still lists the real entries" out_has "network-rule add"
	run ctl history -o json
	check "history -o json with wrong-shaped lines: exit 0" rc_is 0

	# A FIFO as the journal: nothing may hang.
	mkfifo "$TMP/fifo.jsonl"
	run ctl --journal "$TMP/fifo.jsonl" apply --force -f "$NEW"
	check "apply with a FIFO journal: exit 0 within 5 s" eval 'rc_is 0 && within 5'
	check "... with a warning that the change is not journaled" err_has "not journaled"
	run loader --journal "$TMP/fifo.jsonl" detach --all
	check "loader detach with a FIFO journal: exit 0 within 5 s" eval 'rc_is 0 && within 5'
	run ctl --journal "$TMP/fifo.jsonl" history
	check "history of a FIFO: exit 1 within 5 s, says it is not a regular file" \
		eval 'rc_is 1 && within 5 && err_has "not a regular file"'

	# A symlink as the journal is not followed.
	ln -s "$TMP/victim" "$TMP/link.jsonl"
	run ctl --journal "$TMP/link.jsonl" apply --force -f "$NEW"
	check "apply with a symlinked journal: exit 0, warns" eval 'rc_is 0 && err_has "not journaled"'
	check "... and the symlink's target is untouched" grep -qx precious "$TMP/victim"

	# A world-writable directory: another user plants marker symlinks for the
	# next pids, a forged marker, and a journal of their own.
	local ww=$TMP/ww next pid
	mkdir -m 1777 "$ww"
	ctl --journal "$ww/j.jsonl" apply --force -f "$OLD" >/dev/null 2>&1
	next=$(cat /proc/sys/kernel/ns_last_pid)
	for ((pid = next + 1; pid <= next + 400; pid++)); do
		as_nobody ln -s "$TMP/victim" "$ww/.j.jsonl.pending.$pid" 2>/dev/null
	done
	as_nobody sh -c "printf '%s\n' '{\"schemaVersion\":1,\"pid\":4000200,\"procStartTicks\":1,\"uid\":0,\"command\":\"forged\",\"result\":\"ok\",\"rulesAdded\":[\"0.0.0.0/0\"]}' >'$ww/.j.jsonl.pending.4000200'"
	for i in 1 2 3; do ctl --journal "$ww/j.jsonl" apply --force -f "$NEW" >/dev/null 2>&1; done
	check "planted marker symlinks: the target is untouched" grep -qx precious "$TMP/victim"
	run ctl --journal "$ww/j.jsonl" history -o json
	check "a marker owned by another user is not recorded" eval '! grep -q forged "$ww/j.jsonl" && ! grep -qF forged <<<"$OUT"'
	check "... the applies were journaled all the same" eval '[ "$(grep -c "\"command\":\"apply\"" "$ww/j.jsonl")" -ge 4 ]'
	as_nobody sh -c "printf '%s\n' '{\"schemaVersion\":1,\"command\":\"forged\",\"result\":\"ok\"}' >'$ww/theirs.jsonl'"
	run ctl --journal "$ww/theirs.jsonl" apply --force -f "$OLD"
	check "a journal owned by another user: apply exit 0, not journaled there" \
		eval 'rc_is 0 && err_has "not journaled" && [ "$(wc -l <"$ww/theirs.jsonl")" -eq 1 ]'
	run ctl --journal "$ww/theirs.jsonl" history
	check "history refuses a journal owned by another user" eval 'rc_is 1 && err_has "owned by"'

	# An unprivileged reader of root's journal gets a clear error.
	run as_nobody "$CTL" --journal "$j" history
	check "history as nobody: exit 1 with a message, not an abort" eval 'rc_is 1 && err_has "journal"'

	# A full disk: records are whole or absent, and a change still goes on.
	local full=$TMP/full size
	mkdir "$full"
	mount -t tmpfs -o size=64k,mode=0700 vwhfull "$full" || fatal "mount a small tmpfs"
	MOUNTS+=("$full")
	ctl --journal "$full/j.jsonl" apply --force -f "$OLD" >/dev/null 2>&1
	# More entries until the journal's last page has less room than a line.
	for i in $(seq 1 12); do
		size=$(stat -c %s "$full/j.jsonl")
		[ $((4096 - size % 4096)) -lt 500 ] && break
		ctl --journal "$full/j.jsonl" apply --force -f "$OLD" >/dev/null 2>&1
	done
	dd if=/dev/zero of="$full/filler" bs=4096 2>/dev/null
	truncate -s -4096 "$full/filler"  # one page left: for the marker
	for i in 1 2 3 4; do
		run ctl --journal "$full/j.jsonl" apply --force -f "$NEW"
		[ "$RC" -eq 0 ] || break
	done
	check "applies on a full disk: exit 0" rc_is 0
	check "... every journal record is whole" journal_whole "$full/j.jsonl"
	rm -f "$full/filler"
	run ctl --journal "$full/j.jsonl" apply --force -f "$OLD"
	check "apply after space is freed: exit 0" rc_is 0
	check "... every journal record is whole" journal_whole "$full/j.jsonl"
	check "... the last record is this apply, ok" eval '[ "$(journal_commands "$full/j.jsonl" | tail -1)" = "apply ok" ]'
	check "... no apply is recorded as interrupted" eval '! journal_commands "$full/j.jsonl" | grep -q interrupted'
	cleanup_mounts

	# A huge reason is truncated in the journal and on stderr.
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["networkAcls"]["ipRules"].append({"value": "1.2.3.4x" + "9" * 1000000})
json.dump(d, open(sys.argv[2], "w"))' "$OLD" "$TMP/huge-value.json"
	: >"$TMP/huge.jsonl"
	run ctl --journal "$TMP/huge.jsonl" apply -f "$TMP/huge-value.json"
	check "apply of a 1 MB bogus rule value: exit 1" rc_is 1
	check "... stderr stays under 16 KiB" eval '[ ${#ERR} -lt 16384 ] || { echo "  stderr ${#ERR} bytes"; false; }'
	check "... the journal line stays under 16 KiB" eval '[ "$(wc -c <"$TMP/huge.jsonl")" -lt 16384 ]'
	check "... and says it failed" eval '[ "$(journal_commands "$TMP/huge.jsonl")" = "apply failed" ]'
}

# ============================================================================
# Writes a chunk of LEN bytes of "x" as chunk INDEX of the live slot's document.
damage_stored_document() {
	local slot key value
	slot=$(loader status -o json | jq -r '.activeSlot')
	key=$(python3 -c "import struct,sys; print(' '.join(str(b) for b in struct.pack('<I', $slot * 256)))")
	value=$(python3 -c "import struct; print(' '.join(str(b) for b in struct.pack('<II', 5, 0) + b'xxxxx' + bytes(4096 - 13)))")
	# shellcheck disable=SC2086
	bpftool map update pinned "$PIN/vw_policy_doc" key $key value $value
}

rule_counter() {  # rule_counter VALUE: packets of that rule in stats -o json
	ctl stats -o json | python3 -c '
import json, sys
for r in json.load(sys.stdin)["rules"]:
    if r["value"] == sys.argv[1]: print(r["id"], r["packets"])' "$1"
}

group_document() {
	load_and_apply_old
	# Credit a rule so its counter can be seen to survive: one packet
	# through the production program from an IP rule's source.
	python3 - "$TMP/frame.bin" <<'PY'
import struct, sys
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); return ~(s + (s >> 16)) & 0xffff
src, dst = bytes([198, 51, 100, 7]), bytes([192, 0, 2, 10])
tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
open(sys.argv[1], "wb").write(b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp)
PY
	bpftool prog run pinned "$PIN/vaultwall_xdp" data_in "$TMP/frame.bin" repeat 1 >/dev/null
	local before after
	before=$(rule_counter 198.51.100.7)
	check "the probe packet was credited to rule 198.51.100.7" eval '[ "${before#* }" -ge 1 ]'
	damage_stored_document || fatal "damage the stored document with bpftool"
	run ctl update --default-action Allow
	check "update on a damaged stored document: exit 1, says apply --force -f FILE" \
		eval 'rc_is 1 && err_has "apply --force -f"'
	run ctl network-rule add --ip-address 198.51.100.99
	check "network-rule add on a damaged stored document: exit 1, says apply --force -f FILE" \
		eval 'rc_is 1 && err_has "apply --force -f"'
	run ctl show
	check "show on a damaged stored document: exit 1, says apply --force -f FILE" \
		eval 'rc_is 1 && err_has "apply --force -f"'
	run ctl stats
	check "stats still work with a damaged stored document" rc_is 0
	run ctl verify
	check "verify reports the damaged document as drift" rc_is 1
	run ctl apply --force -f "$OLD"
	check "apply --force -f FILE recovers: exit 0" rc_is 0
	check "... verify is in sync" maps_in_sync ctl
	run ctl show -o json
	check "... show works again" rc_is 0
	after=$(rule_counter 198.51.100.7)
	check "... the rule kept its id and counter ($before -> $after)" eval '[ "$before" = "$after" ]'
	damage_stored_document
	run ctl apply -f "$NEW"
	check "a plain apply -f FILE of another policy over a damaged document: exit 0" rc_is 0
	check "... verify is in sync" maps_in_sync ctl
	# The stored document gone altogether (a chunk of length 0).
	local slot key
	slot=$(loader status -o json | jq -r '.activeSlot')
	key=$(python3 -c "import struct; print(' '.join(str(b) for b in struct.pack('<I', $slot * 256)))")
	# shellcheck disable=SC2086
	bpftool map update pinned "$PIN/vw_policy_doc" key $key value $(python3 -c "print(' '.join(['0'] * 4096))")
	run ctl network-rule add --ip-address 198.51.100.99
	check "network-rule add with an empty stored document: exit 1, says apply --force -f FILE" \
		eval 'rc_is 1 && err_has "apply --force -f"'
	run ctl apply --force -f "$NEW"
	check "apply --force -f FILE recovers from an empty stored document" rc_is 0
}

# ============================================================================
# The rules `stats` and the metrics list are exactly the live document's.
stats_match_live() {
	ctl show -o json >"$TMP/live.json" 2>/dev/null || { echo "  show failed"; return 1; }
	ctl stats -o json >"$TMP/stats.json" || { echo "  stats failed"; return 1; }
	ctl metrics >"$TMP/metrics.prom" || { echo "  metrics failed"; return 1; }
	python3 - "$TMP/live.json" "$TMP/stats.json" "$TMP/metrics.prom" <<'PY'
import ipaddress, json, re, sys
live, stats = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
acls = live["properties"]["networkAcls"]
def canon(v):
    n = ipaddress.ip_network(v, strict=False)
    return str(n.network_address) if n.prefixlen == 32 else str(n)
want = {canon(r["value"]) for r in acls["ipRules"]} | {r["id"].lower() for r in acls["virtualNetworkRules"]}
have = {r["value"] for r in stats["rules"]}
metric = set(re.findall(r'^vaultwall_rule_packets_total\{rule="([^"]*)"', open(sys.argv[3]).read(), re.M))
custom = live.get("vaultwall", {}).get("trustedServices", {}).get("custom", [])
want_services = {s["name"] for s in custom} if acls.get("bypass") == "AzureServices" else set()
have_services = {s["service"] for s in stats["trustedServices"]}
ok = True
for what, got in (("stats", have), ("metrics", metric)):
    if got != want:
        print("  %s rules %s, live %s" % (what, sorted(got - want), sorted(want - got))); ok = False
if have_services != want_services:
    print("  stats services %s, live %s" % (sorted(have_services), sorted(want_services))); ok = False
sys.exit(0 if ok else 1)
PY
}

group_phantom() {
	load_and_apply_old
	local k code phantom=0 points=0
	for k in $(seq 0 40); do
		ctl apply -f "$OLD" >/dev/null 2>&1
		# (a subshell, so the shell's "Aborted" notice goes nowhere)
		(VAULTWALL_TEST_ABORT_AFTER_WRITES=$k timeout 20 "$CTL" --pin-dir "$PIN" apply -f "$NEW") >/dev/null 2>&1
		code=$?
		if ! stats_match_live; then
			echo "  (after an apply aborted at map write $k)"
			phantom=$((phantom + 1))
		fi
		[ "$code" -eq 0 ] && break
		points=$((points + 1))
	done
	check "an apply killed at each of its $points map writes leaves stats and metrics = the live rules" \
		eval '[ "$phantom" -eq 0 ] && [ "$points" -ge 3 ]'

	# A document whose normalised form is too large for the slot.
	python3 - "$TMP/big.json" <<'PY'
import json, sys
vnet = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/a-resource-group/providers/Microsoft.Network/virtualNetworks/vnet"
n = 4000
subnets = [{"name": "subnet-%d" % i, "addressPrefix": "10.%d.%d.0/24" % (i // 256, i % 256),
            "serviceEndpoints": ["Microsoft.KeyVault"]} for i in range(n)]
doc = {"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [],
        "virtualNetworkRules": [{"id": vnet + "/subnets/subnet-%d" % i} for i in range(n)]}},
       "vaultwall": {"limits": {"maxVirtualNetworkRules": n},
                     "virtualNetworks": [{"id": vnet, "segment": {"vlan": 7}, "subnets": subnets}]}}
json.dump(doc, open(sys.argv[1], "w"))
PY
	ctl apply -f "$OLD" >/dev/null 2>&1
	run ctl validate -f "$TMP/big.json"
	check "validate refuses a document too large to store" eval 'rc_is 1 && err_has "bytes"'
	run ctl apply --dry-run -f "$TMP/big.json"
	check "apply --dry-run refuses it too" eval 'rc_is 1 && err_has "bytes"'
	run ctl apply -f "$TMP/big.json"
	check "apply refuses it" rc_is 1
	check "... and leaves no phantom rule" stats_match_live
}

# ============================================================================
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

group_metrics() {
	load_and_apply_old
	local port pid
	port=$(free_port)
	VW_BG_LOG=$TMP/metrics.stderr
	"$CTL" --pin-dir "$PIN" metrics --listen ":$port" >"$TMP/metrics.stderr" 2>&1 &
	pid=$!
	VW_STARTED_PIDS+=("$pid")
	vw_wait_tcp_listen_host "$port" || fatal "metrics server on :$port ($(cat "$TMP/metrics.stderr"))"
	check "--listen :PORT binds loopback only" eval \
		'ss -Hltn "sport = :$port" | grep -q "127.0.0.1:$port" && ! ss -Hltn "sport = :$port" | grep -q "0.0.0.0:$port"'
	run python3 "$SLOW" scrape 127.0.0.1 "$port" 1
	check "a scrape answers within 1 s ($OUT)" rc_is 0

	local n
	for n in 8 64; do
		python3 "$SLOW" hold 127.0.0.1 "$port" "$n" 8 >"$TMP/slow-$n.out" 2>&1 &
		local slow=$!
		VW_STARTED_PIDS+=("$slow")
		sleep 1.5
		local ok=0 t
		for t in 1 2 3 4; do
			run python3 "$SLOW" scrape 127.0.0.1 "$port" 1
			[ "$RC" -eq 0 ] && ok=$((ok + 1))
			echo "  scrape with $n slow clients: $OUT"
			sleep 1.5
		done
		check "with $n slow clients every scrape answers within 1 s ($ok of 4)" eval '[ "$ok" -eq 4 ]'
		wait "$slow"
		check "... the server closed the slow clients at their header deadline ($(cat "$TMP/slow-$n.out"))" \
			eval 'grep -q "closed-by-server $n\$" "$TMP/slow-$n.out"'
	done
	# More idle connections than the server holds: it refuses or drops some,
	# and scrapes still get through.
	python3 "$SLOW" idle 127.0.0.1 "$port" 600 6 >"$TMP/idle.out" 2>&1 &
	local idle=$!
	VW_STARTED_PIDS+=("$idle")
	sleep 1.5
	local ok=0 t
	for t in 1 2 3; do
		run python3 "$SLOW" scrape 127.0.0.1 "$port" 1
		[ "$RC" -eq 0 ] && ok=$((ok + 1))
		echo "  scrape with 600 idle connections: $OUT"
		sleep 0.5
	done
	check "with 600 idle connections every scrape answers within 1 s ($ok of 3)" eval '[ "$ok" -eq 3 ]'
	wait "$idle"
	echo "  idle clients: $(cat "$TMP/idle.out")"
	check "the server is still running" kill -0 "$pid"
	run ctl metrics --listen "127.0.0.1:$port"
	check "a second server on the same port: exit 1 with a clear message" eval 'rc_is 1 && err_has "listen"'
}

vw_wait_tcp_listen_host() {
	local i
	for ((i = 0; i < 50; i++)); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# ============================================================================
group_readers() {
	vw_client_vault_names
	vw_client_vault_up || fatal "namespaces and veth"
	VW_LOADER=$LOADER VW_CTL=$CTL VW_PIN_DIR=$PIN VW_CMD_TIMEOUT=20
	cat >"$TMP/policy.json" <<EOF
{"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None",
  "ipRules": [{"value": "$ALLOWED_IP"}], "virtualNetworkRules": []}},
 "vaultwall": {"dataPlane": {"ports": ["tcp/443"], "addresses": ["$VAULT_IP"]}}}
EOF
	sed "s/$ALLOWED_IP/198.51.100.99/" "$TMP/policy.json" >"$TMP/policy2.json"
	vw_loader "$NS_VAULT" load >/dev/null || fatal "load"
	vw_ctl "$NS_VAULT" apply -f "$TMP/policy.json" >/dev/null || fatal "apply"
	vw_ctl "$NS_VAULT" apply -f "$TMP/policy2.json" >/dev/null || fatal "apply"
	vw_ctl "$NS_VAULT" apply -f "$TMP/policy.json" >/dev/null || fatal "apply"  # generation 3
	vw_loader "$NS_VAULT" attach "$IF_VAULT" --mode native >/dev/null || fatal "attach"

	# The readers run in the host namespace; the interface lives in another.
	local port mpid fpid tpid
	port=$(free_port)
	"$CTL" --pin-dir "$PIN" metrics --listen "127.0.0.1:$port" >"$TMP/metrics.stderr" 2>&1 &
	mpid=$!
	"$CTL" --pin-dir "$PIN" log --follow --output-file "$TMP/follow.jsonl" >"$TMP/follow.stderr" 2>&1 &
	fpid=$!
	mkdir "$TMP/textfile"
	"$CTL" --pin-dir "$PIN" metrics --textfile "$TMP/textfile" --interval 1 >"$TMP/textfile.stderr" 2>&1 &
	tpid=$!
	VW_STARTED_PIDS+=("$mpid" "$fpid" "$tpid")
	vw_wait_tcp_listen_host "$port" || fatal "metrics server ($(cat "$TMP/metrics.stderr"))"
	sleep 0.5
	run "$CTL" --pin-dir "$PIN" log --follow
	check "a second log --follow on the pin dir is refused" eval 'rc_is 1 && err_has "log --follow"'

	knock() {  # a denied SYN to the vault's data port
		vw_in_ns "$NS_CLI" timeout 2 curl -s -o /dev/null --interface "$DENIED_IP" --connect-timeout 0.3 \
			"http://$VAULT_IP:443/" 2>/dev/null
		true
	}
	wait_until() {  # wait_until SECONDS COMMAND...
		local deadline=$((SECONDS + $1))
		shift
		while [ $SECONDS -le $deadline ]; do "$@" && return 0; sleep 0.2; done
		return 1
	}
	scraped_generation() {
		curl -s --max-time 1 "http://127.0.0.1:$port/metrics" | awk '/^vaultwall_policy_generation /{print $2}'
	}
	textfile_generation() { awk '/^vaultwall_policy_generation /{print $2}' "$TMP/textfile/vaultwall.prom" 2>/dev/null; }
	deny_events() { grep -c "\"callerIpAddress\":\"$DENIED_IP\"" "$TMP/follow.jsonl" 2>/dev/null || true; }
	knock_until_logged() {  # knock_until_logged N SECONDS: until N deny events are in the file
		local deadline=$((SECONDS + $2))
		while [ $SECONDS -le $deadline ]; do
			knock
			[ "$(deny_events)" -ge "$1" ] && return 0
			sleep 0.3
		done
		return 1
	}
	check "the follower logs a deny" knock_until_logged 1 5
	check "... naming the interface it arrived on (resolved through the pinned link)" \
		grep -q "\"interface\":\"$IF_VAULT\"" "$TMP/follow.jsonl"
	check "the scrape shows generation 3" eval '[ "$(scraped_generation)" = 3 ]'
	check "the textfile shows generation 3" wait_until 3 eval '[ "$(textfile_generation)" = 3 ]'

	# The documented ABI-upgrade path: purge, load, apply, attach.
	vw_loader "$NS_VAULT" detach --all --purge >/dev/null || fatal "purge"
	vw_loader "$NS_VAULT" load >/dev/null || fatal "load after purge"
	vw_ctl "$NS_VAULT" apply -f "$TMP/policy.json" >/dev/null || fatal "apply after purge"
	vw_loader "$NS_VAULT" attach "$IF_VAULT" --mode native >/dev/null || fatal "attach after purge"
	local start=$SECONDS events
	events=$(deny_events)
	check "within 5 s the scrape shows the new generation 1" wait_until 5 eval '[ "$(scraped_generation)" = 1 ]'
	check "within 5 s the textfile shows generation 1" wait_until 5 eval '[ "$(textfile_generation)" = 1 ]'
	if kill -0 "$fpid" 2>/dev/null; then
		check "within 5 s the follower prints the next deny" knock_until_logged $((events + 1)) 5
	else
		wait "$fpid"
		local code=$?
		check "the follower exited non-zero ($code) when its maps went away" eval '[ "$code" -ne 0 ]'
	fi
	echo "  follower: $(head -c 600 "$TMP/follow.stderr")"
	check "the metrics server is still serving" kill -0 "$mpid"
}

# ============================================================================
group_input() {
	load_and_apply_old
	# Rule documents that are not regular files, or too large.
	run /usr/bin/time -f "%M" "$CTL" validate -f /dev/zero
	check "validate -f /dev/zero: exit 1 within 1 s, says not a regular file" \
		eval 'rc_is 1 && within 1 && err_has "not a regular file"'
	mkfifo "$TMP/doc.fifo"
	run "$CTL" validate -f "$TMP/doc.fifo"
	check "validate -f FIFO: exit 1 within 1 s" eval 'rc_is 1 && within 1 && err_has "not a regular file"'
	run ctl apply -f "$TMP/doc.fifo"
	check "apply -f FIFO: exit 1 within 1 s" eval 'rc_is 1 && within 1'
	truncate -s 100M "$TMP/sparse.json"
	run /usr/bin/time -f "%M" "$CTL" validate -f "$TMP/sparse.json"
	check "a 100 MB file: exit 1 within 1 s, names the size cap" eval 'rc_is 1 && within 1 && err_has "--max-input-size"'
	check "... in bounded memory ($(tail -1 <<<"$ERR") KiB)" eval '[ "$(tail -1 <<<"$ERR")" -lt 100000 ]'
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
open(sys.argv[2], "w").write(json.dumps(d) + " " * (9 << 20))' "$OLD" "$TMP/padded.json"
	run "$CTL" validate -f "$TMP/padded.json"
	check "a 9 MiB document is over the default cap" eval 'rc_is 1 && err_has "--max-input-size"'
	run "$CTL" validate --max-input-size 16M -f "$TMP/padded.json"
	check "... and valid with --max-input-size 16M" rc_is 0
	run bash -c "'$CTL' validate -f - <'$OLD'"
	check "validate -f - reads standard input" eval 'rc_is 0 && out_has "valid"'
	run bash -c "/usr/bin/time -f %M '$CTL' validate -f - </dev/zero"
	check "validate -f - from /dev/zero: exit 1 within 1 s, names the cap" \
		eval 'rc_is 1 && within 1 && err_has "--max-input-size"'
	check "... in bounded memory ($(tail -1 <<<"$ERR") KiB)" eval '[ "$(tail -1 <<<"$ERR")" -lt 100000 ]'
	run bash -c "head -c 100 /dev/zero | '$CTL' validate -f /dev/stdin"
	check "validate -f /dev/stdin (a pipe): refused, points at -f -" eval 'rc_is 1 && err_has "-f -"'

	# Service-tags files that are not regular files.
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["networkAcls"]["bypass"] = "AzureServices"
d["vaultwall"]["trustedServices"] = {"serviceTags": sys.argv[2], "services": ["AzureKeyVault"]}
json.dump(d, open(sys.argv[3], "w"))' "$OLD" /dev/zero "$TMP/tags-zero.json"
	run /usr/bin/time -f "%M" "$CTL" validate -f "$TMP/tags-zero.json"
	check "serviceTags /dev/zero: exit 1 within 1 s, bounded memory" \
		eval 'rc_is 1 && within 1 && err_has "not a regular file" && [ "$(tail -1 <<<"$ERR")" -lt 100000 ]'
	mkfifo "$TMP/tags.fifo"
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d["vaultwall"]["trustedServices"]["serviceTags"] = sys.argv[2]
json.dump(d, open(sys.argv[3], "w"))' "$TMP/tags-zero.json" "$TMP/tags.fifo" "$TMP/tags-fifo.json"
	run ctl apply -f "$TMP/tags-fifo.json"
	check "serviceTags FIFO: apply exit 1 within 1 s" eval 'rc_is 1 && within 1 && err_has "not a regular file"'

	# Control characters from a document are escaped on the terminal.
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["networkAcls"]["ipRules"].append({"value": "8.8.8.8\u001b[2K\u001b]0;owned\u0007\r\u009b"})
json.dump(d, open(sys.argv[2], "w"))' "$OLD" "$TMP/escape.json"
	run "$CTL" validate -f "$TMP/escape.json"
	check "validate: the bad value is reported" eval 'rc_is 1 && err_has "8.8.8.8"'
	check "... with no raw control character on stderr" eval '! LC_ALL=C grep -q "[[:cntrl:]]" <<<"$ERR"'
	check "... and no raw C1 control (U+009B)" eval '! grep -qF "$(printf "\xc2\x9b")" <<<"$ERR"'
	check "... escaped as JSON does (\\u001b)" err_has '\u001b'
	run ctl apply -f "$TMP/escape.json"
	check "apply: no raw control character on stderr" eval 'rc_is 1 && ! LC_ALL=C grep -q "[[:cntrl:]]" <<<"$ERR"'
	run ctl history
	check "history: no raw control character in the table" eval 'rc_is 0 && ! LC_ALL=C grep -q "[[:cntrl:]]" <<<"$OUT"'
}

case $GROUP in
journal | document | phantom | metrics | readers | input) "group_$GROUP" ;;
*)
	echo "unknown group $GROUP" >&2
	exit 2
	;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
