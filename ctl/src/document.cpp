// parse_document: the shape of a rule document (vaultwall.json(5)). Values are
// kept as written with their paths; validate.cpp decides what they mean.
// Shapes other than Azure's three forms are recognised first
// (document_shapes.h); host-facts files are read with the same readers as
// the vaultwall section's embedded host facts.
#include "vaultwall/policy/document.h"

#include <cctype>

#include "document_shapes.h"
#include "json_strict.h"
#include "vaultwall/common/text.h"
#include "vaultwall/policy/host_facts.h"
#include "vaultwall/policy/input_file.h"
#include "vaultwall/policy/sha256.h"
#include "vaultwall/policy/validate.h"

namespace vaultwall {
namespace {

using json_strict::describe;
using json_strict::index_path;
using json_strict::join_path;
using json_strict::Json;
using json_strict::JsonWalker;
using json_strict::WrittenPaths;

const std::initializer_list<std::string_view> kNetworkAclsFields = {
    "bypass", "defaultAction", "ipRules", "virtualNetworkRules"};
const std::initializer_list<std::string_view> kWrapperFields = {"networkAcls",
                                                                "publicNetworkAccess", "vaultwall"};
const std::initializer_list<std::string_view> kVaultwallFields = {
    "profile",         "limits",          "dataPlane", "privateEndpoints",
    "virtualNetworks", "trustedServices", "mode",      "denyAction",
    "perimeter",       "description"};
// A host-facts file: the host facts the vaultwall section can embed.
const std::initializer_list<std::string_view> kHostFactsFields = {
    "dataPlane", "privateEndpoints", "virtualNetworks", "serviceTags", "description"};

class DocumentReader {
 public:
  DocumentReader(Diagnostics& diagnostics, const ParseOptions& options, WrittenPaths& paths)
      : walk_(diagnostics, &paths), options_(options) {}

  Document read(const shapes::Recognised& recognised) {
    const Json& root = recognised.document();
    document_.shape = recognised.shape;
    document_.vault_name = recognised.vault_name;
    document_.private_endpoint_connections = recognised.private_endpoint_connections;
    if (!walk_.expect_object(root, "")) return document_;
    if (walk_.member(root, "", "properties")) {
      read_vault_resource(root);
    } else if (walk_.member(root, "", "networkAcls")) {
      read_wrapper(root);
    } else {
      read_bare_acls(root);
    }
    if (const Json* host = walk_.member(root, "", "vaultwall")) read_vaultwall(*host, "vaultwall");
    return document_;
  }

  // A host-facts file (vaultwall-host.json(5)): its paths start with
  // "<name>:"; its placeholders ("<interface>") are refused.
  Document read_host_facts(const Json& root, const std::string& name) {
    std::string path = name + ":";
    document_.host_facts_origin = path;
    if (!walk_.expect_object(root, path)) return document_;
    if (refuse_document_in_host_facts(root, path)) return document_;
    walk_.refuse_placeholders(true);
    walk_.reject_unknown_fields(root, path, kHostFactsFields, "a host-facts file");
    read_host_fields(root, path);
    read_member(root, path, "serviceTags", &DocumentReader::read_service_tags_path);
    walk_.refuse_placeholders(false);
    return document_;
  }

 private:
  // A host-facts file written as a rule document (host facts inside a
  // vaultwall section, or the vault's own fields): one error that says what
  // the file holds instead of one per unknown field.
  bool refuse_document_in_host_facts(const Json& root, const std::string& path) {
    for (const auto& [key, value] : root.items()) {
      if (json_strict::same_name("vaultwall", key)) {
        walk_.diagnostics().error(
            join_path(path, key),
            "host facts sit at the top level of a host-facts file, not in a vaultwall section: move dataPlane, privateEndpoints, virtualNetworks and serviceTags out of it (see vaultwall-host.json(5), or vaultwallctl host init)");
        return true;
      }
      for (std::string_view policy : {"properties", "networkAcls", "publicNetworkAccess"})
        if (json_strict::same_name(policy, key)) {
          walk_.diagnostics().error(
              join_path(path, key),
              "is the vault's policy, not a host fact: a host-facts file holds only dataPlane, privateEndpoints, virtualNetworks and serviceTags; give the policy as the rule document");
          return true;
        }
    }
    return false;
  }

