// vaultwall-loader: loads the XDP program with pinned maps, attaches it to
// interfaces, detaches it, and reports status.
#include <bpf/libbpf.h>

#include <CLI/CLI.hpp>
#include <cstdarg>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "vaultwall/attach.h"
#include "vaultwall/command_line.h"
#include "vaultwall/journal.h"
#include "vaultwall/lock.h"
#include "vaultwall/program.h"
#include "vaultwall_abi.h"

namespace vaultwall {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

bool verbose = false;

// The last error reported, so the journal can say why a change failed.
std::string last_error;

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG && !verbose) return 0;
  return std::vfprintf(stderr, format, args);
}

int report(const Error& error) {
  std::cerr << "vaultwall-loader: " << error.message() << "\n";
  if (last_error.empty()) last_error = error.message();
  return kExitError;
}

int cmd_load(const std::string& pin_dir) {
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report(r.error());
  auto program = Program::load(pin_dir);
  if (!program) return report(program.error());
  auto lock = PinDirLock::acquire(pin_dir);
  if (!lock) return report(lock.error());
  auto updated = program->pin_and_update_links(pin_dir);
  if (!updated) return report(updated.error());
  std::cout << "loaded vaultwall (ABI " << VW_ABI_VERSION << ") with maps pinned at " << pin_dir;
  if (*updated > 0) std::cout << "; " << *updated << " attached interface(s) moved to it";
  std::cout << "\n";
  return kExitOk;
}

int cmd_attach(const std::string& pin_dir, const std::vector<std::string>& interfaces,
               const std::string& mode_text) {
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report(r.error());
  AttachMode mode = mode_text == "native"    ? AttachMode::kNative
                    : mode_text == "generic" ? AttachMode::kGeneric
                                             : AttachMode::kAuto;
  auto lock = PinDirLock::acquire(pin_dir);
  if (!lock) return report(lock.error());
  int status = kExitOk;
  for (const std::string& ifname : interfaces) {
    auto result = attach_interface(pin_dir, ifname, mode);
    if (!result) {
      status = report(result.error());
      continue;
    }
    if (result->fell_back)
      std::cout << ifname << ": native XDP unavailable (" << result->native_error
                << "), attached in generic mode\n";
    else
      std::cout << ifname << ": attached in " << result->mode << " mode\n";
  }
  return status;
}

int cmd_detach(const std::string& pin_dir, std::vector<std::string> interfaces, bool all,
               bool purge) {
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report(r.error());
  if (all) {
    auto attached = attached_interfaces(pin_dir);
    if (!attached) return report(attached.error());
    interfaces = *attached;
  }
  int status = kExitOk;
  {
    auto lock = PinDirLock::acquire(pin_dir);
    if (!lock && !(all && lock.error().code == ENOENT)) return report(lock.error());
    for (const std::string& ifname : interfaces) {
      if (auto r = detach_interface(pin_dir, ifname); !r)
        status = report(r.error());
      else
        std::cout << ifname << ": detached\n";
    }
  }
  if (purge && status == kExitOk) {
    if (auto r = purge_pins(pin_dir); !r) return report(r.error());
    std::cout << "removed " << pin_dir << " (program, maps, rules and counters)\n";
  }
  return status;
}

nlohmann::json status_json(const Status& s) {
  nlohmann::json links = nlohmann::json::array();
  for (const LinkStatus& l : s.links)
    links.push_back({{"interface", l.interface}, {"ifindex", l.ifindex}, {"mode", l.mode},
                     {"linkId", l.link_id}, {"programId", l.prog_id}});
  nlohmann::json maps = nlohmann::json::object();
  for (const MapStatus& m : s.maps) maps[m.name] = m.id;
  return {{"schemaVersion", 1},   {"pinDir", s.pin_dir},        {"loaded", s.loaded},
          {"programId", s.prog_id}, {"programTag", s.prog_tag}, {"abiVersion", s.abi_version},
          {"activeSlot", s.active_slot}, {"generation", s.generation}, {"interfaces", links},
          {"maps", maps}};
}

void print_status_table(const Status& s) {
  if (!s.loaded) {
    std::cout << "vaultwall is not loaded at " << s.pin_dir
              << " (run vaultwall-loader load)\n";
    return;
  }
  std::printf("pin dir     %s\nprogram     id %u tag %s (ABI %u)\npolicy      slot %u, generation %llu\n",
              s.pin_dir.c_str(), s.prog_id, s.prog_tag.c_str(), s.abi_version, s.active_slot,
              static_cast<unsigned long long>(s.generation));
  if (s.links.empty()) std::printf("interfaces  none attached\n");
  for (const LinkStatus& l : s.links)
    std::printf("interface   %-16s ifindex %-4u %-8s link %u prog %u\n", l.interface.c_str(),
                l.ifindex, l.mode.c_str(), l.link_id, l.prog_id);
  std::printf("maps       ");
  for (const MapStatus& m : s.maps) std::printf(" %s=%u", m.name.c_str(), m.id);
  std::printf("\n");
}

