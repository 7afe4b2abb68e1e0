// validate_document: DESIGN §1.5. Each check names the path and the value;
// the messages are part of the interface (tests assert them, people grep).
#include "vaultwall/policy/validate.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include "vaultwall/common/text.h"
#include "vaultwall/policy/host_facts.h"
#include "vaultwall/policy/service_tags.h"
#include "vaultwall_abi.h"

namespace vaultwall {
namespace {

std::string lower(std::string_view text) { return to_lower(text); }

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

// ---- IPv4 text ----------------------------------------------------------------

// Why `text` is not a dotted quad (with optional /len), most specific first.
std::string ipv4_syntax_problem(std::string_view text) {
  if (text.find_first_of(" \t\r\n") != std::string_view::npos) return "contains whitespace";
  size_t slash = text.find('/');
  std::string_view address = text.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view length = text.substr(slash + 1);
    bool digits = !length.empty() && length.size() <= 3 &&
                  std::all_of(length.begin(), length.end(),
                              [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (!digits || std::stoi(std::string(length)) > 32)
      return "prefix length /" + std::string(length) + " is not 0-32";
    if (length.size() > 1 && length[0] == '0')
      return "prefix length /" + std::string(length) + " has a leading zero";
  }
  auto octets = split(address, '.');
  if (octets.size() != 4) return "expected four decimal octets a.b.c.d";
  for (const std::string& octet : octets) {
    if (octet.empty() || octet.size() > 3 || !std::all_of(octet.begin(), octet.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        }))
      return "octet " + in_quotes(octet) + " is not a decimal number 0-255";
    if (std::stoi(octet) > 255) return "octet " + octet + " is out of range 0-255";
    if (octet.size() > 1 && octet[0] == '0')
      return "octet " + octet + " has a leading zero (octal or decimal? write it without)";
  }
  return "not an IPv4 address or CIDR range";
}

// The special-purpose IPv4 ranges, each with what it means as a rule's
// source and as the vault's destination (empty: allowed there). Azure refuses
// RFC 1918 space in rules with "(private IP addresses)"; the other source
// ranges can never be a public client's either. Private and link-local
// destinations are fine: a vault may sit behind NAT.
struct ForbiddenRange {
  Ipv4Prefix prefix;
  std::string_view why;              // as a rule's source
  bool is_private;                   // RFC 1918
  std::string_view why_destination;  // as a data-plane destination
};

const std::vector<ForbiddenRange>& special_ranges() {
  static const std::vector<ForbiddenRange> kRanges = {
      {{0x00000000, 8}, "\"this network\" addresses", false,
       "\"this network\"; 0.0.0.0 is the wildcard address"},
      {{0x0a000000, 8}, "private IP addresses", true, ""},
      {{0x64400000, 10}, "shared address space (carrier-grade NAT)", false, ""},
      {{0x7f000000, 8}, "loopback addresses", false,
       "loopback: never the destination of a packet from the network"},
      {{0xa9fe0000, 16}, "link-local addresses", false, ""},
      {{0xac100000, 12}, "private IP addresses", true, ""},
      {{0xc0a80000, 16}, "private IP addresses", true, ""},
      {{0xe0000000, 4}, "multicast addresses", false, "multicast"},
      {{0xf0000000, 4}, "reserved addresses", false,
       "reserved; 255.255.255.255 is the limited broadcast address"},
  };
  return kRanges;
}

std::string range_text(const Ipv4Prefix& prefix) {
  return format_ipv4(prefix.first()) + "-" + format_ipv4(prefix.last());
}

// The forbidden range a prefix meets, with "belongs to" or "contains".
struct ForbiddenMatch {
  const ForbiddenRange* range = nullptr;
  std::string text;  // "contains forbidden range 10.0.0.0-10.255.255.255 (private IP addresses)"
};

std::optional<ForbiddenMatch> forbidden_match(const Ipv4Prefix& prefix) {
  for (const ForbiddenRange& range : special_ranges()) {
    if (!range.prefix.overlaps(prefix)) continue;
    std::string verb = range.prefix.contains(prefix) ? "belongs to" : "contains";
    return ForbiddenMatch{&range, verb + " forbidden range " + range_text(range.prefix) + " (" +
                                      std::string(range.why) + ")"};
  }
  return std::nullopt;
}

// "configure individual IP address rules" lists the addresses a /31 or /32
// stands for.
std::string individual_addresses(const Ipv4Prefix& prefix) {
  std::string out = format_ipv4(prefix.first());
  if (prefix.length == 31) out += " and " + format_ipv4(prefix.last());
  return out;
}

// ---- resource ids -------------------------------------------------------------

constexpr std::string_view kSubnetIdShape =
    "/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>";
constexpr std::string_view kVnetIdShape =
    "/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>";

// Whether the lower-cased id has the fixed segments of Azure's shape.
bool has_resource_shape(const std::string& lower_id, bool subnet) {
  auto parts = split(lower_id, '/');
  size_t expected = subnet ? 11 : 9;
  if (parts.size() != expected || !parts[0].empty()) return false;
  if (parts[1] != "subscriptions" || parts[3] != "resourcegroups" || parts[5] != "providers" ||
      parts[6] != "microsoft.network" || parts[7] != "virtualnetworks")
    return false;
  if (subnet && parts[9] != "subnets") return false;
  for (size_t i = 1; i < parts.size(); ++i)
    if (parts[i].empty()) return false;
  return true;
}

std::string segment_text(const Segment& segment) {
  std::string out = "{";
  if (segment.interface) out += "interface " + *segment.interface;
  if (segment.interface && segment.vlan) out += ", ";
  if (segment.vlan) out += "vlan " + std::to_string(*segment.vlan);
  return out + "}";
}

bool valid_interface_name(std::string_view name) {
  // IFNAMSIZ is 16 with the terminating NUL; '/' and whitespace are refused
  // by the kernel (dev_valid_name).
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c));
  });
}

class Validator {
 public:
  Validator(const Document& document, const ValidateOptions& options, Diagnostics& diagnostics)
      : document_(document), options_(options), diagnostics_(diagnostics) {}

  Policy run() {
    read_settings();
    read_profile_and_limits();
    if (!options_.policy_only) {  // the host facts
      read_ports();
      read_endpoints();
      read_virtual_networks();
      bind_private_endpoints();
    }
    read_trusted_services();
    read_ip_rules();
    read_vnet_rules();
    read_perimeter();
    check_rule_counts();
    warn_rules_without_effect();
    return policy_;
  }

 private:
  std::string acls_path(std::string_view field) const {
    return document_.acls_path.empty() ? std::string(field)
                                       : document_.acls_path + "." + std::string(field);
  }