  // `az keyvault show` output: everything but properties.networkAcls,
  // properties.publicNetworkAccess and vaultwall is the vault's business.
  void read_vault_resource(const Json& root) {
    const Json& properties = *walk_.member(root, "", "properties");
    if (!walk_.expect_object(properties, "properties")) return;
    document_.acls_path = "properties.networkAcls";
    // Kept for the deny log's resourceId; its form is Azure's business.
    if (const Json* id = walk_.member(root, "", "id"); id && id->is_string())
      document_.resource_id = id->get<std::string>();
    if (walk_.member(root, "", "networkAcls"))
      walk_.diagnostics().error(
          "networkAcls", "networkAcls given both at the top level and in properties; keep one");
    if (walk_.member(root, "", "publicNetworkAccess"))
      walk_.diagnostics().error("publicNetworkAccess",
                                "publicNetworkAccess beside properties is ignored by Azure; move it "
                                "into properties (properties.publicNetworkAccess)");
    refuse_near_misses(properties);
    if (const Json* access = walk_.member(properties, "properties", "publicNetworkAccess"))
      read_public_access(*access, "properties.publicNetworkAccess");
    if (const Json* acls = walk_.member(properties, "properties", "networkAcls"))
      read_acls(*acls, document_.acls_path, kNetworkAclsFields, "networkAcls");
  }

  // A vault's other properties are its own business, but one that looks
  // like the firewall's (networkAcl, network_acls, publicAccess...) is a
  // typo that would leave the firewall off: refused, naming the field.
  void refuse_near_misses(const Json& properties) {
    for (const auto& [key, value] : properties.items()) {
      std::string folded;
      for (char c : key)
        if (std::isalnum(static_cast<unsigned char>(c)))
          folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string lowered = to_lower(key);
      // The right names in any case are Azure's; anything else that looks like them is not.
      const bool acls_like = folded.find("acl") != std::string::npos && lowered != "networkacls";
      const bool access_like = (folded.find("publicaccess") != std::string::npos ||
                                folded.find("networkaccess") != std::string::npos) &&
                               lowered != "publicnetworkaccess";
      if (acls_like || access_like)
        walk_.diagnostics().error(
            "properties." + key,
            std::string("not a field of a vault, and the firewall would be left off: did you mean ") +
                (acls_like ? "properties.networkAcls" : "properties.publicNetworkAccess") + "?");
    }
  }

  // {"networkAcls": {...}, "publicNetworkAccess": ..., "vaultwall": {...}}
  void read_wrapper(const Json& root) {
    walk_.reject_unknown_fields(root, "", kWrapperFields, "the document");
    document_.acls_path = "networkAcls";
    if (const Json* access = walk_.member(root, "", "publicNetworkAccess"))
      read_public_access(*access, "publicNetworkAccess");
    if (const Json* acls = walk_.member(root, "", "networkAcls"))
      read_acls(*acls, document_.acls_path, kNetworkAclsFields, "networkAcls");
  }

  // A bare networkAcls object; vaultwall and publicNetworkAccess may sit
  // beside its fields (a bare object has nowhere else to put them).
  void read_bare_acls(const Json& root) {
    document_.acls_path = "";
    if (const Json* access = walk_.member(root, "", "publicNetworkAccess"))
      read_public_access(*access, "publicNetworkAccess");
    read_acls(root, "",
              {"bypass", "defaultAction", "ipRules", "virtualNetworkRules", "publicNetworkAccess",
               "vaultwall"},
              "networkAcls");
  }

  void read_public_access(const Json& value, const std::string& path) {
    read_choice(
        value, path, parse_public_network_access, document_.public_network_access,
        "is not a valid publicNetworkAccess; expected Enabled, Disabled or SecuredByPerimeter");
  }

  // A string field naming one value of an enum: parsed into `into` with its
  // path, or an error that quotes the text and says what was expected.
  template <class Enum>
  void read_choice(const Json& value, const std::string& path,
                   std::optional<Enum> (*parse)(std::string_view),
                   std::optional<Located<Enum>>& into, std::string_view refusal) {
    auto text = walk_.string_value(value, path);
    if (!text) return;
    if (auto parsed = parse(*text))
      into = Located<Enum>{*parsed, path};
    else
      walk_.diagnostics().error(path, "\"" + *text + "\" " + std::string(refusal));
  }

  template <class Enum>
  void read_member_choice(const Json& object, const std::string& path, std::string_view field,
                          std::optional<Enum> (*parse)(std::string_view),
                          std::optional<Located<Enum>>& into, std::string_view refusal) {
    if (const Json* value = walk_.member(object, path, field))
      read_choice(*value, join_path(path, field), parse, into, refusal);
  }

  // Reads object's member `field`, when it has one, with `read` (given the
  // member and its path).
  void read_member(const Json& object, const std::string& path, std::string_view field,
                   void (DocumentReader::*read)(const Json&, const std::string&)) {
    if (const Json* value = walk_.member(object, path, field))
      (this->*read)(*value, join_path(path, field));
  }

