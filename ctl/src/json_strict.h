// Internal: strict JSON reading for rule documents — syntax errors with line
// and column, duplicate keys with their path — and small helpers to walk a
// document while collecting diagnostics.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "vaultwall/policy/diagnostics.h"

namespace vaultwall::json_strict {

using Json = nlohmann::json;

// Parses `text`; on a syntax error returns nullopt with one diagnostic
// ("line L, column C: ..."). Duplicate keys are errors at their path; the
// document is still returned (last value wins) so the rest gets checked.
std::optional<Json> parse_strict_json(std::string_view text, Diagnostics& diagnostics);

std::string join_path(std::string_view path, std::string_view key);
std::string index_path(std::string_view path, size_t index);
// "string \"abc\"", "number 5", "an array", ... for error messages.
std::string describe(const Json& value);
// The closest known name (case-insensitive equal, or edit distance <= 2).
std::optional<std::string> closest_name(std::string_view name,
                                        std::initializer_list<std::string_view> known);

// Reads values of an object while recording type errors.
class JsonWalker {
 public:
  explicit JsonWalker(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}

  Diagnostics& diagnostics() { return diagnostics_; }

  // Whether `value` is an object; error "expected an object, got ..." if not.
  bool expect_object(const Json& value, const std::string& path);
  bool expect_array(const Json& value, const std::string& path);
  // Errors for every key of `object` not in `known` (`where` names the
  // section in the message).
  void reject_unknown_fields(const Json& object, const std::string& path,
                             std::initializer_list<std::string_view> known, std::string_view where);
  // The member, or nullptr when absent or null (null means "not given").
  const Json* member(const Json& object, std::string_view key);

  std::optional<std::string> string_value(const Json& value, const std::string& path);
  std::optional<bool> bool_value(const Json& value, const std::string& path);
  std::optional<int64_t> integer_value(const Json& value, const std::string& path);

 private:
  Diagnostics& diagnostics_;
};

}  // namespace vaultwall::json_strict
