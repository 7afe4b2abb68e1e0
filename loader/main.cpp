// vaultwall-loader: loads the XDP program with pinned maps, attaches it to
// interfaces, detaches it, and reports status.
#include <bpf/libbpf.h>

#include <CLI/CLI.hpp>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "vaultwall/apply.h"
#include "vaultwall/attach.h"
#include "vaultwall/links.h"
#include "vaultwall/maps.h"
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

// A stored policy whose segments name an interface binds to it only once
// the interface is attached: recompile it against the links and apply it
// when that changes what the kernel holds. The attach itself is done
// either way, so a stored policy that cannot be re-applied is a warning
// (verify reports it too), not a failed attach.
void reapply_after_attach(const std::string& pin_dir) {
  auto maps = PinnedMaps::open(pin_dir);
  auto reapplied = maps ? reapply_stored_policy(*maps) : Result<ReapplyOutcome>(std::unexpected(maps.error()));
  if (!reapplied) {
    std::cerr << "vaultwall-loader: warning: segments may not be bound to the attached "
                 "interfaces: cannot re-apply the stored policy: "
              << reapplied.error().message() << "\n";
    return;
  }
  // Only what attaching is about: the policy's other warnings came with its apply.
  for (const Diagnostic& d : reapplied->diagnostics)
    if (d.path.ends_with("segment.interface"))
      std::cerr << "vaultwall-loader: warning: " << d.text() << "\n";
  if (reapplied->applied)
    std::cout << "re-applied the stored policy against the attached interfaces: generation "
              << reapplied->outcome.new_generation << " (slot " << reapplied->outcome.slot << ")\n";
}

void print_unfiltered(const std::vector<std::string>& unfiltered) {
  for (const std::string& line : unfiltered)
    std::cerr << "vaultwall-loader: warning: still unfiltered: " << line
              << " (see vaultwall-loader status)\n";
}

int cmd_load(const std::string& pin_dir, bool repair) {
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report(r.error());
  // The directory first, so the whole load (pin checks, repair, link moves)
  // runs under the lock.
  std::error_code ec;
  std::filesystem::create_directories(pin_dir, ec);
  if (ec) return report(Error{ec.value(), "create pin directory " + pin_dir, {}});
  auto lock = PinDirLock::acquire(pin_dir);
  if (!lock) return report(lock.error());
  auto program = Program::load(pin_dir, repair);
  if (!program) return report(program.error());
  auto moves = program->pin_and_update_links(pin_dir);
  if (!moves) return report(moves.error());
  std::cout << "loaded vaultwall (ABI " << VW_ABI_VERSION << ") with maps pinned at " << pin_dir;
  if (moves->moved > 0) std::cout << "; " << moves->moved << " attached interface(s) moved to it";
  std::cout << "\n";
  for (const std::string& ifname : moves->reattached)
    std::cout << ifname << ": its link was severed or unpinned; attached again\n";
  // Loaded and moved: the job is done. An interface it could not attach
  // again stays red in status, verify and the metrics, and is said here;
  // failing would stop a unit from applying and attaching the rest.
  print_unfiltered(moves->unfiltered);
  if (!moves->reattached.empty()) reapply_after_attach(pin_dir);
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
  int attached = 0;
  for (const std::string& ifname : interfaces) {
    auto result = attach_interface(pin_dir, ifname, mode);
    if (!result) {
      status = report(result.error());
      continue;
    }
    std::string how = result->framing == "ip" ? " (no Ethernet header: IP entry point)" : "";
    if (result->replaced) how += "; replaced its severed or unpinned link";
    if (result->fell_back)
      std::cout << ifname << ": native XDP unavailable (" << result->native_error
                << "), attached in generic mode" << how << "\n";
    else
      std::cout << ifname << ": attached in " << result->mode << " mode" << how << "\n";
    attached++;
  }
  if (attached > 0) reapply_after_attach(pin_dir);
  return status;
}

