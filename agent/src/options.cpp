#include "vaultwall/agent/options.h"

#include <net/if.h>

#include <algorithm>

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
    const std::vector<std::string>& from_command_line, std::string_view from_environment) {
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

}  // namespace vaultwall
