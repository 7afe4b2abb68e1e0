// Errors as values: a positive errno plus what was being done. Library code
// returns Result<T>; only the CLI turns an Error into a message and exit code.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

namespace vaultwall {

struct Error {
  int code = 0;         // positive errno (EINVAL for bad input)
  std::string context;  // what failed, e.g. "update vw_rules_1"
  std::string hint;     // the next thing to try, may be empty

  // "context: strerror(code)" plus "; hint" when there is one.
  std::string message() const {
    std::string text = context;
    if (code != 0) text += ": " + std::string(std::strerror(code));
    if (!hint.empty()) text += "; " + hint;
    return text;
  }
};

template <class T>
using Result = std::expected<T, Error>;

// VW_TRY(expr): evaluates a Result; on error the enclosing function returns
// that error, else the expression yields the value (nothing for
// Result<void>). The ccache/Rust `?` idiom, as a GNU statement expression:
//   uint32_t slot = VW_TRY(active_slot(maps));
#define VW_TRY(...)                                                        \
  ({                                                                        \
    auto&& vw_try_result_ = (__VA_ARGS__);                                  \
    if (!vw_try_result_) return std::unexpected(std::move(vw_try_result_).error()); \
    std::move(vw_try_result_).value();                                      \
  })

// The same error with what the caller was doing put in front of its context.
inline Error with_context(Error error, const std::string& context) {
  error.context = error.context.empty() ? context : context + ": " + error.context;
  return error;
}

inline std::unexpected<Error> fail(int code, std::string context, std::string hint = {}) {
  return std::unexpected(Error{code < 0 ? -code : code, std::move(context), std::move(hint)});
}

// For libbpf calls that return a negative errno (libbpf 1.x convention).
inline std::unexpected<Error> fail_errno(std::string context, std::string hint = {}) {
  return fail(errno, std::move(context), std::move(hint));
}

}  // namespace vaultwall
