#!/usr/bin/env bash
# fleet_e2e_test.sh - fleet mode end to end: a real 3-member etcd cluster on
# 127.0.0.1, three vault hosts (network namespaces, each with its own pins,
# HTTPS server and agent), real HTTPS clients, and etcd's failures.
#
#   fleet_e2e_test.sh AGENT LOADER VAULTWALLCTL NETNS_LIB ETCD_LIB FLEET_LIB
#
#  1. converge: fleet put --wait; every host enforces (allowed source gets
#     HTTP 200, denied source times out); host 3's own facts (tcp/8443) hold
#  2. invalid values written with etcdctl (hand-edited, not a record) and a
#     deleted key: rejected / no-policy with the JSON path, traffic unchanged,
#     journaled; fleet put replaces an unreadable value only with --if-revision
#  3. 50 changes while SIGKILLing the member host 1 watches, then the leader,
#     then 2 of 3: every host ends on the last digest; each host's journal
#     revisions increase and account for every one of the 50 (applied, or
#     superseded by a newer one)
#  4. host 2's agent SIGSTOPped past compaction and past its lease TTL:
#     shown absent, put --wait names it; SIGCONT: lists again, converges
#  5. an agent killed in the middle of an apply (abort after k map writes)
#     and kill -9 right after a change: old or new policy, never a mix; the
#     next agent converges
#  6. all of etcd stopped: zero verdict changes on every host, agents keep
#     running and say so; etcd back: converged again
#  7. drift: a rule removed from a host's trie behind the agent's back is
#     found and repaired on SIGHUP
#
# Exit 0 when every check passed, 1 otherwise, 77 when not root or etcd is
# missing (skipped).
set -uo pipefail

