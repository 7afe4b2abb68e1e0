// The name of an XDP action, for test and benchmark messages.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>

namespace vaultwall::testing {

inline std::string action_name(uint32_t action) {
  switch (action) {
    case XDP_ABORTED:
      return "XDP_ABORTED";
    case XDP_DROP:
      return "XDP_DROP";
    case XDP_PASS:
      return "XDP_PASS";
    case XDP_TX:
      return "XDP_TX";
    case XDP_REDIRECT:
      return "XDP_REDIRECT";
    default:
      return "XDP action " + std::to_string(action);
  }
}

}  // namespace vaultwall::testing