  void read_acls(const Json& acls, const std::string& path,
                 std::initializer_list<std::string_view> known, std::string_view where) {
    if (!walk_.expect_object(acls, path.empty() ? "networkAcls" : path)) return;
    walk_.reject_unknown_fields(acls, path, known, where);
    read_member_choice(acls, path, "defaultAction", parse_default_action, document_.default_action,
                       "is not a valid defaultAction; expected Allow or Deny");
    read_member_choice(acls, path, "bypass", parse_bypass, document_.bypass,
                       "is not a valid bypass; expected AzureServices or None");
    read_member(acls, path, "ipRules", &DocumentReader::read_ip_rules);
    read_member(acls, path, "virtualNetworkRules", &DocumentReader::read_vnet_rules);
  }

  // read_rule(rule, its path) for each object of a list of rules, once its
  // fields are checked against `known` (`what`: "an IP rule") and its action
  // (Storage-style "action": "Allow" is tolerated: Key Vault has no other).
  void read_rule_list(const Json& rules, const std::string& path,
                      std::initializer_list<std::string_view> known, std::string_view what,
                      void (DocumentReader::*read_rule)(const Json&, const std::string&)) {
    if (!walk_.expect_array(rules, path)) return;
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string at = index_path(path, i);
      const Json& rule = rules[i];
      if (!walk_.expect_object(rule, at)) continue;
      walk_.reject_unknown_fields(rule, at, known, what);
      check_allow_action(rule, at);
      (this->*read_rule)(rule, at);
    }
  }

  void read_ip_rules(const Json& rules, const std::string& path) {
    read_rule_list(rules, path, {"value", "action"}, "an IP rule", &DocumentReader::read_ip_rule);
  }

  void read_ip_rule(const Json& rule, const std::string& at) {
    std::string value_path = join_path(at, "value");
    const Json* value = walk_.member(rule, at, "value");
    if (!value) {
      walk_.diagnostics().error(value_path,
                                "missing: an IP rule needs a value such as \"203.0.113.0/24\"");
      return;
    }
    if (auto text = walk_.string_value(*value, value_path))
      document_.ip_rules.push_back({*text, value_path});
  }

  // "resourceGroup" is az's: its output adds the group of every object with
  // a resource id (here the subnet's), derived from the id and ignored.
  void read_vnet_rules(const Json& rules, const std::string& path) {
    read_rule_list(rules, path,
                   {"id", "ignoreMissingVnetServiceEndpoint", "action", "state", "resourceGroup"},
                   "a virtual network rule", &DocumentReader::read_vnet_rule);
  }

  void read_vnet_rule(const Json& rule, const std::string& at) {
    Document::VnetRuleText text;
    text.id.path = join_path(at, "id");
    const Json* id = walk_.member(rule, at, "id");
    if (!id) {
      walk_.diagnostics().error(text.id.path,
                                "missing: a virtual network rule needs the subnet's resource id");
      return;
    }
    auto id_text = walk_.string_value(*id, text.id.path);
    if (!id_text) return;
    text.id.value = *id_text;
    // Azure's GET returns null here (azure-rest-api-specs #22128): false.
    if (const Json* ignore = walk_.member(rule, at, "ignoreMissingVnetServiceEndpoint")) {
      auto flag = walk_.bool_value(*ignore, join_path(at, "ignoreMissingVnetServiceEndpoint"));
      text.ignore_missing_vnet_service_endpoint = flag.value_or(false);
    }
    document_.vnet_rules.push_back(std::move(text));
  }

  void check_allow_action(const Json& rule, const std::string& at) {
    const Json* action = walk_.member(rule, at, "action");
    if (!action) return;
    std::string path = join_path(at, "action");
    auto text = walk_.string_value(*action, path);
    if (text && !parse_default_action(*text).has_value())
      walk_.diagnostics().error(
          path, "\"" + *text + "\" is not a valid action; Key Vault rules only allow (\"Allow\")");
    else if (text && parse_default_action(*text) == DefaultAction::kDeny)
      walk_.diagnostics().error(
          path,
          "\"" + *text +
              "\": Key Vault rules only allow; use defaultAction Deny and leave the source out");
  }

  // ---- the vaultwall section ----

