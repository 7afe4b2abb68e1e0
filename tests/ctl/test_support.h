// Helpers shared by the ctl tests.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vaultwall/policy/classify.h"
#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/diagnostics.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/service_tags.h"
#include "vaultwall/policy/validate.h"

namespace vaultwall::test {

inline std::filesystem::path data_dir() { return VW_TEST_DATA_DIR; }
inline std::filesystem::path service_tags_file() {
  return std::filesystem::path(VW_SOURCE_DIR) / "data/service-tags/ServiceTags_Public_subset.json";
}

std::string read_text(const std::filesystem::path& file);

// The names of the .json files in a corpus directory, for the tables that
// must list every one of them.
std::set<std::string> json_files_in(const std::filesystem::path& dir);
// A gtest-safe case name from a corpus file name: "prefix" + the name
// without ".json", every other character than letters and digits as '_'.
std::string corpus_case_name(std::string prefix, std::string_view file);

// eth0..eth9 -> ifindex 10..19; anything else is unknown.
std::optional<uint32_t> fake_interfaces(const std::string& name);

// Loads a document that must be valid; fails the test with the diagnostics otherwise.
Policy must_load(std::string_view text, const ValidateOptions& options = {});
// The diagnostics of a document that must be invalid.
std::vector<Diagnostic> errors_of(std::string_view text, const ValidateOptions& options = {});
// "path: message" lines, for failure output.
std::string describe(const std::vector<Diagnostic>& diagnostics);
// Whether some diagnostic of `severity` has exactly `path` and contains `text`.
bool has_diagnostic(const std::vector<Diagnostic>& diagnostics, Severity severity,
                    std::string_view path, std::string_view text);

// The whole pipeline: load (file), resolve trusted services, compile with
// the fake interfaces. Diagnostics of every stage that ran.
struct Pipeline {
  std::optional<Policy> policy;
  std::optional<TrustedSet> trusted;
  std::optional<CompiledPolicy> compiled;
  std::vector<Diagnostic> diagnostics;
};
Pipeline run_pipeline_file(const std::filesystem::path& file, const CompileOptions& options = {});
Pipeline run_pipeline(const Policy& policy, const TrustedSet& trusted,
                      const CompileOptions& options = {});

// A wrapper-form document: {"networkAcls": <acls>, "vaultwall": <host>}.
std::string wrap(std::string_view acls, std::string_view host = "");

}  // namespace vaultwall::test
