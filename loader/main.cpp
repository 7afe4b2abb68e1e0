// vaultwall-loader: loads the XDP program with pinned maps, attaches it to
// interfaces, detaches it, and reports status.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <functional>

#include "vaultwall/apply/apply.h"
#include "vaultwall/kernel/attach.h"
#include "vaultwall/kernel/links.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/common/command_line.h"
#include "vaultwall/common/journal.h"
#include "vaultwall/common/lock.h"
#include "vaultwall/common/logging.h"
#include "vaultwall/common/output.h"
#include "vaultwall/common/text.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall_abi.h"

namespace vaultwall {
namespace {

// The stored policy, recompiled and applied when that changes what the
// kernel holds. After an attach: segments that name an interface bind to it
// only once it is attached. After a load: this release may compile the same
// document differently (a tunnel kind added within the ABI). The attach or
// load itself is done either way, so a stored policy that cannot be
// re-applied is a warning (verify reports it too), not a failure.
void reapply_stored(const std::string& pin_dir, Report& report, const std::string& why) {
  auto maps = PinnedMaps::open(pin_dir);
  auto reapplied = maps ? reapply_stored_policy(*maps) : Result<ReapplyOutcome>(std::unexpected(maps.error()));
  if (!reapplied) {
    report.warn("segments may not be bound to the attached interfaces: cannot re-apply the "
                "stored policy: " + reapplied.error().message());
    return;
  }
  // Only what attaching is about: the policy's other warnings came with its apply.
  for (const Diagnostic& d : reapplied->diagnostics)
    if (d.path.ends_with("segment.interface")) report.warn(d.text());
  if (reapplied->applied) report.json["reappliedGeneration"] = reapplied->outcome.new_generation;
  if (reapplied->applied)
    report.line("re-applied the stored policy " + why + ": generation " +
                std::to_string(reapplied->outcome.new_generation) + " (slot " +
                std::to_string(reapplied->outcome.slot) + ")");
}

void warn_unfiltered(Report& report, const std::vector<std::string>& unfiltered) {
  for (const std::string& line : unfiltered)
    report.warn("still unfiltered: " + line + " (see vaultwall-loader status)");
}

// load's JSON in every outcome.
Json load_json(const std::string& pin_dir) {
  return {{"pinDir", pin_dir},
          {"loaded", false},
          {"abiVersion", VW_ABI_VERSION},
          {"movedInterfaces", 0},
          {"reattached", Json::array()},
          {"unfiltered", Json::array()},
          {"reappliedGeneration", Json()}};
}

// The chunks --index-chunks or $VAULTWALL_INDEX_CHUNKS asks for (empty: none).
Result<std::optional<uint32_t>> asked_index_chunks(const std::string& text, bool from_env) {
  if (text.empty()) return std::nullopt;
  if (auto n = parse_decimal<uint32_t>(text)) return *n;
  return fail(EINVAL,
              std::string(from_env ? "$" + std::string(kIndexChunksEnv) : "--index-chunks") + " is \"" +
                  text + "\", not a number of chunks",
              "give a whole number such as 1048576 (docs/operations.md, \"Sizing the source index\")");
}

Report cmd_load(const std::string& pin_dir, bool repair, const std::string& index_chunks_text,
                bool index_chunks_from_env) {
  Report report;
  report.json = load_json(pin_dir);
  auto index_chunks = asked_index_chunks(index_chunks_text, index_chunks_from_env);
  if (!index_chunks) return report.fail(index_chunks.error());
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report.fail(r.error());
  // The directory first, so the whole load (pin checks, repair, link moves)
  // runs under the lock.
  std::error_code ec;
  std::filesystem::create_directories(pin_dir, ec);
  if (ec) return report.fail(Error{ec.value(), "create pin directory " + pin_dir, {}});
  auto lock = PinDirLock::acquire(pin_dir);
  if (!lock) return report.fail(lock.error());
  auto program = Program::load(pin_dir, repair, *index_chunks);
  if (!program) return report.fail(program.error());
  auto moves = program->pin_and_update_links(pin_dir);
  if (!moves) return report.fail(moves.error());
  report.json["loaded"] = true;
  report.json["movedInterfaces"] = moves->moved;
  report.json["reattached"] = moves->reattached;
  report.json["unfiltered"] = moves->unfiltered;
  report.line("loaded vaultwall (ABI " + std::to_string(VW_ABI_VERSION) + ") with maps pinned at " +
              pin_dir +
              (moves->moved > 0
                   ? "; " + std::to_string(moves->moved) + " attached interface(s) moved to it"
                   : ""));
  if (auto maps = PinnedMaps::open(pin_dir))
    if (auto capacity = maps->index_capacity()) report.line("source index: " + index_size_text(*capacity));
  for (const std::string& ifname : moves->reattached)
    report.line(ifname + ": its link was severed or unpinned; attached again");
  // Loaded and moved: the job is done. An interface it could not attach
  // again stays red in status, verify and the metrics, and is said here;
  // failing would stop a unit from applying and attaching the rest.
  warn_unfiltered(report, moves->unfiltered);
  reapply_stored(pin_dir, report,
                 moves->reattached.empty() ? "as this release compiles it"
                                           : "against the attached interfaces");
  return report;
}

AttachMode attach_mode(const std::string& text) {
  return text == "native" ? AttachMode::kNative : text == "generic" ? AttachMode::kGeneric
                                                                     : AttachMode::kAuto;
}

std::string attached_line(const AttachResult& result) {
  std::string how = result.framing == "ip" ? " (no Ethernet header: IP entry point)" : "";
  if (result.replaced) how += "; replaced its severed or unpinned link";
  if (result.fell_back)
    return result.interface + ": native XDP unavailable (" + result.native_error +
           "), attached in generic mode" + how;
  return result.interface + ": attached in " + result.mode + " mode" + how;
}

// Attaches every interface it can; each failure is reported, the first is the cause.
Report cmd_attach(const std::string& pin_dir, const std::vector<std::string>& interfaces,
                  const std::string& mode) {
  Report report;
  report.json = {{"pinDir", pin_dir}, {"interfaces", Json::array()}, {"reappliedGeneration", Json()}};
  auto interface_json = [](const std::string& ifname, const AttachResult* result,
                           const Error* error) {
    auto or_null = [&](auto field) { return result ? Json(field(*result)) : Json(); };
    return Json{{"interface", ifname},
                {"attached", result != nullptr},
                {"mode", or_null([](const AttachResult& r) { return r.mode; })},
                {"framing", or_null([](const AttachResult& r) { return r.framing; })},
                {"fellBack", result && result->fell_back},
                {"replaced", result && result->replaced},
                {"error", error_json(error)}};
  };
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report.fail(r.error());
  auto lock = PinDirLock::acquire(pin_dir);
  if (!lock) return report.fail(lock.error());
  int attached = 0;
  for (const std::string& ifname : interfaces) {
    auto result = attach_interface(pin_dir, ifname, attach_mode(mode));
    if (!result) {
      report.json["interfaces"].push_back(interface_json(ifname, nullptr, &result.error()));
      report.fail(result.error());
      continue;
    }
    report.json["interfaces"].push_back(interface_json(ifname, &*result, nullptr));
    report.line(attached_line(*result));
    attached++;
  }
  if (attached > 0) reapply_stored(pin_dir, report, "against the attached interfaces");
  return report;
}

Report cmd_detach(const std::string& pin_dir, std::vector<std::string> interfaces, bool all,
                  bool purge) {
  Report report;
  report.json = {{"pinDir", pin_dir}, {"detached", Json::array()}, {"purged", false}};
  if (auto r = check_privileges_and_bpffs(pin_dir); !r) return report.fail(r.error());
  if (all) {
    auto expected = expected_interfaces(pin_dir);
    if (!expected) return report.fail(expected.error());
    interfaces = *expected;
  }
  {
    auto lock = PinDirLock::acquire(pin_dir);
    if (!lock && !(all && lock.error().code == ENOENT)) return report.fail(lock.error());
    for (const std::string& ifname : interfaces) {
      if (auto r = detach_interface(pin_dir, ifname); !r) {
        report.fail(r.error());
      } else {
        report.json["detached"].push_back(ifname);
        report.line(ifname + ": detached");
      }
    }
  }
  if (!purge || report.failed()) return report;
  if (auto r = purge_pins(pin_dir); !r) return report.fail(r.error());
  report.json["purged"] = true;
  report.line("removed " + pin_dir + " (program, maps, rules and counters)");
  return report;
}

Json links_json(const std::vector<InterfaceHealth>& links) {
  auto or_null = [](const std::string& text) { return text.empty() ? Json() : Json(text); };
  Json out = Json::array();
  for (const InterfaceHealth& h : links)
    out.push_back({{"interface", h.interface},
                   {"state", link_state_name(h.state)},
                   {"filtered", h.whole()},
                   {"vlanBypass", h.vlan_bypass},
                   {"ifindex", h.ifindex},
                   {"mode", h.mode},
                   {"framing", h.framing},
                   {"linkId", h.link_id},
                   {"programId", h.prog_id},
                   {"netns", h.netns_inode ? Json(netns_text(h.netns_inode)) : Json()},
                   {"otherNamespace", h.other_namespace},
                   {"problem", or_null(h.problem)},
                   {"hint", or_null(h.hint)}});
  return out;
}

std::string tunnel_warning(const NetDevice& d) {
  return d.name + " (" + d.kind + ") is up and decapsulates traffic without vaultwall on it: what "
         "arrives through it was never filtered; attach vaultwall to it (vaultwall-loader attach " +
         d.name + ") or take it down";
}

std::string lost_replies_warning(const std::string& interface) {
  return "denyAction is reject, but " + interface + " is a veth attached in native mode, which "
         "does not deliver the RSTs (stats counts them as sent; clients still time out): attach "
         "it in generic mode (vaultwall-loader detach " + interface +
         " && vaultwall-loader attach " + interface + " --mode generic)";
}

// One shape in every outcome: an error leaves the empty values.
Json source_index_json(const SourceIndexUse& u) {
  return {{"capacityChunks", u.capacity},
          {"bytesPerSlot", uint64_t{u.capacity} * sizeof(vw_index_chunk)},
          {"usedChunks", u.used},
          {"neededChunks", u.needed},
          {"trieRegions", u.trie_regions},
          {"ipv6NodesUsed", u.ipv6_nodes},
          {"ipv6Nodes", u.ipv6_capacity},
          {"ipv6TrieRegions", u.ipv6_trie_regions}};
}

Json status_json(const Status& s, bool failed) {
  Json maps = Json::object();
  for (const MapStatus& m : s.maps) maps[m.name] = m.id;
  Json warnings = Json::array(), tunnels = Json::array();
  for (const NetDevice& d : s.unfiltered_tunnels) {
    tunnels.push_back({{"interface", d.name}, {"kind", d.kind}, {"ifindex", d.ifindex}});
    warnings.push_back(tunnel_warning(d));
  }
  for (const std::string& interface : s.replies_lost)
    warnings.push_back(lost_replies_warning(interface));
  bool healthy = !failed && s.healthy();
  Json index = source_index_json(s.source_index), interfaces = links_json(s.links);
  return {{"pinDir", s.pin_dir},         {"loaded", s.loaded},
          {"healthy", healthy},          {"programId", s.prog_id},
          {"programTag", s.prog_tag},    {"ipProgramId", s.ip_prog_id},
          {"abiVersion", s.abi_version}, {"activeSlot", s.active_slot},
          {"generation", s.generation},  {"idleSlotGeneration", s.other_slot_generation},
          {"sourceIndex", index},
          {"interfaces", interfaces},    {"unfilteredTunnels", tunnels},
          {"warnings", warnings},        {"maps", maps}};
}

void add_status_text(Report& report, const Status& s) {
  if (!s.loaded) {
    report.line("vaultwall is not loaded at " + s.pin_dir +
                ": nothing is filtered (run vaultwall-loader load, vaultwallctl apply, then "
                "vaultwall-loader attach)");
    return;
  }
  TextTable summary({{"", Align::kLeft, 11}, {""}});
  summary.add_row({"pin dir", s.pin_dir});
  summary.add_row({"program", "id " + std::to_string(s.prog_id) + " tag " + s.prog_tag + " (ABI " +
                                  std::to_string(s.abi_version) + "); IP entry point id " +
                                  std::to_string(s.ip_prog_id)});
  summary.add_row({"policy", "slot " + std::to_string(s.active_slot) + ", generation " +
                                 std::to_string(s.generation)});
  const SourceIndexUse& index = s.source_index;
  // trie_regions counts the IPv6 /16s too (ipv6_trie_regions of them).
  const uint32_t ipv4_trie_regions = index.trie_regions - index.ipv6_trie_regions;
  summary.add_row({"index", index_size_text(index.capacity) + "; the live slot uses " +
                                std::to_string(index.used) +
                                (ipv4_trie_regions ? ", " + std::to_string(ipv4_trie_regions) +
                                                         " /16s left to the tries"
                                                   : "") +
                                "; IPv6 nodes " + std::to_string(index.ipv6_nodes) + " of " +
                                std::to_string(index.ipv6_capacity) +
                                (index.ipv6_trie_regions
                                     ? ", " + std::to_string(index.ipv6_trie_regions) +
                                           " IPv6 /16s left to the trie"
                                     : "")});
  report.table(std::move(summary));
  if (ipv4_trie_regions > 0)
    report.warn("the live policy needs " + std::to_string(index.needed) +
                " index chunks: purge and load with --index-chunks " + std::to_string(index.needed) +
                " to index all of it (see vaultwallctl apply's warning)");
  if (index.ipv6_trie_regions)
    report.warn(std::to_string(index.ipv6_trie_regions) + " IPv6 /16s of the live policy are past the IPv6 index's " +
                std::to_string(index.ipv6_capacity) + " nodes: vw_public6 decides them (correct, slower)");
  if (s.links.empty()) {
    report.line("interfaces  none attached");
  } else {
    TextTable links({left_column("INTERFACE", 16), left_column("IFINDEX", 4),
                     left_column("MODE", 8), left_column("STATE", 14), left_column("LINK"),
                     left_column("PROG"), left_column("NAMESPACE")});
    for (const InterfaceHealth& h : s.links)
      links.add_row({h.interface, std::to_string(h.ifindex), h.mode.empty() ? "-" : h.mode,
                     link_state_name(h.state), std::to_string(h.link_id), std::to_string(h.prog_id),
                     h.other_namespace ? netns_text(h.netns_inode) : "this one"});
    report.table(std::move(links));
    for (const InterfaceHealth& h : s.links) {
      if (h.whole()) continue;
      report.line("UNFILTERED " + h.interface + ": " + h.problem);
      report.line("  fix: " + h.hint);
    }
  }
  std::string maps = "maps       ";
  for (const MapStatus& m : s.maps) maps += " " + m.name + "=" + std::to_string(m.id);
  report.line(maps);
  for (const NetDevice& d : s.unfiltered_tunnels) report.warn(tunnel_warning(d));
  for (const std::string& interface : s.replies_lost) report.warn(lost_replies_warning(interface));
  size_t unfiltered = std::count_if(s.links.begin(), s.links.end(),
                                    [](const InterfaceHealth& h) { return !h.whole(); });
  if (unfiltered > 0)
    report.line("UNHEALTHY: " + std::to_string(unfiltered) + " expected interface(s) unfiltered");
  if (s.older_policy_active())
    report.line("UNHEALTHY: the active slot " + std::to_string(s.active_slot) + " holds generation " +
                std::to_string(s.generation) + ", an older generation than slot " +
                std::to_string(s.active_slot ^ 1) + "'s " + std::to_string(s.other_slot_generation) +
                ": vw_active.slot was flipped back to an older policy, or an apply died before its "
                "flip (vaultwallctl verify tells which); vaultwallctl apply --force -f DOCUMENT "
                "enforces the document");
  if (s.generation > 0 && s.links.empty())
    report.line("UNHEALTHY: policy generation " + std::to_string(s.generation) +
                " is applied but no interface is attached: nothing is filtered (vaultwall-loader "
                "attach IFACE)");
}

// Exit 1 when anything expected is unfiltered, or nothing is loaded.
Report cmd_status(const std::string& pin_dir) {
  Report report;
  auto checked = check_privileges_and_bpffs(pin_dir);
  Result<Status> status = checked ? read_status(pin_dir) : Result<Status>(std::unexpected(checked.error()));
  if (!status) {
    report.json = status_json(Status{.pin_dir = pin_dir}, true);
    return report.fail(status.error());
  }
  report.json = status_json(*status, false);
  add_status_text(report, *status);
  report.exit_code = status->healthy() ? kExitOk : kExitError;
  return report;
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
  std::string index_chunks = env_or(kIndexChunksEnv, "");
  auto* index_chunks_opt = load->add_option(
      "--index-chunks", index_chunks,
      std::string("chunks of 64 bytes per slot for the IPv4 source index, fixed when the maps are "
                  "created (default $") +
          kIndexChunksEnv + " or " + std::to_string(VW_INDEX_CHUNKS) +
          "; pinned maps keep theirs; a policy that needs more is decided by the tries for the "
          "rest, and apply says what to load with)");

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

  bool verbose = false, no_headers = false;
  // Options that may come before or after the subcommand.
  add_everywhere(app, [&](CLI::App* command) {
    command->add_option("--pin-dir", pin_dir,
                        std::string("where program, maps and links are pinned (default $") +
                            kPinDirEnv + " or " VW_PIN_DIR_DEFAULT ")");
    command->add_flag("-v,--verbose", verbose, "print debug messages (libbpf's included)");
    command->add_option("--journal", journal,
                        std::string("change journal (default $") + kJournalPathEnv + " or " +
                            kJournalDefaultPath + ")");
    command->add_option("-o,--output", output,
                        command == &app || command == status ? "table, json or tsv"
                                                             : "table or json")
        ->check(CLI::IsMember({"table", "json", "tsv"}));
    command->add_flag("--no-headers", no_headers,
                      "print tables without their header line (with -o table or tsv)");
  });

  auto parsed = parse_command_line(app, argc, argv, [&] {
    if (detach->parsed() && detach_ifaces.empty() && !all)
      throw CLI::ValidationError("detach", "name interfaces or give --all");
    if (output == "tsv" && !status->parsed())
      throw CLI::ValidationError("-o", parsed_leaf(app)->get_name() + " -o takes table or json");
  });
  if (parsed) return *parsed;
  setup_logging("vaultwall-loader", LogStyle::kCommand, verbose);
  route_libbpf_messages();

  auto journaled = [&](const std::string& command, const std::vector<std::string>& interfaces,
                       const std::function<Report()>& change) {
    JournaledChange journal_entry{.journal = journal_path(journal),
                                  .command = command,
                                  .argv = std::vector<std::string>(argv, argv + argc),
                                  .pin_dir = pin_dir,
                                  .interfaces = interfaces,
                                  .policy_version = [&] { return active_policy_version(pin_dir); }};
    return run_journaled(journal_entry, change);
  };
  const OutputFormat format{.json = output == "json",
                            .notes = output != "json",
                            .table = {.headers = !no_headers, .tab_separated = output == "tsv"}};
  // Journaled: a load may re-apply the stored policy (a new generation).
  if (load->parsed())
    return emit(journaled("load", {},
                          [&] {
                            return cmd_load(pin_dir, repair, index_chunks,
                                            index_chunks_opt->count() == 0);
                          }),
                format);
  if (attach->parsed())
    return emit(journaled("attach", attach_ifaces,
                          [&] { return cmd_attach(pin_dir, attach_ifaces, mode); }),
                format);
  if (detach->parsed())
    return emit(journaled("detach", detach_ifaces,
                          [&] { return cmd_detach(pin_dir, detach_ifaces, all, purge); }),
                format);
  if (status->parsed()) return emit(cmd_status(pin_dir), format);
  return kExitUsage;
}

}  // namespace
}  // namespace vaultwall

int main(int argc, char** argv) { return vaultwall::run(argc, argv); }
