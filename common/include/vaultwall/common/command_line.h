// The command-line conventions both binaries share: options that may be
// typed before or after the subcommand, defaults from the environment the
// units set, and CLI11's parse result turned into the project's exit codes
// (0 after --help/--version, 2 for usage).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include "vaultwall/common/output.h"  // the exit codes

namespace vaultwall {

inline constexpr const char* kPinDirEnv = "VAULTWALL_PIN_DIR";
// vaultwall-loader load --index-chunks, from the environment (the unit's env file).
inline constexpr const char* kIndexChunksEnv = "VAULTWALL_INDEX_CHUNKS";

// The value of an environment variable, or `fallback` when it is unset or
// empty (the units' env file sets variables to "" to mean "default").
inline std::string env_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

// Calls add(command) for `app` and every subcommand below it, so options
// such as --pin-dir can be typed before or after the subcommand
// (`vaultwallctl stats --pin-dir D` and `vaultwallctl --pin-dir D stats`)
// and show in every subcommand's --help. Call it after every subcommand is
// registered. Options bound to one variable: the last one typed wins.
inline void add_everywhere(CLI::App& app, const std::function<void(CLI::App*)>& add) {
  add(&app);
  // Option groups are nameless subcommands inside CLI11: skip them.
  for (CLI::App* sub : app.get_subcommands([](CLI::App* c) { return !c->get_name().empty(); }))
    add_everywhere(*sub, add);
}

// The innermost subcommand that was parsed (the command to run), or `app`.
inline CLI::App* parsed_leaf(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands()) return parsed_leaf(*sub);
  return &app;
}

// The program's name as typed, without its directory.
inline std::string program_name(const CLI::App& app) {
  const std::string& name = app.get_name();
  return name.substr(name.rfind('/') + 1);
}

// "unknown command "fleet frobnicate"; the commands are: ..." when the
// innermost command parsed needs a subcommand and the word after it is not
// one (CLI11 would only say that a subcommand is required); else "".
inline std::string unknown_command_text(CLI::App& app) {
  CLI::App* leaf = parsed_leaf(app);
  std::vector<std::string> rest = leaf->remaining();
  if (rest.empty() || rest.front().starts_with("-") || leaf->get_require_subcommand_min() == 0)
    return "";
  std::string path;
  for (CLI::App* at = leaf; at != &app && at; at = at->get_parent())
    path = at->get_name() + " " + path;
  std::string commands;
  for (CLI::App* sub : leaf->get_subcommands([](CLI::App* c) { return !c->get_name().empty(); }))
    commands += (commands.empty() ? "" : ", ") + sub->get_name();
  return "unknown command \"" + path + rest.front() + "\"; the commands are: " + commands +
         " (see " + program_name(app) + " " + path + "--help)";
}

// Parses argv and then runs `after_parse` (which may throw CLI errors for
// rules CLI11 cannot express). Returns nullopt to go on, or the exit code.
template <class AfterParse>
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                      AfterParse&& after_parse) {
  try {
    app.parse(argc, argv);
    after_parse();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (std::string unknown = unknown_command_text(app); !unknown.empty()) {
      std::cerr << program_name(app) << ": " << unknown << "\n";
      return kExitUsage;
    }
    app.exit(e);
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace vaultwall
