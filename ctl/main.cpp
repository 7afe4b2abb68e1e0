// vaultwallctl: Azure networkAcls documents in, validated, compiled and
// applied atomically to the pinned maps; counters, explanations and drift
// checks out. Each command group lives in ctl/cli/; every command returns a
// Report, printed (and journaled) here.
#include <CLI/CLI.hpp>

#include "cli/common.h"
#include "vaultwall/common/command_line.h"
#include "vaultwall/common/logging.h"
#include "vaultwall/kernel/program.h"

namespace vaultwall::cli {
namespace {

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
  setup_logging("vaultwallctl", LogStyle::kCommand, g.verbose);
  route_libbpf_messages();
  for (const Commands::Action& action : commands.actions) {
    if (!action.command->parsed()) continue;
    using Output = Commands::Output;
    const Report report = action.run();
    const Output output = action.streams && action.streams() ? Output::kStream : action.output;
    OutputFormat format = g.format();
    if (output != Output::kReport) format.json = output == Output::kDocument;
    return emit(report, format);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace vaultwall::cli

int main(int argc, char** argv) { return vaultwall::cli::run(argc, argv); }
