// vaultwall-agent: the resident daemon that keeps the loaded vaultwall
// program attached to the named interfaces (see vaultwall/agent/agent.h).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cmath>

#include "vaultwall/agent/agent.h"
#include "vaultwall/agent/instance_lock.h"
#include "vaultwall/common/logging.h"
#include "vaultwall/agent/options.h"
#include "vaultwall/common/command_line.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall_abi.h"

namespace vaultwall {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int report(const Error& error, int exit_code = kExitError) {
  spdlog::error("{}", error.message());
  return exit_code;
}

int run(int argc, char** argv) {
  CLI::App app{
      "vaultwall-agent: keeps the loaded vaultwall program attached to the named interfaces.\n"
      "Re-attaches within a second when an interface appears, is re-created (new ifindex) or its\n"
      "link is severed, re-checks every few seconds, and reports another XDP program in the way.\n"
      "Stopping or killing it detaches nothing. Run it in the interfaces' network namespace\n"
      "(nsenter --net=/run/netns/NAME vaultwall-agent ...)."};
  app.set_version_flag("--version", VAULTWALL_VERSION);
  std::string pin_dir = env_or(kPinDirEnv, VW_PIN_DIR_DEFAULT);
  std::vector<std::string> interfaces;
  std::string mode = env_or(kAttachModeEnv, "");
  std::string journal;
  double check_seconds = 2;
  bool verbose = false;

  add_everywhere(app, [&](CLI::App* command) {
    command->add_option("--pin-dir", pin_dir,
                        std::string("where program, maps and links are pinned (default $") +
                            kPinDirEnv + " or " VW_PIN_DIR_DEFAULT ")");
    command->add_option(
        "-i,--interface", interfaces,
        std::string("an interface to keep covered (repeatable, or a comma-separated "
                    "list; default: the names in $") +
            kInterfacesEnv + ")");
    command->add_option("--mode", mode,
                        std::string("attach mode: auto (native, else generic), native or generic "
                                    "(default $") +
                            kAttachModeEnv + " or auto)");
    command->add_option("--journal", journal,
                        std::string("change journal (default $") + kJournalPathEnv + " or " +
                            kJournalDefaultPath + ")");
    command
        ->add_option("--check-interval", check_seconds,
                     "seconds between full re-checks of every interface (events are handled at "
                     "once; this catches what no event reports)")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    command->add_flag("-v,--verbose", verbose, "debug messages (libbpf's included)");
  });

  auto parsed = parse_command_line(app, argc, argv, [] {});
  if (parsed) return *parsed;
  setup_logging("vaultwall-agent", LogStyle::kDaemon, verbose);
  route_libbpf_messages();

  bool mode_from_command_line = app.count("--mode") > 0;
  auto attach_mode = parse_attach_mode(mode.empty() ? "auto" : mode,
                                       mode_from_command_line ? "--mode" : kAttachModeEnv);
  if (!attach_mode) return report(attach_mode.error(), kExitUsage);
  auto names = interfaces_to_cover(interfaces, env_or(kInterfacesEnv, ""));
  if (!names) return report(names.error(), kExitUsage);
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report(r.error());

  AgentConfig config{
      .pin_dir = pin_dir,
      .interfaces = *names,
      .mode = *attach_mode,
      .journal = journal_path(journal),
      .argv = std::vector<std::string>(argv, argv + argc),
      .check_interval = std::chrono::milliseconds(std::lround(check_seconds * 1000)),
      .run_dir = kRunDirDefault,
  };
  if (auto r = run_agent(config); !r) return report(r.error());
  return kExitOk;
}

}  // namespace
}  // namespace vaultwall

int main(int argc, char** argv) { return vaultwall::run(argc, argv); }
