// Whole-file reads and writes with the guarantees vaultwall's inputs and
// outputs need: bounded reads, atomic replacement, and pins and journals
// that are restricted as promised or not at all.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "vaultwall/common/error.h"

namespace vaultwall {

// Reads fd to its end. EFBIG ("<what> is over N bytes") as soon as more than
// max_bytes came: a file that should be small cannot make the reader
// allocate without bound.
Result<std::string> read_to_end(int fd, size_t max_bytes, const std::string& what);

// Writes all of `data` to fd (restarting after EINTR and short writes);
// ENOSPC when the file system takes no more.
Result<void> write_all(int fd, std::string_view data, const std::string& what);

// Replaces `path` with `data` through a temporary file beside it (created
// fresh, never through a symlink), fsync and rename(2): a reader never sees
// half a file, and a full disk leaves the old one whole.
Result<void> replace_file(const std::string& path, std::string_view data, mode_t mode = 0644);

// chmod that is checked: pin and journal permissions are a security
// property, so a path that cannot be restricted is an error naming it.
Result<void> restrict_mode(const std::string& path, mode_t mode);

}  // namespace vaultwall
