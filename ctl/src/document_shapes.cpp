// Recognising the shapes Azure's tools print a vault in (document_shapes.h).
#include "document_shapes.h"

#include <algorithm>

namespace vaultwall::shapes {
namespace {

using json_strict::index_path;
using json_strict::is_template_expression;
using json_strict::join_path;
using json_strict::Json;
using json_strict::same_name;
using json_strict::WrittenPaths;

// A member in any case, with the key as the file spells it; null counts as absent.
struct Member {
  const Json* value = nullptr;
  std::string key;
  explicit operator bool() const { return value != nullptr; }
};

Member find(const Json& object, std::string_view key) {
  if (!object.is_object()) return {};
  for (auto it = object.begin(); it != object.end(); ++it)
    if (same_name(it.key(), key) && !it->is_null()) return {&*it, it.key()};
  return {};
}

std::string text_of(const Member& member) {
  return member && member.value->is_string() ? member.value->get<std::string>() : std::string();
}

bool contains_ignore_case(std::string_view text, std::string_view part) {
  return std::search(text.begin(), text.end(), part.begin(), part.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         }) != text.end();
}

// `rest` under the written path `root` ("value[2]" + "properties" -> "value[2].properties").
std::string under(const std::string& root, const std::string& rest) {
  if (root.empty()) return rest;
  if (rest.empty()) return root;
  return rest.front() == '[' ? root + rest : root + "." + rest;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 10; ++i)
    out += (i ? ", " : "") + (names[i].empty() ? std::string("(no name)") : names[i]);
  if (names.size() > 10) out += ", ...";
  return out;
}

// Whether a list element is a vault (a list of anything else is no
// document at all, and the reader says it is not an object).
bool looks_like_vault(const Json& item) {
  return item.is_object() && (find(item, "name") || find(item, "vaultName") ||
                              find(item, "properties") || find(item, "id"));
}

// A vault's name as each shape spells it.
std::string vault_name_of(const Json& vault) {
  if (auto name = find(vault, "name")) return text_of(name);
  return text_of(find(vault, "vaultName"));
}

// ---- template expressions --------------------------------------------------------

struct Expression {
  std::string path;  // canonical (the reader's), translated later
  std::string text;
};

void collect_expressions(const Json& value, const std::string& path, std::vector<Expression>& out) {
  if (value.is_string()) {
    if (is_template_expression(value.get<std::string>()))
      out.push_back({path, value.get<std::string>()});
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      collect_expressions(value[i], index_path(path, i), out);
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it)
      collect_expressions(*it, join_path(path, it.key()), out);
  }
}

// The expressions in what the reader reads of a vault document (its network
// settings; the vault's other fields are ignored anyway).
std::vector<Expression> network_expressions(const Json& document) {
  std::vector<Expression> out;
  if (!document.is_object()) return out;
  if (auto properties = find(document, "properties")) {
    if (auto acls = find(*properties.value, "networkAcls"))
      collect_expressions(*acls.value, "properties.networkAcls", out);
    if (auto access = find(*properties.value, "publicNetworkAccess"))
      collect_expressions(*access.value, "properties.publicNetworkAccess", out);
    return out;
  }
  for (auto it = document.begin(); it != document.end(); ++it)
    if (!same_name(it.key(), "vaultwall")) collect_expressions(*it, it.key(), out);
  return out;
}

// ---- the shapes ----------------------------------------------------------------

class Recogniser {
 public:
  Recogniser(const std::optional<std::string>& vault, Diagnostics& diagnostics, WrittenPaths& paths)
      : vault_(vault), diagnostics_(diagnostics), paths_(paths) {}

  // `root` is at the written path `at` of the file.
  std::optional<Recognised> run(const Json& root, const std::string& at) {
    if (root.is_array() && std::any_of(root.begin(), root.end(), looks_like_vault))
      return pick_from_list(root, at, false, "list of vaults (az keyvault list)");
    if (!root.is_object()) return as_is(root, at, "document");  // the reader says what is wrong
    if (auto value = find(root, "value");
        value && value.value->is_array() && !find(root, "properties") && !find(root, "networkAcls"))
      return pick_from_list(*value.value, under(at, value.key), bool(find(root, "nextLink")),
                            "list of vaults (REST list response)");
    if (is_template(root)) return from_template(root, at);
    if (find(root, "format_version") && (find(root, "values") || find(root, "planned_values")))
      return from_terraform(root, at);
    if (is_powershell_vault(root)) return from_powershell(root, at);
    if (is_az_network_acls_file(root)) return from_az_network_acls(root, at);
    std::string shape = find(root, "properties")    ? "vault resource"
                        : find(root, "networkAcls") ? "networkAcls wrapper"
                                                    : "networkAcls object";
    return as_is(root, at, shape);
  }

