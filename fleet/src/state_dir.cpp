#include "vaultwall/fleet/state_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "vaultwall/policy/sha256.h"

namespace vaultwall::fleet {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kTagFilePrefix = "service-tags-";

}  // namespace

Result<void> write_file_atomically(const fs::path& path, const std::string& content) {
  std::string temp = path.string() + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail_errno("create " + temp, "is the state directory writable?");
  bool written = ::write(fd, content.data(), content.size()) == ssize_t(content.size());
  bool synced = written && ::fsync(fd) == 0;
  int saved = written ? errno : (errno ? errno : EIO);
  ::close(fd);
  if (!synced || ::rename(temp.c_str(), path.c_str()) != 0) {
    Error error{synced ? errno : saved, "write " + path.string(),
                "is the state directory writable?"};
    ::unlink(temp.c_str());
    return std::unexpected(error);
  }
  return {};
}

Result<void> ensure_state_dir(const fs::path& dir) {
  std::error_code error;
  if (fs::is_directory(dir, error)) return {};
  fs::create_directories(dir, error);
  if (error)
    return fail(error.value(), "create the fleet state directory " + dir.string(),
                "give a writable --state-dir");
  fs::permissions(dir, fs::perms::owner_all, error);
  return {};
}

std::string service_tags_document(const std::map<std::string, std::vector<std::string>>& tags) {
  nlohmann::ordered_json values = nlohmann::ordered_json::array();
  for (const auto& [name, prefixes] : tags)
    values.push_back(
        {{"name", name}, {"id", name}, {"properties", {{"addressPrefixes", prefixes}}}});
  return nlohmann::ordered_json{
      {"changeNumber", 0}, {"cloud", "vaultwall fleet policy"}, {"values", values}}.dump(1);
}

Result<std::string> write_service_tags_file(
    const fs::path& dir, const std::map<std::string, std::vector<std::string>>& tags) {
  std::string content = service_tags_document(tags);
  fs::path path = dir / (std::string(kTagFilePrefix) + sha256_hex(content).substr(0, 16) + ".json");
  VW_TRY(ensure_state_dir(dir));
  std::error_code error;
  if (fs::exists(path, error)) return path.string();
  VW_TRY(write_file_atomically(path, content));
  return path.string();
}

void prune_service_tags_files(const fs::path& dir, const std::string& keep) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(kTagFilePrefix) && name.ends_with(".json") && entry.path() != keep)
      fs::remove(entry.path(), error);
  }
}

}  // namespace vaultwall::fleet
