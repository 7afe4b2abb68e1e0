// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * vaultwall.bpf.c - the key vault's network firewall, per packet.
 *
 * The decision of docs/DESIGN.md, one small function per step:
 *   parse -> scope (is it data plane?) -> decide -> log -> count -> verdict.
 * C wants each step defined before its caller, so the entry points are at
 * the end (vaultwall_xdp, vaultwall_xdp_l3): read them first.
 * Everything outside the data plane passes untouched. Policy lives in two
 * slots; a packet reads the active slot once and sees only that policy.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "vaultwall_abi.h"
#include "parsing.h"
#include "source_index.h"
#include "reject.h"
#include "map_shapes.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- Maps ---------------------------------------------------------------- */

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_active, 1);
	VW_PINNED;
} VW_MAP_ACTIVE SEC(".maps");

/*
 * Never read by the program. Updating a map-in-map makes the kernel wait
 * for an RCU grace period (every running XDP program has finished), so the
 * controller uses an update of vw_sync as a barrier: after it, no packet is
 * still reading the slot that was retired, and that slot may be rewritten.
 */
struct vw_sync_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vw_active);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct vw_sync_inner);
} VW_MAP_SYNC SEC(".maps");

struct vw_rules_map {
	VW_LPM_TRIE_SHAPE(struct vw_rule_key, struct vw_rule_value, VW_MAX_RULE_PREFIXES);
	VW_PINNED;
};
struct vw_rules_map VW_MAP_RULES_0 SEC(".maps");
struct vw_rules_map VW_MAP_RULES_1 SEC(".maps");

struct vw_trusted_map {
	VW_LPM_TRIE_SHAPE(struct vw_trusted_key, struct vw_trusted_value, VW_MAX_TRUSTED_PREFIXES);
	VW_PINNED;
};
struct vw_trusted_map VW_MAP_TRUSTED_0 SEC(".maps");
struct vw_trusted_map VW_MAP_TRUSTED_1 SEC(".maps");

/* IPv6 sources: the rules that are not public (VNET subnets, a transition
 * perimeter) keyed like vw_rules_N, and one trie of the public IP rules
 * and trusted services together (vw_public6_N). */
struct vw_rules6_map {
	VW_LPM_TRIE_SHAPE(struct vw_rule6_key, struct vw_rule_value, VW_MAX_RULE6_PREFIXES);
	VW_PINNED;
};
struct vw_rules6_map VW_MAP_RULES6_0 SEC(".maps");
struct vw_rules6_map VW_MAP_RULES6_1 SEC(".maps");

struct vw_public6_map {
	VW_LPM_TRIE_SHAPE(struct vw_public6_key, struct vw_public6_value, VW_MAX_PUBLIC6_PREFIXES);
	VW_PINNED;
};
struct vw_public6_map VW_MAP_PUBLIC6_0 SEC(".maps");
struct vw_public6_map VW_MAP_PUBLIC6_1 SEC(".maps");

/* The public source index (see vaultwall_abi.h): written by mmap. */
struct vw_index_map {
	VW_INDEX_SHAPE(VW_INDEX_TOP_CHUNKS);
	VW_PINNED;
};
struct vw_index_map VW_MAP_INDEX_0 SEC(".maps");
struct vw_index_map VW_MAP_INDEX_1 SEC(".maps");

struct vw_chunks_map {
	VW_INDEX_SHAPE(VW_INDEX_CHUNKS);
	VW_PINNED;
};
struct vw_chunks_map VW_MAP_CHUNKS_0 SEC(".maps");
struct vw_chunks_map VW_MAP_CHUNKS_1 SEC(".maps");

/* The IPv6 public source index, one element per slot: written by mmap. */
struct vw_index6_map {
	VW_INDEX6_SHAPE;
	VW_PINNED;
};
struct vw_index6_map VW_MAP_INDEX6_0 SEC(".maps");
struct vw_index6_map VW_MAP_INDEX6_1 SEC(".maps");

struct vw_segments_map {
	VW_HASH_SHAPE(struct vw_segment_key, struct vw_segment_value, VW_MAX_SEGMENTS);
	VW_PINNED;
};
struct vw_segments_map VW_MAP_SEGMENTS_0 SEC(".maps");
struct vw_segments_map VW_MAP_SEGMENTS_1 SEC(".maps");

/* VLANs on any interface, by VID (see vaultwall_abi.h): an array lookup is
 * inlined by the verifier, a hash lookup is a helper call and a hash. */
struct vw_vlans_map {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_segment_value, VW_VLAN_IDS);
	VW_PINNED;
};
struct vw_vlans_map VW_MAP_VLANS_0 SEC(".maps");
struct vw_vlans_map VW_MAP_VLANS_1 SEC(".maps");

struct vw_endpoints_map {
	VW_HASH_SHAPE(struct vw_endpoint_key, struct vw_endpoint_value, VW_MAX_ENDPOINTS);
	VW_PINNED;
};
struct vw_endpoints_map VW_MAP_ENDPOINTS_0 SEC(".maps");
struct vw_endpoints_map VW_MAP_ENDPOINTS_1 SEC(".maps");

struct vw_endpoints6_map {
	VW_HASH_SHAPE(struct vw_endpoint6_key, struct vw_endpoint_value, VW_MAX_ENDPOINTS);
	VW_PINNED;
};
struct vw_endpoints6_map VW_MAP_ENDPOINTS6_0 SEC(".maps");
struct vw_endpoints6_map VW_MAP_ENDPOINTS6_1 SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_PERCPU_ARRAY, struct vw_counters, VW_MAX_RULES);
	VW_PINNED;
} VW_MAP_RULE_STATS SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_PERCPU_ARRAY, struct vw_counters, VW_CLASS_COUNT);
	VW_PINNED;
} VW_MAP_CLASS_STATS SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_PERCPU_ARRAY, struct vw_counters, VW_MAX_SERVICES);
	VW_PINNED;
} VW_MAP_SVC_STATS SEC(".maps");

/* Written by the controller only; here so they are created and pinned with
 * the rest and bpftool can show what each id means. */
struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_rule_info, VW_MAX_RULES);
	VW_PINNED;
} VW_MAP_RULE_INFO SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_service_info, VW_MAX_SERVICES);
	VW_PINNED;
} VW_MAP_SVC_INFO SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_policy_info, VW_SLOTS);
	VW_PINNED;
} VW_MAP_POLICY_INFO SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_doc_chunk, VW_SLOTS * VW_DOC_CHUNKS);
	VW_PINNED;
} VW_MAP_POLICY_DOC SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_abi_info, 1);
	VW_PINNED;
} VW_MAP_ABI SEC(".maps");

/* Deny and audit events; the limits are explained in vaultwall_abi.h. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VW_EVENT_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} VW_MAP_EVENTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VW_EVENT_SOURCES);
	__type(key, struct vw_rate_key);
	__type(value, struct vw_rate_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} VW_MAP_EVENT_RATE SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_PERCPU_ARRAY, struct vw_event_budget, 1);
	VW_PINNED;
} VW_MAP_EVENT_CPU SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_PERCPU_ARRAY, __u64, VW_EVENT_STAT_COUNT);
	VW_PINNED;
} VW_MAP_EVENT_STATS SEC(".maps");

/* The interfaces vaultwall is expected to filter (written by attach). */
struct {
	VW_HASH_SHAPE(struct vw_link_key, struct vw_link_info, VW_MAX_LINKS);
	VW_PINNED;
} VW_MAP_LINKS SEC(".maps");

