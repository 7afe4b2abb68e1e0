// vaultwall_bench_datapath: ns per packet through BPF_PROG_TEST_RUN for the
// production program on eight kinds of packet at several rule sets, reported
// as ratios to an empty XDP program, to a minimal parse + LPM program and to
// xdp-filter's own allowlist program (Debian xdp-tools), all measured in the
// same run; plus the cost of resolving a source (index, then trie) with a
// cold cache.
//
// Method (docs: ../shared/research/performance-anchors.md §6, §7.1, §7.5):
// every (packet, rule count) cell runs the floor, the lower-bound program and
// vaultwall back to back, once per round, for several rounds; the order is
// reversed every other round so drift within a cell favours no program. A
// cell's figure is the median of its per-round ratios, with min and max.
// The same packet every iteration keeps the trie hot: this measures the
// instruction path and trie depth, not cache misses.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/core.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "xdp_action.h"
#include "bench_cold.skel.h"
#include "bench_empty.skel.h"
#include "bench_lpm.skel.h"
#include "packet_builder.h"
#include "rule_sets.h"
#include "vaultwall/kernel/source_index.h"
#include "run_context.h"
#include "test_run.h"
#include "vaultwall/abi/keys.h"
#include "vaultwall/kernel/maps.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/kernel/slots.h"
#include "vaultwall_abi.h"