if [ $# -ne 6 ]; then
	echo "usage: $0 AGENT LOADER VAULTWALLCTL NETNS_LIB ETCD_LIB FLEET_LIB" >&2
	exit 2
fi
VW_AGENT=$1 VW_LOADER=$2 VW_CTL=$3
# shellcheck source=../../scripts/lib/netns.sh
source "$4"
# shellcheck source=../../scripts/lib/etcd.sh
source "$5"
# shellcheck source=../../scripts/lib/fleet.sh
source "$6"

vw_fleet_test_start vwf vwtest-fleet- ip nsenter curl openssl python3 jq timeout bpftool
VW_FLEET_VAULT=kv-e2e
# Short timings keep the test to a few minutes: etcd sends progress every
# second (etcd.sh), so a silent watch is dead after 3 s.
VW_FLEET_AGENT_ARGS=(--status-ttl 4 --watch-timeout 3 --heartbeat-interval 1
	--anti-entropy-interval 600)
vw_fleet_install_cleanup_trap

KEY=/vaultwall/v1/vaults/$VW_FLEET_VAULT/policy
ALLOWED=198.51.100.0/24 # holds VW_FLEET_ALLOWED_SRC
put() { vw_fleet_ctl fleet put --vault "$VW_FLEET_VAULT" "$@"; }
digest_of() { jq -r .sharedDigest <<<"$1"; }
# put_json FILE [ARGS...]: the put's JSON result; retried (bounded) while etcd
# has no leader.
put_json() {
	local file=$1 out n
	shift
	for ((n = 0; n < 40; n++)); do
		if out=$(put -f "$file" -o json "$@" 2>>"$TMP/put.err"); then
			echo "$out"
			return 0
		fi
		sleep 0.25
	done
	return 1
}
expect_enforcing() { # I: the allowed source gets in, the denied one does not
	local got
	got=$(vw_fleet_verdicts "$1")
	[ "$got" = "allowed=200 denied=rc=28" ] || { echo "  (host $1: $got)"; return 1; }
}
expect_reversed() { # I: policy B (the denied source's range) is enforced
	local got
	got=$(vw_fleet_verdicts "$1")
	[ "$got" = "allowed=rc=28 denied=200" ] || { echo "  (host $1: $got)"; return 1; }
}
all_hosts() { local i; for i in 1 2 3; do "$@" "$i" || return 1; done; }
journal_entries() { # I: this host's fleet apply entries, one JSON line each
	grep '"command":"fleet apply"' "$(vw_fleet_journal "$1")" 2>/dev/null || true
}

# ---- setup -------------------------------------------------------------------------------
vw_etcd_start 3 || fatal "start a 3-member etcd cluster"
vw_fleet_host_add 1 443 || fatal "host 1"
vw_fleet_host_add 2 443 || fatal "host 2"
vw_fleet_host_add 3 8443 || fatal "host 3 (protects tcp/8443)"
check "before any policy every source gets in (firewall off)" \
	test "$(vw_fleet_verdicts 1)" = "allowed=200 denied=200"
for i in 1 2 3; do vw_fleet_agent_start "$i"; done
check "the three agents enrol (hosts/h1..h3/info, status under a lease)" \
	vw_fleet_wait 15 '[.hosts[] | select(.enrolled)] | length == 3'

# ---- 1. converge -------------------------------------------------------------------------
vw_fleet_policy "$TMP/a.json" "$ALLOWED"
vw_fleet_policy "$TMP/b.json" 203.0.113.0/24
out=$(put -f "$TMP/a.json" --wait --timeout 20 -o json 2>"$TMP/wait.err")
rc=$?
check "fleet put --wait: every host enforces it, verified (exit 0)" test "$rc" = 0
DIGEST_A=$(digest_of "$out")
check "fleet put --wait reports all 3 hosts done" test "$(jq -r '.wait.done and .wait.hosts == 3' <<<"$out")" = true
check "fleet status: 3 hosts in sync on the new digest" vw_fleet_wait_digest 5 "$DIGEST_A"
check "every host enforces: allowed source HTTP 200, denied times out" all_hosts expect_enforcing
protects() { # I PORT: host I's kernel holds its own data-plane port
	"$VW_CTL" --pin-dir "${VW_FLEET_PIN[$1]}" show -o json |
		jq -e --arg p "tcp/$2" '.vaultwall.dataPlane.ports == [$p]' >/dev/null
}
check "host facts hold per host: host 3 protects tcp/8443" protects 3 8443
check "host facts hold per host: host 1 protects tcp/443" protects 1 443
table=$(vw_fleet_ctl fleet status)
check "fleet status table: one in-sync row per host" test "$(grep -c ' in-sync ' <<<"$table")" = 3
check "fleet status exits 0 when every host is in sync" quietly vw_fleet_ctl fleet status
check "metrics: connected, on the put's revision" \
	grep -q "vaultwall_fleet_policy_revision{vault=\"$VW_FLEET_VAULT\",host=\"h1\"} $(jq .revision <<<"$out")" \
	"$TMP/metrics-h1/vaultwall_fleet.prom"
REV_A=$(jq .revision <<<"$out")
stored_revision() { vw_etcdctl get "$KEY" -w json | jq '.kvs[0].mod_revision'; }
dry_run_writes_nothing() {
	local shown
	shown=$(put -f "$TMP/b.json" --dry-run) || return 1
	grep -q '+ rule 203.0.113.0/24' <<<"$shown" && grep -q 'dry run' <<<"$shown" &&
		[ "$(stored_revision)" = "$REV_A" ]
}
check "fleet put --dry-run shows the change and writes nothing" dry_run_writes_nothing
check "vaultwallctl history shows where a fleet apply came from" \
	bash -c "$(printf '%q ' "$VW_CTL") history --journal $(vw_fleet_journal 1) | grep -q 'fleet apply .*\[fleet $VW_FLEET_VAULT revision $REV_A by '"
check "fleet status --watch draws the table (and stops on SIGINT)" \
	bash -c "timeout -s INT 2 $(printf '%q ' "$VW_CTL") fleet status --watch --endpoints $VW_ETCD_ENDPOINTS | grep -q ' in-sync '"
python3 - "$TMP/huge.json" <<'EOF'
import json, sys
prefixes = ["20.%d.%d.%d/32" % (i >> 16, (i >> 8) & 255, i & 255) for i in range(80000)]
json.dump({"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": []},
           "vaultwall": {"trustedServices": {"custom": [{"name": "many", "addressPrefixes": prefixes}]}}},
          open(sys.argv[1], "w"))