/*
 * Look a key up in slot 0's or slot 1's map of a kind. Each call must stay
 * bound to one map: if clang merges the two calls into one with the map
 * chosen in a register, the verifier cannot resolve the map and every
 * lookup becomes an indirect helper call (~15 ns each here). The barrier
 * after the slot-1 call makes the two branches end differently, so they
 * are not merged.
 */
#define SLOT_LOOKUP(slot, map_0, map_1, key)                                                      \
	({                                                                                         \
		void *_value;                                                                      \
		if (slot) {                                                                        \
			_value = bpf_map_lookup_elem(&map_1, (key));                               \
			barrier_var(_value);                                                       \
		} else {                                                                           \
			_value = bpf_map_lookup_elem(&map_0, (key));                               \
		}                                                                                  \
		_value;                                                                            \
	})

/* The frame's network protocol, for the entry point's framing (VW_FRAMING_*). */
static __always_inline int parse_frame(struct cursor *c, int framing, __u16 *vlan)
{
	if (framing == VW_FRAMING_IP)
		return parse_ip_frame(c, vlan);
	return parse_ethernet(c, vlan);
}

/* ---- Per-packet state ------------------------------------------------------ */

struct packet {
	__u32 slot;
	const struct vw_settings *settings;
	struct xdp_md *ctx; /* ingress_ifindex is read only when a decision needs it */
	__u16 vlan;
	__u8 saddr[4];
	__u32 source; /* saddr in host order, for the source index */
	__u8 daddr[4];
	__u32 endpoint_kind; /* VW_ENDPOINT_*, 0 when not listed */
	__u32 endpoint_vnet; /* a private endpoint's virtual network, 0 = any */
	__u8 has_options;    /* IPv4 options: the destination may not be where it goes */
	__u8 saddr6[16];     /* IPv6 packets: the source, for decide_ipv6 */
	__u8 source6;        /* the source is saddr6 (not IPv4, nor IPv4-mapped) */
};

struct verdict {
	__u32 class;
	__u32 rule_id;    /* credited rule, VW_RULE_NONE otherwise */
	__u32 service_id; /* credited trusted service, VW_SERVICE_NONE otherwise */
};

static __always_inline struct verdict make_verdict(__u32 class)
{
	struct verdict v = { .class = class };
	return v;
}

/* ---- Scope ----------------------------------------------------------------- */

static __always_inline int is_protected_port(const struct vw_settings *s, __u8 proto, __u16 port)
{
	if (!(s->port_filter & (1u << (port % 32)))) /* most ports: one test */
		return 0;
#pragma unroll
	for (__u32 i = 0; i < VW_MAX_PORTS; i++) {
		if (i >= s->port_count)
			return 0;
		if (s->ports[i].port == port && s->ports[i].proto == proto)
			return 1;
	}
	return 0;
}

static __always_inline int is_protected_proto(const struct vw_settings *s, __u8 proto)
{
	if (proto == IPPROTO_TCP)
		return s->flags & VW_SETTINGS_TCP_PORTS;
	if (proto == IPPROTO_UDP)
		return s->flags & VW_SETTINGS_UDP_PORTS;
	return 0;
}

/* The VW_TUNNEL_* bit of an IP protocol that is a tunnel, else 0. */
static __always_inline __u32 ip_tunnel(__u8 proto)
{
	switch (proto) {
	case VW_PROTO_IPIP:
		return VW_TUNNEL_IPIP;
	case VW_PROTO_IPV6_IN_IP:
		return VW_TUNNEL_IPV6_IN_IP;
	case VW_PROTO_GRE:
		return VW_TUNNEL_GRE;
	case VW_PROTO_ESP:
		return VW_TUNNEL_ESP;
	case VW_PROTO_AH:
		return VW_TUNNEL_AH;
	case VW_PROTO_IPCOMP:
		return VW_TUNNEL_IPCOMP;
	case VW_PROTO_L2TP:
		return VW_TUNNEL_L2TP;
	case VW_PROTO_MPLS_IN_IP:
		return VW_TUNNEL_MPLS_IN_IP;
	}
	return 0;
}

/* The VW_TUNNEL_* bit of a UDP destination port a tunnel listens on, else 0. */
static __always_inline __u32 udp_tunnel(__u16 port)
{
	switch (port) {
	case VW_PORT_VXLAN:
		return VW_TUNNEL_VXLAN;
	case VW_PORT_VXLAN_LINUX:
		return VW_TUNNEL_VXLAN_LINUX;
	case VW_PORT_VXLAN_GPE:
		return VW_TUNNEL_VXLAN_GPE;
	case VW_PORT_GENEVE:
		return VW_TUNNEL_GENEVE;
	case VW_PORT_WIREGUARD:
		return VW_TUNNEL_WIREGUARD;
	case VW_PORT_ESP_IN_UDP:
		return VW_TUNNEL_ESP_IN_UDP;
	case VW_PORT_L2TP_UDP:
		return VW_TUNNEL_L2TP_UDP;
	}
	return 0;
}

/* Whether packets of this IP protocol can be data plane in this slot: a
 * protected port uses it, or it is an undeclared tunnel (UDP: may carry
 * one). TCP, the common case, costs the one test it always did. */
static __always_inline int is_data_plane_proto(const struct vw_settings *s, __u8 proto)
{
	if (proto == IPPROTO_TCP)
		return s->flags & VW_SETTINGS_TCP_PORTS;
	if (proto == IPPROTO_UDP)
		return (s->flags & VW_SETTINGS_UDP_PORTS) || (s->tunnels & VW_TUNNELS_UDP);
	return s->tunnels & ip_tunnel(proto);
}

/* A TCP or UDP destination port that is data plane: protected, or the
 * port of an undeclared UDP tunnel. */
static __always_inline int is_data_plane_port(const struct vw_settings *s, __u8 proto, __u16 port)
{
	if (is_protected_port(s, proto, port))
		return 1;
	return proto == IPPROTO_UDP && (s->tunnels & udp_tunnel(port));
}

/* A later fragment's protocol carries data plane by itself (its port is
 * unknown): a protected TCP/UDP protocol, or an undeclared IP tunnel. UDP
 * tunnels alone do not make UDP fragments data plane: the kernel cannot
 * reassemble a datagram whose first fragment, the one with the port, was
 * dropped, and deciding every UDP fragment would break large DNS answers. */
static __always_inline int is_fragment_data_plane(const struct vw_settings *s, __u8 proto)
{
	return is_protected_proto(s, proto) || (s->tunnels & ip_tunnel(proto));
}

/* What a packet shows for the destination check to ask the kernel about. */
#define PROBE_NONE   0 /* no port known: listed, broadcast and multicast only */
#define PROBE_SOCKET 1 /* TCP/UDP ports at the cursor: ask the socket tables */
#define PROBE_ROUTE  2 /* an IP tunnel: ask the routing table */

static __always_inline int is_broadcast_or_multicast(const __u8 *a)
{
	return (a[0] & 0xf0) == 0xe0 ||
	       (a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff);
}

