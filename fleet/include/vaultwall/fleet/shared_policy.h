// The split fleet mode makes in a rule document:
// - the shared policy (networkAcls, publicNetworkAccess, profile, limits,
//   mode, the trusted services by name and their resolved prefixes) is the
//   same on every host of a vault and lives in etcd;
// - host facts (vaultwall.dataPlane, .privateEndpoints, .virtualNetworks:
//   protected addresses and ports, private endpoints, the segments and
//   subnet prefixes of each virtual network) are what only a host knows and
//   stay in its host facts file.
// compile_for_host() puts the two together into the policy a host enforces.
// Host facts are written today in the document's own `vaultwall` section
// (the embedded form), so merging is a JSON merge loaded by the ordinary
// validator: compile_for_host() is the one place that changes when host
// facts get a loader of their own.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/diagnostics.h"
#include "vaultwall/error.h"
#include "vaultwall/fleet/records.h"
#include "vaultwall/policy.h"

namespace vaultwall::fleet {

// The keys of the vaultwall section that are host facts.
inline constexpr const char* kHostFactKeys[] = {"dataPlane", "privateEndpoints", "virtualNetworks"};

struct SharedPolicy {
  Json document;  // normalised: properties.{networkAcls, publicNetworkAccess}, vaultwall
  std::map<std::string, std::vector<std::string>> service_tags;  // tag -> IPv4 prefixes
  std::string digest;                                            // shared_digest()
  Policy policy;  // as a host describing every virtual network it names sees it
};

struct SharedPolicyOptions {
  // Azure's Service Tags file to resolve the trusted services with; empty:
  // the document's vaultwall.trustedServices.serviceTags (used to resolve,
  // never stored).
  std::string service_tags_file;
  // Directory a relative serviceTags path in the document is read from.
  std::filesystem::path base_dir;
};

// A rule document as an operator writes it, validated as a shared policy:
// host facts are refused (each with its path and where it belongs), the
// rest is validated by the ordinary validator, normalised, its trusted
// services resolved and its digest computed.
Checked<SharedPolicy> make_shared_policy(std::string_view text, const SharedPolicyOptions& options);

// A record read back from etcd, checked as thoroughly as fleet put checks
// a document: the same validation, every named service tag resolved in
// serviceTags, and sharedDigest equal to the digest of what it holds (a
// value edited by hand with a stale digest is refused). Paths are the
// record's ("policy.properties.networkAcls.ipRules[0].value").
Checked<SharedPolicy> shared_policy_from_record(const PolicyRecord& record);

// The record fleet put writes for `shared`.
PolicyRecord make_record(const SharedPolicy& shared, std::string vault, std::string author,
                         std::string comment, std::string created_at);

// hex SHA-256 over the canonical (order-insensitive) serialisation of the
// shared policy and the sorted resolved prefixes of its service tags.
std::string shared_digest(const Policy& shared,
                          const std::map<std::string, std::vector<std::string>>& tags);

// ---- this host's part ------------------------------------------------------------

// A host facts file: a JSON object whose only key is `vaultwall`, holding
// only host fact keys. An empty object is valid (every destination on
// tcp/443 protected, no virtual networks). Errors carry paths in the file.
struct HostFacts {
  std::string path;
  Json vaultwall = Json::object();
};
Checked<HostFacts> read_host_facts(const std::filesystem::path& path);
Checked<HostFacts> parse_host_facts(std::string_view text, std::string path);

struct HostPolicy {
  Policy policy;
  std::string document;  // the merged rule document (what `vaultwallctl apply -f` would take)
};

// Shared policy + host facts -> the policy this host enforces. The trusted
// services are resolved from service_tags_file (see write_service_tags_file),
// so every host trusts exactly the prefixes stored with the policy.
// Diagnostics keep the document's paths: those under the host fact keys are
// the host facts file's, the others the shared policy's (diagnostic_source).
Checked<HostPolicy> compile_for_host(const SharedPolicy& shared, const HostFacts& facts,
                                     const std::string& service_tags_file);

// "host-facts" for a diagnostic about a host fact key, else "policy".
std::string diagnostic_source(const Diagnostic& diagnostic);

}  // namespace vaultwall::fleet