int cmd_detach(const std::string& pin_dir, std::vector<std::string> interfaces, bool all,
               bool purge) {
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report(r.error());
  if (all) {
    auto expected = expected_interfaces(pin_dir);
    if (!expected) return report(expected.error());
    interfaces = *expected;
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

nlohmann::json links_json(const std::vector<InterfaceHealth>& links) {
  nlohmann::json out = nlohmann::json::array();
  for (const InterfaceHealth& h : links)
    out.push_back({{"interface", h.interface},
                   {"state", link_state_name(h.state)},
                   {"filtered", h.filtered()},
                   {"ifindex", h.ifindex},
                   {"mode", h.mode},
                   {"framing", h.framing},
                   {"linkId", h.link_id},
                   {"programId", h.prog_id},
                   {"netns", h.netns_inode ? nlohmann::json(netns_text(h.netns_inode)) : nlohmann::json()},
                   {"otherNamespace", h.other_namespace},
                   {"problem", h.problem.empty() ? nlohmann::json() : nlohmann::json(h.problem)},
                   {"hint", h.hint.empty() ? nlohmann::json() : nlohmann::json(h.hint)}});
  return out;
}

std::string tunnel_warning(const NetDevice& d) {
  return d.name + " (" + d.kind + ") is up and decapsulates traffic without vaultwall on it: what "
         "arrives through it was never filtered; attach vaultwall to it (vaultwall-loader attach " +
         d.name + ") or take it down";
}

// One shape in every outcome: an error fills "error", the rest keeps its
// empty values.
nlohmann::json status_json(const Status& s, const std::string& error) {
  nlohmann::json maps = nlohmann::json::object();
  for (const MapStatus& m : s.maps) maps[m.name] = m.id;
  nlohmann::json warnings = nlohmann::json::array(), tunnels = nlohmann::json::array();
  for (const NetDevice& d : s.unfiltered_tunnels) {
    tunnels.push_back({{"interface", d.name}, {"kind", d.kind}, {"ifindex", d.ifindex}});
    warnings.push_back(tunnel_warning(d));
  }
  return {{"schemaVersion", 1},
          {"pinDir", s.pin_dir},
          {"loaded", s.loaded},
          {"healthy", error.empty() && s.healthy()},
          {"programId", s.prog_id},
          {"programTag", s.prog_tag},
          {"ipProgramId", s.ip_prog_id},
          {"abiVersion", s.abi_version},
          {"activeSlot", s.active_slot},
          {"generation", s.generation},
          {"interfaces", links_json(s.links)},
          {"unfilteredTunnels", tunnels},
          {"warnings", warnings},
          {"maps", maps},
          {"error", error.empty() ? nlohmann::json() : nlohmann::json(error)}};
}

void print_link(const InterfaceHealth& h) {
  std::string where = h.other_namespace ? " (in network namespace " + netns_text(h.netns_inode) + ")" : "";
  std::printf("interface   %-16s ifindex %-4u %-8s %-14s link %u prog %u%s\n", h.interface.c_str(),
              h.ifindex, h.mode.empty() ? "-" : h.mode.c_str(), link_state_name(h.state), h.link_id,
              h.prog_id, where.c_str());
  if (!h.filtered()) std::printf("  UNFILTERED: %s\n  fix: %s\n", h.problem.c_str(), h.hint.c_str());
}

void print_status_table(const Status& s) {
  if (!s.loaded) {
    std::cout << "vaultwall is not loaded at " << s.pin_dir
              << ": nothing is filtered (run vaultwall-loader load, vaultwallctl apply, then vaultwall-loader attach)\n";
    return;
  }
  std::printf("pin dir     %s\nprogram     id %u tag %s (ABI %u); IP entry point id %u\npolicy      slot %u, generation %llu\n",
              s.pin_dir.c_str(), s.prog_id, s.prog_tag.c_str(), s.abi_version, s.ip_prog_id,
              s.active_slot, static_cast<unsigned long long>(s.generation));
  if (s.links.empty()) std::printf("interfaces  none attached\n");
  for (const InterfaceHealth& h : s.links) print_link(h);
  std::printf("maps       ");
  for (const MapStatus& m : s.maps) std::printf(" %s=%u", m.name.c_str(), m.id);
  std::printf("\n");
  for (const NetDevice& d : s.unfiltered_tunnels)
    std::cerr << "vaultwall-loader: warning: " << tunnel_warning(d) << "\n";
  size_t unfiltered = std::count_if(s.links.begin(), s.links.end(),
                                    [](const InterfaceHealth& h) { return !h.filtered(); });
  if (unfiltered > 0)
    std::printf("UNHEALTHY: %zu expected interface(s) unfiltered\n", unfiltered);
}

int cmd_status(const std::string& pin_dir, const std::string& output) {
  auto checked = check_privileges_and_bpffs(pin_dir);
  Result<Status> status = checked ? read_status(pin_dir) : Result<Status>(std::unexpected(checked.error()));
  if (output == "json") {
    Status empty{.pin_dir = pin_dir};
    std::cout << status_json(status ? *status : empty, status ? "" : status.error().message()).dump(2) << "\n";
    if (!status) last_error = status.error().message();
  } else {
    if (!status) return report(status.error());
    print_status_table(*status);
  }
  return status && status->healthy() ? kExitOk : kExitError;
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
  app.set_help_all_flag("--help-all", "print the help of every subcommand and exit");
  std::string pin_dir = env_or(kPinDirEnv, VW_PIN_DIR_DEFAULT);
  std::string journal;

  auto* load = app.add_subcommand(
      "load", "load the program and pin it with its maps (reuses existing pins: rules and "
              "counters survive; attached interfaces move to the new program without a gap, "
              "severed ones are attached again; refuses an incomplete pin set)");
  bool repair = false;
  load->add_flag("--repair", repair,
                 "re-pin maps whose pins were deleted, from the running program, before loading");

  std::vector<std::string> attach_ifaces;
  std::string mode = "auto";
  auto* attach = app.add_subcommand(
      "attach", "attach the loaded program to interfaces (names are resolved in the current network "
                "namespace; replaces a severed link; refuses an interface already attached or "
                "running another XDP program; re-applies the stored policy so segments bind)");
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
  auto* status = app.add_subcommand(
      "status", "show program, interfaces, active slot, generation (exit 1 when nothing is "
                "loaded or an expected interface is unfiltered)");

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

  if (load->parsed()) return cmd_load(pin_dir, repair);
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
