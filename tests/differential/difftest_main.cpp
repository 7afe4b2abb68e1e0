// Differential test: random policies applied through the production apply
// path, random frames run through the production XDP program (one
// BPF_PROG_TEST_RUN each), every verdict, class, credited rule and service
// and every counter compared with the reference classifier.
//
//   vaultwall_difftest [--seed N] [--policies N] [--packets N] [--max-seconds S]
//   vaultwall_difftest --replay-policy FILE --replay-frame HEX [--ifindex N] [--forwarding 0|1]
//
// It runs in a network namespace of its own (tests/bpf/private_network.h)
// whose sockets and forwarding are the model's (frame_model.h, HostModel):
// what the program asks the kernel about a packet is known to the reference.
//
// Exit codes: 0 no mismatch, 1 mismatch or error, 77 skipped (not root).
#include <net/if.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "frame_model.h"
#include "policy_generator.h"
#include "private_network.h"
#include "vaultwall/apply/apply.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/policy/document.h"
#include "xdp_test_fixture.h"

namespace vaultwall::difftest {
namespace {

using testing::must;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t seed = 1;
  uint64_t policies = 200;
  uint64_t packets = 5000;
  double max_seconds = 0;  // 0: no bound
  std::string replay_policy;
  std::string replay_frame;
  uint32_t replay_ifindex = 1;
  bool replay_forwarding = false;
};

std::string hex(const std::vector<uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) out += {digits[b >> 4], digits[b & 15]};
  return out;
}

std::vector<uint8_t> unhex(const std::string& text) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    uint8_t byte = 0;
    std::from_chars(text.data() + i, text.data() + i + 2, byte, 16);
    out.push_back(byte);
  }
  return out;
}

// What one frame did in the kernel, or must do according to the reference.
struct Outcome {
  uint32_t action = 0;
  uint32_t verdict_class = 0;
  uint32_t rule_id = 0;
  uint32_t service_id = 0;
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

std::string describe(const Outcome& o) {
  return testing::action_name(o.action) + " " + testing::class_name(o.verdict_class) + " rule " +
         std::to_string(o.rule_id) + " service " + std::to_string(o.service_id);
}

// The production program in a pin directory of its own, removed at exit.
class Datapath {
 public:
  Datapath() : pin_dir_("/sys/fs/bpf/vwtest-diff-" + std::to_string(getpid())) {
    program_.emplace(must(Program::load(pin_dir_)));
    maps_.emplace(must(PinnedMaps::open(pin_dir_)));
  }
  ~Datapath() {
    maps_.reset();
    program_.reset();
    std::error_code ec;
    std::filesystem::remove_all(pin_dir_, ec);
  }
  const PinnedMaps& maps() const { return *maps_; }
  int prog_fd() const { return program_->prog_fd(); }

 private:
  std::string pin_dir_;
  std::optional<Program> program_;
  std::optional<PinnedMaps> maps_;
};

// A policy as applied: the normalised policy and the classifier's context,
// with rule and service ids as the kernel describes them (vw_rule_info).
struct AppliedPolicy {
  std::string document;
  Policy policy;
  TrustedSet trusted;
  ClassifierContext context;
  HostModel host;
};

// The namespace the program's lookups see, set up as the model says.
class TestHost {
 public:
  TestHost() : model_(HostModel::standard()) {
    for (const HostModel::Socket& socket : model_.sockets) {
      if (socket.dual_stack)
        net_.open_dual_stack_listener(socket.port);
      else
        net_.open_socket(socket.proto, ipv4_bytes(socket.address), socket.port);
    }
    net_.add_route(model_.routed.cidr(), "vwt0");
  }
  void set_forwarding(bool on) {
    net_.set_forwarding(on);
    model_.forwarding = on;
  }
  const HostModel& model() const { return model_; }

