/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * reject.h - answer a denied TCP segment with a RST, built in place.
 *
 * Under vaultwall.denyAction "reject" a client that is denied learns it at
 * once ("connection refused") instead of waiting for its connect timeout,
 * as Azure's own firewall answers at once (DESIGN §1.10). The segment's
 * own buffer becomes the reply: Ethernet addresses swapped (VLAN tags kept
 * as they came), a fresh IPv4 (IHL 5, no options) or IPv6 header (no
 * extension headers), and a bare TCP header (no options, no payload) whose
 * sequence numbers follow RFC 9293 §3.10.7.1; the frame is trimmed behind
 * it and sent back out of the interface it came in on (XDP_TX).
 *
 * No reply for: a RST, anything but TCP (UDP: DESIGN §1.10), a later
 * fragment, broadcast or multicast at either layer, a frame without an
 * Ethernet header, and anything past the per-CPU budget. Those are
 * dropped and counted as suppressed; every call counts once.
 */
#ifndef VAULTWALL_REJECT_H
#define VAULTWALL_REJECT_H

#include <linux/bpf.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "vaultwall_abi.h"
#include "parsing.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vw_reject_budget);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} VW_MAP_REJECT_CPU SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VW_REJECT_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} VW_MAP_REJECT_STATS SEC(".maps");

#define TCP_FLAG_FIN_ 0x01
#define TCP_FLAG_SYN_ 0x02
#define TCP_FLAG_RST_ 0x04
#define TCP_FLAG_ACK_ 0x10
#define REJECT_TCP_LEN 20 /* the reply's TCP header: no options */

/* What the reply needs from the segment, read before it is overwritten. */
struct rejected_segment {
	__be16 sport, dport; /* as they came */
	__u32 seq, ack;      /* host order */
	__u8 flags;
	__u32 len;           /* SEG.LEN: payload, plus one each for SYN and FIN */
};

static __always_inline void count_reject(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&vw_reject_stats, &index);

	if (n)
		(*n)++;
}

/* Takes one reply from this CPU's budget for the current tick; 0 when it
 * is spent. */
static __always_inline int take_reply_budget(void)
{
	struct vw_reject_budget *b;
	__u32 zero = 0;
	__u64 now;

#ifdef VW_BENCH_UNBOUNDED_REJECT /* a benchmark build only: the cost of every reply */
	return 1;
#endif
	b = bpf_map_lookup_elem(&vw_reject_cpu, &zero);
	if (!b)
		return 0;
	now = bpf_jiffies64();
	if (b->jiffies != now) {
		b->jiffies = now;
		b->used = 0;
	}
	if (b->used >= VW_REJECT_CPU_BUDGET)
		return 0;
	b->used++;
	return 1;
}

/* One's-complement sum of `len` bytes (even) into `sum`, not folded. */
static __always_inline __u32 sum16(const void *data, __u32 len, __u32 sum)
{
	const __u16 *w = data;

#pragma unroll
	for (__u32 i = 0; i < 20; i++) { /* at most 40 bytes: an IPv6 header's addresses */
		if (2 * i >= len)
			break;
		sum += w[i];
	}
	return sum;
}

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline int is_multicast_mac(const __u8 *mac)
{
	return mac[0] & 1; /* the group bit; broadcast is all ones */
}

/* An address no reply goes to or comes from: multicast and 240/4 (the
 * limited broadcast with it), 0/8 ("this network") and loopback. No real
 * client has one as its source: answering it would answer a spoofer. */
static __always_inline int ipv4_no_reply_address(__be32 addr)
{
	__u32 a = bpf_ntohl(addr);

	return (a >> 28) >= 0xe || (a >> 24) == 0 || (a >> 24) == 127;
}

/* Reads the TCP header at the cursor; 0 when it may be answered (not a
 * RST). ip_payload is the transport's length per the IP header (it can be
 * less than the frame holds: Ethernet padding). */
static __always_inline int read_segment(const struct cursor *c, __u32 ip_payload,
					struct rejected_segment *seg)
{
	struct tcphdr *tcp = c->pos;
	__u32 doff;

	if ((void *)(tcp + 1) > c->end)
		return -1;
	seg->flags = ((__u8 *)tcp)[13];
	if (seg->flags & TCP_FLAG_RST_)
		return -1;
	doff = tcp->doff * 4;
	if (doff < sizeof(*tcp) || doff > ip_payload)
		return -1;
	seg->sport = tcp->source;
	seg->dport = tcp->dest;
	seg->seq = bpf_ntohl(tcp->seq);
	seg->ack = bpf_ntohl(tcp->ack_seq);
	seg->len = ip_payload - doff + !!(seg->flags & TCP_FLAG_SYN_) + !!(seg->flags & TCP_FLAG_FIN_);
	return 0;
}

