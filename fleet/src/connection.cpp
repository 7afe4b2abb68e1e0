#include "vaultwall/fleet/connection.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace vaultwall::fleet {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

EtcdSettings etcd_settings_from_environment() {
  return EtcdSettings{.endpoints = env(kEtcdEndpointsEnv),
                      .cacert = env(kEtcdCaCertEnv),
                      .cert = env(kEtcdCertEnv),
                      .key = env(kEtcdKeyEnv),
                      .user = env(kEtcdUserEnv),
                      .password_file = env(kEtcdPasswordFileEnv)};
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

Result<std::string> read_password_file(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    return fail_errno("read the etcd password file " + path, "check --password-file");
  if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return fail(EACCES,
                "the etcd password file " + path + " is readable or writable by others (mode " +
                    std::to_string((info.st_mode >> 6) & 7) +
                    std::to_string((info.st_mode >> 3) & 7) + std::to_string(info.st_mode & 7) +
                    ")",
                "chmod 600 " + path);
  std::ifstream in(path);
  std::string password;
  if (!in || !std::getline(in, password))
    return fail(EINVAL, "the etcd password file " + path + " is empty",
                "write the user's password on its first line");
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

std::vector<std::string> spread_endpoints(std::vector<std::string> endpoints,
                                          std::string_view host) {
  if (endpoints.size() < 2) return endpoints;
  uint64_t hash = 1469598103934665603ull;  // FNV-1a: the same order on every run
  for (char c : host) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  std::rotate(endpoints.begin(), endpoints.begin() + hash % endpoints.size(), endpoints.end());
  return endpoints;
}

Result<GatewayOptions> gateway_options(const EtcdSettings& settings) {
  GatewayOptions options;
  options.endpoints = split_list(settings.endpoints);
  if (options.endpoints.empty())
    return fail(EINVAL, "no etcd endpoints",
                std::string("give --endpoints https://HOST:2379,... or set ") + kEtcdEndpointsEnv);
  options.tls = TlsFiles{settings.cacert, settings.cert, settings.key};
  if (settings.user.empty() != settings.password_file.empty())
    return fail(EINVAL,
                settings.user.empty() ? "--password-file is set without --user"
                                      : "--user is set without --password-file",
                "give the etcd user and the file holding its password together");
  if (!settings.user.empty())
    options.credentials =
        Credentials{settings.user, VW_TRY(read_password_file(settings.password_file))};
  return options;
}

}  // namespace vaultwall::fleet
