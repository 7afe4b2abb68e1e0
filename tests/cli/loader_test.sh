#!/usr/bin/env bash
# loader_test.sh - vaultwall-loader's subcommands on a veth pair in network
# namespaces this test creates (and removes): load, status [-o json],
# attach/detach, load again (an upgrade), detach --all --purge; with
# vaultwallctl apply and stats in between, so counters prove what is
# attached.
#
#   loader_test.sh VAULTWALL_LOADER VAULTWALLCTL NETNS_LIB
#
#   ns <P>vault                          ns <P>cli
#   <P>v  192.0.2.10/24   <-- veth -->   <P>c  192.0.2.20/24
#                                              203.0.113.20/32  (allowed source)
#                                              198.51.100.50/32 (denied source)
# Root only: exits 77 (ctest: skipped) otherwise.
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 VAULTWALL_LOADER VAULTWALLCTL NETNS_LIB" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"

vw_preflight ip nsenter python3 jq setpriv timeout mountpoint || exit $?

VW_PREFIX=vwc$$
NS_VAULT=${VW_PREFIX}vault NS_CLI=${VW_PREFIX}cli IF_VAULT=${VW_PREFIX}v IF_CLI=${VW_PREFIX}c
VAULT_IP=192.0.2.10 ALLOWED_IP=203.0.113.20 DENIED_IP=198.51.100.50
PIN=/sys/fs/bpf/vwtest-cli-$$

vw_sweep_stale vwc vwtest-cli-
vw_install_cleanup_trap
trap vw_cleanup EXIT
vw_register_pin_dir "$PIN"
vw_mktemp_dir TMP || exit 1

vw_ns_add "$NS_VAULT" && vw_ns_add "$NS_CLI" &&
	vw_veth_add "$NS_VAULT" "$IF_VAULT" "$VAULT_IP/24" "$NS_CLI" "$IF_CLI" 192.0.2.20/24 &&
	vw_addr_add "$NS_CLI" "$IF_CLI" "$ALLOWED_IP/32" &&
	vw_addr_add "$NS_CLI" "$IF_CLI" "$DENIED_IP/32" &&
	vw_route_add "$NS_VAULT" "$ALLOWED_IP/32" dev "$IF_VAULT" &&
	vw_route_add "$NS_VAULT" "$DENIED_IP/32" dev "$IF_VAULT" ||
	{ echo "FAIL: could not build the namespaces"; exit 1; }

# Both binaries run inside the vault namespace (its interfaces), against
# the host's bpffs.
loader() { run nsenter --net="/run/netns/$NS_VAULT" -- "$LOADER" --pin-dir "$PIN" "$@"; }
ctl() { run nsenter --net="/run/netns/$NS_VAULT" -- "$CTL" --pin-dir "$PIN" "$@"; }

# One TCP connection attempt to the vault's data-plane port from SOURCE,
# given a second; its outcome does not matter, the counters do.
knock() {
	vw_in_ns "$NS_CLI" timeout 5 python3 -c 'import socket, sys
try:
    socket.create_connection((sys.argv[1], 443), timeout=1, source_address=(sys.argv[2], 0))
except OSError:
    pass' "$VAULT_IP" "$1"
}

# stat_value FILTER: the jq FILTER's result over `vaultwallctl stats -o json`.
stat_value() {
	ctl stats -o json
	json_value "$1"
}
ip_rule_packets() { stat_value '.classes.ip_rule.packets'; }
denied_packets() { stat_value '.classes.default_deny.packets'; }
rule_packets() { stat_value '[.rules[] | select(.value == "203.0.113.0/24") | .packets][0]'; }

# xdp_on_vault_interface: what ip(8) says is attached (none, native, generic).
xdp_on_vault_interface() {
	case $(ip -n "$NS_VAULT" -details link show dev "$IF_VAULT") in
	*" xdpgeneric"*) echo generic ;;
	*" xdp "* | *" xdpdrv"*) echo native ;;
	*) echo none ;;
	esac
}
expect_xdp() {
	local got
	got=$(xdp_on_vault_interface)
	if [ "$got" = "$1" ]; then _pass "$2 (ip link: $1)"; else _fail "$2" "ip link says $got, expected $1"; fi
}

cat >"$TMP/policy.json" <<'EOF'
{
  "defaultAction": "Deny",
  "bypass": "None",
  "ipRules": [{"value": "203.0.113.0/24"}],
  "vaultwall": {"dataPlane": {"ports": ["tcp/443"], "addresses": ["192.0.2.10"]}}
}
EOF

echo "== before load"
loader status
expect_exit 1 "status of a pin dir where nothing is loaded: red (nothing is filtered)"
expect_out "run vaultwall-loader load" "status says to load"
loader status -o json
expect_json "status -o json (nothing loaded)"
expect_json_value '.loaded' false "status -o json says not loaded"
expect_json_value '[.sourceIndex.capacityChunks, .sourceIndex.ipv6Nodes]' "[0,0]" \
  "status -o json: no index sizes when nothing is loaded"
loader attach "$IF_VAULT"
expect_exit 1 "attach before load"
expect_err_ends_with "run vaultwall-loader load first" "attach before load: hint"

