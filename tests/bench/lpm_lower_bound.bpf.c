// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lpm_lower_bound.bpf.c - the least any design like vaultwall's can do per
 * packet: parse Ethernet/IPv4/TCP, check one protected port, one LPM lookup
 * keyed like vaultwall's rule trie, one per-CPU counter. No VLANs, no
 * settings, no slots, no classes, no timestamps.
 *
 * Benchmark only; it is not a filter anyone should run. The gap between it
 * and vaultwall_xdp is what vaultwall's features cost per packet.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Only the key/value/counter layouts, so both programs walk the same trie
 * shape; vaultwall's maps are not used. */
#include "../../bpf/vaultwall_abi.h"
#include "../../bpf/map_shapes.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define LB_PROTECTED_PORT 443
#define LB_MISS_INDEX 0 /* counter slot for denied packets (rule id 0 is never a rule) */

struct {
	VW_LPM_TRIE_SHAPE(struct vw_rule_key, struct vw_rule_value, VW_MAX_RULE_PREFIXES);
} lb_rules SEC(".maps");

/* The same for IPv6 (bench_lpm6): one trie keyed like vw_rules6_N. */
struct {
	VW_LPM_TRIE_SHAPE(struct vw_rule6_key, struct vw_rule_value, VW_MAX_RULE6_PREFIXES);
} lb_rules6 SEC(".maps");

struct {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_PERCPU_ARRAY, struct vw_counters, VW_MAX_RULES);
} lb_stats SEC(".maps");

static __always_inline void count(__u32 index, __u64 bytes)
{
	struct vw_counters *c = bpf_map_lookup_elem(&lb_stats, &index);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

SEC("xdp")
int bench_lpm(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp;
	struct vw_rule_key key = { .prefixlen = VW_RULE_KEY_VNET_BITS + 32 };
	struct vw_rule_value *rule;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > end)
		return XDP_PASS;
	if (tcp->dest != bpf_htons(LB_PROTECTED_PORT))
		return XDP_PASS;

	__builtin_memcpy(key.addr, &ip->saddr, 4);
	rule = bpf_map_lookup_elem(&lb_rules, &key);
	count(rule ? rule->rule_id : LB_MISS_INDEX, end - data);
	return rule ? XDP_PASS : XDP_DROP;
}

/* IPv6: Ethernet/IPv6/TCP (no extension headers), one LPM lookup of a
 * 16-byte source, one counter. */
SEC("xdp")
int bench_lpm6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip6 + 1);
	struct vw_rule6_key key = { .prefixlen = VW_RULE_KEY_VNET_BITS + 128 };
	struct vw_rule_value *rule;

	if ((void *)(tcp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	if (ip6->nexthdr != IPPROTO_TCP || tcp->dest != bpf_htons(LB_PROTECTED_PORT))
		return XDP_PASS;

	__builtin_memcpy(key.addr, &ip6->saddr, 16);
	rule = bpf_map_lookup_elem(&lb_rules6, &key);
	count(rule ? rule->rule_id : LB_MISS_INDEX, end - data);
	return rule ? XDP_PASS : XDP_DROP;
}
