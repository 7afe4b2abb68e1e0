// Internal: strict JSON reading for rule documents — syntax errors with line
// and column, duplicate keys with their path — and small helpers to walk a
// document while collecting diagnostics.
#pragma once

#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/policy/diagnostics.h"

namespace vaultwall::json_strict {

using Json = nlohmann::json;

// Parses `text`; on a syntax error returns nullopt with one diagnostic
// ("line L, column C: ..."). Duplicate keys are errors at their path; the
// document is still returned (last value wins) so the rest gets checked.
std::optional<Json> parse_strict_json(std::string_view text, Diagnostics& diagnostics);

// "a.b", or "file:b" when the path is a file's root ("file:").
std::string join_path(std::string_view path, std::string_view key);
std::string index_path(std::string_view path, size_t index);
// "string \"abc\"", "number 5", "an array", ... for error messages.
std::string describe(const Json& value);
// The closest known name (case-insensitive equal, or edit distance <= 2).
std::optional<std::string> closest_name(std::string_view name,
                                        std::initializer_list<std::string_view> known);

// Whether two field names are equal ignoring ASCII case (Azure's JSON
// field names are case-insensitive).
bool same_name(std::string_view a, std::string_view b);

// Paths as the user wrote them, for paths the reader built from canonical
// field names: Azure's JSON is case-insensitive ("NetworkAcls.IpRules"),
// and some shapes are read as another one (PowerShell's IpAddressRanges[2]
// is read as ipRules[2].value). Each entry maps a canonical node to where
// it is in the file; written() translates the longest mapped prefix.
class WrittenPaths {
 public:
  void add(const std::string& canonical, const std::string& written);
  std::string written(std::string_view canonical) const;
  // Diagnostics with their paths translated.
  void translate(std::vector<Diagnostic>& diagnostics) const;

 private:
  std::map<std::string, std::string, std::less<>> map_;
};

// Reads values of an object while recording type errors.
class JsonWalker {
 public:
  explicit JsonWalker(Diagnostics& diagnostics, WrittenPaths* paths = nullptr)
      : diagnostics_(diagnostics), paths_(paths) {}

  Diagnostics& diagnostics() { return diagnostics_; }
  WrittenPaths* paths() { return paths_; }
  // Strings "<...>" are placeholders left by `vaultwallctl host init`: while
  // set, a string or integer field holding one is an error saying so.
  void refuse_placeholders(bool refuse) { refuse_placeholders_ = refuse; }

  // Whether `value` is an object; error "expected an object, got ..." if not.
  bool expect_object(const Json& value, const std::string& path);
  bool expect_array(const Json& value, const std::string& path);
  // Errors for every key of `object` not in `known`, compared ignoring
  // case (`where` names the section in the message), and for two keys that
  // name the same field in different case.
  void reject_unknown_fields(const Json& object, const std::string& path,
                             std::initializer_list<std::string_view> known, std::string_view where);
  // The member `key` of the object at `path` in any case (the exact
  // spelling first), or nullptr when absent or null (null means "not
  // given"). A member found in another case is recorded in paths().
  const Json* member(const Json& object, const std::string& path, std::string_view key);

  std::optional<std::string> string_value(const Json& value, const std::string& path);
  std::optional<bool> bool_value(const Json& value, const std::string& path);
  std::optional<int64_t> integer_value(const Json& value, const std::string& path);

 private:
  bool is_placeholder(const Json& value, const std::string& path);

  Diagnostics& diagnostics_;
  WrittenPaths* paths_;
  bool refuse_placeholders_ = false;
};

// Whether a string is an unevaluated ARM template expression ("[concat(...)]";
// "[[" escapes a literal bracket).
bool is_template_expression(std::string_view text);
// Whether a string is a placeholder of a host-facts skeleton ("<interface>").
bool is_placeholder_text(std::string_view text);

}  // namespace vaultwall::json_strict
