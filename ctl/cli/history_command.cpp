// vaultwallctl history: the change journal (who changed what, when, with
// what result), and run_journaled, which every state-changing command of
// vaultwallctl goes through.
#include <cstdio>
#include <iostream>

#include "cli/common.h"
#include "vaultwall/journal.h"
#include "vaultwall/text.h"

namespace vaultwall::cli {

int run_journaled(Globals& g, const std::string& command, const std::function<int()>& change) {
  JournalEntry entry;
  entry.command = command;
  entry.argv = g.argv;
  entry.pin_dir = g.pin_dir;
  // A first look; the command replaces it with what it read under the lock.
  entry.from = active_policy_version(g.pin_dir);
  std::string path = journal_path(g.journal);
  auto pending = PendingChange::begin(path, std::move(entry));
  if (!pending) {
    warn("this change is not journaled: " + pending.error().message());
    return change();
  }
  for (const std::string& w : pending->take_warnings()) warn(w);
  g.change = &pending->entry();
  int status = change();
  g.change = nullptr;
  JournalEntry& done = pending->entry();
  if (!done.to) done.to = active_policy_version(g.pin_dir);  // failed: what stayed in force
  if (status != kExitOk && done.result == kResultOk)
    done.fail("exit status " + std::to_string(status) + " (see the command's error output)");
  if (auto r = pending->finish(); !r) warn("cannot journal this change: " + r.error().message());
  for (const std::string& w : pending->take_warnings()) warn(w);
  return status;
}

void journal_failure(const Globals& g, const std::string& reason) {
  if (g.change) g.change->fail(reason);
}

namespace {

// Journal lines are read as written: any field may be missing or of another
// type (an older version, a hand edit, a damaged disk). These read what
// they can and give "?" or nothing for the rest; they never throw.
std::string text_field(const json& e, const char* key) {
  if (!e.contains(key)) return "";
  const json& v = e[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<std::string> text_list(const json& e, const char* key) {
  std::vector<std::string> out;
  if (!e.contains(key) || !e[key].is_array()) return out;
  for (const json& item : e[key])
    out.push_back(item.is_string() ? item.get<std::string>()
                                   : item.dump(-1, ' ', false, json::error_handler_t::replace));
  return out;
}

std::string version_text(const json& e, const char* key) {
  if (!e.contains(key) || !e[key].is_object()) return "?";
  const json& v = e[key];
  std::string generation = v.contains("generation") && v["generation"].is_number_unsigned()
                               ? std::to_string(v["generation"].get<uint64_t>())
                               : "?";
  std::string digest = text_field(v, "digest");
  return generation + (digest.empty() ? "" : " (" + digest.substr(0, 12) + ")");
}

void print_history_table(const std::vector<json>& entries) {
  std::printf("%-27s %-5s %-18s %-12s %s\n", "TIME", "UID", "COMMAND", "RESULT", "CHANGE");
  for (const json& e : entries) {
    std::string change = version_text(e, "from") + " -> " + version_text(e, "to");
    for (const std::string& r : text_list(e, "rulesAdded")) change += " +" + r;
    for (const std::string& r : text_list(e, "rulesRemoved")) change += " -" + r;
    for (const std::string& i : text_list(e, "interfaces")) change += " " + i;
    // A fleet apply names where the policy came from.
    if (e.contains("source") && e["source"].is_object()) {
      const json& source = e["source"];
      change += " [" + text_field(source, "kind") + " " + text_field(source, "vault") + " revision " +
                text_field(source, "revision") + " by " + text_field(source, "author") + "]";
    }
    if (std::string reason = text_field(e, "reason"); !reason.empty()) change += ": " + reason;
    std::printf("%-27s %-5s %-18s %-12s %s\n", printable(text_field(e, "time")).c_str(),
                printable(text_field(e, "uid")).c_str(),
                printable(text_field(e, "command")).c_str(),
                printable(text_field(e, "result")).c_str(), printable(change).c_str());
  }
}

int cmd_history(const Globals& g) {
  std::string path = journal_path(g.journal);
  std::vector<std::string> warnings;
  auto lines = read_journal(path, warnings);
  if (!lines) return report(lines.error());
  for (const std::string& w : warnings) warn(w);
  std::vector<json> entries;
  size_t damaged = 0;
  for (const std::string& line : *lines) {
    json parsed = json::parse(line, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      damaged++;
      continue;
    }
    entries.push_back(std::move(parsed));
  }
  if (damaged)
    warn("skipped " + std::to_string(damaged) + " journal line(s) of " + path +
         " that are not entries (damaged or written by something else)");
  if (g.json())
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"journal", path}, {"entries", entries}}
                     .dump(2)
              << "\n";
  else if (entries.empty())
    std::cout << "no changes recorded in " << path << "\n";
  else
    print_history_table(entries);
  return kExitOk;
}

}  // namespace

void add_history_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto* history = app.add_subcommand(
      "history", "show the change journal: every apply, update, network-rule, attach and detach");
  add_output_option(commands, history);
  commands.add(history, [&g] { return cmd_history(g); });
}

}  // namespace vaultwall::cli
