/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * source_index.h - the walk of the public source index (layout and entry
 * format in vaultwall_abi.h), shared by the program and the cold-cache
 * benchmark so both walk it the same way.
 *
 * VW_INDEX_WALK(source, LOOKUP_TOP, LOOKUP_CHUNK) evaluates to the entry for
 * `source` (host byte order): a result or VW_INDEX_TRIE. LOOKUP_TOP(&key)
 * and LOOKUP_CHUNK(&key) look a chunk up in the top array and in the chunk
 * array (a struct vw_index_chunk *, or NULL). It is a macro, not a function,
 * so the caller decides how each lookup binds to its map (see SLOT_LOOKUP).
 * One inlined array load per level: at most five.
 */
#ifndef VAULTWALL_SOURCE_INDEX_H
#define VAULTWALL_SOURCE_INDEX_H

#include "vaultwall_abi.h"

static __always_inline __u32 vw_index_pick(const struct vw_index_chunk *chunk, __u32 source,
					   int shift)
{
	return chunk ? chunk->entry[(source >> shift) & (VW_INDEX_CHUNK_ENTRIES - 1)]
		     : VW_INDEX_TRIE;
}

/* The result a list node gives `source`. */
static __always_inline __u32 vw_index_list(const struct vw_index_chunk *node, __u32 source)
{
	if (!node)
		return VW_INDEX_TRIE;
#pragma unroll
	for (int i = 0; i < VW_INDEX_LIST_PREFIXES; i++)
		if ((source & node->entry[VW_INDEX_LIST_MASK(i)]) == node->entry[VW_INDEX_LIST_ADDR(i)])
			return node->entry[VW_INDEX_LIST_RESULT(i)];
	return node->entry[VW_INDEX_LIST_DEFAULT];
}

/* One level down when the entry points to a chunk, or the answer of a list
 * node; a result (or VW_INDEX_TRIE) stays as it is. */
#define VW_INDEX_STEP(entry, src, shift, LOOKUP_CHUNK)                                              \
	do {                                                                                        \
		__u32 _kind = (entry) & VW_INDEX_KIND;                                              \
		if (_kind == VW_INDEX_CHUNK || _kind == VW_INDEX_LIST) {                            \
			__u32 _chunk_key = (entry) & ~VW_INDEX_KIND;                                \
			struct vw_index_chunk *_node = LOOKUP_CHUNK(&_chunk_key);                   \
			(entry) = _kind == VW_INDEX_LIST ? vw_index_list(_node, (src))              \
							 : vw_index_pick(_node, (src), (shift));    \
		}                                                                                   \
	} while (0)

/* Written out, not a loop: clang cannot unroll a loop around the
 * SLOT_LOOKUP barrier, and a real loop costs the verifier and the CPU more. */
#define VW_INDEX_WALK(source, LOOKUP_TOP, LOOKUP_CHUNK)                                             \
	({                                                                                          \
		__u32 _src = (source);                                                              \
		__u32 _key = _src >> (32 - VW_INDEX_TOP_BITS + VW_INDEX_STRIDE);                    \
		__u32 _entry = vw_index_pick(LOOKUP_TOP(&_key), _src, 32 - VW_INDEX_TOP_BITS);      \
		VW_INDEX_STEP(_entry, _src, 12, LOOKUP_CHUNK); /* /20 */                             \
		VW_INDEX_STEP(_entry, _src, 8, LOOKUP_CHUNK);  /* /24 */                             \
		VW_INDEX_STEP(_entry, _src, 4, LOOKUP_CHUNK);  /* /28 */                             \
		VW_INDEX_STEP(_entry, _src, 0, LOOKUP_CHUNK);  /* /32 */                             \
		/* a pointer left below /32 would be corrupt: let the tries decide */              \
		(_entry & VW_INDEX_CHUNK) ? VW_INDEX_TRIE : _entry;                                 \
	})

/* The same for a virtual network's index, from its root entry (struct
 * vw_segment_value.index) at /0: at most eight chunk loads, one for a
 * network of up to VW_INDEX_LIST_PREFIXES subnets (a list node). */
#define VW_VNET_INDEX_WALK(root, source, LOOKUP_CHUNK)                                              \
	({                                                                                          \
		__u32 _src = (source);                                                              \
		__u32 _entry = (root);                                                              \
		VW_INDEX_STEP(_entry, _src, 28, LOOKUP_CHUNK); /* /4 */                              \
		VW_INDEX_STEP(_entry, _src, 24, LOOKUP_CHUNK);                                      \
		VW_INDEX_STEP(_entry, _src, 20, LOOKUP_CHUNK);                                      \
		VW_INDEX_STEP(_entry, _src, 16, LOOKUP_CHUNK);                                      \
		VW_INDEX_STEP(_entry, _src, 12, LOOKUP_CHUNK);                                      \
		VW_INDEX_STEP(_entry, _src, 8, LOOKUP_CHUNK);                                       \
		VW_INDEX_STEP(_entry, _src, 4, LOOKUP_CHUNK);                                       \
		VW_INDEX_STEP(_entry, _src, 0, LOOKUP_CHUNK); /* /32 */                              \
		(_entry & VW_INDEX_CHUNK) ? VW_INDEX_TRIE : _entry;                                 \
	})