 private:
  testing::PrivateNetwork net_;
  HostModel model_;
};

// Loads, compiles against the kernel and applies, as `vaultwallctl apply`.
std::optional<AppliedPolicy> apply_document(const PinnedMaps& maps, const std::string& document,
                                            const HostModel& host, std::string& error) {
  auto loaded = load_policy(document);
  if (!loaded.ok()) {
    for (const Diagnostic& d : loaded.errors()) error += d.text() + "\n";
    return std::nullopt;
  }
  auto current = must(read_kernel_policy(maps));
  // The program runs through BPF_PROG_TEST_RUN, not attached: segments
  // resolve by name, as the frames' ingress ifindex does.
  auto compilation = compile_against_kernel(*loaded.value, current, {.resolve = resolve_interface});
  if (!compilation.ok()) {
    for (const Diagnostic& d : compilation.errors()) error += d.text() + "\n";
    return std::nullopt;
  }
  std::map<std::string, uint32_t> vnet_ids = compilation.value->compiled.vnet_ids;
  must(apply_compiled(maps, current, *loaded.value, compilation.value->compiled));
  auto applied_state = must(read_kernel_policy(maps));
  AppliedPolicy applied{document, *loaded.value, std::move(compilation.value->trusted), {}, host};
  applied.context.rule_ids = applied_state.rule_ids;
  applied.context.service_ids = applied_state.service_ids;
  applied.context.vnet_ids = std::move(vnet_ids);
  applied.context.resolve_interface = resolve_interface;
  return applied;
}

Outcome expected_outcome(const AppliedPolicy& applied, const TestFrame& frame,
                         PacketDescription* described = nullptr) {
  PacketDescription packet =
      describe_frame(frame.bytes, frame.ifindex, applied.policy, applied.host);
  if (described) *described = packet;
  ClassifierContext context = applied.context;
  context.trusted = &applied.trusted;
  Classification c = classify(applied.policy, context, packet);
  const uint32_t action = c.passes ? XDP_PASS : c.rejected ? XDP_TX : XDP_DROP;
  return {action, c.verdict_class, c.rule_id,
          c.service_id};
}

uint64_t packets_of(const PinnedMaps&, int fd, const char* name, uint32_t index) {
  return must(read_counters(fd, name, index)).packets;
}

// Runs one frame and reads back the counters of what the reference expects
// to be credited; the whole-map totals are compared per policy.
Outcome observed_outcome(const Datapath& dp, const TestFrame& frame, const Outcome& expected) {
  const PinnedMaps& maps = dp.maps();
  uint64_t class_before =
      packets_of(maps, maps.class_stats_fd(), VW_NAME(VW_MAP_CLASS_STATS), expected.verdict_class);
  uint64_t rule_before =
      expected.rule_id ? packets_of(maps, maps.rule_stats_fd(), VW_NAME(VW_MAP_RULE_STATS), expected.rule_id)
                       : 0;
  uint64_t svc_before = expected.service_id ? packets_of(maps, maps.service_stats_fd(),
                                                         VW_NAME(VW_MAP_SVC_STATS), expected.service_id)
                                            : 0;
  testing::XdpRun run = must(testing::run_xdp(dp.prog_fd(), frame.bytes, frame.ifindex));
  Outcome got = expected;
  got.action = run.action;
  // A counter that did not move by exactly one means the program credited
  // something else; the replay below (snapshot_counters) says what.
  if (packets_of(maps, maps.class_stats_fd(), VW_NAME(VW_MAP_CLASS_STATS), expected.verdict_class) !=
      class_before + 1)
    got.verdict_class = UINT32_MAX;
  if (expected.rule_id && packets_of(maps, maps.rule_stats_fd(), VW_NAME(VW_MAP_RULE_STATS),
                                     expected.rule_id) != rule_before + 1)
    got.rule_id = UINT32_MAX;
  if (expected.service_id && packets_of(maps, maps.service_stats_fd(), VW_NAME(VW_MAP_SVC_STATS),
                                        expected.service_id) != svc_before + 1)
    got.service_id = UINT32_MAX;
  if (run.output != frame.bytes) got.action = UINT32_MAX - 1;  // the program must not rewrite
  return got;
}

// The exact outcome of one frame from full counter snapshots (slow, for reports).
Outcome exact_outcome(const Datapath& dp, const TestFrame& frame) {
  auto before = must(testing::snapshot_counters(dp.maps()));
  testing::XdpRun run = must(testing::run_xdp(dp.prog_fd(), frame.bytes, frame.ifindex));
  auto after = must(testing::snapshot_counters(dp.maps()));
  Outcome got{run.action, UINT32_MAX, 0, 0};
  for (uint32_t i = 0; i < after.classes.size(); i++)
    if (after.classes[i].packets != before.classes[i].packets) got.verdict_class = i;
  for (uint32_t i = 0; i < after.rules.size(); i++)
    if (after.rules[i].packets != before.rules[i].packets) got.rule_id = i;
  for (uint32_t i = 0; i < after.services.size(); i++)
    if (after.services[i].packets != before.services[i].packets) got.service_id = i;
  return got;
}

// Removes array elements of the document while the mismatch persists, so
// the printed case is small.
nlohmann::json minimise(const Datapath& dp, nlohmann::json doc, const TestFrame& frame,
                        const HostModel& host) {
  auto still_fails = [&](const nlohmann::json& candidate) {
    std::string error;
    auto applied = apply_document(dp.maps(), candidate.dump(), host, error);
    return applied && !(exact_outcome(dp, frame) == expected_outcome(*applied, frame));
  };
  bool shrunk = true;
  for (int round = 0; shrunk && round < 8; round++) {
    shrunk = false;
    std::vector<nlohmann::json::json_pointer> arrays;
    std::function<void(const nlohmann::json&, const nlohmann::json::json_pointer&)> walk =
        [&](const nlohmann::json& node, const nlohmann::json::json_pointer& at) {
          if (node.is_array()) arrays.push_back(at);
          if (node.is_structured())
            for (auto it = node.begin(); it != node.end(); ++it)
              walk(*it, node.is_array() ? at / std::to_string(it - node.begin()) : at / it.key());
        };
    walk(doc, nlohmann::json::json_pointer());
    for (const auto& at : arrays) {
      // An earlier removal may have moved or removed this array.
      if (!doc.contains(at) || !doc.at(at).is_array()) continue;
      for (size_t i = doc.at(at).size(); i-- > 0;) {
        nlohmann::json candidate = doc;
        candidate[at].erase(i);
        if (still_fails(candidate)) doc = std::move(candidate), shrunk = true;
      }
    }
  }
  return doc;
}

void report_mismatch(const Datapath& dp, const Options& options, uint64_t policy_index,
                     const nlohmann::json& doc, const TestFrame& frame, const Outcome& expected,
                     const HostModel& host) {
  Outcome got = exact_outcome(dp, frame);
  std::cerr << "MISMATCH seed " << options.seed << " policy #" << policy_index << "\n"
            << "  frame (ifindex " << frame.ifindex << "): " << hex(frame.bytes) << "\n"
            << "  expected (reference): " << describe(expected) << "\n"
            << "  got (XDP program):    " << describe(got) << "\n";
  nlohmann::json small = minimise(dp, doc, frame, host);
  std::string error;
  auto applied = apply_document(dp.maps(), small.dump(), host, error);
  std::string path = "/tmp/vaultwall-diff-" + std::to_string(options.seed) + "-" +
                     std::to_string(policy_index) + ".json";
  std::ofstream(path) << small.dump(2) << "\n";
  std::cerr << "  minimal policy (" << path << "):\n" << small.dump() << "\n";
  if (applied)
    std::cerr << "  with it: expected " << describe(expected_outcome(*applied, frame)) << ", got "
              << describe(exact_outcome(dp, frame)) << "\n";
  std::cerr << "  replay: vaultwall_difftest --replay-policy " << path << " --replay-frame "
            << hex(frame.bytes) << " --ifindex " << frame.ifindex << " --forwarding "
            << host.forwarding << "\n";
}

HostInterfaces host_interfaces(std::vector<uint32_t>& ifindexes) {
  HostInterfaces out{{"lo"}};
  ifindexes = {if_nametoindex("lo")};
  if (struct if_nameindex* all = if_nameindex()) {
    for (struct if_nameindex* i = all; i->if_index != 0; i++) {
      std::string name = i->if_name;
      if (name != "lo" && out.names.size() < 3) {
        out.names.push_back(name);
        ifindexes.push_back(i->if_index);
      }
    }
    if_freenameindex(all);
  }
  return out;
}

// Decided frames that exercise DESIGN §1.1's scope rules beyond a listed
// address and a protected port, for the coverage line.
struct ScopeCoverage {
  uint64_t tunnels = 0;                // an undeclared tunnel to a protected destination
  uint64_t unlisted_destinations = 0;  // broadcast, multicast, a wildcard socket's (weak host)
  uint64_t endpoint_from_outside = 0;  // a private endpoint's traffic not from its network
  uint64_t priority_tags = 0;          // a VID 0 tag inside a VLAN tag
  uint64_t ipv6_decided = 0;           // IPv6 frames decided by their source
  uint64_t ipv6_trusted = 0;           // ... admitted by an IPv6 trusted prefix
  uint64_t ipv4_mapped = 0;            // ... with an IPv4-mapped source
  uint64_t ipv6_ip_rule = 0;           // ... admitted by an IPv6 IP rule
  uint64_t ipv6_vnet_rule = 0;         // ... admitted by a subnet's IPv6 prefix
  uint64_t ipv6_private_endpoint = 0;  // ... to an IPv6 private endpoint, from its network
  uint64_t ipv6_perimeter_rule = 0;    // ... admitted by a perimeter's IPv6 prefix
  uint64_t ipv6_perimeter_would_deny = 0;  // ... only the vault admits (Transition)
  uint64_t ipv6_perimeter_deny = 0;        // ... denied by an enforced perimeter

