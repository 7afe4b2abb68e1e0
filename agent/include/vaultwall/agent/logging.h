// The agent's log: spdlog to stderr, which systemd hands to the journal.
// Under journald ($JOURNAL_STREAM set) each line starts with its syslog
// priority ("<3>" for errors), so `journalctl -p err` finds them and no
// second timestamp is printed; on a terminal, time and level are shown.
// libbpf's own messages go through the same log.
#pragma once

namespace vaultwall {

// Installs the default logger and routes libbpf's messages into it.
// verbose: debug messages too (libbpf's included).
void setup_agent_logging(bool verbose);

}  // namespace vaultwall
