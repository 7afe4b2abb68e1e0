// vaultwallctl history: the change journal (who changed what, when, with
// what result).
#include <time.h>

#include <sys/stat.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>
#include <ctime>
#include <map>
#include <memory>

#include "cli/common.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/signals.h"
#include "vaultwall/common/text.h"
#include "vaultwall/common/time.h"

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

// Who made the change: the person (journals from before the "user" field
// have only the uid).
std::string who(const Json& e) {
  std::string user = text_field(e, "user");
  return user.empty() ? "uid " + text_field(e, "uid") : user;
}

TextTable history_table(const std::vector<Json>& entries) {
  TextTable table({left_column("TIME", 27), left_column("USER", 10), left_column("COMMAND", 18),
                   left_column("RESULT", 12), left_column("CHANGE")});
  for (const Json& e : entries) {
    std::string change = version_text(e, "from") + " -> " + version_text(e, "to");
    for (const std::string& r : text_list(e, "rulesAdded")) change += " +" + r;
    for (const std::string& r : text_list(e, "rulesRemoved")) change += " -" + r;
    for (const std::string& s : text_list(e, "settingsChanged")) change += "; ~" + s;
    for (const std::string& i : text_list(e, "interfaces")) change += " " + i;
    // A fleet apply names where the policy came from.
    if (e.contains("source") && e["source"].is_object()) {
      const Json& source = e["source"];
      change += " [" + text_field(source, "kind") + " " + text_field(source, "vault") + " revision " +
                text_field(source, "revision") + " by " + text_field(source, "author") + "]";
    }
    // What an apply read: the file and the SHA-256 of its bytes.
    if (e.contains("input") && e["input"].is_object())
      change += " [file " + text_field(e["input"], "path") + " sha256 " +
                text_field(e["input"], "sha256").substr(0, 12) + "]";
    if (std::string reason = text_field(e, "reason"); !reason.empty()) change += ": " + reason;
    table.add_row({text_field(e, "time"), who(e), text_field(e, "command"),
                   text_field(e, "result"), change});
  }
  return table;
}

struct HistoryOptions {
  std::string since;    // empty: from the start
  size_t last = 0;      // 0: every entry
  bool follow = false;  // then print entries as they are appended
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
    uint64_t now = now_unix_ns();
    return format_utc(back_ns < now ? now - back_ns : 0);
  }
  for (const char* format : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* parsed = ::strptime(since.c_str(), format, &tm);
    if (parsed && *parsed == '\0') return format_utc(uint64_t(::timegm(&tm)) * 1'000'000'000ull);
  }
  return fail(EINVAL, "--since " + printable(since) + " is neither a duration nor a UTC time",
              "give e.g. 90m, 2h, 7d, 2026-12-01 or 2026-12-01T08:00:00Z");
}

// The lines that are journal entries (objects) at or after `since`;
// `damaged` counts the others.
std::vector<Json> journal_entries(const std::vector<std::string>& lines, const std::string& since,
                                  size_t& damaged) {
  std::vector<Json> entries;
  for (const std::string& line : lines) {
    Json parsed = Json::parse(line, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      damaged++;
      continue;
    }
    if (!since.empty() && text_field(parsed, "time") < since) continue;
    entries.push_back(std::move(parsed));
  }
  return entries;
}

// The journal as --follow sees it: where it is (device, inode) and how
// far it was read. A journal replaced (rotated, re-created) or cut shorter
// is read again from its start.
class JournalTail {
 public:
  explicit JournalTail(std::string path) : path_(std::move(path)) {}

  // Skips what is there now (it was printed already).
  void skip_existing() { (void)read_new(); }

  // The complete lines appended since the last call.
  std::vector<std::string> read_new() {
    std::vector<std::string> lines;
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {  // gone (rotated away): wait for the new one
      offset_ = 0;
      partial_.clear();
      return lines;
    }
    if (st.st_dev != dev_ || st.st_ino != ino_ || static_cast<uint64_t>(st.st_size) < offset_) {
      dev_ = st.st_dev;
      ino_ = st.st_ino;
      offset_ = 0;
      partial_.clear();
    }
    if (static_cast<uint64_t>(st.st_size) == offset_) return lines;
    std::ifstream in(path_, std::ios::binary);
    if (!in) return lines;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset_ += chunk.size();
    partial_ += chunk;
    size_t start = 0;
    for (size_t end; (end = partial_.find('\n', start)) != std::string::npos; start = end + 1)
      lines.push_back(partial_.substr(start, end - start));
    partial_.erase(0, start);
    return lines;
  }

 private:
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t offset_ = 0;
  std::string partial_;  // a line being written
};

// history --follow, after the entries already there: each new entry as
// it is appended (a table row, or one JSON object per line with -o json),
// until SIGINT or SIGTERM. The header line comes once, with the first row.
Report follow_history(const Globals& g, const std::string& path, bool headers_shown) {
  stop_on_signals();
  JournalTail tail(path);
  tail.skip_existing();
  TextTable::Style style = g.table_style();
  style.headers = style.headers && !headers_shown;
  while (!stop_requested()) {
    size_t damaged = 0;
    for (const Json& entry : journal_entries(tail.read_new(), "", damaged)) {
      if (g.json()) {
        std::cout << entry.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
      } else {
        std::cout << history_table({entry}).render(style);
        style.headers = false;
      }
      std::cout.flush();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return exit_code_report(kExitOk);
}

Report cmd_history(const Globals& g, const HistoryOptions& options) {
  const std::string path = journal_path(g.journal);
  Report report;
  report.json = {{"journal", path}, {"entries", Json::array()}};
  std::string since;
  if (!options.since.empty()) {
    auto parsed = since_time_text(options.since);
    if (!parsed) return report.fail(parsed.error());
    since = *parsed;
  }
  std::vector<std::string> warnings;
  auto lines = read_journal(path, warnings);
  if (!lines) return report.fail(lines.error());
  report.warnings = std::move(warnings);
  size_t damaged = 0;
  std::vector<Json> entries = journal_entries(*lines, since, damaged);
  if (options.last && entries.size() > options.last)
    entries.erase(entries.begin(), entries.end() - static_cast<ptrdiff_t>(options.last));
  if (damaged)
    report.warn("skipped " + std::to_string(damaged) + " journal line(s) of " + path +
                " that are not entries (damaged or written by something else)");
  report.json["entries"] = entries;
  if (entries.empty())
    report.line("no changes recorded in " + path + (since.empty() ? "" : " since " + since));
  else
    report.table(history_table(entries));
  if (!options.follow) return report;
  // What is there first (JSON: one entry per line, as the new ones come),
  // then the entries as they are appended.
  if (g.json()) {
    for (const Json& entry : entries)
      std::cout << entry.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
    for (const std::string& w : report.warnings) warn_now(w);
  } else {
    emit(report, g.format());
  }
  return follow_history(g, path, !entries.empty());
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
  history->add_flag("-f,--follow", options->follow,
                    "then print each change as it is journaled, until interrupted (follows the "
                    "journal across rotation; -o json: one entry per line)");
  add_output_option(commands, history, kTableFormats);
  commands.add(history, [&g, options] { return cmd_history(g, *options); },
               Commands::Output::kReport, [options] { return options->follow; });
}

}  // namespace vaultwall::cli
