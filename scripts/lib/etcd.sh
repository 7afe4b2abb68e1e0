# shellcheck shell=bash
# etcd.sh - a throwaway etcd cluster on 127.0.0.1 for fleet tests, the fleet
# demo and the fleet benchmark. Source it; do not execute it.
#
#   source scripts/lib/etcd.sh
#   VW_ETCD_DIR=$tmp/etcd            # data dirs and logs (removed by the caller)
#   vw_etcd_start 3                  # 3 members, ports picked free, waits for a leader
#   echo "$VW_ETCD_ENDPOINTS"        # http://127.0.0.1:P1,http://127.0.0.1:P2,...
#   vw_etcdctl put /k v              # etcdctl against the running members
#   vw_etcd_kill 0; vw_etcd_restart 0
#   vw_etcd_leader                   # index of the leader, or -1
#   vw_etcd_stop_all                 # SIGKILL every running member, by its PID
#
# Every member is started by this shell and killed by the PID it got then;
# VW_ETCD_PIDS[i] is -1 while member i is down, so a PID is never signalled
# after it was reaped (it may belong to someone else by then).
#
# Settings (before vw_etcd_start): VW_ETCD_PROGRESS (progress notify
# interval, default 1s), VW_ETCD_EXTRA_FLAGS (an array of more etcd flags,
# e.g. TLS), VW_ETCD_SCHEME (http or https).

VW_ETCD_DIR=${VW_ETCD_DIR:-}
VW_ETCD_PIDS=()
VW_ETCD_CLIENT_PORTS=()
VW_ETCD_PEER_PORTS=()
VW_ETCD_ENDPOINTS=""
VW_ETCD_SCHEME=${VW_ETCD_SCHEME:-http}
declare -a VW_ETCD_EXTRA_FLAGS=("${VW_ETCD_EXTRA_FLAGS[@]}")
VW_ETCDCTL_FLAGS=()  # e.g. --cacert/--cert/--key/--user for a TLS or auth cluster

_vw_etcd_log() { printf '%s\n' "$*" >&2; }

# N distinct ports nothing listens on now, below the kernel's ephemeral
# range: a port from bind(0) comes from that range, where any outgoing
# connection on the machine can take it before etcd binds it.
_vw_free_ports() {
	python3 - "$1" <<'EOF'
import random, socket, sys
low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
first, last = (20000, low - 1) if low > 20001 else (high + 1, 65535)
socks = []
for _ in range(200):
    if len(socks) == int(sys.argv[1]):
        break
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randint(first, last)))
        socks.append(s)
    except OSError:
        s.close()
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

_vw_etcd_url() { printf '%s://127.0.0.1:%s' "$VW_ETCD_SCHEME" "${VW_ETCD_CLIENT_PORTS[$1]}"; }

