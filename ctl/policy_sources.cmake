# The sources of libvaultwall_policy, listed once: ctl/CMakeLists.txt builds
# the library from them and tests/fuzz/targets builds them instrumented.
set(VAULTWALL_POLICY_SOURCES
  src/ipv4.cpp
  src/ipv6.cpp
  src/policy.cpp
  src/json_strict.cpp
  src/document.cpp
  src/document_shapes.cpp
  src/host_facts.cpp
  src/to_json.cpp
  src/json_changes.cpp
  src/validate.cpp
  src/service_tags.cpp
  src/input_file.cpp
  src/compile.cpp
  src/classify.cpp
  src/host_network.cpp
  src/sha256.cpp)
