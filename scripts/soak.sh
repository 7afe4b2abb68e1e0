#!/usr/bin/env bash
# soak.sh - vaultwall for N minutes under a flood, with faults: applies
# (some killed with kill -9), loader reloads (some killed), a full journal
# disk, purge + load, killed log followers, slow HTTP clients, while a
# metrics server, a metrics textfile loop and a log follower run. Reports
# leaks (fds, memory, BPF maps and programs) and wrong verdicts; both must
# be 0. Not a test (it runs for minutes): run it before a release.
#
#   scripts/soak.sh [--minutes N] [--rate PPS] [--ctl PATH] [--loader PATH]
#
# Topology: netns <P>vault (192.0.2.10, the XDP program on its veth) and
# <P>cli (sources 198.51.100.20 allowed, 203.0.113.20 denied), UDP/443 from
# both at --rate packets/s in total. nftables in the vault namespace counts
# what got past XDP per source. A denied datagram counted outside a purge
# window (purge -> load -> apply -> attach, when nothing filters by design)
# is a wrong verdict; so is an allowed datagram that was sent and not counted.
# Exit 0 when no leak and no wrong verdict was seen, 1 otherwise, 77 when
# not root.
set -uo pipefail
# Run from a private copy of this script and of the binaries: bash reads a
# script as it runs, and a rebuild or an edit during a 30-minute soak must
# not change what it runs.
if [ -z "${VW_SOAK_COPY:-}" ]; then
	copy=$(mktemp /tmp/vwsoak-script.XXXXXX) && cp "$0" "$copy" || exit 1
	VW_SOAK_COPY=$copy VW_SOAK_SRC=$(cd "$(dirname "$0")/.." && pwd) exec bash "$copy" "$@"
fi
rm -f "$VW_SOAK_COPY"  # bash keeps it open
SRC=$VW_SOAK_SRC
cd "$SRC" || exit 1
MINUTES=30 RATE=1000
CTL=$SRC/build/ctl/vaultwallctl LOADER=$SRC/build/loader/vaultwall-loader
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) MINUTES=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--ctl) CTL=$2; shift 2 ;;
	--loader) LOADER=$2; shift 2 ;;
	*) echo "usage: $0 [--minutes N] [--rate PPS] [--ctl PATH] [--loader PATH]" >&2; exit 2 ;;
	esac
done

# shellcheck source=lib/netns.sh
source "$SRC/scripts/lib/netns.sh"
vw_preflight ip nsenter nft python3 curl bpftool timeout -- "$CTL" "$LOADER" || exit $?

VW_PREFIX=vws$$
vw_client_vault_names
PIN=/sys/fs/bpf/vwsoak-$$
vw_sweep_stale vws vwsoak-
vw_install_cleanup_trap
vw_register_pin_dir "$PIN"
vw_mktemp_dir TMP || fatal "temporary directory"
cp "$CTL" "$TMP/vaultwallctl" && cp "$LOADER" "$TMP/vaultwall-loader" || fatal "copy the binaries"
CTL=$TMP/vaultwallctl LOADER=$TMP/vaultwall-loader
FULL=$TMP/full
MOUNTED=0
soak_cleanup() {
	[ "$MOUNTED" = 1 ] && umount -l "$FULL"
	MOUNTED=0
	vw_cleanup
}
trap 'soak_cleanup' EXIT
trap 'soak_cleanup; trap - EXIT; exit 130' INT
trap 'soak_cleanup; trap - EXIT; exit 143' TERM
export VAULTWALL_RUN_DIR=$TMP/run
VW_LOADER=$LOADER VW_CTL=$CTL VW_PIN_DIR=$PIN VW_CMD_TIMEOUT=30
loader() { vw_loader "$NS_VAULT" "$@"; }
ctl() { vw_ctl "$NS_VAULT" --journal "$FULL/journal.jsonl" "$@"; }
log() { printf '%s soak: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

problems=()
problem() { problems+=("$*"); log "PROBLEM: $*"; }

# ---- topology, policies, counters --------------------------------------------
vw_client_vault_up || fatal "namespaces and veth"
mkdir -p "$FULL"
mount -t tmpfs -o size=64k,mode=0700 vwsoakfull "$FULL" && MOUNTED=1 || fatal "tmpfs for the journal"
for name in A B; do
	extra=$([ $name = A ] && echo '{"value": "20.1.0.0/16"}' || echo '{"value": "20.2.0.0/16"}, {"value": "52.10.0.0/16"}')
	cat >"$TMP/policy-$name.json" <<EOF
{"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None",
  "ipRules": [{"value": "$ALLOWED_IP"}, $extra], "virtualNetworkRules": []}},
 "vaultwall": {"dataPlane": {"ports": ["udp/443", "tcp/443"], "addresses": ["$VAULT_IP"]}}}