  void read_vaultwall(const Json& host, const std::string& path) {
    if (!walk_.expect_object(host, path)) return;
    document_.has_host_section = true;
    walk_.reject_unknown_fields(host, path, kVaultwallFields, "the vaultwall section");
    read_member_choice(host, path, "profile", parse_profile, document_.profile,
                       "is not a known profile; expected akv-current, akv-2018 or dualstack");
    read_member_choice(host, path, "mode", parse_mode, document_.mode,
                       "is not a valid mode; expected enforce or audit");
    read_member_choice(host, path, "denyAction", parse_deny_action, document_.deny_action,
                       "is not a valid deny action; expected drop or reject");
    read_member(host, path, "limits", &DocumentReader::read_limits);
    for (std::string_view fact : {"dataPlane", "privateEndpoints", "virtualNetworks"})
      if (walk_.member(host, path, fact) && !document_.embedded_host_facts)
        document_.embedded_host_facts = join_path(path, fact);
    read_host_fields(host, path);
    read_member(host, path, "trustedServices", &DocumentReader::read_trusted);
    read_member(host, path, "perimeter", &DocumentReader::read_perimeter);
  }

  // The host facts, embedded in the vaultwall section or in a host-facts file.
  void read_host_fields(const Json& object, const std::string& path) {
    read_member(object, path, "dataPlane", &DocumentReader::read_data_plane);
    read_member(object, path, "privateEndpoints", &DocumentReader::read_private_endpoints);
    read_member(object, path, "virtualNetworks", &DocumentReader::read_virtual_networks);
  }

  void read_service_tags_path(const Json& value, const std::string& at) {
    if (auto text = walk_.string_value(value, at))
      document_.service_tags_path = Located<std::string>{resolve_path(*text), at};
  }

  void read_limits(const Json& limits, const std::string& path) {
    if (!walk_.expect_object(limits, path)) return;
    walk_.reject_unknown_fields(limits, path, {"maxIpRules", "maxVirtualNetworkRules"}, "limits");
    if (const Json* value = walk_.member(limits, path, "maxIpRules")) {
      std::string at = join_path(path, "maxIpRules");
      if (auto number = walk_.integer_value(*value, at))
        document_.max_ip_rules = Located<int64_t>{*number, at};
    }
    if (const Json* value = walk_.member(limits, path, "maxVirtualNetworkRules")) {
      std::string at = join_path(path, "maxVirtualNetworkRules");
      if (auto number = walk_.integer_value(*value, at))
        document_.max_vnet_rules = Located<int64_t>{*number, at};
    }
  }

  void read_data_plane(const Json& plane, const std::string& path) {
    if (!walk_.expect_object(plane, path)) return;
    walk_.reject_unknown_fields(plane, path,
                                {"ports", "addresses", "listen", "tunnels", "description"},
                                "dataPlane");
    if (const Json* ports = walk_.member(plane, path, "ports")) {
      if (walk_.expect_array(*ports, join_path(path, "ports"))) {
        document_.ports = read_strings(*ports, join_path(path, "ports"));
        if (ports->empty())
          walk_.diagnostics().error(
              join_path(path, "ports"),
              "no ports: list at least one data-plane port such as \"tcp/443\" (or leave ports out for the default tcp/443)");
      }
    }
    if (const Json* addresses = walk_.member(plane, path, "addresses"))
      document_.addresses = read_strings(*addresses, join_path(path, "addresses"));
    if (const Json* listen = walk_.member(plane, path, "listen")) {
      std::string at = join_path(path, "listen");
      if (auto text = walk_.string_value(*listen, at))
        document_.listen = Located<std::string>{*text, at};
    }
    if (const Json* tunnels = walk_.member(plane, path, "tunnels"))
      document_.tunnels = read_strings(*tunnels, join_path(path, "tunnels"));
  }

  // Addresses, or {"address", "virtualNetwork"} for one bound to a network.
  void read_private_endpoints(const Json& endpoints, const std::string& path) {
    if (!walk_.expect_array(endpoints, path)) return;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      std::string at = index_path(path, i);
      const Json& entry = endpoints[i];
      Document::PrivateEndpointText text;
      if (!entry.is_object()) {
        if (auto address = walk_.string_value(entry, at)) {
          text.address = {*address, at};
          document_.private_endpoints.push_back(std::move(text));
        }
        continue;
      }
      walk_.reject_unknown_fields(entry, at, {"address", "virtualNetwork", "description"},
                                  "a private endpoint");
      text.address = required_string(entry, at, "address", "the private endpoint's IPv4 address");
      if (const Json* vnet = walk_.member(entry, at, "virtualNetwork")) {
        std::string vnet_at = join_path(at, "virtualNetwork");
        if (auto id = walk_.string_value(*vnet, vnet_at))
          text.virtual_network = Located<std::string>{*id, vnet_at};
      }
      if (!text.address.value.empty()) document_.private_endpoints.push_back(std::move(text));
    }
  }

