// The command-line outcome both binaries share: CLI11's parse result turned
// into the project's exit codes (0 after --help/--version, 2 for usage).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

namespace vaultwall {

// Parses argv and then runs `after_parse` (which may throw CLI errors for
// rules CLI11 cannot express). Returns nullopt to go on, or the exit code.
template <class AfterParse>
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                      AfterParse&& after_parse) {
  constexpr int kExitUsage = 2;
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
    app.exit(e);
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace vaultwall
