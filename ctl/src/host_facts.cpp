// Host facts files: where they are, reading them, and the skeleton
// `vaultwallctl host init` prints. Their fields are read by the document
// reader (document.cpp), the same code that reads them embedded.
#include "vaultwall/policy/host_facts.h"

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>

#include "vaultwall/policy/input_file.h"

namespace vaultwall {
namespace {

using OrderedJson = nlohmann::ordered_json;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

constexpr std::string_view kSubnets = "/subnets/";

struct SkeletonSubnet {
  std::string name;            // as the rule writes it
  bool endpoint_known = true;  // false: the rule ignores a missing service endpoint
};

struct SkeletonNetwork {
  std::string id;  // as the first rule naming it writes it
  std::vector<SkeletonSubnet> subnets;
};

// The virtual networks and subnets the rules name, in document order, each
// once (resource ids compare case-insensitively).
std::vector<SkeletonNetwork> networks_of(const Document& document) {
  std::vector<SkeletonNetwork> out;
  std::map<std::string, size_t> index;
  for (const Document::VnetRuleText& rule : document.vnet_rules) {
    const std::string& id = rule.id.value;
    size_t at = lower(id).rfind(kSubnets);
    if (at == std::string::npos) continue;  // not a subnet id: validation says so
    std::string vnet = id.substr(0, at), subnet = id.substr(at + kSubnets.size());
    auto [it, inserted] = index.emplace(lower(vnet), out.size());
    if (inserted) out.push_back({vnet, {}});
    auto& subnets = out[it->second].subnets;
    bool known = std::any_of(subnets.begin(), subnets.end(), [&](const SkeletonSubnet& s) {
      return lower(s.name) == lower(subnet);
    });
    if (!known) subnets.push_back({subnet, !rule.ignore_missing_vnet_service_endpoint});
  }
  return out;
}

std::string name_of(const std::string& id) { return id.substr(id.rfind('/') + 1); }

OrderedJson network_skeleton(const SkeletonNetwork& network) {
  OrderedJson subnets = OrderedJson::array();
  for (const SkeletonSubnet& subnet : network.subnets) {
    OrderedJson endpoints = OrderedJson::array();
    endpoints.push_back(
        subnet.endpoint_known
            ? "Microsoft.KeyVault"
            : "<Microsoft.KeyVault if the subnet has that service endpoint, else leave the list empty>");
    subnets.push_back(
        {{"description",
          "subnet " + subnet.name +
              ": its address prefix as Azure has it (az network vnet subnet show --vnet-name " +
              name_of(network.id) + " -n " + subnet.name + " --query addressPrefix)"},
         {"name", subnet.name},
         {"addressPrefix", "<a.b.c.d/n>"},
         {"serviceEndpoints", endpoints}});
  }
  return {{"description",
           "virtual network " + name_of(network.id) +
               ": where its traffic reaches this host. Give the interface it arrives on, the VLAN "
               "it is tagged with, or both; remove the one you do not use"},
          {"id", network.id},
          {"segment", {{"interface", "<interface>"}, {"vlan", "<vlan 1-4094>"}}},
          {"subnets", subnets}};
}

}  // namespace

HostFactsSource host_facts_source(const std::string& command_line) {
  if (!command_line.empty()) return {command_line, true};
  if (const char* env = std::getenv(kHostFactsEnv); env && *env) return {env, true};
  return {kHostFactsDefaultPath, false};
}

Result<std::optional<HostFactsText>> read_host_facts(const HostFactsSource& source) {
  if (source.path.empty()) return std::nullopt;
  std::error_code ec;
  if (!source.explicit_path && !std::filesystem::exists(source.path, ec)) return std::nullopt;
  if (source.explicit_path && source.path != "-" && !std::filesystem::exists(source.path, ec))
    return fail(ENOENT, "host facts " + source.path.string(),
                "create them with vaultwallctl host init -f DOCUMENT > " + source.path.string() +
                    " and fill in the placeholders");
  auto text = read_input_file(source.path.string(), document_size_cap(), "host-facts file");
  if (!text) {
    Error error = text.error();
    if (error.code == EINVAL) error.hint = "give a regular file";
    return std::unexpected(error);
  }
  HostFactsText out;
  out.text = std::move(*text);
  out.name = source.path.string();
  out.explicit_path = source.explicit_path;
  out.base_dir = source.path == "-" ? std::filesystem::current_path(ec)
                                    : std::filesystem::absolute(source.path, ec).parent_path();
  return out;
}

Checked<std::string> host_facts_skeleton(std::string_view document_text,
                                         const ParseOptions& options,
                                         std::string_view document_name) {
  Checked<std::string> result;
  auto parsed = parse_document(document_text, options);
  result.diagnostics = parsed.diagnostics;
  if (!parsed.ok()) return result;
  const Document& document = *parsed.value;
  std::string vault = document.vault_name.empty() ? "the vault" : "vault " + document.vault_name;

  OrderedJson skeleton;
  skeleton["description"] =
      "Host facts for " + vault +
      " on this host: what only the host knows. Fill in every \"<...>\" placeholder, then check with vaultwallctl validate -f " +
      std::string(document_name) + " --host THIS_FILE";
  skeleton["dataPlane"] = {
      {"description",
       "what this host protects: the vault's data-plane ports and its own IPv4 addresses (none listed: every destination on those ports is protected)"},
      {"ports", {"tcp/443"}},
      {"addresses", OrderedJson::array()}};
  OrderedJson endpoints = OrderedJson::array();
  for (const std::string& name : document.private_endpoint_connections)
    endpoints.push_back(
        {{"description", "private endpoint " + name +
                             ": its private IPv4 address (az network private-endpoint show -n " +
                             name + " --query 'customDnsConfigs[].ipAddresses')"},
         {"address", "<IPv4 address of private endpoint " + name + ">"}});
  skeleton["privateEndpoints"] = endpoints;
  bool needs_tags = !document.trusted_services.empty() && !document.service_tags_path;
  if (needs_tags)
    skeleton["serviceTags"] =
        "<path of Azure's ServiceTags_Public_YYYYMMDD.json, for the trusted services of the policy>";
  OrderedJson networks = OrderedJson::array();
  for (const SkeletonNetwork& network : networks_of(document))
    networks.push_back(network_skeleton(network));
  skeleton["virtualNetworks"] = networks;
  result.value = skeleton.dump(2) + "\n";
  return result;
}

}  // namespace vaultwall
