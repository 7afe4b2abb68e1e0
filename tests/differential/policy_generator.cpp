#include "policy_generator.h"

#include <algorithm>
#include <set>

#include "vaultwall/policy/ipv4.h"
#include "vaultwall/policy/ipv6.h"
#include "vaultwall/policy/validate.h"

namespace vaultwall::difftest {
namespace {

using nlohmann::json;

class PolicyGenerator {
 public:
  PolicyGenerator(std::mt19937_64& rng, const HostInterfaces& interfaces)
      : rng_(rng), interfaces_(interfaces) {}

  json run() {
    std::string profile = pick<std::string>({"akv-2018", "akv-current", "dualstack", "DualStack"});
    current_profile_ = profile != "akv-2018";  // akv-current's limits: no /31 refusal
    dualstack_ = profile != "akv-2018" && profile != "akv-current";
    json acls = {{"defaultAction", pick<std::string>({"Allow", "Deny", "deny"})},
                 {"bypass", pick<std::string>({"AzureServices", "None"})}};
    json host = {{"profile", profile},
                 {"mode", pick<std::string>({"enforce", "audit"})}};
    add_data_plane(host);
    add_virtual_networks(host, acls);
    add_private_endpoints(host);
    add_ip_rules(acls);
    add_trusted_services(host);
    bool perimeter = chance(0.25);
    if (perimeter) add_perimeter(host);
    std::string access = perimeter && chance(0.3) ? "SecuredByPerimeter"
                                                  : pick<std::string>({"Enabled", "Disabled"});
    json doc = {{"properties", {{"publicNetworkAccess", access}, {"networkAcls", acls}}},
                {"vaultwall", host}};
    return doc;
  }

 private:
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  uint32_t uniform(uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng_);
  }
  template <class T>
  T pick(std::initializer_list<T> options) {
    return *(options.begin() + uniform(0, static_cast<uint32_t>(options.size() - 1)));
  }

  // Prefix lengths biased to the edges: the widest public blocks, byte
  // boundaries and their neighbours, single hosts.
  uint8_t edge_biased_length(uint8_t shortest) {
    if (chance(0.6)) {
      uint8_t l = pick<uint8_t>({8, 9, 15, 16, 17, 23, 24, 25, 28, 30, 31, 32});
      return std::max(l, shortest);
    }
    return static_cast<uint8_t>(uniform(shortest, 32));
  }

  uint32_t random_public_address() {
    for (;;) {
      uint32_t a = static_cast<uint32_t>(rng_());
      if (!forbidden_range_reason(Ipv4Prefix{a, 32})) return a;
    }
  }

  void add_data_plane(json& host) {
    json plane = json::object();
    if (chance(0.7)) {
      std::set<std::string> ports;
      uint32_t n = uniform(1, 3);
      while (ports.size() < n)
        ports.insert(
            pick<std::string>({"tcp/443", "tcp/8443", "udp/443", "udp/53", "tcp/1", "TCP/65535"}));
      plane["ports"] = std::vector<std::string>(ports.begin(), ports.end());
    }
    std::vector<std::string> pool = {"192.0.2.10", "192.0.2.11", "198.51.100.20", "203.0.113.1"};
    std::shuffle(pool.begin(), pool.end(), rng_);
    uint32_t addresses = chance(0.4) ? 0 : uniform(1, 2);
    std::vector<std::string> a(pool.begin(), pool.begin() + addresses);
    if (chance(0.2)) a.push_back(pick<std::string>({"2001:db8:10::10", "fd00:10::10"}));
    if (!a.empty()) plane["addresses"] = a;
    if (!a.empty() && chance(0.2))
      plane["listen"] = pick<std::string>({"addresses", "Addresses"});
    else if (chance(0.2))
      plane["listen"] = "any";
    if (chance(0.3)) plane["tunnels"] = declared_tunnels();
    if (!plane.empty()) host["dataPlane"] = plane;
    endpoint_pool_ = {"10.20.0.5", "10.20.0.6", pool[3]};
  }

  // Some tunnels declared, by name or by what they are.
  json declared_tunnels() {
    std::vector<std::vector<std::string>> spellings = {
        {"ipip", "ip/4"}, {"6in4", "ip/41"},       {"gre", "ip/47", "GRE"},
        {"esp", "ip/50"}, {"ah", "ip/51"},         {"ipcomp", "ip/108"}, {"l2tp", "ip/115"},
        {"mpls-in-ip"},   {"vxlan", "udp/4789"},   {"vxlan-linux", "udp/8472"},
        {"vxlan-gpe"},    {"geneve", "udp/6081"},  {"wireguard", "udp/51820"},
        {"esp-in-udp"},   {"l2tp-udp", "udp/1701"}};
    json out = json::array();
    for (const auto& names : spellings)
      if (chance(0.3)) out.push_back(names[uniform(0, static_cast<uint32_t>(names.size() - 1))]);
    return out;
  }