/* RFC 9293 §3.10.7.1: a segment with ACK is answered <SEQ=SEG.ACK><CTL=RST>;
 * one without, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. `pseudo` is the
 * partial sum of the pseudo-header. */
static __always_inline void write_rst(struct tcphdr *out, const struct rejected_segment *seg,
				      __u32 pseudo)
{
	struct tcphdr t = {};
	__u8 *flags = (__u8 *)&t + 13;

	t.source = seg->dport;
	t.dest = seg->sport;
	t.doff = REJECT_TCP_LEN / 4;
	if (seg->flags & TCP_FLAG_ACK_) {
		t.seq = bpf_htonl(seg->ack);
		*flags = TCP_FLAG_RST_;
	} else {
		t.ack_seq = bpf_htonl(seg->seq + seg->len);
		*flags = TCP_FLAG_RST_ | TCP_FLAG_ACK_;
	}
	t.check = fold(sum16(&t, sizeof(t), pseudo));
	__builtin_memcpy(out, &t, sizeof(t));
}

/* Trims the frame to l3 + reply_l3 + the TCP header; returns the new cursor
 * on l3 (bounds re-checked: adjusting the tail invalidates every packet
 * pointer) or NULL. */
static __always_inline void *trim_reply(struct xdp_md *ctx, __u64 l3, __u32 reply_l3)
{
	__u64 keep = l3 + reply_l3 + REJECT_TCP_LEN;
	__u64 len = ctx->data_end - ctx->data;
	void *data, *end;

	if (len > keep && bpf_xdp_adjust_tail(ctx, -(int)(len - keep)) != 0)
		return NULL;
	if (l3 > 2 * sizeof(struct vlan_tag) + sizeof(struct ethhdr))
		return NULL;
	/* clang may test one copy of l3 and add another to the pointer; the
	 * mask, opaque to clang, bounds the register that is added (l3 is
	 * 14, 18 or 22), so the verifier can prove the reply's bounds. */
	asm volatile("%0 &= 0x1f" : "+r"(l3));
	data = (void *)(long)ctx->data + l3;
	end = (void *)(long)ctx->data_end;
	if (data + reply_l3 + REJECT_TCP_LEN > end)
		return NULL;
	return data;
}

static __always_inline void swap_macs(struct xdp_md *ctx)
{
	struct ethhdr *eth = (void *)(long)ctx->data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return;
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
}

/* The IPv4 reply; 0 when it is ready to be sent. The budget is taken
 * once the segment is known to deserve a reply, just before the frame is
 * rewritten. */
static __always_inline int build_rst_ipv4(struct xdp_md *ctx, struct cursor *c)
{
	struct rejected_segment seg;
	struct iphdr *ip = parse_ipv4_fixed(c);
	struct iphdr out = {};
	__u32 l3 = c->pos - (void *)(long)ctx->data;
	__u32 tot_len, pseudo;
	__be32 saddr, daddr;
	void *reply;

	if (!ip || ip->protocol != IPPROTO_TCP || ipv4_is_later_fragment(ip))
		return -1;
	if (ipv4_no_reply_address(ip->saddr) || ipv4_no_reply_address(ip->daddr) ||
	    ip->saddr == ip->daddr) /* the host itself as the source: spoofed */
		return -1;
	tot_len = bpf_ntohs(ip->tot_len);
	if (skip_ipv4_header(c, ip) < 0 || tot_len < ip->ihl * 4u)
		return -1;
	if (read_segment(c, tot_len - ip->ihl * 4, &seg) < 0 || !take_reply_budget())
		return -1;
	saddr = ip->saddr;
	daddr = ip->daddr;

	reply = trim_reply(ctx, l3, sizeof(out));
	if (!reply)
		return -1;
	out.version = 4;
	out.ihl = 5;
	out.tot_len = bpf_htons(sizeof(out) + REJECT_TCP_LEN);
	out.frag_off = bpf_htons(0x4000); /* DF */
	out.ttl = VW_REJECT_TTL;
	out.protocol = IPPROTO_TCP;
	out.saddr = daddr;
	out.daddr = saddr;
	out.check = fold(sum16(&out, sizeof(out), 0));
	__builtin_memcpy(reply, &out, sizeof(out));

	pseudo = sum16(&out.saddr, 8, bpf_htons(IPPROTO_TCP) + bpf_htons(REJECT_TCP_LEN));
	write_rst(reply + sizeof(out), &seg, pseudo);
	return 0;
}