  void read_virtual_networks(const Json& vnets, const std::string& path) {
    if (!walk_.expect_array(vnets, path)) return;
    for (size_t i = 0; i < vnets.size(); ++i) {
      std::string at = index_path(path, i);
      const Json& vnet = vnets[i];
      if (!walk_.expect_object(vnet, at)) continue;
      walk_.reject_unknown_fields(vnet, at, {"id", "segment", "subnets", "description"},
                                  "a virtual network");
      Document::VirtualNetworkText text;
      text.path = at;
      text.id = required_string(vnet, at, "id", "the virtual network's resource id");
      text.segment_path = join_path(at, "segment");
      if (const Json* segment = walk_.member(vnet, at, "segment")) {
        read_segment(*segment, text);
      } else {
        walk_.diagnostics().error(
            text.segment_path,
            "missing: say where this virtual network's traffic enters the host, e.g. {\"interface\": \"eth1\"} or {\"vlan\": 100}");
      }
      if (const Json* subnets = walk_.member(vnet, at, "subnets")) {
        std::string subnets_path = join_path(at, "subnets");
        if (walk_.expect_array(*subnets, subnets_path))
          for (size_t j = 0; j < subnets->size(); ++j)
            read_subnet((*subnets)[j], index_path(subnets_path, j), text);
      }
      document_.virtual_networks.push_back(std::move(text));
    }
  }

  void read_segment(const Json& segment, Document::VirtualNetworkText& vnet) {
    const std::string& path = vnet.segment_path;
    if (!walk_.expect_object(segment, path)) return;
    vnet.has_segment = true;
    walk_.reject_unknown_fields(segment, path, {"interface", "vlan", "description"}, "a segment");
    if (!walk_.member(segment, path, "interface") && !walk_.member(segment, path, "vlan"))
      walk_.diagnostics().error(
          path,
          "a segment needs an interface, a vlan, or both (e.g. {\"interface\": \"eth1\"} or {\"vlan\": 100})");
    if (const Json* value = walk_.member(segment, path, "interface")) {
      std::string at = join_path(path, "interface");
      if (auto text = walk_.string_value(*value, at))
        vnet.interface = Located<std::string>{*text, at};
    }
    if (const Json* value = walk_.member(segment, path, "vlan")) {
      std::string at = join_path(path, "vlan");
      if (auto number = walk_.integer_value(*value, at)) vnet.vlan = Located<int64_t>{*number, at};
    }
  }

  void read_subnet(const Json& subnet, const std::string& path,
                   Document::VirtualNetworkText& vnet) {
    if (!walk_.expect_object(subnet, path)) return;
    walk_.reject_unknown_fields(
        subnet, path,
        {"name", "addressPrefix", "addressPrefixes", "serviceEndpoints", "description"},
        "a subnet");
    Document::SubnetText text;
    text.path = path;
    text.name = required_string(subnet, path, "name", "the subnet's name");
    if (const Json* prefix = walk_.member(subnet, path, "addressPrefix")) {
      std::string at = join_path(path, "addressPrefix");
      if (auto value = walk_.string_value(*prefix, at)) text.prefixes.push_back({*value, at});
    }
    if (const Json* prefixes = walk_.member(subnet, path, "addressPrefixes")) {
      auto more = read_strings(*prefixes, join_path(path, "addressPrefixes"));
      text.prefixes.insert(text.prefixes.end(), more.begin(), more.end());
    }
    if (const Json* endpoints = walk_.member(subnet, path, "serviceEndpoints"))
      text.service_endpoints =
          read_service_endpoints(*endpoints, join_path(path, "serviceEndpoints"));
    vnet.subnets.push_back(std::move(text));
  }

  // Strings, or Azure's subnet shape [{"service": "Microsoft.KeyVault",
  // "locations": [...]}] so `az network vnet subnet show` output pastes in.
  std::vector<Located<std::string>> read_service_endpoints(const Json& endpoints,
                                                           const std::string& path) {
    std::vector<Located<std::string>> out;
    if (!walk_.expect_array(endpoints, path)) return out;
    for (size_t i = 0; i < endpoints.size(); ++i) {
      std::string at = index_path(path, i);
      const Json& entry = endpoints[i];
      if (entry.is_object()) {
        const Json* service = walk_.member(entry, at, "service");
        std::string service_path = join_path(at, "service");
        if (!service) {
          walk_.diagnostics().error(
              service_path,
              "missing: a service endpoint object needs \"service\", e.g. \"Microsoft.KeyVault\"");
          continue;
        }
        if (auto text = walk_.string_value(*service, service_path)) out.push_back({*text, at});
      } else if (auto text = walk_.string_value(entry, at)) {
        out.push_back({*text, at});
      }
    }
    return out;
  }