/* ---- IPv6 (vaultwall_abi.h: IPv6 public source index) ---- */

/* The node a pointer entry names (its byte offset in the nodes), and
 * entry i of a wide node: masked to the nodes, so the verifier sees every
 * read in bounds. One mask and one add between a load and the next. */
static __always_inline const struct vw_index_chunk *vw_index6_node(const struct vw_index6 *index,
								    __u32 entry)
{
	return (const void *)index->node + (entry & VW_INDEX6_NODE);
}

static __always_inline __u32 vw_index6_wide_entry(const struct vw_index6 *index, __u32 entry,
						  __u32 i)
{
	return *(const __u32 *)((const void *)index->node + ((entry + 4 * i) & VW_INDEX6_NODE_WORD));
}

/* The result a 64-bit list node gives one half of the source. */
static __always_inline __u32 vw_index6_list(const struct vw_index_chunk *node, __u64 half)
{
	__u32 high = half >> 32, low = (__u32)half;

#pragma unroll
	for (int i = 0; i < VW_INDEX6_LIST_PREFIXES; i++)
		if ((high & node->entry[VW_INDEX6_LIST_MASK_HI(i)]) ==
			    node->entry[VW_INDEX6_LIST_ADDR_HI(i)] &&
		    (low & node->entry[VW_INDEX6_LIST_MASK_LO(i)]) == node->entry[VW_INDEX6_LIST_ADDR_LO(i)])
			return node->entry[VW_INDEX6_LIST_RESULT(i)];
	return node->entry[VW_INDEX_LIST_DEFAULT];
}

/* The step for `depth` of the upper half: a wide node of that depth (8
 * bits, a constant shift: nothing on the path from one load to the next
 * waits for a computed shift) or a list node at any depth; a pointer to a
 * deeper node, or for the lower half (VW_INDEX6_LOW), waits. */
#define VW_INDEX6_STEP(index, ent, half, depth)                                                     \
	do {                                                                                        \
		__u32 _kind = (ent) & VW_INDEX_KIND;                                                \
		if (_kind == VW_INDEX_CHUNK &&                                                      \
		    ((ent) & VW_INDEX6_DEPTH_MASK) == VW_INDEX6_DEPTH(depth)) {                     \
			__u32 _i = ((half) >> (56 - (depth))) & (VW_INDEX6_NODE_ENTRIES - 1);         \
			(ent) = vw_index6_wide_entry((index), (ent), _i);                             \
		} else if (_kind == VW_INDEX_LIST && !((ent) & VW_INDEX6_LOW)) {                    \
			(ent) = vw_index6_list(vw_index6_node((index), (ent)), (half));               \
		}                                                                                   \
	} while (0)

/* One node of a lower-half list chain, when the walk is at one. */
#define VW_INDEX6_LOW_STEP(index, ent, low)                                                         \
	do {                                                                                        \
		if (((ent) & (VW_INDEX_KIND | VW_INDEX6_LOW)) == (VW_INDEX_LIST | VW_INDEX6_LOW))     \
			(ent) = vw_index6_list(vw_index6_node((index), (ent)), (low));                \
	} while (0)

/* VW_INDEX6_WALK(index, high, low): the entry in `index` (a slot's struct
 * vw_index6) for the source whose upper and lower halves are `high` and
 * `low` (host order), a result or VW_INDEX_TRIE. Top /16, six steps to /64
 * (one per depth of wide node; a list node, which may skip depths, takes
 * the step it is reached at), then the lower half's list chain when the
 * walk reached one. */
#define VW_INDEX6_WALK(index, high, low)                                                            \
	({                                                                                          \
		__u64 _hi = (high), _lo = (low);                                                    \
		__u32 _entry = (index)->top[_hi >> (64 - VW_INDEX_TOP_BITS)];                       \
		VW_INDEX6_STEP((index), _entry, _hi, 16);                                           \
		VW_INDEX6_STEP((index), _entry, _hi, 24);                                           \
		VW_INDEX6_STEP((index), _entry, _hi, 32);                                           \
		VW_INDEX6_STEP((index), _entry, _hi, 40);                                           \
		VW_INDEX6_STEP((index), _entry, _hi, 48);                                           \
		VW_INDEX6_STEP((index), _entry, _hi, 56); /* to /64 */                               \
		VW_INDEX6_LOW_STEP((index), _entry, _lo);                                           \
		VW_INDEX6_LOW_STEP((index), _entry, _lo);                                           \
		VW_INDEX6_LOW_STEP((index), _entry, _lo);                                           \
		VW_INDEX6_LOW_STEP((index), _entry, _lo);                                           \
		/* a pointer left at the end would be corrupt: let the trie decide */              \
		(_entry & VW_INDEX_CHUNK) ? VW_INDEX_TRIE : _entry;                                 \
	})

_Static_assert(VW_INDEX_TOP_BITS == 16 && VW_INDEX_STRIDE == 4, "VW_INDEX_WALK spells out 16-4-4-4-4");
_Static_assert(VW_INDEX6_STRIDE == 8 && VW_INDEX6_LOW_LISTS == 4,
	       "VW_INDEX6_WALK spells out 16-8-8-8-8-8-8, then four lower-half lists");

#endif /* VAULTWALL_SOURCE_INDEX_H */
