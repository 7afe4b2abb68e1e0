/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vaultwall_abi.h - the one contract between the XDP program and userspace.
 *
 * Included by bpf/vaultwall.bpf.c and by every C++ file that touches maps.
 * Rules for this file:
 *   - fixed-width __u8/__u16/__u32/__u64 only; no bool, no enum-typed fields;
 *   - explicit padding, sizes checked with static asserts on both sides;
 *   - addresses as __u8[4] so `bpftool map dump` prints them byte by byte;
 *   - map names at most 15 characters (the kernel's BPF_OBJ_NAME_LEN - 1).
 * Any change to a struct layout, a map definition or a constant's meaning
 * bumps VW_ABI_VERSION, which the loader checks against existing pins.
 */
#ifndef VAULTWALL_ABI_H
#define VAULTWALL_ABI_H

#include <linux/types.h>

#define VW_ABI_VERSION 10

/* ---- Map names ---------------------------------------------------------
 * Each name is a token, used as the map's identifier in the BPF C and, as
 * VW_NAME(token), as the string userspace opens its pin by (the xdp-tools
 * pattern): one spelling on both sides, nothing to drift. */
#define VW_MAP_ACTIVE      vw_active      /* the live slot + both slots' settings */
#define VW_MAP_SYNC        vw_sync        /* grace-period barrier, see below */
#define VW_MAP_RULES_0     vw_rules_0     /* LPM (vnet, src) -> rule id    */
#define VW_MAP_RULES_1     vw_rules_1
#define VW_MAP_TRUSTED_0   vw_trusted_0   /* LPM src -> trusted service id */
#define VW_MAP_TRUSTED_1   vw_trusted_1
#define VW_MAP_RULES6_0    vw_rules6_0    /* LPM (vnet, IPv6 src) -> rule id: VNET subnets, transition perimeter */
#define VW_MAP_RULES6_1    vw_rules6_1
#define VW_MAP_PUBLIC6_0   vw_public6_0   /* LPM IPv6 src -> IP rule and trusted service */
#define VW_MAP_PUBLIC6_1   vw_public6_1
#define VW_MAP_INDEX_0     vw_index_0     /* source index, top: src /16 -> entry */
#define VW_MAP_INDEX_1     vw_index_1
#define VW_MAP_CHUNKS_0    vw_chunks_0    /* source index, 16-entry chunks */
#define VW_MAP_CHUNKS_1    vw_chunks_1
#define VW_MAP_INDEX6_0    vw_index6_0    /* IPv6 source index: top and nodes, one element */
#define VW_MAP_INDEX6_1    vw_index6_1
#define VW_MAP_SEGMENTS_0  vw_segments_0  /* (ifindex, vlan) -> vnet id    */
#define VW_MAP_SEGMENTS_1  vw_segments_1
#define VW_MAP_VLANS_0     vw_vlans_0     /* VLAN id -> vnet id, on any interface */
#define VW_MAP_VLANS_1     vw_vlans_1
#define VW_MAP_ENDPOINTS_0 vw_endpoints_0 /* dst address -> endpoint kind  */
#define VW_MAP_ENDPOINTS_1 vw_endpoints_1
#define VW_MAP_ENDPOINTS6_0 vw_endpoints6_0 /* IPv6 dst address -> endpoint kind */
#define VW_MAP_ENDPOINTS6_1 vw_endpoints6_1
#define VW_MAP_RULE_STATS  vw_rule_stats  /* per-CPU, rule id -> counters  */
#define VW_MAP_CLASS_STATS vw_class_stats /* per-CPU, class -> counters    */
#define VW_MAP_SVC_STATS   vw_svc_stats   /* per-CPU, service id -> counters */
#define VW_MAP_RULE_INFO   vw_rule_info   /* rule id -> kind + canonical text */
#define VW_MAP_SVC_INFO    vw_svc_info    /* service id -> name            */
#define VW_MAP_POLICY_INFO vw_policy_info /* slot -> generation, digest... */
#define VW_MAP_POLICY_DOC  vw_policy_doc  /* slot's normalised document, in chunks */
#define VW_MAP_ABI         vw_abi         /* one struct vw_abi_info        */
#define VW_MAP_EVENTS      vw_events      /* ring buffer of struct vw_event */
#define VW_MAP_EVENT_RATE  vw_event_rate  /* LRU: source -> vw_rate_state  */
#define VW_MAP_EVENT_CPU   vw_event_cpu   /* per-CPU: vw_event_budget      */
#define VW_MAP_EVENT_STATS vw_event_stats /* per-CPU, VW_EVENT_STAT_* -> u64 */
#define VW_MAP_LINKS       vw_links       /* interface name -> vw_link_info */
#define VW_MAP_REJECT_CPU  vw_reject_cpu  /* per-CPU: vw_reject_budget     */
#define VW_MAP_REJECT_STATS vw_reject_stats /* per-CPU, VW_REJECT_STAT_* -> u64 */

#define VW_STRINGIFY_(token) #token
#define VW_NAME(token) VW_STRINGIFY_(token) /* VW_NAME(VW_MAP_ABI) is "vw_abi" */

/* Every map, as X(name token, key size, value size, max entries): what
 * userspace opens (PinnedMaps) and what tests/unit/abi_test.cpp checks the
 * compiled object against, row by row. The BPF declarations in
 * vaultwall.bpf.c stay written out, where grep finds them. */
#define VW_MAPS(X)                                                                         \
	X(VW_MAP_ABI, 4, sizeof(struct vw_abi_info), 1)                                    \
	X(VW_MAP_ACTIVE, 4, sizeof(struct vw_active), 1)                                   \
	X(VW_MAP_SYNC, 4, 4 /* an inner map fd */, 1)                                      \
	X(VW_MAP_POLICY_INFO, 4, sizeof(struct vw_policy_info), VW_SLOTS)                  \
	X(VW_MAP_RULES_0, sizeof(struct vw_rule_key), sizeof(struct vw_rule_value),        \
	  VW_MAX_RULE_PREFIXES)                                                            \
	X(VW_MAP_RULES_1, sizeof(struct vw_rule_key), sizeof(struct vw_rule_value),        \
	  VW_MAX_RULE_PREFIXES)                                                            \
	X(VW_MAP_TRUSTED_0, sizeof(struct vw_trusted_key), sizeof(struct vw_trusted_value), \
	  VW_MAX_TRUSTED_PREFIXES)                                                         \
	X(VW_MAP_TRUSTED_1, sizeof(struct vw_trusted_key), sizeof(struct vw_trusted_value), \
	  VW_MAX_TRUSTED_PREFIXES)                                                         \
	X(VW_MAP_RULES6_0, sizeof(struct vw_rule6_key), sizeof(struct vw_rule_value),      \
	  VW_MAX_RULE6_PREFIXES)                                                           \
	X(VW_MAP_RULES6_1, sizeof(struct vw_rule6_key), sizeof(struct vw_rule_value),      \
	  VW_MAX_RULE6_PREFIXES)                                                           \
	X(VW_MAP_PUBLIC6_0, sizeof(struct vw_public6_key), sizeof(struct vw_public6_value), \
	  VW_MAX_PUBLIC6_PREFIXES)                                                         \
	X(VW_MAP_PUBLIC6_1, sizeof(struct vw_public6_key), sizeof(struct vw_public6_value), \
	  VW_MAX_PUBLIC6_PREFIXES)                                                         \
	X(VW_MAP_INDEX_0, 4, sizeof(struct vw_index_chunk), VW_INDEX_TOP_CHUNKS)           \
	X(VW_MAP_INDEX_1, 4, sizeof(struct vw_index_chunk), VW_INDEX_TOP_CHUNKS)           \
	X(VW_MAP_CHUNKS_0, 4, sizeof(struct vw_index_chunk), VW_INDEX_CHUNKS)              \
	X(VW_MAP_CHUNKS_1, 4, sizeof(struct vw_index_chunk), VW_INDEX_CHUNKS)              \
	X(VW_MAP_INDEX6_0, 4, sizeof(struct vw_index6), 1)                                 \
	X(VW_MAP_INDEX6_1, 4, sizeof(struct vw_index6), 1)                                 \
	X(VW_MAP_SEGMENTS_0, sizeof(struct vw_segment_key), sizeof(struct vw_segment_value), \
	  VW_MAX_SEGMENTS)                                                                 \
	X(VW_MAP_SEGMENTS_1, sizeof(struct vw_segment_key), sizeof(struct vw_segment_value), \
	  VW_MAX_SEGMENTS)                                                                 \
	X(VW_MAP_VLANS_0, 4, sizeof(struct vw_segment_value), VW_VLAN_IDS)                 \
	X(VW_MAP_VLANS_1, 4, sizeof(struct vw_segment_value), VW_VLAN_IDS)                 \
	X(VW_MAP_ENDPOINTS_0, sizeof(struct vw_endpoint_key),                              \
	  sizeof(struct vw_endpoint_value), VW_MAX_ENDPOINTS)                              \
	X(VW_MAP_ENDPOINTS_1, sizeof(struct vw_endpoint_key),                              \
	  sizeof(struct vw_endpoint_value), VW_MAX_ENDPOINTS)                              \
	X(VW_MAP_ENDPOINTS6_0, sizeof(struct vw_endpoint6_key),                            \
	  sizeof(struct vw_endpoint_value), VW_MAX_ENDPOINTS)                              \
	X(VW_MAP_ENDPOINTS6_1, sizeof(struct vw_endpoint6_key),                            \
	  sizeof(struct vw_endpoint_value), VW_MAX_ENDPOINTS)                              \
	X(VW_MAP_RULE_STATS, 4, sizeof(struct vw_counters), VW_MAX_RULES)                  \
	X(VW_MAP_CLASS_STATS, 4, sizeof(struct vw_counters), VW_CLASS_COUNT)               \
	X(VW_MAP_SVC_STATS, 4, sizeof(struct vw_counters), VW_MAX_SERVICES)                \
	X(VW_MAP_RULE_INFO, 4, sizeof(struct vw_rule_info), VW_MAX_RULES)                  \
	X(VW_MAP_SVC_INFO, 4, sizeof(struct vw_service_info), VW_MAX_SERVICES)             \
	X(VW_MAP_POLICY_DOC, 4, sizeof(struct vw_doc_chunk), VW_SLOTS * VW_DOC_CHUNKS)     \
	X(VW_MAP_EVENTS, 0, 0 /* a ring buffer: its size is in bytes */,                   \
	  VW_EVENT_RING_BYTES)                                                             \
	X(VW_MAP_EVENT_RATE, sizeof(struct vw_rate_key), sizeof(struct vw_rate_state),     \
	  VW_EVENT_SOURCES)                                                                \
	X(VW_MAP_EVENT_CPU, 4, sizeof(struct vw_event_budget), 1)                          \
	X(VW_MAP_EVENT_STATS, 4, 8, VW_EVENT_STAT_COUNT)                                   \
	X(VW_MAP_LINKS, sizeof(struct vw_link_key), sizeof(struct vw_link_info), VW_MAX_LINKS) \
	X(VW_MAP_REJECT_CPU, 4, sizeof(struct vw_reject_budget), 1)                        \
	X(VW_MAP_REJECT_STATS, 4, 8, VW_REJECT_STAT_COUNT)

#define VW_PROG_NAME "vaultwall_xdp" /* the XDP program (function name)   */
#define VW_PROG_L3_NAME "vaultwall_xdp_l3" /* the same, for frames that start at the IP header */
#define VW_PIN_DIR_DEFAULT "/sys/fs/bpf/vaultwall"

/* ---- Limits -------------------------------------------------------------- */
#define VW_SLOTS 2
/* Prefixes in one slot's rule trie. LPM tries allocate per entry
 * (BPF_F_NO_PREALLOC), so a large capacity costs nothing until used. */
#define VW_MAX_RULE_PREFIXES (1u << 20)
/* Rule ids: one per IP rule or VNET rule. Counters are preallocated per CPU
 * for every id, so this stays far below the prefix capacity; a VNET rule's
 * several subnet prefixes share its id. */
#define VW_MAX_RULES 16384
#define VW_MAX_TRUSTED_PREFIXES (1u << 18)
#define VW_MAX_SERVICES 256
/* IPv6 sources have tries of their own (a 16-byte address; DESIGN §1.10). */
#define VW_MAX_RULE6_PREFIXES (1u << 16)
#define VW_MAX_TRUSTED6_PREFIXES (1u << 16)
/* vw_public6_N holds both the public IPv6 rule prefixes and the trusted
 * ones (at most one entry per distinct prefix). */
#define VW_MAX_PUBLIC6_PREFIXES (VW_MAX_RULE6_PREFIXES + VW_MAX_TRUSTED6_PREFIXES)
/* The public source index (below): one top entry per /16, and a budget of
 * 64-byte chunks per slot. Both arrays are preallocated. VW_INDEX_CHUNKS is
 * the budget of the compiled object (4 MiB per slot); `vaultwall-loader load
 * --index-chunks N` creates vw_chunks_N with N entries instead, and the
 * pinned map's max_entries is the size every later load reuses. */
#define VW_INDEX_TOP_BITS 16
#define VW_INDEX_TOP_ENTRIES (1u << VW_INDEX_TOP_BITS)
#define VW_INDEX_STRIDE 4
#define VW_INDEX_CHUNK_ENTRIES (1u << VW_INDEX_STRIDE)
#define VW_INDEX_CHUNKS 65536
#define VW_INDEX_CHUNKS_MIN 16
#define VW_INDEX_CHUNKS_MAX (1u << 24) /* 1 GiB per slot */
/* The top level is held as chunks too (an array element is 8-byte aligned,
 * so 4-byte elements would waste half; a 64-byte chunk is one cache line):
 * top entry i is vw_index_N[i / 16].entry[i % 16]. */
#define VW_INDEX_TOP_CHUNKS (VW_INDEX_TOP_ENTRIES / VW_INDEX_CHUNK_ENTRIES)
#define VW_MAX_SEGMENTS 4096
#define VW_VLAN_IDS 4096 /* 12-bit VLAN ids: vw_vlans_N has an entry for each */
#define VW_MAX_ENDPOINTS 4096
#define VW_MAX_PORTS 16
#define VW_RULE_TEXT_LEN 320 /* fits a full subnet resource id */
#define VW_SERVICE_NAME_LEN 64
#define VW_PROFILE_LEN 16
#define VW_DIGEST_LEN 32 /* SHA-256 of the compiled policy */
/* The normalised rule document of each slot is kept beside its maps, so it
 * flips with them and `vaultwallctl show` needs no side file. */
#define VW_DOC_CHUNK_SIZE 4088
#define VW_DOC_CHUNKS 256 /* per slot: up to ~1 MiB of JSON */

/* Deny and audit events (struct vw_event) and their rate limits. Events go
 * through a ring buffer; a flood must not drown the log nor cost the CPU, so
 * two limits apply, cheapest first:
 *   - per CPU, at most VW_EVENT_CPU_BUDGET events per kernel tick (jiffy;
 *     250 Hz here: 4000 events/s per CPU). Checked with the inlined
 *     jiffies64, so a flood from random sources costs almost nothing.
 *   - per source address, a token bucket (GCRA): a burst of
 *     VW_EVENT_SOURCE_BURST events, then one every
 *     VW_EVENT_SOURCE_INTERVAL_NS (CLOCK_MONOTONIC, read on the deny path
 *     only; a source already suppressed in this tick skips the clock).
 *     Sources live in an LRU hash of VW_EVENT_SOURCES entries; an evicted
 *     source starts with a full burst.
 * Every deny or audit packet that produces no event is counted in
 * vw_event_stats[VW_EVENT_STAT_SUPPRESSED] (or _LOST when the ring buffer is
 * full), so emitted + suppressed + lost = logging packets, exactly. */
#define VW_EVENT_RING_BYTES (256u * 1024u) /* ~3600 events */
#define VW_EVENT_SOURCES 65536
#define VW_EVENT_SOURCE_BURST 5
#define VW_EVENT_SOURCE_INTERVAL_NS 1000000000ull /* then 1 event/s per source */
#define VW_EVENT_CPU_BUDGET 16

/* vw_event_stats indexes */
#define VW_EVENT_STAT_EMITTED 0    /* events written to the ring buffer     */
#define VW_EVENT_STAT_SUPPRESSED 1 /* by a rate limit (source or CPU budget) */
#define VW_EVENT_STAT_LOST 2       /* ring buffer full (reader too slow)     */
#define VW_EVENT_STAT_COUNT 3

/* Replies to denied packets (vaultwall.denyAction "reject", DESIGN §1.10).
 * Under reject, a denied TCP segment is answered with a RST built in place
 * and sent back (XDP_TX). A flood of spoofed segments must not turn the
 * host into a reflector, so replies share a per-CPU budget of
 * VW_REJECT_CPU_BUDGET per kernel tick (250 Hz here: 2000 replies/s per
 * CPU); past it the packet is dropped. Every denied packet of a reject
 * policy in enforce mode is counted once in vw_reject_stats: SENT when
 * answered, SUPPRESSED when dropped instead (budget spent, a RST, not
 * TCP, a later fragment, broadcast or multicast, a frame without an
 * Ethernet header), so sent + suppressed = denied packets, exactly. */
#define VW_REJECT_CPU_BUDGET 8
#define VW_REJECT_TTL 64 /* TTL / hop limit of a reply */

/* vw_reject_stats indexes */
#define VW_REJECT_STAT_SENT 0       /* RSTs sent back (XDP_TX)           */
#define VW_REJECT_STAT_SUPPRESSED 1 /* denied under reject, dropped instead */
#define VW_REJECT_STAT_COUNT 2

/* Rule id 0 is never a rule: it means "no rule" in events and verdicts. */
#define VW_RULE_NONE 0
/* Service id 0 is never a service. */
#define VW_SERVICE_NONE 0
/* Virtual network 0 is the public internet (traffic from no known segment). */
#define VW_VNET_PUBLIC 0
/* Not a virtual network: the key space of vw_rules_N that holds a network
 * security perimeter's address rules while it is in Transition mode, kept
 * apart from the vault's own rules (DESIGN §1.2). Under Enforced they are
 * the public rules themselves (vnet 0), and the vault's are not written. */
#define VW_VNET_PERIMETER 0xffffffffu

/* ---- Settings values ------------------------------------------------------ */
/* Zero values are Azure's defaults for a vault with no firewall: allow. */
#define VW_ACTION_ALLOW 0
#define VW_ACTION_DENY 1

#define VW_BYPASS_NONE 0
#define VW_BYPASS_AZURE_SERVICES 1

#define VW_PUBLIC_ACCESS_ENABLED 0
#define VW_PUBLIC_ACCESS_DISABLED 1

#define VW_MODE_ENFORCE 0
#define VW_MODE_AUDIT 1 /* would-be denies pass, counted and logged */

/* struct vw_settings.deny_action: what a policy deny does to the packet in
 * enforce mode (audit mode passes it whatever this says). */
#define VW_DENY_DROP 0   /* dropped: the client waits for its timeout */
#define VW_DENY_REJECT 1 /* TCP answered with a RST, the rest dropped */

/* struct vw_settings.flags */
#define VW_SETTINGS_ALL_DESTINATIONS 0x1 /* no data-plane address listed:
					    every destination is protected */
#define VW_SETTINGS_HAS_SEGMENTS 0x2     /* vw_segments_N is not empty  */
#define VW_SETTINGS_HAS_ENDPOINTS 0x4    /* vw_endpoints_N is not empty */
#define VW_SETTINGS_TCP_PORTS 0x8        /* some protected port is TCP  */
#define VW_SETTINGS_UDP_PORTS 0x10       /* some protected port is UDP  */
#define VW_SETTINGS_LOCAL_DESTINATIONS 0x20 /* dataPlane.listen "any": an unlisted
					       destination is protected when a
					       local wildcard socket would get
					       it (weak host, DESIGN §1.1) */
#define VW_SETTINGS_PERIMETER_ENFORCED 0x40 /* the rules under vnet 0 are a
					       perimeter's: a match is
					       PERIMETER_RULE, no match
					       PERIMETER_DENY */
#define VW_SETTINGS_PERIMETER_TRANSITION 0x80 /* after the vault's decision, the
					       perimeter's rules (under
					       VW_VNET_PERIMETER) are looked
					       up: they admit too, and what
					       only the vault admits is
					       PERIMETER_WOULD_DENY */