  void read_trusted(const Json& trusted, const std::string& path) {
    if (!walk_.expect_object(trusted, path)) return;
    walk_.reject_unknown_fields(trusted, path, {"serviceTags", "services", "custom"},
                                "trustedServices");
    if (const Json* tags = walk_.member(trusted, path, "serviceTags")) {
      std::string at = join_path(path, "serviceTags");
      if (!document_.embedded_host_facts) document_.embedded_host_facts = at;
      read_service_tags_path(*tags, at);
    }
    if (const Json* services = walk_.member(trusted, path, "services"))
      document_.trusted_services = read_strings(*services, join_path(path, "services"));
    if (const Json* custom = walk_.member(trusted, path, "custom")) {
      std::string custom_path = join_path(path, "custom");
      if (!walk_.expect_array(*custom, custom_path)) return;
      for (size_t i = 0; i < custom->size(); ++i) {
        std::string at = index_path(custom_path, i);
        const Json& entry = (*custom)[i];
        if (!walk_.expect_object(entry, at)) continue;
        walk_.reject_unknown_fields(entry, at, {"name", "addressPrefixes"},
                                    "a custom trusted service");
        Document::CustomServiceText text;
        text.path = at;
        text.name = required_string(entry, at, "name", "a name for this service");
        if (const Json* prefixes = walk_.member(entry, at, "addressPrefixes"))
          text.prefixes = read_strings(*prefixes, join_path(at, "addressPrefixes"));
        else
          walk_.diagnostics().error(join_path(at, "addressPrefixes"),
                                    "missing: list the service's IPv4 prefixes");
        document_.custom_services.push_back(std::move(text));
      }
    }
  }

  // ---- vaultwall.perimeter ----

  // {"accessMode": "Enforced", "accessRules": [...]}, or Azure's
  // networkSecurityPerimeterConfigurations properties as the vault's
  // GET .../networkSecurityPerimeterConfigurations returns them
  // ({"resourceAssociation": {"accessMode"}, "profile": {"accessRules"}}).
  void read_perimeter(const Json& perimeter, const std::string& path) {
    if (!walk_.expect_object(perimeter, path)) return;
    walk_.reject_unknown_fields(perimeter, path,
                                {"accessMode", "accessRules", "description", "resourceAssociation",
                                 "profile", "networkSecurityPerimeter", "provisioningState"},
                                "perimeter");
    Document::PerimeterText text;
    text.path = path;
    auto read_mode = [&](const Json& value, const std::string& at) {
      if (auto mode = walk_.string_value(value, at)) text.access_mode = Located<std::string>{*mode, at};
    };
    if (const Json* mode = walk_.member(perimeter, path, "accessMode"))
      read_mode(*mode, join_path(path, "accessMode"));
    if (const Json* association = walk_.member(perimeter, path, "resourceAssociation")) {
      std::string at = join_path(path, "resourceAssociation");
      if (const Json* mode = walk_.member(*association, at, "accessMode"))
        read_mode(*mode, join_path(at, "accessMode"));
    }
    if (const Json* rules = walk_.member(perimeter, path, "accessRules"))
      read_access_rules(*rules, join_path(path, "accessRules"), text);
    if (const Json* profile = walk_.member(perimeter, path, "profile")) {
      std::string at = join_path(path, "profile");
      if (const Json* rules = walk_.member(*profile, at, "accessRules"))
        read_access_rules(*rules, join_path(at, "accessRules"), text);
    }
    document_.perimeter = std::move(text);
  }

