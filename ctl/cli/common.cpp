#include "cli/common.h"

#include <iostream>

#include "vaultwall/program.h"

namespace vaultwall::cli {

void add_output_option(CLI::App* command, Globals& g) {
  command->add_option("-o,--output", g.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
}

int report(const Error& error) {
  std::cerr << "vaultwallctl: " << error.message() << "\n";
  return kExitError;
}

void print_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  for (const Diagnostic& d : diagnostics)
    std::cerr << (d.is_error() ? "error: " : "warning: ") << d.text() << "\n";
}

json diagnostics_json(const std::vector<Diagnostic>& diagnostics) {
  json out = json::array();
  for (const Diagnostic& d : diagnostics)
    out.push_back({{"severity", d.is_error() ? "error" : "warning"}, {"path", d.path},
                   {"message", d.message}});
  return out;
}

// Pinned maps, after the privilege and bpffs checks that explain failures.
Result<PinnedMaps> open_maps(const Globals& g) {
  if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return std::unexpected(r.error());
  return PinnedMaps::open(g.pin_dir);
}

}  // namespace vaultwall::cli
