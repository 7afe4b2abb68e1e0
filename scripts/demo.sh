#!/usr/bin/env bash
# The vaultwall demo: sets up the host (packages, bpffs), builds, then plays
# a key vault host in network namespaces. A vault namespace runs a real HTTPS
# server on 443 and a management port on 22; five clients reach it over
# their own veth links:
#   allowed   198.51.100.7   internet, inside the IP rule 198.51.100.0/24
#   denied    203.0.113.9    internet, matched by no rule
#   trusted   13.66.140.200  internet, inside Azure's AzureBackup service tag
#   app-vnet  10.1.0.5       virtual network app-vnet, subnet web (service endpoint)
#   legacy    10.2.0.5       virtual network legacy-vnet, subnet batch (no endpoint)
# vaultwall is loaded with examples/vault.json; each client tries HTTPS and
# the management port; the demo prints who got in and why, the counters, and
# removes everything it made (also when interrupted).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# shellcheck source=lib/netns.sh
source scripts/lib/netns.sh
vw_demo_prepare demo.sh vaultwall-loader vaultwallctl
LOADER=$ROOT/build/loader/vaultwall-loader
CTL=$ROOT/build/ctl/vaultwallctl

VW_PREFIX=vwd$$
vw_install_cleanup_trap
vw_require_bpffs
vw_sweep_stale vwd vwdemo-

VAULT=${VW_PREFIX}vault
VAULT_IP=192.0.2.10
PIN=/sys/fs/bpf/vwdemo-$$
vw_register_pin_dir "$PIN"

# A client namespace joined to the vault by its own veth pair. The vault end
# gets a fixed name (the rule document binds virtual networks to interface
# names) and the vault's address; each side routes to the other's /32.
add_client() {
	local name=$1 vault_if=$2 client_ip=$3 ns=${VW_PREFIX}$1
	local host_a=${VW_PREFIX}a${#CLIENTS[@]} host_b=${VW_PREFIX}b${#CLIENTS[@]}
	vw_ns_add "$ns"
	ip link add "$host_a" type veth peer name "$host_b"
	VW_CREATED_LINKS+=("$host_a")
	ip link set "$host_a" netns "$VAULT"
	ip link set "$host_b" netns "$ns"
	ip -n "$VAULT" link set "$host_a" name "$vault_if"
	ip -n "$ns" link set "$host_b" name eth0
	ip -n "$VAULT" addr add "$VAULT_IP/32" dev "$vault_if"
	ip -n "$ns" addr add "$client_ip/32" dev eth0
	ip -n "$VAULT" link set "$vault_if" up
	ip -n "$ns" link set eth0 up
	ip -n "$VAULT" route add "$client_ip/32" dev "$vault_if"
	ip -n "$ns" route add "$VAULT_IP/32" dev eth0
	CLIENTS+=("$name:$vault_if:$client_ip")
}

echo "== setting up namespaces"
vw_ns_add "$VAULT"
CLIENTS=()
add_client allowed vwd-inet1 198.51.100.7
add_client denied vwd-inet2 203.0.113.9
add_client trusted vwd-inet3 13.66.140.200
add_client app-vnet vwd-app 10.1.0.5
add_client legacy vwd-legacy 10.2.0.5

echo "== starting the vault: HTTPS on 443, management on 22"
vw_mktemp_dir TMP
openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=demo-vault.vault.azure.net" \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 2>/dev/null
VW_BG_LOG=$TMP/https.log vw_in_ns_bg "$VAULT" openssl s_server -quiet -www -accept 443 \
	-cert "$TMP/cert.pem" -key "$TMP/key.pem"
VW_BG_LOG=$TMP/ssh.log vw_in_ns_bg "$VAULT" nc -lk 22
vw_wait_tcp_listen "$VAULT" 443
vw_wait_tcp_listen "$VAULT" 22

# The demo's changes go to its own journal, not the host's /var/lib/vaultwall.
export VAULTWALL_JOURNAL=$TMP/journal.jsonl

echo "== loading vaultwall: load -> apply -> attach (no open window)"
vw_in_ns "$VAULT" "$LOADER" --pin-dir "$PIN" load
vw_in_ns "$VAULT" "$CTL" --pin-dir "$PIN" apply -f examples/vault.json 2>&1 | grep -v "IPv6 prefixes are not enforceable"
for client in "${CLIENTS[@]}"; do
	IFS=: read -r _ vault_if _ <<<"$client"
	vw_in_ns "$VAULT" "$LOADER" --pin-dir "$PIN" attach "$vault_if"
done

https_from() { # prints the HTTP status, or "timeout"
	local code
	code=$(vw_in_ns "${VW_PREFIX}$1" curl -sk --max-time 3 -o /dev/null -w '%{http_code}' \
		"https://$VAULT_IP/" 2>/dev/null) || true
	[ -n "$code" ] && [ "$code" != 000 ] && echo "$code" || echo timeout
}
port22_from() {
	vw_in_ns "${VW_PREFIX}$1" nc -z -w 2 "$VAULT_IP" 22 >/dev/null 2>&1 && echo open || echo closed
}
why() { # the reference classifier's account of the verdict
	vw_in_ns "$VAULT" "$CTL" --pin-dir "$PIN" explain "$2" --interface "$1" -o json |
		python3 -c 'import json,re,sys; e=json.load(sys.stdin); r=e.get("rule") or {}; s=e.get("trustedService") or {}
rule = re.sub(r".*/virtualnetworks/([^/]+)/subnets/", r"\1/", r.get("value", ""))
print(e["class"] + (" " + rule if rule else "") + (" " + s["name"] if s else ""))'
}

echo
echo "== who gets in"
printf '%-10s %-15s %-11s %-8s %-7s %s\n' CLIENT SOURCE INTERFACE HTTPS PORT-22 WHY
for client in "${CLIENTS[@]}"; do
	IFS=: read -r name vault_if ip <<<"$client"
	printf '%-10s %-15s %-11s %-8s %-7s %s\n' "$name" "$ip" "$vault_if" \
		"$(https_from "$name")" "$(port22_from "$name")" "$(why "$vault_if" "$ip")"
done

echo
echo "== the deny log (vaultwallctl log -o table): why the denied clients timed out"
vw_in_ns "$VAULT" "$CTL" --pin-dir "$PIN" log -o table | tail -n 6
echo
echo "== vaultwallctl stats"
vw_in_ns "$VAULT" "$CTL" --pin-dir "$PIN" stats | grep -v ' 0 *0 *-*$' || true
echo
echo "== vaultwall-loader status"
vw_in_ns "$VAULT" "$LOADER" --pin-dir "$PIN" status
echo
vw_in_ns "$VAULT" "$CTL" --pin-dir "$PIN" verify
echo
echo "== vaultwallctl history (the change journal)"
vw_in_ns "$VAULT" "$CTL" --pin-dir "$PIN" history
echo
echo "== cleaning up (namespaces, pins, processes)"