  // Private endpoints, some bound to one of the virtual networks.
  void add_private_endpoints(json& host) {
    uint32_t count = chance(0.5) ? 0 : uniform(1, 2);
    json endpoints = json::array();
    for (uint32_t i = 0; i < count; i++) {
      if (vnet_ids_.empty() || chance(0.5)) {
        endpoints.push_back(endpoint_pool_[i]);
        continue;
      }
      std::string vnet = vnet_ids_[uniform(0, static_cast<uint32_t>(vnet_ids_.size() - 1))];
      if (chance(0.2)) std::transform(vnet.begin(), vnet.end(), vnet.begin(), ::toupper);
      endpoints.push_back({{"address", endpoint_pool_[i]}, {"virtualNetwork", vnet}});
    }
    // IPv6 private endpoints (vw_endpoints6_N), bound or not.
    for (const char* address : {"fd00:20::5", "2001:db8:20::6"}) {
      if (!chance(0.25)) continue;
      if (vnet_ids_.empty() || chance(0.5)) {
        endpoints.push_back(address);
        continue;
      }
      endpoints.push_back(
          {{"address", address},
           {"virtualNetwork", vnet_ids_[uniform(0, static_cast<uint32_t>(vnet_ids_.size() - 1))]}});
    }
    if (!endpoints.empty()) host["privateEndpoints"] = endpoints;
  }

  // A segment no other virtual network of this document uses.
  std::optional<json> unused_segment(std::set<std::pair<std::string, int>>& used) {
    for (int attempt = 0; attempt < 20; attempt++) {
      std::string iface;
      int vlan = 0;
      switch (uniform(0, 2)) {
        case 0:  // interface only: untagged frames on it
          iface = interfaces_.names[uniform(0, interfaces_.names.size() - 1)];
          break;
        case 1:  // VLAN on any interface
          vlan = pick<int>({1, 2, 100, 4094, static_cast<int>(uniform(1, 4094))});
          break;
        default:  // VLAN on one interface
          iface = interfaces_.names[uniform(0, interfaces_.names.size() - 1)];
          vlan = pick<int>({1, 2, 100, 4094, static_cast<int>(uniform(1, 4094))});
      }
      if (!used.insert({iface, vlan}).second) continue;
      json segment = json::object();
      if (!iface.empty()) segment["interface"] = iface;
      if (vlan) segment["vlan"] = vlan;
      return segment;
    }
    return std::nullopt;
  }

  // Subnet prefixes: private space mostly, sometimes the whole internet, a
  // single host, or a public block that an IP rule may also cover (IP rules
  // must never match traffic from a virtual network).
  Ipv4Prefix subnet_prefix(int vnet) {
    switch (uniform(0, 9)) {
      case 0:
        return {0, 0};
      case 1:
        return Ipv4Prefix{random_public_address(), 32}.network();
      case 2: {
        Ipv4Prefix p{anchor(), edge_biased_length(8)};
        return p.network();
      }
      default: {
        uint8_t length = static_cast<uint8_t>(uniform(16, 32));
        uint32_t base = (10u << 24) | (static_cast<uint32_t>(vnet % 4) << 16) |
                        (static_cast<uint32_t>(rng_()) & 0xffff);
        return Ipv4Prefix{base, length}.network();
      }
    }
  }

  // A subnet's IPv6 prefix: unique local space of its network mostly, or a
  // public prefix an IPv6 IP rule or trusted prefix may also cover (they
  // must never match traffic from a virtual network).
  Ipv6Prefix subnet_prefix6(int vnet) {
    if (chance(0.3)) {
      Ipv6Prefix p = trusted_prefix6();
      p.length = std::max<uint8_t>(p.length, 48);
      return p.network();
    }
    Ipv6Prefix p{*parse_ipv6("fd00::"), 0};
    p.address[1] = static_cast<uint8_t>(vnet % 4);
    for (size_t i = 2; i < 16; i++) p.address[i] = static_cast<uint8_t>(rng_());
    if (chance(0.5)) std::fill(p.address.begin() + 8, p.address.end(), 0);
    p.length = chance(0.6) ? pick<uint8_t>({48, 56, 64, 65, 120, 127, 128})
                           : static_cast<uint8_t>(uniform(16, 128));
    return p.network();
  }