  // A host fact's path where the host facts are: "vaultwall.virtualNetworks"
  // or "host.json:virtualNetworks".
  std::string host_path(std::string_view field) const {
    return document_.host_facts_origin + std::string(field);
  }

  void read_settings() {
    if (document_.default_action) policy_.default_action = document_.default_action->value;
    if (document_.bypass) policy_.bypass = document_.bypass->value;
    if (document_.public_network_access)
      policy_.public_network_access = document_.public_network_access->value;
    if (document_.mode) policy_.host.mode = document_.mode->value;
    if (document_.deny_action) policy_.host.deny_action = document_.deny_action->value;
    policy_.resource_id = document_.resource_id;
  }

  void read_profile_and_limits() {
    if (document_.profile) policy_.host.profile = document_.profile->value;
    if (options_.profile) policy_.host.profile = *options_.profile;
    policy_.host.max_ip_rules =
        limit_override(document_.max_ip_rules, options_.max_ip_rules, "IP rules");
    policy_.host.max_vnet_rules =
        limit_override(document_.max_vnet_rules, options_.max_vnet_rules, "virtual network rules");
  }

  std::optional<uint32_t> limit_override(const std::optional<Located<int64_t>>& written,
                                         std::optional<uint32_t> command_line,
                                         std::string_view what) {
    constexpr int64_t kCapacity = VW_MAX_RULES - 1;  // rule ids 1..VW_MAX_RULES-1
    if (command_line) {
      if (*command_line < 1 || *command_line > kCapacity)
        diagnostics_.error("", "limit of " + std::to_string(*command_line) + " " +
                                   std::string(what) + " is out of range 1-" +
                                   std::to_string(kCapacity) + " (the datapath's rule capacity)");
      return command_line;
    }
    if (!written) return std::nullopt;
    if (written->value < 1 || written->value > kCapacity) {
      diagnostics_.error(written->path, "limit of " + std::to_string(written->value) + " " +
                                            std::string(what) + " is out of range 1-" +
                                            std::to_string(kCapacity) +
                                            " (the datapath's rule capacity)");
      return std::nullopt;
    }
    return static_cast<uint32_t>(written->value);
  }

  // ---- IP rules ----

  // An IPv6 rule's network (profile dualstack; Azure's profiles refuse
  // IPv6 as Azure does), or nullopt after reporting why it cannot be one.
  std::optional<IpRule> check_ipv6_ip_rule(const Located<std::string>& rule) {
    if (!policy_.limits().ipv6_ip_rules) {
      diagnostics_.error(rule.path, rule.value + ": only IPv4 addresses are supported");
      return std::nullopt;
    }
    auto prefix = parse_network6(rule);
    if (!prefix) return std::nullopt;
    if (auto range = ipv6_non_global_range(*prefix)) {
      diagnostics_.error(rule.path,
                         rule.value + " " + *range + "; only public addresses are allowed in IP rules");
      return std::nullopt;
    }
    return IpRule{*prefix};
  }

  // The rule's network, or nullopt after reporting why it cannot be one.
  std::optional<IpRule> check_ip_rule(const Located<std::string>& rule) {
    const std::string& text = rule.value;
    if (text.empty()) {
      diagnostics_.error(
          rule.path,
          "value is empty; expected an IPv4 address such as 203.0.113.7 or a CIDR range such as 203.0.113.0/24");
      return std::nullopt;
    }
    if (looks_like_ipv6(text)) return check_ipv6_ip_rule(rule);
    auto prefix = parse_ipv4_prefix(text);
    if (!prefix) {
      diagnostics_.error(rule.path, in_quotes(text) +
                                        " is not a valid IPv4 address or CIDR range: " +
                                        ipv4_syntax_problem(text));
      return std::nullopt;
    }
    // A /32 is the individual address rule in every profile (Azure's own
    // form in its responses); a /31 is refused where the profile says.
    bool written_as_range = text.find('/') != std::string::npos;
    if (written_as_range && prefix->length == 31 && policy_.limits().slash31_rejected) {
      diagnostics_.error(rule.path, text + ": /31 ranges are not supported by profile " +
                                        std::string(to_string(policy_.host.profile)) +
                                        "; configure individual IP address rules instead (" +
                                        individual_addresses(*prefix) + ")");
      return std::nullopt;
    }
    if (prefix->has_host_bits()) {
      diagnostics_.error(rule.path, text + " has host bits set; use the network address " +
                                        prefix->network().cidr());
      return std::nullopt;
    }
    if (auto reason = forbidden_range_reason(*prefix)) {
      diagnostics_.error(rule.path, text + " " + *reason);
      return std::nullopt;
    }
    return IpRule{*prefix};
  }

  void read_ip_rules() {
    std::map<std::string, std::string> first_path;         // canonical -> where first seen
    std::vector<std::pair<Ipv4Prefix, std::string>> kept;  // for the overlap sweeps
    std::vector<std::pair<Ipv6Prefix, std::string>> kept6;
    for (const Located<std::string>& rule : document_.ip_rules) {
      auto normalised = check_ip_rule(rule);
      if (!normalised) continue;
      auto [seen, inserted] = first_path.emplace(normalised->canonical(), rule.path);
      if (!inserted) {
        diagnostics_.warning(rule.path, rule.value + " is the same rule as " + seen->second + " (" +
                                            seen->first + "); kept once");
        continue;
      }
      policy_.ip_rules.push_back(*normalised);
      if (const Ipv4Prefix* prefix = normalised->ipv4()) kept.emplace_back(*prefix, rule.path);
      if (const Ipv6Prefix* prefix = normalised->ipv6()) kept6.emplace_back(*prefix, rule.path);
    }
    warn_overlaps(kept, "the longer prefix is credited");
    warn_overlaps(kept6, "the longer prefix is credited");
  }

  // CIDR prefixes either nest or are disjoint: after sorting by (start,
  // length) a stack of the open enclosing prefixes finds, in O(n log n),
  // the nearest prefix that contains each one.
  // (Networks of either family: sorted by network address then length, a
  // prefix follows every prefix that contains it.)
  template <class Prefix, class Report>
  void sweep_nested(std::vector<std::pair<Prefix, std::string>> prefixes, Report report) {
    for (auto& entry : prefixes) entry.first = entry.first.network();
    std::sort(prefixes.begin(), prefixes.end(), [](const auto& a, const auto& b) {
      return std::tie(a.first.address, a.first.length) < std::tie(b.first.address, b.first.length);
    });
    std::vector<const std::pair<Prefix, std::string>*> open;
    for (const auto& entry : prefixes) {
      while (!open.empty() && !open.back()->first.contains(entry.first)) open.pop_back();
      if (!open.empty()) report(*open.back(), entry);
      open.push_back(&entry);
    }
  }

