// Fuzzes the rule document pipeline: parse, validate, normalise, compile.
// Besides "no crash, no sanitizer report" it checks two properties: a
// refused document names at least one error, and an accepted one survives
// the round trip through to_azure_json unchanged (what `show` prints
// applies as the same policy).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/service_tags.h"

using namespace vaultwall;

static std::optional<uint32_t> fake_interface(const std::string& name) {
  return name.size() < 6 ? std::optional<uint32_t>(10 + name.size()) : std::nullopt;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto loaded = load_policy(text);
  if (!loaded.ok()) {
    if (loaded.errors().empty()) {
      std::fprintf(stderr, "refused without an error\n");
      std::abort();
    }
    return 0;
  }
  std::string shown = to_azure_json(*loaded.value);
  auto again = load_policy(shown);
  if (!again.ok() || !(*again.value == *loaded.value)) {
    std::fprintf(stderr, "round trip through to_azure_json changed the policy:\n%s\n",
                 shown.c_str());
    std::abort();
  }
  if (loaded.value->host.trusted.service_tags_path.empty()) {
    auto trusted = resolve_trusted_services(*loaded.value, nullptr);
    if (trusted.ok())
      (void)compile_policy(*loaded.value, *trusted.value,
                           CompileOptions{.resolve_interface = fake_interface});
  }
  return 0;
}
