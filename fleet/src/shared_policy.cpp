#include "vaultwall/fleet/shared_policy.h"

#include <algorithm>
#include <set>

#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/fleet/state_dir.h"
#include "vaultwall/policy/service_tags.h"
#include "vaultwall/policy/sha256.h"

namespace vaultwall::fleet {
namespace {

namespace fs = std::filesystem;
using Tags = std::map<std::string, std::vector<std::string>>;

constexpr const char* kHostFactsHint =
    "is a host fact: it differs from host to host, so it belongs in each host's host facts file "
    "(vaultwall-agent --host, default /etc/vaultwall/host.json), not in the vault's shared policy; "
    "remove it here";
// Stands for the Service Tags file while a record is validated: the record
// carries the prefixes themselves, no file is read.
constexpr const char* kResolvedInRecord = "(resolved in the policy record)";

bool is_host_fact_key(std::string_view key) {
  return std::any_of(std::begin(kHostFactKeys), std::end(kHostFactKeys),
                     [&](const char* k) { return key == k; });
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  return text;
}

std::string join_path(const std::string& prefix, const std::string& path) {
  if (prefix.empty()) return path;
  return path.empty() ? prefix : prefix + "." + path;
}

template <class T>
Checked<T> refused(std::vector<Diagnostic> diagnostics) {
  Checked<T> out;
  out.diagnostics = std::move(diagnostics);
  return out;
}

// The vaultwall section of a document, or nullptr.
Json* vaultwall_section(Json& document) {
  auto it = document.find("vaultwall");
  return it != document.end() && it->is_object() ? &*it : nullptr;
}

// Every host fact key of the vaultwall section, as an error at its path.
std::vector<Diagnostic> host_facts_in(Json& document, const std::string& path_prefix) {
  std::vector<Diagnostic> out;
  Json* section = vaultwall_section(document);
  if (section == nullptr) return out;
  for (const auto& [key, value] : section->items())
    if (is_host_fact_key(key))
      out.push_back({Severity::kError, join_path(path_prefix, "vaultwall." + key), kHostFactsHint});
  return out;
}

// A stand-in for the host part: every virtual network the VNET rules name,
// each with its own segment and the named subnets with the Key Vault
// service endpoint and a prefix of their own, so the shared policy can be
// validated as a host that describes them all would see it. Never stored.
Json stand_in_virtual_networks(const Document& parsed) {
  Json vnets = Json::array();
  std::map<std::string, size_t> index;  // lower-cased vnet id -> position
  uint32_t subnets = 0;
  for (const Document::VnetRuleText& rule : parsed.vnet_rules) {
    std::string id = lower(rule.id.value);
    size_t cut = id.rfind("/subnets/");
    if (cut == std::string::npos || cut + 9 >= id.size()) continue;  // the validator says why
    std::string vnet_id = id.substr(0, cut), subnet = id.substr(cut + 9);
    auto [it, added] = index.emplace(vnet_id, vnets.size());
    if (added) {
      size_t n = vnets.size();
      vnets.push_back(
          {{"id", vnet_id},
           {"segment",
            {{"interface", "vwfleet" + std::to_string(n / 4094)}, {"vlan", 1 + n % 4094}}},
           {"subnets", Json::array()}});
    }
    Json& list = vnets[it->second]["subnets"];
    bool known =
        std::any_of(list.begin(), list.end(), [&](const Json& s) { return s["name"] == subnet; });
    if (known) continue;
    uint32_t n = subnets++;
    std::string prefix = "10." + std::to_string((n >> 16) & 255) + "." +
                         std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255) + "/32";
    list.push_back({{"name", subnet},
                    {"addressPrefix", prefix},
                    {"serviceEndpoints", {"Microsoft.KeyVault"}}});
  }
  return vnets;
}

// The policy as the shared part alone: host facts back at their defaults.
Policy without_host_facts(Policy policy) {
  HostSection defaults;
  policy.host.ports = defaults.ports;
  policy.host.addresses.clear();
  policy.host.addresses6.clear();
  policy.host.private_endpoints.clear();
  policy.host.private_endpoints6.clear();
  policy.host.virtual_networks.clear();
  policy.host.trusted.service_tags_path.clear();
  return policy;
}

// The normalised shared document of `shared` (host fact keys left out).
Json shared_document(const Policy& shared) {
  Json document = Json::parse(to_azure_json(shared));
  Json& section = document["vaultwall"];
  for (const char* key : kHostFactKeys) section.erase(key);
  section["trustedServices"].erase("serviceTags");
  return document;
}

// Loads `document` with the stand-in host part (and a Service Tags path
// when services are named); diagnostics' paths prefixed with path_prefix.
Checked<Policy> load_as_shared(Json document, const std::string& service_tags_path,
                               const std::string& path_prefix) {
  // A document that cannot be read: its own errors, not the validator's
  // call for host facts that a stand-in would have answered.
  Checked<Document> parsed = parse_document(document.dump());
  if (!parsed.ok()) {
    for (Diagnostic& d : parsed.diagnostics)
      if (!path_prefix.empty()) d.path = join_path(path_prefix, d.path);
    return refused<Policy>(std::move(parsed.diagnostics));
  }
  Json& section = document["vaultwall"];
  if (!section.is_object()) section = Json::object();
  section["virtualNetworks"] = stand_in_virtual_networks(*parsed.value);
  if (!service_tags_path.empty()) section["trustedServices"]["serviceTags"] = service_tags_path;
  Checked<Policy> loaded = load_policy(document.dump());
  for (Diagnostic& d : loaded.diagnostics)
    if (!path_prefix.empty()) d.path = join_path(path_prefix, d.path);
  return loaded;
}

bool has_services(const Json& document) {
  auto section = document.find("vaultwall");
  if (section == document.end() || !section->is_object()) return false;
  auto trusted = section->find("trustedServices");
  if (trusted == section->end() || !trusted->is_object()) return false;
  auto services = trusted->find("services");
  return services != trusted->end() && services->is_array() && !services->empty();
}

}  // namespace