  void note(const Policy& policy, const PacketDescription& d, const Outcome& o,
            const std::vector<uint8_t>& frame) {
    if (o.verdict_class == VW_CLASS_NOT_IP || o.verdict_class == VW_CLASS_UNPROTECTED ||
        o.verdict_class == VW_CLASS_MALFORMED)
      return;
    const auto& listed = policy.host.addresses;
    bool is_endpoint = false;
    for (const PrivateEndpoint& e : policy.host.private_endpoints)
      is_endpoint |= e.address == d.destination;
    bool on_port = false;
    for (const PortSpec& port : policy.host.ports)
      on_port |= port.proto == d.proto && port.port == d.destination_port;
    if (!on_port && find_tunnel(d.proto, d.destination_port)) tunnels++;
    if (d.family == PacketFamily::kIpv4 && !listed.empty() && !is_endpoint &&
        std::find(listed.begin(), listed.end(), d.destination) == listed.end())
      unlisted_destinations++;
    if (is_endpoint && o.verdict_class != VW_CLASS_PRIVATE_ENDPOINT) endpoint_from_outside++;
    if (d.family == PacketFamily::kIpv6) {
      ipv6_decided++;
      const bool mapped = vaultwall::ipv4_mapped(d.source6).has_value();
      ipv4_mapped += mapped ? 1 : 0;
      ipv6_trusted += !mapped && o.verdict_class == VW_CLASS_TRUSTED ? 1 : 0;
      ipv6_ip_rule += !mapped && o.verdict_class == VW_CLASS_IP_RULE ? 1 : 0;
      ipv6_vnet_rule += !mapped && o.verdict_class == VW_CLASS_VNET_RULE ? 1 : 0;
      ipv6_private_endpoint += !mapped && o.verdict_class == VW_CLASS_PRIVATE_ENDPOINT ? 1 : 0;
      ipv6_perimeter_rule += !mapped && o.verdict_class == VW_CLASS_PERIMETER_RULE ? 1 : 0;
      ipv6_perimeter_would_deny +=
          !mapped && o.verdict_class == VW_CLASS_PERIMETER_WOULD_DENY ? 1 : 0;
      ipv6_perimeter_deny += !mapped && o.verdict_class == VW_CLASS_PERIMETER_DENY ? 1 : 0;
    }
    // Two tags, the inner with VID 0 (tags start at byte 12 with 0x8100/0x88a8).
    if (frame.size() >= 22 && (frame[12] == 0x81 || frame[12] == 0x88) &&
        (frame[16] == 0x81 || frame[16] == 0x88) && (frame[18] & 0x0f) == 0 && frame[19] == 0)
      priority_tags++;
  }
};

struct Totals {
  std::map<uint32_t, uint64_t> per_class;  // coverage: expected verdicts per class
  ScopeCoverage scope;
  uint64_t credited_rule = 0, credited_service = 0;
  uint64_t verdicts = 0;
  uint64_t mismatches = 0;
  uint64_t policies = 0;
  uint64_t counter_checks = 0;
};

// Compares every counter with what the reference credited over the batch.
bool counters_match(const testing::CounterSnapshot& before, const testing::CounterSnapshot& after,
                    const std::vector<Outcome>& expected, std::string& why) {
  std::map<uint32_t, uint64_t> classes, rules, services;
  for (const Outcome& o : expected) {
    classes[o.verdict_class]++;
    if (o.rule_id) rules[o.rule_id]++;
    if (o.service_id) services[o.service_id]++;
  }
  auto compare = [&](const char* name, const std::vector<vw_counters>& b,
                     const std::vector<vw_counters>& a, std::map<uint32_t, uint64_t>& want) {
    for (uint32_t i = 0; i < a.size(); i++) {
      uint64_t moved = a[i].packets - b[i].packets;
      if (moved != want[i]) {
        why += std::string(name) + "[" + std::to_string(i) + "] moved by " + std::to_string(moved) +
               ", expected " + std::to_string(want[i]) + "\n";
      }
    }
  };
  compare(VW_NAME(VW_MAP_CLASS_STATS), before.classes, after.classes, classes);
  compare(VW_NAME(VW_MAP_RULE_STATS), before.rules, after.rules, rules);
  compare(VW_NAME(VW_MAP_SVC_STATS), before.services, after.services, services);
  return why.empty();
}

int replay(const Options& options) {
  TestHost host;
  host.set_forwarding(options.replay_forwarding);
  Datapath dp;
  std::ifstream in(options.replay_policy);
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  auto applied = apply_document(dp.maps(), text.str(), host.model(), error);
  if (!applied) {
    std::cerr << "the policy does not apply:\n" << error;
    return 1;
  }
  TestFrame frame{unhex(options.replay_frame), options.replay_ifindex};
  Outcome expected = expected_outcome(*applied, frame);
  Outcome got = exact_outcome(dp, frame);
  std::cout << "expected (reference): " << describe(expected) << "\n"
            << "got (XDP program):    " << describe(got) << "\n";
  return expected == got ? 0 : 1;
}

int run(const Options& options) {
  TestHost host;
  Datapath dp;
  std::vector<uint32_t> ifindexes;
  HostInterfaces interfaces = host_interfaces(ifindexes);
  std::mt19937_64 rng(options.seed);
  Totals totals;
  const auto start = Clock::now();
  std::cout << "differential: seed " << options.seed << ", " << options.policies << " policies x "
            << options.packets << " frames, interfaces";
  for (const auto& n : interfaces.names) std::cout << " " << n;
  std::cout << std::endl;
  for (uint64_t p = 0; p < options.policies; p++) {
    if (options.max_seconds > 0 &&
        std::chrono::duration<double>(Clock::now() - start).count() > options.max_seconds)
      break;
    nlohmann::json doc = generate_policy(rng, interfaces);
    host.set_forwarding(std::bernoulli_distribution(0.3)(rng));
    std::string error;
    auto applied = apply_document(dp.maps(), doc.dump(), host.model(), error);
    if (!applied) {
      std::cerr << "generated policy #" << p << " (seed " << options.seed
                << ") was refused; generator or validator bug:\n"
                << error << doc.dump() << "\n";
      return 1;
    }
    totals.policies++;
    FramePools pools = pools_for(applied->policy, ifindexes);
    auto before = must(testing::snapshot_counters(dp.maps()));
    std::vector<Outcome> expected_all;
    expected_all.reserve(options.packets);
    bool reported = false;
    for (uint64_t i = 0; i < options.packets; i++) {
      TestFrame frame = generate_frame(rng, pools);
      PacketDescription described;
      Outcome expected = expected_outcome(*applied, frame, &described);
      Outcome got = observed_outcome(dp, frame, expected);
      expected_all.push_back(expected);
      totals.verdicts++;
      totals.per_class[expected.verdict_class]++;
      totals.scope.note(applied->policy, described, expected, frame.bytes);
      totals.credited_rule += expected.rule_id != 0;
      totals.credited_service += expected.service_id != 0;
      if (got == expected) continue;
      totals.mismatches++;
      if (!reported) {  // one full report per policy; the rest are counted
        reported = true;
        auto after = must(testing::snapshot_counters(dp.maps()));
        report_mismatch(dp, options, p, doc, frame, expected, host.model());
        // The report re-applied policies: restart this policy's accounting.
        applied = apply_document(dp.maps(), doc.dump(), host.model(), error);
        before = must(testing::snapshot_counters(dp.maps()));
        expected_all.clear();
        (void)after;
      }
    }
    auto after = must(testing::snapshot_counters(dp.maps()));
    std::string why;
    totals.counter_checks++;
    if (!counters_match(before, after, expected_all, why)) {
      totals.mismatches++;
      std::cerr << "COUNTER MISMATCH seed " << options.seed << " policy #" << p << ":\n"
                << why << "policy: " << doc.dump() << "\n";
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "differential: seed " << options.seed << ": " << totals.verdicts
            << " verdicts compared over " << totals.policies << " policies, " << totals.mismatches
            << " mismatches, " << totals.counter_checks << " whole-counter checks, " << seconds
            << " s (" << static_cast<uint64_t>(totals.verdicts / std::max(seconds, 1e-9))
            << " verdicts/s)" << std::endl;
  std::cout << "differential: coverage by expected class:";
  for (const auto& [verdict_class, n] : totals.per_class)
    std::cout << " " << verdict_class_name(verdict_class) << "=" << n;
  std::cout << "; rule credited " << totals.credited_rule << ", service credited "
            << totals.credited_service << std::endl;
  std::cout << "differential: decided frames that were tunnels " << totals.scope.tunnels
            << ", to unlisted destinations " << totals.scope.unlisted_destinations
            << ", to private endpoints from outside their network "
            << totals.scope.endpoint_from_outside << ", with an inner priority tag "
            << totals.scope.priority_tags << std::endl;
  std::cout << "differential: decided IPv6 frames " << totals.scope.ipv6_decided
            << ", admitted by an IPv6 trusted prefix " << totals.scope.ipv6_trusted
            << ", with an IPv4-mapped source " << totals.scope.ipv4_mapped
            << ", admitted by an IPv6 IP rule " << totals.scope.ipv6_ip_rule
            << ", by a subnet's IPv6 prefix " << totals.scope.ipv6_vnet_rule
            << ", to an IPv6 private endpoint " << totals.scope.ipv6_private_endpoint
            << ", admitted by a perimeter's IPv6 prefix " << totals.scope.ipv6_perimeter_rule
            << ", perimeter would-deny " << totals.scope.ipv6_perimeter_would_deny
            << ", perimeter deny " << totals.scope.ipv6_perimeter_deny << std::endl;
  return totals.mismatches == 0 ? 0 : 1;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--seed")
      o.seed = std::stoull(value);
    else if (flag == "--policies")
      o.policies = std::stoull(value);
    else if (flag == "--packets")
      o.packets = std::stoull(value);
    else if (flag == "--max-seconds")
      o.max_seconds = std::stod(value);
    else if (flag == "--replay-policy")
      o.replay_policy = value;
    else if (flag == "--replay-frame")
      o.replay_frame = value;
    else if (flag == "--ifindex")
      o.replay_ifindex = static_cast<uint32_t>(std::stoul(value));
    else if (flag == "--forwarding")
      o.replay_forwarding = value == "1";
    else
      throw std::invalid_argument("unknown option " + flag);
  }
  if (const char* seed = std::getenv("VAULTWALL_DIFF_SEED")) o.seed = std::stoull(seed);
  return o;
}

}  // namespace
}  // namespace vaultwall::difftest

int main(int argc, char** argv) {
  using namespace vaultwall::difftest;
  if (geteuid() != 0) {
    std::cout << "SKIPPED: the differential test needs root (it loads the XDP program, pins maps "
                 "under /sys/fs/bpf and uses BPF_PROG_TEST_RUN); run ctest as root"
              << std::endl;
    return 77;
  }
  try {
    Options options = parse_options(argc, argv);
    return options.replay_policy.empty() ? run(options) : replay(options);
  } catch (const std::exception& e) {
    std::cerr << "differential test error: " << e.what() << std::endl;
    return 1;
  }
}
