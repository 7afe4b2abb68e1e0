#include "vaultwall/policy/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vaultwall/common/fd.h"
#include "vaultwall/common/io.h"
#include "vaultwall/common/text.h"

namespace vaultwall {
namespace {

size_t cap_override = 0;  // set once by the CLI before anything is read

std::string cap_hint(size_t cap) {
  return "raise the cap with --max-input-size SIZE (e.g. --max-input-size " +
         std::to_string((cap >> 20) * 4 > 0 ? (cap >> 20) * 4 : 1) + "M)";
}

// Reads fd to the end, failing as soon as more than `cap` bytes came.
Result<std::string> read_capped(int fd, size_t cap, const std::string& name) {
  auto text = read_to_end(fd, cap, name);
  if (!text && text.error().code == EFBIG)
    return fail(EFBIG, name + " is over the " + format_size(cap) + " cap", cap_hint(cap));
  return text;
}

}  // namespace

void set_input_size_cap(size_t bytes) { cap_override = bytes; }
size_t document_size_cap() { return cap_override ? cap_override : kDocumentSizeCap; }
size_t service_tags_size_cap() { return cap_override ? cap_override : kServiceTagsSizeCap; }

Result<std::string> read_input_file(const std::string& path, size_t cap, std::string_view what) {
  if (path == "-")
    return read_capped(STDIN_FILENO, cap, "standard input (" + std::string(what) + ")");
  const std::string name = std::string(what) + " " + path;
  // O_NONBLOCK: opening a FIFO must not wait for a writer before fstat says what it is.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return fail_errno("cannot read " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("cannot read " + path);
  if (!S_ISREG(st.st_mode))
    return fail(EINVAL, name + " is " + file_type_name(st.st_mode) + ", not a regular file");
  if (static_cast<size_t>(st.st_size) > cap)
    return fail(EFBIG,
                name + " is " + std::to_string(st.st_size) + " bytes, over the " +
                    format_size(cap) + " cap for input files",
                cap_hint(cap));
  return read_capped(fd.get(), cap, name);  // it may grow while read
}

std::string format_size(size_t bytes) {
  if (bytes >= (size_t{1} << 30) && bytes % (size_t{1} << 30) == 0)
    return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

Result<size_t> parse_size(std::string_view text) {
  size_t shift = 0;
  if (!text.empty()) switch (text.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
    }
  std::string_view digits = shift ? text.substr(0, text.size() - 1) : text;
  const auto number = digits.size() > 12 ? std::nullopt : parse_decimal<size_t>(digits);
  if (!number)
    return fail(EINVAL, "\"" + std::string(text) + "\" is not a size",
                "give bytes, or a number with K, M or G, e.g. 16M");
  size_t value = *number << shift;
  if (value == 0) return fail(EINVAL, "a size of 0", "give at least 1 byte");
  return value;
}

}  // namespace vaultwall
