// Rule documents in and out: Azure's networkAcls JSON (bare, or a vault
// resource as `az keyvault show` prints it) plus the vaultwall host section.
//
// parse_document checks syntax and shape (types, unknown fields, enum
// values, duplicate keys) and keeps values as written with their JSON paths;
// validate_document (validate.h) checks meaning and normalises. load_policy
// does both.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/diagnostics.h"
#include "vaultwall/policy.h"

namespace vaultwall {

// A value as written, with the JSON path it was found at.
template <class T>
struct Located {
  T value{};
  std::string path;
};

// The document as written (shape-checked only).
struct Document {
  // Path prefix of the ACLs as the user wrote them: "networkAcls",
  // "properties.networkAcls", or "" for a bare networkAcls object.
  std::string acls_path;
  std::string resource_id;  // a vault resource's "id" (ARM id), "" when none
  std::optional<Located<DefaultAction>> default_action;
  std::optional<Located<Bypass>> bypass;
  std::optional<Located<PublicNetworkAccess>> public_network_access;

  std::vector<Located<std::string>> ip_rules;  // path ends in ".value"
  struct VnetRuleText {
    Located<std::string> id;
    bool ignore_missing_vnet_service_endpoint = false;
  };
  std::vector<VnetRuleText> vnet_rules;

  // The vaultwall section ("vaultwall" path prefix); absent fields keep
  // the defaults of HostSection.
  struct SubnetText {
    Located<std::string> name;
    std::vector<Located<std::string>> prefixes;  // addressPrefix or addressPrefixes[i]
    std::vector<Located<std::string>> service_endpoints;
    std::string path;
  };
  struct VirtualNetworkText {
    Located<std::string> id;
    std::optional<Located<std::string>> interface;
    std::optional<Located<int64_t>> vlan;
    std::string segment_path;  // "vaultwall.virtualNetworks[0].segment"
    bool has_segment = false;  // a segment object was given
    std::vector<SubnetText> subnets;
    std::string path;
  };
  struct CustomServiceText {
    Located<std::string> name;
    std::vector<Located<std::string>> prefixes;
    std::string path;
  };
  bool has_host_section = false;
  std::optional<Located<Profile>> profile;
  std::optional<Located<int64_t>> max_ip_rules;
  std::optional<Located<int64_t>> max_vnet_rules;
  std::optional<std::vector<Located<std::string>>> ports;  // "tcp/443"
  std::vector<Located<std::string>> addresses;
  std::optional<Located<std::string>> listen;  // dataPlane.listen
  std::vector<Located<std::string>> tunnels;   // dataPlane.tunnels
  // "10.20.0.5" or {"address": "10.20.0.5", "virtualNetwork": "<vnet id>"}.
  struct PrivateEndpointText {
    Located<std::string> address;
    std::optional<Located<std::string>> virtual_network;
  };
  std::vector<PrivateEndpointText> private_endpoints;
  std::vector<VirtualNetworkText> virtual_networks;
  std::optional<Located<std::string>> service_tags_path;
  std::vector<Located<std::string>> trusted_services;
  std::vector<CustomServiceText> custom_services;
  std::optional<Located<Mode>> mode;
};

struct ParseOptions {
  // Directory a relative trustedServices.serviceTags path is resolved
  // against (the document's directory); empty leaves it relative.
  std::filesystem::path base_dir;
};

// Syntax (with line and column), duplicate keys, unknown fields inside
// networkAcls and the vaultwall section, types and enum values (accepted in
// any case). All errors are collected. Other vault fields (id, name,
// location, properties.tenantId, sku, accessPolicies, ...) are ignored.
Checked<Document> parse_document(std::string_view text, const ParseOptions& options = {});

// Overrides from the command line; they win over the document's.
struct ValidateOptions {
  std::optional<Profile> profile;
  std::optional<uint32_t> max_ip_rules;
  std::optional<uint32_t> max_vnet_rules;
};

// parse_document, then validate_document. Diagnostics of both stages.
Checked<Policy> load_policy(std::string_view text, const ParseOptions& parse_options = {},
                            const ValidateOptions& validate_options = {});
// Reads a file and loads it with base_dir = the file's directory. A file
// that cannot be read is one error with an empty path.
Checked<Policy> load_policy_file(const std::filesystem::path& file,
                                 const ValidateOptions& validate_options = {});

// The normalised policy as a vault-resource document: properties.networkAcls,
// properties.publicNetworkAccess and the vaultwall section. Loading the
// output gives back an equal Policy (the round trip is a no-op).
std::string to_azure_json(const Policy& policy, int indent = 2);

// A compact, order-insensitive canonical serialisation (keys sorted, rule
// lists sorted): the input of the policy digest.
std::string canonical_serialisation(const Policy& policy);

}  // namespace vaultwall
