#include "test_run.h"

#include <bpf/bpf.h>

#include <vector>

namespace vaultwall::bench {

Result<XdpRun> test_run_xdp(int prog_fd, std::span<const uint8_t> frame, int repeat) {
  // Room for the whole frame: a smaller output buffer fails with ENOSPC.
  std::vector<uint8_t> out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<__u32>(frame.size()),
              .data_size_out = static_cast<__u32>(out.size()), .repeat = repeat);
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
    return fail_errno("BPF_PROG_TEST_RUN (repeat " + std::to_string(repeat) + ")");
  return XdpRun{opts.duration, opts.retval};
}

}  // namespace vaultwall::bench
