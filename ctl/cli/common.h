// Shared by vaultwallctl's command groups: global options, the registry
// every group adds its subcommands to, and the pieces of output several
// commands share. Commands return a Report; main() emits it (see
// vaultwall/common/output.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vaultwall/apply/apply.h"
#include "vaultwall/common/error.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/output.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/policy/diagnostics.h"
#include "vaultwall_abi.h"

namespace vaultwall::cli {

struct Globals {
  std::string pin_dir = VW_PIN_DIR_DEFAULT;  // $VAULTWALL_PIN_DIR, then --pin-dir
  std::string output;  // -o as given; empty: the command's default format
  bool json() const { return output == "json"; }
  bool no_headers = false;         // --no-headers: tables without their header line
  // How tables print: -o tsv and --no-headers.
  TextTable::Style table_style() const {
    return {.headers = !no_headers, .tab_separated = output == "tsv"};
  }
  // The format main() prints a Report in (Output::kReport).
  OutputFormat format() const { return {.json = json(), .notes = !json(), .table = table_style()}; }
  std::string journal;             // --journal; empty: $VAULTWALL_JOURNAL or the default
  std::string max_input_size;      // --max-input-size; empty: the defaults (input_file.h)
  bool quiet = false;              // -q/--only-show-errors: no warnings about documents
  bool verbose = false;            // -v: debug messages (libbpf's included)
  std::vector<std::string> argv;   // the command line, for the journal
};

// Subcommands and what each runs once parsed. A group registers its
// subcommands with add(); checks run after parsing (throw CLI errors).
struct Commands {
  // What a command prints on stdout.
  enum class Output {
    kReport,    // its Report, as a table or as JSON (-o)
    kDocument,  // its Report's JSON whatever -o says (show: the document)
    kStream,    // what it writes as it runs (log, metrics): the Report only ends it
  };
  struct Action {
    CLI::App* command;
    std::function<Report()> run;
    Output output = Output::kReport;
    // When set and true, the command streams this time (status --watch
    // prints a report per change itself): its Report only ends it.
    std::function<bool()> streams;
  };
  std::vector<Action> actions;
  std::vector<std::function<void()>> checks;
  // The -o formats each subcommand accepts (the first is its default);
  // subcommands not listed take no -o.
  std::vector<std::pair<CLI::App*, std::vector<std::string>>> output_formats;
  void add(CLI::App* command, std::function<Report()> run, Output output = Output::kReport,
           std::function<bool()> streams = {}) {
    actions.push_back({command, std::move(run), output, std::move(streams)});
  }
};

// Declares that a subcommand takes -o/--output with these formats (the
// first is the default); the option itself is added by add_global_options.
void add_output_option(Commands& commands, CLI::App* command,
                       std::vector<std::string> formats = {"table", "json"});
// The formats of a command whose table output has tables: tsv besides.
inline const std::vector<std::string> kTableFormats = {"table", "json", "tsv"};

// --pin-dir, --journal, --max-input-size, -q, -v, --no-headers and -o on the top level and on
// every subcommand, so they may be typed before or after it; checks after
// parsing that the command run takes the -o format given and applies the
// input size cap and -q. Call once every group is added.
void add_global_options(CLI::App& app, Globals& g, Commands& commands);

// A state-changing command, journaled (see run_journaled in output.h).
Report journaled(const Globals& g, const std::string& command, const std::function<Report()>& change);

// Diagnostics for the table output (stderr) and the JSON output.
void add_diagnostic_notes(Report& report, const std::vector<Diagnostic>& diagnostics);
Json diagnostics_json(const std::vector<Diagnostic>& diagnostics);
// "error1; error2" of the errors among diagnostics, for journal reasons.
std::string errors_text(const std::vector<Diagnostic>& diagnostics);

// A policy diff as "  + rule ..." lines, and as JSON (rulesAdded,
// rulesRemoved, settingsChanged, hostSectionChanged, hostChanges, same).
std::vector<std::string> diff_lines(const PolicyDiff& diff);
Json diff_json(const PolicyDiff& diff);

// A report that only ends a command which printed as it ran (Output::kStream).
Report exit_code_report(int code);

// Pinned maps, after the privilege and bpffs checks that explain failures.
Result<PinnedMaps> open_maps(const Globals& g);

// The name and resource group of a Key Vault id
// (/subscriptions/S/resourceGroups/G/providers/Microsoft.KeyVault/vaults/N);
// nullopt for anything else.
std::optional<std::pair<std::string, std::string>> vault_name_and_group(const std::string& id);

// Prints "vaultwallctl: warning: <message>" on stderr now, for commands
// that run for days (a Report speaks only at the end).
void warn_now(const std::string& message);

// The command groups (one file each).
void add_policy_commands(CLI::App& app, Globals& g, Commands& commands);
void add_observe_commands(CLI::App& app, Globals& g, Commands& commands);
void add_log_commands(CLI::App& app, Globals& g, Commands& commands);
void add_metrics_commands(CLI::App& app, Globals& g, Commands& commands);
void add_history_commands(CLI::App& app, Globals& g, Commands& commands);
void add_host_commands(CLI::App& app, Globals& g, Commands& commands);
void add_fleet_commands(CLI::App& app, Globals& g, Commands& commands);

}  // namespace vaultwall::cli
