// Shared by vaultwallctl's command groups: global options, exit codes,
// error and diagnostic output, and the registry every group adds its
// subcommands to.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "vaultwall/apply.h"
#include "vaultwall/diagnostics.h"
#include "vaultwall/error.h"
#include "vaultwall/journal.h"
#include "vaultwall/maps.h"
#include "vaultwall_abi.h"

namespace vaultwall::cli {

using json = nlohmann::ordered_json;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kSchemaVersion = 1;

struct Globals {
  std::string pin_dir = VW_PIN_DIR_DEFAULT;  // $VAULTWALL_PIN_DIR, then --pin-dir
  std::string output;  // -o as given; empty: the command's default format
  bool json() const { return output == "json"; }
  std::string journal;             // --journal; empty: $VAULTWALL_JOURNAL or the default
  std::string max_input_size;      // --max-input-size; empty: the defaults (input_file.h)
  bool quiet = false;              // -q/--only-show-errors: no warnings about documents
  std::vector<std::string> argv;   // the command line, for the journal
  // The journal entry of the state change in progress (run_journaled), for
  // the commands to fill in; null when the command is not a change.
  JournalEntry* change = nullptr;
};

// Runs a state-changing command with its journal entry: a pending marker
// before, one line with the result after (see vaultwall/journal.h). The
// command fills g.change; a non-zero exit without a reason is recorded as
// failed with the exit status. A journal that cannot be written is reported
// on stderr but does not block the change.
int run_journaled(Globals& g, const std::string& command, const std::function<int()>& change);

// Records why the change in progress failed (no-op outside run_journaled).
void journal_failure(const Globals& g, const std::string& reason);

// Subcommands and what each runs once parsed. A group registers its
// subcommands with add(); checks run after parsing (throw CLI errors).
struct Commands {
  std::vector<std::pair<CLI::App*, std::function<int()>>> actions;
  std::vector<std::function<void()>> checks;
  // The -o formats each subcommand accepts (the first is its default);
  // subcommands not listed take no -o.
  std::vector<std::pair<CLI::App*, std::vector<std::string>>> output_formats;
  void add(CLI::App* command, std::function<int()> action) {
    actions.emplace_back(command, std::move(action));
  }
};

// Declares that a subcommand takes -o/--output with these formats (the
// first is the default); the option itself is added by add_global_options.
void add_output_option(Commands& commands, CLI::App* command,
                       std::vector<std::string> formats = {"table", "json"});

// --pin-dir, --journal, --max-input-size, -q and -o on the top level and on
// every subcommand, so they may be typed before or after it; checks after
// parsing that the command run takes the -o format given and applies the
// input size cap and -q. Call once every group is added.
void add_global_options(CLI::App& app, Globals& g, Commands& commands);

// Prints "vaultwallctl: <message>" to stderr; returns kExitError. Messages
// and diagnostics are printed escaped (control characters as \u001b) and
// cut at kMaxMessageBytes: they quote documents, which may hold anything.
int report(const Error& error);
// Prints "vaultwallctl: warning: <message>" to stderr, the same way (what
// the host's state warns of: -q does not silence it).
void warn(const std::string& message);
// "error: path: message" and "warning: ..." lines on stderr; -q leaves the
// warnings out.
void print_diagnostics(const std::vector<Diagnostic>& diagnostics);
json diagnostics_json(const std::vector<Diagnostic>& diagnostics);

// A policy diff as "  + rule ..." lines on stdout, and as JSON (rulesAdded,
// rulesRemoved, settingsChanged, hostSectionChanged, same).
void print_diff(const PolicyDiff& diff);
json diff_json(const PolicyDiff& diff);

// Pinned maps, after the privilege and bpffs checks that explain failures.
Result<PinnedMaps> open_maps(const Globals& g);

// The command groups (one file each).
void add_policy_commands(CLI::App& app, Globals& g, Commands& commands);
void add_observe_commands(CLI::App& app, Globals& g, Commands& commands);
void add_log_commands(CLI::App& app, Globals& g, Commands& commands);
void add_metrics_commands(CLI::App& app, Globals& g, Commands& commands);
void add_history_commands(CLI::App& app, Globals& g, Commands& commands);
void add_host_commands(CLI::App& app, Globals& g, Commands& commands);
void add_fleet_commands(CLI::App& app, Globals& g, Commands& commands);

}  // namespace vaultwall::cli