 private:
  // ---- one vault, read as is ----

  std::optional<Recognised> as_is(const Json& root, const std::string& at, std::string shape) {
    Recognised out;
    out.input = &root;
    out.shape = std::move(shape);
    if (root.is_object()) {
      out.vault_name = vault_name_of(root);
      out.private_endpoint_connections = private_endpoint_names(root);
    }
    paths_.add("", at);
    if (!vault_matches(out)) return std::nullopt;
    if (!expressions_refused(out, "")) return std::nullopt;
    return out;
  }

  // The last segment of a connection's privateEndpoint.id, or "".
  static std::string endpoint_name(const Json& connection_properties) {
    auto endpoint = find(connection_properties, "privateEndpoint");
    if (!endpoint) return "";
    std::string id = text_of(find(*endpoint.value, "id"));
    return id.substr(id.rfind('/') + 1);
  }

  std::vector<std::string> private_endpoint_names(const Json& vault) {
    std::vector<std::string> out;
    auto properties = find(vault, "properties");
    auto connections =
        properties ? find(*properties.value, "privateEndpointConnections") : Member{};
    if (!connections || !connections.value->is_array()) return out;
    for (const Json& connection : *connections.value) {
      // The REST shape nests the endpoint under "properties"; az prints the
      // SDK's model, with the properties flattened into the connection.
      auto inner = find(connection, "properties");
      std::string name = endpoint_name(inner ? *inner.value : connection);
      if (name.empty()) name = text_of(find(connection, "name"));
      if (!name.empty()) out.push_back(name);
    }
    return out;
  }

  // --vault NAME given for a document that is one vault: it must be that one.
  bool vault_matches(const Recognised& recognised) {
    if (!vault_ || picked_) return true;
    if (recognised.vault_name.empty()) {
      diagnostics_.error(
          "",
          "--vault " + *vault_ + ": this " + recognised.shape +
              " is one vault's settings with no name to compare; leave --vault out (it picks a vault from a list, an ARM template or Terraform state)");
      return false;
    }
    if (same_name(recognised.vault_name, *vault_)) return true;
    diagnostics_.error("", "--vault " + *vault_ + ": this " + recognised.shape + " is vault " +
                               recognised.vault_name + "; give that name or the document of " +
                               *vault_);
    return false;
  }

  // One error for the template expressions in the vault's network settings.
  bool expressions_refused(const Recognised& recognised, const std::string& template_resource) {
    auto expressions = network_expressions(recognised.document());
    if (expressions.empty()) return true;
    const Expression& first = expressions.front();
    std::string more = expressions.size() > 1
                           ? " (" + std::to_string(expressions.size()) +
                                 " template expressions in the vault's network settings)"
                           : "";
    std::string deployed =
        "az keyvault show --name " +
        (recognised.vault_name.empty() || is_template_expression(recognised.vault_name)
             ? std::string("NAME")
             : recognised.vault_name);
    if (!template_resource.empty())
      diagnostics_.error(first.path, "this is an ARM template: \"" + first.text +
                                         "\" is a template expression" + more +
                                         "; pass the deployed vault (" + deployed +
                                         ") or the vault resource with its expressions evaluated");
    else
      diagnostics_.error(first.path, "\"" + first.text +
                                         "\" is an ARM template expression, not a value" + more +
                                         "; pass the deployed vault (" + deployed +
                                         ") or write the values themselves");
    return false;
  }

  // ---- lists ----

  // Which of the vaults named `names` the document means: the one --vault
  // names, or the only one when no name was given.
  std::optional<size_t> chosen_vault(const std::vector<std::string>& names) const {
    if (!vault_) return names.size() == 1 ? std::optional<size_t>(0) : std::nullopt;
    for (size_t i = 0; i < names.size(); ++i)
      if (same_name(names[i], *vault_)) return i;
    return std::nullopt;
  }