  template <class Prefix>
  void warn_overlaps(const std::vector<std::pair<Prefix, std::string>>& prefixes,
                     std::string_view consequence) {
    sweep_nested(prefixes, [&](const auto& outer, const auto& inner) {
      diagnostics_.warning(inner.second, inner.first.canonical() + " overlaps " +
                                             outer.first.canonical() + " (" + outer.second +
                                             "); both kept, " + std::string(consequence));
    });
  }

  // ---- virtual network rules ----

  void read_vnet_rules() {
    std::map<std::string, std::string> first_path;
    // Without any host facts every rule would fail the same way: say it once.
    bool no_host_facts = !options_.policy_only && !document_.vnet_rules.empty() &&
                         document_.virtual_networks.empty();
    if (no_host_facts)
      diagnostics_.error(
          acls_path("virtualNetworkRules"),
          std::to_string(document_.vnet_rules.size()) +
              " virtual network rule(s), but no host facts say where their virtual networks reach this host and what their subnets' prefixes are: write them with vaultwallctl host init -f DOCUMENT > " +
              kHostFactsDefaultPath + ", fill in its placeholders, then pass --host FILE (or check the Azure side alone with validate --policy-only)");
    size_t inactive = 0;
    std::string first_inactive;
    for (const Document::VnetRuleText& rule : document_.vnet_rules) {
      const std::string& text = rule.id.value;
      std::string id = lower(text);
      if (!has_resource_shape(id, true)) {
        diagnostics_.error(rule.id.path, in_quotes(text) +
                                             " is not a subnet resource id (expected " +
                                             std::string(kSubnetIdShape) + ")");
        continue;
      }
      auto [seen, inserted] = first_path.emplace(id, rule.id.path);
      if (!inserted) {
        diagnostics_.warning(rule.id.path,
                             text + " is the same rule as " + seen->second +
                                 " (subnet ids compare case-insensitively); kept once");
        continue;
      }
      VnetRule normalised{id, rule.ignore_missing_vnet_service_endpoint, true};
      if (no_host_facts) continue;
      if (!options_.policy_only && !resolve_subnet(rule, normalised)) continue;
      if (!normalised.active && inactive++ == 0) first_inactive = rule.id.path;
      policy_.vnet_rules.push_back(normalised);
    }
    if (inactive > 0)
      diagnostics_.warning(
          first_inactive,
          std::to_string(inactive) +
              " virtual network rule(s) kept but inactive (ignoreMissingVnetServiceEndpoint): their subnets have no Microsoft.KeyVault service endpoint, so no traffic matches them until the endpoint is added to the subnets' serviceEndpoints");
  }

  // Finds the rule's subnet in the vaultwall section and decides whether the
  // rule is active; false after an error.
  bool resolve_subnet(const Document::VnetRuleText& rule, VnetRule& normalised) {
    const std::string& text = rule.id.value;
    std::string vnet_id = normalised.vnet_id();
    std::string written_vnet_id = text.substr(0, vnet_id.size());
    auto vnet = vnet_paths_.find(vnet_id);
    if (vnet == vnet_paths_.end()) {
      diagnostics_.error(rule.id.path, "virtual network " + written_vnet_id + " of subnet " + text +
                                           " is not described in " + host_path("virtualNetworks") +
                                           "; add it with its segment and subnets");
      return false;
    }
    const VirtualNetwork* described = policy_.find_virtual_network(vnet_id);
    const Subnet* subnet = described ? described->find_subnet(normalised.subnet_name()) : nullptr;
    std::string written_subnet = text.substr(text.size() - normalised.subnet_name().size());
    if (!subnet) {
      diagnostics_.error(
          rule.id.path,
          "subnet " + written_subnet + " of " + text + " is not described in " + vnet->second +
              ".subnets; add {\"name\": \"" + written_subnet +
              "\", \"addressPrefix\": \"<prefix>\", \"serviceEndpoints\": [\"Microsoft.KeyVault\"]}");
      return false;
    }
    if (subnet->has_key_vault_endpoint()) return true;
    if (!normalised.ignore_missing_vnet_service_endpoint) {
      diagnostics_.error(rule.id.path,
                         missing_service_endpoint_message(written_subnet, written_vnet_id));
      return false;
    }
    normalised.active = false;  // one warning for all of them (read_vnet_rules)
    return true;
  }

  void check_rule_counts() {
    ProfileLimits limits = policy_.limits();
    std::string source = policy_.host.max_ip_rules || policy_.host.max_vnet_rules
                             ? "in force"
                             : "of profile " + std::string(to_string(policy_.host.profile));
    if (policy_.ip_rules.size() > limits.max_ip_rules)
      diagnostics_.error(
          acls_path("ipRules"),
          std::to_string(policy_.ip_rules.size()) + " IP rules exceed the limit of " +
              std::to_string(limits.max_ip_rules) + " " + source +
              "; remove rules or raise the limit (vaultwall.limits.maxIpRules or --max-ip-rules)");
    if (policy_.vnet_rules.size() > limits.max_vnet_rules)
      diagnostics_.error(
          acls_path("virtualNetworkRules"),
          std::to_string(policy_.vnet_rules.size()) +
              " virtual network rules exceed the limit of " +
              std::to_string(limits.max_vnet_rules) + " " + source +
              "; remove rules or raise the limit (vaultwall.limits.maxVirtualNetworkRules or --max-vnet-rules)");
    size_t perimeter_rules = 0;
    if (policy_.host.perimeter)
      for (const PerimeterRule& rule : policy_.host.perimeter->inbound)
        perimeter_rules += rule.prefixes.empty() && rule.prefixes6.empty() ? 0 : 1;
    size_t all_rules = policy_.ip_rules.size() + policy_.vnet_rules.size() + perimeter_rules;
    if (all_rules > VW_MAX_RULES - 1)
      diagnostics_.error(acls_path("ipRules"),
                         std::to_string(all_rules) + " rules exceed the datapath's capacity of " +
                             std::to_string(VW_MAX_RULES - 1) + " rule ids");
  }

  void warn_rules_without_effect() {
    size_t rules = policy_.ip_rules.size() + policy_.vnet_rules.size();
    if (rules > 0 && policy_.default_action == DefaultAction::kAllow &&
        policy_.public_network_access == PublicNetworkAccess::kEnabled &&
        policy_.perimeter_effect() != PerimeterEffect::kEnforced)
      diagnostics_.warning(
          document_.default_action ? document_.default_action->path : acls_path("defaultAction"),
          "defaultAction is Allow: every source is allowed and the " + std::to_string(rules) +
              " rule(s) only credit counters; set Deny to enforce them");
  }