Result<std::string> shared_digest(const Policy& shared, const Tags& tags) {
  // Resolved from the file every host is given (write_service_tags_file), so
  // the digest is the one the hosts' kernels hold as their policy digest.
  Result<ServiceTagFile> file = parse_service_tags(service_tags_document(tags));
  if (!file) return std::unexpected(file.error());
  Checked<TrustedSet> trusted = resolve_trusted_services(shared, &*file);
  if (!trusted.ok())
    return fail(EINVAL, "the policy's service tags",
                trusted.errors().empty() ? "" : trusted.errors().front().text());
  return shared_policy_digest_hex(shared, *trusted.value);
}

Checked<SharedPolicy> make_shared_policy(std::string_view text,
                                         const SharedPolicyOptions& options) {
  Json document = Json::parse(text, nullptr, false);
  // Not JSON, or not an object: the ordinary loader says where and why.
  if (document.is_discarded() || !document.is_object())
    return refused<SharedPolicy>(load_policy(text).diagnostics);
  if (auto host_facts = host_facts_in(document, ""); !host_facts.empty())
    return refused<SharedPolicy>(std::move(host_facts));

  std::string tags_path = options.service_tags_file;
  if (Json* section = vaultwall_section(document)) {
    auto trusted = section->find("trustedServices");
    if (trusted != section->end() && trusted->is_object()) {
      auto written = trusted->find("serviceTags");
      if (written != trusted->end() && written->is_string() && tags_path.empty())
        tags_path = (options.base_dir / written->get<std::string>()).string();
      if (written != trusted->end()) trusted->erase("serviceTags");
    }
  }
  Checked<Policy> loaded = load_as_shared(document, tags_path, "");
  if (!loaded.ok()) return refused<SharedPolicy>(std::move(loaded.diagnostics));
  Checked<TrustedSet> trusted = resolve_trusted_services(*loaded.value);
  std::vector<Diagnostic> diagnostics = loaded.diagnostics;
  diagnostics.insert(diagnostics.end(), trusted.diagnostics.begin(), trusted.diagnostics.end());
  if (!trusted.ok()) return refused<SharedPolicy>(std::move(diagnostics));

  SharedPolicy shared;
  for (const TrustedService& service : trusted.value->services) {
    if (service.custom) continue;  // custom prefixes are in the document itself
    std::vector<std::string>& prefixes = shared.service_tags[service.name];
    for (const Ipv4Prefix& prefix : service.ipv4) prefixes.push_back(prefix.cidr());
  }
  shared.policy = without_host_facts(std::move(*loaded.value));
  shared.document = shared_document(shared.policy);
  Result<std::string> digest = shared_digest(shared.policy, shared.service_tags);
  if (!digest) {
    diagnostics.push_back({Severity::kError, "", digest.error().message()});
    return refused<SharedPolicy>(std::move(diagnostics));
  }
  shared.digest = std::move(*digest);
  Checked<SharedPolicy> out;
  out.value = std::move(shared);
  out.diagnostics = std::move(diagnostics);
  return out;
}

