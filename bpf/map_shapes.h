/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * map_shapes.h - the members of vaultwall's BTF map definitions, written
 * once for the production program (bpf/vaultwall.bpf.c) and the benchmark
 * programs that walk the same structures (the .bpf.c files in tests/bench), so that a
 * benchmark's trie or index cannot drift from the one it stands for. Each
 * macro expands to the member list of a `struct { ... } name SEC(".maps")`;
 * the production program adds VW_PINNED (pinned by name in bpffs).
 */
#ifndef VAULTWALL_MAP_SHAPES_H
#define VAULTWALL_MAP_SHAPES_H

#include <bpf/bpf_helpers.h>

#define VW_PINNED __uint(pinning, LIBBPF_PIN_BY_NAME)

/* Any map keyed and valued by ABI structs. */
#define VW_MAP_SHAPE(map_type, key_type, value_type, entries) \
	__uint(type, map_type);                               \
	__uint(max_entries, entries);                         \
	__type(key, key_type);                                \
	__type(value, value_type)

/* Longest-prefix tries: entries are allocated as they are added. */
#define VW_LPM_TRIE_SHAPE(key_type, value_type, entries)                        \
	VW_MAP_SHAPE(BPF_MAP_TYPE_LPM_TRIE, key_type, value_type, entries);     \
	__uint(map_flags, BPF_F_NO_PREALLOC)

/* Arrays indexed by a __u32 id (one per CPU for counters). */
#define VW_ARRAY_SHAPE(array_type, value_type, entries) \
	VW_MAP_SHAPE(array_type, __u32, value_type, entries)

/* Source index arrays (top level and chunks): written by mmap. */
#define VW_INDEX_SHAPE(entries)                                              \
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_index_chunk, entries); \
	__uint(map_flags, BPF_F_MMAPABLE)

/* The IPv6 source index: one element, top level and nodes, written by mmap. */
#define VW_INDEX6_SHAPE                                            \
	VW_ARRAY_SHAPE(BPF_MAP_TYPE_ARRAY, struct vw_index6, 1); \
	__uint(map_flags, BPF_F_MMAPABLE)

#define VW_HASH_SHAPE(key_type, value_type, entries) \
	VW_MAP_SHAPE(BPF_MAP_TYPE_HASH, key_type, value_type, entries)

#endif /* VAULTWALL_MAP_SHAPES_H */
