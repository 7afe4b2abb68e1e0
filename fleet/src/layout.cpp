#include "vaultwall/fleet/layout.h"

#include <algorithm>
#include <cctype>

namespace vaultwall::fleet {
namespace {

std::string under_root(std::string_view rest) { return std::string(kRoot) + std::string(rest); }

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string vaults_prefix() { return under_root("vaults/"); }
std::string hosts_prefix() { return under_root("hosts/"); }
std::string policy_key(std::string_view vault) {
  return vaults_prefix() + std::string(vault) + "/policy";
}
std::string host_prefix(std::string_view host) { return hosts_prefix() + std::string(host) + "/"; }
std::string host_info_key(std::string_view host) { return host_prefix(host) + "info"; }
std::string host_status_key(std::string_view host) { return host_prefix(host) + "status"; }

std::optional<HostKey> parse_host_key(std::string_view key) {
  std::string prefix = hosts_prefix();
  if (!key.starts_with(prefix)) return std::nullopt;
  key.remove_prefix(prefix.size());
  size_t slash = key.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == key.size()) return std::nullopt;
  return HostKey{std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

std::optional<std::string> parse_policy_key(std::string_view key) {
  std::string prefix = vaults_prefix();
  constexpr std::string_view kLeaf = "/policy";
  if (!key.starts_with(prefix) || !key.ends_with(kLeaf)) return std::nullopt;
  key.remove_prefix(prefix.size());
  key.remove_suffix(kLeaf.size());
  if (key.empty() || key.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(key);
}

Result<void> check_vault_name(std::string_view name, std::string_view source) {
  auto refuse = [&](const std::string& why) {
    return fail(EINVAL, std::string(source) + " '" + std::string(name) + "': " + why,
                "use the vault's Azure name: 3-24 letters, digits and hyphens, starting with a "
                "letter, e.g. kv-prod-1");
  };
  if (name.size() < 3 || name.size() > 24) return refuse("a vault name has 3 to 24 characters");
  if (!std::isalpha(static_cast<unsigned char>(name.front())))
    return refuse("a vault name starts with a letter");
  if (!is_alnum(name.back())) return refuse("a vault name ends with a letter or digit");
  for (size_t i = 0; i < name.size(); ++i) {
    if (!is_alnum(name[i]) && name[i] != '-')
      return refuse("'" + std::string(1, name[i]) + "' is not a letter, digit or hyphen");
    if (name[i] == '-' && i > 0 && name[i - 1] == '-')
      return refuse("a vault name has no two hyphens in a row");
  }
  return {};
}

Result<void> check_host_name(std::string_view name, std::string_view source) {
  auto refuse = [&](const std::string& why) {
    return fail(EINVAL, std::string(source) + " '" + std::string(name) + "': " + why,
                "use the host's DNS name (letters, digits, '-', '.', '_'), e.g. vault-host-1");
  };
  if (name.empty() || name.size() > 253) return refuse("a host name has 1 to 253 characters");
  if (name == "." || name == "..") return refuse("not a host name");
  auto allowed = [](char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_'; };
  auto bad = std::find_if_not(name.begin(), name.end(), allowed);
  if (bad != name.end()) return refuse("'" + std::string(1, *bad) + "' cannot be part of a key");
  return {};
}

}  // namespace vaultwall::fleet
