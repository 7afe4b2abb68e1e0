// The files vaultwallctl reads: rule documents and Service Tags files.
// Regular files only, or standard input ("-"), and no more than a size cap,
// so /dev/zero, a FIFO nobody writes to or a runaway file is refused at once
// and in bounded memory instead of eating the host's memory or hanging an
// emergency change.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "vaultwall/common/error.h"

namespace vaultwall {

// Default caps. A rule document a slot can store is under 1 MiB normalised;
// Azure's whole Service Tags file is a few MB and grows.
inline constexpr size_t kDocumentSizeCap = size_t{8} << 20;
inline constexpr size_t kServiceTagsSizeCap = size_t{64} << 20;

// One cap for every input file instead of the defaults (vaultwallctl
// --max-input-size); 0 restores the defaults.
void set_input_size_cap(size_t bytes);
size_t document_size_cap();
size_t service_tags_size_cap();

// The content of `path` ("-": standard input), read only when it is a
// regular file (or stdin) of at most `cap` bytes. EINVAL: not a regular
// file (the caller adds what to give instead); EFBIG: over the cap (the hint
// says how to raise it); else the errno of open/read. `what` names the file
// in messages ("rule document").
Result<std::string> read_input_file(const std::string& path, size_t cap, std::string_view what);

// "8 MiB", "512 KiB", "100 bytes"; and back: "16M", "1G", "4096" (K/M/G
// are binary). EINVAL for anything else.
std::string format_size(size_t bytes);
Result<size_t> parse_size(std::string_view text);

}  // namespace vaultwall
