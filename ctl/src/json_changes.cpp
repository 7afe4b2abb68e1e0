#include "vaultwall/policy/json_changes.h"

#include <algorithm>
#include <array>
#include <optional>

#include "vaultwall/common/text.h"

namespace vaultwall {
namespace {

using nlohmann::json;

// The keys that name an element of a list, most specific first.
constexpr std::array<const char*, 5> kIdentityKeys = {"id", "name", "value", "addressPrefix",
                                                      "interface"};

// The identity key and value of an object in a list, when it has one.
std::optional<std::pair<std::string, std::string>> identity_of(const json& element) {
  if (!element.is_object()) return std::nullopt;
  for (const char* key : kIdentityKeys) {
    auto it = element.find(key);
    if (it != element.end() && it->is_string()) return std::pair{std::string(key), it->get<std::string>()};
  }
  return std::nullopt;
}

// "[web]" for ".../subnets/web": resource ids are long, their last segment
// is what people call the thing.
std::string element_label(const std::string& identity) {
  size_t slash = identity.find_last_of('/');
  std::string shown = slash == std::string::npos || slash + 1 == identity.size()
                          ? identity
                          : identity.substr(slash + 1);
  return "[" + shown + "]";
}

std::string joined_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

void compare(const json& before, const json& after, const std::string& path,
             std::vector<JsonChange>& out);

void compare_objects(const json& before, const json& after, const std::string& path,
                     std::vector<JsonChange>& out) {
  for (const auto& [key, value] : before.items()) {
    auto it = after.find(key);
    if (it == after.end())
      out.push_back({JsonChange::Kind::kRemoved, joined_path(path, key), value, nullptr});
    else
      compare(value, *it, joined_path(path, key), out);
  }
  for (const auto& [key, value] : after.items())
    if (!before.contains(key))
      out.push_back({JsonChange::Kind::kAdded, joined_path(path, key), nullptr, value});
}

// Matched by identity where every element has one; as sets otherwise.
void compare_arrays(const json& before, const json& after, const std::string& path,
                    std::vector<JsonChange>& out) {
  auto find_by_identity = [](const json& list, const std::string& key, const std::string& value) {
    return std::find_if(list.begin(), list.end(), [&](const json& element) {
      auto id = identity_of(element);
      return id && id->first == key && equals_ignore_case(id->second, value);
    });
  };
  for (const json& element : before) {
    auto id = identity_of(element);
    if (id) {
      auto match = find_by_identity(after, id->first, id->second);
      if (match != after.end()) {
        json matched = *match;  // the identity matched, whatever its case
        matched[id->first] = id->second;
        compare(element, matched, path + element_label(id->second), out);
        continue;
      }
    } else if (std::find(after.begin(), after.end(), element) != after.end()) {
      continue;
    }
    out.push_back({JsonChange::Kind::kRemoved, path, element, nullptr});
  }
  for (const json& element : after) {
    auto id = identity_of(element);
    bool present = id ? find_by_identity(before, id->first, id->second) != before.end()
                      : std::find(before.begin(), before.end(), element) != before.end();
    if (!present) out.push_back({JsonChange::Kind::kAdded, path, nullptr, element});
  }
}

void compare(const json& before, const json& after, const std::string& path,
             std::vector<JsonChange>& out) {
  if (before == after) return;
  if (before.is_object() && after.is_object()) return compare_objects(before, after, path, out);
  if (before.is_array() && after.is_array()) return compare_arrays(before, after, path, out);
  out.push_back({JsonChange::Kind::kChanged, path, before, after});
}

std::string shown(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace

std::string JsonChange::text() const {
  switch (kind) {
    case Kind::kAdded: return path + ": + " + shown(after);
    case Kind::kRemoved: return path + ": - " + shown(before);
    case Kind::kChanged: break;
  }
  return path + ": " + shown(before) + " -> " + shown(after);
}

std::vector<JsonChange> json_changes(const json& before, const json& after,
                                     const std::string& path) {
  std::vector<JsonChange> out;
  compare(before, after, path, out);
  return out;
}

}  // namespace vaultwall