/* Whether the socket that owns the destination address and port on this
 * host is bound to the wildcard address (0.0.0.0, or :: when not
 * IPv6-only): then it may be the vault's. The kernel's own lookup, asked
 * with source port 0 so that no connection matches and the answer is the
 * listener (TCP) or bound socket (UDP) new traffic would reach; packets of
 * established connections are thus decided like their SYN was. A socket
 * bound to a specific address is another service's: a listed address would
 * have been found in the endpoints map. */
static __always_inline int wildcard_socket_receives(const struct packet *p, __u8 proto,
						    const struct cursor *l4)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	__be16 *ports = l4->pos;
	int wildcard;

	if ((void *)(ports + 2) > l4->end)
		return 0;
	__builtin_memcpy(&t.ipv4.saddr, p->saddr, 4);
	__builtin_memcpy(&t.ipv4.daddr, p->daddr, 4);
	t.ipv4.dport = ports[1];
	if (proto == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(p->ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(p->ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	wildcard = sk->src_ip4 == 0;
	bpf_sk_release(sk);
	return wildcard;
}

/* Whether the host would route the packet onwards instead of keeping it.
 * The route lookup answers FWD_DISABLED where forwarding is off: then
 * nothing is forwarded, and the answer is "kept" (as for a local, broadcast
 * or unroutable destination: NOT_FWDED, BLACKHOLE, ...). */
static __always_inline int is_forwarded(const struct packet *p, __u8 proto)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	fib.family = 2; /* AF_INET */
	fib.l4_protocol = proto;
	__builtin_memcpy(&fib.ipv4_src, p->saddr, 4);
	__builtin_memcpy(&fib.ipv4_dst, p->daddr, 4);
	fib.ifindex = p->ctx->ingress_ifindex;
	rc = bpf_fib_lookup(p->ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_SKIP_NEIGH);
	return rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH ||
	       rc == BPF_FIB_LKUP_RET_FRAG_NEEDED || rc == BPF_FIB_LKUP_RET_UNSUPP_LWT;
}

/*
 * An unlisted destination under dataPlane.listen "any" (DESIGN §1.1, weak
 * host model): Linux hands a socket bound to 0.0.0.0 datagrams to broadcast
 * and multicast addresses, and packets to any local address arriving on any
 * interface. Broadcast and multicast are decided by address; otherwise the
 * kernel is asked whether a wildcard socket (for TCP/UDP) would receive it
 * and whether it would be forwarded instead. Runs only for packets to a
 * protected port or an undeclared tunnel whose address is not listed.
 */
static __always_inline int reaches_this_host(const struct packet *p, int probe, __u8 proto,
					     const struct cursor *l4)
{
	if (is_broadcast_or_multicast(p->daddr))
		return 1;
	if (probe == PROBE_SOCKET)
		return wildcard_socket_receives(p, proto, l4) && !is_forwarded(p, proto);
	if (probe == PROBE_ROUTE)
		return !is_forwarded(p, proto);
	return 0;
}

/* Reads the endpoint of the destination (kind, virtual network); returns
 * whether the destination is protected: listed, every destination when
 * none is listed, or what reaches_this_host says. */
static __always_inline int is_protected_destination(struct packet *p, int probe, __u8 proto,
						    const struct cursor *l4)
{
	const struct vw_settings *s = p->settings;
	struct vw_endpoint_key key = {};
	struct vw_endpoint_value *ep;

	p->endpoint_kind = 0;
	if (s->flags & VW_SETTINGS_HAS_ENDPOINTS) {
		__builtin_memcpy(key.addr, p->daddr, 4);
		ep = SLOT_LOOKUP(p->slot, VW_MAP_ENDPOINTS_0, VW_MAP_ENDPOINTS_1, &key);
		if (ep) {
			p->endpoint_kind = ep->kind;
			p->endpoint_vnet = ep->vnet_id;
			return 1;
		}
	}
	/* A packet with IPv4 options may carry a source route, which Linux
	 * (accepting source routes) follows to deliver it to any local address
	 * on the route: its header's destination proves nothing. Options are
	 * all but unused on the data plane, so rather than parse them as the
	 * kernel does, any packet with options counts as protected. */
	if ((s->flags & VW_SETTINGS_ALL_DESTINATIONS) || p->has_options)
		return 1;
	if (!(s->flags & VW_SETTINGS_LOCAL_DESTINATIONS))
		return 0;
	return reaches_this_host(p, probe, proto, l4);
}

/* ---- Decide (DESIGN §1.2) ------------------------------------------------------ */

/* The segment the packet came from: its virtual network and the root of
 * that network's index; {VW_VNET_PUBLIC, 0} from the internet. */
static __always_inline struct vw_segment_value lookup_segment(const struct packet *p)
{
	struct vw_segment_value none = { .vnet_id = VW_VNET_PUBLIC };
	struct vw_segment_key key = {};
	struct vw_segment_value *seg;
	__u32 vid;

	/* A hash lookup costs ~15 ns: only those that can find a segment run
	 * (the slot writer's flags say which kinds of segment exist). */
	__u32 flags = p->settings->flags;

	if (!(flags & VW_SETTINGS_HAS_SEGMENTS))
		return none;
	key.vlan = p->vlan;
	if (p->vlan ? (flags & VW_SETTINGS_IFACE_VLAN_SEGMENTS)
		    : (flags & VW_SETTINGS_UNTAGGED_SEGMENTS)) {
		key.ifindex = p->ctx->ingress_ifindex;
		seg = SLOT_LOOKUP(p->slot, VW_MAP_SEGMENTS_0, VW_MAP_SEGMENTS_1, &key);
		if (seg)
			return *seg;
	}
	/* A VLAN segment on any interface: vw_vlans_N[vid], where an entry of
	 * vnet 0 is none. */
	if (!p->vlan || !(flags & VW_SETTINGS_VLAN_SEGMENTS))
		return none;
	vid = p->vlan;
	seg = SLOT_LOOKUP(p->slot, VW_MAP_VLANS_0, VW_MAP_VLANS_1, &vid);
	return seg && seg->vnet_id != VW_VNET_PUBLIC ? *seg : none;
}

static __always_inline __u32 lookup_vnet(const struct packet *p)
{
	return lookup_segment(p).vnet_id;
}

static __always_inline __u32 lookup_trusted(const struct packet *p)
{
	struct vw_trusted_key key = { .prefixlen = 32 };
	struct vw_trusted_value *svc;

	__builtin_memcpy(key.addr, p->saddr, 4);
	svc = SLOT_LOOKUP(p->slot, VW_MAP_TRUSTED_0, VW_MAP_TRUSTED_1, &key);
	return svc ? svc->service_id : VW_SERVICE_NONE;
}

static __always_inline __u32 lookup_rule(const struct packet *p, __u32 vnet_id)
{
	struct vw_rule_key key = { .prefixlen = VW_RULE_KEY_VNET_BITS + 32, .vnet_id = vnet_id };
	struct vw_rule_value *rule;

	__builtin_memcpy(key.addr, p->saddr, 4);
	rule = SLOT_LOOKUP(p->slot, VW_MAP_RULES_0, VW_MAP_RULES_1, &key);
	return rule ? rule->rule_id : VW_RULE_NONE;
}

static __always_inline int class_denies(__u32 class);

/* What the source index said about a service, when it has not said it. */
#define SERVICE_ASK_INDEX 0xffffffffu /* the index was not read yet */
#define SERVICE_ASK_TRIE 0xfffffffeu  /* the index left this source to the trie */

/* The source index's entry for the source: a result or VW_INDEX_TRIE.
 * The walk's two lookups are bound to this packet's slot. */
static __always_inline __u32 index_lookup(const struct packet *p)
{
#define LOOKUP_INDEX_TOP(key) SLOT_LOOKUP(p->slot, VW_MAP_INDEX_0, VW_MAP_INDEX_1, key)
#define LOOKUP_INDEX_CHUNK(key) SLOT_LOOKUP(p->slot, VW_MAP_CHUNKS_0, VW_MAP_CHUNKS_1, key)
	return VW_INDEX_WALK(p->source, LOOKUP_INDEX_TOP, LOOKUP_INDEX_CHUNK);
#undef LOOKUP_INDEX_TOP
#undef LOOKUP_INDEX_CHUNK
}

/* The VNET rule holding the source in the segment's virtual network, from
 * its own index, or the trie when the index left the network to it. */
static __always_inline __u32 vnet_rule(const struct packet *p, const struct vw_segment_value *seg)
{
#define LOOKUP_INDEX_CHUNK(key) SLOT_LOOKUP(p->slot, VW_MAP_CHUNKS_0, VW_MAP_CHUNKS_1, key)
	__u32 entry = VW_VNET_INDEX_WALK(seg->index, p->source, LOOKUP_INDEX_CHUNK);
#undef LOOKUP_INDEX_CHUNK

	return entry == VW_INDEX_TRIE ? lookup_rule(p, seg->vnet_id) : VW_INDEX_RULE(entry);
}

static __always_inline __u32 index_service(__u32 entry)
{
	return entry == VW_INDEX_TRIE ? SERVICE_ASK_TRIE : VW_INDEX_SERVICE(entry);
}

/* The trusted service holding the source, when bypass lets trusted
 * services in; `known` is what the source index already said, if anything. */
static __always_inline __u32 trusted_service(const struct packet *p, __u32 known)
{
	if (p->settings->bypass != VW_BYPASS_AZURE_SERVICES)
		return VW_SERVICE_NONE;
	if (known == SERVICE_ASK_INDEX)
		known = index_service(index_lookup(p));
	if (known == SERVICE_ASK_TRIE)
		known = lookup_trusted(p);
	return known;
}

static __always_inline struct verdict trusted_or(const struct packet *p, __u32 known_service,
						 __u32 fallback_class)
{
	struct verdict v = make_verdict(fallback_class);

	v.service_id = trusted_service(p, known_service);
	if (v.service_id != VW_SERVICE_NONE)
		v.class = VW_CLASS_TRUSTED;
	return v;
}

/* Step 1: a private endpoint admits traffic from a virtual network (its
 * own, when bound to one); from the internet it is like any protected
 * address. Fills *seg when it had to look the segment up. */
static __always_inline int private_endpoint_admits(const struct packet *p,
						   struct vw_segment_value *seg)
{
	if (p->endpoint_kind != VW_ENDPOINT_PRIVATE)
		return 0;
	*seg = lookup_segment(p);
	return seg->vnet_id != VW_VNET_PUBLIC &&
	       (p->endpoint_vnet == 0 || p->endpoint_vnet == seg->vnet_id);
}

#define VNET_UNKNOWN 0xffffffffu /* the segment was not looked up yet */

/* Steps 2-5: public access, rules, trusted services, default action. Under
 * an enforced perimeter the rules are the perimeter's (the compiler wrote
 * only those, and bypass off, default deny): only the classes differ.
 * Fills *seg when it looked the segment up. */
static __always_inline struct verdict decide_rules(const struct packet *p,
						   struct vw_segment_value *seg)
{
	const struct vw_settings *s = p->settings;
	int enforced = s->flags & VW_SETTINGS_PERIMETER_ENFORCED;
	__u32 entry, service = SERVICE_ASK_INDEX;
	struct verdict v;

	if (s->public_access == VW_PUBLIC_ACCESS_DISABLED)
		return trusted_or(p, SERVICE_ASK_INDEX, VW_CLASS_PUBLIC_DISABLED);

	if (seg->vnet_id == VNET_UNKNOWN)
		*seg = lookup_segment(p);
	if (seg->vnet_id == VW_VNET_PUBLIC) {
		v = make_verdict(enforced ? VW_CLASS_PERIMETER_RULE : VW_CLASS_IP_RULE);
		entry = index_lookup(p);
		service = index_service(entry);
		v.rule_id = entry == VW_INDEX_TRIE ? lookup_rule(p, VW_VNET_PUBLIC)
						   : VW_INDEX_RULE(entry);
	} else {
		v = make_verdict(VW_CLASS_VNET_RULE);
		v.rule_id = vnet_rule(p, seg);
	}
	if (v.rule_id != VW_RULE_NONE)
		return v;

	if (enforced)
		return make_verdict(VW_CLASS_PERIMETER_DENY);
	return trusted_or(p, service, s->default_action == VW_ACTION_DENY ? VW_CLASS_DEFAULT_DENY
									  : VW_CLASS_DEFAULT_ALLOW);
}

/* A perimeter in Transition mode: its address rules admit internet sources
 * too (credited to them); what only the vault's rules admit passes as
 * PERIMETER_WOULD_DENY, still credited to the vault's rule or service, and
 * is logged. One trie lookup, only when the flag says Transition. */
static __always_inline struct verdict transition_verdict(struct verdict v, __u32 perimeter_rule)
{
	struct verdict admitted = make_verdict(VW_CLASS_PERIMETER_RULE);

	admitted.rule_id = perimeter_rule;
	if (admitted.rule_id != VW_RULE_NONE)
		return admitted;
	if (!class_denies(v.class))
		v.class = VW_CLASS_PERIMETER_WOULD_DENY;
	return v;
}

static __always_inline struct verdict perimeter_transition(const struct packet *p, __u32 vnet_id,
							   struct verdict v)
{
	__u32 perimeter_rule = VW_RULE_NONE;

	if (vnet_id == VNET_UNKNOWN)
		vnet_id = lookup_vnet(p);
	if (vnet_id == VW_VNET_PUBLIC)
		perimeter_rule = lookup_rule(p, VW_VNET_PERIMETER);
	return transition_verdict(v, perimeter_rule);
}

/* The decision for an IPv4 data-plane packet, before audit mode. */
static __always_inline struct verdict decide_ipv4(const struct packet *p)
{
	struct vw_segment_value seg = { .vnet_id = VNET_UNKNOWN };
	struct verdict v;

	/* Private endpoints are never subject to a perimeter. */
	if (private_endpoint_admits(p, &seg))
		return make_verdict(VW_CLASS_PRIVATE_ENDPOINT);
	v = decide_rules(p, &seg);
	if (p->settings->flags & VW_SETTINGS_PERIMETER_TRANSITION)
		v = perimeter_transition(p, seg.vnet_id, v);
	return v;
}

/* ---- IPv6 decision ----------------------------------------------------------
 * The IPv4 decision with 16-byte sources: VNET subnets under their network
 * (vw_rules6_N), and the public IP rules and trusted services in one trie
 * (vw_public6_N), compiled into the IPv6 source index (vw_index6_N), so a
 * public source costs a few array loads whatever it gets. No rule or
 * service admitting it, a packet gets the default action as IPV6_ALLOW or
 * IPV6_DENY, and never passes when public access is off. An IPv4-mapped
 * source is decided as the IPv4 address it carries (decide_ipv6). */

/* The source's entry in vw_public6_N: its longest public rule and its
 * longest trusted service (either may be NONE), or NULL. */
static __always_inline const struct vw_public6_value *lookup_public6(const struct packet *p)
{
	struct vw_public6_key key = { .prefixlen = 128 };

	__builtin_memcpy(key.addr, p->saddr6, 16);
	return SLOT_LOOKUP(p->slot, VW_MAP_PUBLIC6_0, VW_MAP_PUBLIC6_1, &key);
}

/* The IPv6 source index's entry for a source (its halves in host order):
 * a result or VW_INDEX_TRIE. A global function, so the verifier checks its
 * ten steps once, against any slot and source, instead of once per path to
 * every IPv6 decision (inlined, they took the program past the verifier's
 * budget of a million instructions). */
__noinline __u32 vw_index6_walk(__u32 slot, __u64 high, __u64 low)
{
	__u32 zero = 0;
	const struct vw_index6 *index = SLOT_LOOKUP(slot, VW_MAP_INDEX6_0, VW_MAP_INDEX6_1, &zero);

	return index ? VW_INDEX6_WALK(index, high, low) : VW_INDEX_TRIE;
}

/* What vw_public6_N says of the source, as an index result
 * VW_INDEX_RESULT(service, rule): from the IPv6 source index, or from the
 * trie where the index leaves the source to it. */
static __always_inline __u32 public6_entry(const struct packet *p)
{
	const __u32 *w = (const __u32 *)p->saddr6;
	const struct vw_public6_value *pub;
	__u64 high, low;
	__u32 entry;

	if (!(p->settings->flags & VW_SETTINGS_HAS_PUBLIC6))
		return VW_INDEX_RESULT(VW_SERVICE_NONE, VW_RULE_NONE);
	high = ((__u64)bpf_ntohl(w[0]) << 32) | bpf_ntohl(w[1]);
	low = ((__u64)bpf_ntohl(w[2]) << 32) | bpf_ntohl(w[3]);
	entry = vw_index6_walk(p->slot, high, low);
	if (entry != VW_INDEX_TRIE)
		return entry;
	pub = lookup_public6(p);
	return pub ? VW_INDEX_RESULT(pub->service_id, pub->rule_id)
		   : VW_INDEX_RESULT(VW_SERVICE_NONE, VW_RULE_NONE);
}

static __always_inline __u32 lookup_rule6(const struct packet *p, __u32 vnet_id)
{
	struct vw_rule6_key key = { .prefixlen = VW_RULE_KEY_VNET_BITS + 128, .vnet_id = vnet_id };
	struct vw_rule_value *rule;

	if (!(p->settings->flags & VW_SETTINGS_HAS_RULES6))
		return VW_RULE_NONE;
	__builtin_memcpy(key.addr, p->saddr6, 16);
	rule = SLOT_LOOKUP(p->slot, VW_MAP_RULES6_0, VW_MAP_RULES6_1, &key);
	return rule ? rule->rule_id : VW_RULE_NONE;
}

/* Step 4: `entry` is the source's public entry, or SERVICE_ASK_INDEX when
 * it was not read yet (read only if bypass lets trusted services in). */
static __always_inline struct verdict trusted6_or(const struct packet *p, __u32 entry,
						  __u32 fallback_class)
{
	struct verdict v = make_verdict(fallback_class);

	if (p->settings->bypass != VW_BYPASS_AZURE_SERVICES)
		return v;
	if (entry == SERVICE_ASK_INDEX)
		entry = public6_entry(p);
	if (VW_INDEX_SERVICE(entry) == VW_SERVICE_NONE)
		return v;
	v.class = VW_CLASS_TRUSTED;
	v.service_id = VW_INDEX_SERVICE(entry);
	return v;
}

/* Steps 2-5 for an IPv6 source. Under an enforced perimeter the public
 * IPv6 rules are the perimeter's (the compiler wrote only those): as for
 * IPv4 a match is PERIMETER_RULE and anything else PERIMETER_DENY, the
 * perimeter's deny, not the IPv6 default action. Sets *vnet_id when it
 * looked the segment up. */
static __always_inline struct verdict decide_rules6(const struct packet *p, __u32 *vnet_id)
{
	const struct vw_settings *s = p->settings;
	int enforced = s->flags & VW_SETTINGS_PERIMETER_ENFORCED;
	__u32 fallback = s->default_action == VW_ACTION_DENY ? VW_CLASS_IPV6_DENY
							     : VW_CLASS_IPV6_ALLOW;
	struct verdict v;
	__u32 entry;

	if (s->public_access == VW_PUBLIC_ACCESS_DISABLED)
		return trusted6_or(p, SERVICE_ASK_INDEX, VW_CLASS_IPV6_DENY);
	*vnet_id = lookup_vnet(p);
	if (*vnet_id != VW_VNET_PUBLIC) {
		v = make_verdict(VW_CLASS_VNET_RULE);
		v.rule_id = lookup_rule6(p, *vnet_id);
		if (v.rule_id != VW_RULE_NONE)
			return v;
		if (enforced)
			return make_verdict(VW_CLASS_PERIMETER_DENY);
		return trusted6_or(p, SERVICE_ASK_INDEX, fallback);
	}
	entry = public6_entry(p);
	if (VW_INDEX_RULE(entry) != VW_RULE_NONE) {
		v = make_verdict(enforced ? VW_CLASS_PERIMETER_RULE : VW_CLASS_IP_RULE);
		v.rule_id = VW_INDEX_RULE(entry);
		return v;
	}
	if (enforced)
		return make_verdict(VW_CLASS_PERIMETER_DENY);
	return trusted6_or(p, entry, fallback);
}

/* perimeter_transition for an IPv6 source: the perimeter's IPv6 prefixes
 * are under VW_VNET_PERIMETER in vw_rules6_N. */
static __always_inline struct verdict perimeter_transition6(const struct packet *p,
							    __u32 vnet_id, struct verdict v)
{
	__u32 perimeter_rule = VW_RULE_NONE;

	if (vnet_id == VNET_UNKNOWN)
		vnet_id = lookup_vnet(p);
	if (vnet_id == VW_VNET_PUBLIC)
		perimeter_rule = lookup_rule6(p, VW_VNET_PERIMETER);
	return transition_verdict(v, perimeter_rule);
}

/* Step 1 for an IPv6 destination: an IPv6 private endpoint (vw_endpoints6_N,
 * looked up only when the slot lists IPv6 addresses) admits traffic from a
 * virtual network as private_endpoint_admits does for IPv4. A listed
 * public IPv6 address changes nothing: every IPv6 destination is
 * protected (DESIGN §1.11). */
static __always_inline int private_endpoint6_admits(struct packet *p, const struct ipv6hdr *ip6)
{
	struct vw_endpoint6_key key;
	struct vw_endpoint_value *ep;
	struct vw_segment_value seg;

	p->endpoint_kind = 0;
	if (!(p->settings->flags & VW_SETTINGS_HAS_ENDPOINTS6))
		return 0;
	__builtin_memcpy(key.addr, &ip6->daddr, 16);
	ep = SLOT_LOOKUP(p->slot, VW_MAP_ENDPOINTS6_0, VW_MAP_ENDPOINTS6_1, &key);
	if (!ep)
		return 0;
	p->endpoint_kind = ep->kind;
	p->endpoint_vnet = ep->vnet_id;
	return private_endpoint_admits(p, &seg);
}

/* ::ffff:a.b.c.d, the form an IPv6 socket sees an IPv4 peer in. */
static __always_inline int is_ipv4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/* The decision for an IPv6 data-plane packet, before audit mode. A source
 * ::ffff:a.b.c.d is decided as a.b.c.d (the rules, services and perimeter
 * of IPv4): otherwise an IPv4 address written that way would get IPv6's
 * decision, and a denied IPv4 client could pass under default Allow for
 * IPv6 or the other way round. Such a source never reaches an IPv6 private
 * endpoint (no virtual network reaches one over IPv4-in-IPv6). */
static __always_inline struct verdict decide_ipv6(struct packet *p, const struct ipv6hdr *ip6)
{
	__u32 vnet_id = VNET_UNKNOWN;
	struct verdict v;

	if (is_ipv4_mapped(ip6->saddr.in6_u.u6_addr8)) {
		p->source6 = 0;
		__builtin_memcpy(p->saddr, &ip6->saddr.in6_u.u6_addr8[12], 4);
		p->source = bpf_ntohl(ip6->saddr.in6_u.u6_addr32[3]);
		p->endpoint_kind = 0;
		return decide_ipv4(p);
	}
	__builtin_memcpy(p->saddr6, &ip6->saddr, 16);
	p->source6 = 1;
	if (private_endpoint6_admits(p, ip6))
		return make_verdict(VW_CLASS_PRIVATE_ENDPOINT);
	v = decide_rules6(p, &vnet_id);
	if (p->settings->flags & VW_SETTINGS_PERIMETER_TRANSITION)
		v = perimeter_transition6(p, vnet_id, v);
	return v;
}

/* Classes are compile-time constants below VW_CLASS_COUNT (VW_CLASSES). */
static __always_inline int class_denies(__u32 class)
{
	return VW_CLASS_DROPS(class);
}

/* A non-first fragment carries no port; it is decided by its source like
 * the first fragment was, and counted in its own class (no rule credit). */
static __always_inline struct verdict as_fragment(struct verdict v)
{
	struct verdict f = make_verdict(class_denies(v.class) ? VW_CLASS_FRAGMENT_DENY
							       : VW_CLASS_FRAGMENT_ALLOW);
	return f;
}

/* A policy deny or a perimeter's would-deny: it logs an event. */
static __always_inline int class_logs(__u32 class)
{
	return VW_CLASS_LOGS(class);
}

/* Audit mode: a policy deny passes and is counted as such. */
static __always_inline struct verdict apply_mode(const struct vw_settings *s, struct verdict v)
{
	if (s->mode == VW_MODE_AUDIT && VW_CLASS_POLICY_DENIES(v.class))
		v.class = VW_CLASS_AUDIT_DENY;
	return v;
}

/* ---- Count ----------------------------------------------------------------- */

static __always_inline void count(void *map, __u32 index, __u64 bytes, int stamp)
{
	struct vw_counters *c = bpf_map_lookup_elem(map, &index);

	if (!c)
		return;
	c->packets++;
	c->bytes += bytes;
	/* jiffies64 is inlined into a load; any clock helper call costs more
	 * than the whole decision (~20 ns). Tick resolution is enough here. */
	if (stamp)
		c->last_hit_jiffies = bpf_jiffies64();
}

static __always_inline int finish(struct verdict v, __u64 bytes)
{
	count(&vw_class_stats, v.class, bytes, 0);
	if (v.rule_id != VW_RULE_NONE)
		count(&vw_rule_stats, v.rule_id, bytes, 1);
	if (v.service_id != VW_SERVICE_NONE)
		count(&vw_svc_stats, v.service_id, bytes, 1);
	return class_denies(v.class) ? XDP_DROP : XDP_PASS;
}

/* ---- Log ------------------------------------------------------------------
 * Only the policy denies log (see struct vw_event); allowed packets pay one
 * test of their class and nothing else. Everything below runs on the deny
 * path only, so it may re-parse the packet and read the clock.
 */

static __always_inline void count_event_stat(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&vw_event_stats, &index);

	if (n)
		(*n)++;
}

