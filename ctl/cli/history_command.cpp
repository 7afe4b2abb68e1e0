// vaultwallctl history: the change journal (who changed what, when, with
// what result), and run_journaled, which every state-changing command of
// vaultwallctl goes through.
#include <cstdio>
#include <iostream>

#include "cli/common.h"
#include "vaultwall/journal.h"

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
    std::cerr << "vaultwallctl: warning: this change is not journaled: "
              << pending.error().message() << "\n";
    return change();
  }
  g.change = &pending->entry();
  int status = change();
  g.change = nullptr;
  JournalEntry& done = pending->entry();
  if (!done.to) done.to = active_policy_version(g.pin_dir);  // failed: what stayed in force
  if (status != kExitOk && done.result == kResultOk)
    done.fail("exit status " + std::to_string(status) + " (see the command's error output)");
  if (auto r = pending->finish(); !r)
    std::cerr << "vaultwallctl: warning: cannot journal this change: " << r.error().message()
              << "\n";
  return status;
}

void journal_failure(const Globals& g, const std::string& reason) {
  if (g.change) g.change->fail(reason);
}

namespace {

std::string version_text(const json& v) {
  if (!v.is_object()) return "?";
  std::string digest = v.value("digest", "");
  return std::to_string(v.value("generation", uint64_t{0})) +
         (digest.empty() ? "" : " (" + digest.substr(0, 12) + ")");
}

void print_history_table(const std::vector<json>& entries) {
  std::printf("%-27s %-5s %-18s %-12s %s\n", "TIME", "UID", "COMMAND", "RESULT", "CHANGE");
  for (const json& e : entries) {
    std::string change = version_text(e.value("from", json())) + " -> " +
                         version_text(e.value("to", json()));
    for (const auto& r : e.value("rulesAdded", json::array())) change += " +" + r.get<std::string>();
    for (const auto& r : e.value("rulesRemoved", json::array())) change += " -" + r.get<std::string>();
    for (const auto& i : e.value("interfaces", json::array())) change += " " + i.get<std::string>();
    // A fleet apply names where the policy came from.
    if (const json source = e.value("source", json()); source.is_object())
      change += " [" + source.value("kind", std::string()) + " " + source.value("vault", std::string()) +
                " revision " + std::to_string(source.value("revision", int64_t{0})) + " by " +
                source.value("author", std::string()) + "]";
    std::string reason = e.value("reason", json()).is_string() ? e["reason"].get<std::string>() : "";
    if (!reason.empty()) change += ": " + reason;
    std::printf("%-27s %-5s %-18s %-12s %s\n", e.value("time", "").c_str(),
                std::to_string(e.value("uid", 0u)).c_str(), e.value("command", "").c_str(),
                e.value("result", "").c_str(), change.c_str());
  }
}

int cmd_history(const Globals& g) {
  std::string path = journal_path(g.journal);
  auto lines = read_journal(path);
  if (!lines) return report(lines.error());
  std::vector<json> entries;
  for (const std::string& line : *lines) {
    json parsed = json::parse(line, nullptr, false);
    if (parsed.is_discarded()) {
      std::cerr << "vaultwallctl: warning: skipping a damaged journal line in " << path << "\n";
      continue;
    }
    entries.push_back(std::move(parsed));
  }
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
