#include "test_support.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <sstream>

namespace vaultwall::test {

std::set<std::string> json_files_in(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".json") names.insert(entry.path().filename().string());
  return names;
}

std::string corpus_case_name(std::string prefix, std::string_view file) {
  std::string name = prefix + std::string(file.substr(0, file.size() - 5));
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<uint32_t> fake_interfaces(const std::string& name) {
  if (name.size() == 4 && name.rfind("eth", 0) == 0 &&
      std::isdigit(static_cast<unsigned char>(name[3])))
    return 10 + (name[3] - '0');
  return std::nullopt;
}

std::string describe(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics)
    out += std::string(d.is_error() ? "error: " : "warning: ") + d.text() + "\n";
  return out;
}

Policy must_load(std::string_view text, const ValidateOptions& options) {
  auto result = load_policy(text, {}, options);
  EXPECT_TRUE(result.ok()) << describe(result.diagnostics);
  return result.value.value_or(Policy{});
}

std::vector<Diagnostic> errors_of(std::string_view text, const ValidateOptions& options) {
  auto result = load_policy(text, {}, options);
  EXPECT_FALSE(result.ok()) << "document was accepted";
  return result.errors();
}

bool has_diagnostic(const std::vector<Diagnostic>& diagnostics, Severity severity,
                    std::string_view path, std::string_view text) {
  for (const Diagnostic& d : diagnostics)
    if (d.severity == severity && d.path == path && d.message.find(text) != std::string::npos)
      return true;
  return false;
}

Pipeline run_pipeline(const Policy& policy, const TrustedSet& trusted,
                      const CompileOptions& options) {
  Pipeline out;
  out.policy = policy;
  out.trusted = trusted;
  CompileOptions with_interfaces = options;
  if (!with_interfaces.resolve_interface) with_interfaces.resolve_interface = fake_interfaces;
  auto compiled = compile_policy(policy, trusted, with_interfaces);
  out.diagnostics = compiled.diagnostics;
  out.compiled = compiled.value;
  return out;
}

Pipeline run_pipeline_file(const std::filesystem::path& file, const CompileOptions& options) {
  Pipeline out;
  auto policy = load_policy_file(file);
  out.diagnostics = policy.diagnostics;
  if (!policy.ok()) return out;
  out.policy = policy.value;
  auto trusted = resolve_trusted_services(*policy.value);
  out.diagnostics.insert(out.diagnostics.end(), trusted.diagnostics.begin(),
                         trusted.diagnostics.end());
  if (!trusted.ok()) return out;
  out.trusted = trusted.value;
  Pipeline compiled = run_pipeline(*policy.value, *trusted.value, options);
  out.compiled = compiled.compiled;
  out.diagnostics.insert(out.diagnostics.end(), compiled.diagnostics.begin(),
                         compiled.diagnostics.end());
  return out;
}

std::string wrap(std::string_view acls, std::string_view host) {
  std::string out = "{\"networkAcls\": " + std::string(acls);
  if (!host.empty()) out += ", \"vaultwall\": " + std::string(host);
  return out + "}";
}

}  // namespace vaultwall::test