echo "== load, apply, attach"
loader load
expect_exit 0 "load"
expect_out "maps pinned at $PIN" "load says where the maps are"
loader status -o json
expect_exit 0 "status -o json"
expect_json "status -o json"
expect_json_value '.loaded' true "status -o json says loaded"
expect_json_value '.sourceIndex.ipv6Nodes' 32768 "status -o json: the IPv6 index's nodes per slot"
expect_json_value '.interfaces' "[]" "nothing attached yet"
expect_json_value '.generation' 0 "no policy yet"
expect_json_value '.maps | [has("vw_active", "vw_rules_0", "vw_rules_1", "vw_rule_stats")] | all' true \
	"status -o json lists the pinned maps"
ctl apply -f "$TMP/policy.json"
expect_exit 0 "apply before attach (no open window)"
loader status
expect_exit 1 "status with a policy and no interface attached: red (it filters nothing)"
expect_out "no interface is attached" "status says nothing is filtered"
ctl verify
expect_exit 1 "verify with a policy and no interface attached: red"
expect_out "no interface is attached" "verify says nothing is filtered"
loader attach "$IF_VAULT"
expect_exit 0 "attach $IF_VAULT"
expect_out "$IF_VAULT: attached in native mode" "attach (auto) uses native XDP on a veth"
expect_xdp native "the program is attached"
loader status -o json
expect_json_value '[.interfaces[] | [.interface, .mode]]' "[[\"$IF_VAULT\",\"native\"]]" \
	"status -o json lists the attached interface and its mode"
expect_json_value '.generation' 1 "status -o json has the applied generation"
loader status
expect_exit 0 "status (table)"
expect_out "$IF_VAULT" "status lists the interface"
loader attach vwcnosuch0
expect_exit 1 "attach to an interface that does not exist"
expect_err_ends_with "list interfaces with: ip -brief link (inside the right network namespace)" \
	"attach to a missing interface: hint"

echo "== the attached program counts real traffic"
knock "$ALLOWED_IP"
knock "$DENIED_IP"
check "the allowed source is credited to ip_rule" test "$(ip_rule_packets)" -ge 1
check "the allowed source is credited to rule 203.0.113.0/24" test "$(rule_packets)" -ge 1
check "the denied source is counted as default_deny" test "$(denied_packets)" -ge 1
ctl stats -o json
expect_json_value '[.rules[] | .lastHit != null]' "[true]" "the rule has a last-hit time"

echo "== load again: an upgrade keeps pins, policy, counters and the attachment"
RULE_PACKETS=$(rule_packets)
loader load
expect_exit 0 "load again"
expect_out "1 attached interface(s) moved to it" "load again moves the attached interface"
loader status -o json
expect_json_value '.generation' 1 "the policy survives the reload"
expect_json_value '.interfaces | length' 1 "still attached after the reload"
check "rule counters survive the reload" test "$(rule_packets)" -ge "$RULE_PACKETS"
knock "$ALLOWED_IP"
check "the reloaded program enforces and counts" test "$(rule_packets)" -gt "$RULE_PACKETS"

echo "== detach"
loader detach "$IF_VAULT"
expect_exit 0 "detach $IF_VAULT"
expect_out "$IF_VAULT: detached" "detach says so"
expect_xdp none "nothing attached after detach"
loader status -o json
expect_json_value '.interfaces' "[]" "status -o json lists no interface after detach"
DENIED=$(denied_packets)
knock "$DENIED_IP"
check "a detached program counts nothing" test "$(denied_packets)" -eq "$DENIED"
loader detach "$IF_VAULT"
expect_exit 1 "detach of an interface that is not attached"
expect_err_ends_with "see vaultwall-loader status" "detach of a detached interface: hint"

echo "== attach --mode generic, then detach --all --purge"
loader attach "$IF_VAULT" --mode generic
expect_exit 0 "attach --mode generic"
expect_out "$IF_VAULT: attached in generic mode" "attach says generic"
expect_xdp generic "the program is attached in generic mode"
loader status -o json
expect_json_value '[.interfaces[].mode]' '["generic"]' "status -o json says generic"
loader detach --all --purge
expect_exit 0 "detach --all --purge"
expect_out "$IF_VAULT: detached" "purge detaches first"
expect_out "removed $PIN" "purge says what it removed"
expect_xdp none "nothing attached after purge"
check "the pin directory is gone" test ! -e "$PIN"
loader status -o json
expect_exit 1 "status -o json after purge: red"
expect_json_value '.loaded' false "status -o json says not loaded after purge"
ctl show
expect_exit 1 "vaultwallctl show after purge"
expect_err_ends_with "run vaultwall-loader load first" "vaultwallctl after purge: hint"

echo "== not root"
for command in load status "attach $IF_VAULT" "detach --all"; do
	# shellcheck disable=SC2086
	run setpriv --reuid=nobody --regid=nogroup --clear-groups "$LOADER" --pin-dir "$PIN" $command
	expect_exit 1 "$command as nobody"
	expect_err_ends_with "run it as root (or with sudo)" "$command as nobody: hint"
done

finish
