// One log for the three binaries: spdlog to stderr. Warnings, errors and
// --verbose detail go through it, libbpf's messages included (see
// route_libbpf_messages in vaultwall/kernel/program.h).
#pragma once

#include <string>

namespace vaultwall {

enum class LogStyle {
  // The commands (vaultwallctl, vaultwall-loader): the lines people and
  // scripts have always read, "vaultwallctl: warning: ..." and
  // "vaultwallctl: <error>", and "debug:" lines with --verbose.
  kCommand,
  // The agent: under journald ($JOURNAL_STREAM is stderr) each line starts
  // with its syslog priority ("<3>" for errors), so `journalctl -p err`
  // finds them and no second timestamp is printed; on a terminal, time and
  // level are shown.
  kDaemon,
};

// Installs the default logger, named `program`. verbose: debug messages too.
void setup_logging(const std::string& program, LogStyle style, bool verbose);

}  // namespace vaultwall
