#include "vaultwall/apply/deny_log.h"

#include <unistd.h>

#include <climits>
#include <cstring>
#include <nlohmann/json.hpp>

#include "vaultwall/policy/compile.h"
#include "vaultwall/policy/sha256.h"

namespace vaultwall {

EventPolicyNames event_policy_names(const KernelPolicy& current) {
  EventPolicyNames names;
  names.generation = current.info.generation;
  if (!current.policy) return names;
  names.resource_id = current.policy->resource_id;
  for (const auto& [id, vnet_id] : virtual_network_ids(*current.policy))
    names.virtual_networks[vnet_id] = id;
  return names;
}

std::string resource_name(const std::string& resource_id) {
  size_t slash = resource_id.find_last_of('/');
  return slash == std::string::npos ? resource_id : resource_id.substr(slash + 1);
}

namespace {

// The connection's identity: protocol, both addresses, both ports.
std::string connection_key(const vw_event& e) {
  std::string key(reinterpret_cast<const char*>(e.saddr), sizeof(e.saddr));
  key.append(reinterpret_cast<const char*>(e.daddr), sizeof(e.daddr));
  const uint16_t ports[2] = {e.sport, e.dport};
  key.append(reinterpret_cast<const char*>(ports), sizeof(ports));
  key += static_cast<char>(e.proto);
  return key;
}

// 32 hex digits as 8-4-4-4-12.
std::string guid_text(const std::string& hex) {
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace

std::string ConnectionCorrelator::correlation_id(const vw_event& e) {
  std::string key = connection_key(e);
  if (auto found = by_key_.find(key); found != by_key_.end()) {
    Connection& c = *found->second;
    if (e.time_ns >= c.last_seen_ns && e.time_ns - c.last_seen_ns < idle_ns_) {
      c.last_seen_ns = e.time_ns;
      recent_.splice(recent_.begin(), recent_, found->second);
      return c.id;
    }
    recent_.erase(found->second);  // idle too long: a new connection on the same ports
    by_key_.erase(found);
  }
  if (by_key_.size() >= capacity_ && !recent_.empty()) {
    by_key_.erase(recent_.back().key);
    recent_.pop_back();
  }
  std::string seed = host_ + '\0' + key + std::to_string(e.time_ns);
  recent_.push_front({key, e.time_ns, guid_text(sha256_hex(seed))});
  by_key_[key] = recent_.begin();
  return recent_.front().id;
}

std::string ConnectionCorrelator::save() const {
  std::string out;
  // Connections idle longer than `idle` before the newest event are over.
  const uint64_t newest = recent_.empty() ? 0 : recent_.front().last_seen_ns;
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it)
    if (newest - it->last_seen_ns < idle_ns_)
      out += to_hex(reinterpret_cast<const uint8_t*>(it->key.data()), it->key.size()) + " " +
             std::to_string(it->last_seen_ns) + " " + it->id + "\n";
  return out;
}

void ConnectionCorrelator::load(std::string_view text) {
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  constexpr size_t kKeyBytes = 2 * 16 + 2 * 2 + 1;  // addresses, ports, protocol
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t first = line.find(' '), second = line.find(' ', first + 1);
    if (first != 2 * kKeyBytes || second == std::string_view::npos) continue;
    std::string key;
    for (size_t i = 0; i + 1 < first; i += 2) {
      int high = hex_value(line[i]), low = hex_value(line[i + 1]);
      if (high < 0 || low < 0) break;
      key += static_cast<char>(high * 16 + low);
    }
    std::string seen(line.substr(first + 1, second - first - 1));
    std::string id(line.substr(second + 1));
    if (key.size() != kKeyBytes || seen.empty() ||
        seen.find_first_not_of("0123456789") != std::string::npos || seen.size() > 19 ||
        id.size() != 36)
      continue;
    if (auto found = by_key_.find(key); found != by_key_.end()) {
      recent_.erase(found->second);
      by_key_.erase(found);
    }
    if (by_key_.size() >= capacity_ && !recent_.empty()) {
      by_key_.erase(recent_.back().key);
      recent_.pop_back();
    }
    recent_.push_front({key, std::stoull(seen), id});
    by_key_[key] = recent_.begin();
  }
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace vaultwall