/* This CPU's event budget for the current tick, or NULL when it is spent.
 * Not charged here: a source that its own limit suppresses must not use
 * up the budget of every other source. */
static __always_inline struct vw_event_budget *cpu_budget(void)
{
	struct vw_event_budget *b;
	__u32 zero = 0;
	__u64 now;

	b = bpf_map_lookup_elem(&vw_event_cpu, &zero);
	if (!b)
		return NULL;
	now = bpf_jiffies64();
	if (b->jiffies != now) {
		b->jiffies = now;
		b->used = 0;
	}
	return b->used < VW_EVENT_CPU_BUDGET ? b : NULL;
}

static __always_inline void set_ipv4_mapped(__u8 *dst, const void *ipv4)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, ipv4, 4);
}

static __always_inline void read_ports(const struct cursor *c, __u8 proto, struct vw_event *e)
{
	__u8 *l4 = c->pos;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return;
	if ((void *)(l4 + 4) > c->end)
		return;
	e->sport = ((__u16)l4[0] << 8) | l4[1];
	e->dport = ((__u16)l4[2] << 8) | l4[3];
	if (proto == IPPROTO_TCP && (void *)(l4 + 14) <= c->end)
		e->tcp_flags = l4[13];
}

/* Addresses, protocol and ports of the packet, parsed again from the frame:
 * the decision keeps none of it for IPv6 and only addresses for IPv4, and
 * keeping more would cost the allowed path. Fields stay 0 when absent. */
