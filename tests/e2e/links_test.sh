#!/usr/bin/env bash
# links_test.sh - links and health signals, with real traffic: an interface
# deleted and re-created, a deleted link pin, a deleted map pin before a
# reload, a flipped active slot, a segment on an interface that is not
# attached, a TUN device (no Ethernet header), tunnels without the filter.
#
#   links_test.sh LOADER CTL NETNS_LIB TUN_PROBE
#
# Topology (documentation addresses; traffic never leaves the namespaces):
#
#   ns <P>vault  <P>v 192.0.2.10/24  <-- veth -->  ns <P>cli  <P>c 192.0.2.20/24
#                                                  + 198.51.100.20 (allowed), 203.0.113.20 (denied)
#                <P>s 192.0.2.10/32  <-- veth -->  ns <P>app  eth0 10.1.0.5 (app-vnet/web)
#                <P>t  TUN: SYNs written into it from 198.51.100.77 / 203.0.113.77
#
# Policy: default Deny, IP rule 198.51.100.0/24, VNET rule app-vnet/web
# bound to segment interface <P>s, protected tcp/8443 on 192.0.2.10.
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 4 ] || { echo "usage: $0 LOADER CTL NETNS_LIB TUN_PROBE" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"
TUN_PROBE=$4

vw_preflight ip nsenter curl python3 jq timeout ss bpftool -- "$LOADER" "$CTL" || exit $?

VW_PREFIX=vwl$$
vw_client_vault_names
NS_APP=${VW_PREFIX}app IF_SEG=${VW_PREFIX}s IF_TUN=${VW_PREFIX}t IF_VXLAN=${VW_PREFIX}x
APP_IP=10.1.0.5 TUN_ALLOWED=198.51.100.77 TUN_DENIED=203.0.113.77
DATA_PORT=8443
PIN_DIR=/sys/fs/bpf/vwl-e2e-$$
VNETS=/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/e2e-rg/providers/Microsoft.Network/virtualNetworks

vw_begin_vault_test vwl vwl-e2e-

vw_workspace || fatal "temporary directory"
# out_has TEXT COMMAND...: COMMAND's stdout and stderr contain TEXT.
out_has() {
	local text=$1 out
	shift
	out=$("$@" 2>&1)
	[[ $out == *"$text"* ]] || { echo "  (no '$text' in: $(head -c 900 <<<"$out"))"; return 1; }
}
# json_true FILTER COMMAND...: COMMAND prints one JSON object for which the
# jq FILTER is true ($vault, $tun and $vxlan name the interfaces).
json_true() {
	local filter=$1 out
	shift
	out=$("$@" 2>/dev/null)
	jq -e --arg vault "$IF_VAULT" --arg tun "$IF_TUN" --arg vxlan "$IF_VXLAN" "$filter" \
		<<<"$out" >/dev/null 2>&1 ||
		{ echo "  ($filter is false for: $(head -c 900 <<<"$out"))"; return 1; }
}

# ---- topology ------------------------------------------------------------------
vw_client_vault_up || fatal "namespaces $NS_VAULT and $NS_CLI, veth pair, client addresses"
# recreate_vault_link: what a driver reload or a rebuilt bond does: the
# interface goes away and comes back under the same name.
recreate_vault_link() { ip -n "$NS_VAULT" link del "$IF_VAULT" && vw_client_vault_link; }
vw_ns_add "$NS_APP" || fatal "namespace $NS_APP"
vw_veth_add "$NS_VAULT" "$IF_SEG" "$VAULT_IP/32" "$NS_APP" "${VW_PREFIX}a" "$APP_IP/32" ||
	fatal "segment veth"
vw_route_add "$NS_VAULT" "$APP_IP/32" dev "$IF_SEG" || fatal "route to the app subnet"
vw_route_add "$NS_APP" "$VAULT_IP/32" dev "${VW_PREFIX}a" || fatal "route to the vault"
# tun_up: the TUN device, up and routed (made in its own part below: a
# decapsulating device up without vaultwall turns every health signal red).
tun_up() {
	vw_in_ns "$NS_VAULT" python3 "$TUN_PROBE" create "$IF_TUN" || fatal "TUN device"
	ip -n "$NS_VAULT" link set "$IF_TUN" up || fatal "TUN up"
	for src in "$TUN_ALLOWED" "$TUN_DENIED"; do
		vw_route_add "$NS_VAULT" "$src/32" dev "$IF_TUN" || fatal "route through the TUN device"
	done
	ip netns exec "$NS_VAULT" sysctl -qw net.ipv4.conf.all.rp_filter=0 "net.ipv4.conf.$IF_TUN.rp_filter=0" ||
		fatal "rp_filter off for the TUN device"
}
vw_in_ns_bg "$NS_VAULT" python3 -m http.server "$DATA_PORT" --bind 0.0.0.0 --directory "$TMP"
vw_wait_tcp_listen "$NS_VAULT" "$DATA_PORT" || fatal "HTTP server"

cat >"$TMP/policy.json" <<EOF
{
  "properties": {
    "publicNetworkAccess": "Enabled",
    "networkAcls": {"defaultAction": "Deny", "bypass": "None",
                    "ipRules": [{"value": "198.51.100.0/24"}],
                    "virtualNetworkRules": [{"id": "$VNETS/app-vnet/subnets/web"}]}
  },
  "vaultwall": {
    "dataPlane": {"ports": ["tcp/$DATA_PORT"], "addresses": ["$VAULT_IP"]},
    "virtualNetworks": [{"id": "$VNETS/app-vnet", "segment": {"interface": "$IF_SEG"},
                         "subnets": [{"name": "web", "addressPrefix": "10.1.0.0/24",
                                      "serviceEndpoints": ["Microsoft.KeyVault"]}]}]
  }
}
EOF
jq '.properties.networkAcls.ipRules += [{value: "203.0.113.0/24"}]' "$TMP/policy.json" >"$TMP/open.json"

# ---- traffic -----------------------------------------------------------------------
# connects NS SOURCE: an HTTP GET to the vault's data port got a reply.
connects() {
	vw_in_ns "$1" timeout 4 curl -s -o /dev/null --interface "$2" --connect-timeout 2 \
		"http://$VAULT_IP:$DATA_PORT/"
}
kept_out() { ! connects "$@"; }
# tun_answers SOURCE: SYN-ACKs for 5 SYNs written into the TUN device.
tun_answers() { vw_in_ns "$NS_VAULT" python3 "$TUN_PROBE" syn "$IF_TUN" "$1" "$VAULT_IP" "$DATA_PORT" 5; }
# metric_is NAME_AND_LABELS VALUE: one sample of `vaultwallctl metrics`.
metric_is() {
	local got
	got=$(ctl metrics | grep -F "$1 " | awk '{print $2}')
	[ "$got" = "$2" ] || { echo "  ($1 is '${got}', expected $2)"; return 1; }
}
attached_metric() { echo "vaultwall_interface_attached{interface=\"$1\",mode=\"$2\"}"; }
segments_empty() {
	local slot
	slot=$(loader status -o json | jq -r '.activeSlot')
	[ "$(bpftool -j map dump pinned "$PIN_DIR/vw_segments_$slot")" = "[]" ]
}
link_prog_id() { bpftool -j link show pinned "$PIN_DIR/link_$IF_VAULT" | jq -r '.prog_id'; }

# ---- start: load, apply, attach ------------------------------------------------------
loader load >/dev/null || fatal "vaultwall-loader load"
check "apply with a segment interface that is not attached: applied" ctl apply -f "$TMP/policy.json"
check "... with a warning naming interface, virtual network and namespace" \
	out_has "$IF_SEG is not attached" ctl apply --force -f "$TMP/policy.json"
check "... that names the namespace" out_has "network namespace net:[" ctl apply --force -f "$TMP/policy.json"
check "--strict-interfaces refuses it instead" fails ctl apply --strict-interfaces --force -f "$TMP/policy.json"
check "--strict-interfaces on a dry run refuses it too" \
	out_has "$IF_SEG is not attached" ctl apply --strict-interfaces --dry-run -f "$TMP/open.json"
check "--strict-interfaces on validate refuses it too" fails ctl validate --strict-interfaces -f "$TMP/policy.json"
check "validate without it accepts the document" ctl validate -f "$TMP/policy.json"
check "attach the vault's interface" loader attach "$IF_VAULT" --mode native
check "the unattached segment matches nothing: no segment in the active slot" segments_empty
check "attach the segment interface: the stored policy is re-applied" \
	out_has "re-applied the stored policy" loader attach "$IF_SEG"
check "... and the subnet source on its segment connects (vnet rule)" connects "$NS_APP" "$APP_IP"
check "allowed source connects" connects "$NS_CLI" "$ALLOWED_IP"
check "denied source is kept out" kept_out "$NS_CLI" "$DENIED_IP"
check "status: healthy (exit 0)" loader status
check "verify: in sync (exit 0)" ctl verify
check "verify from the host namespace resolves segments through the links: in sync" \
	"$CTL" --pin-dir "$PIN_DIR" verify
check "explain --interface from the host namespace: the segment's vnet rule" \
	out_has "PASS (vnet_rule)" "$CTL" --pin-dir "$PIN_DIR" explain "$APP_IP" --port "$DATA_PORT" --interface "$IF_SEG"
check "metric vaultwall_interface_attached is 1" metric_is "$(attached_metric "$IF_VAULT" native)" 1
check "status from the host namespace: the link is filtered, in another namespace, mode native" \
	json_true '[.interfaces[] | select(.interface == $vault) | [.state, .otherNamespace, .mode]] == [["filtered", true, "native"]]' \
	"$LOADER" --pin-dir "$PIN_DIR" status -o json
check "status under 'ip netns exec' points to nsenter" \
	out_has "nsenter --net=/run/netns/NAME" ip netns exec "$NS_VAULT" "$LOADER" --pin-dir "$PIN_DIR" status

# ---- an attached interface deleted and re-created ---------------------------------------
recreate_vault_link || fatal "re-create $IF_VAULT"
check "the re-created interface is unfiltered: the denied source connects" connects "$NS_CLI" "$DENIED_IP"
check "status is red (exit 1)" fails loader status
check "status says the link is severed and what to do" out_has "vaultwall-loader attach $IF_VAULT" loader status
check "status -o json: severed, not healthy" \
	json_true '(.healthy | not) and [.interfaces[] | select(.interface == $vault) | .state] == ["severed"]' \
	loader status -o json
check "verify is red (exit 1)" fails ctl verify
check "verify names the interface" out_has "interface $IF_VAULT is unfiltered" ctl verify
check "verify -o json: not in sync" json_true '.inSync == false' ctl verify -o json
check "metric vaultwall_interface_attached is 0" metric_is "$(attached_metric "$IF_VAULT" native)" 0
check "attach replaces the severed link" out_has "replaced its severed" loader attach "$IF_VAULT" --mode native
check "status is green again" loader status
check "verify is green again" ctl verify
check "metric back to 1" metric_is "$(attached_metric "$IF_VAULT" native)" 1
check "the denied source gets nothing afterwards" kept_out "$NS_CLI" "$DENIED_IP"
check "the allowed source connects" connects "$NS_CLI" "$ALLOWED_IP"

recreate_vault_link || fatal "re-create $IF_VAULT"
check "load with a severed link: succeeds and attaches it again" out_has "attached again" loader load
check "... the denied source gets nothing" kept_out "$NS_CLI" "$DENIED_IP"
check "... status green" loader status

# ---- a deleted link pin --------------------------------------------------------------------
rm "$PIN_DIR/link_$IF_VAULT"
check "deleted link pin: the denied source connects (the program is detached)" connects "$NS_CLI" "$DENIED_IP"
check "status is red" fails loader status
check "status -o json says pin-missing" \
	json_true '[.interfaces[] | select(.interface == $vault) | .state] == ["pin-missing"]' \
	loader status -o json
check "verify is red" fails ctl verify
check "metric is 0" metric_is "$(attached_metric "$IF_VAULT" native)" 0
check "attach repairs it" loader attach "$IF_VAULT" --mode native
check "... the denied source gets nothing" kept_out "$NS_CLI" "$DENIED_IP"

# ---- a deleted map pin, then load ---------------------------------------------------------
OLD_PROG=$(link_prog_id)
rm "$PIN_DIR/vw_active"
check "load with vw_active missing fails" fails loader load
check "... naming the missing pin" out_has "missing vw_active" loader load
check "... and the repair" out_has "load --repair" loader load
for command in "loader status" "ctl verify" "ctl stats"; do
	# shellcheck disable=SC2086
	check "$command names the repair too (not a first load)" out_has "load --repair" $command
done
check "... the link stays on the running program" test "$(link_prog_id)" = "$OLD_PROG"
check "... the denied source is still kept out" kept_out "$NS_CLI" "$DENIED_IP"
check "load --repair re-pins vw_active from the running program" loader load --repair
check "... vw_active is pinned again" test -e "$PIN_DIR/vw_active"
check "... verify is green (the policy survived)" ctl verify
check "... the denied source is kept out" kept_out "$NS_CLI" "$DENIED_IP"
check "... the allowed source connects" connects "$NS_CLI" "$ALLOWED_IP"

# ---- the active slot flipped back to an older policy ------------------------------------------
ctl apply -f "$TMP/open.json" >/dev/null || fatal "apply the open policy"
ctl apply -f "$TMP/policy.json" >/dev/null || fatal "apply the policy again"
vw_flip_active_slot "$PIN_DIR" || fatal "flip vw_active.slot with bpftool"
check "flipped slot: the older policy rules (the denied source connects)" connects "$NS_CLI" "$DENIED_IP"
check "verify is red" fails ctl verify
check "verify says the slot was flipped back" out_has "flipped back" ctl verify
check "verify compares with the journal" out_has "change journal" ctl verify
check "loader status is red" fails loader status
check "... says the active slot holds an older generation" out_has "older generation" loader status
check "... healthy false in -o json, with the idle slot's generation" \
	json_true '.healthy == false and .idleSlotGeneration > .generation' loader status -o json
check "apply --force repairs it" ctl apply --force -f "$TMP/policy.json"
check "... verify green" ctl verify
check "... loader status green" loader status
check "... the denied source is kept out" kept_out "$NS_CLI" "$DENIED_IP"

# ---- a TUN device: no Ethernet header -------------------------------------------------------
tun_up
check "before attaching, the TUN device delivers a denied source" test "$(tun_answers "$TUN_DENIED")" -gt 0
check "status warns about the unfiltered TUN device" out_has "$IF_TUN (tun) is up" loader status
check "... and is red" fails loader status
check "attach the TUN device: the IP entry point, generic mode" out_has "IP entry point" loader attach "$IF_TUN"
check "TUN: 0 of 5 denied SYNs answered" test "$(tun_answers "$TUN_DENIED")" = 0
check "TUN: the allowed source is answered" test "$(tun_answers "$TUN_ALLOWED")" -gt 0
check "status no longer warns about it" \
	json_true 'all(.unfilteredTunnels[]; .interface != $tun)' loader status -o json
check "load moves the TUN link to the new IP entry point" loader load
check "... still 0 of 5 denied SYNs answered" test "$(tun_answers "$TUN_DENIED")" = 0
check "... and the allowed source answered" test "$(tun_answers "$TUN_ALLOWED")" -gt 0

# ---- decapsulating devices and the empty cases -------------------------------------------------
ip -n "$NS_VAULT" link add "$IF_VXLAN" type vxlan id 42 dstport 4789 local "$VAULT_IP" dev "$IF_VAULT" &&
	ip -n "$NS_VAULT" link set "$IF_VXLAN" up || fatal "vxlan device"
check "status lists an unfiltered vxlan device in -o json" \
	json_true '[.unfilteredTunnels[] | select(.interface == $vxlan) | .kind] == ["vxlan"]' \
	loader status -o json
# What it decapsulates reaches the vault decided by nothing: red, not a warning.
check "... and status is red" fails loader status
check "... healthy false in -o json, the device listed unfiltered with its fix" \
	json_true '.healthy == false and ([.interfaces[] | select(.interface == $vxlan) |
		.filtered == false and .state == "tunnel-unfiltered" and (.hint | contains("attach"))] == [true])' \
	loader status -o json
