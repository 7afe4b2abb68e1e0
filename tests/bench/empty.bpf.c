// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * empty.bpf.c - the benchmark floor: an XDP program that does nothing.
 *
 * BPF_PROG_TEST_RUN's own loop costs far more than this program, so every
 * datapath figure is reported as a ratio to this one, measured in the same
 * run with the same packet.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}
