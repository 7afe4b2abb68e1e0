#include "vaultwall/apply/live_maps.h"

#include <bpf/bpf.h>

namespace vaultwall {

uint32_t bpf_object_id(int fd) {
  bpf_map_info info{};
  __u32 length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &length) != 0) return 0;
  return info.id;
}

bool LiveMaps::pins_still_name_held_maps() const {
  for (const auto& [name, id] : ids_) {
    auto fd = open_pinned(pin_dir_ + "/" + name);
    if (!fd || bpf_object_id(fd->get()) != id) return false;
  }
  return true;
}

Result<const PinnedMaps*> LiveMaps::current() {
  if (maps_ && pins_still_name_held_maps()) return &*maps_;
  maps_.reset();
  ids_.clear();
  maps_.emplace(VW_TRY(PinnedMaps::open(pin_dir_)));
  for (const auto& [name, fd] : maps_->all()) ids_.emplace_back(name, bpf_object_id(fd));
  epoch_++;
  return &*maps_;
}

}  // namespace vaultwall
