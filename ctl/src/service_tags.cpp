// Azure's Service Tags file and the trusted set a policy enforces.
#include "vaultwall/policy/service_tags.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "vaultwall/common/text.h"
#include "vaultwall/policy/input_file.h"
#include "vaultwall/policy/validate.h"

namespace vaultwall {
namespace {

template <class Prefix>
void sort_unique(std::vector<Prefix>& prefixes) {
  std::sort(prefixes.begin(), prefixes.end());
  prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
}

// A trusted tag is refused like a custom entry would be: its name must be
// unambiguous in the file, and each prefix public, /8 or longer, without
// host bits (a hand-edited or damaged file must not widen what is trusted).
// Errors name the place in the file; false after one.
bool check_published_tag(const ServiceTagFile& file, const ServiceTag& tag,
                         const std::string& used_at, const std::string& file_path,
                         Diagnostics& diagnostics) {
  std::string hint =
      " (trusted at " + used_at +
      "): Azure's file as published has none; download it again, or stop trusting the tag";
  bool ok = true;
  const std::vector<size_t>& same_name = file.indexes_by_name.at(to_lower(tag.name));
  if (same_name.size() > 1) {
    std::string where;
    for (size_t index : same_name) where += (where.empty() ? "" : ", ") + std::to_string(index);
    diagnostics.error(file_path + ":values[" + std::to_string(same_name.back()) + "].name",
                      "service tag " + tag.name + " is named " + std::to_string(same_name.size()) +
                          " times (values " + where +
                          "; names compare case-insensitively): which one to trust is ambiguous" +
                          hint);
    ok = false;
  }
  auto where = [&](size_t position) {
    return file_path + ":values[" + std::to_string(tag.index) + "].properties.addressPrefixes[" +
           std::to_string(position) + "]";
  };
  // Either family: host bits, then what no trusted prefix may be.
  auto check_published = [&](const auto& published) {
    const auto& prefix = published.prefix;
    std::optional<std::string> problem;
    if (prefix.has_host_bits())
      problem = "has host bits set (the network would be " + prefix.network().cidr() + ")";
    else if constexpr (std::is_same_v<std::decay_t<decltype(prefix)>, Ipv6Prefix>)
      problem = untrustable_prefix6_reason(prefix);
    else
      problem = untrustable_prefix_reason(prefix);
    if (!problem) return true;
    diagnostics.error(where(published.position),
                      prefix.cidr() + " of service tag " + tag.name + " " + *problem + hint);
    return false;
  };
  for (const PublishedPrefix6& published : tag.published6) ok = check_published(published) && ok;
  for (const PublishedPrefix& published : tag.published) ok = check_published(published) && ok;
  return ok;
}

}  // namespace

const std::vector<TrustedServiceEntry>& trusted_service_catalog() {
  // Key Vault's "Trusted services" table (overview-vnet-service-endpoints,
  // 2026-05-19), each with the tag Azure publishes its addresses under.
  // Tags are an approximation: they hold a service's addresses, Azure
  // admits its callers by identity.
  static const std::vector<TrustedServiceEntry> kCatalog = {
      {"Azure API Management", "ApiManagement"},
      {"Azure App Service", "AppService"},
      {"Azure Application Gateway", ""},
      {"Azure Backup", "AzureBackup"},
      {"Azure Batch", "BatchNodeManagement"},
      {"Azure Bot Service", "AzureBotService"},
      {"Azure CDN", ""},
      {"Azure Container Registry", "AzureContainerRegistry"},
      {"Azure Data Factory", "DataFactory"},
      {"Azure Data Lake Store", "AzureDataLake"},
      {"Azure Data Manager for Agriculture", ""},
      {"Azure Database for MySQL Single server", "Sql"},
      {"Azure Database for MySQL Flexible server", "Sql"},
      {"Azure Database for PostgreSQL Single server", "Sql"},
      {"Azure Database for PostgreSQL Flexible server", "Sql"},
      {"Azure Databricks", "AzureDatabricks"},
      {"Azure Disk Encryption volume encryption service", ""},
      {"Azure Disk Storage", ""},
      {"Azure Event Hubs", "EventHub"},
      {"Azure ExpressRoute", ""},
      {"Azure Firewall Premium", ""},
      {"Azure Front Door Classic", "AzureFrontDoor.Backend"},
      {"Azure Front Door Standard/Premium", "AzureFrontDoor.Backend"},
      {"Azure Import/Export", ""},
      {"Azure Information Protection", "AzureInformationProtection"},
      {"Azure Machine Learning", "AzureMachineLearning"},
      {"Azure Monitor", "AzureMonitor"},
      {"Azure NetApp Files", ""},
      {"Azure Policy Scan", ""},
      {"Azure Resource Manager template deployment service", "AzureResourceManager"},
      {"Azure Service Bus", "ServiceBus"},
      {"Azure SQL Database", "Sql"},
      {"Azure Storage", "Storage"},
      {"Azure Synapse Analytics", "Sql"},
      {"Azure Virtual Machines deployment service", ""},
      {"Exchange Online, SharePoint Online, M365DataAtRestEncryption", ""},
      {"Microsoft PowerPlatform", "PowerPlatformInfra"},
      {"Microsoft Purview", ""},
  };
  return kCatalog;
}

const TrustedServiceEntry* find_trusted_service(std::string_view name) {
  for (const TrustedServiceEntry& entry : trusted_service_catalog())
    if (equals_ignore_case(entry.name, name)) return &entry;
  return nullptr;
}

const ServiceTag* ServiceTagFile::find(std::string_view name) const {
  if (auto it = tags.find(std::string(name)); it != tags.end()) return &it->second;
  for (const auto& [tag_name, tag] : tags)
    if (equals_ignore_case(tag_name, name)) return &tag;
  return nullptr;
}

Result<ServiceTagFile> parse_service_tags(std::string_view text) {
  auto root = nlohmann::json::parse(text, nullptr, false);
  if (root.is_discarded()) return fail(EINVAL, "Service Tags file is not valid JSON");
  if (!root.is_object() || !root.contains("values") || !root["values"].is_array())
    return fail(EINVAL, "Service Tags file has no \"values\" array",
                "use Azure's ServiceTags_Public_<date>.json as downloaded");
  ServiceTagFile file;
  const auto& values = root["values"];
  for (size_t index = 0; index < values.size(); ++index) {
    const auto& value = values[index];
    if (!value.is_object() || !value.contains("name") || !value["name"].is_string()) continue;
    ServiceTag tag;
    tag.name = value["name"].get<std::string>();
    tag.index = index;
    const auto& properties = value.value("properties", nlohmann::json::object());
    if (properties.is_object() && properties.contains("addressPrefixes") &&
        properties["addressPrefixes"].is_array()) {
      const auto& prefixes = properties["addressPrefixes"];
      for (size_t position = 0; position < prefixes.size(); ++position) {
        if (!prefixes[position].is_string()) continue;
        std::string prefix_text = prefixes[position].get<std::string>();
        if (looks_like_ipv6(prefix_text)) {
          auto prefix6 = parse_ipv6_prefix(prefix_text);
          if (!prefix6)
            return fail(EINVAL, "Service Tags file: tag " + tag.name +
                                    " has an invalid IPv6 prefix \"" + prefix_text + "\"");
          tag.published6.push_back({*prefix6, position});
          tag.ipv6.push_back(prefix6->network());
          continue;
        }
        auto prefix = parse_ipv4_prefix(prefix_text);
        if (!prefix)
          return fail(EINVAL, "Service Tags file: tag " + tag.name + " has an invalid prefix \"" +
                                  prefix_text + "\"");
        tag.published.push_back({*prefix, position});
        tag.ipv4.push_back(prefix->network());
      }
    }
    sort_unique(tag.ipv4);
    sort_unique(tag.ipv6);
    file.indexes_by_name[to_lower(tag.name)].push_back(index);
    file.tags[tag.name] = std::move(tag);
  }
  return file;
}

Result<ServiceTagFile> load_service_tags(const std::filesystem::path& file) {
  auto text = read_input_file(file.string(), service_tags_size_cap(), "Service Tags file");
  if (!text) {
    Error error = text.error();
    if (error.code != EFBIG)
      error.hint =
          "download Azure's Service Tags JSON and point vaultwall.trustedServices.serviceTags at it";
    return std::unexpected(error);
  }
  auto parsed = parse_service_tags(*text);
  if (!parsed) {
    Error error = parsed.error();
    error.context = file.string() + ": " + error.context;
    return std::unexpected(error);
  }
  return parsed;
}

size_t TrustedSet::ipv4_prefix_count() const {
  size_t n = 0;
  for (const TrustedService& service : services) n += service.ipv4.size();
  return n;
}

size_t TrustedSet::ipv6_prefix_count() const {
  size_t n = 0;
  for (const TrustedService& service : services) n += service.ipv6.size();
  return n;
}

namespace {

// Whether the policy lets trusted services in at all: bypass on, and no
// enforced perimeter (which overrides the bypass).
bool bypass_applies(const Policy& policy) {
  return policy.bypass == Bypass::kAzureServices &&
         policy.perimeter_effect() != PerimeterEffect::kEnforced;
}

// The tag a listed name stands for: an entry of Key Vault's list names its
// tag ("" when it has none); anything else is a tag's name.
std::string tag_of(const std::string& name) {
  const TrustedServiceEntry* entry = find_trusted_service(name);
  return entry ? std::string(entry->service_tag) : name;
}

}  // namespace

Checked<TrustedSet> resolve_trusted_services(const Policy& policy) {
  const TrustedServices& trusted = policy.host.trusted;
  bool tags_named = std::any_of(trusted.services.begin(), trusted.services.end(),
                                [](const std::string& name) { return !tag_of(name).empty(); });
  if (!bypass_applies(policy) || !tags_named) return resolve_trusted_services(policy, nullptr);
  auto file = load_service_tags(trusted.service_tags_path);
  if (!file) {
    Checked<TrustedSet> result;
    result.diagnostics.push_back(
        {Severity::kError, "vaultwall.trustedServices.serviceTags", file.error().message()});
    return result;
  }
  return resolve_trusted_services(policy, &*file);
}

Checked<TrustedSet> resolve_trusted_services(const Policy& policy, const ServiceTagFile* tags) {
  Diagnostics diagnostics;
  TrustedSet set;
  const TrustedServices& trusted = policy.host.trusted;
  // Bypass None: Azure trusts no service, so nothing is enforced; nor when
  // an enforced perimeter overrides the bypass.
  if (!bypass_applies(policy)) return {set, {}};
  std::vector<std::string> resolved;  // tag names already in the set
  for (size_t i = 0; i < trusted.services.size(); ++i) {
    const std::string name = tag_of(trusted.services[i]);
    if (name.empty()) continue;  // no published tag: validation said so once
    if (std::find(resolved.begin(), resolved.end(), name) != resolved.end()) continue;
    resolved.push_back(name);
    std::string path = "vaultwall.trustedServices.services[" + std::to_string(i) + "]";
    const ServiceTag* tag = tags ? tags->find(name) : nullptr;
    if (!tags) {
      diagnostics.error(
          path, name + ": no Service Tags file loaded; set vaultwall.trustedServices.serviceTags");
      continue;
    }
    if (!tag) {
      diagnostics.error(
          path,
          name + " is not a service tag in " + trusted.service_tags_path +
              "; use a tag name from its values[].name (e.g. AzureResourceManager) or a custom entry");
      continue;
    }
    if (!check_published_tag(*tags, *tag, path, trusted.service_tags_path, diagnostics)) continue;
    set.services.push_back({tag->name, tag->ipv4, tag->ipv6, false});
  }
  for (const CustomTrustedService& custom : trusted.custom) {
    TrustedService service{custom.name, custom.prefixes, custom.prefixes6, true};
    sort_unique(service.ipv4);
    sort_unique(service.ipv6);
    set.services.push_back(std::move(service));
  }
  Checked<TrustedSet> result;
  if (!diagnostics.has_errors()) result.value = std::move(set);
  result.diagnostics = diagnostics.take();
  return result;
}

}  // namespace vaultwall