namespace vaultwall::bench {
namespace {

namespace fs = std::filesystem;
using testing::action_name;
using Json = nlohmann::ordered_json;

// Documentation addresses (RFC 5737): no random or real rule can cover them
// by accident, and the allowed one is covered by exactly one rule.
constexpr char kAllowedSource[] = "203.0.113.7";
constexpr char kDeniedSource[] = "198.51.100.20";
constexpr char kDestination[] = "192.0.2.10";
// Virtual-network segments of the benchmark policy (see packet_kinds).
constexpr uint16_t kVnetVlan = 100;
constexpr uint16_t kTrieVnetVlan = 101;
constexpr char kVnetSubnet[] = "10.1.0.0";  // /24, in vnets 1 and 2
constexpr char kVnetSource[] = "10.1.0.7";
// RFC 2544's benchmarking range: public-looking, never random padding, and
// one /15 rule covers it: the "allowed by a short prefix" packet.
constexpr char kShortRule[] = "198.18.0.0/15";
constexpr char kShortSource[] = "198.19.4.9";
constexpr char kXdpFilterObject[] = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_ip.o";
// xdp-filter's map value flags (xdp-filter/common_kern_user.h).
constexpr uint64_t kXdpFilterFlagSrc = 1u << 0;
constexpr uint16_t kProtectedPort = 443;
constexpr uint16_t kOtherPort = 80;
constexpr size_t kFrameBytes = 64;  // the classic "64-byte packet" of forwarding benchmarks
constexpr uint64_t kRuleSetSeed = 20250101;

struct Options {
  int rounds = 7;
  int repeat = 1'000'000;
  std::vector<std::string> sets{"realistic:1", "realistic:254", "tags:254", "realistic:10000",
                                "dense:10000", "realistic:100000"};
  bool xdp_filter = true;
  bool cold = true;
  bool sized_index = true;  // each set's maps get the index chunks its policy needs
  std::string out;
  std::string pin_dir;
  std::string commit = "unknown";
  std::string service_tags = VW_SERVICE_TAGS_DEFAULT;
  int cpu = -1;
};

// ---- Packets ----------------------------------------------------------------

enum class Needs { kNothing, kShortRule, kTrusted, kIpv6Trusted };

struct PacketKind {
  std::string name;
  std::string description;
  std::vector<uint8_t> frame;
  uint32_t action;             // what vaultwall must return
  uint32_t vaultwall_class;    // VW_CLASS_* the packet must be counted in
  uint32_t lower_bound_action; // what the minimal program returns (it sees less)
  bool xdp_filter;             // xdp-filter can express this packet's verdict
  Needs needs = Needs::kNothing;
  bool ipv6 = false;           // measured against the IPv6 lower bound (bench_lpm6)
};

// IPv6 (documentation space, RFC 3849): an allowed /128 rule, a denied
// source no rule or service-tag prefix covers.
constexpr char kAllowedSource6[] = "2001:db8:1::7";
constexpr char kDeniedSource6[] = "2001:db8:ffff::20";
constexpr char kDestination6[] = "2001:db8::10";

std::vector<uint8_t> tcp6_frame(const std::string& source) {
  testing::PacketBuilder b;
  b.ethernet()
      .ipv6(testing::ipv6(source), testing::ipv6(kDestination6), testing::kProtoTcp)
      .tcp(40000, kProtectedPort);
  b.payload(kFrameBytes + 20 - b.size());
  return b.bytes();
}

std::string format_ipv6(const Ipv6Address& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, address.data(), text, sizeof(text));
  return text;
}

std::vector<uint8_t> tcp_frame(const char* source, uint16_t dport) {
  testing::PacketBuilder builder;
  builder.ethernet()
      .ipv4(testing::ipv4(source), testing::ipv4(kDestination), testing::kProtoTcp)
      .tcp(40000, dport);
  builder.payload(kFrameBytes - builder.size());
  return builder.bytes();
}

std::vector<PacketKind> packet_kinds(const std::string& trusted_source,
                                     const std::string& trusted_source6) {
  std::vector<PacketKind> kinds = {
      {"allowed_32", std::string("TCP ") + kAllowedSource + " -> :443, matches its /32 rule",
       tcp_frame(kAllowedSource, kProtectedPort), XDP_PASS, VW_CLASS_IP_RULE, XDP_PASS, true},
      {"allowed_short", std::string("TCP ") + kShortSource + " -> :443, matches the " +
                            kShortRule + " rule",
       tcp_frame(kShortSource, kProtectedPort), XDP_PASS, VW_CLASS_IP_RULE, XDP_PASS, false,
       Needs::kShortRule},
      {"trusted", "TCP " + trusted_source + " -> :443, in a trusted service-tag prefix, no rule",
       tcp_frame(trusted_source.c_str(), kProtectedPort), XDP_PASS, VW_CLASS_TRUSTED, XDP_PASS,
       false, Needs::kTrusted},
      {"denied", std::string("TCP ") + kDeniedSource + " -> :443, no rule, default deny",
       tcp_frame(kDeniedSource, kProtectedPort), XDP_DROP, VW_CLASS_DEFAULT_DENY, XDP_DROP, true},
      {"non_protected", std::string("TCP ") + kDeniedSource + " -> :80, not a protected port",
       tcp_frame(kDeniedSource, kOtherPort), XDP_PASS, VW_CLASS_UNPROTECTED, XDP_PASS, false},
  };
  {
    testing::PacketBuilder b;
    b.ethernet().arp_request(testing::ipv4(kDeniedSource), testing::ipv4(kDestination));
    b.payload(kFrameBytes - b.size());
    kinds.push_back({"arp", "ARP request who-has the vault", b.bytes(), XDP_PASS,
                     VW_CLASS_NOT_IP, XDP_PASS, false});
  }
  {
    testing::PacketBuilder b;
    b.ethernet()
        .ipv6(testing::ipv6("2001:db8::7"), testing::ipv6("2001:db8::10"), testing::kProtoTcp)
        .tcp(40000, kProtectedPort);
    b.payload(kFrameBytes + 20 - b.size());
    kinds.push_back({"ipv6", "TCP over IPv6 -> :443 (no IPv6 rule or service holds it: default deny)",
                     b.bytes(), XDP_DROP, VW_CLASS_IPV6_DENY, XDP_PASS, false});
  }
  kinds.push_back({"ipv6_allowed",
                   std::string("TCP ") + kAllowedSource6 + " -> :443, matches its /128 IPv6 rule",
                   tcp6_frame(kAllowedSource6), XDP_PASS, VW_CLASS_IP_RULE, XDP_PASS, false,
                   Needs::kIpv6Trusted, true});
  kinds.push_back({"ipv6_trusted",
                   "TCP " + trusted_source6 + " -> :443, in a trusted IPv6 service-tag prefix",
                   tcp6_frame(trusted_source6), XDP_PASS, VW_CLASS_TRUSTED, XDP_PASS, false,
                   Needs::kIpv6Trusted, true});
  kinds.push_back({"ipv6_denied",
                   std::string("TCP ") + kDeniedSource6 + " -> :443, no rule or service, default deny",
                   tcp6_frame(kDeniedSource6), XDP_DROP, VW_CLASS_IPV6_DENY, XDP_DROP, false,
                   Needs::kIpv6Trusted, true});
  // Virtual-network traffic: VLAN 100 is a segment of vnet 1 (its own
  // index), VLAN 101 of vnet 2, the same subnet, with its index root set to
  // the trie after the apply (what a spent chunk budget gives): the earlier
  // path, measured in the same run.
  auto vlan_frame = [](uint16_t vlan, const char* source) {
    testing::PacketBuilder b;
    b.ethernet()
        .vlan(vlan)
        .ipv4(testing::ipv4(source), testing::ipv4(kDestination), testing::kProtoTcp)
        .tcp(40000, kProtectedPort);
    b.payload(kFrameBytes + 4 - b.size());
    return b.bytes();
  };
  for (auto [vlan, suffix] : {std::pair{kVnetVlan, ""}, {kTrieVnetVlan, "_trie"}}) {
    const std::string how = vlan == kVnetVlan ? "its vnet's index" : "the rule trie";
    kinds.push_back({std::string("vlan_allowed") + suffix,
                     "802.1Q VLAN " + std::to_string(vlan) + ", TCP " + kVnetSource +
                         " -> :443, in the segment's VNET rule (" + how + ")",
                     vlan_frame(vlan, kVnetSource), XDP_PASS, VW_CLASS_VNET_RULE, XDP_PASS, false});
    kinds.push_back({std::string("vlan_denied") + suffix,
                     "802.1Q VLAN " + std::to_string(vlan) + ", TCP " + kDeniedSource +
                         " -> :443, no VNET rule, default deny (" + how +
                         "; the lower bound does not parse VLANs)",
                     vlan_frame(vlan, kDeniedSource), XDP_DROP, VW_CLASS_DEFAULT_DENY, XDP_PASS,
                     false});
  }
  return kinds;
}

// Targets (reported, not asserted): a median ratio of
// vaultwall to another program of the same cell. set "" means every set.
struct Target {
  const char* packet;
  const char* set;
  const char* versus;  // "empty", "lower_bound" or "xdp_filter"
  double max_ratio;
};
constexpr Target kTargets[] = {
    {"non_protected", "", "empty", 1.15},
    {"allowed_32", "tags:254", "empty", 2.0},
    {"allowed_32", "tags:254", "lower_bound", 1.3},
    {"trusted", "tags:254", "empty", 2.0},
    {"trusted", "tags:254", "lower_bound", 1.3},
    {"denied", "tags:254", "empty", 2.0},
    {"denied", "tags:254", "lower_bound", 1.3},
    {"ipv6_allowed", "tags:254", "empty", 2.0},
    {"ipv6_allowed", "tags:254", "lower_bound", 1.3},
    {"ipv6_trusted", "tags:254", "empty", 2.0},
    {"ipv6_trusted", "tags:254", "lower_bound", 1.3},
    {"ipv6_denied", "tags:254", "empty", 2.0},
    {"ipv6_denied", "tags:254", "lower_bound", 1.3},
    {"allowed_32", "", "xdp_filter", 1.0},
    {"denied", "", "xdp_filter", 1.0},
};

// ---- Rule sets ---------------------------------------------------------------

// "realistic:N": the allowed /32, the short rule, then the service-tag
// prefixes as IP rules, padded with random /32 and /24. "dense:N": the two
// fixed rules, then random /32 only. "tags:N": N IP rules (fixed + random)
// and, as trusted prefixes, every IPv4 prefix of the service-tags file with
// bypass AzureServices: the "254 + 4k trusted" deployment.
struct RuleSetSpec {
  std::string name;  // as given: "tags:254"
  std::string kind;  // realistic | dense | tags
  size_t rules = 0;
};

struct RuleSet {
  RuleSetSpec spec;
  std::vector<Ipv4Prefix> rules;
  std::vector<Ipv4Prefix> trusted;
  // "tags" sets: as many IPv6 rules (the allowed /128, then /48 and /64
  // under 2001:db8::/32) and every IPv6 prefix of the service-tags file.
  std::vector<Ipv6Prefix> rules6;
  std::vector<Ipv6Prefix> trusted6;
};

std::vector<Ipv6Prefix> ipv6_rules(size_t count) {
  std::vector<Ipv6Prefix> out = {*parse_ipv6_prefix(std::string(kAllowedSource6) + "/128")};
  const Ipv6Address denied = testing::ipv6(kDeniedSource6);
  std::mt19937_64 rng(kRuleSetSeed);
  while (out.size() < count) {
    Ipv6Prefix p = *parse_ipv6_prefix("2001:db8::/32");
    p.length = out.size() % 2 ? 48 : 64;
    for (size_t i = 4; i < p.length / 8u; i++) p.addr[i] = static_cast<uint8_t>(rng());
    if (!covers(p, denied) && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

Result<RuleSetSpec> parse_set_spec(const std::string& text) {
  auto colon = text.find(':');
  RuleSetSpec spec{text, text.substr(0, colon == std::string::npos ? 0 : colon), 0};
  if (colon == std::string::npos || (spec.kind != "realistic" && spec.kind != "dense" &&
                                     spec.kind != "tags"))
    return fail(EINVAL, "rule set '" + text + "': write KIND:N with KIND realistic, dense or tags");
  try {
    spec.rules = std::stoul(text.substr(colon + 1));
  } catch (const std::exception&) {
    return fail(EINVAL, "rule set '" + text + "': N is not a number");
  }
  if (spec.rules < 1 || spec.rules > VW_MAX_RULE_PREFIXES)
    return fail(EINVAL, "rule set '" + text + "': N must be 1.." +
                            std::to_string(VW_MAX_RULE_PREFIXES));
  return spec;
}

bool any_covers(const std::vector<Ipv4Prefix>& prefixes, const Ipv4Address& address) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const Ipv4Prefix& p) { return covers(p, address); });
}

Result<RuleSet> build_set(const RuleSetSpec& spec, const std::vector<Ipv4Prefix>& tags,
                          const std::vector<Ipv6Prefix>& tags6) {
  auto allowed_rule = parse_ipv4_prefix(std::string(kAllowedSource) + "/32");
  auto short_rule = parse_ipv4_prefix(kShortRule);
  auto denied = parse_ipv4_prefix(kDeniedSource);
  RuleSetRecipe recipe{*allowed_rule, denied->addr, {*short_rule}, kRuleSetSeed};
  recipe.dense = spec.kind == "dense";
  if (spec.kind == "realistic") recipe.realistic.insert(recipe.realistic.end(), tags.begin(), tags.end());
  auto rules = VW_TRY(build_rule_set(spec.rules, recipe));
  RuleSet set{spec, std::move(rules), {}, {}, {}};
  if (spec.kind == "tags") {
    for (const Ipv4Prefix& p : tags)
      if (!covers(p, denied->addr)) set.trusted.push_back(p);
    set.rules6 = ipv6_rules(spec.rules);
    set.trusted6 = tags6;
  }
  return set;
}

// An address inside a trusted prefix that no IP rule of `set` covers (the
// packet must be admitted by the trusted lookup, after the rule lookup missed).
std::string trusted_source_for(const std::vector<RuleSet>& sets, const std::vector<Ipv4Prefix>& tags) {
  for (const Ipv4Prefix& p : tags) {
    Ipv4Address a = p.addr;
    if (p.length < 32) a[3] |= 1;
    bool covered = false;
    for (const RuleSet& set : sets)  // only sets with trusted prefixes run this packet
      covered = covered || (!set.trusted.empty() && any_covers(set.rules, a));
    if (!covered)
      return fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
  }
  return "192.0.2.99";  // no tags at all: the trusted cells are skipped anyway
}

// An address in the first IPv6 service-tag prefix (no IPv6 rule is under
// Azure's ranges).
std::string trusted_source6_for(const std::vector<Ipv6Prefix>& tags6) {
  if (tags6.empty()) return "2001:db8:eeee::1";  // the IPv6 trusted cells then fail loudly
  Ipv6Address a = tags6.front().addr;
  a[15] |= 1;
  return format_ipv6(a);
}

// ---- Programs under test ---------------------------------------------------

struct EmptyDestroy {
  void operator()(bench_empty* skel) const { bench_empty__destroy(skel); }
};
struct LpmDestroy {
  void operator()(bench_lpm* skel) const { bench_lpm__destroy(skel); }
};
struct ColdDestroy {
  void operator()(bench_cold* skel) const { bench_cold__destroy(skel); }
};
struct ObjectClose {
  void operator()(bpf_object* obj) const { bpf_object__close(obj); }
};
using EmptySkeleton = std::unique_ptr<bench_empty, EmptyDestroy>;
using LpmSkeleton = std::unique_ptr<bench_lpm, LpmDestroy>;
using ColdSkeleton = std::unique_ptr<bench_cold, ColdDestroy>;
using BpfObject = std::unique_ptr<bpf_object, ObjectClose>;

Result<EmptySkeleton> load_empty() {
  EmptySkeleton skel(bench_empty__open_and_load());
  if (!skel) return fail_errno("load the empty XDP program");
  return skel;
}

// All programs of one rule set, each holding that set.
struct RuleSetUnderTest {
  const RuleSet* set = nullptr;
  Program vaultwall;
  PinnedMaps maps;
  LpmSkeleton lower_bound;
  BpfObject xdp_filter;  // null when not loaded
  int xdp_filter_fd = -1;
  ColdSkeleton cold;  // null when the cold-cache variant is off
};

// The policy the benchmark measures: IP rules (plus trusted prefixes with
// bypass AzureServices for a "tags" set), default deny, TCP 443 protected on
// every destination, no segments. Allowed and denied packets take one rule
// lookup (and one trusted lookup when trusted prefixes exist).
SlotImage bench_policy(const RuleSet& set) {
  SlotImage image;
  image.settings.default_action = VW_ACTION_DENY;
  image.settings.bypass = set.trusted.empty() ? VW_BYPASS_NONE : VW_BYPASS_AZURE_SERVICES;
  image.settings.public_access = VW_PUBLIC_ACCESS_ENABLED;
  image.settings.mode = VW_MODE_ENFORCE;
  image.settings.flags = VW_SETTINGS_ALL_DESTINATIONS | VW_SETTINGS_LOCAL_DESTINATIONS;
  image.settings.tunnels = VW_TUNNELS_ALL;  // as compiled: no tunnel declared
  image.settings.port_count = 1;
  image.settings.ports[0] = vw_port{kProtectedPort, IPPROTO_TCP, 0};
  image.settings.generation = 1;
  image.info.generation = 1;
  image.info.rule_prefixes = static_cast<__u32>(set.rules.size());
  image.info.trusted_prefixes = static_cast<__u32>(set.trusted.size());
  std::snprintf(image.info.profile, sizeof(image.info.profile), "bench");
  image.rules = to_rule_entries(set.rules);
  for (size_t i = 0; i < set.rules6.size(); i++) {
    uint8_t addr[16];
    std::copy(set.rules6[i].addr.begin(), set.rules6[i].addr.end(), addr);
    image.rules6.emplace_back(make_rule6_key(VW_VNET_PUBLIC, addr, set.rules6[i].length),
                              vw_rule_value{static_cast<__u32>(1 + i % (VW_MAX_RULES - 1))});
  }
  for (const Ipv6Prefix& p : set.trusted6) {
    uint8_t addr[16];
    std::copy(p.addr.begin(), p.addr.end(), addr);
    image.trusted6.emplace_back(make_public6_key(addr, p.length), vw_trusted_value{1});
  }
  image.info.rule_prefixes += static_cast<__u32>(set.rules6.size());
  image.info.trusted_prefixes += static_cast<__u32>(set.trusted6.size());
  for (uint32_t vnet : {1u, 2u}) {
    vw_rule_key key{.prefixlen = VW_RULE_KEY_VNET_BITS + 24, .vnet_id = vnet, .addr = {}};
    const auto subnet = testing::ipv4(kVnetSubnet);
    std::copy(subnet.begin(), subnet.end(), key.addr);
    image.rules.emplace_back(key, vw_rule_value{2 + vnet});
    const uint16_t vlan = vnet == 1 ? kVnetVlan : kTrieVnetVlan;
    image.segments.push_back({vw_segment_key{0, vlan, 0}, vw_segment_value{vnet, 0}});
  }
  for (size_t i = 0; i < set.trusted.size(); i++) {
    vw_trusted_key key{};
    key.prefixlen = set.trusted[i].length;
    std::copy(set.trusted[i].addr.begin(), set.trusted[i].addr.end(), key.addr);
    image.trusted.emplace_back(key, vw_trusted_value{1});
  }
  return image;
}

// The lower bound holds rules and trusted prefixes in one trie: the least
// any design can do is one lookup per packet.
Result<LpmSkeleton> load_lower_bound(const RuleSet& set) {
  LpmSkeleton skel(bench_lpm__open_and_load());
  if (!skel) return fail_errno("load the lower-bound XDP program");
  std::vector<Ipv4Prefix> all = set.rules;
  all.insert(all.end(), set.trusted.begin(), set.trusted.end());
  std::sort(all.begin(), all.end(), [](const Ipv4Prefix& a, const Ipv4Prefix& b) {
    return std::tie(a.addr, a.length) < std::tie(b.addr, b.length);
  });
  all.erase(std::unique(all.begin(), all.end()), all.end());
  TypedMap<vw_rule_key, vw_rule_value> rules(bpf_map__fd(skel->maps.lb_rules), "lb_rules");
  VW_TRY(rules.put_all(to_rule_entries(all)));
  // IPv6: rules and trusted prefixes in one trie, as for IPv4.
  std::vector<std::pair<vw_rule6_key, vw_rule_value>> all6;
  auto add6 = [&](const Ipv6Prefix& p) {
    uint8_t addr[16];
    std::copy(p.addr.begin(), p.addr.end(), addr);
    all6.emplace_back(make_rule6_key(VW_VNET_PUBLIC, addr, p.length), vw_rule_value{1});
  };
  for (const Ipv6Prefix& p : set.rules6) add6(p);
  for (const Ipv6Prefix& p : set.trusted6) add6(p);
  if (!all6.empty()) {
    TypedMap<vw_rule6_key, vw_rule_value> rules6(bpf_map__fd(skel->maps.lb_rules6), "lb_rules6");
    VW_TRY(rules6.put_all(all6));
  }
  return skel;
}

// xdp-filter's allowlist program as Debian ships it ("xdp-filter load
// --policy deny", IPv4 feature set), its filter_ipv4 hash filled the way
// `xdp-filter ip ADDR --mode src` does: key = address in network order,
// value = MAP_FLAG_SRC on every CPU. It matches exact addresses only, so
// each rule contributes its network address (equal entry counts).
Result<BpfObject> load_xdp_filter(const RuleSet& set, int& prog_fd) {
  BpfObject obj(bpf_object__open_file(kXdpFilterObject, nullptr));
  if (!obj) return fail_errno(std::string("open ") + kXdpFilterObject + " (apt install xdp-tools)");
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, obj.get()) {
    bpf_map__set_pin_path(map, nullptr);  // its maps pin by name; ours must not
  }
  bpf_map* ipv4 = bpf_object__find_map_by_name(obj.get(), "filter_ipv4");
  if (!ipv4) return fail(ENOENT, std::string(kXdpFilterObject) + " has no filter_ipv4 map");
  bpf_map__set_max_entries(ipv4, static_cast<__u32>(std::max<size_t>(10'000, set.rules.size())));
  if (bpf_object__load(obj.get()) != 0) return fail_errno(std::string("load ") + kXdpFilterObject);
  bpf_program* prog = bpf_object__next_program(obj.get(), nullptr);
  if (!prog) return fail(ENOENT, std::string(kXdpFilterObject) + " has no program");
  prog_fd = bpf_program__fd(prog);

  const int cpus = possible_cpus();
  constexpr size_t kChunk = 8192;
  std::vector<uint32_t> keys;
  std::vector<uint64_t> values;
  for (size_t start = 0; start < set.rules.size(); start += kChunk) {
    keys.clear();
    values.clear();
    for (size_t i = start; i < std::min(set.rules.size(), start + kChunk); i++) {
      uint32_t key;
      std::memcpy(&key, set.rules[i].addr.data(), 4);
      keys.push_back(key);
      values.insert(values.end(), cpus, kXdpFilterFlagSrc);
    }
    __u32 count = static_cast<__u32>(keys.size());
    if (bpf_map_update_batch(bpf_map__fd(ipv4), keys.data(), values.data(), &count, nullptr) != 0)
      return fail_errno("fill xdp-filter's filter_ipv4");
  }
  return obj;
}

// Probe pools for the cold-cache lookups: addresses inside the set's rules
// (hits) and uniformly random public addresses (mostly misses).
constexpr uint32_t kColdLoops = 256;

uint32_t cold_pool_size(size_t rules) {
  uint32_t size = 1u << 16;
  while (size < rules && size < (1u << 20)) size <<= 1;
  return size;
}

Result<ColdSkeleton> load_cold(const RuleSet& set, const PinnedMaps& maps) {
  ColdSkeleton skel(bench_cold__open());
  if (!skel) return fail_errno("open the cold-lookup program");
  const uint32_t slot = VW_TRY(active_slot(maps));
  if (bpf_map__reuse_fd(skel->maps.cold_rules, maps.rules(slot).fd()) != 0 ||
      bpf_map__reuse_fd(skel->maps.cold_index, maps.fd(maps.index(slot))) != 0 ||
      bpf_map__reuse_fd(skel->maps.cold_chunks, maps.fd(maps.chunks(slot))) != 0)
    return fail_errno("share vaultwall's source index and rule trie with the cold-lookup program");
  if (bench_cold__load(skel.get()) != 0) return fail_errno("load the cold-lookup program");

  const uint32_t size = cold_pool_size(set.rules.size());
  std::vector<uint32_t> keys(size), hits(size), randoms(size);
  uint64_t state = kRuleSetSeed ^ set.rules.size();
  for (uint32_t i = 0; i < size; i++) {
    keys[i] = i;
    Ipv4Prefix rule = set.rules[state % set.rules.size()];
    Ipv4Address host = random_public_address(state);
    for (int b = 0; b < 4; b++) {
      uint8_t mask = rule.length >= 8 * (b + 1) ? 0xff
                     : rule.length <= 8 * b     ? 0
                                                : static_cast<uint8_t>(0xff << (8 * (b + 1) - rule.length));
      host[b] = static_cast<uint8_t>((rule.addr[b] & mask) | (host[b] & ~mask));
    }
    std::memcpy(&hits[i], host.data(), 4);
    Ipv4Address random = random_public_address(state);
    std::memcpy(&randoms[i], random.data(), 4);
  }
  for (auto [map, values] : {std::pair{skel->maps.cold_hits, &hits}, {skel->maps.cold_randoms, &randoms}}) {
    __u32 count = size;
    if (bpf_map_update_batch(bpf_map__fd(map), keys.data(), values->data(), &count, nullptr) != 0)
      return fail_errno("fill the cold-lookup probe pool");
  }
  skel->bss->loops = kColdLoops;
  skel->bss->probe_mask = size - 1;
  return skel;
}

// The index chunks the set's policy needs to be indexed whole (at least the
// default): what an operator passes to vaultwall-loader load --index-chunks.
uint32_t index_chunks_for(const RuleSet& set) {
  const size_t needed = build_source_index(bench_policy(set), VW_INDEX_CHUNKS_MAX).chunks.size();
  return static_cast<uint32_t>(std::max<size_t>(VW_INDEX_CHUNKS, needed));
}

Result<RuleSetUnderTest> load_rule_set(const std::string& pin_dir, const RuleSet& set,
                                       const Options& options) {
  auto program = VW_TRY(Program::load(
      pin_dir, false, options.sized_index ? std::optional(index_chunks_for(set)) : std::nullopt));
  auto maps = VW_TRY(PinnedMaps::open(pin_dir));
  const uint32_t slot = VW_TRY(write_idle_slot_and_flip(maps, bench_policy(set)));
  // VLAN 101's network decided by the trie, as before its index existed.
  VW_TRY(maps.vlans(slot).put(kTrieVnetVlan, vw_segment_value{2, VW_INDEX_TRIE}));
  auto lower_bound = VW_TRY(load_lower_bound(set));
  RuleSetUnderTest out{&set, std::move(program), std::move(maps), std::move(lower_bound), {}, -1,
                       {}};
  if (options.xdp_filter) {
    auto obj = VW_TRY(load_xdp_filter(set, out.xdp_filter_fd));
    out.xdp_filter = std::move(obj);
  }
  if (options.cold) {
    auto cold = VW_TRY(load_cold(set, out.maps));
    out.cold = std::move(cold);
  }
  return out;
}

// ---- Cells and rounds ------------------------------------------------------

enum Contender { kFloor, kLowerBound, kVaultwall, kXdpFilter, kContenders };
constexpr std::array<const char*, kContenders> kContenderNames{"empty", "lower_bound", "vaultwall",
                                                               "xdp_filter"};

// One (packet kind, rule set): each program's ns, one entry per round. A
// contender that cannot express the packet has fd -1 and is not run.
struct Cell {
  const PacketKind* packet;
  const RuleSetUnderTest* set;
  std::array<int, kContenders> prog_fds;
  std::array<std::vector<uint32_t>, kContenders> ns;
};

// Cold-cache lookups of one rule set: ns per test-run iteration of each
// program, per round; an iteration is kColdLoops probes.
enum ColdProgram { kHotBase, kHot, kHitBase, kHit, kRandBase, kRand, kColdPrograms };
constexpr std::array<const char*, kColdPrograms> kColdNames{"hot_base", "hot", "hit_base",
                                                            "hit", "random_base", "random"};
struct ColdCell {
  const RuleSetUnderTest* set;
  std::array<std::vector<uint32_t>, kColdPrograms> ns;
};

struct RoundInfo {
  double seconds = 0;
  double steal_percent = 0;
};

volatile sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }

// No SA_RESTART: a signal makes the running BPF_PROG_TEST_RUN return EINTR,
// and the error path removes the pins.
void stop_on_signals() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
}


uint32_t expected_action(const Cell& cell, Contender who) {
  switch (who) {
    case kFloor:
      return XDP_PASS;
    case kLowerBound:
      return cell.packet->lower_bound_action;
    default:
      return cell.packet->action;
  }
}

// A timing of the wrong path is worse than none: every run's verdict is
// checked against what the packet must get.
Result<uint32_t> timed_run(const Cell& cell, Contender who, int repeat) {
  auto run = VW_TRY(test_run_xdp(cell.prog_fds[who], cell.packet->frame, repeat));
  uint32_t expected = expected_action(cell, who);
  if (run.action != expected)
    return fail(EPROTO, std::string(kContenderNames[who]) + " returned " + action_name(run.action) +
                            " for the " + cell.packet->name + " packet with rule set " +
                            cell.set->set->spec.name + ", expected " + action_name(expected));
  return run.ns_per_packet;
}

// Before timing: one run of each vaultwall cell must move exactly its class
// counter, so "allowed" really is a rule hit and "denied" a default deny.
Result<void> check_vaultwall_paths(const std::vector<Cell>& cells) {
  for (const Cell& cell : cells) {
    const PinnedMaps& maps = cell.set->maps;
    uint32_t cls = cell.packet->vaultwall_class;
    auto before = VW_TRY(read_counters(maps.class_stats_fd(), VW_NAME(VW_MAP_CLASS_STATS), cls));
    VW_TRY(timed_run(cell, kVaultwall, 1));
    auto after = VW_TRY(read_counters(maps.class_stats_fd(), VW_NAME(VW_MAP_CLASS_STATS), cls));
    if (after.packets != before.packets + 1)
      return fail(EPROTO, "the " + cell.packet->name + " packet with rule set " +
                              cell.set->set->spec.name + " was not counted in class " +
                              std::to_string(cls) +
                              ": it does not take the path it is meant to measure");
  }
  return {};
}

int cold_prog_fd(const bench_cold* skel, ColdProgram which) {
  switch (which) {
    case kHotBase:
    case kHitBase:
      return bpf_program__fd(skel->progs.cold_hit_base);
    case kHot:
    case kHit:
      return bpf_program__fd(skel->progs.cold_hit);
    case kRandBase:
      return bpf_program__fd(skel->progs.cold_rand_base);
    default:
      return bpf_program__fd(skel->progs.cold_rand);
  }
}

// Each iteration is kColdLoops lookups; 2000 iterations are ~0.5M lookups.
constexpr int kColdRepeat = 2000;

Result<void> run_cold_cell(ColdCell& cell, bool reversed) {
  bench_cold* skel = cell.set->cold.get();
  static const std::array<uint8_t, kFrameBytes> kFrame = [] {
    std::array<uint8_t, kFrameBytes> f{};
    f[12] = 0x08;  // any Ethernet frame: the program never reads it
    return f;
  }();
  const uint32_t pool_mask = cold_pool_size(cell.set->set->rules.size()) - 1;
  for (int i = 0; i < kColdPrograms; i++) {
    auto which = static_cast<ColdProgram>(reversed ? kColdPrograms - 1 - i : i);
    // Hot: one probe (index 0) every time, so the trie path stays cached.
    skel->bss->probe_mask = which == kHot || which == kHotBase ? 0 : pool_mask;
    auto run = VW_TRY(test_run_xdp(cold_prog_fd(skel, which), kFrame, kColdRepeat));
    cell.ns[which].push_back(run.ns_per_packet);
  }
  return {};
}

Result<RoundInfo> run_round(std::vector<Cell>& cells, std::vector<ColdCell>& cold_cells,
                            int round, int repeat) {
  auto before = VW_TRY(read_cpu_times());
  auto start = std::chrono::steady_clock::now();
  const bool reversed = round % 2 == 1;
  for (Cell& cell : cells) {
    for (int i = 0; i < kContenders; i++) {
      auto who = static_cast<Contender>(reversed ? kContenders - 1 - i : i);
      if (cell.prog_fds[who] < 0) continue;
      auto ns = VW_TRY(timed_run(cell, who, repeat));
      cell.ns[who].push_back(ns);
    }
    if (g_interrupted) return fail(EINTR, "benchmark interrupted");
  }
  for (ColdCell& cell : cold_cells) {
    VW_TRY(run_cold_cell(cell, reversed));
    if (g_interrupted) return fail(EINTR, "benchmark interrupted");
  }
  auto after = VW_TRY(read_cpu_times());
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return RoundInfo{elapsed.count(), steal_percent(before, after)};
}

// ---- Results ---------------------------------------------------------------

std::vector<double> ratios(const std::vector<uint32_t>& num, const std::vector<uint32_t>& den) {
  std::vector<double> out;
  for (size_t i = 0; i < num.size(); i++)
    out.push_back(den[i] == 0 ? 0.0 : static_cast<double>(num[i]) / den[i]);
  return out;
}

// Per round: what vaultwall adds to the empty program, in ns.
std::vector<double> differences(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<double> out;
  for (size_t i = 0; i < a.size(); i++) out.push_back(static_cast<double>(a[i]) - b[i]);
  return out;
}

Json spread_json(const std::vector<double>& per_round) {
  Spread s = spread_of(per_round);
  return Json{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"per_round", per_round}};
}