  std::optional<Recognised> pick_from_list(const Json& items, const std::string& at, bool continues,
                                           const std::string& what) {
    std::vector<std::string> names;
    for (const Json& item : items) names.push_back(item.is_object() ? vault_name_of(item) : "");
    std::optional<size_t> chosen = chosen_vault(names);
    if (vault_) {
      if (!chosen) {
        diagnostics_.error(
            at,
            "no vault named " + *vault_ + " in this " + what + " of " +
                std::to_string(items.size()) + " (" + quoted_list(names) + ")" +
                (continues
                     ? "; the list continues (nextLink): pass the vault itself (az keyvault show --name " +
                           *vault_ + ")"
                     : "; pick one of them with --vault NAME"));
        return std::nullopt;
      }
    } else if (!chosen) {
      diagnostics_.error(
          at, items.empty()
                  ? "this " + what + " is empty; pass one vault (az keyvault show --name NAME)"
                  : "this " + what + " has " + std::to_string(items.size()) + " vaults (" +
                        quoted_list(names) + "); pick one with --vault NAME");
      return std::nullopt;
    }
    const Json& vault = items[*chosen];
    std::string vault_at = under(at, "[" + std::to_string(*chosen) + "]");
    if (vault.is_object() && !find(vault, "properties") && !find(vault, "networkAcls")) {
      diagnostics_.error(
          vault_at,
          "vault " + names[*chosen] + " in this " + what +
              " carries no network settings (az keyvault list prints only id, name, location and tags); pass the vault itself (az keyvault show --name " +
              names[*chosen] + ")");
      return std::nullopt;
    }
    picked_ = true;
    return run(vault, vault_at);
  }

  // ---- ARM templates ----

  static bool is_template(const Json& root) {
    std::string schema = text_of(find(root, "$schema"));
    if (contains_ignore_case(schema, "deploymentTemplate")) return true;
    return find(root, "resources") && find(root, "contentVersion");
  }

  std::optional<Recognised> from_template(const Json& root, const std::string& at) {
    struct Candidate {
      const Json* resource;
      std::string path;
      std::string name;
    };
    std::vector<Candidate> vaults;
    if (auto resources = find(root, "resources")) {
      auto consider = [&](const Json& resource, const std::string& path) {
        if (same_name(text_of(find(resource, "type")), "Microsoft.KeyVault/vaults"))
          vaults.push_back({&resource, path, text_of(find(resource, "name"))});
      };
      std::string base = under(at, resources.key);
      if (resources.value->is_array())
        for (size_t i = 0; i < resources.value->size(); ++i)
          consider((*resources.value)[i], index_path(base, i));
      else if (resources.value->is_object())  // languageVersion 2.0: symbolic names
        for (auto it = resources.value->begin(); it != resources.value->end(); ++it)
          consider(*it, join_path(base, it.key()));
    }
    std::vector<std::string> names;
    for (const Candidate& c : vaults) names.push_back(c.name);
    std::optional<size_t> index = chosen_vault(names);
    const Candidate* chosen = index ? &vaults[*index] : nullptr;
    if (!chosen) {
      std::string problem =
          vaults.empty() ? "no Microsoft.KeyVault/vaults resource; pass"
          : vault_       ? "no vault named " + *vault_ + " (" + quoted_list(names) + "); pass"
                         : std::to_string(vaults.size()) + " vaults (" + quoted_list(names) +
                         "); pick one with --vault NAME, or pass";
      diagnostics_.error(at, "this is an ARM template with " + problem +
                                 " the deployed vault (az keyvault show --name NAME)");
      return std::nullopt;
    }
    Recognised out;
    out.input = chosen->resource;
    out.shape = "ARM template";
    out.vault_name = chosen->name;
    paths_.add("", chosen->path);
    picked_ = true;
    if (!expressions_refused(out, chosen->path)) return std::nullopt;
    diagnostics_.warning(  // at the resource ("" is translated to its path)
        "",
        "this is an ARM template: its vault resource is read as written (its network settings have no expressions); what Azure deployed may differ, and az keyvault show prints that");
    return out;
  }

  // ---- PowerShell Get-AzKeyVault | ConvertTo-Json ----

  static bool is_powershell_vault(const Json& root) {
    if (find(root, "vaultName") && !find(root, "properties")) return true;
    auto acls = find(root, "networkAcls");
    return acls &&
           (find(*acls.value, "ipAddressRanges") || find(*acls.value, "virtualNetworkResourceIds"));
  }

  // PowerShell's enums come out as numbers unless -EnumsAsStrings: 0 and 1.
  static Json powershell_enum(const Json& value, const char* zero, const char* one) {
    if (value.is_number_integer() || value.is_number_unsigned()) {
      if (value.get<int64_t>() == 0) return zero;
      if (value.get<int64_t>() == 1) return one;
    }
    return value;
  }

