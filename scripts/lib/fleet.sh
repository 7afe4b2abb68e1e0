# shellcheck shell=bash
# fleet.sh - vault hosts for the fleet tests, demo and benchmark. Source it
# after netns.sh and etcd.sh; do not execute it.
#
# A host is a pin directory with vaultwall loaded and its own
# vaultwall-agent in fleet mode. With networking, it is also a network
# namespace (the vault, 192.0.2.10, an HTTPS server on its protected port)
# joined by a veth pair to a client namespace that can connect from an
# allowed and a denied source. Agents run in the root namespace: etcd
# listens on 127.0.0.1 there, and loopback is per namespace; their pins
# are shared through bpffs, so they apply to the namespace's program.
#
#   VW_AGENT=... VW_LOADER=... VW_CTL=...   the binaries
#   VW_FLEET_VAULT=kv-demo                  the vault every host belongs to
#   VW_FLEET_TMP=$tmp                       host facts, logs, journals, state
#   VW_FLEET_AGENT_ARGS=(--status-ttl 4)    more agent arguments (timings)
#   VW_FLEET_ETCD_ARGS=(--user ...)         etcd arguments for agents and ctl
#   VW_FLEET_PIN_ROOT=/sys/fs/bpf/vwtest-fleet-$$   the hosts' pins, one
#                                           directory per host below it (a
#                                           root named <prefix><pid>, so
#                                           vw_sweep_stale finds leftovers)
#   vw_fleet_host_add 1 443                 host 1, protecting tcp/443
#   vw_fleet_agent_start 1                  (metrics in $VW_FLEET_TMP/metrics-h1/)
#   vw_fleet_policy "$tmp/p.json" 198.51.100.0/24
#   vw_fleet_ctl fleet put --vault "$VW_FLEET_VAULT" -f "$tmp/p.json" --wait
#   vw_fleet_https 1 "$VW_FLEET_ALLOWED_SRC"   # 200, or rc=28 when dropped
#
# Everything is recorded for vw_fleet_cleanup (agents by the PID they got
# when started, pins); namespaces and links go through netns.sh's records.

VW_FLEET_VAULT=${VW_FLEET_VAULT:-kv-fleet}
VW_FLEET_VAULT_IP=192.0.2.10
VW_FLEET_CLIENT_IP=192.0.2.20
VW_FLEET_ALLOWED_SRC=198.51.100.20
VW_FLEET_DENIED_SRC=203.0.113.20
VW_FLEET_HOSTS=()
VW_FLEET_PIN_ROOT=${VW_FLEET_PIN_ROOT:-/sys/fs/bpf/vwtest-fleet-$$}
declare -A VW_FLEET_PIN VW_FLEET_PORT VW_FLEET_AGENT_PID VW_FLEET_SERVER_PID
declare -a VW_FLEET_AGENT_ARGS=("${VW_FLEET_AGENT_ARGS[@]}")
declare -a VW_FLEET_ETCD_ARGS=("${VW_FLEET_ETCD_ARGS[@]}")
VW_FLEET_AGENT_ENV=()  # e.g. (VAULTWALL_TEST_ABORT_AFTER_WRITES=3) for one start

vw_fleet_host_ns() { printf '%sh%s' "$VW_PREFIX" "$1"; }
vw_fleet_client_ns() { printf '%sc%s' "$VW_PREFIX" "$1"; }
vw_fleet_journal() { printf '%s/journal-h%s.jsonl' "$VW_FLEET_TMP" "$1"; }
vw_fleet_agent_log() { printf '%s/agent-h%s.log' "$VW_FLEET_TMP" "$1"; }