EOF
done
vw_in_ns "$NS_VAULT" nft -f - <<EOF || fatal "nftables counters"
table ip vwsoak {
	chain input {
		type filter hook input priority 0;
		ip saddr $DENIED_IP udp dport 443 counter drop
		ip saddr $ALLOWED_IP udp dport 443 counter drop
	}
}
EOF
# delivered SOURCE: datagrams from SOURCE that got past XDP.
delivered() {
	vw_in_ns "$NS_VAULT" nft -j list table ip vwsoak | python3 -c '
import json, sys
for item in json.load(sys.stdin)["nftables"]:
    rule = item.get("rule")
    if not rule or sys.argv[1] not in json.dumps(rule["expr"]): continue
    print(next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e))' "$1"
}

loader load >/dev/null || fatal "load"
ctl apply -f "$TMP/policy-A.json" >/dev/null 2>&1 || fatal "apply"
loader attach "$IF_VAULT" --mode native >/dev/null || fatal "attach"

# ---- long-running readers (host namespace) and traffic --------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_bg() {  # start_bg NAME CMD...: VAR NAME_PID holds its pid
	local name=$1
	shift
	"$@" >>"$TMP/$name.out" 2>>"$TMP/$name.err" </dev/null &
	printf -v "${name}_PID" '%s' $!
	VW_STARTED_PIDS+=($!)
}
start_bg metrics "$CTL" --pin-dir "$PIN" metrics --listen "127.0.0.1:$PORT"
mkdir "$TMP/textfile"
start_bg textfile "$CTL" --pin-dir "$PIN" metrics --textfile "$TMP/textfile" --interval 1
start_follower() { start_bg follower "$CTL" --pin-dir "$PIN" log --follow --output-file "$TMP/events.jsonl"; }
start_follower
SECONDS_TOTAL=$((MINUTES * 60))
VW_BG_LOG=$TMP/flood.json vw_in_ns_bg "$NS_CLI" python3 "$SRC/tests/e2e/udp_flood.py" \
	"$VAULT_IP" 443 "$RATE" $((SECONDS_TOTAL + 120)) "$TMP/stop-flood" "$ALLOWED_IP" "$DENIED_IP"
FLOOD_PID=$VW_LAST_PID
sleep 3

