// The agent's files in its state directory (default /var/lib/vaultwall/fleet):
//   service-tags-<content hash>.json  the trusted prefixes of a fleet policy,
//                                     as a Service Tags file the applied
//                                     document names (so `vaultwallctl
//                                     verify` and `show | apply` work on it)
//   applied.json                      the rule document last applied from the
//                                     fleet, for vaultwall.service to apply at
//                                     boot before etcd is reachable
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "vaultwall/common/error.h"

namespace vaultwall::fleet {

inline constexpr const char* kStateDirDefault = "/var/lib/vaultwall/fleet";
inline constexpr const char* kAppliedDocumentName = "applied.json";

// Writes content to path through a temporary file, fsync and rename(2):
// readers see the old file or the new one. Mode 0600.
Result<void> write_file_atomically(const std::filesystem::path& path, const std::string& content);

// Creates dir (0700) when missing.
Result<void> ensure_state_dir(const std::filesystem::path& dir);

// Azure's Service Tags JSON holding exactly `tags` (tag -> IPv4 prefixes):
// what write_service_tags_file writes, and what the shared digest resolves.
std::string service_tags_document(const std::map<std::string, std::vector<std::string>>& tags);

// Writes `tags` as a Service Tags file in dir, named after its content (an
// existing file of the same content is reused); returns its path.
Result<std::string> write_service_tags_file(
    const std::filesystem::path& dir, const std::map<std::string, std::vector<std::string>>& tags);
// Removes the service tag files in dir other than `keep`.
void prune_service_tags_files(const std::filesystem::path& dir, const std::string& keep);

}  // namespace vaultwall::fleet