#define VW_SETTINGS_HAS_RULES6 0x100     /* vw_rules6_N is not empty    */
#define VW_SETTINGS_HAS_PUBLIC6 0x2000   /* vw_public6_N is not empty   */
#define VW_SETTINGS_UNTAGGED_SEGMENTS 0x200  /* a segment is an interface's
					       untagged traffic (vlan 0)  */
#define VW_SETTINGS_IFACE_VLAN_SEGMENTS 0x400 /* a segment is a VLAN on one
					       interface (ifindex and vlan) */
#define VW_SETTINGS_HAS_ENDPOINTS6 0x800 /* vw_endpoints6_N is not empty */
/* HAS_*, *_SEGMENTS, *_PORTS and port_filter are set by the slot writer from what it
 * writes, so they always describe the slot: the program can rule most
 * packets out with one test instead of a walk of the port list. */
#define VW_SETTINGS_VLAN_SEGMENTS 0x1000 /* a segment is a VLAN on any
					    interface (in vw_vlans_N) */

/* ---- Tunnels (struct vw_settings.tunnels) ----------------------------------
 * Encapsulations the kernel opens by itself and delivers what they carry as
 * if it had arrived on the tunnel's own device, which this program may not
 * see. A packet of one of them to a protected destination is data plane,
 * decided by its outer source, unless the operator declared the tunnel
 * (vaultwall.dataPlane.tunnels: its decapsulating device carries the filter
 * itself). One bit per tunnel, set = data plane (not declared); 0 in a
 * fresh slot, like everything else with no policy. The IP protocol or UDP
 * port of each is the one the kernel decapsulates by default. */
