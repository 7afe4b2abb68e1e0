// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cold_lookup.bpf.c - the cost of one rule-trie lookup when the source
 * changes every time, as in a flood from many addresses. BPF_PROG_TEST_RUN
 * repeats one packet, which keeps the trie in L1; here each test-run
 * iteration loops (bpf_loop) over random entries of a probe pool and looks
 * each up in vaultwall's own rule trie (userspace reuses the pinned map's
 * fd for cold_rules). The *_base programs do the same loop without the
 * lookup; the difference is the lookup. Method: in-tree
 * tools/testing/selftests/bpf/benchs/bench_lpm_trie_map.c (lookup vs
 * baseline).
 *
 * Benchmark only, never attached to an interface.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../../bpf/vaultwall_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define COLD_MAX_PROBES (1u << 20)

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VW_MAX_RULE_PREFIXES);
	__type(key, struct vw_rule_key);
	__type(value, struct vw_rule_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cold_rules SEC(".maps");

/* Source addresses (network order): inside rules, and uniformly random. */
struct probe_pool {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COLD_MAX_PROBES);
	__type(key, __u32);
	__type(value, __u32);
};
struct probe_pool cold_hits SEC(".maps");
struct probe_pool cold_randoms SEC(".maps");

/* Set by userspace between runs. The mask selects a power-of-two pool. */
__u32 probe_mask = 0;
__u32 loops = 0; /* set before the first run */
__u64 found = 0; /* keeps the lookups from being optimised away */

static __always_inline long probe(void *pool, int lookup)
{
	__u32 index = bpf_get_prandom_u32() & probe_mask;
	struct vw_rule_key key = { .prefixlen = VW_RULE_KEY_VNET_BITS + 32,
				   .vnet_id = VW_VNET_PUBLIC };
	__u32 *addr = bpf_map_lookup_elem(pool, &index);

	if (!addr)
		return 1;
	__builtin_memcpy(key.addr, addr, 4);
	if (lookup && bpf_map_lookup_elem(&cold_rules, &key))
		found++;
	return 0;
}

static long hit_base(__u32 i, void *ctx) { return probe(&cold_hits, 0); }
static long hit_lookup(__u32 i, void *ctx) { return probe(&cold_hits, 1); }
static long random_base(__u32 i, void *ctx) { return probe(&cold_randoms, 0); }
static long random_lookup(__u32 i, void *ctx) { return probe(&cold_randoms, 1); }

SEC("xdp")
int cold_hit_base(struct xdp_md *ctx)
{
	bpf_loop(loops, hit_base, NULL, 0);
	return XDP_PASS;
}

SEC("xdp")
int cold_hit(struct xdp_md *ctx)
{
	bpf_loop(loops, hit_lookup, NULL, 0);
	return XDP_PASS;
}

SEC("xdp")
int cold_rand_base(struct xdp_md *ctx)
{
	bpf_loop(loops, random_base, NULL, 0);
	return XDP_PASS;
}

SEC("xdp")
int cold_rand(struct xdp_md *ctx)
{
	bpf_loop(loops, random_lookup, NULL, 0);
	return XDP_PASS;
}