Json cell_json(const Cell& cell) {
  Json programs;
  for (int who = 0; who < kContenders; who++) {
    if (cell.prog_fds[who] < 0) continue;
    std::vector<double> ns(cell.ns[who].begin(), cell.ns[who].end());
    Json p{{"ns_median", spread_of(ns).median}, {"ns_per_round", cell.ns[who]}};
    if (who != kFloor) p["ratio_to_floor"] = spread_json(ratios(cell.ns[who], cell.ns[kFloor]));
    if (who == kVaultwall) {
      p["added_ns"] = spread_json(differences(cell.ns[who], cell.ns[kFloor]));
      p["ratio_to_lower_bound"] = spread_json(ratios(cell.ns[who], cell.ns[kLowerBound]));
      if (cell.prog_fds[kXdpFilter] >= 0)
        p["ratio_to_xdp_filter"] = spread_json(ratios(cell.ns[who], cell.ns[kXdpFilter]));
    }
    programs[kContenderNames[who]] = p;
  }
  const RuleSet& set = *cell.set->set;
  Json out{{"packet", cell.packet->name},
           {"set", set.spec.name},
           {"kind", set.spec.kind},
           {"rules", set.rules.size()},
           {"trusted", set.trusted.size()},
           {"expected_action", action_name(cell.packet->action)},
           {"programs", programs}};
  Json targets = Json::array();
  for (const Target& t : kTargets) {
    if (cell.packet->name != t.packet || (*t.set && set.spec.name != t.set)) continue;
    std::string key = std::string("ratio_to_") + (std::string(t.versus) == "empty" ? "floor" : t.versus);
    if (!programs["vaultwall"].contains(key)) continue;
    double median = programs["vaultwall"][key]["median"];
    targets.push_back({{"metric", "vaultwall " + key + " median"},
                       {"max", t.max_ratio},
                       {"value", median},
                       {"met", median <= t.max_ratio}});
  }
  if (!targets.empty()) out["targets"] = targets;
  return out;
}

