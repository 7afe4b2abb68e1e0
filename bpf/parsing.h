/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * parsing.h - bounds-checked packet parsers for the XDP program.
 *
 * Each parser takes a cursor, checks that its header fits before data_end,
 * and advances the cursor past it. A parser never reads a byte it has not
 * bounds-checked; the verifier insists, and so does a truncated packet.
 */
#ifndef VAULTWALL_PARSING_H
#define VAULTWALL_PARSING_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct cursor {
	void *pos;
	void *end;
};

struct vlan_tag {
	__be16 tci;
	__be16 encapsulated_proto;
};

#define VLAN_VID_MASK 0x0fff
#define PARSE_TRUNCATED (-1)
#define PARSE_TOO_MANY_TAGS (-2)
#define PARSE_NOT_IP (-3) /* a frame of an IP-only device that is not IP */

static __always_inline int is_vlan_proto(__u16 proto)
{
	return proto == ETH_P_8021Q || proto == ETH_P_8021AD;
}

/*
 * Ethernet header and at most two VLAN tags (802.1Q or 802.1ad, in any
 * order). Returns the ethertype after the tags in host byte order, and in
 * *vlan the VLAN ID of the innermost tag that names a VLAN (0 when none
 * does): a tag with VID 0 only carries a priority (802.1Q), and Linux
 * delivers such a frame on the device of the VLAN outside it.
 * Returns PARSE_TRUNCATED when a header does not fit, PARSE_TOO_MANY_TAGS
 * when a third tag follows (the payload cannot be classified).
 */
static __always_inline int parse_ethernet(struct cursor *c, __u16 *vlan)
{
	struct ethhdr *eth = c->pos;
	__u16 proto, vid;

	if ((void *)(eth + 1) > c->end)
		return PARSE_TRUNCATED;
	c->pos = eth + 1;
	proto = bpf_ntohs(eth->h_proto);
	*vlan = 0;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_tag *tag = c->pos;

		if (!is_vlan_proto(proto))
			return proto;
		if ((void *)(tag + 1) > c->end)
			return PARSE_TRUNCATED;
		c->pos = tag + 1;
		vid = bpf_ntohs(tag->tci) & VLAN_VID_MASK;
		if (vid)
			*vlan = vid;
		proto = bpf_ntohs(tag->encapsulated_proto);
	}
	return is_vlan_proto(proto) ? PARSE_TOO_MANY_TAGS : proto;
}

/*
 * A frame without a link-layer header: the IP version nibble tells the
 * protocol. Returns ETH_P_IP or ETH_P_IPV6, PARSE_TRUNCATED for an empty
 * frame and PARSE_NOT_IP for any other version (such a device carries only
 * IP, so under a policy the frame is malformed). Does not advance.
 */
static __always_inline int parse_ip_frame(struct cursor *c, __u16 *vlan)
{
	__u8 *first = c->pos;

	*vlan = 0;
	if ((void *)(first + 1) > c->end)
		return PARSE_TRUNCATED;
	switch (*first >> 4) {
	case 4:
		return ETH_P_IP;
	case 6:
		return ETH_P_IPV6;
	default:
		return PARSE_NOT_IP;
	}
}

/*
 * The fixed 20 bytes of an IPv4 header. Returns the header, or NULL when the
 * packet ends before them. Does not advance: the options length (IHL) is
 * checked separately because the fixed part alone already tells destination
 * and protocol.
 */
static __always_inline struct iphdr *parse_ipv4_fixed(struct cursor *c)
{
	struct iphdr *ip = c->pos;

	if ((void *)(ip + 1) > c->end)
		return NULL;
	return ip;
}

/*
 * Skips the IPv4 header including options. Returns 0, or PARSE_TRUNCATED
 * when IHL is below 5 or the options run past the end of the packet.
 */
static __always_inline int skip_ipv4_header(struct cursor *c, struct iphdr *ip)
{
	__u32 len = ip->ihl * 4;

	if (len < sizeof(*ip))
		return PARSE_TRUNCATED;
	if (c->pos + len > c->end)
		return PARSE_TRUNCATED;
	c->pos += len;
	return 0;
}

/* A non-first fragment: its transport header is in an earlier fragment. */
static __always_inline int ipv4_is_later_fragment(const struct iphdr *ip)
{
	return (bpf_ntohs(ip->frag_off) & 0x1fff) != 0;
}

/*
 * The destination port of a TCP or UDP header at the cursor (both keep it
 * at offset 2). Returns the port in host order, or PARSE_TRUNCATED when the
 * packet ends before the port.
 */
static __always_inline int parse_dest_port(struct cursor *c)
{
	__be16 *ports = c->pos;

	if ((void *)(ports + 2) > c->end)
		return PARSE_TRUNCATED;
	return bpf_ntohs(ports[1]);
}

#define IPV6_MAX_EXT_HEADERS 4
#define IPV6_NEXTHDR_HOP 0
#define IPV6_NEXTHDR_ROUTING 43
#define IPV6_NEXTHDR_FRAGMENT 44
#define IPV6_NEXTHDR_DEST 60
#define IPV6_TRANSPORT_UNKNOWN (-3)
#define IPV6_LATER_FRAGMENT (-4)

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off; /* fragment header only */
};

/*
 * The IPv6 header and up to IPV6_MAX_EXT_HEADERS extension headers.
 * Returns the transport protocol with the cursor on its header, or
 * PARSE_TRUNCATED, or IPV6_LATER_FRAGMENT for a non-first fragment (its
 * transport header is in an earlier one), or IPV6_TRANSPORT_UNKNOWN when
 * more extension headers hide the transport header.
 */
static __always_inline int parse_ipv6(struct cursor *c)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 next;

	if ((void *)(ip6 + 1) > c->end)
		return PARSE_TRUNCATED;
	c->pos = ip6 + 1;
	next = ip6->nexthdr;

#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXT_HEADERS; i++) {
		struct ipv6_ext *ext = c->pos;

		if (next != IPV6_NEXTHDR_HOP && next != IPV6_NEXTHDR_ROUTING &&
		    next != IPV6_NEXTHDR_FRAGMENT && next != IPV6_NEXTHDR_DEST)
			return next;
		if ((void *)(ext + 1) > c->end)
			return PARSE_TRUNCATED;
		if (next == IPV6_NEXTHDR_FRAGMENT) {
			if (bpf_ntohs(ext->frag_off) & 0xfff8)
				return IPV6_LATER_FRAGMENT;
			c->pos += 8;
		} else {
			c->pos += (ext->hdrlen + 1) * 8;
		}
		next = ext->nexthdr;
	}
	/* After the last extension header we may read, the transport may follow. */
	if (next != IPV6_NEXTHDR_HOP && next != IPV6_NEXTHDR_ROUTING &&
	    next != IPV6_NEXTHDR_FRAGMENT && next != IPV6_NEXTHDR_DEST)
		return next;
	return IPV6_TRANSPORT_UNKNOWN;
}

#endif /* VAULTWALL_PARSING_H */
