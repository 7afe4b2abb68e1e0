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
  int code = 0;         // positive errno (EINVAL for bad input); 0: no system error
                        // (a refused document, whose diagnostics say why)
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

// A value or the Error that prevented it. [[nodiscard]]: a Result dropped
// on the floor is a compile error (-Werror=unused-result), so no failure
// goes unnoticed; cast to (void) where ignoring one is the point.
template <class T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using std::expected<T, Error>::expected;
  Result(std::expected<T, Error> other) : std::expected<T, Error>(std::move(other)) {}
};

// VW_TRY(expr): evaluates a Result; on error the enclosing function returns
// that error, else the expression yields the value (nothing for
// Result<void>). The ccache/Rust `?` idiom, as a GNU statement expression:
//   uint32_t slot = VW_TRY(active_slot(maps));
#define VW_TRY(...)                                                                 \
  ({                                                                                \
    auto&& vw_try_result_ = (__VA_ARGS__);                                          \
    if (!vw_try_result_) return std::unexpected(std::move(vw_try_result_).error()); \
    std::move(vw_try_result_).value();                                              \
  })

// The same error with what the caller was doing put in front of its context.
[[nodiscard]] inline Error with_context(Error error, const std::string& context) {
  error.context = error.context.empty() ? context : context + ": " + error.context;
  return error;
}

[[nodiscard]] inline std::unexpected<Error> fail(int code, std::string context,
                                                 std::string hint = {}) {
  return std::unexpected(Error{code < 0 ? -code : code, std::move(context), std::move(hint)});
}

// For system and libbpf calls that set errno (libbpf 1.x returns -errno
// and sets errno too).
[[nodiscard]] inline std::unexpected<Error> fail_errno(std::string context, std::string hint = {}) {
  return fail(errno, std::move(context), std::move(hint));
}

// VW_TRY_CONTEXT(context, expr): VW_TRY, with `context` put in front of
// the error's context on the way out.
#define VW_TRY_CONTEXT(context, ...)                                          \
  ({                                                                          \
    auto&& vw_try_result_ = (__VA_ARGS__);                                    \
    if (!vw_try_result_)                                                      \
      return std::unexpected(with_context(std::move(vw_try_result_).error(), (context))); \
    std::move(vw_try_result_).value();                                        \
  })

}  // namespace vaultwall