  // A public address shared by several rules and trusted prefixes, so they nest.
  uint32_t anchor() {
    if (anchors_.empty() || chance(0.3)) anchors_.push_back(random_public_address());
    return anchors_[uniform(0, anchors_.size() - 1)];
  }

  void add_virtual_networks(json& host, json& acls) {
    uint32_t count = chance(0.25) ? 0 : uniform(1, 4);
    std::set<std::pair<std::string, int>> used_segments;
    json vnets = json::array();
    json rules = json::array();
    for (uint32_t v = 0; v < count; v++) {
      auto segment = unused_segment(used_segments);
      if (!segment) break;
      std::string id =
          "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/"
          "virtualNetworks/vnet" +
          std::to_string(v);
      json subnets = json::array();
      std::vector<Ipv4Prefix> taken;
      std::vector<Ipv6Prefix> taken6;
      uint32_t subnet_count = uniform(1, 3);
      for (uint32_t s = 0; s < subnet_count; s++) {
        std::vector<std::string> prefixes;
        for (uint32_t k = 0, n = uniform(1, 2); k < n; k++) {
          Ipv4Prefix p = subnet_prefix(static_cast<int>(v));
          bool overlaps = std::any_of(taken.begin(), taken.end(),
                                      [&](const Ipv4Prefix& t) { return t.overlaps(p); });
          if (overlaps) continue;
          taken.push_back(p);
          prefixes.push_back(p.cidr());
        }
        // IPv6 prefixes (every profile): dual-stack subnets, some IPv6 only.
        for (uint32_t k = 0, n = chance(0.5) ? 0 : uniform(1, 2); k < n; k++) {
          Ipv6Prefix p = subnet_prefix6(static_cast<int>(v));
          bool overlaps = std::any_of(taken6.begin(), taken6.end(),
                                      [&](const Ipv6Prefix& t) { return t.overlaps(p); });
          if (overlaps) continue;
          taken6.push_back(p);
          prefixes.push_back(p.cidr());
        }
        if (chance(0.15))  // IPv6 only
          std::erase_if(prefixes, [](const std::string& t) { return !looks_like_ipv6(t); });
        if (prefixes.empty()) continue;
        bool endpoint = chance(0.85);
        std::string name = "s" + std::to_string(s);
        json subnet = {{"name", name},
                       {"serviceEndpoints", endpoint ? json::array({"Microsoft.KeyVault"})
                                                     : json::array({"Microsoft.Storage"})}};
        if (prefixes.size() == 1 && chance(0.5))
          subnet["addressPrefix"] = prefixes[0];
        else
          subnet["addressPrefixes"] = prefixes;
        subnets.push_back(subnet);
        if (chance(0.75) || !endpoint) {
          // Azure ids are case-insensitive: spell some rules differently.
          std::string rule_id = id + "/subnets/" + name;
          if (chance(0.2))
            std::transform(rule_id.begin(), rule_id.end(), rule_id.begin(), ::toupper);
          json rule = {{"id", rule_id}};
          if (!endpoint || chance(0.2))
            rule["ignoreMissingVnetServiceEndpoint"] = !endpoint || chance(0.5);
          if (!endpoint && !rule["ignoreMissingVnetServiceEndpoint"].get<bool>()) continue;
          rules.push_back(rule);
        }
      }
      if (subnets.empty()) continue;
      vnets.push_back({{"id", id}, {"segment", *segment}, {"subnets", subnets}});
      vnet_ids_.push_back(id);
    }
    if (!vnets.empty()) host["virtualNetworks"] = vnets;
    if (!rules.empty()) acls["virtualNetworkRules"] = rules;
  }

  // Text of an IP rule the profile accepts, or "" when this prefix has none.
  std::string ip_rule_text(Ipv4Prefix p) {
    p = p.network();
    if (forbidden_range_reason(p)) return "";
    if (p.length == 32) return current_profile_ && chance(0.3) ? p.cidr() : format_ipv4(p.address);
    if (p.length == 31 && !current_profile_) return "";
    return p.cidr();
  }

  void add_ip_rules(json& acls) {
    uint32_t count = chance(0.15) ? 0 : uniform(1, 60);
    json rules = json::array();
    for (uint32_t i = 0; i < count; i++) {
      Ipv4Prefix p = chance(0.6) ? Ipv4Prefix{anchor(), edge_biased_length(8)}
                                 : Ipv4Prefix{random_public_address(), edge_biased_length(1)};
      std::string text = ip_rule_text(p);
      if (text.empty()) continue;
      rules.push_back({{"value", text}});
      if (chance(0.03)) rules.push_back({{"value", text}});  // duplicate: kept once
    }
    // IPv6 rules under dualstack, nesting with the IPv6 trusted prefixes;
    // placed among the IPv4 ones (one list, one order).
    for (uint32_t i = 0, n = dualstack_ && chance(0.8) ? uniform(1, 20) : 0; i < n; i++) {
      Ipv6Prefix p = trusted_prefix6();
      if (chance(0.3)) p.length = static_cast<uint8_t>(uniform(16, 31));
      p = p.network();
      std::string text = p.length == 128 && chance(0.5) ? format_ipv6(p.address) : p.cidr();
      rules.insert(rules.begin() + uniform(0, static_cast<uint32_t>(rules.size())),
                   json{{"value", text}});
    }
    if (!rules.empty()) acls["ipRules"] = rules;
  }

