#include "cli/common.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>

#include "vaultwall/common/command_line.h"
#include "vaultwall/common/text.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall/policy/input_file.h"

namespace vaultwall::cli {

void add_output_option(Commands& commands, CLI::App* command, std::vector<std::string> formats) {
  commands.output_formats.emplace_back(command, std::move(formats));
}

namespace {

bool show_warnings = true;  // -q/--only-show-errors clears it

const std::vector<std::string>* formats_of(const Commands& commands, const CLI::App* command) {
  for (const auto& [cmd, formats] : commands.output_formats)
    if (cmd == command) return &formats;
  return nullptr;
}

std::string joined(const std::vector<std::string>& words, const std::string& last_separator) {
  std::string text;
  for (size_t i = 0; i < words.size(); i++)
    text += (i == 0 ? "" : i + 1 == words.size() ? last_separator : ", ") + words[i];
  return text;
}

}  // namespace

void add_global_options(CLI::App& app, Globals& g, Commands& commands) {
  g.pin_dir = env_or(kPinDirEnv, g.pin_dir);
  std::vector<std::string> every_format;
  for (const auto& [cmd, formats] : commands.output_formats)
    for (const std::string& f : formats)
      if (std::find(every_format.begin(), every_format.end(), f) == every_format.end())
        every_format.push_back(f);
  add_everywhere(app, [&](CLI::App* command) {
    command->add_option("--pin-dir", g.pin_dir,
                        std::string("where vaultwall's maps are pinned (default $") + kPinDirEnv +
                            " or " VW_PIN_DIR_DEFAULT ")");
    command->add_option("--journal", g.journal,
                        std::string("change journal (default $") + kJournalPathEnv + " or " +
                            kJournalDefaultPath + ")");
    command->add_option("--max-input-size", g.max_input_size,
                        "largest rule document or Service Tags file read, e.g. 16M (default " +
                            format_size(kDocumentSizeCap) + " and " +
                            format_size(kServiceTagsSizeCap) + ")");
    command->add_flag("-q,--only-show-errors", g.quiet,
                      "print errors only, not the warnings about documents (as az --only-show-errors)");
    command->add_flag("-v,--verbose", g.verbose, "print debug messages (libbpf's included)");
    command->add_flag("--no-headers", g.no_headers,
                      "print tables without their header line (with -o table or tsv)");
    const std::vector<std::string>* formats = command == &app ? &every_format
                                                              : formats_of(commands, command);
    if (formats)
      command->add_option("-o,--output", g.output, joined(*formats, " or "))
          ->check(CLI::IsMember(*formats));
  });
  commands.checks.push_back([&g] { show_warnings = !g.quiet; });
  commands.checks.push_back([&g] {
    if (g.max_input_size.empty()) return;
    auto bytes = parse_size(g.max_input_size);
    if (!bytes) throw CLI::ValidationError("--max-input-size", bytes.error().message());
    set_input_size_cap(*bytes);
  });
  // -o before the subcommand is checked against what the command takes.
  commands.checks.push_back([&app, &g, &commands] {
    if (g.output.empty()) return;
    const CLI::App* leaf = parsed_leaf(app);
    const std::vector<std::string>* formats = formats_of(commands, leaf);
    if (!formats)
      throw CLI::ValidationError("-o", leaf->get_name() + " takes no -o/--output");
    if (std::find(formats->begin(), formats->end(), g.output) == formats->end())
      throw CLI::ValidationError("-o", leaf->get_name() + " -o takes " + joined(*formats, " or "));
  });
}

Report journaled(const Globals& g, const std::string& command,
                 const std::function<Report()>& change) {
  JournaledChange journal{.journal = journal_path(g.journal),
                          .command = command,
                          .argv = g.argv,
                          .pin_dir = g.pin_dir,
                          .policy_version = [&g] { return active_policy_version(g.pin_dir); }};
  return run_journaled(journal, change);
}

void add_diagnostic_notes(Report& report, const std::vector<Diagnostic>& diagnostics) {
  for (const Diagnostic& d : diagnostics)
    if (d.is_error() || show_warnings)
      report.notes.push_back((d.is_error() ? "error: " : "warning: ") + d.text());
}

std::vector<std::string> diff_lines(const PolicyDiff& diff) {
  std::vector<std::string> out;
  for (const std::string& r : diff.rules_added) out.push_back("  + rule " + r);
  for (const std::string& r : diff.rules_removed) out.push_back("  - rule " + r);
  for (const std::string& s : diff.settings_changed) out.push_back("  ~ " + s);
  for (const std::string& h : diff.host_changes) out.push_back("  ~ " + h);
  if (diff.host_changed && diff.host_changes.empty()) out.push_back("  ~ vaultwall host section set");
  return out;
}

Json diff_json(const PolicyDiff& diff) {
  return {{"rulesAdded", diff.rules_added},
          {"rulesRemoved", diff.rules_removed},
          {"settingsChanged", diff.settings_changed},
          {"hostSectionChanged", diff.host_changed},
          {"hostChanges", diff.host_changes},
          {"same", diff.empty()}};
}

Report exit_code_report(int code) {
  Report report;
  report.exit_code = code;
  return report;
}

Json diagnostics_json(const std::vector<Diagnostic>& diagnostics) {
  Json out = Json::array();
  for (const Diagnostic& d : diagnostics)
    out.push_back({{"severity", d.is_error() ? "error" : "warning"}, {"path", d.path},
                   {"message", d.message}});
  return out;
}

std::string errors_text(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics)
    if (d.is_error()) text += (text.empty() ? "" : "; ") + d.text();
  return text.empty() ? "invalid document" : text;
}

Result<PinnedMaps> open_maps(const Globals& g) {
  VW_TRY(check_privileges_and_bpffs(g.pin_dir));
  return PinnedMaps::open(g.pin_dir);
}

std::optional<std::pair<std::string, std::string>> vault_name_and_group(const std::string& id) {
  const std::vector<std::string> parts = split(id, '/');
  if (parts.size() != 9 || !parts[0].empty() || !equals_ignore_case(parts[1], "subscriptions") ||
      !equals_ignore_case(parts[3], "resourceGroups") || !equals_ignore_case(parts[5], "providers") ||
      !equals_ignore_case(parts[6], "Microsoft.KeyVault") || !equals_ignore_case(parts[7], "vaults"))
    return std::nullopt;
  return std::pair{parts[8], parts[4]};
}

void warn_now(const std::string& message) {
  spdlog::warn("{}", printable(truncated(message, kMaxMessageBytes)));
}

}  // namespace vaultwall::cli
