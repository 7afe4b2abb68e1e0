// What a command says, in one shape for both binaries. Each command builds
// a Report (its JSON, its lines and tables, its warnings, how it ended) and
// returns it; emit() is the one place that prints: it adds schemaVersion,
// picks table or JSON, escapes what came from outside, and turns the
// outcome into the exit code. run_journaled() is the one place that
// journals a state change, from the same Report. Streams (log events,
// metrics text) are written as they come, not reported.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <functional>

#include "vaultwall/common/error.h"
#include "vaultwall/common/journal.h"

namespace vaultwall {

using Json = nlohmann::ordered_json;

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
// schemaVersion of every JSON output.
inline constexpr int kSchemaVersion = 1;

enum class Align { kLeft, kRight };

// Rows under column headers, aligned on fmt. Cells are kept as data until
// printed, so a different rendering (no headers, tab-separated) is one
// option of TableStyle away.
class TextTable {
 public:
  struct Column {
    std::string header;
    Align align = Align::kLeft;
    size_t min_width = 0;  // columns grow to their widest cell
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // One cell per column; missing cells are empty, extra ones are dropped.
  void add_row(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  struct Style {
    bool headers = true;         // --no-headers clears it
    bool tab_separated = false;  // -o tsv: cells as they are, one tab between them
  };
  // One line per row (after a line of headers, unless every header is
  // empty or style.headers is false), columns separated by one space; the
  // last column is not padded. Tab-separated: no padding at all. Cells are
  // printed escaped (printable(): a tab or newline inside a cell is \t, \n).
  std::string render(const Style& style) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// A left-aligned column at least min_width wide: the tables whose rows are
// printed as they come, or that keep one width, list their columns so.
inline TextTable::Column left_column(std::string header, size_t min_width = 0) {
  return {std::move(header), Align::kLeft, min_width};
}

// What a state-changing command tells the journal (see run_journaled).
struct ChangeRecord {
  std::optional<PolicyVersion> from, to;  // unset: run_journaled reads what is in force
  std::vector<std::string> rules_added, rules_removed, settings_changed;
  std::optional<InputFile> input;  // the document file the change was read from
  // The failure as the journal should give it, when the error alone does
  // not say (a refused document: its errors); empty otherwise.
  std::string reason;
};

struct Report {
  Json json = Json::object();  // -o json: emit() puts schemaVersion first and error last
  // Table output on stdout, in order: lines and tables.
  std::vector<std::variant<std::string, TextTable>> text;
  std::vector<std::string> notes;     // table output on stderr, as they are (diagnostics)
  std::vector<std::string> warnings;  // stderr in both formats, "<program>: warning: ..."
  std::vector<Error> errors;          // stderr in both formats; the first is the cause
  std::optional<int> exit_code;       // default: kExitError after an error, else kExitOk
  std::optional<ChangeRecord> change; // set by commands that change state

  void line(std::string text_line) { text.emplace_back(std::move(text_line)); }
  void table(TextTable table) { text.emplace_back(std::move(table)); }
  void warn(std::string message) { warnings.push_back(std::move(message)); }
  // Records a failure; the command usually returns the report right after.
  Report& fail(Error error) {
    errors.push_back(std::move(error));
    return *this;
  }
  bool failed() const { return !errors.empty(); }
  int exit() const { return exit_code.value_or(failed() ? kExitError : kExitOk); }
};

// A report that only says why the command could not run.
[[nodiscard]] Report failed_report(Error error);

struct OutputFormat {
  bool json = false;   // print the JSON (else the text)
  bool notes = true;   // print the notes (not with -o json: the JSON has them)
  TextTable::Style table;
};

// "error" of a JSON output: null, or {message, code, hint} of the error
// (code: its errno, null for a refused document; hint: null when none).
Json error_json(const Error* error);

// Prints the report (stdout: the JSON or the text; stderr: notes,
// warnings and errors through the log) and returns its exit code. Every
// JSON output has schemaVersion and "error" (error_json of the first
// error), whatever the outcome. With a tab-separated table style only the
// tables go to stdout (rows for scripts); the report's lines go to stderr.
int emit(const Report& report, const OutputFormat& format);

// A state change and where its journal entry goes.
struct JournaledChange {
  std::string journal;  // path (journal_path())
  std::string command;  // "apply", "attach", ...
  std::vector<std::string> argv;
  std::string pin_dir;
  std::vector<std::string> interfaces;  // attach / detach
  // The version in force now (before and after the change), when the
  // report does not say.
  std::function<std::optional<PolicyVersion>()> policy_version;
};

// Runs `change` between a pending marker and its journal line (see
// journal.h): the line's result and reason come from the returned report
// (its first error, its ChangeRecord, a non-zero exit code). A journal that
// cannot be written becomes a warning of the report, never an error: an
// emergency change must not wait for a full disk.
Report run_journaled(const JournaledChange& change, const std::function<Report()>& command);

}  // namespace vaultwall
