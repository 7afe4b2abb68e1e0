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

/* One level down when the entry points to a chunk; a result stays as it is. */
#define VW_INDEX_STEP(entry, src, shift, LOOKUP_CHUNK)                                              \
	do {                                                                                        \
		if ((entry) & VW_INDEX_CHUNK) {                                                     \
			__u32 _chunk_key = (entry) & ~VW_INDEX_CHUNK;                               \
			(entry) = vw_index_pick(LOOKUP_CHUNK(&_chunk_key), (src), (shift));         \
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
		/* a chunk below /32 would be corrupt: let the tries decide */                     \
		(_entry & VW_INDEX_CHUNK) ? VW_INDEX_TRIE : _entry;                                 \
	})

_Static_assert(VW_INDEX_TOP_BITS == 16 && VW_INDEX_STRIDE == 4, "VW_INDEX_WALK spells out 16-4-4-4-4");

#endif /* VAULTWALL_SOURCE_INDEX_H */
