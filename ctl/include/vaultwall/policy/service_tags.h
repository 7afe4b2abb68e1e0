// Trusted services: Azure's Service Tags JSON (values[].name,
// values[].properties.addressPrefixes) plus the custom entries of the
// vaultwall section. An L3 approximation of Azure's identity-based bypass.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/common/error.h"
#include "vaultwall/policy/ipv4.h"
#include "vaultwall/policy/ipv6.h"
#include "vaultwall/policy/policy.h"

namespace vaultwall {

// An IPv4 prefix as the file publishes it: host bits kept, and where it is
// (values[index].properties.addressPrefixes[position]).
struct PublishedPrefix {
  Ipv4Prefix prefix;
  size_t position = 0;
};
struct PublishedPrefix6 {
  Ipv6Prefix prefix;
  size_t position = 0;
};

struct ServiceTag {
  std::string name;
  size_t index = 0;                        // values[index]
  std::vector<Ipv4Prefix> ipv4;            // its networks, sorted, deduplicated
  std::vector<Ipv6Prefix> ipv6;            // the same for IPv6
  std::vector<PublishedPrefix> published;  // as written, for the checks of resolution
  std::vector<PublishedPrefix6> published6;
};

// A trusted service of Key Vault's firewall ("Allow trusted Microsoft
// services"): its name in Key Vault's list and the service tag Azure
// publishes its addresses under, "" when there is none (then vaultwall
// cannot admit it at L3; data/service-tags/README.md has the table).
struct TrustedServiceEntry {
  std::string_view name;
  std::string_view service_tag;
};
// Key Vault's list of trusted services, in its order.
const std::vector<TrustedServiceEntry>& trusted_service_catalog();
// The entry named `name` (any case), or nullptr: a service tag's name is not
// an entry (it is used as it is).
const TrustedServiceEntry* find_trusted_service(std::string_view name);

// Tags by name (exact spelling of the file).
struct ServiceTagFile {
  std::map<std::string, ServiceTag> tags;
  // values[] indexes per lower-cased name: more than one is an ambiguous file.
  std::map<std::string, std::vector<size_t>> indexes_by_name;
  const ServiceTag* find(std::string_view name) const;  // case-insensitive
};

// Parses a Service Tags document. EINVAL with the JSON problem in context.
Result<ServiceTagFile> parse_service_tags(std::string_view text);
// Reads and parses a file. ENOENT/EACCES... from the read, EINVAL for bad JSON.
Result<ServiceTagFile> load_service_tags(const std::filesystem::path& file);

// One trusted service as enforced: a tag from the file or a custom entry.
struct TrustedService {
  std::string name;              // tag name, or the custom entry's name
  std::vector<Ipv4Prefix> ipv4;  // sorted, deduplicated
  std::vector<Ipv6Prefix> ipv6;  // sorted, deduplicated
  bool custom = false;
};

// What the policy trusts, in a stable order (tags as listed, then custom).
struct TrustedSet {
  std::vector<TrustedService> services;
  size_t ipv4_prefix_count() const;
  size_t ipv6_prefix_count() const;
};

// The policy's trusted services: reads policy.host.trusted.service_tags_path
// when tags are named (directly, or through an entry of Key Vault's list;
// entries without a tag are left out). Errors (with vaultwall.trustedServices...
// paths) for a missing/unreadable file or an unknown tag; errors at
// "<file>:values[i].properties.addressPrefixes[j]" for a trusted tag's
// prefix that validation would refuse in a custom entry (broader than /8,
// non-public, host bits), and at "<file>:values[i].name" for a trusted tag
// named twice (case-insensitively). IPv6 prefixes are checked the same
// way (host bits, ranges no internet source comes from). Empty set when bypass is None, an enforced perimeter overrides
// the bypass, or nothing is listed.
Checked<TrustedSet> resolve_trusted_services(const Policy& policy);
// Same, with the tag file already loaded (tests, or a cached file).
Checked<TrustedSet> resolve_trusted_services(const Policy& policy, const ServiceTagFile* tags);

}  // namespace vaultwall