  // Each rule flat ({"name", "direction", "addressPrefixes", ...}) or as
  // Azure's access-rule resource ({"name", "properties": {...}}), so
  // `az network perimeter profile access-rule list` output pastes in.
  void read_access_rules(const Json& rules, const std::string& path, Document::PerimeterText& into) {
    if (!walk_.expect_array(rules, path)) return;
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string at = index_path(path, i);
      const Json& rule = rules[i];
      if (!walk_.expect_object(rule, at)) continue;
      Document::AccessRuleText text;
      text.path = at;
      text.name = required_string(rule, at, "name", "the access rule's name");
      const Json* fields = &rule;
      std::string fields_path = at;
      if (const Json* properties = walk_.member(rule, at, "properties")) {
        fields_path = join_path(at, "properties");
        if (!walk_.expect_object(*properties, fields_path)) continue;
        fields = properties;
      }
      walk_.reject_unknown_fields(
          *fields, fields_path,
          fields == &rule
              ? std::initializer_list<std::string_view>{"name", "direction", "addressPrefixes",
                                                        "subscriptions", "networkSecurityPerimeters",
                                                        "fullyQualifiedDomainNames", "emailAddresses",
                                                        "phoneNumbers", "description"}
              : std::initializer_list<std::string_view>{"direction", "addressPrefixes",
                                                        "subscriptions", "networkSecurityPerimeters",
                                                        "fullyQualifiedDomainNames", "emailAddresses",
                                                        "phoneNumbers", "provisioningState"},
          "an access rule");
      if (fields != &rule)
        walk_.reject_unknown_fields(rule, at, {"name", "properties", "id", "type", "description"},
                                    "an access rule");
      if (const Json* direction = walk_.member(*fields, fields_path, "direction")) {
        std::string direction_at = join_path(fields_path, "direction");
        if (auto value = walk_.string_value(*direction, direction_at))
          text.direction = Located<std::string>{*value, direction_at};
      }
      if (const Json* prefixes = walk_.member(*fields, fields_path, "addressPrefixes"))
        text.address_prefixes = read_strings(*prefixes, join_path(fields_path, "addressPrefixes"));
      text.subscriptions = read_ids(*fields, fields_path, "subscriptions");
      text.perimeters = read_ids(*fields, fields_path, "networkSecurityPerimeters");
      into.rules.push_back(std::move(text));
    }
  }

  // [{"id": "..."}] (Azure's shape) or ["..."].
  std::vector<Located<std::string>> read_ids(const Json& object, const std::string& path,
                                             std::string_view key) {
    std::vector<Located<std::string>> out;
    const Json* list = walk_.member(object, path, key);
    std::string at = join_path(path, key);
    if (!list || !walk_.expect_array(*list, at)) return out;
    for (size_t i = 0; i < list->size(); ++i) {
      std::string item_at = index_path(at, i);
      const Json& item = (*list)[i];
      if (item.is_object()) {
        if (const Json* id = walk_.member(item, item_at, "id"))
          if (auto text = walk_.string_value(*id, join_path(item_at, "id")))
            out.push_back({*text, item_at});
      } else if (auto text = walk_.string_value(item, item_at)) {
        out.push_back({*text, item_at});
      }
    }
    return out;
  }

  // ---- helpers ----

  std::vector<Located<std::string>> read_strings(const Json& list, const std::string& path) {
    std::vector<Located<std::string>> out;
    if (!walk_.expect_array(list, path)) return out;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string at = index_path(path, i);
      if (auto text = walk_.string_value(list[i], at)) out.push_back({*text, at});
    }
    return out;
  }

  Located<std::string> required_string(const Json& object, const std::string& path,
                                       std::string_view key, std::string_view what) {
    Located<std::string> out{{}, join_path(path, key)};
    const Json* value = walk_.member(object, path, key);
    if (!value) {
      walk_.diagnostics().error(out.path, "missing: give " + std::string(what));
      return out;
    }
    if (auto text = walk_.string_value(*value, out.path)) {
      out.value = *text;
      if (text->empty()) walk_.diagnostics().error(out.path, "is empty: give " + std::string(what));
    }
    return out;
  }

  std::string resolve_path(const std::string& text) {
    std::filesystem::path path(text);
    if (text.empty() || path.is_absolute() || options_.base_dir.empty()) return text;
    return (options_.base_dir / path).lexically_normal().string();
  }

  JsonWalker walk_;
  const ParseOptions& options_;
  Document document_;
};

// The host facts of a host-facts file go into the document, unless the
// document has its own: given explicitly too, that is an error (which were
// meant?); the default file is then not read.
void merge_host_facts(Document& document, const HostFactsText& host, Diagnostics& diagnostics,
                      WrittenPaths& paths) {
  if (document.embedded_host_facts) {
    if (host.explicit_path)
      diagnostics.error(
          *document.embedded_host_facts,
          "the document carries host facts of its own, and " + host.name +
              " (--host or $VAULTWALL_HOST_FACTS) gives them too; keep them in one place: remove dataPlane, privateEndpoints, virtualNetworks and trustedServices.serviceTags from the vaultwall section, or leave --host out and unset $VAULTWALL_HOST_FACTS (a document from vaultwallctl show carries the facts it was applied with)");
    else
      diagnostics.warning(*document.embedded_host_facts,
                          "the document carries host facts of its own, so " + host.name +
                              " is not read; to use it, leave them out of the document");
    return;
  }
  Diagnostics parse_diagnostics;
  auto root = json_strict::parse_strict_json(host.text, parse_diagnostics);
  for (Diagnostic d : parse_diagnostics.take()) {
    d.path = d.path.empty() ? host.name : host.name + ":" + d.path;
    (d.is_error() ? diagnostics.error(d.path, d.message) : diagnostics.warning(d.path, d.message));
  }
  if (!root) return;
  ParseOptions host_options;
  host_options.base_dir = host.base_dir;
  Document facts = DocumentReader(diagnostics, host_options, paths).read_host_facts(*root, host.name);
  document.host_facts_origin = facts.host_facts_origin;
  document.ports = std::move(facts.ports);
  document.addresses = std::move(facts.addresses);
  document.listen = std::move(facts.listen);
  document.tunnels = std::move(facts.tunnels);
  document.private_endpoints = std::move(facts.private_endpoints);
  document.virtual_networks = std::move(facts.virtual_networks);
  if (facts.service_tags_path) document.service_tags_path = std::move(facts.service_tags_path);
}