_vw_etcd_spawn() {
	local i=$1 state=$2 cluster="" j
	for ((j = 0; j < ${#VW_ETCD_CLIENT_PORTS[@]}; j++)); do
		cluster+="${cluster:+,}m$j=http://127.0.0.1:${VW_ETCD_PEER_PORTS[$j]}"
	done
	etcd --name "m$i" --data-dir "$VW_ETCD_DIR/m$i" \
		--listen-client-urls "$(_vw_etcd_url "$i")" --advertise-client-urls "$(_vw_etcd_url "$i")" \
		--listen-peer-urls "http://127.0.0.1:${VW_ETCD_PEER_PORTS[$i]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${VW_ETCD_PEER_PORTS[$i]}" \
		--initial-cluster "$cluster" --initial-cluster-state "$state" \
		--initial-cluster-token "vw-$$-${VW_ETCD_DIR##*/}-${VW_ETCD_ATTEMPT:-1}" \
		--heartbeat-interval 50 --election-timeout 500 \
		--experimental-watch-progress-notify-interval "${VW_ETCD_PROGRESS:-1s}" \
		--logger zap --log-level warn "${VW_ETCD_EXTRA_FLAGS[@]}" \
		>>"$VW_ETCD_DIR/m$i.log" 2>&1 </dev/null &
	VW_ETCD_PIDS[i]=$!
}

# vw_etcd_start N: N members; sets VW_ETCD_ENDPOINTS; waits (at most 20 s)
# until every member is healthy. A start that fails (a member lost its port
# to another process between the pick and its bind, or a loaded machine
# stalled the first election) is tried again on fresh ports and data dirs,
# up to 3 times; each attempt's logs are kept as mN.attemptK.log.
vw_etcd_start() {
	local n=$1 attempt i
	[ -n "$VW_ETCD_DIR" ] || { _vw_etcd_log "set VW_ETCD_DIR first"; return 1; }
	mkdir -p "$VW_ETCD_DIR"
	for attempt in 1 2 3; do
		VW_ETCD_ATTEMPT=$attempt
		_vw_etcd_start_members "$n" && return 0
		vw_etcd_stop_all
		for ((i = 0; i < n; i++)); do
			rm -rf "${VW_ETCD_DIR:?}/m$i"
			mv -f "$VW_ETCD_DIR/m$i.log" "$VW_ETCD_DIR/m$i.attempt$attempt.log" 2>/dev/null || true
		done
	done
	_vw_etcd_log "etcd cluster in $VW_ETCD_DIR did not start in 3 attempts (logs: $VW_ETCD_DIR/m*.log)"
	return 1
}

_vw_etcd_start_members() {
	local n=$1 ports i
	read -r -a ports <<<"$(_vw_free_ports $((2 * n)))"
	[ "${#ports[@]}" -eq $((2 * n)) ] || { _vw_etcd_log "no $((2 * n)) free ports on 127.0.0.1"; return 1; }
	VW_ETCD_CLIENT_PORTS=() VW_ETCD_PEER_PORTS=() VW_ETCD_PIDS=()
	for ((i = 0; i < n; i++)); do
		VW_ETCD_CLIENT_PORTS[i]=${ports[$((2 * i))]}
		VW_ETCD_PEER_PORTS[i]=${ports[$((2 * i + 1))]}
	done
	VW_ETCD_ENDPOINTS=""
	for ((i = 0; i < n; i++)); do VW_ETCD_ENDPOINTS+="${VW_ETCD_ENDPOINTS:+,}$(_vw_etcd_url "$i")"; done
	for ((i = 0; i < n; i++)); do _vw_etcd_spawn "$i" new; done
	vw_etcd_wait_healthy 20
}

# The endpoints of the members running now.
vw_etcd_running_endpoints() {
	local i out=""
	for ((i = 0; i < ${#VW_ETCD_PIDS[@]}; i++)); do
		[ "${VW_ETCD_PIDS[$i]}" -gt 0 ] && out+="${out:+,}$(_vw_etcd_url "$i")"
	done
	printf '%s' "$out"
}

vw_etcdctl() {
	ETCDCTL_API=3 etcdctl --endpoints "$(vw_etcd_running_endpoints)" --dial-timeout 2s \
		--command-timeout 8s "${VW_ETCDCTL_FLAGS[@]}" "$@"
}

# vw_etcd_wait_healthy SECONDS: until every running member answers healthy.
vw_etcd_wait_healthy() {
	local limit=$1 i
	local j
	for ((i = 0; i < limit * 10; i++)); do
		if vw_etcdctl endpoint health >/dev/null 2>&1; then return 0; fi
		for ((j = 0; j < ${#VW_ETCD_PIDS[@]}; j++)); do
			[ "${VW_ETCD_PIDS[$j]}" -gt 0 ] || continue
			kill -0 "${VW_ETCD_PIDS[$j]}" 2>/dev/null && continue
			_vw_etcd_log "etcd member m$j exited: $(tail -n 2 "$VW_ETCD_DIR/m$j.log" 2>/dev/null)"
			wait "${VW_ETCD_PIDS[$j]}" 2>/dev/null || true
			VW_ETCD_PIDS[j]=-1
			return 1
		done
		sleep 0.1
	done
	_vw_etcd_log "etcd cluster in $VW_ETCD_DIR not healthy after ${limit}s (logs: $VW_ETCD_DIR/m*.log)"
	return 1
}

# vw_etcd_kill I [SIGNAL]: signals member I (default KILL) and reaps it.
vw_etcd_kill() {
	local i=$1 sig=${2:-KILL} pid=${VW_ETCD_PIDS[$1]}
	[ "$pid" -gt 0 ] || return 0
	kill "-$sig" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	VW_ETCD_PIDS[i]=-1
}

# vw_etcd_restart I: member I again, on its data dir and ports.
vw_etcd_restart() {
	[ "${VW_ETCD_PIDS[$1]}" -le 0 ] || return 0
	_vw_etcd_spawn "$1" existing
}

vw_etcd_stop_all() {
	local i
	for ((i = 0; i < ${#VW_ETCD_PIDS[@]}; i++)); do vw_etcd_kill "$i"; done
}

# Index of the member that leads now, or -1.
vw_etcd_leader() {
	local i status
	for ((i = 0; i < ${#VW_ETCD_PIDS[@]}; i++)); do
		[ "${VW_ETCD_PIDS[$i]}" -gt 0 ] || continue
		status=$(ETCDCTL_API=3 etcdctl --endpoints "$(_vw_etcd_url "$i")" --dial-timeout 1s \
			"${VW_ETCDCTL_FLAGS[@]}" endpoint status -w json 2>/dev/null) || continue
		if python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; sys.exit(0 if s["header"]["member_id"]==s["leader"] else 1)' <<<"$status"; then
			echo "$i"
			return 0
		fi
	done
	echo -1
}

# vw_etcd_member_index HEX_ID: which member has this id (as the agent's
# status reports it in watchMember), or -1.
vw_etcd_member_index() {
	local want=$1 i status
	for ((i = 0; i < ${#VW_ETCD_PIDS[@]}; i++)); do
		[ "${VW_ETCD_PIDS[$i]}" -gt 0 ] || continue
		status=$(ETCDCTL_API=3 etcdctl --endpoints "$(_vw_etcd_url "$i")" --dial-timeout 1s \
			"${VW_ETCDCTL_FLAGS[@]}" endpoint status -w json 2>/dev/null) || continue
		if python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; sys.exit(0 if "%016x" % s["header"]["member_id"]==sys.argv[1] else 1)' "$want" <<<"$status"; then
			echo "$i"
			return 0
		fi
	done
	echo -1
}

# vw_etcd_use_tls DIR: makes a test CA, a member certificate (127.0.0.1,
# serverAuth and clientAuth: the gateway proxies with it) and a client
# certificate without CN (the gateway refuses CNs) in DIR, and sets the
# scheme, member flags and etcdctl flags to use them. Call before
# vw_etcd_start. Client files: DIR/ca.pem, DIR/client.pem, DIR/client.key.
vw_etcd_use_tls() {
	local dir=$1
	mkdir -p "$dir"
	_vw_sign() { # NAME SUBJECT EXTENSIONS
		printf '%b' "$3" >"$dir/$1.ext"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$dir/$1.key" -out "$dir/$1.csr" -subj "$2" 2>/dev/null &&
			openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
				-CAcreateserial -out "$dir/$1.pem" -days 2 -extfile "$dir/$1.ext" 2>/dev/null
	}
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=vaultwall test CA" 2>/dev/null || return 1
	_vw_sign server "/CN=etcd-test-member" \
		"subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n" || return 1
	_vw_sign client "/O=vaultwall test host" \
		"subjectAltName=DNS:host.test\nextendedKeyUsage=clientAuth\n" || return 1
	chmod 600 "$dir"/*.key
	VW_ETCD_SCHEME=https
	VW_ETCD_EXTRA_FLAGS+=(--cert-file "$dir/server.pem" --key-file "$dir/server.key"
		--trusted-ca-file "$dir/ca.pem" --client-cert-auth)
	VW_ETCDCTL_FLAGS+=(--cacert "$dir/ca.pem" --cert "$dir/client.pem" --key "$dir/client.key")
}