#define VW_TUNNEL_IPIP (1u << 0)        /* IP protocol 4: IPv4 in IP            */
#define VW_TUNNEL_IPV6_IN_IP (1u << 1)  /* 41: IPv6 in IP (6in4, sit; 6in6)     */
#define VW_TUNNEL_GRE (1u << 2)         /* 47: GRE, ERSPAN                      */
#define VW_TUNNEL_ESP (1u << 3)         /* 50: IPsec ESP (transport or tunnel)  */
#define VW_TUNNEL_AH (1u << 4)          /* 51: IPsec AH                         */
#define VW_TUNNEL_L2TP (1u << 5)        /* 115: L2TPv3 over IP                  */
#define VW_TUNNEL_MPLS_IN_IP (1u << 6)  /* 137: MPLS in IP                      */
#define VW_TUNNEL_VXLAN (1u << 7)       /* UDP 4789                             */
#define VW_TUNNEL_VXLAN_LINUX (1u << 8) /* UDP 8472: Linux's pre-IANA VXLAN port */
#define VW_TUNNEL_VXLAN_GPE (1u << 9)   /* UDP 4790                             */
#define VW_TUNNEL_GENEVE (1u << 10)     /* UDP 6081                             */
#define VW_TUNNEL_WIREGUARD (1u << 11)  /* UDP 51820 (its default listen port)  */
#define VW_TUNNEL_ESP_IN_UDP (1u << 12) /* UDP 4500: IPsec NAT traversal        */
#define VW_TUNNEL_L2TP_UDP (1u << 13)   /* UDP 1701: L2TP over UDP              */
/* Added after the others, within ABI 10: a slot applied before it has it
 * clear (load re-applies the stored policy, which sets it), and a program
 * loaded before it does not decode it (vw_abi_info.tunnels_decoded says so). */
