#!/usr/bin/env bash
# The fleet demo: one vault served by three hosts, fed one policy through
# etcd. Sets up the host (packages, bpffs), builds, then plays:
#   - a 3-member etcd cluster on 127.0.0.1 (ports picked free);
#   - three vault hosts, each a network namespace with an HTTPS server on
#     192.0.2.10:443, its own pin directory and vaultwall-agent in fleet mode,
#     and a client namespace that connects from an allowed (198.51.100.20)
#     and a denied (203.0.113.20) source with curl;
#   - vaultwallctl fleet put, fleet status, a rule changed, an etcd member
#     killed, another change, then all of etcd stopped: the hosts keep
#     enforcing what they had.
# Removes everything it made (also when interrupted).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# shellcheck source=lib/netns.sh
source scripts/lib/netns.sh
vw_demo_prepare demo-fleet.sh vaultwall-loader vaultwallctl vaultwall-agent
VW_LOADER=$ROOT/build/loader/vaultwall-loader
VW_CTL=$ROOT/build/ctl/vaultwallctl
VW_AGENT=$ROOT/build/agent/vaultwall-agent

# shellcheck source=lib/etcd.sh
source scripts/lib/etcd.sh
# shellcheck source=lib/fleet.sh
source scripts/lib/fleet.sh
VW_PREFIX=vwq$$
VW_FLEET_PIN_ROOT=/sys/fs/bpf/vwdemo-fleet-$$
vw_require_bpffs
vw_sweep_stale vwq vwdemo-fleet-
vw_mktemp_dir TMP
VW_FLEET_TMP=$TMP
VW_ETCD_DIR=$TMP/etcd
VW_FLEET_VAULT=kv-demo
VW_FLEET_AGENT_ARGS=(--status-ttl 10 --watch-timeout 3)
vw_fleet_install_cleanup_trap

say() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" || true; }
fleet() { # vaultwallctl fleet SUBCOMMAND ..., shown as typed
	local sub=$1
	shift
	printf '$ vaultwallctl fleet %s --vault %s %s\n' "$sub" "$VW_FLEET_VAULT" "$*"
	vw_fleet_ctl fleet "$sub" --vault "$VW_FLEET_VAULT" "$@" || true
}
who_gets_in() {
	printf '%-7s %-22s %-22s\n' HOST "FROM 198.51.100.20" "FROM 203.0.113.20"
	local i
	verdict() { # HTTP status, or how the connection ended
		local got
		got=$(vw_fleet_https "$1" "$2")
		case $got in
		rc=28) echo "timeout (dropped)" ;;
		rc=*) echo "failed ($got)" ;;
		*) echo "HTTP $got" ;;
		esac
	}
	for i in 1 2 3; do
		printf '%-7s %-22s %-22s\n' "h$i" "$(verdict "$i" "$VW_FLEET_ALLOWED_SRC")" \
			"$(verdict "$i" "$VW_FLEET_DENIED_SRC")"
	done
}

say "a 3-member etcd cluster on 127.0.0.1"
vw_etcd_start 3
echo "endpoints: $VW_ETCD_ENDPOINTS"

say "three vault hosts: namespaces, HTTPS on 443, vaultwall loaded and attached, an agent each"
for i in 1 2 3; do
	vw_fleet_host_add "$i" 443
	vw_fleet_agent_start "$i"
	echo "h$i: pins ${VW_FLEET_PIN[$i]}, host facts $(cat "$TMP/host-h$i.json")"
done
vw_fleet_wait 15 '[.hosts[] | select(.enrolled)] | length == 3' >/dev/null
who_gets_in

say "the vault's shared policy: default Deny, IP rule 198.51.100.0/24"
vw_fleet_policy "$TMP/policy.json" 198.51.100.0/24
cat "$TMP/policy.json"
fleet put -f "$TMP/policy.json" --comment "first policy" --wait --timeout 20
fleet status
who_gets_in

say "a rule changes: the office moves to 203.0.113.0/24"
vw_fleet_policy "$TMP/policy.json" 203.0.113.0/24
fleet diff -f "$TMP/policy.json"
fleet put -f "$TMP/policy.json" --comment "office moved" --wait --timeout 20
who_gets_in

leader=$(vw_etcd_leader)
say "an etcd member dies (SIGKILL member $leader, the leader): the next change still reaches every host"
vw_etcd_kill "$leader"
vw_fleet_policy "$TMP/policy.json" 198.51.100.0/24 203.0.113.0/24
fleet put -f "$TMP/policy.json" --comment "both ranges" --wait --timeout 30
fleet status
who_gets_in

say "back to one range, then all of etcd stops"
vw_fleet_policy "$TMP/policy.json" 198.51.100.0/24
fleet put -f "$TMP/policy.json" --comment "office range only" --wait --timeout 30
vw_etcd_stop_all
sleep 3
echo "(etcd is down: fleet status cannot answer)"
fleet status
echo "the hosts keep enforcing the last policy they applied:"
who_gets_in
show vw_fleet_host_ctl 1 verify
echo "h1's agent says:"
grep "etcd unreachable" "$(vw_fleet_agent_log 1)" | tail -n 1

say "the change journal of h1: every fleet apply with its source (vault, revision, author)"
jq -c 'select(.command == "fleet apply") | {time, result, from: .from.generation, to: .to.generation,
	revision: .source.revision, author: .source.author, rulesAdded, rulesRemoved}' "$(vw_fleet_journal 1)"
say "cleaning up (agents, etcd, namespaces, pins)"