Checked<SharedPolicy> shared_policy_from_record(const PolicyRecord& record) {
  Json document = record.policy;
  std::vector<Diagnostic> problems = host_facts_in(document, "policy");
  if (Json* section = vaultwall_section(document)) {
    auto trusted = section->find("trustedServices");
    if (trusted != section->end() && trusted->is_object() && trusted->contains("serviceTags"))
      problems.push_back({Severity::kError, "policy.vaultwall.trustedServices.serviceTags",
                          "a Service Tags path is a host fact; the record carries the resolved "
                          "prefixes in serviceTags instead"});
  }
  if (!problems.empty()) return refused<SharedPolicy>(std::move(problems));

  Checked<Policy> loaded =
      load_as_shared(document, has_services(document) ? kResolvedInRecord : "", "policy");
  if (!loaded.ok()) return refused<SharedPolicy>(std::move(loaded.diagnostics));
  Policy shared = without_host_facts(std::move(*loaded.value));

  // Exactly the tags the policy names, each with valid IPv4 networks.
  std::set<std::string> named;
  for (const std::string& service : shared.host.trusted.services) named.insert(lower(service));
  std::set<std::string> stored;
  for (const auto& [name, prefixes] : record.service_tags) {
    stored.insert(lower(name));
    if (!named.contains(lower(name)))
      problems.push_back({Severity::kError, "serviceTags." + name,
                          "the policy does not trust service tag " + name});
    for (size_t i = 0; i < prefixes.size(); ++i) {
      auto prefix = parse_ipv4_prefix(prefixes[i]);
      if (!prefix || !(prefix->network() == *prefix))
        problems.push_back({Severity::kError, "serviceTags." + name + "[" + std::to_string(i) + "]",
                            "'" + prefixes[i] + "' is not an IPv4 network"});
    }
  }
  for (const std::string& service : shared.host.trusted.services)
    if (!stored.contains(lower(service)))
      problems.push_back({Severity::kError, "serviceTags",
                          "no prefixes for service tag " + service + ", which the policy trusts"});
  if (problems.empty()) {
    Result<std::string> computed = shared_digest(shared, record.service_tags);
    std::string digest = computed ? *computed : std::string();
    if (!computed)
      problems.push_back({Severity::kError, "serviceTags", computed.error().message()});
    else if (digest != record.shared_digest)
      problems.push_back({Severity::kError, "sharedDigest",
                          record.shared_digest.substr(0, 12) +
                              " is not the digest of this policy (" + digest.substr(0, 12) +
                              "): the value was edited by hand; write policies with vaultwallctl "
                              "fleet put"});
  }
  if (!problems.empty()) return refused<SharedPolicy>(std::move(problems));
  Checked<SharedPolicy> out;
  out.value =
      SharedPolicy{record.policy, record.service_tags, record.shared_digest, std::move(shared)};
  out.diagnostics = std::move(loaded.diagnostics);
  return out;
}

