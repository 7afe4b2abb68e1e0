#!/usr/bin/env bash
# fleet_auth_test.sh - fleet mode with least privilege: a 3-member etcd
# cluster with TLS (client certificates required, CN-less as the gateway
# wants) and auth set up by scripts/etcd-auth-setup.sh; two hosts whose
# agents authenticate with their own users, an admin who puts.
#
#   fleet_auth_test.sh AGENT LOADER VAULTWALLCTL NETNS_LIB ETCD_LIB FLEET_LIB AUTH_SETUP
#
# - the agents converge on the admin's policy over TLS with tokens
# - host 1's credentials read its vault's policy and write its own status,
#   and cannot write host 2's status, any policy, or read another vault
#   (etcdctl over gRPC, and vaultwallctl over the gateway)
# - no credentials, a wrong password, a password file others can read, a
#   client certificate with a CN: refused, each with a clear message
# - tokens expire (--auth-token-ttl 2): agents authenticate again by
#   themselves and keep converging
#
# Exit 0 when every check passed, 1 otherwise, 77 when not root or etcd is
# missing (skipped).
set -uo pipefail

if [ $# -ne 7 ]; then
	echo "usage: $0 AGENT LOADER VAULTWALLCTL NETNS_LIB ETCD_LIB FLEET_LIB AUTH_SETUP" >&2
	exit 2
fi
VW_AGENT=$1 VW_LOADER=$2 VW_CTL=$3 AUTH_SETUP=$7
# shellcheck source=../../scripts/lib/netns.sh
source "$4"
# shellcheck source=../../scripts/lib/etcd.sh
source "$5"
# shellcheck source=../../scripts/lib/fleet.sh
source "$6"

VW_FLEET_PIN_ROOT=/sys/fs/bpf/vwtest-fleetauth-$$
vw_fleet_test_start vwu vwtest-fleetauth- openssl python3 jq timeout
VW_FLEET_VAULT=kv-auth
VW_FLEET_AGENT_ARGS=(--status-ttl 5 --watch-timeout 3 --heartbeat-interval 1)
vw_fleet_install_cleanup_trap

TLS=$TMP/tls
CREDS=$TMP/creds
vw_etcd_use_tls "$TLS" || fatal "make the test CA and certificates"
VW_ETCD_EXTRA_FLAGS+=(--auth-token-ttl 2)
vw_etcd_start 3 || fatal "start a 3-member etcd cluster with TLS"
tls_args=(--cacert "$TLS/ca.pem" --cert "$TLS/client.pem" --key "$TLS/client.key")

check "etcd-auth-setup.sh: roles, users and auth enabled" \
	"$AUTH_SETUP" --endpoints "$VW_ETCD_ENDPOINTS" "${tls_args[@]}" --out "$CREDS" \
	--vault kv-auth h1 h2 --vault kv-other h9
check "every password file is 0600" \
	bash -c "[ -z \"\$(find $CREDS -name '*.password' ! -perm 600)\" ]"
as_user() { # USER: etcdctl as that user
	local user=$1
	shift
	ETCDCTL_API=3 etcdctl --endpoints "$VW_ETCD_ENDPOINTS" "${tls_args[@]}" --dial-timeout 3s \
		"--user=$user:$(cat "$CREDS/$user.password")" "$@"
}
check "auth is on: without credentials etcd refuses" \
	bash -c "! ETCDCTL_API=3 etcdctl --endpoints $VW_ETCD_ENDPOINTS ${tls_args[*]} get /vaultwall/v1/ --prefix >/dev/null 2>&1"

# ---- the fleet, authenticated -------------------------------------------------------------
vw_fleet_host_add 1 - || fatal "host 1"
vw_fleet_host_add 2 - || fatal "host 2"
admin=("${tls_args[@]}" --user vaultwall-admin --password-file "$CREDS/vaultwall-admin.password")
VW_FLEET_ETCD_ARGS=("${tls_args[@]}" --user h1 --password-file "$CREDS/h1.password")
vw_fleet_agent_start 1
VW_FLEET_ETCD_ARGS=("${tls_args[@]}" --user h2 --password-file "$CREDS/h2.password")
vw_fleet_agent_start 2
VW_FLEET_ETCD_ARGS=("${admin[@]}")
vw_fleet_policy "$TMP/a.json" 198.51.100.0/24
check "the admin's put converges both hosts (TLS, per-host users)" \
	vw_fleet_ctl fleet put --vault kv-auth -f "$TMP/a.json" --wait --timeout 20
check "fleet status as the admin: both in sync" \
	vw_fleet_wait 10 '[.hosts[] | select(.state == "in-sync")] | length == 2'

# ---- what host 1 may do ----------------------------------------------------------------------
check "h1 reads its vault's policy" as_user h1 get /vaultwall/v1/vaults/kv-auth/policy
check "h1 writes its own status" as_user h1 put /vaultwall/v1/hosts/h1/probe x
denied() { # etcdctl ARGS as h1 must fail with permission denied
	local out
	out=$(as_user h1 "$@" 2>&1) && { echo "  (allowed: $*)"; return 1; }
	grep -q "permission denied" <<<"$out" || { echo "  ($out)"; return 1; }
}
check "h1 cannot write h2's status" denied put /vaultwall/v1/hosts/h2/status forged
check "h1 cannot write its vault's policy" denied put /vaultwall/v1/vaults/kv-auth/policy forged
check "h1 cannot write another vault's policy" denied put /vaultwall/v1/vaults/kv-other/policy forged
check "h1 cannot read another vault's policy" denied get /vaultwall/v1/vaults/kv-other/policy
check "h1 cannot delete the policy" denied del /vaultwall/v1/vaults/kv-auth/policy
check "h2's status is untouched" \
	test "$(as_user vaultwall-admin get /vaultwall/v1/hosts/h2/status --print-value-only | jq -r .host)" = h2
h1_gateway=("${tls_args[@]}" --user h1 --password-file "$CREDS/h1.password")
vw_fleet_policy "$TMP/forged.json" 198.51.100.0/24 203.0.113.0/24
out=$(timeout 30 "$VW_CTL" fleet put --endpoints "$VW_ETCD_ENDPOINTS" "${h1_gateway[@]}" \
	--vault kv-auth -f "$TMP/forged.json" --comment forged 2>&1)
check "over the gateway too: fleet put with h1's credentials is refused (permission denied)" \
	grep -qi "permission denied" <<<"$out"

# ---- refusals with clear messages ---------------------------------------------------------------
out=$(timeout 30 "$VW_CTL" fleet status --endpoints "$VW_ETCD_ENDPOINTS" "${tls_args[@]}" 2>&1)
check "no credentials: refused, saying auth needs --user and --password-file ($out)" \
	grep -q "user name is empty.*--password-file" <<<"$out"
echo wrong >"$TMP/wrong.password"
chmod 600 "$TMP/wrong.password"
out=$(timeout 30 "$VW_CTL" fleet status --endpoints "$VW_ETCD_ENDPOINTS" "${tls_args[@]}" \
	--user h1 --password-file "$TMP/wrong.password" 2>&1)
check "a wrong password: authentication failed, naming the user ($out)" \
	grep -q "authenticate as 'h1'.*check the user name and the password" <<<"$out"
cp "$CREDS/h1.password" "$TMP/open.password"
chmod 644 "$TMP/open.password"
out=$("$VW_AGENT" --pin-dir "${VW_FLEET_PIN[1]}" --vault kv-auth --endpoints "$VW_ETCD_ENDPOINTS" \
	"${tls_args[@]}" --user h1 --password-file "$TMP/open.password" 2>&1)
rc=$?
check "a password file others can read: the agent refuses to start (exit 2) and says chmod 600" \
	bash -c "[ $rc = 2 ] && grep -q 'chmod 600' <<<$(printf '%q' "$out")"
(cd "$TLS" && printf 'extendedKeyUsage=clientAuth\n' >cn.ext &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cn.key \
		-out cn.csr -subj "/CN=h1" 2>/dev/null &&
	openssl x509 -req -in cn.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cn.pem -days 1 \
		-extfile cn.ext 2>/dev/null)
out=$(timeout 30 "$VW_CTL" fleet status --endpoints "$VW_ETCD_ENDPOINTS" --cacert "$TLS/ca.pem" \
	--cert "$TLS/cn.pem" --key "$TLS/cn.key" --user h1 --password-file "$CREDS/h1.password" 2>&1)
check "a client certificate with a CN: refused by the gateway, and the message says so ($out)" \
	grep -q "CommonName" <<<"$out"

# ---- tokens expire ---------------------------------------------------------------------------------
sleep 4 # past --auth-token-ttl 2: every token the agents hold is gone
vw_fleet_policy "$TMP/b.json" 203.0.113.0/24
check "after the tokens expired, a change still converges both hosts" \
	vw_fleet_ctl fleet put --vault kv-auth -f "$TMP/b.json" --wait --timeout 20
check "both agents still run" bash -c "kill -0 ${VW_FLEET_AGENT_PID[1]} && kill -0 ${VW_FLEET_AGENT_PID[2]}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
