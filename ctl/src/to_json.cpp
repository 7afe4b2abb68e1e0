// The normalised policy back out: Azure's vault-resource shape (for `show`)
// and a sorted canonical form (for the digest).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "vaultwall/policy/document.h"

namespace vaultwall {
namespace {

using OrderedJson = nlohmann::ordered_json;

template <class Item, class Format>
OrderedJson list(const std::vector<Item>& items, Format format) {
  OrderedJson out = OrderedJson::array();
  for (const Item& item : items) out.push_back(format(item));
  return out;
}

template <class Item>
std::vector<Item> sorted(std::vector<Item> items) {
  std::sort(items.begin(), items.end());
  return items;
}

OrderedJson network_acls(const Policy& policy, bool sort_rules) {
  std::vector<std::string> ip_rules, vnet_rules;
  for (const IpRule& rule : policy.ip_rules) ip_rules.push_back(rule.canonical());
  OrderedJson acls;
  acls["bypass"] = to_string(policy.bypass);
  acls["defaultAction"] = to_string(policy.default_action);
  if (sort_rules) ip_rules = sorted(ip_rules);
  acls["ipRules"] = list(ip_rules, [](const std::string& value) {
    return OrderedJson{{"value", value}};
  });
  std::vector<VnetRule> vnets = policy.vnet_rules;
  if (sort_rules)
    std::sort(vnets.begin(), vnets.end(),
              [](const VnetRule& a, const VnetRule& b) { return a.subnet_id < b.subnet_id; });
  acls["virtualNetworkRules"] = list(vnets, [](const VnetRule& rule) {
    return OrderedJson{
        {"id", rule.subnet_id},
        {"ignoreMissingVnetServiceEndpoint", rule.ignore_missing_vnet_service_endpoint}};
  });
  return acls;
}

OrderedJson prefixes(const std::vector<Ipv4Prefix>& list_of) {
  return list(list_of, [](const Ipv4Prefix& p) { return p.cidr(); });
}

// IPv4 then IPv6, as one list (the document's form).
OrderedJson prefixes(const std::vector<Ipv4Prefix>& ipv4, const std::vector<Ipv6Prefix>& ipv6) {
  OrderedJson out = prefixes(ipv4);
  for (const Ipv6Prefix& p : ipv6) out.push_back(p.cidr());
  return out;
}

// Data-plane addresses, IPv4 then IPv6, as one list (the document's form).
OrderedJson addresses(const std::vector<uint32_t>& ipv4, const std::vector<Ipv6Address>& ipv6) {
  OrderedJson out = list(ipv4, [](uint32_t a) { return format_ipv4(a); });
  for (const Ipv6Address& a : ipv6) out.push_back(format_ipv6(a));
  return out;
}

OrderedJson ids(const std::vector<std::string>& values) {
  return list(values, [](const std::string& id) { return OrderedJson{{"id", id}}; });
}

OrderedJson perimeter_json(const Perimeter& perimeter, bool sort_lists) {
  std::vector<PerimeterRule> rules = perimeter.inbound;
  if (sort_lists)
    std::sort(rules.begin(), rules.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
  return {{"accessMode", to_string(perimeter.mode)},
          {"accessRules", list(rules, [&](const PerimeterRule& rule) {
             OrderedJson out = {{"name", rule.name},
                                {"direction", "Inbound"},
                                {"addressPrefixes",
                                 prefixes(sort_lists ? sorted(rule.prefixes) : rule.prefixes,
                                          sort_lists ? sorted(rule.prefixes6) : rule.prefixes6)}};
             if (!rule.subscriptions.empty()) out["subscriptions"] = ids(rule.subscriptions);
             if (!rule.perimeters.empty()) out["networkSecurityPerimeters"] = ids(rule.perimeters);
             return out;
           })}};
}

// vaultwall's extensions of the vault's policy: the same on every host.
void add_policy_extensions(OrderedJson& out, const HostSection& host, bool sort_lists) {
  auto maybe_sorted = [&](auto items) { return sort_lists ? sorted(std::move(items)) : items; };
  out["profile"] = to_string(host.profile);
  if (host.max_ip_rules || host.max_vnet_rules) {
    OrderedJson limits = OrderedJson::object();
    if (host.max_ip_rules) limits["maxIpRules"] = *host.max_ip_rules;
    if (host.max_vnet_rules) limits["maxVirtualNetworkRules"] = *host.max_vnet_rules;
    out["limits"] = limits;
  }
  const TrustedServices& trusted = host.trusted;
  OrderedJson trusted_json = OrderedJson::object();
  trusted_json["services"] = maybe_sorted(trusted.services);
  std::vector<CustomTrustedService> custom = trusted.custom;
  if (sort_lists)
    std::sort(custom.begin(), custom.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
  trusted_json["custom"] = list(custom, [&](const CustomTrustedService& service) {
    return OrderedJson{{"name", service.name},
                       {"addressPrefixes", prefixes(maybe_sorted(service.prefixes),
                                                    maybe_sorted(service.prefixes6))}};
  });
  out["trustedServices"] = trusted_json;
  out["mode"] = to_string(host.mode);
  out["denyAction"] = to_string(host.deny_action);
  if (host.perimeter) out["perimeter"] = perimeter_json(*host.perimeter, sort_lists);
}

OrderedJson host_section(const HostSection& host, bool sort_lists) {
  auto maybe_sorted = [&](auto items) { return sort_lists ? sorted(std::move(items)) : items; };
  OrderedJson out;
  add_policy_extensions(out, host, sort_lists);
  out["dataPlane"] = {
      {"ports", list(maybe_sorted(host.ports), [](const PortSpec& p) { return p.text(); })},
      {"addresses", addresses(maybe_sorted(host.addresses), maybe_sorted(host.addresses6))},
      {"listen", to_string(host.listen)},
      {"tunnels", maybe_sorted(host.tunnels)}};
  out["privateEndpoints"] =
      list(maybe_sorted(host.private_endpoints), [](const PrivateEndpoint& e) -> OrderedJson {
        if (e.virtual_network.empty()) return format_ipv4(e.address);
        return {{"address", format_ipv4(e.address)}, {"virtualNetwork", e.virtual_network}};
      });
  for (const PrivateEndpoint6& e : maybe_sorted(host.private_endpoints6))
    out["privateEndpoints"].push_back(
        e.virtual_network.empty()
            ? OrderedJson(format_ipv6(e.address))
            : OrderedJson{{"address", format_ipv6(e.address)}, {"virtualNetwork", e.virtual_network}});

  std::vector<VirtualNetwork> vnets = host.virtual_networks;
  if (sort_lists) {
    std::sort(vnets.begin(), vnets.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (VirtualNetwork& vnet : vnets)
      std::sort(vnet.subnets.begin(), vnet.subnets.end(),
                [](const auto& a, const auto& b) { return a.name < b.name; });
  }
  out["virtualNetworks"] = list(vnets, [&](const VirtualNetwork& vnet) {
    OrderedJson segment = OrderedJson::object();
    if (vnet.segment.interface) segment["interface"] = *vnet.segment.interface;
    if (vnet.segment.vlan) segment["vlan"] = *vnet.segment.vlan;
    return OrderedJson{{"id", vnet.id},
                       {"segment", segment},
                       {"subnets", list(vnet.subnets, [&](const Subnet& subnet) {
                          return OrderedJson{
                              {"name", subnet.name},
                              {"addressPrefixes", prefixes(maybe_sorted(subnet.prefixes),
                                                           maybe_sorted(subnet.prefixes6))},
                              {"serviceEndpoints", maybe_sorted(subnet.service_endpoints)}};
                        })}};
  });

  // Where the Service Tags file is on this host: a host fact.
  if (!host.trusted.service_tags_path.empty())
    out["trustedServices"]["serviceTags"] = host.trusted.service_tags_path;
  return out;
}

}  // namespace

std::string to_azure_json(const Policy& policy, int indent) {
  OrderedJson document;
  if (!policy.resource_id.empty()) document["id"] = policy.resource_id;
  document["properties"] = {{"networkAcls", network_acls(policy, false)},
                            {"publicNetworkAccess", to_string(policy.public_network_access)}};
  document["vaultwall"] = host_section(policy.host, false);
  return document.dump(indent);
}

std::string canonical_serialisation(const Policy& policy) {
  // The order of rules and lists does not change what is enforced, so it
  // does not change the digest either.
  OrderedJson document;
  document["networkAcls"] = network_acls(policy, true);
  document["publicNetworkAccess"] = to_string(policy.public_network_access);
  document["vaultwall"] = host_section(policy.host, true);
  return document.dump();
}

std::string canonical_policy_serialisation(const Policy& policy) {
  OrderedJson document;
  document["networkAcls"] = network_acls(policy, true);
  document["publicNetworkAccess"] = to_string(policy.public_network_access);
  OrderedJson extensions;
  add_policy_extensions(extensions, policy.host, true);
  document["vaultwall"] = extensions;
  return document.dump();
}

}  // namespace vaultwall
