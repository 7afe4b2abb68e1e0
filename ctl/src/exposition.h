// Prometheus text exposition writer shared by the metric families of
// observability.cpp and metrics_families.cpp (internal to vaultwall_apply).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "vaultwall/apply/observability.h"

namespace vaultwall {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  // Starts a metric family; every family has HELP and TYPE.
  void family(const std::string& name, const std::string& type, const std::string& help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void sample(const std::string& name, const Labels& labels, const std::string& value) {
    out_ << name;
    if (!labels.empty()) {
      out_ << "{";
      for (size_t i = 0; i < labels.size(); i++)
        out_ << (i ? "," : "") << labels[i].first << "=\"" << escape_label_value(labels[i].second)
             << "\"";
      out_ << "}";
    }
    out_ << " " << value << "\n";
  }
  void sample(const std::string& name, const Labels& labels, uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  // A family of one unlabelled sample, written without its sample when the
  // fact behind it is not known (absent, never a made-up zero).
  void single(const std::string& name, const std::string& type, const std::string& help, bool known,
              const std::string& value) {
    family(name, type, help);
    if (known) sample(name, {}, value);
  }
  void single(const std::string& name, const std::string& type, const std::string& help, bool known,
              uint64_t value) {
    single(name, type, help, known, std::to_string(value));
  }
  // A gauge of a Unix time (seconds_text), absent when not known.
  void timestamp(const std::string& name, const std::string& help, bool known, uint64_t unix_ns);
  // A counter the program always keeps (no fact behind it can be missing).
  void counter(const std::string& name, const std::string& help, uint64_t value) {
    single(name, "counter", help, true, value);
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

// "1764322548.250": Unix seconds with milliseconds, for a timestamp gauge.
std::string seconds_text(uint64_t unix_ns);

inline void Exposition::timestamp(const std::string& name, const std::string& help, bool known,
                                  uint64_t unix_ns) {
  single(name, "gauge", help, known, seconds_text(unix_ns));
}
// {rule, kind} of a rule's series.
Labels rule_labels(const RuleCounters& r);
// vaultwall_policy_info's labels: digest, profile, mode and the document's settings.
Labels policy_info_labels(const MetricsSnapshot& m);

// The families of metrics_families.cpp: what an operator alerts on.
void render_operator_metrics(Exposition& x, const MetricsSnapshot& m);

}  // namespace vaultwall