# vw_fleet_host_ctl I ARGS...: vaultwallctl on host I as its operator runs it:
# its pins, its change journal (the agent's), inside its namespace when it has one.
vw_fleet_host_ctl() {
	local i=$1
	shift
	local ctl=("$VW_CTL" --pin-dir "${VW_FLEET_PIN[$i]}" --journal "$(vw_fleet_journal "$i")" "$@")
	if [ "${VW_FLEET_PORT[$i]}" = - ]; then "${ctl[@]}"; else vw_in_ns "$(vw_fleet_host_ns "$i")" "${ctl[@]}"; fi
}

# vw_fleet_host_add I [PORT|-]: pins for host I, vaultwall loaded; with a
# PORT, the namespaces, the veth pair, XDP attached, an HTTPS server and
# host facts protecting tcp/PORT on the vault address; with -, pins and
# host facts (every destination, tcp/443) only.
vw_fleet_host_add() {
	local i=$1 port=${2:--} ns cns vif cif
	if [ ! -d "$VW_FLEET_PIN_ROOT" ]; then
		mkdir -p -m 700 "$VW_FLEET_PIN_ROOT" || return 1
		vw_register_pin_dir "$VW_FLEET_PIN_ROOT"
	fi
	VW_FLEET_PIN[$i]=$VW_FLEET_PIN_ROOT/h$i
	VW_FLEET_PORT[$i]=$port
	VW_FLEET_HOSTS+=("$i")
	"$VW_LOADER" --pin-dir "${VW_FLEET_PIN[$i]}" --journal "$(vw_fleet_journal "$i")" load >/dev/null || return 1
	if [ "$port" = - ]; then
		echo '{}' >"$VW_FLEET_TMP/host-h$i.json"
		return 0
	fi
	ns=$(vw_fleet_host_ns "$i") cns=$(vw_fleet_client_ns "$i")
	vif=${VW_PREFIX}v$i cif=${VW_PREFIX}k$i
	vw_ns_add "$ns" && vw_ns_add "$cns" || return 1
	vw_veth_add "$ns" "$vif" "$VW_FLEET_VAULT_IP/24" "$cns" "$cif" "$VW_FLEET_CLIENT_IP/24" || return 1
	local src
	for src in "$VW_FLEET_ALLOWED_SRC" "$VW_FLEET_DENIED_SRC"; do
		vw_addr_add "$cns" "$cif" "$src/32" && vw_route_add "$ns" "$src/32" dev "$vif" || return 1
	done
	vw_in_ns "$ns" "$VW_LOADER" --pin-dir "${VW_FLEET_PIN[$i]}" --journal "$(vw_fleet_journal "$i")" attach "$vif" >/dev/null || return 1
	[ -f "$VW_FLEET_TMP/vault-cert.pem" ] ||
		openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=fleet-vault.vault.azure.net" \
			-keyout "$VW_FLEET_TMP/vault-key.pem" -out "$VW_FLEET_TMP/vault-cert.pem" -days 1 \
			>/dev/null 2>&1 || return 1
	VW_BG_LOG=$VW_FLEET_TMP/https-h$i.log vw_in_ns_bg "$ns" openssl s_server -quiet -www \
		-accept "$port" -cert "$VW_FLEET_TMP/vault-cert.pem" -key "$VW_FLEET_TMP/vault-key.pem"
	VW_FLEET_SERVER_PID[$i]=$VW_LAST_PID
	vw_wait_tcp_listen "$ns" "$port" 10 || return 1
	# Host facts: what only this host knows.
	printf '{"dataPlane": {"ports": ["tcp/%s"], "addresses": ["%s"]}}\n' \
		"$port" "$VW_FLEET_VAULT_IP" >"$VW_FLEET_TMP/host-h$i.json"
}