EOF
huge=$(put -f "$TMP/huge.json" 2>&1)
check "a policy above 1 MiB: refused before sending, saying why and what to do" \
	grep -q "above fleet mode's limit of 1048576 bytes.*nothing was written" <<<"$huge"
check "... and nothing was written" test "$(stored_revision)" = "$REV_A"

# ---- 2. what etcdctl may write -------------------------------------------------------------
value=$(vw_etcdctl get "$KEY" --print-value-only)
edited=${value//198.51.100.0\/24/203.0.113.0\/24}  # would let the denied source in
vw_etcdctl put "$KEY" "$edited" >/dev/null
rev=$(vw_etcdctl get "$KEY" -w json | jq '.kvs[0].mod_revision')
check "a hand-edited value (stale digest): every host rejects it, naming sharedDigest" \
	vw_fleet_wait 10 "[.hosts[] | select(.state == \"rejected\" and .error.revision == $rev and .error.path == \"sharedDigest\")] | length == 3"
check "rejected: traffic unchanged on every host" all_hosts expect_enforcing
check "rejected: the status keeps the enforced revision" \
	test "$(vw_fleet_host_field 2 .policyRevision)" = "$REV_A"
vw_etcdctl put "$KEY" '{"schemaVersion": 1, "policy": {}}' >/dev/null
rev=$(vw_etcdctl get "$KEY" -w json | jq '.kvs[0].mod_revision')
check "not a policy record: rejected with the missing field's path (vault)" \
	vw_fleet_wait 10 "[.hosts[] | select(.state == \"rejected\" and .error.revision == $rev and .error.path == \"vault\")] | length == 3"
check "journal: each rejection once, as a failed fleet apply with its reason" \
	test "$(journal_entries 1 | jq -s '[.[] | select(.result == "failed" and (.reason | test("rejected revision")))] | length')" = 2
check "fleet put refuses to overwrite an unreadable value without --if-revision" \
	bash -c "! $(printf '%q ' "$VW_CTL") fleet put --endpoints $VW_ETCD_ENDPOINTS --vault $VW_FLEET_VAULT -f $TMP/a.json >/dev/null 2>&1"
check "fleet put --if-revision replaces it" quietly put -f "$TMP/a.json" --if-revision "$rev" --wait --timeout 10
check "restored: every host in sync on the same digest again" vw_fleet_wait_digest 10 "$DIGEST_A"
vw_etcdctl del "$KEY" >/dev/null
check "a deleted key: no-policy on every host" \
	vw_fleet_wait 10 '[.hosts[] | select(.reportedState == "no-policy")] | length == 3'
check "deleted: nothing opened, traffic unchanged" all_hosts expect_enforcing
out=$(put_json "$TMP/a.json" --wait --timeout 10) || fatal "put the policy back"
check "put back after the delete: in sync" vw_fleet_wait_digest 10 "$DIGEST_A"
cat >"$TMP/vnet.json" <<EOF
{"networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [{"value": "$ALLOWED"}],
 "virtualNetworkRules": [{"id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/far-vnet/subnets/web"}]}}
EOF
start=$SECONDS
refused=$(put -f "$TMP/vnet.json" --wait --timeout 30 2>&1)
rc=$?
check "a VNET rule no host describes: put --wait exits 1 at once, each host rejecting it from its facts" \
	bash -c "[ $rc = 1 ] && [ $((SECONDS - start)) -lt 15 ] && grep -q 'rejected revision .*host-h[0-9].json:virtualNetworks: virtual network .*far-vnet' <<<$(printf '%q' "$refused")"
check "... the status names the host facts as the source" \
	test "$(vw_fleet_host_field 1 .error.source)" = host-facts
