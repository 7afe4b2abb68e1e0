// Internal: the shapes Azure's tools print a vault in, recognised and
// brought to one of the three forms the document reader reads (a vault
// resource, the {"networkAcls": ...} wrapper, a bare networkAcls object).
//
//   az keyvault show, REST GET, Get-AzResource      vault resource (read as is)
//   REST list {"value": [...], "nextLink"}, the     one vault picked by --vault NAME
//     bare array az keyvault list prints
//   ARM template ($schema, resources)               its vault resource, when it has
//                                                   no template expressions
//   PowerShell Get-AzKeyVault | ConvertTo-Json      converted (NetworkAcls.IpAddressRanges, ...)
//   az keyvault create --network-acls file          converted ({"ip": [...], "vnet": [...]})
//   terraform show -json                            converted (azurerm_key_vault)
//
// Converted shapes record in WrittenPaths where each value is in the file,
// so diagnostics name the file's paths (NetworkAcls.IpAddressRanges[2]).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "json_strict.h"

namespace vaultwall::shapes {

struct Recognised {
  const json_strict::Json* input = nullptr;               // the part of the input read as is
  std::optional<json_strict::Json> owned;                 // or a converted shape
  std::string shape;                                      // "vault resource", "ARM template", ...
  std::string vault_name;                                 // "" when the document has none
  std::vector<std::string> private_endpoint_connections;  // private endpoint names
  const json_strict::Json& document() const { return owned ? *owned : *input; }
};

// The vault the reader reads, or nullopt after an error (one per problem:
// a list without --vault, a template with expressions, ...). Notes (a
// template read as is, the az CLI file's defaults) are warnings.
std::optional<Recognised> recognise(const json_strict::Json& root,
                                    const std::optional<std::string>& vault,
                                    Diagnostics& diagnostics, json_strict::WrittenPaths& paths);

}  // namespace vaultwall::shapes