// Fleet mode resolves the trusted services from the prefixes stored with
// the vault's policy: a file named anywhere else is not what is enforced.
void use_service_tags_file(Document& document, const std::string& file, Diagnostics& diagnostics) {
  if (document.service_tags_path && document.service_tags_path->value != file)
    diagnostics.warning(document.service_tags_path->path,
                        "ignored: the trusted services are resolved from the prefixes stored with the vault's policy");
  document.service_tags_path = Located<std::string>{file, "serviceTags"};
}

// The document as far as it could be read (nullopt for a syntax error or a
// shape that names no one vault), so validation can still report problems
// in the well-formed parts.
std::optional<Document> read_document(std::string_view text, const ParseOptions& options,
                                      Diagnostics& diagnostics, WrittenPaths& paths) {
  auto root = json_strict::parse_strict_json(text, diagnostics);
  if (!root) return std::nullopt;
  auto recognised = shapes::recognise(*root, options.vault, diagnostics, paths);
  if (!recognised) return std::nullopt;
  Document document = DocumentReader(diagnostics, options, paths).read(*recognised);
  if (options.host_facts) merge_host_facts(document, *options.host_facts, diagnostics, paths);
  if (options.service_tags_file) use_service_tags_file(document, *options.service_tags_file, diagnostics);
  return document;
}

}  // namespace

Checked<Document> parse_document(std::string_view text, const ParseOptions& options) {
  Diagnostics diagnostics;
  WrittenPaths paths;
  Checked<Document> result;
  auto document = read_document(text, options, diagnostics, paths);
  if (document && !diagnostics.has_errors()) result.value = std::move(document);
  result.diagnostics = diagnostics.take();
  paths.translate(result.diagnostics);
  return result;
}

Checked<Policy> load_policy(std::string_view text, const ParseOptions& parse_options,
                            const ValidateOptions& validate_options) {
  Diagnostics diagnostics;
  WrittenPaths paths;
  auto document = read_document(text, parse_options, diagnostics, paths);
  Checked<Policy> policy;
  if (document) {
    // Shape errors do not stop validation: every error is reported at once.
    policy = validate_document(*document, validate_options);
    bool shape_ok = !diagnostics.has_errors();
    diagnostics.append(policy.diagnostics);
    if (!shape_ok) policy.value.reset();
  }
  policy.diagnostics = diagnostics.take();
  paths.translate(policy.diagnostics);
  return policy;
}

Checked<Policy> load_policy_file(const std::filesystem::path& file,
                                 const ValidateOptions& validate_options,
                                 const std::optional<std::string>& vault,
                                 const HostFactsSource& host, InputFile* read) {
  auto failed = [](Error error) {
    Checked<Policy> result;
    result.diagnostics.push_back({Severity::kError, "", error.message()});
    return result;
  };
  auto text = read_input_file(file.string(), document_size_cap(), "rule document");
  if (!text) {
    Error error = text.error();
    if (error.code == EINVAL) error.hint = "give a regular file, or -f - for standard input";
    return failed(error);
  }
  ParseOptions parse_options;
  std::error_code ec;
  if (read) {
    const auto absolute = file == "-" ? file : std::filesystem::absolute(file, ec);
    *read = {.path = (ec ? file : absolute).string(), .sha256 = sha256_hex(*text)};
  }
  // Standard input: a relative serviceTags path means the current directory.
  parse_options.base_dir = file == "-" ? std::filesystem::current_path(ec)
                                       : std::filesystem::absolute(file, ec).parent_path();
  parse_options.vault = vault;
  if (!validate_options.policy_only) {
    if (file == "-" && host.path == "-")
      return failed(Error{EINVAL, "--host - and -f - cannot both read standard input",
                          "give the host facts or the document as a file"});
    auto facts = read_host_facts(host);
    if (!facts) return failed(facts.error());
    parse_options.host_facts = std::move(*facts);
  }
  return load_policy(*text, parse_options, validate_options);
}

}  // namespace vaultwall
