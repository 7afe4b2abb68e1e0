// Validation and normalisation (DESIGN §1.5): a shape-checked Document
// becomes a normalised Policy, or a list of errors naming path and value.
#pragma once

#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/policy.h"

namespace vaultwall {

// Every check of DESIGN §1.5 under the document's profile (or the override
// in options): limits, /31 and /32 ranges (akv-2018), private and other
// non-public ranges, IPv6, host bits, syntax, duplicates and overlaps
// (warnings), virtual-network references and service endpoints, ports,
// segments, trusted services. Collects everything; value is empty on error.
Checked<Policy> validate_document(const Document& document, const ValidateOptions& options = {});

// Why an IPv4 prefix may not be an IP rule, or nullopt when it may: e.g.
// "belongs to forbidden range 10.0.0.0-10.255.255.255 (private IP addresses)".
// Used by validation and by `network-rule add`.
std::optional<std::string> forbidden_range_reason(const Ipv4Prefix& prefix);

// Why an IPv4 prefix may not be a trusted service's (custom entry or Service
// Tags file), or nullopt when it may: shorter than /8, or any range an IP
// rule refuses (private, loopback, multicast, ...), e.g. "is broader than
// /8 (it covers every IPv4 address); ...". Trusted prefixes admit sources
// the way IP rules do, so the same ranges are refused.
constexpr uint8_t kShortestTrustedPrefix = 8;
// IPv6: Regional registries allocate /12s to themselves and /32 and longer
// to networks; a trusted service is never broader than a /20.
constexpr uint8_t kShortestTrustedPrefix6 = 20;
std::optional<std::string> untrustable_prefix_reason(const Ipv4Prefix& prefix);
// The same for an IPv6 prefix (custom entries and Service Tags files alike).
std::optional<std::string> untrustable_prefix6_reason(const Ipv6Prefix& prefix);

// The exact Azure error for VNET rules whose subnet lacks the endpoint.
std::string missing_service_endpoint_message(std::string_view subnet_names,
                                             std::string_view vnet_id);

}  // namespace vaultwall
