// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cold_lookup.bpf.c - the cost of resolving a public source the way
 * vaultwall does (the source index, then the rule trie where the index
 * leaves the /16 to it) when the source changes every time, as in a flood
 * from many addresses. BPF_PROG_TEST_RUN repeats one packet, which keeps
 * everything in L1; here each test-run iteration loops (bpf_loop) over
 * random entries of a probe pool and resolves each in vaultwall's own maps
 * (userspace reuses the active slot's pinned fds for cold_index,
 * cold_chunks and cold_rules). The *_base programs do the same loop without the
 * lookup; the difference is the lookup. Method: in-tree
 * tools/testing/selftests/bpf/benchs/bench_lpm_trie_map.c (lookup vs
 * baseline).
 *
 * Benchmark only, never attached to an interface.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../../bpf/vaultwall_abi.h"
#include "../../bpf/map_shapes.h"
#include "../../bpf/source_index.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define COLD_MAX_PROBES (1u << 20)

struct {
	VW_LPM_TRIE_SHAPE(struct vw_rule_key, struct vw_rule_value, VW_MAX_RULE_PREFIXES);
} cold_rules SEC(".maps");

struct {
	VW_INDEX_SHAPE(VW_INDEX_TOP_CHUNKS);
} cold_index SEC(".maps");

struct {
	VW_INDEX_SHAPE(VW_INDEX_CHUNKS);
} cold_chunks SEC(".maps");

#define LOOKUP_COLD_TOP(key) bpf_map_lookup_elem(&cold_index, key)
#define LOOKUP_COLD_CHUNK(key) bpf_map_lookup_elem(&cold_chunks, key)

/* Source addresses (network order): inside rules, and uniformly random. */
struct probe_pool {
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, __u32, COLD_MAX_PROBES);
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
	if (lookup) {
		__u32 entry = VW_INDEX_WALK(bpf_ntohl(*addr), LOOKUP_COLD_TOP, LOOKUP_COLD_CHUNK);

		if (entry == VW_INDEX_TRIE ? bpf_map_lookup_elem(&cold_rules, &key) != NULL
					   : VW_INDEX_RULE(entry) != VW_RULE_NONE)
			found++;
	}
	return 0;
}

static long hit_base(__u32 i, void *ctx) { return probe(&cold_hits, 0); }
static long hit_lookup(__u32 i, void *ctx) { return probe(&cold_hits, 1); }
static long random_base(__u32 i, void *ctx) { return probe(&cold_randoms, 0); }
static long random_lookup(__u32 i, void *ctx) { return probe(&cold_randoms, 1); }

/* One program per pool, with and without the lookup; userspace runs them
 * side by side and subtracts. */
#define COLD_PROGRAM(name, step)                 \
	SEC("xdp")                               \
	int name(struct xdp_md *ctx)             \
	{                                        \
		bpf_loop(loops, step, NULL, 0);  \
		return XDP_PASS;                 \
	}

COLD_PROGRAM(cold_hit_base, hit_base)
COLD_PROGRAM(cold_hit, hit_lookup)
COLD_PROGRAM(cold_rand_base, random_base)
COLD_PROGRAM(cold_rand, random_lookup)
