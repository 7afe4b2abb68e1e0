// Rule documents in and out: Azure's networkAcls JSON in the shapes Azure's
// tools print it (a vault resource as `az keyvault show` or the REST API
// return it, a bare networkAcls object, a list of vaults, an ARM template,
// PowerShell's Get-AzKeyVault / Get-AzResource, the az CLI --network-acls
// file, `terraform show -json`), plus the vaultwall section, plus the host
// facts (a file of their own, or embedded in the vaultwall section).
//
// parse_document recognises the shape, checks syntax and shape (types,
// unknown fields, enum values, duplicate keys; field names in any case, as
// Azure's) and keeps values as written with their JSON paths;
// validate_document (validate.h) checks meaning and normalises. load_policy
// does both.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/common/journal.h"
#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/policy/policy.h"

namespace vaultwall {

// A value as written, with the JSON path it was found at.
template <class T>
struct Located {
  T value{};
  std::string path;
};

// The document as written (shape-checked only).
struct Document {
  // Path prefix of the ACLs as the reader names them: "networkAcls",
  // "properties.networkAcls", or "" for a bare networkAcls object
  // (diagnostics are translated to the paths of the file at the end).
  std::string acls_path;
  std::string resource_id;  // a vault resource's "id" (ARM id), "" when none
  // What the document is, for notes and `host init`: "vault resource",
  // "ARM template", "PowerShell Get-AzKeyVault", ...; the vault's name when
  // it has one; its private endpoint connections (names), whose addresses
  // only the host knows.
  std::string shape;
  std::string vault_name;
  std::vector<std::string> private_endpoint_connections;
  std::optional<Located<DefaultAction>> default_action;
  std::optional<Located<Bypass>> bypass;
  std::optional<Located<PublicNetworkAccess>> public_network_access;

  std::vector<Located<std::string>> ip_rules;  // path ends in ".value"
  struct VnetRuleText {
    Located<std::string> id;
    bool ignore_missing_vnet_service_endpoint = false;
  };
  std::vector<VnetRuleText> vnet_rules;

  // The vaultwall section ("vaultwall" path prefix) and the host facts
  // (embedded in it, or read from a host-facts file: then their paths start
  // with "<file>:"); absent fields keep the defaults of HostSection.
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
  // Where the host facts came from: "vaultwall." (embedded) or "<file>:".
  std::string host_facts_origin = "vaultwall.";
  // The first host fact embedded in the vaultwall section (its path), if any.
  std::optional<std::string> embedded_host_facts;
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
  std::optional<Located<DenyAction>> deny_action;

  // vaultwall.perimeter: the network security perimeter profile the vault
  // is associated with (access mode and inbound access rules).
  struct AccessRuleText {
    Located<std::string> name;
    std::optional<Located<std::string>> direction;
    std::vector<Located<std::string>> address_prefixes;
    std::vector<Located<std::string>> subscriptions;  // ids
    std::vector<Located<std::string>> perimeters;     // networkSecurityPerimeters ids
    std::string path;
  };
  struct PerimeterText {
    std::string path;
    std::optional<Located<std::string>> access_mode;
    std::vector<AccessRuleText> rules;
  };
  std::optional<PerimeterText> perimeter;
};

// Where a command's host facts come from: --host FILE (explicit), else
// $VAULTWALL_HOST_FACTS (explicit), else /etc/vaultwall/host.json when it
// exists. Empty path: none.
struct HostFactsSource {
  std::filesystem::path path;
  bool explicit_path = false;
};

// A host-facts file as read: its text, the name its paths start with, and
// the directory its relative serviceTags path is resolved against.
struct HostFactsText {
  std::string text;
  std::string name;
  std::filesystem::path base_dir;
  bool explicit_path = false;
};

struct ParseOptions {
  // Directory a relative trustedServices.serviceTags path is resolved
  // against (the document's directory); empty leaves it relative.
  std::filesystem::path base_dir;
  // --vault NAME: which vault of a list, template or Terraform state.
  std::optional<std::string> vault;
  // The host facts to merge in. Embedded host facts win over the default
  // file (which is then not read, with a warning); given explicitly too,
  // they are an error: nobody can tell which were meant.
  std::optional<HostFactsText> host_facts;
  // Fleet mode: the Service Tags file the trusted services are resolved
  // from (the vault's record carries the prefixes), in place of any the
  // document or the host facts name (which is then ignored, with a warning).
  std::optional<std::string> service_tags_file;
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
  // validate --policy-only: check what Azure itself checks (networkAcls,
  // publicNetworkAccess, the vaultwall policy section), not the host facts;
  // the policy is for reading, never for compiling.
  bool policy_only = false;
};

// parse_document, then validate_document. Diagnostics of both stages.
Checked<Policy> load_policy(std::string_view text, const ParseOptions& parse_options = {},
                            const ValidateOptions& validate_options = {});
// Reads a file and loads it with base_dir = the file's directory, and the
// host facts of `host` (read_host_facts, host_facts.h; not read under
// policy_only). A file that cannot be read is one error with an empty path.
// When `read` is given and the file was read, it gets the file's absolute
// path and the SHA-256 of the bytes read (what the journal records).
Checked<Policy> load_policy_file(const std::filesystem::path& file,
                                 const ValidateOptions& validate_options = {},
                                 const std::optional<std::string>& vault = std::nullopt,
                                 const HostFactsSource& host = {},
                                 InputFile* read = nullptr);

// The normalised policy as a vault-resource document: properties.networkAcls,
// properties.publicNetworkAccess and the vaultwall section with the host
// facts embedded, so the document is self-contained. Loading the output
// gives back an equal Policy (the round trip is a no-op).
std::string to_azure_json(const Policy& policy, int indent = 2);

// A compact, order-insensitive canonical serialisation (keys sorted, rule
// lists sorted): the input of the compiled digest (policy and host facts).
std::string canonical_serialisation(const Policy& policy);
// The same for the policy alone, without the host facts (segments, subnets'
// prefixes, data plane, private endpoints, where the Service Tags file is):
// equal on every host of a vault; the input of the shared policy digest.
std::string canonical_policy_serialisation(const Policy& policy);

}  // namespace vaultwall
