#pragma once
// What changed between two JSON documents, field by field, for reviews
// before an apply (diff, apply --dry-run) and the change journal.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vaultwall {

struct JsonChange {
  enum class Kind { kChanged, kAdded, kRemoved };
  Kind kind;
  // Where, e.g. "vaultwall.virtualNetworks[app-vnet].subnets[web].addressPrefix".
  // Array elements that are objects are named by their identity (id, name,
  // value, ...; a resource id by its last segment), scalars by themselves.
  std::string path;
  nlohmann::json before, after;  // null on the side where it does not exist

  // "path: old -> new", "path: + value", "path: - value".
  std::string text() const;
};

// Every difference. Objects are compared key by key; arrays of objects that
// carry an identity key are matched by it (a changed element is described
// inside it, not as one removed and one added); other arrays are compared
// as sets. Keys compare case-insensitively for identities, as Azure's ids do.
std::vector<JsonChange> json_changes(const nlohmann::json& before, const nlohmann::json& after,
                                     const std::string& path = "");

}  // namespace vaultwall
