// vaultwallctl history: the change journal (who changed what, when, with
// what result), and run_journaled, which every state-changing command of
// vaultwallctl goes through.
#include <time.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>

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

// Who made the change: the person (journals from before the "user" field
// have only the uid).
std::string who(const json& e) {
  std::string user = text_field(e, "user");
  return user.empty() ? "uid " + text_field(e, "uid") : user;
}

void print_history_table(const std::vector<json>& entries) {
  std::printf("%-27s %-10s %-18s %-12s %s\n", "TIME", "USER", "COMMAND", "RESULT", "CHANGE");
  for (const json& e : entries) {
    std::string change = version_text(e, "from") + " -> " + version_text(e, "to");
    for (const std::string& r : text_list(e, "rulesAdded")) change += " +" + r;
    for (const std::string& r : text_list(e, "rulesRemoved")) change += " -" + r;
    for (const std::string& s : text_list(e, "settingsChanged")) change += "; ~" + s;
    for (const std::string& i : text_list(e, "interfaces")) change += " " + i;
    // A fleet apply names where the policy came from.
    if (e.contains("source") && e["source"].is_object()) {
      const json& source = e["source"];
      change += " [" + text_field(source, "kind") + " " + text_field(source, "vault") + " revision " +
                text_field(source, "revision") + " by " + text_field(source, "author") + "]";
    }
    if (std::string reason = text_field(e, "reason"); !reason.empty()) change += ": " + reason;
    std::printf("%-27s %-10s %-18s %-12s %s\n", printable(text_field(e, "time")).c_str(),
                printable(who(e)).c_str(),
                printable(text_field(e, "command")).c_str(),
                printable(text_field(e, "result")).c_str(), printable(change).c_str());
  }
}

struct HistoryOptions {
  std::string since;  // empty: from the start
  size_t last = 0;    // 0: every entry
};

// "--since 2h", "--since 2026-12-01", "--since 2026-12-01T08:00:00Z" as the
// journal's own time text, which compares in time order.
Result<std::string> since_time_text(const std::string& since) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(since.data(), since.data() + since.size(), value);
  const std::string unit(end, since.data() + since.size());
  static const std::map<std::string, uint64_t> kSeconds = {
      {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  if (ec == std::errc() && end != since.data() && kSeconds.contains(unit)) {
    uint64_t back_ns = value * kSeconds.at(unit) * 1'000'000'000ull;
    uint64_t now = unix_now_ns();
    return format_utc_time(back_ns < now ? now - back_ns : 0);
  }
  std::tm tm{};
  for (const char* format : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"}) {
    tm = {};
    const char* parsed = ::strptime(since.c_str(), format, &tm);
    if (parsed && *parsed == '\0') return format_utc_time(uint64_t(::timegm(&tm)) * 1'000'000'000ull);
  }
  return fail(EINVAL, "--since " + printable(since) + " is neither a duration nor a UTC time",
              "give e.g. 90m, 2h, 7d, 2026-12-01 or 2026-12-01T08:00:00Z");
}

int cmd_history(const Globals& g, const HistoryOptions& options) {
  std::string since;
  if (!options.since.empty()) {
    auto parsed = since_time_text(options.since);
    if (!parsed) return report(parsed.error());
    since = *parsed;
  }
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
    if (!since.empty() && text_field(parsed, "time") < since) continue;
    entries.push_back(std::move(parsed));
  }
  if (options.last && entries.size() > options.last)
    entries.erase(entries.begin(), entries.end() - static_cast<ptrdiff_t>(options.last));
  if (damaged)
    warn("skipped " + std::to_string(damaged) + " journal line(s) of " + path +
         " that are not entries (damaged or written by something else)");
  if (g.json())
    std::cout << json{{"schemaVersion", kSchemaVersion}, {"journal", path}, {"entries", entries}}
                     .dump(2)
              << "\n";
  else if (entries.empty())
    std::cout << "no changes recorded in " << path
              << (options.since.empty() ? "" : " since " + since) << "\n";
  else
    print_history_table(entries);
  return kExitOk;
}

}  // namespace

void add_history_commands(CLI::App& app, Globals& g, Commands& commands) {
  auto* history = app.add_subcommand(
      "history", "show the change journal: every apply, update, network-rule, attach and detach");
  auto options = std::make_shared<HistoryOptions>();
  history->add_option("--since", options->since,
                      "only changes since then: a duration back from now (90m, 2h, 7d) or a UTC "
                      "time (2026-12-01, 2026-12-01T08:00:00Z)");
  history->add_option("-n,--last", options->last, "only the last N changes")
      ->check(CLI::PositiveNumber);
  add_output_option(commands, history);
  commands.add(history, [&g, options] { return cmd_history(g, *options); });
}

}  // namespace vaultwall::cli