# vw_fleet_agent_start I [MORE ARGS...]: host I's agent, in fleet mode, in
# the background (log: vw_fleet_agent_log I). VW_FLEET_AGENT_ENV applies to
# this start only.
vw_fleet_agent_start() {
	local i=$1
	shift
	mkdir -p "$VW_FLEET_TMP/metrics-h$i"
	env "${VW_FLEET_AGENT_ENV[@]}" "$VW_AGENT" --pin-dir "${VW_FLEET_PIN[$i]}" \
		--vault "$VW_FLEET_VAULT" --host-name "h$i" --host "$VW_FLEET_TMP/host-h$i.json" \
		--state-dir "$VW_FLEET_TMP/state-h$i" --journal "$(vw_fleet_journal "$i")" \
		--endpoints "${VW_FLEET_ENDPOINTS:-$VW_ETCD_ENDPOINTS}" "${VW_FLEET_ETCD_ARGS[@]}" \
		--metrics-textfile "$VW_FLEET_TMP/metrics-h$i" \
		"${VW_FLEET_AGENT_ARGS[@]}" "$@" >>"$(vw_fleet_agent_log "$i")" 2>&1 </dev/null &
	VW_FLEET_AGENT_PID[$i]=$!
	VW_FLEET_AGENT_ENV=()
}

# vw_fleet_agent_signal I SIGNAL: e.g. STOP, CONT, HUP (the agent keeps running).
vw_fleet_agent_signal() {
	local pid=${VW_FLEET_AGENT_PID[$1]:--1}
	[ "$pid" -gt 0 ] && kill "-$2" "$pid"
}