check "... and traffic is unchanged" all_hosts expect_enforcing
out=$(put_json "$TMP/a.json" --wait --timeout 10) || fatal "put the policy back"
check "fleet put --if-revision with a stale revision: a conflict naming who changed it" \
	bash -c "$(printf '%q ' "$VW_CTL") fleet put --endpoints $VW_ETCD_ENDPOINTS --vault $VW_FLEET_VAULT -f $TMP/b.json --if-revision 1 2>&1 | grep -q 'changed at revision .* by '"

# ---- 3. 50 changes through member failures ---------------------------------------------------
member_of() { # I: the etcd member index host I's agent watches
	vw_etcd_member_index "$(vw_fleet_host_field "$1" .watchMember 2>/dev/null || true)"
}
: >"$TMP/revisions"
first_rev=0
for ((n = 1; n <= 50; n++)); do
	vw_fleet_policy "$TMP/change.json" "$ALLOWED" "203.0.113.$((100 + n))"
	out=$(put_json "$TMP/change.json") || fatal "change $n could not be written"
	jq .revision <<<"$out" >>"$TMP/revisions"
	[ "$first_rev" = 0 ] && first_rev=$(jq .revision <<<"$out")
	LAST_DIGEST=$(digest_of "$out")
	case $n in
	10)
		watched=$(member_of 1)
		[ "$watched" -ge 0 ] || watched=0
		echo "  change $n: SIGKILL member $watched (the one host 1 watches)"
		vw_etcd_kill "$watched"
		;;
	20) vw_etcd_restart "$watched"; vw_etcd_wait_healthy 10 ;;
	25)
		leader=$(vw_etcd_leader)
		echo "  change $n: SIGKILL the leader (member $leader)"
		vw_etcd_kill "$leader"
		;;
	32) vw_etcd_restart "$leader"; vw_etcd_wait_healthy 10 ;;
	38)
		echo "  change $n: SIGKILL 2 of 3 members for 3 s (no quorum)"
		vw_etcd_kill 1
		vw_etcd_kill 2
		sleep 3
		vw_etcd_restart 1
		vw_etcd_restart 2
		vw_etcd_wait_healthy 15
		;;
	esac
done
LAST_REV=$(tail -1 "$TMP/revisions")
check "after 50 changes and the failures, every host enforces the last digest" \
	vw_fleet_wait_digest 40 "$LAST_DIGEST"
for i in 1 2 3; do
	journal_entries "$i" | jq -s --argjson first "$first_rev" \
		'[.[] | select(.result == "ok" and .source.revision >= $first)]' >"$TMP/applied-h$i.json"
	check "host $i: journaled fleet revisions strictly increase" \
		jq -e '[.[].source.revision] as $r | ($r | length) > 0 and ([range(1; $r | length) | $r[.] > $r[. - 1]] | all)' \
		"$TMP/applied-h$i.json" >/dev/null
	check "host $i: the last journaled revision is the last change" \
		jq -e --argjson last "$LAST_REV" '.[-1].source.revision == $last' "$TMP/applied-h$i.json" >/dev/null
	check "host $i: none missed: each of the 50 revisions applied or superseded by a newer one" \
		python3 - "$TMP/applied-h$i.json" "$TMP/revisions" <<'EOF'
import json, sys
entries = json.load(open(sys.argv[1]))
seen = set()
for e in entries:
    seen.add(e["source"]["revision"])
    seen.update(e["source"]["superseded"])
wanted = {int(line) for line in open(sys.argv[2]) if line.strip()}
missing = sorted(wanted - seen)
if missing:
    print("  (missing revisions: %s)" % missing)
sys.exit(1 if missing else 0)
EOF
done
check "every host still enforces after the churn (allowed in, denied out)" all_hosts expect_enforcing