Json cold_json(const ColdCell& cell, const std::vector<Cell>& cells) {
  // ns per lookup in each round: (lookup - its baseline) / loops.
  auto per_lookup = [&](ColdProgram with, ColdProgram base) {
    std::vector<double> out;
    for (size_t r = 0; r < cell.ns[with].size(); r++)
      out.push_back((static_cast<double>(cell.ns[with][r]) - cell.ns[base][r]) / kColdLoops);
    return out;
  };
  auto hot = per_lookup(kHot, kHotBase);
  auto hit = per_lookup(kHit, kHitBase);
  auto random = per_lookup(kRand, kRandBase);
  const RuleSet& set = *cell.set->set;
  Json out{{"set", set.spec.name},
           {"kind", set.spec.kind},
           {"rules", set.rules.size()},
           {"probe_pool", cold_pool_size(set.rules.size())},
           {"ns_per_lookup",
            {{"hot", spread_json(hot)}, {"cold_hit", spread_json(hit)},
             {"cold_random", spread_json(random)}}}};
  Json raw;
  for (int i = 0; i < kColdPrograms; i++) raw[kColdNames[i]] = cell.ns[i];
  out["ns_per_iteration"] = raw;
  // T_cold(packet) = T_hot(packet) - T_hot(lookup) + T_cold(lookup)
  Json model;
  for (const Cell& c : cells) {
    if (c.set != cell.set) continue;
    std::vector<double> ns(c.ns[kVaultwall].begin(), c.ns[kVaultwall].end());
    double hot_packet = spread_of(ns).median;
    if (c.packet->name == "allowed_32")
      model["allowed_32"] = hot_packet - spread_of(hot).median + spread_of(hit).median;
    if (c.packet->name == "denied")
      model["denied"] = hot_packet - spread_of(hot).median + spread_of(random).median;
  }
  out["vaultwall_cold_model_ns"] = model;
  return out;
}