static __always_inline void read_flow(struct xdp_md *ctx, int framing, struct vw_event *e)
{
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	int proto;

	proto = parse_frame(&c, framing, &e->vlan);
	if (proto == ETH_P_IP) {
		ip = parse_ipv4_fixed(&c);
		if (!ip)
			return;
		e->ip_version = 4;
		e->proto = ip->protocol;
		set_ipv4_mapped(e->saddr, &ip->saddr);
		set_ipv4_mapped(e->daddr, &ip->daddr);
		if (ipv4_is_later_fragment(ip) || skip_ipv4_header(&c, ip) < 0)
			return;
		read_ports(&c, ip->protocol, e);
	} else if (proto == ETH_P_IPV6) {
		ip6 = c.pos;
		if ((void *)(ip6 + 1) > c.end)
			return;
		e->ip_version = 6;
		__builtin_memcpy(e->saddr, &ip6->saddr, 16);
		__builtin_memcpy(e->daddr, &ip6->daddr, 16);
		proto = parse_ipv6(&c);
		if (proto < 0)
			return;
		e->proto = proto;
		read_ports(&c, proto, e);
	}
}

/*
 * The per-source limit, as GCRA (a token bucket kept as one time stamp):
 * a source may log while its next_ns is at most BURST - 1 intervals ahead
 * of now. Returns 1 to log, with *now set and *suppressed set to what the
 * source had suppressed since its last event. A source suppressed earlier
 * in the same tick is suppressed again without reading the clock: at worst
 * it waits one tick (4 ms) longer than GCRA says, and a single-source flood
 * costs a hash lookup instead of a helper call. Two CPUs racing on one
 * source may let an extra event through; the counters stay exact per packet.
 */
