#!/usr/bin/env bash
# scope_test.sh - what reaches the vault's sockets besides packets to its
# listed address (DESIGN §1.1): tunnels the kernel opens, and the weak host
# model (broadcast, multicast, other local addresses). Real traffic through
# a veth pair, in namespaces this test creates and removes.
#
#   scope_test.sh LOADER VAULTWALLCTL NETNS_LIB DATA_DIR PEER
#
# Topology (documentation addresses; traffic never leaves the namespaces):
#
#   ns <P>vault  <P>v 192.0.2.10/24            ns <P>cli  <P>c 192.0.2.20/24
#                lo 10.200.0.1, 10.200.0.2     <- veth ->  + 198.51.100.20 (allowed)
#                <P>x, <P>y: VXLAN 42, 43                    + 203.0.113.20 (denied)
#                                                            <P>x VXLAN 42 outer from the
#                                                              denied source, inner 203.0.113.77
#                                                            <P>y VXLAN 43 outer from the
#                                                              allowed source, inner 203.0.113.78
#
# The vault (PEER serve) accepts TCP on 0.0.0.0:443 and on 10.200.0.2:8443
# only (another service), and takes datagrams on 0.0.0.0:443. Policy
# (data/scope-vault.json): default Deny, IP rule 198.51.100.0/24, protected
# tcp/443, udp/443, tcp/8443 on 192.0.2.10.
#
# First every path is shown open without vaultwall, then each is closed for
# the denied source and open for the allowed one with it; then a declared
# tunnel passes until its own device carries the filter, and listen
# "addresses" leaves the other local addresses alone.
#
# Exit 0 when every check passed, 1 otherwise, 77 when not root (skipped).
set -uo pipefail