/* The IPv6 no-reply set: multicast, unspecified, loopback, and an
 * IPv4-mapped address checked as the IPv4 address it carries (the source
 * was decided as that address). */
static __always_inline int ipv6_no_reply_address(const struct in6_addr *a)
{
	const __u32 *w = a->in6_u.u6_addr32;

	if (a->in6_u.u6_addr8[0] == 0xff)
		return 1;
	if ((w[0] | w[1]) != 0)
		return 0;
	if (w[2] == bpf_htonl(0xffff))
		return ipv4_no_reply_address(w[3]);
	return w[2] == 0 && (w[3] == 0 || w[3] == bpf_htonl(1));
}

static __always_inline int ipv6_is_link_local(const struct in6_addr *a)
{
	return a->in6_u.u6_addr8[0] == 0xfe && (a->in6_u.u6_addr8[1] & 0xc0) == 0x80;
}

/* A source the reply must not go to: the no-reply set, the host's own
 * address, or a link-local source on a packet to a wider-scoped address
 * (a link-local address is never routed to one). */
static __always_inline int ipv6_no_reply_source(const struct in6_addr *src,
						const struct in6_addr *dst)
{
	const __u32 *s = src->in6_u.u6_addr32, *d = dst->in6_u.u6_addr32;

	if (ipv6_no_reply_address(src))
		return 1;
	if (s[0] == d[0] && s[1] == d[1] && s[2] == d[2] && s[3] == d[3])
		return 1;
	return ipv6_is_link_local(src) && !ipv6_is_link_local(dst);
}

/* The IPv6 reply; 0 when it is ready to be sent. */
static __always_inline int build_rst_ipv6(struct xdp_md *ctx, struct cursor *c)
{
	struct rejected_segment seg;
	struct ipv6hdr *ip6 = c->pos;
	struct ipv6hdr out = {};
	__u32 l3 = c->pos - (void *)(long)ctx->data;
	__u32 ip_end, l4, pseudo;
	void *reply;
	int proto;

	if ((void *)(ip6 + 1) > c->end)
		return -1;
	if (ipv6_no_reply_source(&ip6->saddr, &ip6->daddr) || ipv6_no_reply_address(&ip6->daddr))
		return -1;
	__builtin_memcpy(&out.saddr, &ip6->daddr, sizeof(out.saddr));
	__builtin_memcpy(&out.daddr, &ip6->saddr, sizeof(out.daddr));
	ip_end = l3 + sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	proto = parse_ipv6(c); /* a later fragment: IPV6_TRANSPORT_UNKNOWN */
	if (proto != IPPROTO_TCP)
		return -1;
	l4 = c->pos - (void *)(long)ctx->data;
	if (ip_end < l4 || read_segment(c, ip_end - l4, &seg) < 0 || !take_reply_budget())
		return -1;

	reply = trim_reply(ctx, l3, sizeof(out));
	if (!reply)
		return -1;
	out.version = 6;
	out.payload_len = bpf_htons(REJECT_TCP_LEN);
	out.nexthdr = IPPROTO_TCP;
	out.hop_limit = VW_REJECT_TTL;
	__builtin_memcpy(reply, &out, sizeof(out));

	pseudo = sum16(&out.saddr, 32, bpf_htons(IPPROTO_TCP) + bpf_htons(REJECT_TCP_LEN));
	write_rst(reply + sizeof(out), &seg, pseudo);
	return 0;
}

/* The action for a packet the policy denies under reject: XDP_TX with the
 * frame turned into its RST, or XDP_DROP (counted as suppressed). Only the
 * Ethernet entry point answers: on a device without a link-layer header
 * XDP_TX is not supported by every driver (DESIGN §1.10). */
static __always_inline int reject(struct xdp_md *ctx, int framing)
{
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	struct ethhdr *eth = c.pos;
	__u16 vlan;
	int proto, built = -1;

	if (framing != VW_FRAMING_ETHERNET || (void *)(eth + 1) > c.end ||
	    is_multicast_mac(eth->h_source) || is_multicast_mac(eth->h_dest))
		goto suppressed;
	proto = parse_ethernet(&c, &vlan);
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		goto suppressed;
	if (proto == ETH_P_IP)
		built = build_rst_ipv4(ctx, &c);
	else
		built = build_rst_ipv6(ctx, &c);
	if (built != 0)
		goto suppressed;
	swap_macs(ctx);
	count_reject(VW_REJECT_STAT_SENT);
	return XDP_TX;

suppressed:
	count_reject(VW_REJECT_STAT_SUPPRESSED);
	return XDP_DROP;
}

#endif /* VAULTWALL_REJECT_H */
