#include "vaultwall/agent/options.h"

#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "vaultwall/fleet/layout.h"
#include "vaultwall/fleet/state_dir.h"

namespace vaultwall {

std::vector<std::string> split_interface_list(std::string_view list) {
  std::vector<std::string> names;
  size_t at = 0;
  while (at < list.size()) {
    size_t end = list.find_first_of(" \t\n,", at);
    if (end == std::string_view::npos) end = list.size();
    std::string name(list.substr(at, end - at));
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
      names.push_back(std::move(name));
    at = end + 1;
  }
  return names;
}

std::optional<std::string> interface_name_problem(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name.size() >= IF_NAMESIZE)
    return "longer than " + std::to_string(IF_NAMESIZE - 1) + " bytes";
  if (name == "." || name == "..") return "not a name";
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '/' || c == ' ' || byte < 0x20 || byte == 0x7f)
      return "holds '/', a space or a control character";
  }
  return std::nullopt;
}

Result<AttachMode> parse_attach_mode(std::string_view text, std::string_view source) {
  if (text == "auto") return AttachMode::kAuto;
  if (text == "native") return AttachMode::kNative;
  if (text == "generic") return AttachMode::kGeneric;
  return fail(EINVAL,
              std::string(source) + "=" + std::string(text) + " is not auto, native or generic",
              "auto attaches natively where the driver can, else generic");
}

Result<std::vector<std::string>> interfaces_to_cover(
    const std::vector<std::string>& from_command_line, std::string_view from_environment,
    bool fleet_mode) {
  std::vector<std::string> names;
  for (const std::string& item : from_command_line)
    for (std::string& name : split_interface_list(item))
      if (std::find(names.begin(), names.end(), name) == names.end())
        names.push_back(std::move(name));
  std::string source = "--interface";
  if (from_command_line.empty()) {
    names = split_interface_list(from_environment);
    source = kInterfacesEnv;
  }
  if (names.empty() && fleet_mode) return names;
  if (names.empty())
    return fail(EINVAL, "no interfaces to cover",
                std::string("name them with --interface IF (repeatable) or in ") + kInterfacesEnv +
                    " in /etc/vaultwall/vaultwall.env");
  for (const std::string& name : names)
    if (auto problem = interface_name_problem(name))
      return fail(EINVAL, source + " '" + name + "': not an interface name (" + *problem + ")",
                  "list the names with: ip -brief link (in the interfaces' network namespace)");
  return names;
}

namespace {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(std::lround(seconds * 1000));
}

std::string this_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return {};
  return name;
}

}  // namespace

Result<std::optional<FleetConfig>> fleet_config(const FleetOptions& options) {
  if (options.vault.empty()) return std::nullopt;
  FleetConfig config;
  VW_TRY(fleet::check_vault_name(options.vault, "--vault"));
  config.vault = options.vault;
  config.host = options.host_name.empty() ? this_host_name() : options.host_name;
  if (auto ok = fleet::check_host_name(config.host, options.host_name.empty()
                                                        ? "this host's name (gethostname)"
                                                        : "--host-name");
      !ok)
    return std::unexpected(ok.error());
  config.etcd = VW_TRY(fleet::gateway_options(options.etcd));
  config.etcd.endpoints = fleet::spread_endpoints(std::move(config.etcd.endpoints), config.host);
  if (options.status_ttl_seconds < 2 || options.status_ttl_seconds > 3600)
    return fail(EINVAL,
                "--status-ttl " + std::to_string(options.status_ttl_seconds) +
                    " is out of range 2-3600 seconds",
                "etcd keeps a host's status this long after its agent stops renewing it");
  config.status_ttl = std::chrono::seconds(std::lround(options.status_ttl_seconds));
  if (options.watch_timeout_seconds < 1.5)
    return fail(EINVAL, "--watch-timeout must be at least 1.5 seconds",
                "use 3x etcd's --experimental-watch-progress-notify-interval");
  config.etcd.watch_idle_timeout = to_ms(options.watch_timeout_seconds);
  config.anti_entropy_interval = to_ms(options.anti_entropy_seconds);
  config.heartbeat_interval = to_ms(options.heartbeat_seconds);
  if (config.anti_entropy_interval.count() < 100 || config.heartbeat_interval.count() < 100)
    return fail(EINVAL, "--anti-entropy-interval and --heartbeat-interval are at least 0.1 s");
  config.host_facts = options.host_facts.empty() ? kHostFactsDefaultPath : options.host_facts;
  config.state_dir = options.state_dir.empty() ? fleet::kStateDirDefault : options.state_dir;
  config.metrics_dir = options.metrics_dir;
  return config;
}

}  // namespace vaultwall