[ $# -eq 5 ] || { echo "usage: $0 LOADER VAULTWALLCTL NETNS_LIB DATA_DIR PEER" >&2; exit 2; }
LOADER=$1 CTL=$2
# shellcheck source=../../scripts/lib/netns.sh
source "$3"
DATA=$4 PEER=$5

vw_preflight ip nsenter python3 jq timeout mountpoint -- "$LOADER" "$CTL" || exit $?

VW_PREFIX=vws$$
vw_client_vault_names
OTHER_IP=10.200.0.1       # another address of the vault host (on lo)
SERVICE_IP=10.200.0.2     # another service's address (its socket is bound to it)
INNER_DENIED=203.0.113.77 # inner sources: no IP rule admits either
INNER_ALLOWED=203.0.113.78
VX_DENIED=${VW_PREFIX}x
VX_ALLOWED=${VW_PREFIX}y
PIN_DIR=/sys/fs/bpf/vws-e2e-$$
WAIT=1                    # seconds a connection attempt is given

vw_begin_vault_test vws vws-e2e-

# ---- traffic ---------------------------------------------------------------
# connects SRC DST PORT / no_connection SRC DST PORT: a TCP handshake from the
# client (SYN-ACK or none within WAIT seconds).
connects() { vw_in_ns "$NS_CLI" timeout $((WAIT + 3)) python3 "$PEER" connect "$1" "$2" "$3" "$WAIT"; }
no_connection() { ! connects "$@"; }
# delivered SRC DST: datagrams SRC sent to DST:443 reached the vault's socket.
arrivals() { grep -c "^udp $1 $2\$" "$TMP/vault.log"; }
send() { # send SRC DST [DEVICE]: 5 datagrams to DST:443
	vw_in_ns "$NS_CLI" timeout 10 python3 "$PEER" send "$1" "$2" 443 5 ${3:+"$3"}
	sleep 0.3
}
# newly_arrived SRC DST [DEVICE]: sends, prints how many of them arrived.
newly_arrived() {
	local before
	before=$(arrivals "$1" "$2")
	send "$@" || return 1
	echo $(($(arrivals "$1" "$2") - before))
}
delivered() { # delivered SRC DST [DEVICE]
	local n
	n=$(newly_arrived "$@") || return 1
	[ "$n" -gt 0 ] || { echo "  (no datagram from $1 to $2 arrived)"; return 1; }
}
not_delivered() { # not_delivered SRC DST [DEVICE]
	local n
	n=$(newly_arrived "$@") || return 1
	[ "$n" -eq 0 ] || { echo "  ($n datagrams from $1 to $2 arrived)"; return 1; }
}

# ---- topology -------------------------------------------------------------
vw_workspace || fatal "create a temporary directory"
vw_client_vault_up || fatal "client and vault namespaces"
ip -n "$NS_VAULT" addr add "$OTHER_IP/32" dev lo || fatal "other local address"
ip -n "$NS_VAULT" addr add "$SERVICE_IP/32" dev lo || fatal "service address"
ip -n "$NS_CLI" route add 10.200.0.0/24 via "$VAULT_IP" dev "$IF_CLI" || fatal "route to the other addresses"

# tunnel NAME VNI OUTER_SOURCE INNER_SOURCE TABLE: a VXLAN pair; the client
# sends from INNER_SOURCE to the vault through it (policy routing).
tunnel() {
	local name=$1 vni=$2 outer=$3 inner=$4 table=$5
	ip -n "$NS_VAULT" link add "$name" type vxlan id "$vni" local "$VAULT_IP" remote "$outer" \
		dstport 4789 dev "$IF_VAULT" &&
		ip -n "$NS_CLI" link add "$name" type vxlan id "$vni" local "$outer" remote "$VAULT_IP" \
			dstport 4789 dev "$IF_CLI" &&
		ip -n "$NS_VAULT" link set "$name" up && ip -n "$NS_CLI" link set "$name" up &&
		ip -n "$NS_CLI" addr add "$inner/32" dev "$name" &&
		ip -n "$NS_CLI" rule add from "$inner" lookup "$table" &&
		ip -n "$NS_CLI" route add "$VAULT_IP/32" dev "$name" table "$table" &&
		ip -n "$NS_VAULT" route add "$inner/32" dev "$name"
}
tunnel "$VX_DENIED" 42 "$DENIED_IP" "$INNER_DENIED" 100 || fatal "VXLAN tunnel from the denied source"
tunnel "$VX_ALLOWED" 43 "$ALLOWED_IP" "$INNER_ALLOWED" 101 || fatal "VXLAN tunnel from the allowed source"

VW_BG_LOG=$TMP/peer.err vw_in_ns_bg "$NS_VAULT" python3 "$PEER" serve "$TMP/vault.log" 170 \
	0.0.0.0:443 "$SERVICE_IP:8443" -- 0.0.0.0:443
for _ in $(seq 50); do grep -q ready "$TMP/vault.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$TMP/vault.log" 2>/dev/null || fatal "the vault's listeners (see $TMP/peer.err)"

# ---- without vaultwall, every path reaches the vault's sockets -----------------
check "baseline: TCP/443 through VXLAN from the denied outer source connects" \
	connects "$INNER_DENIED" "$VAULT_IP" 443
check "baseline: TCP/443 to another local address ($OTHER_IP) connects" connects "$DENIED_IP" "$OTHER_IP" 443
for dst in 192.0.2.255 255.255.255.255 224.0.0.1; do
	check "baseline: UDP/443 to $dst reaches the 0.0.0.0:443 socket" delivered "$DENIED_IP" "$dst" "$IF_CLI"
done

# ---- with vaultwall ----------------------------------------------------------------
essential "vaultwall-loader load" loader load
essential "vaultwallctl apply data/scope-vault.json" ctl apply -f "$DATA/scope-vault.json"
essential "vaultwall-loader attach $IF_VAULT (native)" loader attach "$IF_VAULT" --mode native
ctl stats -o json >"$TMP/s0.json"

check "the denied source to the listed address is dropped (sanity)" no_connection "$DENIED_IP" "$VAULT_IP" 443
check "VXLAN from the denied outer source: no TCP handshake through it" \
	no_connection "$INNER_DENIED" "$VAULT_IP" 443
check "VXLAN from the allowed outer source still carries TCP/443" connects "$INNER_ALLOWED" "$VAULT_IP" 443
check "TCP/443 from the denied source to another local address ($OTHER_IP): no SYN-ACK" \
	no_connection "$DENIED_IP" "$OTHER_IP" 443
check "TCP/443 from the allowed source to another local address connects" \
	connects "$ALLOWED_IP" "$OTHER_IP" 443
check "TCP/8443 to a service bound to $SERVICE_IP only is not the vault's: connects" \
	connects "$DENIED_IP" "$SERVICE_IP" 8443
for dst in 192.0.2.255 255.255.255.255 224.0.0.1; do
	check "UDP/443 from the denied source to $dst: 0 delivered" not_delivered "$DENIED_IP" "$dst" "$IF_CLI"
	check "UDP/443 from the allowed source to $dst: delivered" delivered "$ALLOWED_IP" "$dst" "$IF_CLI"
done
ctl stats -o json >"$TMP/s1.json"
check "the denied packets were counted as default_deny" jq -en --slurpfile a "$TMP/s0.json" --slurpfile b "$TMP/s1.json" \
	'$b[0].classes.default_deny.packets - $a[0].classes.default_deny.packets >= 17'

# ---- a declared tunnel: its own device must carry the filter ---------------------------
jq '.vaultwall.dataPlane.tunnels = ["vxlan"]' "$DATA/scope-vault.json" >"$TMP/declared.json"
essential "apply with dataPlane.tunnels [\"vxlan\"]" ctl apply -f "$TMP/declared.json"
check "[declared] VXLAN from the denied outer source passes: the tunnel device decides now" \
	connects "$INNER_DENIED" "$VAULT_IP" 443
essential "vaultwall-loader attach $VX_DENIED (the decapsulating device)" loader attach "$VX_DENIED"
check "[declared, device filtered] its inner source (no rule) gets no handshake" \
	no_connection "$INNER_DENIED" "$VAULT_IP" 443

# ---- listen "addresses": the vault binds only its listed address -----------------------
jq '.vaultwall.dataPlane.listen = "addresses"' "$DATA/scope-vault.json" >"$TMP/listed.json"
essential "apply with dataPlane.listen \"addresses\"" ctl apply -f "$TMP/listed.json"
check "[listen addresses] TCP/443 to another local address is left alone" \
	connects "$DENIED_IP" "$OTHER_IP" 443
check "[listen addresses] the listed address is still protected" no_connection "$DENIED_IP" "$VAULT_IP" 443

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
