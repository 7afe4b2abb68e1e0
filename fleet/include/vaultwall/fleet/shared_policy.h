// The split fleet mode makes in a rule document:
// - the shared policy (networkAcls, publicNetworkAccess, profile, limits,
//   mode, the trusted services by name and their resolved prefixes) is the
//   same on every host of a vault and lives in etcd;
// - host facts (vaultwall.dataPlane, .privateEndpoints, .virtualNetworks:
//   protected addresses and ports, private endpoints, the segments and
//   subnet prefixes of each virtual network) are what only a host knows and
//   stay in its host facts file.
// compile_for_host() puts the two together into the policy a host enforces,
// through the same reader as `vaultwallctl --host` (one host facts format).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/common/error.h"
#include "vaultwall/fleet/records.h"
#include "vaultwall/policy/host_facts.h"
#include "vaultwall/policy/policy.h"

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

// The shared policy digest (compile.h shared_policy_digest_hex) of `shared`
// with its trusted services resolved from `tags`: what apply, show and stats
// print as the policy digest on every host that enforces it. Errors: the
// tags do not resolve (shared_policy_from_record checks them first).
Result<std::string> shared_digest(const Policy& shared,
                                  const std::map<std::string, std::vector<std::string>>& tags);

// ---- this host's part ------------------------------------------------------------

// The host facts file: the same file and reader as vaultwallctl --host
// (host_facts.h, vaultwall-host.json(5)). In fleet mode it must exist ({}
// for none): a mistyped path is refused, not taken for "no facts".
Result<HostFactsText> read_fleet_host_facts(const std::filesystem::path& path);

struct HostPolicy {
  Policy policy;
  // The policy with the host facts embedded (to_azure_json): self-contained,
  // what `vaultwallctl apply -f` takes at boot.
  std::string document;
};

// Shared policy + host facts -> the policy this host enforces, read as
// `vaultwallctl apply -f POLICY --host FACTS` reads them. The trusted
// services are resolved from service_tags_file (see write_service_tags_file),
// so every host trusts exactly the prefixes stored with the policy.
// Diagnostics keep their paths: "<facts file>:..." for the host facts, the
// shared document's otherwise (diagnostic_source tells them apart).
Checked<HostPolicy> compile_for_host(const SharedPolicy& shared, const HostFactsText& facts,
                                     const std::string& service_tags_file);

// "host-facts" for a diagnostic about the host facts file `facts_name`
// (its paths start with "<facts_name>:"), else "policy".
std::string diagnostic_source(const Diagnostic& diagnostic, const std::string& facts_name);

}  // namespace vaultwall::fleet
