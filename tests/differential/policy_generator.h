// Random rule documents for the differential test: every setting of the
// four switches, nested and overlapping IP rules at the edges the profile
// allows, virtual networks on interface and VLAN segments, private
// endpoints and custom trusted prefixes. Every document it makes is meant
// to be valid; one the pipeline refuses is a bug in the generator or the
// validator, and the test says so.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace vaultwall::difftest {

// Interfaces segments may name: "lo" and whatever else exists on the host.
struct HostInterfaces {
  std::vector<std::string> names;
};

nlohmann::json generate_policy(std::mt19937_64& rng, const HostInterfaces& interfaces);

}  // namespace vaultwall::difftest
