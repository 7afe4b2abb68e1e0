#include "vaultwall/verify.h"

#include <cstring>
#include <set>

#include "vaultwall/apply.h"
#include "vaultwall/sha256.h"
#include "vaultwall/slots.h"

namespace vaultwall {
namespace {

template <class K, class V>
std::vector<std::string> entry_differences(const char* what,
                                           const std::vector<std::pair<K, V>>& expected,
                                           const std::vector<std::pair<K, V>>& actual) {
  auto bytes = [](const auto& pair) {
    return std::string(reinterpret_cast<const char*>(&pair), sizeof(pair));
  };
  std::set<std::string> want, have;
  for (const auto& e : expected) want.insert(bytes(e));
  for (const auto& e : actual) have.insert(bytes(e));
  std::vector<std::string> out;
  size_t missing = 0, extra = 0;
  for (const auto& w : want) missing += have.contains(w) ? 0 : 1;
  for (const auto& h : have) extra += want.contains(h) ? 0 : 1;
  if (missing)
    out.push_back(std::string(what) + ": " + std::to_string(missing) +
                  " entries missing from the kernel");
  if (extra)
    out.push_back(std::string(what) + ": " + std::to_string(extra) +
                  " unexpected entries in the kernel");
  return out;
}

}  // namespace

Result<DriftReport> check_drift(const PinnedMaps& maps) {
  DriftReport report;
  KernelPolicy current = VW_TRY(read_kernel_policy(maps));
  report.applied = current.applied();
  report.generation = current.info.generation;
  report.slot = current.slot;
  if (!report.applied) return report;
  auto compilation = compile_against_kernel(*current.policy, current);
  if (!compilation.ok()) {
    report.compile_errors = compilation.errors();
    return report;
  }
  SlotImage kernel = VW_TRY(read_slot(maps, current.slot));
  const SlotImage& want = compilation.value->compiled.image;
  auto add = [&](std::vector<std::string> more) {
    report.differences.insert(report.differences.end(), more.begin(), more.end());
  };
  add(entry_differences("rule trie", want.rules, kernel.rules));
  add(entry_differences("trusted trie", want.trusted, kernel.trusted));
  add(entry_differences("segments", want.segments, kernel.segments));
  add(entry_differences("endpoints", want.endpoints, kernel.endpoints));
  add(VW_TRY(source_index_differences(maps, current.slot, want)));
  vw_settings want_settings = settings_as_written(want), have_settings = kernel.settings;
  want_settings.generation = have_settings.generation = 0;
  if (std::memcmp(&want_settings, &have_settings, sizeof(vw_settings)) != 0)
    report.differences.push_back("settings differ from the compiled policy");
  if (std::memcmp(want.info.digest, kernel.info.digest, VW_DIGEST_LEN) != 0)
    report.differences.push_back(
        "digest differs: kernel " + to_hex(kernel.info.digest, VW_DIGEST_LEN).substr(0, 12) +
        ", compiled " + compilation.value->compiled.digest_hex.substr(0, 12) +
        " (the service-tags file or interfaces may have changed since the apply)");
  return report;
}

}  // namespace vaultwall