Json method_json(const Options& options, const std::vector<PacketKind>& packets,
                 const std::vector<RuleSet>& sets) {
  Json packets_json = Json::array();
  for (const PacketKind& p : packets)
    packets_json.push_back({{"name", p.name},
                            {"description", p.description},
                            {"frame_bytes", p.frame.size()},
                            {"expected_action", action_name(p.action)},
                            {"xdp_filter_comparable", p.xdp_filter}});
  Json sets_json = Json::array();
  for (const RuleSet& set : sets) {
    size_t slash32 = 0;
    for (const Ipv4Prefix& p : set.rules) slash32 += p.length == 32;
    sets_json.push_back({{"set", set.spec.name},
                         {"rules", set.rules.size()},
                         {"index_chunks", options.sized_index ? index_chunks_for(set) : VW_INDEX_CHUNKS},
                         {"slash32", slash32},
                         {"trusted", set.trusted.size()}});
  }
  return Json{
      {"timer", "BPF_PROG_TEST_RUN kernel-reported duration: ns per iteration, integer"},
      {"repeat", options.repeat},
      {"rounds", options.rounds},
      {"order", "per cell: empty, lower_bound, vaultwall, xdp_filter; reversed every other round"},
      {"figure", "median of per-round ratios between programs measured in the same cell and round"},
      {"cache", "hot: the same packet every iteration; see cold_lookups for random sources"},
      {"cpu_pinned", options.cpu},
      {"policy",
       "IP rules (vnet 0), default deny, TCP 443 protected on all destinations, no segments, "
       "enforce mode; tags:N sets add every IPv4 service-tag prefix as trusted (bypass "
       "AzureServices)"},
      {"rule_sets",
       "realistic: " + std::string(kAllowedSource) + "/32, " + kShortRule +
           ", then IPv4 prefixes of " + fs::path(options.service_tags).filename().string() +
           " in file order, then random public /32 and /24 (seed " + std::to_string(kRuleSetSeed) +
           "); dense: the two fixed rules then random /32; tags: the two fixed rules then random "
           "/32 and /24, plus the service tags as trusted prefixes"},
      {"rule_set_sizes", sets_json},
      {"packets", packets_json},
      {"lower_bound",
       "tests/bench/lpm_lower_bound.bpf.c: Eth/IPv4/TCP parse, port check, one LPM lookup "
       "(rules and trusted prefixes in one trie), one per-CPU counter"},
      {"xdp_filter",
       std::string(kXdpFilterObject) +
           " (xdp-filter load --policy deny, IPv4 features): percpu hash of exact source "
           "addresses, one entry per rule (its network address); run on the packets it can "
           "express (allowed_32, denied)"},
      {"cold_lookups",
       "tests/bench/cold_lookup.bpf.c: bpf_loop of " + std::to_string(kColdLoops) +
           " random probes per iteration looked up in vaultwall's own rule trie, minus the same "
           "loop without the lookup; hot = one probe repeated, cold_hit = addresses inside "
           "random rules, cold_random = uniformly random public addresses"},
  };
}

