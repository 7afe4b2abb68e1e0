// Every file in tests/data/bad/ is a document the pipeline must refuse;
// expected.tsv names, per file, the JSON path of the error and text its
// message must contain.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "test_support.h"

namespace vaultwall::test {
namespace {

struct BadCase {
  std::string file;
  std::string path;
  std::string reason;
};

std::vector<BadCase> load_cases() {
  std::vector<BadCase> cases;
  std::ifstream table(data_dir() / "bad/expected.tsv");
  std::string line;
  while (std::getline(table, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t first = line.find('\t');
    size_t second = line.find('\t', first + 1);
    cases.push_back({line.substr(0, first), line.substr(first + 1, second - first - 1),
                     line.substr(second + 1)});
  }
  return cases;
}

void PrintTo(const BadCase& c, std::ostream* out) { *out << c.file; }

class BadDocument : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadDocument, IsRefusedWithPathAndReason) {
  const BadCase& c = GetParam();
  CompileOptions strict;  // a segment on a missing interface is refused only when strict
  strict.strict_interfaces = true;
  Pipeline result = run_pipeline_file(data_dir() / "bad" / c.file, strict);
  EXPECT_FALSE(result.compiled.has_value()) << c.file << " was accepted";
  EXPECT_TRUE(has_diagnostic(result.diagnostics, Severity::kError, c.path, c.reason))
      << c.file << ": expected error at \"" << c.path << "\" containing \"" << c.reason
      << "\"; got\n"
      << describe(result.diagnostics);
}

std::string case_name(const ::testing::TestParamInfo<BadCase>& info) {
  return corpus_case_name("", info.param.file);
}

INSTANTIATE_TEST_SUITE_P(Table, BadDocument, ::testing::ValuesIn(load_cases()), case_name);

TEST(BadDocuments, TableCoversEveryFileAndThereAreAtLeastSixty) {
  std::set<std::string> listed;
  for (const BadCase& c : load_cases()) listed.insert(c.file);
  EXPECT_EQ(listed, json_files_in(data_dir() / "bad"));
  EXPECT_GE(listed.size(), 60u);
}

}  // namespace
}  // namespace vaultwall::test
