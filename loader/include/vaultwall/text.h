// Text that came from outside (documents, files, argv, bpftool-writable
// maps) on its way to a terminal or the journal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vaultwall {

// `text` safe to print on a terminal: C0 and C1 control characters and DEL
// are escaped as JSON escapes them (\u001b, \n), bytes that are not UTF-8
// as \xNN, so a document cannot move the cursor, rewrite the screen or
// retitle the terminal. Everything else, backslashes included, is kept.
std::string printable(std::string_view text);

// The first max_bytes of `text` (cut at a UTF-8 character boundary) and
// " ... (N more bytes)" when it is longer; `text` itself otherwise.
std::string truncated(std::string_view text, size_t max_bytes);

// What error messages and journal reasons are cut to: enough for every
// message vaultwall writes, little enough that a 100 MB value in a
// document does not become a 100 MB line.
inline constexpr size_t kMaxMessageBytes = 4096;

}  // namespace vaultwall
