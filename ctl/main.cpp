// vaultwallctl: Azure networkAcls documents in, validated, compiled and
// applied atomically to the pinned maps; counters, explanations and drift
// checks out. Each command group lives in ctl/cli/.
#include <bpf/libbpf.h>

#include <CLI/CLI.hpp>
#include <cstdarg>
#include <cstdio>

#include "cli/common.h"
#include "vaultwall/command_line.h"

namespace vaultwall::cli {
namespace {

int libbpf_quiet(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  return std::vfprintf(stderr, format, args);
}

int run(int argc, char** argv) {
  CLI::App app{"vaultwallctl: apply Azure Key Vault networkAcls documents to the vaultwall XDP "
               "firewall and read back what it did.\nExit codes: 0 ok, 1 error, 2 usage "
               "(diff: 0 same, 1 different, 2 trouble)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", VAULTWALL_VERSION);
  app.set_help_all_flag("--help-all", "print the help of every subcommand and exit");
  Globals g;
  g.argv.assign(argv, argv + argc);

  Commands commands;
  add_policy_commands(app, g, commands);
  add_observe_commands(app, g, commands);
  add_log_commands(app, g, commands);
  add_metrics_commands(app, g, commands);
  add_history_commands(app, g, commands);
  add_host_commands(app, g, commands);
  add_fleet_commands(app, g, commands);
  add_global_options(app, g, commands);

  auto parsed = parse_command_line(app, argc, argv, [&] {
    for (const auto& check : commands.checks) check();
  });
  if (parsed) return *parsed;
  libbpf_set_print(libbpf_quiet);
  for (const auto& [command, action] : commands.actions)
    if (command->parsed()) return action();
  return kExitUsage;
}

}  // namespace
}  // namespace vaultwall::cli

int main(int argc, char** argv) { return vaultwall::cli::run(argc, argv); }
