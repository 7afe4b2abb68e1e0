// vaultwallctl history: the change journal (who changed what, when, with
// what result).
#include "cli/common.h"
#include "vaultwall/common/journal.h"

namespace vaultwall::cli {

namespace {

// Journal lines are read as written: any field may be missing or of another
// type (an older version, a hand edit, a damaged disk). These read what
// they can and give "?" or nothing for the rest; they never throw.
std::string text_field(const Json& e, const char* key) {
  if (!e.contains(key)) return "";
  const Json& v = e[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::vector<std::string> text_list(const Json& e, const char* key) {
  std::vector<std::string> out;
  if (!e.contains(key) || !e[key].is_array()) return out;
  for (const Json& item : e[key])
    out.push_back(item.is_string() ? item.get<std::string>()
                                   : item.dump(-1, ' ', false, Json::error_handler_t::replace));
  return out;
}

std::string version_text(const Json& e, const char* key) {
  if (!e.contains(key) || !e[key].is_object()) return "?";
  const Json& v = e[key];
  std::string generation = v.contains("generation") && v["generation"].is_number_unsigned()
                               ? std::to_string(v["generation"].get<uint64_t>())
                               : "?";
  std::string digest = text_field(v, "digest");
  return generation + (digest.empty() ? "" : " (" + digest.substr(0, 12) + ")");
}

TextTable history_table(const std::vector<Json>& entries) {
  TextTable table({{"TIME", Align::kLeft, 27},
                   {"UID", Align::kLeft, 5},
                   {"COMMAND", Align::kLeft, 18},
                   {"RESULT", Align::kLeft, 12},
                   {"CHANGE"}});
  for (const Json& e : entries) {
    std::string change = version_text(e, "from") + " -> " + version_text(e, "to");
    for (const std::string& r : text_list(e, "rulesAdded")) change += " +" + r;
    for (const std::string& r : text_list(e, "rulesRemoved")) change += " -" + r;
    for (const std::string& i : text_list(e, "interfaces")) change += " " + i;
    if (std::string reason = text_field(e, "reason"); !reason.empty()) change += ": " + reason;
    table.add_row({text_field(e, "time"), text_field(e, "uid"), text_field(e, "command"),
                   text_field(e, "result"), change});
  }
  return table;
}

Report cmd_history(const Globals& g) {
  const std::string path = journal_path(g.journal);
  Report report;
  report.json = {{"journal", path}, {"entries", Json::array()}};
  std::vector<std::string> warnings;
  auto lines = read_journal(path, warnings);
  if (!lines) return report.fail(lines.error());
  report.warnings = std::move(warnings);
  std::vector<Json> entries;
  size_t damaged = 0;
  for (const std::string& line : *lines) {
    Json parsed = Json::parse(line, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      damaged++;
      continue;
    }
    entries.push_back(std::move(parsed));
  }
  if (damaged)
    report.warn("skipped " + std::to_string(damaged) + " journal line(s) of " + path +
                " that are not entries (damaged or written by something else)");
  report.json["entries"] = entries;
  if (entries.empty())
    report.line("no changes recorded in " + path);
  else
    report.table(history_table(entries));
  return report;
}

}  // namespace

void add_history_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto* history = app.add_subcommand(
      "history", "show the change journal: every apply, update, network-rule, attach and detach");
  add_output_option(commands, history);
  commands.add(history, [&g] { return cmd_history(g); });
}

}  // namespace vaultwall::cli