std::string fmt_ratio(const Json& spread) {
  return fmt::format("{:.2f} ({:.2f}-{:.2f})", spread["median"].get<double>(),
                     spread["min"].get<double>(), spread["max"].get<double>());
}

std::string opt_ratio(const Json& program, const char* key) {
  return program.contains(key) ? fmt_ratio(program[key]) : "-";
}

std::string opt_added(const Json& program) {
  if (!program.contains("added_ns")) return "-";
  const Json& s = program["added_ns"];
  return fmt::format("{:+.0f} ({:+.0f}-{:+.0f})", s["median"].get<double>(), s["min"].get<double>(),
                     s["max"].get<double>());
}

std::string opt_ns(const Json& programs, const char* who) {
  return programs.contains(who) ? fmt::format("{:.0f}", programs[who]["ns_median"].get<double>())
                                : "-";
}

std::string targets_text(const Json& cell) {
  if (!cell.contains("targets")) return "";
  std::string out;
  for (const Json& t : cell["targets"])
    out += fmt::format("{}{} <= {:.2f}: {}", out.empty() ? "" : "; ",
                       t["metric"].get<std::string>().substr(10, std::string::npos),
                       t["max"].get<double>(), t["met"].get<bool>() ? "met" : "MISSED");
  return out;
}

