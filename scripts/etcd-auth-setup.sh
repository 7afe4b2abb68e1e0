#!/usr/bin/env bash
# etcd-auth-setup.sh - least privilege for fleet mode in an etcd cluster:
# one role per host (read its vault's policy, write only its own keys), an
# admin role for fleet put, a read-only monitor role, then auth enabled.
# The etcdctl commands it runs are printed, so they can be read, audited or
# typed by hand (docs/operations.md "Fleet: least privilege").
#
#   etcd-auth-setup.sh --endpoints URLS [--cacert F --cert F --key F]
#                      --out DIR [--root-password-file F]
#                      --vault VAULT HOST... [--vault VAULT2 HOST...]
#
# Writes DIR/<user>.password (mode 0600, one random password each) for
# root (only when it creates root), vaultwall-admin, vaultwall-monitor and
# every HOST. On a cluster whose auth is already enabled, give root's
# password with --root-password-file: hosts are added, nothing else changes.
# Users and roles that exist are kept (their passwords are not changed).
#
# Why passwords and not certificate names: etcd's JSON gateway, which
# vaultwall speaks, refuses client certificates that carry a CN, so hosts
# use CN-less client certificates (TLS) plus a per-host user and password
# (a token that expires; the agent authenticates again by itself).
set -euo pipefail

usage() {
	sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

endpoints="" out="" root_password_file=""
tls=()
declare -A host_vault=()
hosts=()
vault=""
while [ $# -gt 0 ]; do
	case $1 in
	--endpoints) endpoints=$2; shift 2 ;;
	--cacert | --cert | --key) tls+=("$1" "$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	--root-password-file) root_password_file=$2; shift 2 ;;
	--vault) vault=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "etcd-auth-setup.sh: unknown option $1" >&2; usage ;;
	*)
		[ -n "$vault" ] || { echo "etcd-auth-setup.sh: host $1 comes before any --vault" >&2; exit 2; }
		host_vault[$1]=$vault
		hosts+=("$1")
		shift
		;;
	esac
done
[ -n "$endpoints" ] && [ -n "$out" ] || usage
[ ${#hosts[@]} -gt 0 ] || { echo "etcd-auth-setup.sh: name at least one --vault VAULT HOST" >&2; exit 2; }
command -v etcdctl >/dev/null || { echo "etcd-auth-setup.sh: etcdctl is missing (apt-get install etcd-client)" >&2; exit 1; }
mkdir -p "$out"
chmod 700 "$out"

root_auth=()
if [ -n "$root_password_file" ]; then
	root_auth=("--user=root:$(head -n1 "$root_password_file")")
fi

run() { # prints the command (passwords elided), then runs it
	local shown=("$@") i
	for i in "${!shown[@]}"; do
		case ${shown[$i]} in --new-user-password=* | --user=*) shown[i]="${shown[$i]%%=*}=..." ;; esac
	done
	printf '+ etcdctl %s\n' "${shown[*]}" >&2
	ETCDCTL_API=3 etcdctl --endpoints "$endpoints" "${tls[@]}" "${root_auth[@]}" --dial-timeout 3s "$@"
}

# new_password USER: a random password in OUT/USER.password (0600); reused
# when the file exists.
new_password() {
	local file=$out/$1.password
	if [ ! -s "$file" ]; then
		(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$file")
	fi
	chmod 600 "$file"
	cat "$file"
}

existing_users=$(run user list 2>/dev/null || true)
existing_roles=$(run role list 2>/dev/null || true)
has() { grep -qxF "$2" <<<"$1"; }

add_user() { # USER ROLE
	if has "$existing_users" "$1"; then
		echo "user $1 exists: kept (its password is not changed)" >&2
	else
		run user add "$1" --new-user-password="$(new_password "$1")" >/dev/null
	fi
	run user grant-role "$1" "$2" >/dev/null
}
add_role() { has "$existing_roles" "$1" || run role add "$1" >/dev/null; }
grant() { run role grant-permission "$1" "$2" "$3" --prefix=true >/dev/null; }

# Root exists only to administer auth itself.
if [ ${#root_auth[@]} -eq 0 ] && ! has "$existing_users" root; then
	run user add root --new-user-password="$(new_password root)" >/dev/null
	run user grant-role root root >/dev/null
fi

# Admins write every vault's policy and read every host's status.
add_role vaultwall-admin
grant vaultwall-admin readwrite /vaultwall/v1/vaults/
grant vaultwall-admin read /vaultwall/v1/hosts/
add_user vaultwall-admin vaultwall-admin
# Dashboards and fleet status read everything, change nothing.
add_role vaultwall-monitor
grant vaultwall-monitor read /vaultwall/v1/
add_user vaultwall-monitor vaultwall-monitor

# Each host reads its own vault's policy and writes only under its own name.
for host in "${hosts[@]}"; do
	role=vaultwall-host-$host
	add_role "$role"
	grant "$role" read "/vaultwall/v1/vaults/${host_vault[$host]}/"
	grant "$role" readwrite "/vaultwall/v1/hosts/$host/"
	add_user "$host" "$role"
done

if [ ${#root_auth[@]} -eq 0 ]; then
	run auth enable >/dev/null
	root_auth=("--user=root:$(cat "$out/root.password")")
fi
echo "auth enabled; passwords (mode 0600) in $out/<user>.password for: ${hosts[*]} vaultwall-admin vaultwall-monitor" >&2
