// vaultwall-agent: the resident daemon that keeps the loaded vaultwall
// program attached to the named interfaces (see vaultwall/agent/agent.h).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cmath>

#include "vaultwall/agent/agent.h"
#include "vaultwall/agent/instance_lock.h"
#include "vaultwall/agent/options.h"
#include "vaultwall/common/command_line.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/logging.h"
#include "vaultwall/fleet/connection_cli.h"
#include "vaultwall/fleet/state_dir.h"
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

void add_fleet_options(CLI::App* command, FleetOptions& o) {
  command->add_option(
      "--vault", o.vault,
      std::string("fleet mode: the vault whose policy to apply from etcd (default $") +
          fleet::kFleetVaultEnv + ")");
  command->add_option("--host-name", o.host_name,
                      std::string("this host's name in etcd (default $") +
                          fleet::kFleetHostNameEnv + " or the system's host name)");
  command->add_option("--host", o.host_facts,
                      std::string("the host facts file merged with the vault's policy (default $") +
                          kHostFactsEnv + " or " + kHostFactsDefaultPath + ")");
  command->add_option("--state-dir", o.state_dir,
                      std::string("where the applied document and trusted prefixes are kept "
                                  "(default $") +
                          fleet::kFleetStateDirEnv + " or " + fleet::kStateDirDefault + ")");
  command->add_option("--metrics-textfile", o.metrics_dir,
                      std::string("write DIR/vaultwall_fleet.prom for node_exporter (default $") +
                          fleet::kMetricsTextfileEnv + ")");
  fleet::add_etcd_options(command, o.etcd);
  struct Interval {
    const char* flag;
    double* seconds;
    const char* help;
  };
  const Interval intervals[] = {
      {"--status-ttl", &o.status_ttl_seconds,
       "seconds the host's status outlives the agent in etcd (its lease)"},
      {"--anti-entropy-interval", &o.anti_entropy_seconds,
       "seconds between full re-reads of the policy and verifies of the kernel"},
      {"--heartbeat-interval", &o.heartbeat_seconds,
       "seconds between status rewrites with fresh counters"},
      {"--watch-timeout", &o.watch_timeout_seconds,
       "seconds of silence after which the etcd watch is taken for dead (keep above 2x etcd's "
       "--experimental-watch-progress-notify-interval)"},
  };
  for (const Interval& interval : intervals)
    command->add_option(interval.flag, *interval.seconds, interval.help)->capture_default_str();
}

int run(int argc, char** argv) {
  CLI::App app{
      "vaultwall-agent: keeps the loaded vaultwall program attached to the named interfaces.\n"
      "Re-attaches within a second when an interface appears, is re-created (new ifindex) or its\n"
      "link is severed, re-checks every few seconds, and reports another XDP program in the way.\n"
      "Stopping or killing it detaches nothing. Run it in the interfaces' network namespace\n"
      "(nsenter --net=/run/netns/NAME vaultwall-agent ...).\n"
      "Fleet mode (--vault): applies the vault's policy from etcd, merged with this host's facts,\n"
      "and reports the host's status there; an invalid policy or an etcd outage changes nothing."};
  app.set_version_flag("--version", VAULTWALL_VERSION);
  std::string pin_dir = env_or(kPinDirEnv, VW_PIN_DIR_DEFAULT);
  std::vector<std::string> interfaces;
  std::string mode = env_or(kAttachModeEnv, "");
  std::string journal;
  double check_seconds = 2;
  bool verbose = false;
  FleetOptions fleet_options{.vault = env_or(fleet::kFleetVaultEnv, ""),
                             .host_name = env_or(fleet::kFleetHostNameEnv, ""),
                             .host_facts = env_or(kHostFactsEnv, kHostFactsDefaultPath),
                             .state_dir = env_or(fleet::kFleetStateDirEnv, fleet::kStateDirDefault),
                             .metrics_dir = env_or(fleet::kMetricsTextfileEnv, ""),
                             .etcd = fleet::etcd_settings_from_environment()};

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
    add_fleet_options(command, fleet_options);
  });

  auto parsed = parse_command_line(app, argc, argv, [] {});
  if (parsed) return *parsed;
  setup_logging("vaultwall-agent", LogStyle::kDaemon, verbose);
  route_libbpf_messages();

  bool mode_from_command_line = app.count("--mode") > 0;
  auto attach_mode = parse_attach_mode(mode.empty() ? "auto" : mode,
                                       mode_from_command_line ? "--mode" : kAttachModeEnv);
  if (!attach_mode) return report(attach_mode.error(), kExitUsage);
  auto fleet = fleet_config(fleet_options);
  if (!fleet) return report(fleet.error(), kExitUsage);
  auto names = interfaces_to_cover(interfaces, env_or(kInterfacesEnv, ""), fleet->has_value());
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
      .fleet = std::move(*fleet),
  };
  if (auto r = run_agent(config); !r) return report(r.error());
  return kExitOk;
}

}  // namespace
}  // namespace vaultwall

int main(int argc, char** argv) { return vaultwall::run(argc, argv); }
