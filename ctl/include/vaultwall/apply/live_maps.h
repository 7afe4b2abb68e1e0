// The pinned maps as they are now, for readers that run for days (metrics
// --listen, the metrics textfile loop, log --follow). `vaultwall-loader
// detach --all --purge` and a new `load` pin new maps under the same names;
// a reader that kept the old fds would go on reading maps nothing writes
// any more, serving frozen counters or silence while every process looks
// healthy. LiveMaps notices (a pin names another map id, or is gone) and
// re-opens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"
#include "vaultwall/kernel/maps.h"

namespace vaultwall {

class LiveMaps {
 public:
  explicit LiveMaps(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}

  // The maps pinned under pin_dir now: the ones held while every pin still
  // names them, else freshly opened ones (epoch() then grows). An error
  // (ENOENT with a hint while nothing is pinned) drops the held maps.
  Result<const PinnedMaps*> current();

  // How many times current() has opened maps: a reader that remembers it
  // knows when what it derived from the maps (a ring buffer, names) is stale.
  uint64_t epoch() const { return epoch_; }

  const std::string& pin_dir() const { return pin_dir_; }

 private:
  bool pins_still_name_held_maps() const;

  std::string pin_dir_;
  std::optional<PinnedMaps> maps_;
  std::vector<std::pair<std::string, uint32_t>> ids_;  // pin name -> map id held
  uint64_t epoch_ = 0;
};

// The kernel id of the BPF object behind an fd (0 when it cannot be read).
uint32_t bpf_object_id(int fd);

}  // namespace vaultwall
