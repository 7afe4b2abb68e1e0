#include "cli/common.h"

#include <algorithm>
#include <iostream>

#include "vaultwall/command_line.h"
#include "vaultwall/input_file.h"
#include "vaultwall/program.h"
#include "vaultwall/text.h"

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

int report(const Error& error) {
  std::cerr << "vaultwallctl: " << printable(truncated(error.message(), kMaxMessageBytes)) << "\n";
  return kExitError;
}

void warn(const std::string& message) {
  std::cerr << "vaultwallctl: warning: " << printable(truncated(message, kMaxMessageBytes)) << "\n";
}

void print_diagnostics(const std::vector<Diagnostic>& diagnostics) {
  for (const Diagnostic& d : diagnostics)
    if (d.is_error() || show_warnings)
      std::cerr << (d.is_error() ? "error: " : "warning: ")
              << printable(truncated(d.text(), kMaxMessageBytes)) << "\n";
}

json diagnostics_json(const std::vector<Diagnostic>& diagnostics) {
  json out = json::array();
  for (const Diagnostic& d : diagnostics)
    out.push_back({{"severity", d.is_error() ? "error" : "warning"}, {"path", d.path},
                   {"message", d.message}});
  return out;
}

void print_diff(const PolicyDiff& diff) {
  for (const std::string& r : diff.rules_added) std::cout << "  + rule " << printable(r) << "\n";
  for (const std::string& r : diff.rules_removed) std::cout << "  - rule " << printable(r) << "\n";
  for (const std::string& s : diff.settings_changed) std::cout << "  ~ " << printable(s) << "\n";
  for (const std::string& h : diff.host_changes) std::cout << "  ~ " << printable(h) << "\n";
  if (diff.host_changed && diff.host_changes.empty()) std::cout << "  ~ vaultwall host section set\n";
}

json diff_json(const PolicyDiff& diff) {
  return {{"rulesAdded", diff.rules_added},
          {"rulesRemoved", diff.rules_removed},
          {"settingsChanged", diff.settings_changed},
          {"hostSectionChanged", diff.host_changed},
          {"hostChanges", diff.host_changes},
          {"same", diff.empty()}};
}

// Pinned maps, after the privilege and bpffs checks that explain failures.
Result<PinnedMaps> open_maps(const Globals& g) {
  if (auto r = check_privileges_and_bpffs(g.pin_dir); !r) return std::unexpected(r.error());
  return PinnedMaps::open(g.pin_dir);
}

}  // namespace vaultwall::cli