// A Markdown table built from the JSON document alone, so it can be
// regenerated from any result file.
std::string markdown_summary(const Json& doc) {
  const Json& ctx = doc["context"];
  std::string md = "# Datapath benchmark (BPF_PROG_TEST_RUN)\n\n";
  md += fmt::format(
      "Commit `{}`, {}, kernel {}, {} CPUs, {} rounds x repeat {}, steal {:.2f}% "
      "(max round {:.2f}%).\n\n",
      ctx["commit"].get<std::string>(), ctx["cpu_model"].get<std::string>(),
      ctx["kernel_release"].get<std::string>(), ctx["cpus_online"].get<long>(),
      doc["method"]["rounds"].get<int>(), doc["method"]["repeat"].get<int>(),
      doc["steal_percent"]["total"].get<double>(), doc["steal_percent"]["max_round"].get<double>());
  md +=
      "Ratios are medians of per-round ratios measured in the same round (min-max in "
      "brackets); ns are medians of the kernel's per-iteration average; added ns is vaultwall "
      "minus the empty program, per round. Hot cache.\n\n";
  md +=
      "| packet | set | empty ns | lower bound ns | xdp-filter ns | vaultwall ns | vaultwall "
      "added ns | vaultwall x floor | vaultwall x lower bound | vaultwall x xdp-filter | targets |\n";
  md += "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const Json& cell : doc["results"]) {
    const Json& p = cell["programs"];
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                      cell["packet"].get<std::string>(), cell["set"].get<std::string>(),
                      opt_ns(p, "empty"), opt_ns(p, "lower_bound"), opt_ns(p, "xdp_filter"),
                      opt_ns(p, "vaultwall"), opt_added(p["vaultwall"]),
                      opt_ratio(p["vaultwall"], "ratio_to_floor"),
                      opt_ratio(p["vaultwall"], "ratio_to_lower_bound"),
                      opt_ratio(p["vaultwall"], "ratio_to_xdp_filter"), targets_text(cell));
  }
  if (doc.contains("cold_lookups") && !doc["cold_lookups"].empty()) {
    md += "\n## Source lookup (index, then trie), hot vs cold cache (ns per lookup)\n\n";
    md += "| set | probe pool | hot | cold hit | cold random | vaultwall allowed, cold (model) | vaultwall denied, cold (model) |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|\n";
    for (const Json& c : doc["cold_lookups"]) {
      const Json& l = c["ns_per_lookup"];
      const Json& m = c["vaultwall_cold_model_ns"];
      md += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} | {} | {} |\n",
                        c["set"].get<std::string>(), c["probe_pool"].get<uint32_t>(),
                        l["hot"]["median"].get<double>(), l["cold_hit"]["median"].get<double>(),
                        l["cold_random"]["median"].get<double>(),
                        m.contains("allowed_32") ? fmt::format("{:.0f}", m["allowed_32"].get<double>()) : "-",
                        m.contains("denied") ? fmt::format("{:.0f}", m["denied"].get<double>()) : "-");
    }
  }
  return md;
}

void print_table(const Json& doc) {
  fmt::print("{:<14} {:<18} {:>5} {:>5} {:>5} {:>5} {:>18} {:>18} {:>18}  {}\n", "packet", "set",
             "empty", "lb", "xdpf", "vw", "vw x floor", "vw x lb", "vw x xdp-filter", "targets");
  for (const Json& cell : doc["results"]) {
    const Json& p = cell["programs"];
    fmt::print("{:<14} {:<18} {:>5} {:>5} {:>5} {:>5} {:>18} {:>18} {:>18}  {}\n",
               cell["packet"].get<std::string>(), cell["set"].get<std::string>(),
               opt_ns(p, "empty"), opt_ns(p, "lower_bound"), opt_ns(p, "xdp_filter"),
               opt_ns(p, "vaultwall"), opt_ratio(p["vaultwall"], "ratio_to_floor"),
               opt_ratio(p["vaultwall"], "ratio_to_lower_bound"),
               opt_ratio(p["vaultwall"], "ratio_to_xdp_filter"), targets_text(cell));
  }
  for (const Json& c : doc["cold_lookups"]) {
    const Json& l = c["ns_per_lookup"];
    fmt::print("lookup {:<18} hot {:6.1f}  cold hit {:6.1f}  cold random {:6.1f} ns\n",
               c["set"].get<std::string>(), l["hot"]["median"].get<double>(),
               l["cold_hit"]["median"].get<double>(), l["cold_random"]["median"].get<double>());
  }
}

Result<void> write_file(const fs::path& path, const std::string& text) {
  std::error_code ec;
  if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return fail(EIO, "write " + path.string());
  return {};
}

// ---- Setup and main flow ---------------------------------------------------

// Removes the benchmark's own pin directory on every exit path. Only ever
// constructed for a directory this process created.
class PinDirCleanup {
 public:
  explicit PinDirCleanup(fs::path dir) : dir_(std::move(dir)) {}
  PinDirCleanup(const PinDirCleanup&) = delete;
  PinDirCleanup& operator=(const PinDirCleanup&) = delete;
  ~PinDirCleanup() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    if (ec) fmt::print(stderr, "warning: could not remove {}: {}\n", dir_.string(), ec.message());
  }

 private:
  fs::path dir_;
};

Result<void> pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    return fail_errno("pin to CPU " + std::to_string(cpu));
  return {};
}

// Which code was measured: the tag is a hash of the program's instructions,
// so results stay attributable even when the commit is "dirty".
Result<Json> program_identity(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return fail_errno("inspect a program");
  std::string tag;
  for (uint8_t byte : info.tag) tag += fmt::format("{:02x}", byte);
  return Json{{"name", info.name},
              {"tag", tag},
              {"xlated_bytes", info.xlated_prog_len},
              {"jited_bytes", info.jited_prog_len}};
}

Result<Json> programs_json(const std::vector<Cell>& cells) {
  Json out;
  for (const Cell& cell : cells)
    for (int who = 0; who < kContenders; who++) {
      if (cell.prog_fds[who] < 0 || out.contains(kContenderNames[who])) continue;
      auto identity = VW_TRY(program_identity(cell.prog_fds[who]));
      out[kContenderNames[who]] = identity;
    }
  return out;
}

bool applies(const PacketKind& packet, const RuleSet& set) {
  switch (packet.needs) {
    case Needs::kShortRule:
      return set.rules.size() >= 2;
    case Needs::kTrusted:
      return !set.trusted.empty();
    case Needs::kIpv6Trusted:
      return !set.trusted6.empty();
    default:
      return true;
  }
}

std::vector<Cell> make_cells(const std::vector<PacketKind>& packets,
                             const std::vector<RuleSetUnderTest>& sets, int floor_fd) {
  std::vector<Cell> cells;
  for (const RuleSetUnderTest& set : sets)
    for (const PacketKind& packet : packets) {
      if (!applies(packet, *set.set)) continue;
      cells.push_back(Cell{&packet,
                           &set,
                           {floor_fd,
                            bpf_program__fd(packet.ipv6 ? set.lower_bound->progs.bench_lpm6
                                                        : set.lower_bound->progs.bench_lpm),
                            set.vaultwall.prog_fd(), packet.xdp_filter ? set.xdp_filter_fd : -1},
                           {}});
    }
  return cells;
}

