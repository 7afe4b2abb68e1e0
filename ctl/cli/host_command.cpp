// vaultwallctl host init: the host-facts skeleton of a rule document (what
// only this host knows, to fill in before the document can be applied).
#include "cli/common.h"
#include "vaultwall/policy/host_facts.h"
#include "vaultwall/policy/input_file.h"
#include "vaultwall/common/text.h"

namespace vaultwall::cli {

namespace {

// -o json: {file, skeleton, diagnostics}; the table output is the skeleton
// itself, ready to redirect into the host-facts file.
Report cmd_host_init(const std::string& file, const std::string& vault) {
  Report report;
  report.json = {{"file", file}, {"skeleton", Json()}, {"diagnostics", Json::array()}};
  auto text = read_input_file(file, document_size_cap(), "rule document");
  if (!text) return report.fail(text.error());
  ParseOptions options;
  if (!vault.empty()) options.vault = vault;
  auto skeleton = host_facts_skeleton(*text, options, file);
  report.json["diagnostics"] = diagnostics_json(skeleton.diagnostics);
  add_diagnostic_notes(report, skeleton.diagnostics);
  if (!skeleton.ok())
    return report.fail(Error{0, file + ": cannot be read; no skeleton written", {}});
  report.json["skeleton"] = Json::parse(*skeleton.value);
  std::vector<std::string> lines = split(*skeleton.value, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (std::string& line : lines) report.line(std::move(line));
  return report;
}

}  // namespace

void add_host_commands(CLI::App& app, Globals& /*g*/, Commands& commands) {
  struct Options {
    std::string file, vault;
  };
  auto o = std::make_shared<Options>();
  auto* host = app.add_subcommand("host", "this host's facts: what a vault's policy needs of it");
  host->require_subcommand(1);
  auto* init = host->add_subcommand(
      "init",
      "print a host-facts skeleton for a rule document: one entry per virtual network and "
      "subnet it names, with placeholders to fill in (redirect it to /etc/vaultwall/host.json)");
  init->add_option("-f,--file", o->file, "rule document (JSON; - for standard input)")->required();
  init->add_option("--vault", o->vault,
                   "the vault to read from a list of vaults, an ARM template or Terraform state");
  add_output_option(commands, init);
  commands.add(init, [o] { return cmd_host_init(o->file, o->vault); });
}

}  // namespace vaultwall::cli