# ---- leak probes --------------------------------------------------------------------
pinned_map_ids() {
	local f
	for f in "$PIN"/vw_*; do bpftool map show pinned "$f" 2>/dev/null | awk -F: 'NR == 1 {print $1}'; done
}
# probe PID: "fds N rss_kib N bpf_maps N stale_maps N" (stale: not pinned now)
probe() {
	local pid=$1 fds rss maps=0 stale=0 pinned f id
	[ -d "/proc/$pid" ] || { echo "gone"; return; }
	pinned=" $(pinned_map_ids | tr '\n' ' ') "
	fds=$(ls "/proc/$pid/fd" | wc -l)
	rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
	for f in /proc/"$pid"/fdinfo/*; do
		id=$(awk '/^map_id:/{print $2}' "$f" 2>/dev/null)
		[ -n "$id" ] || continue
		maps=$((maps + 1))
		[[ $pinned == *" $id "* ]] || stale=$((stale + 1))
	done
	echo "fds $fds rss_kib $rss bpf_maps $maps stale_maps $stale"
}
# Programs that use this pin dir's maps (the pinned one and any leaked one).
programs_on_our_maps() {
	local active
	active=$(bpftool map show pinned "$PIN/vw_active" | awk -F: 'NR == 1 {print $1}')
	bpftool prog list -j | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin) if int(sys.argv[1]) in p.get("map_ids", [])))' "$active"
}

# ---- faults ---------------------------------------------------------------------------
policy=A
applies=0 killed_applies=0 loads=0 killed_loads=0 purges=0 full_phases=0 restarts=0 scrapes=0
scrape_failures=0 stale_textfile=0 verify_failures=0 apply_failures=0 follower_refused=0
window_denied=0 disk_full=0
other_policy() { [ "$policy" = A ] && policy=B || policy=A; }
apply_next() {
	other_policy
	if ctl apply -f "$TMP/policy-$policy.json" >"$TMP/apply.out" 2>&1; then
		applies=$((applies + 1))
	else
		apply_failures=$((apply_failures + 1))
		problem "apply of policy $policy failed: $(tail -2 "$TMP/apply.out")"
	fi
}
check_verify() {
	ctl verify >"$TMP/verify.out" 2>&1 && return
	verify_failures=$((verify_failures + 1))
	problem "verify after $1: $(head -3 "$TMP/verify.out")"
}
# killed_within MAX_MS CMD...: runs CMD in the vault namespace and kills it
# with kill -9 after a random 0..MAX_MS ms; true when the kill landed.
killed_within() {
	local max_ms=$1
	shift
	vw_in_ns "$NS_VAULT" "$@" >/dev/null 2>&1 &
	local pid=$! landed=1
	sleep "$(printf '0.%03d' $((RANDOM % max_ms)))"
	kill -9 "$pid" 2>/dev/null && landed=0
	wait "$pid" 2>/dev/null
	return $landed
}
kill_an_apply() {
	other_policy
	killed_within 90 "$CTL" --pin-dir "$PIN" --journal "$FULL/journal.jsonl" apply -f "$TMP/policy-$policy.json" &&
		killed_applies=$((killed_applies + 1))
	apply_next
	check_verify "a killed apply"
}
reload() {
	loader load >"$TMP/load.out" 2>&1 && loads=$((loads + 1)) || problem "load: $(tail -2 "$TMP/load.out")"
}
kill_a_load() {
	killed_within 300 "$LOADER" --pin-dir "$PIN" load && killed_loads=$((killed_loads + 1))
	reload
	check_verify "a killed load"
}
fill_disk() {
	dd if=/dev/zero of="$FULL/filler" bs=4096 2>/dev/null
	disk_full=1
	full_phases=$((full_phases + 1))
}
free_disk() { rm -f "$FULL/filler"; disk_full=0; }
purge_and_load() {
	local before after
	before=$(delivered "$DENIED_IP")
	loader detach --all --purge >/dev/null 2>&1 || problem "purge failed"
	loader load >/dev/null 2>&1 || problem "load after purge failed"
	ctl apply -f "$TMP/policy-$policy.json" >/dev/null 2>&1 || problem "apply after purge failed"
	loader attach "$IF_VAULT" --mode native >/dev/null 2>&1 || problem "attach after purge failed"
	after=$(delivered "$DENIED_IP")
	window_denied=$((window_denied + after - before))
	purges=$((purges + 1))
	# The readers must follow: within 5 s the scrape shows generation 1 and
	# the follower logs a new deny (the denied source floods all along).
	local events deadline=$((SECONDS + 5)) ok=0
	events=$(grep -c "$DENIED_IP" "$TMP/events.jsonl" 2>/dev/null || echo 0)
	while [ $SECONDS -le $deadline ]; do
		gen=$(curl -s --max-time 1 "http://127.0.0.1:$PORT/metrics" | awk '/^vaultwall_policy_generation /{print $2}')
		now_events=$(grep -c "$DENIED_IP" "$TMP/events.jsonl" 2>/dev/null || echo 0)
		[ "$gen" = 1 ] && [ "$now_events" -gt "$events" ] && { ok=1; break; }
		sleep 0.3
	done
	[ $ok = 1 ] || problem "after purge + load the readers did not follow within 5 s (generation '$gen', events $events -> $now_events)"
}
restart_follower() {
	kill -9 "$follower_PID" 2>/dev/null
	wait "$follower_PID" 2>/dev/null
	start_follower
	restarts=$((restarts + 1))
	sleep 0.5
	if ! kill -0 "$follower_PID" 2>/dev/null; then
		follower_refused=$((follower_refused + 1))
		problem "a new follower after kill -9 of the old one did not start: $(tail -1 "$TMP/follower.err")"
		start_follower
	fi
}
scrape() {
	scrapes=$((scrapes + 1))
	curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/metrics" && return
	scrape_failures=$((scrape_failures + 1))
	problem "a scrape failed or took more than 1 s"
}
# The textfile is at most 4 s old (it is rewritten every second; after a
# purge it is gone until the loop reads the new maps: 3 s of grace).
check_textfile() {
	local age i
	for ((i = 0; i < 15; i++)); do
		age=$(($(date +%s) - $(stat -c %Y "$TMP/textfile/vaultwall.prom" 2>/dev/null || echo 0)))
		[ "$age" -le 4 ] && return
		sleep 0.2
	done
	stale_textfile=$((stale_textfile + 1))
	[ -e "$TMP/textfile/vaultwall.prom" ] && problem "the textfile is $age s old" ||
		problem "the textfile is missing: $(tail -1 "$TMP/textfile.err")"
}
slow_clients() {
	[ -n "${SLOW_PID:-}" ] && kill -0 "$SLOW_PID" 2>/dev/null && return
	python3 "$SRC/tests/hostile_env/slow_clients.py" hold 127.0.0.1 "$PORT" 64 60 >/dev/null 2>&1 &
	SLOW_PID=$!
	VW_STARTED_PIDS+=("$SLOW_PID")
}

log "running $MINUTES min at $RATE datagrams/s; pin dir $PIN, metrics on 127.0.0.1:$PORT"
sleep 27  # warm-up, then the first leak probe (after a scrape: the server opens the maps then)
scrape
PROBE0_METRICS=$(probe "$metrics_PID") PROBE0_TEXTFILE=$(probe "$textfile_PID")
log "start: metrics [$PROBE0_METRICS] textfile [$PROBE0_TEXTFILE]"
END=$((SECONDS + SECONDS_TOTAL - 30))
iteration=0
while [ $SECONDS -lt $END ]; do
	iteration=$((iteration + 1))
	slow_clients
	roll=$((RANDOM % 100))
	if [ $roll -lt 45 ]; then apply_next; check_verify "an apply"
	elif [ $roll -lt 60 ]; then kill_an_apply
	elif [ $roll -lt 70 ]; then reload; check_verify "a load"
	elif [ $roll -lt 75 ]; then kill_a_load
	elif [ $roll -lt 85 ]; then if [ $disk_full = 1 ]; then free_disk; else fill_disk; fi
	elif [ $roll -lt 90 ]; then purge_and_load
	elif [ $roll -lt 95 ]; then restart_follower
	else sleep 1
	fi
	scrape
	check_textfile
	[ $((iteration % 100)) -eq 0 ] && log "$iteration iterations; $(probe "$metrics_PID")"
done
free_disk

# ---- the end: traffic totals, leaks, journal ------------------------------------------
touch "$TMP/stop-flood"
wait "$FLOOD_PID" 2>/dev/null
sleep 1
sent_allowed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"][sys.argv[2]])' "$TMP/flood.json" "$ALLOWED_IP")
sent_denied=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"][sys.argv[2]])' "$TMP/flood.json" "$DENIED_IP")
got_allowed=$(delivered "$ALLOWED_IP") got_denied=$(delivered "$DENIED_IP")
leaked=$((got_denied - window_denied)) lost=$((sent_allowed - got_allowed))
PROBE1_METRICS=$(probe "$metrics_PID") PROBE1_TEXTFILE=$(probe "$textfile_PID") PROBE1_FOLLOWER=$(probe "$follower_PID")
programs=$(programs_on_our_maps)
journal_ok=$(python3 - "$FULL/journal.jsonl" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
bad = sum(1 for line in data.splitlines() if not line.startswith(b"{") or not line.endswith(b"}"))
for line in data.splitlines():
    try: json.loads(line)
    except ValueError: bad += 1
print("whole" if bad == 0 and (not data or data.endswith(b"\n")) else "%d damaged lines" % bad)
PY
)
[ "$leaked" -eq 0 ] || problem "$leaked denied datagrams delivered outside purge windows"
[ "$lost" -le 0 ] || problem "$lost allowed datagrams lost"
[ "$programs" -eq 1 ] || problem "$programs programs use this pin dir's maps (1 expected)"
[ "$journal_ok" = whole ] || problem "journal: $journal_ok"
leak_check() {  # leak_check NAME START END: fds and stale maps must not grow; RSS within 8 MiB
	local name=$1 a=($2) b=($3)
	[ "${b[0]}" = gone ] && { problem "$name exited"; return; }
	[ "${b[1]}" -le "${a[1]}" ] || problem "$name fds grew ${a[1]} -> ${b[1]}"
	[ "${b[7]}" -eq 0 ] || problem "$name holds ${b[7]} stale maps"
	[ $((b[3] - a[3])) -le 8192 ] || problem "$name RSS grew ${a[3]} -> ${b[3]} KiB"
}
leak_check "metrics server" "$PROBE0_METRICS" "$PROBE1_METRICS"
leak_check "textfile loop" "$PROBE0_TEXTFILE" "$PROBE1_TEXTFILE"
stale=($PROBE1_FOLLOWER)
[ "${stale[0]}" != gone ] && [ "${stale[7]}" -eq 0 ] || problem "follower: $PROBE1_FOLLOWER"

echo
echo "soak: $MINUTES min, $iteration iterations at $RATE datagrams/s"
echo "soak: applies $applies (+$killed_applies killed with kill -9, $apply_failures failed), loads $loads (+$killed_loads killed), purge+load $purges, full-disk phases $full_phases, follower kill -9 + restart $restarts"
echo "soak: scrapes $scrapes (failed or > 1 s: $scrape_failures), stale textfile $stale_textfile, verify failures $verify_failures"
echo "soak: verdicts: denied sent $sent_denied, delivered $got_denied, in purge windows $window_denied, outside: $leaked; allowed sent $sent_allowed, delivered $got_allowed, lost $lost"
echo "soak: leaks: metrics server [$PROBE0_METRICS] -> [$PROBE1_METRICS]"
echo "soak: leaks: textfile loop  [$PROBE0_TEXTFILE] -> [$PROBE1_TEXTFILE]"
echo "soak: leaks: follower (last start) [$PROBE1_FOLLOWER]; programs on this pin dir's maps: $programs"
echo "soak: journal on a 64 KiB tmpfs: $journal_ok; events logged: $(wc -l <"$TMP/events.jsonl")"
for reader in metrics textfile follower; do
	echo "soak: $reader said: $(sort "$TMP/$reader.err" | uniq -c | sort -rn | head -3 | tr '\n' ';')"
done
if [ ${#problems[@]} -eq 0 ]; then
	echo "soak: OK: 0 leaks, 0 wrong verdicts"
	exit 0
fi
echo "soak: FAILED: ${#problems[@]} problems"
printf '  %s\n' "${problems[@]}" | head -40
exit 1