Result<Json> run_benchmark(const Options& options) {
  if (bpf_stats_enabled())
    fmt::print(stderr,
               "warning: kernel.bpf_stats_enabled=1 adds tens of ns per run; results "
               "are not comparable (sysctl -w kernel.bpf_stats_enabled=0)\n");
  if (options.cpu >= 0) VW_TRY(pin_to_cpu(options.cpu));

  auto tags = VW_TRY(load_service_tag_prefixes(options.service_tags));
  auto tags6 = VW_TRY(load_service_tag_prefixes6(options.service_tags));
  std::vector<RuleSet> rule_sets;
  for (const std::string& text : options.sets) {
    auto spec = VW_TRY(parse_set_spec(text));
    auto set = VW_TRY(build_set(spec, tags, tags6));
    rule_sets.push_back(std::move(set));
  }
  const std::vector<PacketKind> packets =
      packet_kinds(trusted_source_for(rule_sets, tags), trusted_source6_for(tags6));

  auto empty = VW_TRY(load_empty());
  std::vector<RuleSetUnderTest> sets;
  for (size_t i = 0; i < rule_sets.size(); i++) {
    fmt::print(stderr, "loading rule set {} ({} rules, {} trusted)...\n", rule_sets[i].spec.name,
               rule_sets[i].rules.size(), rule_sets[i].trusted.size());
    auto set =
        VW_TRY(load_rule_set(options.pin_dir + "/set-" + std::to_string(i), rule_sets[i], options));
    sets.push_back(std::move(set));
    if (g_interrupted) return fail(EINTR, "benchmark interrupted");
  }

  std::vector<Cell> cells =
      make_cells(packets, sets, bpf_program__fd(empty.get()->progs.bench_empty));
  VW_TRY(check_vaultwall_paths(cells));
  std::vector<ColdCell> cold_cells;
  if (options.cold)
    for (const RuleSetUnderTest& set : sets)
      if (set.set->spec.kind != "tags") cold_cells.push_back(ColdCell{&set, {}});

  Json doc;
  doc["schema"] = "vaultwall-bench-datapath/2";
  doc["context"] = collect_run_context(options.commit);
  doc["method"] = method_json(options, packets, rule_sets);
  auto programs = VW_TRY(programs_json(cells));
  doc["programs"] = programs;

  auto start_times = VW_TRY(read_cpu_times());
  Json rounds = Json::array();
  double max_steal = 0;
  for (int round = 0; round < options.rounds; round++) {
    auto info = run_round(cells, cold_cells, round, options.repeat);
    if (!info) return std::unexpected(info.error());
    fmt::print(stderr, "round {}/{}: {:.1f} s, steal {:.2f}%\n", round + 1, options.rounds,
               info->seconds, info->steal_percent);
    rounds.push_back({{"seconds", info->seconds}, {"steal_percent", info->steal_percent}});
    max_steal = std::max(max_steal, info->steal_percent);
  }
  auto end_times = read_cpu_times();
  if (!end_times) return std::unexpected(end_times.error());

  doc["context"]["loadavg_at_end"] = load_average();
  doc["steal_percent"] = {{"total", steal_percent(start_times, *end_times)},
                          {"max_round", max_steal}};
  doc["rounds"] = rounds;
  Json results = Json::array();
  for (const Cell& cell : cells) results.push_back(cell_json(cell));
  doc["results"] = results;
  Json cold = Json::array();
  for (const ColdCell& cell : cold_cells) cold.push_back(cold_json(cell, cells));
  doc["cold_lookups"] = cold;
  return doc;
}

Result<Options> parse_options(int argc, char** argv) {
  Options options;
  CLI::App app{
      "vaultwall datapath benchmark: ns per packet through BPF_PROG_TEST_RUN as ratios "
      "to an empty XDP program, a minimal LPM program and xdp-filter (root). Not a test: "
      "it reports, it asserts nothing."};
  app.add_option("--rounds", options.rounds, "interleaved rounds (median of per-round ratios)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--repeat", options.repeat, "iterations per BPF_PROG_TEST_RUN call")
      ->check(CLI::Range(100'000, 100'000'000));
  app.add_option("--sets", options.sets,
                 "rule sets, comma separated: realistic:N, dense:N (all /32) or tags:N (N rules "
                 "+ the service tags as trusted prefixes)")
      ->delimiter(',');
  app.add_flag("!--no-xdp-filter", options.xdp_filter, "skip xdp-filter's program");
  app.add_flag("!--no-cold", options.cold, "skip the cold-cache lookups");
  app.add_flag("!--default-index", options.sized_index,
               "load every set with the default index size (65536 chunks) instead of the chunks "
               "its policy needs (--index-chunks)");
  app.add_option("--out", options.out,
                 "JSON result file; a Markdown summary goes next to it (.md)");
  app.add_option("--pin-dir", options.pin_dir,
                 "bpffs directory for vaultwall's pins; must not exist; removed at exit "
                 "(default /sys/fs/bpf/vaultwall-bench-PID)");
  app.add_option("--commit", options.commit, "git commit being measured, for the context");
  app.add_option("--service-tags", options.service_tags, "ServiceTags JSON with real prefixes")
      ->check(CLI::ExistingFile);
  app.add_option("--cpu", options.cpu, "pin the benchmark to this CPU (default: not pinned)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return fail(code == 0 ? 0 : EINVAL, "");
  }
  if (options.pin_dir.empty())
    options.pin_dir = "/sys/fs/bpf/vaultwall-bench-" + std::to_string(getpid());
  return options;
}

int run(int argc, char** argv) {
  auto options = parse_options(argc, argv);
  if (!options) return options.error().code == 0 ? 0 : 2;

  if (auto r = check_privileges_and_bpffs(options->pin_dir); !r) {
    fmt::print(stderr, "vaultwall_bench_datapath: {}\n", r.error().message());
    return 1;
  }
  std::error_code ec;
  if (fs::exists(options->pin_dir, ec)) {
    fmt::print(stderr,
               "vaultwall_bench_datapath: {} already exists; pick another --pin-dir "
               "(the benchmark removes its pin directory at exit, so it never reuses one)\n",
               options->pin_dir);
    return 1;
  }
  stop_on_signals();
  auto doc = [&] {
    PinDirCleanup cleanup(options->pin_dir);
    return run_benchmark(*options);
  }();
  if (!doc) {
    fmt::print(stderr, "vaultwall_bench_datapath: {}\n", doc.error().message());
    return 1;
  }

  print_table(*doc);
  if (!options->out.empty()) {
    fs::path json_path(options->out);
    fs::path md_path = fs::path(json_path).replace_extension(".md");
    if (auto r = write_file(json_path, doc->dump(1) + "\n"); !r) {
      fmt::print(stderr, "vaultwall_bench_datapath: {}\n", r.error().message());
      return 1;
    }
    if (auto r = write_file(md_path, markdown_summary(*doc)); !r) {
      fmt::print(stderr, "vaultwall_bench_datapath: {}\n", r.error().message());
      return 1;
    }
    fmt::print("\nresults: {}\nsummary: {}\n", json_path.string(), md_path.string());
  }
  return 0;
}

}  // namespace
}  // namespace vaultwall::bench

int main(int argc, char** argv) { return vaultwall::bench::run(argc, argv); }