# ---- 4. a stopped agent, compaction, its lease -----------------------------------------------
watched=$(member_of 2)
vw_fleet_agent_signal 2 STOP
# Its stream dies with its member before the changes reach it; then history
# is compacted past the revision it must resume from.
[ "$watched" -ge 0 ] || fatal "host 2 reports no watched member ($(vw_fleet_status_json | jq -c '.hosts[] | select(.host == "h2")'))"
vw_etcd_kill "$watched"
for ((n = 1; n <= 10; n++)); do
	vw_fleet_policy "$TMP/change.json" "$ALLOWED" "203.0.113.$((200 + n))"
	out=$(put_json "$TMP/change.json") || fatal "change $n with host 2 stopped"
done
STOPPED_DIGEST=$(digest_of "$out")
vw_etcdctl compact "$(vw_etcdctl get "$KEY" -w json | jq '.header.revision')" >/dev/null
vw_etcd_restart "$watched"
vw_etcd_wait_healthy 10
check "host 2 stopped past its lease TTL: shown absent" \
	vw_fleet_wait 10 '.hosts[] | select(.host == "h2") | .state == "absent"'
check "fleet status exits 1 while a host is absent" bash -c "! $(printf '%q ' "$VW_CTL") fleet status --endpoints $VW_ETCD_ENDPOINTS >/dev/null"
waited=$(put -f "$TMP/change.json" --wait --timeout 2 2>&1 >/dev/null)
check "fleet put --wait names the absent host and exits 1" grep -q "h2 (absent)" <<<"$waited"
vw_fleet_agent_signal 2 CONT
check "SIGCONT: host 2 is back and in sync on the newest digest" vw_fleet_wait_digest 30 "$STOPPED_DIGEST" 2
check "host 2 listed again after compaction" grep -q "fell behind compaction" "$(vw_fleet_agent_log 2)"
check "host 2's lease was granted again and its status rewritten" \
	grep -q "lease of h2's status expired\|lease of h2's status had expired" "$(vw_fleet_agent_log 2)"

verifies() { # HOST: vaultwallctl verify on that host's pins; its words when it fails
	local out
	out=$(vw_fleet_host_ctl "$1" verify 2>&1) && return 0
	printf '  verify on host %s: %s\n' "$1" "$out" | head -5
	return 1
}

# ---- 5. an agent killed mid-apply ---------------------------------------------------------------
old_shown=$(vw_fleet_host_ctl 1 show -o json | jq -c '.properties.networkAcls.ipRules')
vw_fleet_agent_stop 1
out=$(put_json "$TMP/b.json") || fatal "put policy B"
DIGEST_B=$(digest_of "$out")
VW_FLEET_AGENT_ENV=(VAULTWALL_TEST_ABORT_AFTER_WRITES=3)
vw_fleet_agent_start 1
for ((n = 0; n < 100; n++)); do vw_fleet_agent_running 1 || break; sleep 0.1; done
check "the agent died in the middle of its apply (after 3 map writes)" bash -c "! kill -0 ${VW_FLEET_AGENT_PID[1]} 2>/dev/null"
vw_fleet_agent_stop 1 || true
shown=$(vw_fleet_host_ctl 1 show -o json | jq -c '.properties.networkAcls.ipRules')
check "host 1 holds the old policy or the new one, never a mix ($shown)" \
	bash -c "[ '$shown' = '$old_shown' ] || [ '$shown' = '[{\"value\":\"203.0.113.0/24\"}]' ]"
check "host 1's kernel matches its stored policy (verify)" verifies 1
vw_fleet_agent_start 1
check "the next agent converges host 1 on the new policy" vw_fleet_wait_digest 20 "$DIGEST_B" 1
check "the interrupted apply is in host 1's journal" \
	bash -c "grep '\"command\":\"fleet apply\"' $(vw_fleet_journal 1) | grep -q '\"result\":\"interrupted\"'"
check "host 1 enforces policy B (denied source's range in, allowed out)" expect_reversed 1
vw_fleet_policy "$TMP/c.json" "$ALLOWED" 203.0.113.0/24
out=$(put_json "$TMP/c.json") || fatal "put policy C"
DIGEST_C=$(digest_of "$out")
sleep 0.05
vw_fleet_agent_stop 3 KILL
vw_fleet_agent_start 3
check "kill -9 right after a change: the next agent converges" vw_fleet_wait_digest 20 "$DIGEST_C"
check "host 3 verifies" verifies 3