# vw_fleet_agent_stop I [SIGNAL]: stops host I's agent (default TERM) and
# reaps it; KILL for kill -9. Returns the agent's exit status.
vw_fleet_agent_stop() {
	local i=$1 sig=${2:-TERM} pid=${VW_FLEET_AGENT_PID[$1]:--1} rc=0 n
	[ "$pid" -gt 0 ] || return 0
	kill -CONT "$pid" 2>/dev/null || true
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((n = 0; n < 100; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	VW_FLEET_AGENT_PID[$i]=-1
	return "$rc"
}

# vw_fleet_agent_running I: the agent started last for host I still runs.
vw_fleet_agent_running() {
	local pid=${VW_FLEET_AGENT_PID[$1]:--1}
	[ "$pid" -gt 0 ] && kill -0 "$pid" 2>/dev/null
}

vw_fleet_cleanup() {
	local i
	for i in "${VW_FLEET_HOSTS[@]}"; do vw_fleet_agent_stop "$i" || true; done
}

# Stops the agents, then etcd's members, then removes what netns.sh made, on
# exit and on Ctrl-C / SIGTERM (then exits 130 / 143).
_vw_fleet_teardown() {
	vw_fleet_cleanup
	vw_etcd_stop_all
	vw_cleanup
}
vw_fleet_install_cleanup_trap() {
	trap '_vw_fleet_teardown' EXIT
	trap '_vw_fleet_teardown; trap - EXIT; exit 130' INT
	trap '_vw_fleet_teardown; trap - EXIT; exit 143' TERM
}

# vw_fleet_test_start NS_PREFIX PIN_PREFIX COMMAND...: how a fleet test
# starts. Root and etcd, or exit 77 (skipped); COMMAND..., the three binaries
# and bpffs, or exit 1. Then VW_PREFIX is NS_PREFIX<pid>, what killed runs
# left is swept (vw_sweep_stale NS_PREFIX PIN_PREFIX), and TMP (also
# VW_FLEET_TMP) is a new temporary directory with VW_ETCD_DIR in it.
vw_fleet_test_start() {
	local ns_prefix=$1 pin_prefix=$2
	shift 2
	vw_require_root || exit 77
	vw_require_commands etcd etcdctl || exit 77
	vw_require_commands "$@" || exit 1
	vw_require_executables "$VW_AGENT" "$VW_LOADER" "$VW_CTL" || exit 1
	vw_require_bpffs || exit 1
	VW_PREFIX=$ns_prefix$$
	vw_sweep_stale "$ns_prefix" "$pin_prefix"
	vw_mktemp_dir TMP || exit 1
	VW_FLEET_TMP=$TMP VW_ETCD_DIR=$TMP/etcd
}

# vw_fleet_ctl ARGS...: vaultwallctl with the etcd endpoints and credentials.
vw_fleet_ctl() {
	local sub=$1
	shift
	if [ "$sub" = fleet ]; then
		local cmd=$1
		shift
		timeout "${VW_CMD_TIMEOUT:-60}" "$VW_CTL" fleet "$cmd" \
			--endpoints "${VW_FLEET_ENDPOINTS:-$VW_ETCD_ENDPOINTS}" "${VW_FLEET_ETCD_ARGS[@]}" "$@"
	else
		timeout "${VW_CMD_TIMEOUT:-60}" "$VW_CTL" "$sub" "$@"
	fi
}

# vw_fleet_policy FILE RULE...: a shared policy: default Deny, bypass None,
# the given IP rules.
vw_fleet_policy() {
	local file=$1 rules="" rule
	shift
	for rule in "$@"; do rules+="${rules:+, }{\"value\": \"$rule\"}"; done
	printf '{"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [%s]}}}\n' \
		"$rules" >"$file"
}

# vw_fleet_https I SOURCE: one HTTPS GET from host I's client namespace,
# from SOURCE, to the vault's protected port: the HTTP status, or rc=N
# (28: timed out, the SYN was dropped).
vw_fleet_https() {
	local i=$1 src=$2 code rc
	code=$(vw_in_ns "$(vw_fleet_client_ns "$i")" timeout 5 curl -sk -o /dev/null -w '%{http_code}' \
		--connect-timeout 1 --max-time 3 --interface "$src" \
		"https://$VW_FLEET_VAULT_IP:${VW_FLEET_PORT[$i]}/")
	rc=$?
	if [ "$rc" = 0 ]; then echo "$code"; else echo "rc=$rc"; fi
}

# vw_fleet_verdicts I: "allowed=<result> denied=<result>" for host I.
vw_fleet_verdicts() {
	printf 'allowed=%s denied=%s' "$(vw_fleet_https "$1" "$VW_FLEET_ALLOWED_SRC")" \
		"$(vw_fleet_https "$1" "$VW_FLEET_DENIED_SRC")"
}

# vw_fleet_status_json: `fleet status -o json` (exit status ignored).
vw_fleet_status_json() { vw_fleet_ctl fleet status -o json 2>/dev/null || true; }

# vw_fleet_host_field I JQ: a field of host hI in fleet status, e.g.
# vw_fleet_host_field 1 .state
vw_fleet_host_field() {
	vw_fleet_status_json | jq -r --arg h "h$1" ".hosts[] | select(.host == \$h) | $2"
}

# vw_fleet_wait TIMEOUT CONDITION: until the jq CONDITION holds on fleet
# status -o json (polled every 0.1 s), at most TIMEOUT seconds.
vw_fleet_wait() {
	local limit=$1 condition=$2 start=$SECONDS
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		if vw_fleet_status_json | jq -e "$condition" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "  (after ${limit}s, not: $condition)" >&2
	vw_fleet_status_json | jq -c '.hosts[] | {host, state, policyRevision, sharedDigest, error}' >&2
	return 1
}

# vw_fleet_wait_digest TIMEOUT DIGEST [HOST...]: until every named host (all
# by default) is in sync on DIGEST with verify ok.
vw_fleet_wait_digest() {
	local limit=$1 digest=$2
	shift 2
	local hosts=("$@") names
	[ ${#hosts[@]} -gt 0 ] || hosts=("${VW_FLEET_HOSTS[@]}")
	names=$(printf '"h%s",' "${hosts[@]}")
	vw_fleet_wait "$limit" "[.hosts[] | select(.host | IN(${names%,})) | select(.state == \"in-sync\" and .verify == \"ok\" and .sharedDigest == \"$digest\")] | length == ${#hosts[@]}"
}