  void add_trusted_services(json& host) {
    uint32_t count = chance(0.3) ? 0 : uniform(1, 3);
    json custom = json::array();
    for (uint32_t s = 0; s < count; s++) {
      std::set<std::string> prefixes;
      for (uint32_t k = 0, n = uniform(1, 4); k < n; k++) prefixes.insert(trusted_prefix().cidr());
      // IPv6 prefixes too (custom entries are vaultwall's: both families).
      for (uint32_t k = 0, n = chance(0.4) ? 0 : uniform(1, 3); k < n; k++)
        prefixes.insert(trusted_prefix6().cidr());
      custom.push_back(
          {{"name", "Service" + std::to_string(s)},
           {"addressPrefixes", std::vector<std::string>(prefixes.begin(), prefixes.end())}});
    }
    if (!custom.empty()) host["trustedServices"] = {{"custom", custom}};
  }

  // A network security perimeter: a few inbound address rules nesting with
  // the vault's (shared anchors; IPv6 under the trusted IPv6 prefixes'
  // /32s), in either access mode, under every profile.
  void add_perimeter(json& host) {
    json rules = json::array();
    for (uint32_t r = 0, n = uniform(0, 3); r < n; r++) {
      std::set<std::string> prefixes;
      for (uint32_t k = 0, m = uniform(1, 4); k < m; k++) {
        Ipv4Prefix p = chance(0.6) ? Ipv4Prefix{anchor(), edge_biased_length(8)}
                                   : Ipv4Prefix{random_public_address(), edge_biased_length(8)};
        if (!forbidden_range_reason(p.network())) prefixes.insert(p.network().cidr());
      }
      for (uint32_t k = 0, m = chance(0.4) ? 0 : uniform(1, 3); k < m; k++)
        prefixes.insert(trusted_prefix6().cidr());
      rules.push_back({{"name", "rule" + std::to_string(r)},
                       {"direction", "Inbound"},
                       {"addressPrefixes", std::vector<std::string>(prefixes.begin(), prefixes.end())}});
    }
    host["perimeter"] = {{"accessMode", pick<std::string>({"Transition", "Learning", "Enforced"})},
                         {"accessRules", rules}};
  }

  // A prefix a trusted service may have: public, /8 or longer (shared
  // anchors make it nest with the rules).
  Ipv4Prefix trusted_prefix() {
    for (;;) {
      Ipv4Prefix p = chance(0.6) ? Ipv4Prefix{anchor(), edge_biased_length(8)}
                                 : Ipv4Prefix{random_public_address(), edge_biased_length(8)};
      if (!untrustable_prefix_reason(p.network())) return p.network();
    }
  }

  // An IPv6 prefix under one of a few shared /32s, so prefixes of several
  // services nest and overlap; lengths at the byte and nibble edges.
  Ipv6Prefix trusted_prefix6() {
    Ipv6Prefix p{*parse_ipv6("2001:db8::"), 0};
    p.address[3] = static_cast<uint8_t>(0xb8 + uniform(0, 2));  // 2001:db8: .. 2001:dba:
    for (size_t i = 4; i < 16; i++) p.address[i] = static_cast<uint8_t>(rng_());
    if (chance(0.5)) std::fill(p.address.begin() + 6, p.address.end(), 0);
    p.length = chance(0.6) ? pick<uint8_t>({32, 33, 47, 48, 56, 63, 64, 96, 127, 128})
                           : static_cast<uint8_t>(uniform(32, 128));
    return p.network();
  }

  std::mt19937_64& rng_;
  const HostInterfaces& interfaces_;
  bool current_profile_ = false;
  bool dualstack_ = false;
  std::vector<uint32_t> anchors_;
  std::vector<std::string> vnet_ids_;
  std::vector<std::string> endpoint_pool_;
};

}  // namespace

nlohmann::json generate_policy(std::mt19937_64& rng, const HostInterfaces& interfaces) {
  return PolicyGenerator(rng, interfaces).run();
}

}  // namespace vaultwall::difftest
