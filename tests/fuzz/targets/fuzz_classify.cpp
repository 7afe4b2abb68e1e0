// Fuzzes the packet builder, the frame reading of the differential test and
// the reference classifier. The input chooses a small policy (settings,
// rules, a segment, a trusted prefix) and a frame, either built from
// fields or taken raw. Properties checked: the class is a known one, the
// action follows the class, a rule is credited exactly for rule classes and
// a service exactly for the trusted class.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "frame_model.h"
#include "packet_builder.h"
#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/document.h"

using namespace vaultwall;

namespace {

std::string address(FuzzedDataProvider& in) {
  uint32_t a = in.ConsumeIntegral<uint32_t>();
  return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 255) + "." +
         std::to_string(a >> 8 & 255) + "." + std::to_string(a & 255);
}

std::string document(FuzzedDataProvider& in) {
  std::string rules;
  for (int i = 0, n = in.ConsumeIntegralInRange(0, 4); i < n; i++)
    rules += std::string(i ? "," : "") + "{\"value\": \"" + address(in) + "/" +
             std::to_string(in.ConsumeIntegralInRange(8, 32)) + "\"}";
  return std::string("{\"properties\": {\"publicNetworkAccess\": \"") +
         (in.ConsumeBool() ? "Enabled" : "Disabled") +
         "\", \"networkAcls\": {\"defaultAction\": \"" + (in.ConsumeBool() ? "Allow" : "Deny") +
         "\", \"bypass\": \"" + (in.ConsumeBool() ? "AzureServices" : "None") +
         "\", \"ipRules\": [" + rules +
         "], \"virtualNetworkRules\": [{\"id\": \"/subscriptions/0/resourceGroups/rg/providers/"
         "Microsoft.Network/virtualNetworks/v/subnets/s\"}]}}, \"vaultwall\": {\"mode\": \"" +
         (in.ConsumeBool() ? "enforce" : "audit") + "\", \"dataPlane\": {\"ports\": [\"tcp/" +
         std::to_string(in.ConsumeIntegralInRange(1, 65535)) + "\", \"udp/443\"]" +
         (in.ConsumeBool() ? ", \"addresses\": [\"" + address(in) + "\"]" : "") +
         "}, \"privateEndpoints\": [\"10.20.0.5\"], \"virtualNetworks\": [{\"id\": "
         "\"/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v\", "
         "\"segment\": {\"vlan\": " +
         std::to_string(in.ConsumeIntegralInRange(1, 4094)) +
         "}, \"subnets\": [{\"name\": \"s\", \"addressPrefix\": \"10.1.0.0/16\", "
         "\"serviceEndpoints\": [\"Microsoft.KeyVault\"]}]}], \"trustedServices\": {\"custom\": "
         "[{\"name\": \"T\", \"addressPrefixes\": [\"" +
         address(in) + "/" + std::to_string(in.ConsumeIntegralInRange(0, 32)) + "\"]}]}}}";
}

std::vector<uint8_t> frame(FuzzedDataProvider& in) {
  if (in.ConsumeBool()) {  // raw bytes, as a hostile sender would
    auto raw = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange(14, 200));
    raw.resize(std::max<size_t>(raw.size(), 14));
    return raw;
  }
  testing::PacketBuilder b;
  b.ethernet(0);
  for (int i = 0, n = in.ConsumeIntegralInRange(0, 3); i < n; i++)
    b.vlan(in.ConsumeIntegral<uint16_t>() & 0x0fff,
           in.ConsumeBool() ? testing::kEth8021Q : testing::kEth8021AD);
  testing::Ipv4 src, dst;
  for (auto& x : src) x = in.ConsumeIntegral<uint8_t>();
  for (auto& x : dst) x = in.ConsumeIntegral<uint8_t>();
  uint8_t proto = in.PickValueInArray<uint8_t>({6, 17, 1, 47, 4, 50, 132});
  b.ipv4(src, dst, proto, in.ConsumeIntegralInRange<uint8_t>(0, 15),
         in.ConsumeIntegralInRange<uint16_t>(0, 8191), in.ConsumeBool());
  if (proto == 6) b.tcp(in.ConsumeIntegral<uint16_t>(), in.ConsumeIntegral<uint16_t>());
  if (proto == 17) b.udp(in.ConsumeIntegral<uint16_t>(), in.ConsumeIntegral<uint16_t>());
  size_t cut = in.ConsumeIntegralInRange<size_t>(14, b.size() + 1);
  return cut <= b.size() ? b.truncated(cut) : b.bytes();
}

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  auto loaded = load_policy(document(in));
  if (!loaded.ok()) return 0;  // e.g. a private address drawn for an IP rule
  auto trusted = resolve_trusted_services(*loaded.value, nullptr);
  if (!trusted.ok()) return 0;
  auto compiled = compile_policy(*loaded.value, *trusted.value, {});
  if (!compiled.ok()) return 0;
  ClassifierContext context = context_for(*compiled.value, *trusted.value, {});
  std::vector<uint8_t> bytes = frame(in);
  uint32_t ifindex = in.ConsumeIntegralInRange<uint32_t>(0, 8);
  difftest::HostModel host = difftest::HostModel::standard();
  host.forwarding = in.ConsumeBool();
  PacketDescription packet = difftest::describe_frame(bytes, ifindex, *loaded.value, host);
  Classification c = classify(*loaded.value, context, packet);
  require(c.verdict_class < VW_CLASS_COUNT, "known class");
  require(c.passes == !verdict_class_drops(c.verdict_class), "action follows the class");
  bool rule_class = c.verdict_class == VW_CLASS_IP_RULE || c.verdict_class == VW_CLASS_VNET_RULE;
  require((c.rule_id != VW_RULE_NONE) == rule_class, "a rule is credited exactly for rule classes");
  require((c.service_id != VW_SERVICE_NONE) == (c.verdict_class == VW_CLASS_TRUSTED),
          "a service is credited exactly for the trusted class");
  return 0;
}