check "... verify is red and names it" out_has "interface $IF_VXLAN is unfiltered" ctl verify
check "... verify exits 1" fails ctl verify
check "... vaultwall_interface_attached is 0 for it" \
	metric_is "$(attached_metric "$IF_VXLAN" "")" 0
check "attach the vxlan device (Ethernet frames)" loader attach "$IF_VXLAN"
check "... status green with it attached" loader status
check "... verify green" ctl verify
ip -n "$NS_VAULT" link del "$IF_VXLAN" || fatal "delete the vxlan device"
check "load with an expected interface gone: loads (exit 0)" loader load
check "... and warns that it is still unfiltered" out_has "still unfiltered: $IF_VXLAN" loader load
check "... status stays red" fails loader status
check "detach stops expecting it" loader detach "$IF_VXLAN"
check "... status green again" loader status
EMPTY_PIN=$PIN_DIR-empty
vw_register_pin_dir "$EMPTY_PIN"
check "status with nothing loaded is red" fails "$LOADER" --pin-dir "$EMPTY_PIN" status
check "status -o json with nothing loaded: the same shape" \
	json_true '.loaded == false and (.healthy | not) and .interfaces == [] and has("error")' \
	"$LOADER" --pin-dir "$EMPTY_PIN" status -o json
check "verify -o json with nothing loaded: one JSON object with the error" \
	json_true '.inSync == false and (.error.message | type == "string" and length > 0)' "$CTL" --pin-dir "$EMPTY_PIN" verify -o json

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