static __always_inline int same_address(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

/* Hands the packets this CPU suppressed for its quiet source over to that
 * source's state (they are reported with the source's next event). */
static __always_inline void flush_pending(struct vw_event_budget *b)
{
	struct vw_rate_state *st;
	struct vw_rate_key key;

	if (!b->pending)
		return;
	__builtin_memcpy(key.addr, b->quiet_addr, 16);
	st = bpf_map_lookup_elem(&vw_event_rate, &key);
	if (st)
		st->suppressed += b->pending;
	b->pending = 0;
}

/* This CPU just suppressed e's source in `tick`: remember it, so the
 * source's next packets in this tick skip the hash lookup. */
static __always_inline void remember_quiet_source(struct vw_event_budget *b,
						  const struct vw_event *e, __u64 tick)
{
	if (!same_address(b->quiet_addr, e->saddr)) {
		flush_pending(b);
		__builtin_memcpy(b->quiet_addr, e->saddr, 16);
	}
	b->quiet_jiffies = tick;
}

static __always_inline int source_may_log(const struct vw_event *e, __u64 tick, __u64 *now,
					  __u32 *suppressed)
{
	struct vw_rate_state *st;
	struct vw_rate_key key;
	__u64 next;

	__builtin_memcpy(key.addr, e->saddr, 16);
	st = bpf_map_lookup_elem(&vw_event_rate, &key);
	if (st && st->suppressed_jiffies == tick) {
		st->suppressed++;
		return 0;
	}
	*now = bpf_ktime_get_ns();
	if (!st) {
		struct vw_rate_state fresh = { .next_ns = *now + VW_EVENT_SOURCE_INTERVAL_NS };

		bpf_map_update_elem(&vw_event_rate, &key, &fresh, BPF_ANY);
		*suppressed = 0;
		return 1;
	}
	next = st->next_ns > *now ? st->next_ns : *now;
	if (next - *now > (VW_EVENT_SOURCE_BURST - 1) * VW_EVENT_SOURCE_INTERVAL_NS) {
		st->suppressed++;
		st->suppressed_jiffies = tick;
		return 0;
	}
	st->next_ns = next + VW_EVENT_SOURCE_INTERVAL_NS;
	*suppressed = st->suppressed;
	st->suppressed = 0;
	return 1;
}

/* For publicNetworkAccess Disabled: a rule that would admit the source if
 * public access were on, so the log can say which rule was overridden. */
static __always_inline __u32 overridden_rule(const struct packet *p, __u32 class, __u32 vnet_id)
{
	if (class != VW_CLASS_PUBLIC_DISABLED)
		return VW_RULE_NONE;
	return lookup_rule(p, vnet_id);
}

/* The source as events and the rate limits key it, from what the decision
 * kept: the same bytes read_flow parses (IPv4-mapped for IPv4 and for an
 * IPv6 source that is IPv4-mapped, whose IPv4 address decide_ipv6 kept).
 * Four words in registers, compared with the budget's as words: built as
 * bytes on the stack and read back as wider words, a load spanning several
 * narrower stores would wait for them. */
struct event_addr {
	__u32 word[4];
};

static __always_inline struct event_addr event_source(const struct packet *p)
{
	struct event_addr a;

	if (p->source6) {
		__builtin_memcpy(a.word, p->saddr6, 16);
	} else {
		a.word[0] = 0;
		a.word[1] = 0;
		a.word[2] = bpf_htonl(0x0000ffff);
		__builtin_memcpy(&a.word[3], p->saddr, 4);
	}
	return a;
}

/* This CPU suppressed the source earlier in this tick (remember_quiet_source). */
static __always_inline int is_quiet_source(const struct vw_event_budget *b,
					   const struct event_addr *a)
{
	const __u32 *q = (const __u32 *)b->quiet_addr;

	return b->quiet_jiffies == b->jiffies && q[0] == a->word[0] && q[1] == a->word[1] &&
	       q[2] == a->word[2] && q[3] == a->word[3];
}

/* v is the policy's verdict before audit mode turned it into a pass. */
static __always_inline void log_event(struct xdp_md *ctx, int framing, const struct packet *p,
				      struct verdict v, __u64 bytes)
{
	struct vw_event_budget *budget = cpu_budget();
	struct event_addr source;
	struct vw_event e;
	__u64 now = 0;

	if (!budget) {
		count_event_stat(VW_EVENT_STAT_SUPPRESSED);
		return;
	}
	/* The cheapest test first: a source suppressed earlier in this tick
	 * needs neither a lookup nor the packet parsed again, nor the event
	 * built. */
	source = event_source(p);
	if (is_quiet_source(budget, &source)) {
		budget->pending++;
		count_event_stat(VW_EVENT_STAT_SUPPRESSED);
		return;
	}
	__builtin_memset(&e, 0, sizeof(e));
	__builtin_memcpy(e.saddr, source.word, 16);
	read_flow(ctx, framing, &e);
	if (!source_may_log(&e, budget->jiffies, &now, &e.suppressed)) {
		remember_quiet_source(budget, &e, budget->jiffies);
		count_event_stat(VW_EVENT_STAT_SUPPRESSED);
		return;
	}
	if (same_address(budget->quiet_addr, e.saddr)) {
		e.suppressed += budget->pending;
		budget->pending = 0;
	}
	budget->used++;

	e.time_ns = now;
	e.generation = p->settings->generation;
	e.ifindex = ctx->ingress_ifindex;
	e.vnet_id = lookup_vnet(p);
	e.verdict_class = v.class;
	e.rule_id = v.class == VW_CLASS_PERIMETER_WOULD_DENY ? v.rule_id
							      : overridden_rule(p, v.class, e.vnet_id);
	e.packet_bytes = bytes;
	e.mode = p->settings->mode == VW_MODE_AUDIT ? VW_EVENT_MODE_AUDIT : VW_EVENT_MODE_ENFORCE;
	if (bpf_ringbuf_output(&vw_events, &e, sizeof(e), 0) != 0)
		count_event_stat(VW_EVENT_STAT_LOST);
	else
		count_event_stat(VW_EVENT_STAT_EMITTED);
}

/* ---- Parse and scope ---------------------------------------------------------- */

/* The addresses the decision reads, copied only once a packet may be data
 * plane: most packets are ruled out by protocol and port first. */
static __always_inline void note_addresses(struct packet *p, const struct iphdr *ip)
{
	p->source6 = 0;
	__builtin_memcpy(p->saddr, &ip->saddr, 4);
	__builtin_memcpy(p->daddr, &ip->daddr, 4);
	p->source = bpf_ntohl(ip->saddr);
}

/* A packet whose port cannot be read: malformed if it goes to a protected
 * address, else outside the data plane. */
static __always_inline struct verdict unreadable(struct packet *p, const struct iphdr *ip)
{
	note_addresses(p, ip);
	return is_protected_destination(p, PROBE_NONE, 0, NULL)
		   ? make_verdict(VW_CLASS_MALFORMED)
		   : make_verdict(VW_CLASS_UNPROTECTED);
}

static __always_inline struct verdict classify_ipv4(struct cursor *c, struct packet *p)
{
	const struct vw_settings *s = p->settings;
	struct iphdr *ip = parse_ipv4_fixed(c);
	int port;

	if (!ip) /* malformed only under a policy */
		return make_verdict(s->port_count ? VW_CLASS_MALFORMED : VW_CLASS_UNPROTECTED);

	/* The protocol alone proves most packets are outside the data plane
	 * (no protected port or undeclared tunnel uses it, or there is no
	 * policy at all). */
	if (!is_data_plane_proto(s, ip->protocol))
		return make_verdict(VW_CLASS_UNPROTECTED);
	if (skip_ipv4_header(c, ip) < 0)
		return unreadable(p, ip);
	p->has_options = ip->ihl > 5;

	/* A later fragment has no port: fail closed if its destination is protected. */
	if (ipv4_is_later_fragment(ip)) {
		if (!is_fragment_data_plane(s, ip->protocol))
			return make_verdict(VW_CLASS_UNPROTECTED);
		note_addresses(p, ip);
		if (!is_protected_destination(p, PROBE_NONE, 0, NULL))
			return make_verdict(VW_CLASS_UNPROTECTED);
		return as_fragment(decide_ipv4(p));
	}

	/* An undeclared IP tunnel is data plane by its protocol alone. */
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) {
		note_addresses(p, ip);
		if (!is_protected_destination(p, PROBE_ROUTE, ip->protocol, c))
			return make_verdict(VW_CLASS_UNPROTECTED);
		return decide_ipv4(p);
	}

	/* Port before destination: the port is in the packet, the destination
	 * needs a map lookup. */
	port = parse_dest_port(c);
	if (port < 0)
		return unreadable(p, ip);
	if (!is_data_plane_port(s, ip->protocol, port))
		return make_verdict(VW_CLASS_UNPROTECTED);
	note_addresses(p, ip);
	if (!is_protected_destination(p, PROBE_SOCKET, ip->protocol, c))
		return make_verdict(VW_CLASS_UNPROTECTED);
	return decide_ipv4(p);
}

