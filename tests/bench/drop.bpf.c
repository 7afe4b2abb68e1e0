// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * drop.bpf.c - the end-to-end floor: drop every frame without reading it.
 * scripts/bench-e2e.sh attaches it (ip link ... xdpdrv obj) as the least a
 * native XDP hook can cost per packet on the receiving veth.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
