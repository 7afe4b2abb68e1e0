// Diagnostics: what the policy pipeline found wrong (or suspicious) in a rule
// document, each tied to the JSON path the user wrote. The pipeline never
// stops at the first problem; it collects them all.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vaultwall {

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  // JSON path as the user wrote the document, e.g.
  // "properties.networkAcls.ipRules[3].value"; empty for the whole document.
  std::string path;
  // Names the offending value, e.g. "10.0.0.0/8 belongs to forbidden range ...".
  std::string message;

  // "path: message" (just the message when the path is empty).
  std::string text() const { return path.empty() ? message : path + ": " + message; }
  bool is_error() const { return severity == Severity::kError; }
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

// An ordered collection of diagnostics with helpers to add to it.
class Diagnostics {
 public:
  void error(std::string path, std::string message) {
    items_.push_back({Severity::kError, std::move(path), std::move(message)});
  }
  void warning(std::string path, std::string message) {
    items_.push_back({Severity::kWarning, std::move(path), std::move(message)});
  }
  void append(const std::vector<Diagnostic>& more) {
    items_.insert(items_.end(), more.begin(), more.end());
  }
  bool has_errors() const {
    for (const Diagnostic& d : items_)
      if (d.is_error()) return true;
    return false;
  }
  size_t error_count() const {
    size_t n = 0;
    for (const Diagnostic& d : items_) n += d.is_error() ? 1 : 0;
    return n;
  }
  const std::vector<Diagnostic>& items() const { return items_; }
  std::vector<Diagnostic> take() { return std::move(items_); }

 private:
  std::vector<Diagnostic> items_;
};

// A value produced together with the diagnostics found on the way. `value`
// is empty when there was at least one error (nothing may be applied).
template <class T>
struct Checked {
  std::optional<T> value;
  std::vector<Diagnostic> diagnostics;

  bool ok() const { return value.has_value(); }
  std::vector<Diagnostic> errors() const { return filter(Severity::kError); }
  std::vector<Diagnostic> warnings() const { return filter(Severity::kWarning); }

 private:
  std::vector<Diagnostic> filter(Severity severity) const {
    std::vector<Diagnostic> out;
    for (const Diagnostic& d : diagnostics)
      if (d.severity == severity) out.push_back(d);
    return out;
  }
};

}  // namespace vaultwall
