// Text helpers shared by every library: ASCII case, hex, and text that came
// from outside (documents, files, argv, bpftool-writable maps) on its way
// to a terminal or the journal.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vaultwall {

// ASCII lower case (resource ids, names and keywords compare this way).
[[nodiscard]] std::string to_lower(std::string_view text);
[[nodiscard]] bool equals_ignore_case(std::string_view a, std::string_view b);

// The pieces of `text` between separators (empty pieces kept: "a,,b" is
// three pieces).
[[nodiscard]] std::vector<std::string> split(std::string_view text, char separator);

// The whole of `text` as a decimal number of type T (no sign, spaces or
// suffix), or nullopt: std::from_chars, which neither throws nor reads
// past the text.
template <class T>
[[nodiscard]] std::optional<T> parse_decimal(std::string_view text) {
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Lower-case hex of bytes: "0a1b".
[[nodiscard]] std::string to_hex(const uint8_t* bytes, size_t size);
template <size_t N>
[[nodiscard]] std::string to_hex(const uint8_t (&bytes)[N]) {
  return to_hex(bytes, N);
}

// The text of a fixed-size, NUL-padded char array from a map value (it may
// fill the array without a NUL).
template <size_t N>
[[nodiscard]] std::string fixed_text(const char (&chars)[N]) {
  size_t n = 0;
  while (n < N && chars[n] != '\0') n++;
  return std::string(chars, n);
}

// `text` safe to print on a terminal: C0 and C1 control characters and DEL
// are escaped as JSON escapes them (\u001b, \n), bytes that are not UTF-8
// as \xNN, so a document cannot move the cursor, rewrite the screen or
// retitle the terminal. Everything else, backslashes included, is kept.
[[nodiscard]] std::string printable(std::string_view text);

// The first max_bytes of `text` (cut at a UTF-8 character boundary) and
// " ... (N more bytes)" when it is longer; `text` itself otherwise.
[[nodiscard]] std::string truncated(std::string_view text, size_t max_bytes);

// What error messages and journal reasons are cut to: enough for every
// message vaultwall writes, little enough that a 100 MB value in a
// document does not become a 100 MB line.
inline constexpr size_t kMaxMessageBytes = 4096;

}  // namespace vaultwall
