#include "vaultwall/common/output.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "vaultwall/common/text.h"

namespace vaultwall {
namespace {

// Characters, not bytes, of UTF-8 text (continuation bytes do not count).
size_t display_width(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  }));
}

std::string padded(const std::string& cell, size_t width, Align align) {
  const size_t pad = width > display_width(cell) ? width - display_width(cell) : 0;
  return align == Align::kRight ? fmt::format("{:>{}}{}", "", pad, cell)
                                : fmt::format("{}{:>{}}", cell, "", pad);
}

// Messages quote documents and the kernel's maps: escaped, and cut.
std::string safe_message(std::string_view text) {
  return printable(truncated(text, kMaxMessageBytes));
}

}  // namespace

void TextTable::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::render(const Style& style) const {
  std::vector<std::vector<std::string>> lines;
  const bool has_headers = std::any_of(columns_.begin(), columns_.end(),
                                       [](const Column& c) { return !c.header.empty(); });
  if (style.headers && has_headers) {
    std::vector<std::string> header;
    for (const Column& c : columns_) header.push_back(c.header);
    lines.push_back(std::move(header));
  }
  for (const auto& row : rows_) {
    std::vector<std::string> escaped;
    for (const std::string& cell : row) escaped.push_back(printable(cell));
    lines.push_back(std::move(escaped));
  }
  std::vector<size_t> widths;
  for (size_t i = 0; i < columns_.size(); i++) {
    size_t width = columns_[i].min_width;
    for (const auto& line : lines) width = std::max(width, display_width(line[i]));
    widths.push_back(width);
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    if (style.tab_separated) {
      for (size_t i = 0; i < columns_.size(); i++) text += (i > 0 ? "\t" : "") + line[i];
      out += text + "\n";
      continue;
    }
    for (size_t i = 0; i < columns_.size(); i++) {
      const bool last = i + 1 == columns_.size();
      if (i > 0) text += ' ';
      // The last column ends the line: no padding after it.
      text += last && columns_[i].align == Align::kLeft
                  ? line[i]
                  : padded(line[i], widths[i], columns_[i].align);
    }
    out += text + "\n";
  }
  return out;
}

Report failed_report(Error error) {
  Report report;
  report.fail(std::move(error));
  return report;
}

Json error_json(const Error* error) {
  if (!error) return Json();
  return {{"message", error->message()},
          {"code", error->code != 0 ? Json(error->code) : Json()},
          {"hint", error->hint.empty() ? Json() : Json(error->hint)}};
}

int emit(const Report& report, const OutputFormat& format) {
  for (const std::string& w : report.warnings) spdlog::warn("{}", safe_message(w));
  if (format.notes)
    for (const std::string& note : report.notes) std::cerr << safe_message(note) << "\n";
  if (format.json) {
    Json out = {{"schemaVersion", kSchemaVersion}};
    for (const auto& [key, value] : report.json.items()) out[key] = value;
    out["error"] = error_json(report.failed() ? &report.errors.front() : nullptr);
    std::cout << out.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    for (const auto& block : report.text) {
      if (const auto* text_line = std::get_if<std::string>(&block))
        (format.table.tab_separated ? std::cerr : std::cout) << printable(*text_line) << "\n";
      else
        std::cout << std::get<TextTable>(block).render(format.table);
    }
  }
  std::cout.flush();
  for (const Error& e : report.errors) spdlog::error("{}", safe_message(e.message()));
  return report.exit();
}

Report run_journaled(const JournaledChange& change, const std::function<Report()>& command) {
  JournalEntry entry;
  entry.command = change.command;
  entry.argv = change.argv;
  entry.pin_dir = change.pin_dir;
  entry.interfaces = change.interfaces;
  // A first look; the command's ChangeRecord replaces it with what it read
  // under the pin directory's lock.
  entry.from = change.policy_version();
  auto pending = PendingChange::begin(change.journal, std::move(entry));
  if (!pending) {
    Report report = command();
    report.warn("this change is not journaled: " + pending.error().message());
    return report;
  }
  std::vector<std::string> warnings = pending->take_warnings();
  Report report = command();
  JournalEntry& done = pending->entry();
  if (report.change) {
    const ChangeRecord& record = *report.change;
    if (record.from) done.from = record.from;
    done.to = record.to;
    done.rules_added = record.rules_added;
    done.rules_removed = record.rules_removed;
    done.settings_changed = record.settings_changed;
    done.input = record.input;
  }
  if (!done.to) done.to = change.policy_version();  // failed: what stayed in force
  if (report.exit() != kExitOk) {
    if (report.change && !report.change->reason.empty())
      done.fail(report.change->reason);
    else if (report.failed())
      done.fail(report.errors.front().message());
    else
      done.fail("exit status " + std::to_string(report.exit()) +
                " (see the command's error output)");
  }
  if (auto finished = pending->finish(); !finished)
    warnings.push_back("cannot journal this change: " + finished.error().message());
  for (std::string& w : pending->take_warnings()) warnings.push_back(std::move(w));
  report.warnings.insert(report.warnings.begin(), warnings.begin(), warnings.end());
  return report;
}

}  // namespace vaultwall