# ---- 6. all of etcd stopped ----------------------------------------------------------------------
# Policy C allows both sources; put A back so both verdicts are visible.
out=$(put_json "$TMP/a.json" --wait --timeout 20) || fatal "put policy A"
check "policy A again on every host" vw_fleet_wait_digest 20 "$DIGEST_A"
before=""
for i in 1 2 3; do before+="$(vw_fleet_verdicts "$i");"; done
generations=""
for i in 1 2 3; do generations+="$(vw_fleet_host_ctl "$i" show -o json | jq -c .properties.networkAcls.ipRules);"; done
vw_etcd_stop_all
sleep 5
after=""
for i in 1 2 3; do after+="$(vw_fleet_verdicts "$i");"; done
check "etcd down: zero verdict changes on every host ($before)" test "$before" = "$after"
now=""
for i in 1 2 3; do now+="$(vw_fleet_host_ctl "$i" show -o json | jq -c .properties.networkAcls.ipRules);"; done
check "etcd down: every kernel holds the same policy" test "$generations" = "$now"
check "etcd down: every agent still runs" all_hosts vw_fleet_agent_running
check "etcd down: the agents say so (kernel keeps enforcing)" \
	grep -q "etcd unreachable.*keeps enforcing" "$(vw_fleet_agent_log 1)"
check "etcd down: metrics say disconnected" \
	grep -q "vaultwall_fleet_connected{vault=\"$VW_FLEET_VAULT\",host=\"h1\"} 0" "$TMP/metrics-h1/vaultwall_fleet.prom"
for i in 0 1 2; do vw_etcd_restart "$i"; done
vw_etcd_wait_healthy 20 || fatal "etcd back"
check "etcd back: every host reports in sync again" vw_fleet_wait_digest 40 "$DIGEST_A"
# The watches come back within their backoff (it doubles up to 30 s).
check "etcd back: every agent's watch is up again" \
	vw_fleet_wait 40 '[.hosts[] | select(.connected)] | length == 3'
eventually() { # SECONDS COMMAND...: until COMMAND succeeds, polled every 0.1 s
	local limit=$1 start=$SECONDS
	shift
	until "$@"; do
		[ $((SECONDS - start)) -lt "$limit" ] || return 1
		sleep 0.1
	done
}
check "etcd back: metrics say connected" eventually 20 \
	grep -q "vaultwall_fleet_connected{vault=\"$VW_FLEET_VAULT\",host=\"h1\"} 1" "$TMP/metrics-h1/vaultwall_fleet.prom"

# ---- 7. drift --------------------------------------------------------------------------------------
# The live slot, from verify's own words ("generation N (slot S)").
slot=$(vw_fleet_host_ctl 3 verify | sed -n 's/.*(slot \([01]\)).*/\1/p')
slot=${slot:-0}
key=$(bpftool map dump pinned "${VW_FLEET_PIN[3]}/vw_rules_$slot" -j | jq -r '.[0].key | map(.) | join(" ")' 2>/dev/null)
if [ -n "$key" ] && bpftool map delete pinned "${VW_FLEET_PIN[3]}/vw_rules_$slot" key $key 2>/dev/null; then
	check "drift made: verify fails on host 3" fails vw_fleet_host_ctl 3 verify
	vw_fleet_agent_signal 3 HUP
	ok=1
	for ((n = 0; n < 50; n++)); do
		vw_fleet_host_ctl 3 verify >/dev/null 2>&1 && { ok=0; break; }
		sleep 0.1
	done
	[ "$ok" = 0 ] || verifies 3
	check "SIGHUP: the agent finds the drift and repairs it (verify passes)" test "$ok" = 0
	check "the repair is journaled as forced" \
		bash -c "grep '\"command\":\"fleet apply\"' $(vw_fleet_journal 3) | tail -1 | grep -q forced"
else
	check "drift: a rule entry could be removed with bpftool" false
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