PolicyRecord make_record(const SharedPolicy& shared, std::string vault, std::string author,
                         std::string comment, std::string created_at) {
  return PolicyRecord{.vault = std::move(vault),
                      .shared_digest = shared.digest,
                      .author = std::move(author),
                      .comment = std::move(comment),
                      .created_at = std::move(created_at),
                      .policy = shared.document,
                      .service_tags = shared.service_tags};
}

// ---- this host's part ----------------------------------------------------------------

Result<HostFactsText> read_fleet_host_facts(const fs::path& path) {
  auto facts = read_host_facts(HostFactsSource{path, true});
  if (!facts) {
    Error error = facts.error();
    if (error.code == ENOENT)
      error.hint =
          "write this host's facts there (vaultwall-host.json(5); {} for none: every destination "
          "on tcp/443 protected, no virtual networks), or name another file with vaultwall-agent "
          "--host";
    return std::unexpected(error);
  }
  return std::move(**facts);  // an explicit path is read or refused, never skipped
}

namespace {

// Every virtual network and subnet the vault's VNET rules name must be in
// the host's facts: without its segment the host cannot tell its traffic.
std::vector<Diagnostic> undescribed_subnets(const Policy& shared, const Document& facts,
                                            const std::string& facts_name) {
  std::map<std::string, std::set<std::string>> described;  // vnet id -> subnet names
  for (const Document::VirtualNetworkText& vnet : facts.virtual_networks) {
    std::set<std::string>& names = described[lower(vnet.id.value)];
    for (const Document::SubnetText& subnet : vnet.subnets) names.insert(lower(subnet.name.value));
  }
  std::vector<Diagnostic> out;
  for (const VnetRule& rule : shared.vnet_rules) {
    auto vnet = described.find(rule.vnet_id());
    if (vnet != described.end() && vnet->second.contains(rule.subnet_name())) continue;
    out.push_back(
        {Severity::kError, facts_name + ":virtualNetworks",
         (vnet == described.end() ? "virtual network " + rule.vnet_id()
                                  : "subnet " + rule.subnet_name() + " of " + rule.vnet_id()) +
             " is not described in " + facts_name +
             ", and the vault's policy has a rule for subnet " + rule.subnet_id +
             "; add it with this host's segment and subnet prefixes"});
  }
  return out;
}

}  // namespace

Checked<HostPolicy> compile_for_host(const SharedPolicy& shared, const HostFactsText& facts,
                                     const std::string& service_tags_file) {
  std::string document = shared.document.dump(2);
  ParseOptions options;
  options.host_facts = facts;
  options.host_facts->explicit_path = true;
  if (!shared.policy.host.trusted.services.empty()) options.service_tags_file = service_tags_file;
  Checked<Document> parsed = parse_document(document, options);
  if (!parsed.ok()) return refused<HostPolicy>(std::move(parsed.diagnostics));
  if (auto missing = undescribed_subnets(shared.policy, *parsed.value, facts.name);
      !missing.empty())
    return refused<HostPolicy>(std::move(missing));
  Checked<Policy> loaded = load_policy(document, options);
  Checked<HostPolicy> out;
  out.diagnostics = std::move(loaded.diagnostics);
  if (loaded.ok()) {
    std::string self_contained = to_azure_json(*loaded.value);
    out.value = HostPolicy{std::move(*loaded.value), std::move(self_contained)};
  }
  return out;
}

std::string diagnostic_source(const Diagnostic& diagnostic, const std::string& facts_name) {
  bool in_facts = !facts_name.empty() && (diagnostic.path == facts_name ||
                                          diagnostic.path.starts_with(facts_name + ":"));
  return in_facts ? "host-facts" : "policy";
}

}  // namespace vaultwall::fleet