  std::optional<Recognised> from_powershell(const Json& root, const std::string& at) {
    Recognised out;
    out.shape = "PowerShell Get-AzKeyVault output";
    out.vault_name = text_of(find(root, "vaultName"));
    Json acls = Json::object();
    if (auto written = find(root, "networkAcls")) {
      std::string base = under(at, written.key);
      paths_.add("properties.networkAcls", base);
      const Json& from = *written.value;
      if (auto v = find(from, "defaultAction")) {
        acls["defaultAction"] = powershell_enum(*v.value, "Allow", "Deny");
        paths_.add("properties.networkAcls.defaultAction", under(base, v.key));
      }
      if (auto v = find(from, "bypass")) {
        acls["bypass"] = powershell_enum(*v.value, "None", "AzureServices");
        paths_.add("properties.networkAcls.bypass", under(base, v.key));
      }
      convert_list(from, "ipAddressRanges", base, "properties.networkAcls.ipRules", "value",
                   acls["ipRules"]);
      convert_list(from, "virtualNetworkResourceIds", base,
                   "properties.networkAcls.virtualNetworkRules", "id", acls["virtualNetworkRules"]);
    }
    Json properties = {{"networkAcls", acls}};
    if (auto access = find(root, "publicNetworkAccess")) {
      properties["publicNetworkAccess"] = *access.value;
      paths_.add("properties.publicNetworkAccess", under(at, access.key));
    }
    out.owned = Json{{"properties", properties}};
    keep_id(*out.owned, root, "resourceId", at);
    if (!vault_matches(out) || !expressions_refused(out, "")) return std::nullopt;
    return out;
  }

  // The vault's resource id (-n/-g are checked against it, the deny log
  // names the vault by it) from field `key` of the converted shape.
  void keep_id(Json& owned, const Json& from, std::string_view key, const std::string& at) {
    auto id = find(from, key);
    if (!id || !id.value->is_string()) return;
    owned["id"] = *id.value;
    paths_.add("id", under(at, id.key));
  }

  // A list of strings `key` of `from` becomes [{field: s}, ...] at `canonical`.
  void convert_list(const Json& from, std::string_view key, const std::string& base,
                    const std::string& canonical, const char* field, Json& into) {
    into = Json::array();
    auto list = find(from, key);
    if (!list) return;
    std::string written = under(base, list.key);
    paths_.add(canonical, written);
    if (!list.value->is_array()) {
      into = *list.value;  // the reader says it is not an array
      return;
    }
    for (size_t i = 0; i < list.value->size(); ++i) {
      into.push_back(Json{{field, (*list.value)[i]}});
      paths_.add(index_path(canonical, i), index_path(written, i));
      paths_.add(join_path(index_path(canonical, i), field), index_path(written, i));
    }
  }

  // ---- the az CLI --network-acls file ----

  static bool is_az_network_acls_file(const Json& root) {
    if (root.empty()) return false;
    for (auto it = root.begin(); it != root.end(); ++it)
      if (!same_name(it.key(), "ip") && !same_name(it.key(), "vnet")) return false;
    return true;
  }

  std::optional<Recognised> from_az_network_acls(const Json& root, const std::string& at) {
    Recognised out;
    out.shape = "az CLI --network-acls file";
    Json acls = Json::object();
    convert_list(root, "ip", at, "ipRules", "value", acls["ipRules"]);
    convert_list(root, "vnet", at, "virtualNetworkRules", "id", acls["virtualNetworkRules"]);
    bool ok = true;
    if (auto vnets = find(root, "vnet"); vnets && vnets.value->is_array())
      for (size_t i = 0; i < vnets.value->size(); ++i) {
        const Json& entry = (*vnets.value)[i];
        if (!entry.is_string()) continue;
        std::string text = entry.get<std::string>();
        size_t slash = text.find('/');
        if (text.empty() || text.front() == '/' || slash == std::string::npos ||
            text.find('/', slash + 1) != std::string::npos)
          continue;
        diagnostics_.error(
            index_path("virtualNetworkRules", i) + ".id",  // canonical: translated to vnet[i]
            "\"" + text +
                "\" is the az CLI short form vnet/subnet, which az completes with the vault's resource group; give the subnet's full resource id (az network vnet subnet show -g GROUP --vnet-name " +
                text.substr(0, slash) + " -n " + text.substr(slash + 1) + " --query id -o tsv)");
        ok = false;
      }
    if (!ok) return std::nullopt;
    diagnostics_.warning(
        at,
        "this is an az CLI --network-acls file: it says nothing of defaultAction and bypass, so Azure's defaults apply (Allow and AzureServices), as for az keyvault create without --default-action; az keyvault show prints the vault's real settings");
    out.owned = std::move(acls);
    if (!vault_matches(out) || !expressions_refused(out, "")) return std::nullopt;
    return out;
  }