int cmd_status(const std::string& pin_dir, const std::string& output) {
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report(r.error());
  auto status = read_status(pin_dir);
  if (!status) return report(status.error());
  if (output == "json")
    std::cout << status_json(*status).dump(2) << "\n";
  else
    print_status_table(*status);
  return kExitOk;
}

// Runs attach or detach with its journal entry (see vaultwall/journal.h).
// A journal that cannot be written is reported but does not block the
// change: an emergency detach must not wait for a full disk.
int journaled(const std::string& journal, const std::string& pin_dir, const std::string& command,
              std::vector<std::string> argv, std::vector<std::string> interfaces,
              const std::function<int()>& change) {
  JournalEntry entry;
  entry.command = command;
  entry.argv = std::move(argv);
  entry.pin_dir = pin_dir;
  entry.interfaces = std::move(interfaces);
  entry.from = active_policy_version(pin_dir);
  auto warn = [](const std::string& message) {
    std::cerr << "vaultwall-loader: warning: " << message << "\n";
  };
  auto pending = PendingChange::begin(journal, std::move(entry));
  if (!pending) {
    warn("this change is not journaled: " + pending.error().message());
    return change();
  }
  for (const std::string& w : pending->take_warnings()) warn(w);
  int status = change();
  JournalEntry& done = pending->entry();
  done.to = active_policy_version(pin_dir);
  if (status != kExitOk) done.fail(last_error.empty() ? "exit status " + std::to_string(status) : last_error);
  if (auto r = pending->finish(); !r) warn("cannot journal this change: " + r.error().message());
  for (const std::string& w : pending->take_warnings()) warn(w);
  return status;
}

int run(int argc, char** argv) {
  CLI::App app{
      "vaultwall-loader: load the vaultwall XDP firewall, attach it to interfaces, report status.\n"
      "Typical start: load, then vaultwallctl apply, then attach (no open window)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", VAULTWALL_VERSION);
  std::string pin_dir = env_or(kPinDirEnv, VW_PIN_DIR_DEFAULT);
  std::string journal;

  auto* load = app.add_subcommand(
      "load", "load the program and pin it with its maps (reuses existing pins: rules and "
              "counters survive; attached interfaces move to the new program without a gap)");

  std::vector<std::string> attach_ifaces;
  std::string mode = "auto";
  auto* attach = app.add_subcommand(
      "attach", "attach the loaded program to interfaces (names are resolved in the current network "
                "namespace; refuses an interface already attached or running another XDP program)");
  attach->add_option("interfaces", attach_ifaces, "interface names")->required();
  attach->add_option("--mode", mode, "native, generic, or auto (native, else generic)")
      ->check(CLI::IsMember({"auto", "native", "generic"}))
      ->capture_default_str();

  std::vector<std::string> detach_ifaces;
  bool all = false, purge = false;
  auto* detach = app.add_subcommand("detach", "detach the program from interfaces");
  auto* ifaces_opt = detach->add_option("interfaces", detach_ifaces, "interface names");
  auto* all_opt = detach->add_flag("--all", all, "detach from every interface");
  ifaces_opt->excludes(all_opt);
  detach->add_flag("--purge", purge,
                   "also remove the program and maps, after detaching (usually with --all; rules "
                   "and counters are lost)");

  std::string output;
  auto* status = app.add_subcommand("status", "show program, interfaces, active slot, generation");

  // Options that may come before or after the subcommand.
  add_everywhere(app, [&](CLI::App* command) {
    command->add_option("--pin-dir", pin_dir,
                        std::string("where program, maps and links are pinned (default $") +
                            kPinDirEnv + " or " VW_PIN_DIR_DEFAULT ")");
    command->add_flag("-v,--verbose", verbose, "print libbpf's debug messages");
    command->add_option("--journal", journal,
                        std::string("change journal (default $") + kJournalPathEnv + " or " +
                            kJournalDefaultPath + ")");
    if (command == &app || command == status)
      command->add_option("-o,--output", output, "table or json")
          ->check(CLI::IsMember({"table", "json"}));
  });

  auto parsed = parse_command_line(app, argc, argv, [&] {
    if (detach->parsed() && detach_ifaces.empty() && !all)
      throw CLI::ValidationError("detach", "name interfaces or give --all");
    if (!output.empty() && !status->parsed())
      throw CLI::ValidationError("-o", parsed_leaf(app)->get_name() + " takes no -o/--output");
  });
  if (parsed) return *parsed;
  libbpf_set_print(libbpf_print);

  if (load->parsed()) return cmd_load(pin_dir);
  std::vector<std::string> command_line(argv, argv + argc);
  if (attach->parsed())
    return journaled(journal_path(journal), pin_dir, "attach", command_line, attach_ifaces,
                     [&] { return cmd_attach(pin_dir, attach_ifaces, mode); });
  if (detach->parsed())
    return journaled(journal_path(journal), pin_dir, "detach", command_line, detach_ifaces,
                     [&] { return cmd_detach(pin_dir, detach_ifaces, all, purge); });
  if (status->parsed()) return cmd_status(pin_dir, output);
  return kExitUsage;
}

}  // namespace
}  // namespace vaultwall

int main(int argc, char** argv) { return vaultwall::run(argc, argv); }