/* IPv6: every destination is protected (data-plane addresses are IPv4).
 * A later fragment has no port: it is decided by its source (fail closed),
 * counted as a fragment. */
static __always_inline struct verdict classify_ipv6(struct cursor *c, struct packet *p)
{
	const struct vw_settings *s = p->settings;
	struct ipv6hdr *ip6 = c->pos;
	int proto;
	int port;

	if (s->port_count == 0) /* no policy */
		return make_verdict(VW_CLASS_UNPROTECTED);
	if ((void *)(ip6 + 1) > c->end)
		return make_verdict(VW_CLASS_MALFORMED);
	proto = parse_ipv6(c);
	if (proto == PARSE_TRUNCATED)
		return make_verdict(VW_CLASS_MALFORMED);
	if (proto == IPV6_LATER_FRAGMENT) /* no port: decided by its source */
		return as_fragment(decide_ipv6(p, ip6));
	if (proto == IPV6_TRANSPORT_UNKNOWN) /* cannot prove it is not data plane */
		return decide_ipv6(p, ip6);
	if (!is_data_plane_proto(s, proto))
		return make_verdict(VW_CLASS_UNPROTECTED);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) /* an undeclared IP tunnel */
		return decide_ipv6(p, ip6);
	port = parse_dest_port(c);
	if (port < 0)
		return make_verdict(VW_CLASS_MALFORMED);
	if (!is_data_plane_port(s, proto, port))
		return make_verdict(VW_CLASS_UNPROTECTED);
	return decide_ipv6(p, ip6);
}

