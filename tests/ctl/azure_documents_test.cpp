// Documents as Azure and its tools produce them (tests/data/azure/): each
// row of expected.tsv loads one with its options (host facts, --vault,
// --profile, --policy-only) and names the outcome and one diagnostic the
// result must carry, with its path as written in the file.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "test_support.h"
#include "vaultwall/policy/host_facts.h"

namespace vaultwall::test {
namespace {

std::filesystem::path azure_dir() { return data_dir() / "azure"; }

struct AzureCase {
  size_t row = 0;
  std::string file;
  std::string options;
  bool valid = false;
  std::string path;  // "-": no diagnostic checked; "(root)": the empty path
  std::string text;
};

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, '\t')) fields.push_back(field);
  return fields;
}

std::vector<AzureCase> load_cases() {
  std::vector<AzureCase> cases;
  std::ifstream table(azure_dir() / "expected.tsv");
  std::string line;
  size_t row = 0;
  while (std::getline(table, line)) {
    ++row;
    if (line.empty() || line[0] == '#') continue;
    auto f = fields_of(line);
    if (f.size() != 5) {
      ADD_FAILURE() << "expected.tsv line " << row << " has " << f.size() << " fields, not 5";
      continue;
    }
    cases.push_back({row, f[0], f[1], f[2] == "valid", f[3], f[4]});
  }
  return cases;
}

void PrintTo(const AzureCase& c, std::ostream* out) { *out << c.file << " " << c.options; }

struct Options {
  ValidateOptions validate;
  std::optional<std::string> vault;
  HostFactsSource host;
};

Options options_of(const std::string& text) {
  Options out;
  std::stringstream in(text);
  std::string word;
  while (in >> word) {
    if (word == "-") continue;
    if (word == "policy-only") {
      out.validate.policy_only = true;
    } else if (word.starts_with("host=")) {
      out.host = {word.substr(5), true};
    } else if (word.starts_with("vault=")) {
      out.vault = word.substr(6);
    } else if (word.starts_with("profile=")) {
      out.validate.profile = parse_profile(word.substr(8));
    } else {
      ADD_FAILURE() << "unknown option " << word;
    }
  }
  return out;
}

class AzureDocument : public ::testing::TestWithParam<AzureCase> {
 protected:
  // Host-facts paths in the table are relative to tests/data/azure, and
  // diagnostics name them as given.
  void SetUp() override {
    previous_ = std::filesystem::current_path();
    std::filesystem::current_path(azure_dir());
  }
  void TearDown() override { std::filesystem::current_path(previous_); }
  std::filesystem::path previous_;
};

TEST_P(AzureDocument, HasItsOutcomeAndDiagnostic) {
  const AzureCase& c = GetParam();
  Options options = options_of(c.options);
  auto loaded = load_policy_file(c.file, options.validate, options.vault, options.host);
  std::vector<Diagnostic> diagnostics = loaded.diagnostics;
  bool valid = loaded.ok();
  if (valid && !options.validate.policy_only) {
    auto trusted = resolve_trusted_services(*loaded.value);
    diagnostics.insert(diagnostics.end(), trusted.diagnostics.begin(), trusted.diagnostics.end());
    valid = trusted.ok();
  }
  EXPECT_EQ(valid, c.valid) << c.file << " (" << c.options << ")\n" << describe(diagnostics);
  if (c.path == "-") return;
  std::string path = c.path == "(root)" ? "" : c.path;
  Severity severity = c.valid ? Severity::kWarning : Severity::kError;
  EXPECT_TRUE(has_diagnostic(diagnostics, severity, path, c.text))
      << c.file << " (" << c.options << "): expected " << (c.valid ? "a warning" : "an error")
      << " at \"" << path << "\" containing \"" << c.text << "\"; got\n"
      << describe(diagnostics);
}

std::string case_name(const ::testing::TestParamInfo<AzureCase>& info) {
  return corpus_case_name("row" + std::to_string(info.param.row) + "_", info.param.file);
}

INSTANTIATE_TEST_SUITE_P(Table, AzureDocument, ::testing::ValuesIn(load_cases()), case_name);

// Every export that carries the vault's id keeps it: -n/-g are checked
// against it and the deny log names the vault by it.
TEST(AzureDocuments, ExportsKeepTheVaultsId) {
  const std::string kSubscription = "/subscriptions/8f3c2a10-5b7e-4c1d-9e2f-6a4b3c2d1e0f";
  const std::pair<const char*, std::string> exports[] = {
      {"az-keyvault-show.json",
       kSubscription + "/resourceGroups/rg-secrets-prod/providers/Microsoft.KeyVault/vaults/kv-app-prod"},
      {"powershell-get-azkeyvault.json",
       kSubscription + "/resourceGroups/rg-secrets-prod/providers/Microsoft.KeyVault/vaults/kv-app-prod"},
      {"terraform-show.json",
       kSubscription + "/resourceGroups/rg-secrets-prod/providers/Microsoft.KeyVault/vaults/kv-tf-prod"}};
  for (const auto& [file, id] : exports) {
    ValidateOptions options;
    options.policy_only = true;
    auto loaded = load_policy_file(azure_dir() / file, options, std::nullopt, {});
    ASSERT_TRUE(loaded.ok()) << file << "\n" << describe(loaded.diagnostics);
    EXPECT_EQ(loaded.value->resource_id, id) << file;
  }
}

TEST(AzureDocuments, EveryDocumentHasARowAndThereAreAtLeastThirty) {
  std::set<std::string> listed;
  for (const AzureCase& c : load_cases()) listed.insert(c.file);
  std::set<std::string> present = json_files_in(azure_dir());
  EXPECT_EQ(listed, present);
  EXPECT_GE(present.size(), 30u);
}

}  // namespace
}  // namespace vaultwall::test
