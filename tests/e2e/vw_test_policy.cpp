// vw_test_policy: TEST-ONLY stand-in for vaultwallctl, used by the end-to-end
// scripts until the real policy tool exists. It installs a tiny policy (IP
// rules, default action, protected TCP ports, enforce/audit) through the real
// library path (PinnedMaps + SlotImage + write_idle_slot_and_flip), and prints
// the per-class counters as JSON. No validation beyond parsing: the tests
// control every input. Not installed, not for operators.
//
//   vw_test_policy --pin-dir DIR --default allow|deny --allow CIDR...
//                  --port tcp/443... [--mode audit]
//   vw_test_policy --pin-dir DIR --counters
#include <arpa/inet.h>
#include <netinet/in.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vaultwall/maps.h"
#include "vaultwall/slots.h"
#include "vaultwall_abi.h"

namespace vaultwall {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// Index = VW_CLASS_* value.
constexpr const char* kClassNames[VW_CLASS_COUNT] = {
    "not_ip",        "unprotected",     "private_endpoint", "ip_rule",
    "vnet_rule",     "trusted",         "default_allow",    "default_deny",
    "public_disabled", "audit_deny",    "ipv6_allow",       "ipv6_deny",
    "fragment_allow", "fragment_deny",  "malformed",        "perimeter_rule",
    "perimeter_deny", "perimeter_would_deny",
};
static_assert(VW_CLASS_PERIMETER_WOULD_DENY == 17 && VW_CLASS_COUNT == 18,
              "verdict classes changed: update kClassNames");

int report(const std::string& message) {
  std::cerr << "vw_test_policy: " << message << "\n";
  return kExitError;
}

// "a.b.c.d" or "a.b.c.d/n" -> rule key under the public vnet.
bool parse_cidr(const std::string& text, vw_rule_key& key) {
  std::string addr = text;
  unsigned bits = 32;
  if (auto slash = text.find('/'); slash != std::string::npos) {
    addr = text.substr(0, slash);
    try {
      size_t used = 0;
      bits = static_cast<unsigned>(std::stoul(text.substr(slash + 1), &used));
      if (used != text.size() - slash - 1) return false;
    } catch (const std::exception&) {
      return false;
    }
    if (bits > 32) return false;
  }
  in_addr parsed{};
  if (inet_pton(AF_INET, addr.c_str(), &parsed) != 1) return false;
  key = vw_rule_key{};
  key.prefixlen = VW_RULE_KEY_VNET_BITS + bits;
  key.vnet_id = VW_VNET_PUBLIC;
  std::memcpy(key.addr, &parsed, sizeof(key.addr));
  return true;
}

// "tcp/443" -> port entry (TCP only: all this test tool needs).
bool parse_port(const std::string& text, vw_port& port) {
  if (!text.starts_with("tcp/")) return false;
  try {
    size_t used = 0;
    unsigned long value = std::stoul(text.substr(4), &used);
    if (used != text.size() - 4 || value == 0 || value > 65535) return false;
    port = vw_port{.port = static_cast<__u16>(value), .proto = IPPROTO_TCP, .pad = 0};
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

int install_policy(const PinnedMaps& maps, const std::string& default_action,
                   const std::vector<std::string>& allow, const std::vector<std::string>& ports,
                   const std::string& mode) {
  SlotImage image;
  image.settings.default_action = default_action == "deny" ? VW_ACTION_DENY : VW_ACTION_ALLOW;
  image.settings.mode = mode == "audit" ? VW_MODE_AUDIT : VW_MODE_ENFORCE;
  image.settings.flags = VW_SETTINGS_ALL_DESTINATIONS;
  if (ports.size() > VW_MAX_PORTS) return report("too many --port values");
  for (const std::string& text : ports) {
    vw_port port{};
    if (!parse_port(text, port)) return report("bad --port " + text + " (expected tcp/N)");
    image.settings.ports[image.settings.port_count++] = port;
  }

  // Rule ids 1..N in argument order; rule_info names them for bpftool.
  uint32_t rule_id = 1;
  for (const std::string& text : allow) {
    vw_rule_key key{};
    if (!parse_cidr(text, key)) return report("bad --allow " + text + " (expected a.b.c.d[/n])");
    vw_rule_info info{.kind = VW_RULE_KIND_IP,
                      .slots = VW_SLOT_BIT(0) | VW_SLOT_BIT(1),  // listed whichever slot is live
                      .vnet_id = VW_VNET_PUBLIC,
                      .text = {}};
    std::snprintf(info.text, sizeof(info.text), "%s", text.c_str());
    if (auto r = maps.rule_info().put(rule_id, info); !r) return report(r.error().message());
    image.rules.push_back({key, vw_rule_value{.rule_id = rule_id}});
    rule_id++;
  }

  auto slot = active_slot(maps);
  if (!slot) return report(slot.error().message());
  auto previous = maps.policy_info().get(*slot);
  if (!previous) return report(previous.error().message());
  uint64_t generation = (*previous ? (*previous)->generation : 0) + 1;
  image.settings.generation = generation;
  image.info.generation = generation;
  image.info.applied_at_unix_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::snprintf(image.info.profile, sizeof(image.info.profile), "%s", "e2e-test");
  image.info.rule_prefixes = static_cast<__u32>(image.rules.size());

  auto flipped = write_idle_slot_and_flip(maps, image);
  if (!flipped) return report(flipped.error().message());
  std::cout << "policy generation " << generation << " active in slot " << *flipped << "\n";
  return kExitOk;
}

int print_counters(const PinnedMaps& maps) {
  auto all = read_all_counters(maps.class_stats_fd(), VW_MAP_CLASS_STATS, VW_CLASS_COUNT);
  if (!all) return report(all.error().message());
  nlohmann::json classes = nlohmann::json::object();
  for (uint32_t i = 0; i < VW_CLASS_COUNT; i++)
    classes[kClassNames[i]] = {{"packets", (*all)[i].packets}, {"bytes", (*all)[i].bytes}};
  std::cout << nlohmann::json{{"schemaVersion", 1}, {"classes", classes}}.dump(2) << "\n";
  return kExitOk;
}

int run(int argc, char** argv) {
  CLI::App app{"vw_test_policy: TEST-ONLY policy installer for vaultwall's end-to-end tests"};
  std::string pin_dir = VW_PIN_DIR_DEFAULT;
  std::string default_action = "allow";
  std::string mode = "enforce";
  std::vector<std::string> allow, ports;
  bool counters = false;
  app.add_option("--pin-dir", pin_dir, "where vaultwall's maps are pinned")->capture_default_str();
  auto* counters_opt = app.add_flag("--counters", counters, "print per-class counters as JSON");
  app.add_option("--default", default_action, "default action")
      ->check(CLI::IsMember({"allow", "deny"}))
      ->excludes(counters_opt);
  app.add_option("--allow", allow, "allowed source a.b.c.d[/n] (repeatable)")->excludes(counters_opt);
  app.add_option("--port", ports, "protected port tcp/N (repeatable)")->excludes(counters_opt);
  app.add_option("--mode", mode, "enforce or audit")
      ->check(CLI::IsMember({"enforce", "audit"}))
      ->excludes(counters_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  auto maps = PinnedMaps::open(pin_dir);
  if (!maps) return report(maps.error().message());
  if (counters) return print_counters(*maps);
  if (ports.empty()) ports.push_back("tcp/443");
  return install_policy(*maps, default_action, allow, ports, mode);
}

}  // namespace
}  // namespace vaultwall

int main(int argc, char** argv) { return vaultwall::run(argc, argv); }