#define VW_TUNNEL_IPCOMP (1u << 14)     /* 108: IPComp (xfrm), carries TCP/443  */
#define VW_TUNNELS_BEFORE_IPCOMP 0x3fffu /* what ABI 10's first programs decode */
#define VW_TUNNELS_IP 0x407fu           /* the IP-protocol tunnels above        */
#define VW_TUNNELS_UDP 0x3f80u          /* the UDP-port tunnels above           */
#define VW_TUNNELS_ALL (VW_TUNNELS_IP | VW_TUNNELS_UDP)

#define VW_PROTO_IPIP 4
#define VW_PROTO_IPV6_IN_IP 41
#define VW_PROTO_GRE 47
#define VW_PROTO_ESP 50
#define VW_PROTO_AH 51
#define VW_PROTO_IPCOMP 108
#define VW_PROTO_L2TP 115
#define VW_PROTO_MPLS_IN_IP 137
#define VW_PORT_VXLAN 4789
#define VW_PORT_VXLAN_LINUX 8472
#define VW_PORT_VXLAN_GPE 4790
#define VW_PORT_GENEVE 6081
#define VW_PORT_WIREGUARD 51820
#define VW_PORT_ESP_IN_UDP 4500
#define VW_PORT_L2TP_UDP 1701

/* struct vw_endpoint_value.kind */
#define VW_ENDPOINT_PUBLIC 1  /* a protected data-plane address           */
#define VW_ENDPOINT_PRIVATE 2 /* a private endpoint: allowed, not filtered */

/* struct vw_rule_info.kind */
#define VW_RULE_KIND_UNUSED 0
#define VW_RULE_KIND_IP 1
#define VW_RULE_KIND_VNET 2
#define VW_RULE_KIND_PERIMETER 3 /* a perimeter inbound access rule's prefixes */

/* ---- Verdict classes -------------------------------------------------------
 * Every packet the program sees is counted in exactly one class, so the
 * per-class counters sum to the packets seen. The class decides the action
 * (`drops`); the policy denies (`logs`) write a deny event and, in audit
 * mode, pass as VW_CLASS_AUDIT_DENY instead. VW_CLASS_MALFORMED is not a
 * policy decision: it drops in both modes (the kernel's own stack would
 * drop such packets anyway) and logs nothing (its source may not even be
 * in the packet; its counter tells the story). VW_CLASS_PERIMETER_WOULD_DENY
 * logs but passes: a perimeter in Transition admits what the vault's own
 * rules admit and records what it would deny once enforced. A policy deny
 * (drops and logs) is what audit mode passes as VW_CLASS_AUDIT_DENY.
 * One row per class, X(token, value, name, drops, logs); the constants,
 * the names (ctl, tests) and the drop and log predicates (the program and
 * the reference classifier) are all generated from it. */
#define VW_CLASSES(X)                                                                     \
	X(NOT_IP, 0, "not_ip", 0, 0)                      /* ARP, LLDP, ...: passed untouched */ \
	X(UNPROTECTED, 1, "unprotected", 0, 0)            /* IP, not to a protected port/address */ \
	X(PRIVATE_ENDPOINT, 2, "private_endpoint", 0, 0)  /* allow: destination is a private EP */ \
	X(IP_RULE, 3, "ip_rule", 0, 0)                    /* allow: an IP rule matched */ \
	X(VNET_RULE, 4, "vnet_rule", 0, 0)                /* allow: a virtual-network rule matched */ \
	X(TRUSTED, 5, "trusted_service", 0, 0)            /* allow: trusted-service prefix */ \
	X(DEFAULT_ALLOW, 6, "default_allow", 0, 0)        /* allow: defaultAction Allow */ \
	X(DEFAULT_DENY, 7, "default_deny", 1, 1)          /* drop: defaultAction Deny */ \
	X(PUBLIC_DISABLED, 8, "public_disabled", 1, 1)    /* drop: publicNetworkAccess Disabled */ \
	X(AUDIT_DENY, 9, "audit_would_deny", 0, 0)        /* pass: audit mode, would be denied */ \
	X(IPV6_ALLOW, 10, "ipv6_allow", 0, 0)             /* allow: IPv6, no rule or service admits it, default Allow */ \
	X(IPV6_DENY, 11, "ipv6_deny", 1, 1)               /* drop: IPv6, no rule or service admits it (default Deny, public access Disabled) */ \
	X(FRAGMENT_ALLOW, 12, "fragment_allow", 0, 0)     /* allow: non-first fragment, source allowed */ \
	X(FRAGMENT_DENY, 13, "fragment_deny", 1, 1)       /* drop: non-first fragment, source denied */ \
	X(MALFORMED, 14, "malformed", 1, 0)               /* drop: cannot prove it is outside the data plane */ \
	X(PERIMETER_RULE, 15, "perimeter_rule", 0, 0)     /* allow: a perimeter inbound access rule matched */ \
	X(PERIMETER_DENY, 16, "perimeter_deny", 1, 1)     /* drop: perimeter enforced, no access rule admits */ \
	X(PERIMETER_WOULD_DENY, 17, "perimeter_would_deny", 0, 1) /* pass, logged: only the vault's rules admit */

#define VW_CLASS_CONSTANT_(token, value, name, drops, logs) VW_CLASS_##token = value,
#define VW_CLASS_ONE_(token, value, name, drops, logs) +1
#define VW_CLASS_BIT_(token, value, name, drops, logs) | (1u << (value))
#define VW_CLASS_DROP_BIT_(token, value, name, drops, logs) | ((drops##u) << (value))
#define VW_CLASS_LOG_BIT_(token, value, name, drops, logs) | ((logs##u) << (value))
enum { VW_CLASSES(VW_CLASS_CONSTANT_) VW_CLASS_COUNT = 0 VW_CLASSES(VW_CLASS_ONE_) };
#define VW_CLASSES_DROPPING (0u VW_CLASSES(VW_CLASS_DROP_BIT_))
#define VW_CLASSES_LOGGING (0u VW_CLASSES(VW_CLASS_LOG_BIT_))
/* For a class below VW_CLASS_COUNT: 1 when it drops / when it is a policy deny. */
#define VW_CLASS_DROPS(class) ((VW_CLASSES_DROPPING >> (class)) & 1u)
#define VW_CLASS_LOGS(class) ((VW_CLASSES_LOGGING >> (class)) & 1u)
/* A policy deny: what audit mode passes as VW_CLASS_AUDIT_DENY. */
#define VW_CLASS_POLICY_DENIES(class) (VW_CLASS_DROPS(class) & VW_CLASS_LOGS(class))