  // ---- terraform show -json ----

  struct TerraformVault {
    const Json* values;
    std::string path;  // written path of the resource's values
    std::string name;
  };

  void collect_terraform(const Json& module, const std::string& path,
                         std::vector<TerraformVault>& out) {
    if (auto resources = find(module, "resources"); resources && resources.value->is_array()) {
      std::string base = join_path(path, resources.key);
      for (size_t i = 0; i < resources.value->size(); ++i) {
        const Json& resource = (*resources.value)[i];
        auto values = find(resource, "values");
        if (text_of(find(resource, "type")) == "azurerm_key_vault" && values)
          out.push_back({values.value, join_path(index_path(base, i), values.key),
                         text_of(find(*values.value, "name"))});
      }
    }
    if (auto children = find(module, "child_modules"); children && children.value->is_array())
      for (size_t i = 0; i < children.value->size(); ++i)
        collect_terraform((*children.value)[i], index_path(join_path(path, children.key), i), out);
  }

  std::optional<Recognised> from_terraform(const Json& root, const std::string& at) {
    auto values = find(root, "values");
    if (!values) values = find(root, "planned_values");
    std::vector<TerraformVault> vaults;
    if (auto module = find(*values.value, "root_module"))
      collect_terraform(*module.value, under(at, values.key + "." + module.key), vaults);
    std::vector<std::string> names;
    for (const TerraformVault& v : vaults) names.push_back(v.name);
    std::optional<size_t> index = chosen_vault(names);
    const TerraformVault* chosen = index ? &vaults[*index] : nullptr;
    if (!chosen) {
      diagnostics_.error(
          at,
          "this is Terraform JSON (terraform show -json) with " +
              (vaults.empty()
                   ? std::string(
                         "no azurerm_key_vault resource; pass the vault itself (az keyvault show --name NAME)")
               : vault_ ? "no azurerm_key_vault named " + *vault_ + " (" + quoted_list(names) + ")"
                        : std::to_string(vaults.size()) + " azurerm_key_vault resources (" +
                              quoted_list(names) + "); pick one with --vault NAME"));
      return std::nullopt;
    }
    picked_ = true;
    Recognised out;
    out.shape = "Terraform azurerm_key_vault";
    out.vault_name = chosen->name;
    Json properties = Json::object();
    if (auto blocks = find(*chosen->values, "network_acls");
        blocks && blocks.value->is_array() && !blocks.value->empty()) {
      std::string base = index_path(join_path(chosen->path, blocks.key), 0);
      const Json& block = (*blocks.value)[0];
      Json acls = Json::object();
      paths_.add("properties.networkAcls", base);
      if (auto v = find(block, "default_action")) {
        acls["defaultAction"] = *v.value;
        paths_.add("properties.networkAcls.defaultAction", join_path(base, v.key));
      }
      if (auto v = find(block, "bypass")) {
        acls["bypass"] = *v.value;
        paths_.add("properties.networkAcls.bypass", join_path(base, v.key));
      }
      convert_list(block, "ip_rules", base, "properties.networkAcls.ipRules", "value",
                   acls["ipRules"]);
      convert_list(block, "virtual_network_subnet_ids", base,
                   "properties.networkAcls.virtualNetworkRules", "id", acls["virtualNetworkRules"]);
      properties["networkAcls"] = acls;
    }
    if (auto enabled = find(*chosen->values, "public_network_access_enabled")) {
      properties["publicNetworkAccess"] =
          enabled.value->is_boolean() ? Json(enabled.value->get<bool>() ? "Enabled" : "Disabled")
                                      : *enabled.value;
      paths_.add("properties.publicNetworkAccess", join_path(chosen->path, enabled.key));
    }
    out.owned = Json{{"properties", properties}};
    keep_id(*out.owned, *chosen->values, "id", chosen->path);
    if (!expressions_refused(out, "")) return std::nullopt;
    return out;
  }

  const std::optional<std::string>& vault_;
  Diagnostics& diagnostics_;
  WrittenPaths& paths_;
  bool picked_ = false;  // --vault was used to pick from a list, template or state
};

}  // namespace

std::optional<Recognised> recognise(const Json& root, const std::optional<std::string>& vault,
                                    Diagnostics& diagnostics, WrittenPaths& paths) {
  return Recogniser(vault, diagnostics, paths).run(root, "");
}

}  // namespace vaultwall::shapes