  // ---- the vaultwall section ----

  void read_ports() {
    if (!document_.ports) return;
    policy_.host.ports.clear();
    std::map<PortSpec, std::string> seen;
    for (const Located<std::string>& written : *document_.ports) {
      auto port = parse_port(written);
      if (!port) continue;
      auto [at, inserted] = seen.emplace(*port, written.path);
      if (!inserted) {
        diagnostics_.warning(written.path, in_quotes(written.value) + " is already listed at " +
                                               at->second + "; kept once");
        continue;
      }
      policy_.host.ports.push_back(*port);
    }
    std::string path = host_path("dataPlane.ports");
    if (policy_.host.ports.size() > VW_MAX_PORTS)
      diagnostics_.error(path, std::to_string(policy_.host.ports.size()) +
                                   " ports exceed the datapath's limit of " +
                                   std::to_string(VW_MAX_PORTS));
  }

  std::optional<PortSpec> parse_port(const Located<std::string>& written) {
    auto parts = split(written.value, '/');
    if (parts.size() != 2) {
      diagnostics_.error(
          written.path,
          in_quotes(written.value) +
              " is not a port; expected \"tcp/<port>\" or \"udp/<port>\" such as \"tcp/443\"");
      return std::nullopt;
    }
    std::string proto = lower(parts[0]);
    if (proto != "tcp" && proto != "udp") {
      diagnostics_.error(written.path, in_quotes(written.value) + ": protocol " +
                                           in_quotes(parts[0]) + " is not tcp or udp");
      return std::nullopt;
    }
    const std::string& number = parts[1];
    bool digits = !number.empty() && number.size() <= 5 && number[0] != '0' &&
                  std::all_of(number.begin(), number.end(),
                              [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (!digits || std::stoi(number) > 65535) {
      diagnostics_.error(written.path, in_quotes(written.value) + ": port " + in_quotes(number) +
                                           " is not a number 1-65535");
      return std::nullopt;
    }
    return PortSpec{static_cast<uint8_t>(proto == "tcp" ? 6 : 17),
                    static_cast<uint16_t>(std::stoi(number))};
  }

  // A single IPv4 address (no prefix), or nullopt after an error.
  std::optional<uint32_t> parse_single_address(const Located<std::string>& written) {
    if (looks_like_ipv6(written.value)) {
      diagnostics_.error(written.path, written.value + ": only IPv4 addresses are supported");
      return std::nullopt;
    }
    auto address = parse_ipv4(written.value);
    if (!address)
      diagnostics_.error(written.path, in_quotes(written.value) + " is not a single IPv4 address" +
                                           (written.value.find('/') != std::string::npos
                                                ? std::string(" (list addresses, not ranges)")
                                                : ": " + ipv4_syntax_problem(written.value)));
    return address;
  }

  // A destination the vault is reached at: a unicast host address.
  std::optional<uint32_t> parse_host_address(const Located<std::string>& written,
                                             std::string_view what) {
    auto address = parse_single_address(written);
    if (!address) return std::nullopt;
    for (const ForbiddenRange& range : special_ranges()) {
      if (range.why_destination.empty() || !range.prefix.contains(*address)) continue;
      diagnostics_.error(written.path, written.value + " is not a unicast host address (" +
                                           range_text(range.prefix) + ": " +
                                           std::string(range.why_destination) + "); " +
                                           std::string(what));
      return std::nullopt;
    }
    return address;
  }

  // A destination the vault is reached at over IPv6: one unicast address
  // (any scope: a vault may sit on unique local or link-local space).
  std::optional<Ipv6Address> parse_host_address6(const Located<std::string>& written,
                                                 std::string_view what) {
    auto address = parse_ipv6(written.value);
    if (!address) {
      diagnostics_.error(written.path, in_quotes(written.value) + " is not a single IPv6 address" +
                                           (written.value.find('/') != std::string::npos
                                                ? std::string(" (list addresses, not ranges)")
                                                : std::string()));
      return std::nullopt;
    }
    static const std::pair<Ipv6Prefix, const char*> kNotHost[] = {
        {*parse_ipv6_prefix("::/128"), "the unspecified address"},
        {*parse_ipv6_prefix("::1/128"), "loopback: never the destination of a packet from the network"},
        {*parse_ipv6_prefix("ff00::/8"), "multicast"},
        {*parse_ipv6_prefix("::ffff:0:0/96"),
         "IPv4-mapped: such packets are decided as IPv4; write the IPv4 address"},
    };
    for (const auto& [range, why] : kNotHost) {
      if (!range.contains(*address)) continue;
      diagnostics_.error(written.path, written.value + " is not a unicast host address (" +
                                           range.cidr() + ": " + why + "); " + std::string(what));
      return std::nullopt;
    }
    return address;
  }

  // Records where an address was first listed; false (after a diagnostic)
  // when it was listed before.
  template <class Address>
  bool first_listing(const Located<std::string>& entry, const Address& address,
                     std::map<Address, std::string>& seen) {
    auto [at, inserted] = seen.emplace(address, entry.path);
    if (inserted) return true;
    if (at->second.rfind(entry.path.substr(0, entry.path.rfind('[')), 0) == 0)
      diagnostics_.warning(entry.path,
                           entry.value + " is already listed at " + at->second + "; kept once");
    else
      diagnostics_.error(entry.path,
                         entry.value + " is also listed at " + at->second +
                             "; an address is either a data-plane address or a private endpoint");
    return false;
  }

  void read_endpoints() {
    std::map<uint32_t, std::string> seen;
    std::map<Ipv6Address, std::string> seen6;
    const std::string_view addresses_what =
        "list the vault's own addresses, or leave dataPlane.addresses out to protect every destination (broadcast and multicast are protected anyway, see dataPlane.listen)";
    const std::string_view endpoint_what = "list the private endpoint's own address";
    for (const Located<std::string>& entry : document_.addresses) {
      if (looks_like_ipv6(entry.value)) {
        auto address6 = parse_host_address6(entry, addresses_what);
        if (address6 && first_listing(entry, *address6, seen6))
          policy_.host.addresses6.push_back(*address6);
        continue;
      }
      auto address = parse_host_address(entry, addresses_what);
      if (address && first_listing(entry, *address, seen))
        policy_.host.addresses.push_back(*address);
    }
    for (const Document::PrivateEndpointText& entry : document_.private_endpoints) {
      std::string vnet = entry.virtual_network ? lower(entry.virtual_network->value) : "";
      if (looks_like_ipv6(entry.address.value)) {
        auto address6 = parse_host_address6(entry.address, endpoint_what);
        if (address6 && first_listing(entry.address, *address6, seen6))
          policy_.host.private_endpoints6.push_back({*address6, vnet});
        continue;
      }
      auto address = parse_host_address(entry.address, endpoint_what);
      if (!address || !first_listing(entry.address, *address, seen)) continue;
      PrivateEndpoint endpoint{*address, ""};
      if (entry.virtual_network) endpoint.virtual_network = lower(entry.virtual_network->value);
      policy_.host.private_endpoints.push_back(endpoint);
    }
    for (size_t listed : {seen.size(), seen6.size()})
      if (listed > VW_MAX_ENDPOINTS)
        diagnostics_.error(host_path("dataPlane.addresses"),
                           std::to_string(listed) +
                               " addresses and private endpoints of one family exceed the datapath's limit of " +
                               std::to_string(VW_MAX_ENDPOINTS));
    read_listen();
    read_tunnels();
  }

  void read_listen() {
    if (!document_.listen) return;
    const Located<std::string>& written = *document_.listen;
    auto listen = parse_listen(written.value);
    if (!listen) {
      diagnostics_.error(
          written.path,
          in_quotes(written.value) +
              " is not a valid listen; expected \"any\" (the vault's sockets are bound to 0.0.0.0) or \"addresses\" (only to dataPlane.addresses)");
      return;
    }
    policy_.host.listen = *listen;
    if (*listen == Listen::kAddresses && document_.addresses.empty())
      diagnostics_.error(
          written.path,
          "\"addresses\" needs the vault's addresses in vaultwall.dataPlane.addresses (with none listed, every destination is protected)");
  }

  void read_tunnels() {
    std::map<std::string_view, std::string> seen;  // name -> where first listed
    for (const Located<std::string>& written : document_.tunnels) {
      const TunnelKind* tunnel = find_tunnel(written.value);
      if (!tunnel) {
        std::string known;
        for (const TunnelKind& kind : tunnel_kinds())
          known += (known.empty() ? "" : ", ") + std::string(kind.name);
        diagnostics_.error(written.path,
                           in_quotes(written.value) +
                               " is not a tunnel vaultwall treats as data plane; known: " + known +
                               " (or their \"udp/PORT\" / \"ip/PROTOCOL\")");
        continue;
      }
      auto [at, inserted] = seen.emplace(tunnel->name, written.path);
      if (!inserted) {
        diagnostics_.warning(written.path, in_quotes(written.value) + " is already declared at " +
                                               at->second + "; kept once");
        continue;
      }
      for (const PortSpec& port : policy_.host.ports)
        if (tunnel->port && port.proto == tunnel->proto && port.port == tunnel->port)
          diagnostics_.error(written.path, in_quotes(written.value) + " declares " +
                                               std::string(tunnel->description) +
                                               " filtered on its own device, but " + port.text() +
                                               " is a protected port; keep one of them");
      policy_.host.tunnels.push_back(std::string(tunnel->name));
    }
  }

  // A private endpoint bound to a virtual network names one of the section.
  void bind_private_endpoints() {
    for (size_t i = 0; i < document_.private_endpoints.size(); ++i) {
      const auto& written = document_.private_endpoints[i].virtual_network;
      if (!written) continue;
      std::string id = lower(written->value);
      if (!policy_.find_virtual_network(id))
        diagnostics_.error(
            written->path,
            written->value + " is not a virtual network of " + host_path("virtualNetworks") +
                "; describe it there (id and segment) or leave virtualNetwork out to admit the private endpoint from any of them");
    }
    bool any_private_endpoint =
        !policy_.host.private_endpoints.empty() || !policy_.host.private_endpoints6.empty();
    if (any_private_endpoint && policy_.host.virtual_networks.empty())
      diagnostics_.warning(
          host_path("privateEndpoints"),
          "no virtual network is described, so no packet can come from one: traffic to the private endpoints gets the decision of any protected address (a private endpoint is reached only through a virtual network; describe it in " +
              host_path("virtualNetworks") + " with its segment)");
  }

  // A CIDR prefix of a subnet or custom service: any IPv4 space (private is
  // what subnets are made of), no host bits.
  std::optional<Ipv4Prefix> parse_network(const Located<std::string>& written) {
    auto prefix = parse_ipv4_prefix(written.value);
    if (!prefix) {
      diagnostics_.error(written.path, in_quotes(written.value) +
                                           " is not a valid IPv4 CIDR range: " +
                                           ipv4_syntax_problem(written.value));
      return std::nullopt;
    }
    if (prefix->has_host_bits()) {
      diagnostics_.error(written.path, written.value +
                                           " has host bits set; use the network address " +
                                           prefix->network().cidr());
      return std::nullopt;
    }
    return prefix;
  }

  // An IPv6 network as written anywhere (IP rule, subnet, trusted prefix):
  // valid syntax, no host bits; nullopt after saying why not. What each
  // place refuses on top (non-global ranges, ...) is its caller's.
  std::optional<Ipv6Prefix> parse_network6(const Located<std::string>& written) {
    auto prefix = parse_ipv6_prefix(written.value);
    if (!prefix) {
      diagnostics_.error(written.path, in_quotes(written.value) +
                                           " is not a valid IPv6 address or prefix; write it as 2001:db8::/32");
      return std::nullopt;
    }
    if (prefix->has_host_bits()) {
      diagnostics_.error(written.path, written.value + " has host bits set; the network is " +
                                           prefix->network().cidr());
      return std::nullopt;
    }
    return prefix;
  }

  void read_virtual_networks() {
    std::map<std::pair<std::string, uint16_t>, std::string> segments;
    for (const Document::VirtualNetworkText& written : document_.virtual_networks) {
      VirtualNetwork vnet;
      vnet.id = lower(written.id.value);
      if (!written.id.value.empty() && !has_resource_shape(vnet.id, false)) {
        diagnostics_.error(written.id.path, in_quotes(written.id.value) +
                                                " is not a virtual network resource id (expected " +
                                                std::string(kVnetIdShape) + ")");
        continue;
      }
      if (written.id.value.empty()) continue;  // reported by the parser
      auto [known, inserted] = vnet_paths_.emplace(vnet.id, written.path);
      if (!inserted) {
        diagnostics_.error(written.id.path, written.id.value + " is already described at " +
                                                known->second +
                                                "; describe each virtual network once");
        continue;
      }
      read_segment(written, vnet.segment, segments);
      read_subnets(written, vnet);
      policy_.host.virtual_networks.push_back(std::move(vnet));
    }
    if (segments.size() > VW_MAX_SEGMENTS)
      diagnostics_.error(host_path("virtualNetworks"),
                         std::to_string(segments.size()) +
                             " segments exceed the datapath's limit of " +
                             std::to_string(VW_MAX_SEGMENTS));
  }

  void read_segment(const Document::VirtualNetworkText& written, Segment& segment,
                    std::map<std::pair<std::string, uint16_t>, std::string>& segments) {
    if (written.interface) {
      if (valid_interface_name(written.interface->value))
        segment.interface = written.interface->value;
      else
        diagnostics_.error(
            written.interface->path,
            in_quotes(written.interface->value) +
                " is not a valid interface name (1-15 characters, no '/', ':' or spaces)");
    }
    if (written.vlan) {
      if (written.vlan->value >= 1 && written.vlan->value <= 4094)
        segment.vlan = static_cast<uint16_t>(written.vlan->value);
      else
        diagnostics_.error(written.vlan->path, "vlan " + std::to_string(written.vlan->value) +
                                                   " is out of range 1-4094");
    }
    if (!segment.interface && !segment.vlan) return;
    auto key = std::pair(segment.interface.value_or(""), segment.vlan.value_or(0));
    auto [other, inserted] = segments.emplace(key, written.path);
    if (!inserted)
      diagnostics_.error(written.segment_path, "segment " + segment_text(segment) +
                                                   " is already used by " + other->second +
                                                   "; each virtual network needs its own segment");
  }

  void read_subnets(const Document::VirtualNetworkText& written, VirtualNetwork& vnet) {
    std::map<std::string, std::string> names;
    std::vector<std::pair<Ipv4Prefix, std::string>> all_prefixes;
    std::vector<std::pair<Ipv6Prefix, std::string>> all_prefixes6;
    for (const Document::SubnetText& subnet_text : written.subnets) {
      Subnet subnet;
      subnet.name = lower(subnet_text.name.value);
      if (subnet_text.name.value.empty()) continue;  // reported by the parser
      auto [other, inserted] = names.emplace(subnet.name, subnet_text.path);
      if (!inserted) {
        diagnostics_.error(subnet_text.name.path, "subnet " + subnet_text.name.value +
                                                      " is already described at " + other->second);
        continue;
      }
      std::set<Ipv4Prefix> seen;
      std::set<Ipv6Prefix> seen6;
      for (const Located<std::string>& prefix_text : subnet_text.prefixes) {
        if (looks_like_ipv6(prefix_text.value)) {
          auto prefix6 = parse_subnet_prefix6(prefix_text);
          if (!prefix6 || !seen6.insert(*prefix6).second) continue;
          subnet.prefixes6.push_back(*prefix6);
          all_prefixes6.emplace_back(*prefix6, prefix_text.path);
          continue;
        }
        auto prefix = parse_network(prefix_text);
        if (!prefix || !seen.insert(*prefix).second) continue;
        subnet.prefixes.push_back(*prefix);
        all_prefixes.emplace_back(*prefix, prefix_text.path);
      }
      if (subnet_text.prefixes.empty())
        diagnostics_.error(join(subnet_text.path, "addressPrefix"),
                           "missing: subnet " + subnet_text.name.value +
                               " needs its addressPrefix (or addressPrefixes)");
      std::set<std::string> endpoints;
      for (const Located<std::string>& endpoint : subnet_text.service_endpoints)
        if (endpoints.insert(lower(endpoint.value)).second)
          subnet.service_endpoints.push_back(endpoint.value);
      vnet.subnets.push_back(std::move(subnet));
    }
    auto refuse_overlap = [&](const auto& outer, const auto& inner) {
      diagnostics_.error(inner.second, inner.first.cidr() + " overlaps " + outer.first.cidr() +
                                           " (" + outer.second +
                                           "); subnets of one virtual network cannot overlap");
    };
    sweep_nested(all_prefixes, refuse_overlap);
    sweep_nested(all_prefixes6, refuse_overlap);
  }

  // A subnet's IPv6 prefix: any IPv6 space but IPv4-mapped (a mapped source
  // is decided as its IPv4 address, so such a prefix would match nothing).
  std::optional<Ipv6Prefix> parse_subnet_prefix6(const Located<std::string>& written) {
    auto prefix = parse_network6(written);
    if (!prefix) return std::nullopt;
    static const Ipv6Prefix kMapped = *parse_ipv6_prefix("::ffff:0:0/96");
    if (prefix->overlaps(kMapped)) {
      diagnostics_.error(written.path,
                         written.value +
                             " is IPv4-mapped (::ffff:0:0/96): such sources are decided as their IPv4 address; write the IPv4 address as the subnet's IPv4 prefix");
      return std::nullopt;
    }
    return prefix;
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path + "." + std::string(key);
  }

  void read_trusted_services() {
    TrustedServices& trusted = policy_.host.trusted;
    std::string path = "vaultwall.trustedServices";
    if (document_.service_tags_path) {
      trusted.service_tags_path = document_.service_tags_path->value;
      if (trusted.service_tags_path.empty())
        diagnostics_.error(document_.service_tags_path->path,
                           "the Service Tags file path is empty");
    }
    std::map<std::string, std::string> names;  // lower-cased -> path
    for (const Located<std::string>& service : document_.trusted_services) {
      if (service.value.empty()) {
        diagnostics_.error(service.path, "service tag name is empty");
        continue;
      }
      auto [other, inserted] = names.emplace(lower(service.value), service.path);
      if (!inserted) {
        diagnostics_.warning(
            service.path, service.value + " is already listed at " + other->second + "; kept once");
        continue;
      }
      trusted.services.push_back(service.value);
    }
    // Trusted services of Key Vault's list that Azure publishes no tag for
    // cannot be admitted at L3: said once, and they need no file.
    std::vector<std::string> tagged, untagged;
    for (const std::string& name : trusted.services) {
      const TrustedServiceEntry* entry = find_trusted_service(name);
      (entry && entry->service_tag.empty() ? untagged : tagged).push_back(name);
    }
    if (!tagged.empty() && !document_.service_tags_path && !options_.policy_only)
      diagnostics_.error(
          path + ".services",
          "service tags " + tagged.front() + (tagged.size() > 1 ? ", ..." : "") +
              " need a Service Tags file: set vaultwall.trustedServices.serviceTags (or serviceTags in the host facts) to Azure's ServiceTags_Public JSON");
    if (!untagged.empty()) {
      std::string names_text;
      for (const std::string& name : untagged) names_text += (names_text.empty() ? "" : ", ") + name;
      diagnostics_.warning(
          path + ".services",
          std::to_string(untagged.size()) +
              " trusted service(s) have no published service tag, so vaultwall cannot admit them at L3 (Azure admits them by identity): " +
              names_text +
              "; give their prefixes as trustedServices.custom entries if you know them");
    }
    for (const Document::CustomServiceText& custom : document_.custom_services)
      read_custom(custom, names);
    size_t count = trusted.services.size() + trusted.custom.size();
    if (count > VW_MAX_SERVICES - 1)
      diagnostics_.error(path, std::to_string(count) +
                                   " trusted services exceed the datapath's limit of " +
                                   std::to_string(VW_MAX_SERVICES - 1));
    if (count > 0 && policy_.bypass == Bypass::kNone)
      diagnostics_.warning(
          path,
          "bypass is None: the " + std::to_string(count) +
              " trusted service(s) are not enforced; set bypass to AzureServices to trust them");
    bool firewall_on = policy_.default_action == DefaultAction::kDeny ||
                       policy_.public_network_access != PublicNetworkAccess::kEnabled;
    if (count == 0 && policy_.bypass == Bypass::kAzureServices && firewall_on &&
        policy_.public_network_access != PublicNetworkAccess::kSecuredByPerimeter)
      diagnostics_.warning(
          document_.bypass ? document_.bypass->path : acls_path("bypass"),
          "bypass is AzureServices, but no trusted service is chosen: Azure admits its trusted services by identity, vaultwall only by address, so none is admitted here; list the ones this vault needs in vaultwall.trustedServices.services (names of Key Vault's list or service tags)");
  }

  // ---- vaultwall.perimeter (network security perimeter) ----

  void read_perimeter() {
    bool secured = policy_.public_network_access == PublicNetworkAccess::kSecuredByPerimeter;
    if (!document_.perimeter) {
      if (secured)
        diagnostics_.error(
            document_.public_network_access->path,
            "SecuredByPerimeter: the network security perimeter's access rules decide, and they are not in this document; give the perimeter profile the vault is associated with as vaultwall.perimeter ({\"accessMode\": \"Enforced\", \"accessRules\": [...]}, e.g. from az network perimeter profile access-rule list), or {\"accessRules\": []} when no perimeter rule admits anyone");
      return;
    }
    const Document::PerimeterText& text = *document_.perimeter;
    Perimeter perimeter;
    if (text.access_mode) {
      if (auto mode = parse_perimeter_mode(text.access_mode->value))
        perimeter.mode = *mode;
      else
        diagnostics_.error(text.access_mode->path,
                           in_quotes(text.access_mode->value) +
                               " is not an access mode vaultwall enforces; expected Transition (formerly Learning) or Enforced");
    }
    std::map<std::string, std::string> names;  // lower-cased -> path
    FirstSeen first_seen;
    std::vector<std::string> outbound;
    for (const Document::AccessRuleText& rule : text.rules) {
      if (rule.name.value.empty()) continue;  // reported by the parser
      auto [other, inserted] = names.emplace(lower(rule.name.value), rule.name.path);
      if (!inserted) {
        diagnostics_.error(rule.name.path, in_quotes(rule.name.value) + " is already the name of " +
                                               other->second + "; access rules have unique names");
        continue;
      }
      if (rule.direction && !parse_direction(*rule.direction)) continue;
      if (rule.direction && lower(rule.direction->value) == "outbound") {
        outbound.push_back(rule.name.value);
        continue;
      }
      PerimeterRule enforced{rule.name.value, {}, {}, {}, {}};
      for (const Located<std::string>& id : rule.subscriptions) enforced.subscriptions.push_back(id.value);
      for (const Located<std::string>& id : rule.perimeters) enforced.perimeters.push_back(id.value);
      for (const Located<std::string>& written : rule.address_prefixes) {
        if (looks_like_ipv6(written.value)) {
          if (auto prefix = check_admitting_prefix6(written);
              prefix && first_seen.fresh(*prefix, written, diagnostics_))
            enforced.prefixes6.push_back(*prefix);
        } else if (auto prefix = check_admitting_prefix(written, "a perimeter rule");
                   prefix && first_seen.fresh(*prefix, written, diagnostics_)) {
          enforced.prefixes.push_back(*prefix);
        }
      }
      perimeter.inbound.push_back(std::move(enforced));
    }
    warn_perimeter(text, perimeter, outbound);
    policy_.host.perimeter = std::move(perimeter);
  }

  // Where each perimeter prefix was first written: a prefix of either
  // family admitted by two access rules (or twice by one) is kept once.
  struct FirstSeen {
    std::map<Ipv4Prefix, std::string> ipv4;
    std::map<Ipv6Prefix, std::string> ipv6;
    auto& of(const Ipv4Prefix&) { return ipv4; }
    auto& of(const Ipv6Prefix&) { return ipv6; }
    template <class Prefix>
    bool fresh(const Prefix& prefix, const Located<std::string>& written,
               Diagnostics& diagnostics) {
      auto [first, inserted] = of(prefix).emplace(prefix, written.path);
      if (!inserted)
        diagnostics.warning(written.path, written.value + " is already admitted at " +
                                              first->second + "; kept once");
      return inserted;
    }
  };

  bool parse_direction(const Located<std::string>& direction) {
    std::string value = lower(direction.value);
    if (value == "inbound" || value == "outbound") return true;
    diagnostics_.error(direction.path, in_quotes(direction.value) +
                                           " is not a direction; expected Inbound or Outbound");
    return false;
  }

  // A prefix that admits sources as an IP rule does: public, no host bits.
  std::optional<Ipv4Prefix> check_admitting_prefix(const Located<std::string>& written,
                                                   std::string_view what) {
    auto prefix = parse_network(written);
    if (!prefix) return std::nullopt;
    if (auto reason = forbidden_range_reason(*prefix)) {
      diagnostics_.error(written.path, written.value + " " + *reason + " (" + std::string(what) +
                                           " admits sources as an IP rule does)");
      return std::nullopt;
    }
    return prefix;
  }

  // An IPv6 prefix that admits sources as an IPv6 IP rule does (the same
  // checker: syntax, host bits, non-global ranges by name), accepted under
  // every profile: Azure's perimeter access rules take IPv6 prefixes.
  std::optional<Ipv6Prefix> check_admitting_prefix6(const Located<std::string>& written) {
    auto prefix = parse_network6(written);
    if (!prefix) return std::nullopt;
    if (auto range = ipv6_non_global_range(*prefix)) {
      diagnostics_.error(
          written.path,
          written.value + " " + *range +
              "; only public addresses are allowed (a perimeter rule admits sources as an IP rule does)");
      return std::nullopt;
    }
    return prefix;
  }

  // What the perimeter cannot do at L3, and what it overrides, said once each.
  void warn_perimeter(const Document::PerimeterText& text, const Perimeter& perimeter,
                      const std::vector<std::string>& outbound) {
    auto joined = [](const std::vector<std::string>& names) {
      std::string out;
      for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
      return out;
    };
    std::string rules_path = text.path + ".accessRules";
    std::vector<std::string> identity;
    for (const PerimeterRule& rule : perimeter.inbound)
      if (rule.admits_by_identity()) identity.push_back(rule.name);
    if (!identity.empty())
      diagnostics_.warning(
          rules_path, std::to_string(identity.size()) +
                          " inbound rule(s) admit by subscription or by perimeter, which is identity: vaultwall decides by address and cannot enforce them (callers they admit are denied here unless an address rule admits them): " +
                          joined(identity));
    if (!outbound.empty())
      diagnostics_.warning(rules_path, std::to_string(outbound.size()) +
                                           " outbound rule(s) ignored (Key Vault makes no outbound calls to filter): " +
                                           joined(outbound));
    Policy probe;
    probe.public_network_access = policy_.public_network_access;
    probe.host.perimeter = perimeter;
    if (probe.perimeter_effect() != PerimeterEffect::kEnforced) return;
    size_t overridden = policy_.ip_rules.size() + policy_.vnet_rules.size();
    if (overridden > 0)
      diagnostics_.warning(text.path,
                           "the perimeter is enforced: the vault's " + std::to_string(overridden) +
                               " IP and virtual-network rule(s) are overridden (kept in the document, not enforced)");
    size_t trusted = policy_.host.trusted.services.size() + policy_.host.trusted.custom.size();
    if (trusted > 0 && policy_.bypass == Bypass::kAzureServices)
      diagnostics_.warning(text.path,
                           "the perimeter is enforced: the trusted-services bypass is overridden, so the " +
                               std::to_string(trusted) + " trusted service(s) are not admitted");
  }

  void read_custom(const Document::CustomServiceText& custom,
                   std::map<std::string, std::string>& names) {
    const std::string& name = custom.name.value;
    if (name.empty()) return;  // reported by the parser
    if (name.size() > VW_SERVICE_NAME_LEN - 1) {
      diagnostics_.error(custom.name.path, in_quotes(name) + " is longer than " +
                                               std::to_string(VW_SERVICE_NAME_LEN - 1) +
                                               " characters");
      return;
    }
    auto [other, inserted] = names.emplace(lower(name), custom.path);
    if (!inserted) {
      diagnostics_.error(custom.name.path, in_quotes(name) + " is already used by " +
                                               other->second +
                                               "; give each trusted service its own name");
      return;
    }
    CustomTrustedService service{name, {}, {}};
    std::set<Ipv4Prefix> seen;
    std::set<Ipv6Prefix> seen6;
    for (const Located<std::string>& written : custom.prefixes) {
      if (looks_like_ipv6(written.value)) {  // a vaultwall entry: both families
        if (auto prefix6 = trusted_ipv6_prefix(written); prefix6 && seen6.insert(*prefix6).second)
          service.prefixes6.push_back(*prefix6);
        continue;
      }
      auto prefix = parse_network(written);
      if (!prefix) continue;
      if (auto reason = untrustable_prefix_reason(*prefix)) {
        diagnostics_.error(written.path, written.value + " " + *reason);
        continue;
      }
      if (seen.insert(*prefix).second) service.prefixes.push_back(*prefix);
    }
    if (service.prefixes.empty() && service.prefixes6.empty() && !custom.prefixes.empty()) return;
    policy_.host.trusted.custom.push_back(std::move(service));
  }

  // An IPv6 prefix of a custom trusted service, or nullopt after saying why
  // it cannot be one.
  std::optional<Ipv6Prefix> trusted_ipv6_prefix(const Located<std::string>& written) {
    auto prefix = parse_network6(written);
    if (!prefix) return std::nullopt;
    if (auto reason = untrustable_prefix6_reason(*prefix)) {
      diagnostics_.error(written.path, written.value + " " + *reason);
      return std::nullopt;
    }
    return prefix;
  }

  const Document& document_;
  const ValidateOptions& options_;
  Diagnostics& diagnostics_;
  Policy policy_;
  std::map<std::string, std::string> vnet_paths_;  // lower-cased vnet id -> path
};

}  // namespace

std::optional<std::string> forbidden_range_reason(const Ipv4Prefix& prefix) {
  auto match = forbidden_match(prefix);
  if (!match) return std::nullopt;
  if (!match->range->is_private) match->text += "; only public addresses are allowed in IP rules";
  return match->text;
}

std::optional<std::string> untrustable_prefix_reason(const Ipv4Prefix& prefix) {
  if (prefix.length < kShortestTrustedPrefix)
    return "is broader than /" + std::to_string(kShortestTrustedPrefix) + " (it covers " +
           (prefix.length == 0
                ? std::string("every IPv4 address")
                : std::to_string(uint64_t{1} << (32 - prefix.length)) + " addresses") +
           "); trusted prefixes are a service's published ranges, /" +
           std::to_string(kShortestTrustedPrefix) + " or longer";
  if (auto match = forbidden_match(prefix))
    return match->text + "; a trusted service's prefixes must be public addresses";
  return std::nullopt;
}

std::optional<std::string> untrustable_prefix6_reason(const Ipv6Prefix& prefix) {
  if (prefix.length < kShortestTrustedPrefix6)
    return "is broader than /" + std::to_string(kShortestTrustedPrefix6) +
           "; trusted prefixes are a service's published ranges";
  if (auto range = ipv6_non_global_range(prefix))
    return *range + "; a trusted service's prefixes must be public addresses";
  return std::nullopt;
}

std::string missing_service_endpoint_message(std::string_view subnet_names,
                                             std::string_view vnet_id) {
  return "SubnetsHaveNoServiceEndpointsConfigured: Subnets " + std::string(subnet_names) +
         " of virtual network " + std::string(vnet_id) +
         " do not have ServiceEndpoints for Microsoft.KeyVault resources configured. Add Microsoft.KeyVault to subnet's ServiceEndpoints collection before trying to ACL Microsoft.KeyVault resources to these subnets.";
}

Checked<Policy> validate_document(const Document& document, const ValidateOptions& options) {
  Diagnostics diagnostics;
  Policy policy = Validator(document, options, diagnostics).run();
  Checked<Policy> result;
  if (!diagnostics.has_errors()) result.value = std::move(policy);
  result.diagnostics = diagnostics.take();
  return result;
}

}  // namespace vaultwall