/* ---- Map keys and values -------------------------------------------------- */

/* vw_settings: one slot's settings, kept in vw_active.settings[slot]. */
struct vw_port {
	__u16 port;  /* host byte order */
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

struct vw_settings {
	__u8 default_action; /* VW_ACTION_*        */
	__u8 bypass;         /* VW_BYPASS_*        */
	__u8 public_access;  /* VW_PUBLIC_ACCESS_* */
	__u8 mode;           /* VW_MODE_*          */
	__u32 flags;         /* VW_SETTINGS_*      */
	__u32 port_count;    /* used entries of ports[] */
	__u32 port_filter;   /* bit (port % 32) set for every protected port */
	__u32 tunnels;       /* VW_TUNNEL_* that are data plane (not declared) */
	__u8 deny_action;    /* VW_DENY_*          */
	__u8 pad[3];
	struct vw_port ports[VW_MAX_PORTS];
	__u64 generation;    /* copy of vw_policy_info's, for the datapath's view */
};

/* vw_active[0]: which slot is live, and the settings of both slots, so a
 * packet gets both with one lookup. The slot writer rewrites settings[idle]
 * (the live slot's bytes are written back unchanged) and then flips `slot`
 * on its own: 0 and 1 differ in one byte, so no packet can read a torn
 * value, and a packet reads `slot` once. */
struct vw_active {
	__u32 slot;
	__u32 pad;
	struct vw_settings settings[VW_SLOTS];
};

/* vw_rules_N: LPM trie. prefixlen counts the 32 bits of vnet_id (always
 * matched exactly) plus the address bits: an IP rule 203.0.113.0/24 is
 * {prefixlen 56, vnet_id 0, 203.0.113.0}. Because prefixlen is never below
 * 32, all four vnet_id bytes are always compared, so host order is fine. */
#define VW_RULE_KEY_VNET_BITS 32
struct vw_rule_key {
	__u32 prefixlen;
	__u32 vnet_id; /* host byte order */
	__u8 addr[4];
};

struct vw_rule_value {
	__u32 rule_id;
};

/* vw_rules6_N: the IPv6 counterpart of vw_rules_N, the same layout with
 * a 16-byte address: prefixlen counts the 32 vnet bits plus the address
 * bits (fd00:1::/64 of a subnet of network 3 is {96, 3, fd00:1::}). It
 * holds what is not public: VNET subnets under their network and a
 * transition perimeter's prefixes under VW_VNET_PERIMETER. The public
 * ones (IP rules, an enforced perimeter's) are in vw_public6_N. */
struct vw_rule6_key {
	__u32 prefixlen;
	__u32 vnet_id; /* host byte order */
	__u8 addr[16];
};

/* vw_public6_N: one LPM trie for a public IPv6 source, so that its
 * decision costs one lookup: every public IPv6 rule prefix (vnet 0 of the
 * rule keyspace) and every trusted IPv6 prefix, one entry per distinct
 * prefix. The slot writer fills each entry's value with the longest rule
 * prefix and the longest trusted prefix that contain it (the prefixes
 * holding one address nest, so the longest entry matching a source gives
 * its longest rule and longest service exactly), and records the length
 * of each so the originals can be read back: an entry is the rule's own
 * when rule_prefixlen == prefixlen, the service's own when
 * trusted_prefixlen == prefixlen. */
struct vw_public6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct vw_public6_value {
	__u32 rule_id;         /* VW_RULE_NONE: no public rule holds it */
	__u32 service_id;      /* VW_SERVICE_NONE: no trusted prefix holds it */
	__u8 rule_prefixlen;   /* the length of the rule's prefix */
	__u8 trusted_prefixlen; /* the length of the service's prefix */
	__u8 pad[2];
};

/* vw_trusted_N: LPM trie of trusted-service prefixes. */
struct vw_trusted_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct vw_trusted_value {
	__u32 service_id;
};

/* ---- Public source index (vw_index_N, vw_chunks_N) -------------------------
 * The public keyspace of vw_rules_N (the IP rules) together with
 * vw_trusted_N, compiled by the slot writer into a multibit trie held in
 * arrays (DIR-16-4-4-4-4, the layout of DPDK's rte_lpm with 4-bit strides):
 * top entry source >> 16 (in vw_index_N), then at most four vw_chunks_N chunks, each
 * indexed by the next 4 bits of the source. The verifier inlines array
 * lookups, so a source is resolved in 1 to 5 loads instead of a walk of
 * ~15 trie nodes; a chunk is one cache line. An entry is one of:
 *   - a result, VW_INDEX_RESULT(service id, rule id): the longest IP rule
 *     and the longest trusted prefix that hold every address under the
 *     entry (VW_RULE_NONE / VW_SERVICE_NONE when there is none);
 *   - VW_INDEX_CHUNK | n: go on in vw_chunks_N[n] with the next 4 bits;
 *   - VW_INDEX_LIST | n: vw_chunks_N[n] is a list node instead: a block
 *     holding at most VW_INDEX_LIST_PREFIXES longer prefixes lists them,
 *     longest first, each with the result of an address it holds; an
 *     address none holds gets the node's default. One cache line for a
 *     sparse block (an isolated /32 would otherwise take four chunks);
 *   - VW_INDEX_TRIE: this /16 did not fit in the chunk budget; look the
 *     source up in the tries.
 * The tries stay the readable truth (bpftool map dump); the index is
 * derived from them and checked by verify. Each virtual network has an
 * index of its own in the same chunk array, rooted in its segments' values
 * (struct vw_segment_value.index). */
#define VW_INDEX_KIND 0xc0000000u
#define VW_INDEX_TRIE 0x40000000u
#define VW_INDEX_CHUNK 0x80000000u
#define VW_INDEX_LIST 0xc0000000u
#define VW_INDEX_RESULT(service_id, rule_id) (((__u32)(service_id) << 16) | (__u32)(rule_id))
#define VW_INDEX_RULE(entry) ((entry) & 0xffffu)
#define VW_INDEX_SERVICE(entry) ((entry) >> 16)

/* A list node, in the chunk's 16 words: [0] the default result, then
 * VW_INDEX_LIST_PREFIXES triples {address, mask, result} (host order),
 * longest prefix first; an unused triple never matches (mask 0, address
 * ~0). */
#define VW_INDEX_LIST_PREFIXES 5
#define VW_INDEX_LIST_DEFAULT 0
#define VW_INDEX_LIST_ADDR(i) (1 + 3 * (i))
#define VW_INDEX_LIST_MASK(i) (2 + 3 * (i))
#define VW_INDEX_LIST_RESULT(i) (3 + 3 * (i))

struct vw_index_chunk {
	__u32 entry[VW_INDEX_CHUNK_ENTRIES];
};

/* ---- IPv6 public source index (vw_index6_N) ----------------------------------
 * vw_public6_N compiled the same way, for a 128-bit source read as two
 * 64-bit halves (host order), into the one element of vw_index6_N (struct
 * vw_index6): top entry top[source >> 112], then wide nodes indexed by the
 * next 8 bits of the upper half down to /64 (or list nodes), then a chain
 * of up to VW_INDEX6_LOW_LISTS list nodes on the lower half: 1 to 11 loads
 * where the trie walks up to ~40 nodes (every load in the walk depends on
 * the one before, so the stride is 8 bits, not 4). The walk looks the
 * element up once and reads each node at an offset in it: no lookup, key
 * or null test per level. Nodes are VW_INDEX6_NODES 64-byte chunks of
 * their own (not the slot's IPv4 chunk budget); a wide node is
 * VW_INDEX6_NODE_CHUNKS consecutive ones (256 entries). A pointer entry
 * holds its node's byte offset in node[] (VW_INDEX6_NODE), so that from
 * one load to the next the walk adds and masks, nothing more: entry i of
 * a wide node at offset o is the word at byte o + 4 * i. The nodes come
 * first in the element and are a power of two long, so the mask is the
 * verifier's bound (the writer never points past the nodes it wrote, and
 * verify compares them). Entries as in the IPv4 index, except
 * that a pointer to a wide node carries the node's depth,
 * VW_INDEX_CHUNK | VW_INDEX6_DEPTH(d) | o: the node at offset o is
 * indexed by bits d to d + 8 of the source and read by the walk's step for
 * depth d only, so the walk may skip levels through a list node (the steps
 * between pass its pointer on). List nodes hold 64-bit prefixes:
 *   - VW_INDEX_LIST | o, above /64: the node at o lists at most
 *     VW_INDEX6_LIST_PREFIXES prefixes of the upper half, longest first; a
 *     listed /64 holding longer prefixes has VW_INDEX_LIST | VW_INDEX6_LOW | o'
 *     as its result; a block whose prefixes fall into a few clusters far
 *     apart is a list of the clusters' shared prefixes, each result the
 *     cluster's block as deep as the prefix (path compression:
 *     2603:1000::/24 to the node of 2603:1000:4::/48 in one list instead
 *     of three nodes);
 *   - VW_INDEX_LIST | VW_INDEX6_LOW | o, at /64: the node at o lists the
 *     prefixes longer than /64 of that /64, on the lower half, longest
 *     first; when they are more than a node holds, the node's default is
 *     the next node of the chain (VW_INDEX_LIST | VW_INDEX6_LOW | o'), at
 *     most VW_INDEX6_LOW_LISTS nodes (Azure's IPv6 service tags put up to
 *     nine /117-/126 prefixes in one /64);
 *   - VW_INDEX_TRIE: the /16 did not fit in the nodes left, or the /64
 *     holds more longer prefixes than a chain lists: the trie decides
 *     (vw_public6_N).
 * A 64-bit list node, in the chunk's 16 words: [0] the default result, then
 * VW_INDEX6_LIST_PREFIXES quintuples {address high word, address low word,
 * mask high word, mask low word, result}; an unused one never matches
 * (mask 0, address ~0). */
#define VW_INDEX6_STRIDE 8
#define VW_INDEX6_NODE_ENTRIES (1u << VW_INDEX6_STRIDE)
#define VW_INDEX6_NODE_CHUNKS (VW_INDEX6_NODE_ENTRIES / VW_INDEX_CHUNK_ENTRIES)
#define VW_INDEX6_LOW 0x20000000u
#define VW_INDEX6_NODE 0x001fffc0u /* a pointer entry's node: its byte offset in node[] */
#define VW_INDEX6_NODE_WORD 0x001ffffcu /* a word's byte offset in node[] */
#define VW_INDEX6_DEPTH(d) ((__u32)(d) / 8 << 24) /* a wide node's depth, 16..56 */
#define VW_INDEX6_DEPTH_MASK 0x07000000u
#define VW_INDEX6_LIST_PREFIXES 3
#define VW_INDEX6_LOW_LISTS 4 /* a chain lists up to 12 prefixes of one /64 */
#define VW_INDEX6_LIST_ADDR_HI(i) (1 + 5 * (i))
#define VW_INDEX6_LIST_ADDR_LO(i) (2 + 5 * (i))
#define VW_INDEX6_LIST_MASK_HI(i) (3 + 5 * (i))
#define VW_INDEX6_LIST_MASK_LO(i) (4 + 5 * (i))
#define VW_INDEX6_LIST_RESULT(i) (5 + 5 * (i))
#define VW_INDEX6_NODES 32768 /* 2 MiB of nodes per slot; a power of two (the walk masks) */

struct vw_index6 {
	struct vw_index_chunk node[VW_INDEX6_NODES]; /* first: offsets into it are masked */
	__u32 top[VW_INDEX_TOP_ENTRIES];
};

/* vw_segments_N: where a packet came from -> its virtual network: an
 * interface's untagged traffic {ifindex, 0} or a VLAN on one interface
 * {ifindex, vlan}. The program looks up {ifindex, vlan} and then, for a
 * tagged packet, vw_vlans_N[vlan] (a VLAN on any interface): the
 * interface's own segment takes precedence. vlan 0 means untagged; with two
 * tags the inner one is used, unless its VID is 0 (a priority tag: then the
 * outer one). */
struct vw_segment_key {
	__u32 ifindex;
	__u16 vlan;
	__u16 pad;
};

struct vw_segment_value {
	__u32 vnet_id;
	/* The root of the virtual network's own source index, an entry as in
	 * the public one (below) but walked from /0 in 4-bit steps through
	 * vw_chunks_N: a result (service 0, the VNET rule holding the source),
	 * a chunk or list node, or VW_INDEX_TRIE (the chunk budget was spent:
	 * look (vnet_id, source) up in vw_rules_N). Written by the slot writer
	 * from the vnet's rules, like the rest of the index. */
	__u32 index;
};

/* vw_vlans_N[vlan]: the segments that are a VLAN on any interface, an
 * array indexed by VID (one inlined load, where a hash lookup costs ~15 ns),
 * holding the value such a segment would have in vw_segments_N. An entry
 * whose vnet_id is VW_VNET_PUBLIC (0, every entry no segment uses) is no
 * segment; entry 0 is never one (VID 0 is untagged). The slot writer
 * writes all VW_VLAN_IDS entries of a slot, so nothing of the policy it
 * replaces is left. */

/* vw_endpoints_N: destination IPv4 -> kind. A private endpoint admits
 * traffic only from a virtual network (Azure reaches one only through its
 * VNet): vnet_id names the one it is bound to, 0 = any of them. From the
 * internet it gets the decision of any protected address. */
struct vw_endpoint_key {
	__u8 addr[4];
};

/* vw_endpoints6_N: an IPv6 destination, the same value. Every IPv6
 * destination is protected whatever is listed (DESIGN §1.11); the map
 * makes IPv6 private endpoints step 1 of the IPv6 decision. */
struct vw_endpoint6_key {
	__u8 addr[16];
};

struct vw_endpoint_value {
	__u32 kind;    /* VW_ENDPOINT_* */
	__u32 vnet_id; /* private endpoints: its virtual network, 0 = any */
};

/* Per-CPU counters: vw_rule_stats[rule id], vw_class_stats[class],
 * vw_svc_stats[service id]. last_hit_jiffies is the kernel's jiffies64
 * (inlined by the verifier: free on the packet path, where a clock helper
 * call costs ~20 ns); userspace converts it with /proc/timer_list. */
struct vw_counters {
	__u64 packets;
	__u64 bytes;
	__u64 last_hit_jiffies;
};

/* vw_rule_info.slots / vw_service_info.slots: bit VW_SLOT_BIT(s) is set while
 * slot s's policy uses the id. An apply sets the idle slot's bit before its
 * flip, so readers (stats, metrics) list only ids with the live slot's bit:
 * ids written for an apply that failed or was killed before its flip are
 * never shown as enforced. */
#define VW_SLOT_BIT(slot) (1u << ((slot)&1))

/* vw_rule_info[rule id]: what a rule is, so bpftool and a fresh vaultwallctl
 * can name it without any side file. */
struct vw_rule_info {
	__u16 kind;    /* VW_RULE_KIND_* */
	__u16 slots;   /* VW_SLOT_BIT of each slot whose policy has the rule */
	__u32 vnet_id; /* host byte order; 0 for IP rules */
	char text[VW_RULE_TEXT_LEN]; /* canonical CIDR or lower-cased subnet id */
};

/* vw_svc_info[service id] */
struct vw_service_info {
	__u32 slots; /* VW_SLOT_BIT of each slot whose policy trusts the service */
	__u32 pad;
	char name[VW_SERVICE_NAME_LEN];
};

/* vw_policy_info[slot]: what is in a slot. Two digests: `digest` of all
 * that was compiled (the policy and this host's facts), `policy_digest`
 * of the policy alone with its trusted prefixes, equal on every host of a
 * vault (DESIGN §1.9). */
struct vw_policy_info {
	__u64 generation;       /* 0 = never written */
	__u64 applied_at_unix_ns;
	__u8 digest[VW_DIGEST_LEN];
	char profile[VW_PROFILE_LEN];
	__u32 rule_prefixes;    /* rule prefixes (IPv4 and IPv6) the slot holds */
	__u32 trusted_prefixes; /* trusted prefixes (IPv4 and IPv6) the slot holds */
	__u8 policy_digest[VW_DIGEST_LEN];
	/* The slot's source index: chunks used of the map's capacity, the /16s
	 * left to the tries because the capacity was spent, and the chunks the
	 * whole policy needs (the --index-chunks that would index it all). */
	__u32 index_chunks;
	__u32 index_capacity;
	__u32 index_trie_regions;
	__u32 index_chunks_needed;
	/* The IPv6 index (vw_index6_N): nodes used of VW_INDEX6_NODES, and the
	 * IPv6 /16s of index_trie_regions (past the nodes: no loader option
	 * adds any). */
	__u32 index6_nodes;
	__u32 index6_trie_regions;
};

/* vw_policy_doc[slot * VW_DOC_CHUNKS + i]: chunk i of the slot's document;
 * the document ends at the first chunk with len < VW_DOC_CHUNK_SIZE. */
struct vw_doc_chunk {
	__u32 len;
	__u32 pad;
	char data[VW_DOC_CHUNK_SIZE];
};

/* vw_abi[0]: written once by the loader that created the pins. */
struct vw_abi_info {
	__u32 abi_version;
	/* The VW_TUNNEL_* kinds the loaded program decodes, written with the
	 * version by each load. A kind added within an ABI version (IPComp) is
	 * asked for by a newer vaultwallctl before an older program is replaced:
	 * userspace reports such a slot as not enforced. 0: written by a loader
	 * from before this field, whose program decodes VW_TUNNELS_BEFORE_IPCOMP. */
	__u32 tunnels_decoded;
};

/* vw_events: one deny or audit (would-deny) decision. Addresses are 16
 * bytes so IPv6 fits; an IPv4 address is stored IPv4-mapped
 * (::ffff:a.b.c.d), the same form as the rate limiter's key.
 * Which packets log: the policy denies (VW_CLASS_DEFAULT_DENY,
 * _PUBLIC_DISABLED, _IPV6_DENY, _FRAGMENT_DENY, _PERIMETER_DENY), in both
 * modes, and a perimeter's would-be denies (_PERIMETER_WOULD_DENY, passed;
 * rule_id is then the vault's rule that admitted the packet). Not
 * VW_CLASS_MALFORMED: it is no policy decision, and its source address may
 * not even be in the packet; its class counter tells the story. */
#define VW_EVENT_MODE_ENFORCE VW_MODE_ENFORCE /* dropped               */
#define VW_EVENT_MODE_AUDIT VW_MODE_AUDIT     /* passed: would be denied */
struct vw_event {
	__u64 time_ns;        /* CLOCK_MONOTONIC (bpf_ktime_get_ns)        */
	__u64 generation;     /* policy generation that decided            */
	__u8 saddr[16];       /* IPv4-mapped for IPv4                      */
	__u8 daddr[16];
	__u32 ifindex;        /* ingress interface                          */
	__u32 vnet_id;        /* VW_VNET_PUBLIC or the segment's vnet        */
	__u32 verdict_class;  /* the policy's verdict: the would-be class in
				 audit mode (never VW_CLASS_AUDIT_DENY)   */
	__u32 rule_id;        /* a rule that matched the source but did not
				 admit it (publicNetworkAccess Disabled
				 overrides rules); VW_RULE_NONE otherwise  */
	__u32 suppressed;     /* events this source had suppressed since its
				 previous event                            */
	__u32 packet_bytes;
	__u16 sport;          /* host order; 0 when unknown (fragment)     */
	__u16 dport;
	__u16 vlan;           /* 0 = untagged                               */
	__u8 proto;           /* IPPROTO_*; 0 when unknown                  */
	__u8 ip_version;      /* 4 or 6                                     */
	__u8 mode;            /* VW_EVENT_MODE_*: what happened to the packet */
	__u8 tcp_flags;       /* TCP byte 13 (FIN 0x01, SYN 0x02, RST 0x04,
				 ACK 0x10); 0 for other protocols          */
	__u8 pad[6];
};

/* vw_event_rate: per source, the theoretical arrival time of the next
 * event (GCRA). */
struct vw_rate_key {
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
};

struct vw_rate_state {
	__u64 next_ns;            /* CLOCK_MONOTONIC */
	__u64 suppressed_jiffies; /* tick of the last suppression: within that
				     tick the source stays suppressed without
				     reading the clock (a flood's fast path) */
	__u32 suppressed;         /* since this source's last event */
	__u32 pad;
};

/* vw_event_cpu[0], per CPU: events written in the current tick, and the
 * source this CPU last suppressed. A flood from one source then costs a
 * 16-byte compare per packet instead of an LRU hash lookup; the packets it
 * suppresses this way are kept in `pending` and added to that source's
 * vw_rate_state when another source takes its place or it logs again.
 * So an event's `suppressed` count can miss suppressions still pending on
 * another CPU (one flow normally stays on one CPU); vw_event_stats is exact. */
struct vw_event_budget {
	__u64 jiffies;
	__u32 used;
	__u32 pending;        /* suppressed for quiet_addr, not yet in its state */
	__u64 quiet_jiffies;  /* tick in which quiet_addr was last suppressed */
	__u8 quiet_addr[16];
};

/* vw_links: the interfaces vaultwall is expected to filter, written by
 * attach and cleared by detach. A link pin can be deleted or severed (its
 * interface deleted) without vaultwall noticing; this record is what status,
 * verify and the metrics compare the links with. Names are those of the
 * interface's network namespace (netns_inode, as in /proc/PID/ns/net). */
#define VW_MAX_LINKS 256
#define VW_IFNAME_LEN 16 /* IFNAMSIZ */

/* struct vw_link_info.mode */
#define VW_LINK_MODE_NATIVE 1
#define VW_LINK_MODE_GENERIC 2

/* struct vw_link_info.framing: which entry point the link runs */
#define VW_FRAMING_ETHERNET 1 /* vaultwall_xdp */
#define VW_FRAMING_IP 2       /* vaultwall_xdp_l3: TUN, WireGuard (no link-layer header) */

struct vw_link_key {
	char name[VW_IFNAME_LEN];
};

struct vw_link_info {
	__u64 netns_inode;
	__u32 ifindex; /* when attached, in that namespace */
	__u8 mode;     /* VW_LINK_MODE_* */
	__u8 framing;  /* VW_FRAMING_* */
	__u8 pad[2];
};

/* vw_reject_cpu[0], per CPU: replies sent in the current tick. */
struct vw_reject_budget {
	__u64 jiffies;
	__u32 used;
	__u32 pad;
};

/* ---- Layout checks (both compilers) ---------------------------------------- */
#ifdef __cplusplus
#define VW_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define VW_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

VW_STATIC_ASSERT(sizeof(struct vw_active) == 8 + VW_SLOTS * sizeof(struct vw_settings), "vw_active");
VW_STATIC_ASSERT(sizeof(struct vw_port) == 4, "vw_port");
VW_STATIC_ASSERT(sizeof(struct vw_settings) == 24 + 4 * VW_MAX_PORTS + 8, "vw_settings");
VW_STATIC_ASSERT(sizeof(struct vw_rule_key) == 12, "vw_rule_key");
VW_STATIC_ASSERT(sizeof(struct vw_rule_value) == 4, "vw_rule_value");
VW_STATIC_ASSERT(sizeof(struct vw_trusted_key) == 8, "vw_trusted_key");
VW_STATIC_ASSERT(sizeof(struct vw_trusted_value) == 4, "vw_trusted_value");
VW_STATIC_ASSERT(sizeof(struct vw_rule6_key) == 24, "vw_rule6_key");
VW_STATIC_ASSERT(sizeof(struct vw_public6_key) == 20, "vw_public6_key");
VW_STATIC_ASSERT(sizeof(struct vw_public6_value) == 12, "vw_public6_value");
VW_STATIC_ASSERT(sizeof(struct vw_index_chunk) == 64, "vw_index_chunk: one cache line");
VW_STATIC_ASSERT(VW_MAX_RULES <= 0x10000, "rule ids fit the low half of an index result");
VW_STATIC_ASSERT(VW_MAX_SERVICES < 0x4000, "service ids stay below the index's kind bits");
VW_STATIC_ASSERT(VW_INDEX_CHUNKS_MAX <= VW_INDEX_TRIE && VW_INDEX_CHUNKS <= VW_INDEX_CHUNKS_MAX,
		 "chunk numbers stay below the index's kind bits");
VW_STATIC_ASSERT(VW_INDEX_LIST_RESULT(VW_INDEX_LIST_PREFIXES - 1) < VW_INDEX_CHUNK_ENTRIES,
		 "a list node fits in a chunk");
VW_STATIC_ASSERT(VW_INDEX6_LIST_RESULT(VW_INDEX6_LIST_PREFIXES - 1) < VW_INDEX_CHUNK_ENTRIES,
		 "a 64-bit list node fits in a chunk");
VW_STATIC_ASSERT(VW_INDEX6_NODES * sizeof(struct vw_index_chunk) == (VW_INDEX6_NODE | 0x3f) + 1 &&
			 (VW_INDEX6_NODE_WORD | 0x3) == (VW_INDEX6_NODE | 0x3f) &&
			 (VW_INDEX6_NODE_WORD & (VW_INDEX_KIND | VW_INDEX6_LOW | VW_INDEX6_DEPTH_MASK)) == 0,
		 "a pointer's node offset spans the nodes exactly, below the entry's flags");
VW_STATIC_ASSERT((VW_INDEX6_NODES & (VW_INDEX6_NODES - 1)) == 0 &&
			 sizeof(struct vw_index6) <= (4u << 20) && sizeof(struct vw_index6) % 4096 == 0,
		 "the walk masks node offsets; an array value is at most KMALLOC_MAX_SIZE (4 MiB) "
		 "and the writer maps whole pages");
VW_STATIC_ASSERT((VW_INDEX6_DEPTH(56) & ~VW_INDEX6_DEPTH_MASK) == 0 &&
			 (VW_INDEX6_DEPTH_MASK & (VW_INDEX6_NODE | VW_INDEX6_LOW | VW_INDEX_KIND)) == 0,
		 "a wide node's depth fits between its number and the low-half flag");
VW_STATIC_ASSERT(sizeof(struct vw_segment_key) == 8, "vw_segment_key");
VW_STATIC_ASSERT(sizeof(struct vw_segment_value) == 8, "vw_segment_value");
VW_STATIC_ASSERT(VW_VLAN_IDS == 4096 && VW_VNET_PUBLIC == 0,
		 "vw_vlans_N: every 12-bit VID has an entry, and a zeroed one is no segment");
VW_STATIC_ASSERT(sizeof(struct vw_endpoint_key) == 4, "vw_endpoint_key");
VW_STATIC_ASSERT(sizeof(struct vw_endpoint6_key) == 16, "vw_endpoint6_key");
VW_STATIC_ASSERT(sizeof(struct vw_endpoint_value) == 8, "vw_endpoint_value");
VW_STATIC_ASSERT((VW_TUNNELS_IP & VW_TUNNELS_UDP) == 0 && VW_TUNNELS_ALL == 0x7fffu, "tunnel bits");
VW_STATIC_ASSERT(sizeof(struct vw_counters) == 24, "vw_counters");
VW_STATIC_ASSERT(sizeof(struct vw_rule_info) == 8 + VW_RULE_TEXT_LEN, "vw_rule_info");
VW_STATIC_ASSERT(sizeof(struct vw_service_info) == 8 + VW_SERVICE_NAME_LEN, "vw_service_info");
VW_STATIC_ASSERT(sizeof(struct vw_policy_info) == 16 + 2 * VW_DIGEST_LEN + VW_PROFILE_LEN + 32,
		 "vw_policy_info");
VW_STATIC_ASSERT(sizeof(struct vw_doc_chunk) == 4096, "vw_doc_chunk");
VW_STATIC_ASSERT(sizeof(struct vw_abi_info) == 8, "vw_abi_info");
VW_STATIC_ASSERT(sizeof(struct vw_event) == 88, "vw_event");
VW_STATIC_ASSERT(sizeof(struct vw_rate_key) == 16, "vw_rate_key");
VW_STATIC_ASSERT(sizeof(struct vw_rate_state) == 24, "vw_rate_state");
VW_STATIC_ASSERT(sizeof(struct vw_event_budget) == 40, "vw_event_budget");
VW_STATIC_ASSERT(sizeof(struct vw_link_key) == 16, "vw_link_key");
VW_STATIC_ASSERT(sizeof(struct vw_link_info) == 16, "vw_link_info");
VW_STATIC_ASSERT(sizeof(struct vw_reject_budget) == 16, "vw_reject_budget");

/* What the code relies on besides the sizes. */
VW_STATIC_ASSERT((0u VW_CLASSES(VW_CLASS_BIT_)) == (1u << VW_CLASS_COUNT) - 1,
		 "verdict classes are 0 .. VW_CLASS_COUNT - 1, each once");
VW_STATIC_ASSERT(VW_CLASS_COUNT <= 32, "the class predicates are bits of a __u32");
VW_STATIC_ASSERT((VW_CLASSES_LOGGING & ~VW_CLASSES_DROPPING) == (1u << VW_CLASS_PERIMETER_WOULD_DENY),
                 "every class that logs drops, but the perimeter's would-deny");
VW_STATIC_ASSERT(VW_RULE_NONE == 0 && VW_SERVICE_NONE == 0 && VW_VNET_PUBLIC == 0,
		 "id 0 means none: zeroed maps name no rule, service or network");
VW_STATIC_ASSERT(VW_ACTION_ALLOW == 0 && VW_PUBLIC_ACCESS_ENABLED == 0 && VW_MODE_ENFORCE == 0 &&
			 VW_DENY_DROP == 0,
		 "a fresh slot (all zeros) reads as Azure's default: allow everything");
/* An IP rule /24 is a 56-bit prefix: 32 bits of vnet id, then 24 of address. */
VW_STATIC_ASSERT(VW_RULE_KEY_VNET_BITS == 32 && __builtin_offsetof(struct vw_rule_key, vnet_id) == 4 &&
			 __builtin_offsetof(struct vw_rule_key, addr) == 8,
		 "rule key: the vnet bits come first");
VW_STATIC_ASSERT(__builtin_offsetof(struct vw_trusted_key, addr) == 4, "trusted key");

#endif /* VAULTWALL_ABI_H */