static __always_inline const struct vw_settings *active_settings(__u32 *slot)
{
	__u32 zero = 0;
	struct vw_active *active = bpf_map_lookup_elem(&vw_active, &zero);

	if (!active)
		return NULL;
	*slot = active->slot & 1;
	return &active->settings[*slot];
}

/* Outside the data plane: counted in its class, passed, nothing else. */
static __always_inline int pass_untouched(__u32 class, __u64 bytes)
{
	count(&vw_class_stats, class, bytes, 0);
	return XDP_PASS;
}

/* Not IP: ARP, LLDP, ... pass untouched. Under a policy, a truncated tag or
 * a third tag hides the payload: malformed, dropped in every mode. */
static __always_inline int not_ip(const struct vw_settings *s, int proto, __u64 bytes)
{
	if (proto < 0 && s->port_count != 0) {
		count(&vw_class_stats, VW_CLASS_MALFORMED, bytes, 0);
		return XDP_DROP;
	}
	return pass_untouched(VW_CLASS_NOT_IP, bytes);
}

/*
 * Holds a reference to every map, so that a map whose pin was deleted can
 * be pinned again from the running program (vaultwall-loader load --repair
 * finds it through the program's map ids). Only reached when the active word
 * cannot be read, which an array map never does.
 */
static __always_inline void hold_every_map(void)
{
	__u32 zero = 0;
	struct vw_link_key no_link = {};

	bpf_map_lookup_elem(&vw_sync, &zero);
	bpf_map_lookup_elem(&vw_rule_info, &zero);
	bpf_map_lookup_elem(&vw_svc_info, &zero);
	bpf_map_lookup_elem(&vw_policy_info, &zero);
	bpf_map_lookup_elem(&vw_policy_doc, &zero);
	bpf_map_lookup_elem(&vw_abi, &zero);
	bpf_map_lookup_elem(&vw_links, &no_link);
}

/* The whole program for one kind of frame (a constant in each entry point,
 * so each is compiled for its own framing). */
static __always_inline int filter_frame(struct xdp_md *ctx, int framing)
{
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	__u64 bytes = c.end - c.pos;
	/* Not zeroed as a whole: every field is written before it is read
	 * (most packets never reach the fields of the decision). */
	struct packet p;
	struct verdict v;
	int proto;

	p.ctx = ctx;
	p.has_options = 0;
	p.settings = active_settings(&p.slot);
	if (!p.settings) { /* cannot happen: an array always has its slots */
		hold_every_map();
		return XDP_PASS;
	}

	proto = parse_frame(&c, framing, &p.vlan);
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		return not_ip(p.settings, proto, bytes);
	/* With no policy nothing is data plane: classify_* return UNPROTECTED
	 * (for IPv4 the protocol flags are clear; the check costs nothing more). */
	if (proto == ETH_P_IP)
		v = classify_ipv4(&c, &p);
	else
		v = classify_ipv6(&c, &p);
	if (v.class == VW_CLASS_UNPROTECTED)
		return pass_untouched(VW_CLASS_UNPROTECTED, bytes);

#ifndef VW_BENCH_NO_EVENTS /* defined only by a benchmark build: the cost of logging */
	if (class_logs(v.class))
		log_event(ctx, framing, &p, v, bytes);
#endif
	v = apply_mode(p.settings, v);
	if (VW_CLASS_POLICY_DENIES(v.class) && p.settings->deny_action == VW_DENY_REJECT) {
		finish(v, bytes);
		return reject(ctx, framing); /* XDP_TX with a RST, or XDP_DROP */
	}
	return finish(v, bytes);
}

/* Ethernet devices (with up to two VLAN tags). */
SEC("xdp")
int vaultwall_xdp(struct xdp_md *ctx)
{
	return filter_frame(ctx, VW_FRAMING_ETHERNET);
}

/* Devices without a link-layer header (TUN, WireGuard): generic XDP hands
 * the frame over from the IP header on. Same maps, same decision. */
SEC("xdp")
int vaultwall_xdp_l3(struct xdp_md *ctx)
{
	return filter_frame(ctx, VW_FRAMING_IP);
}
