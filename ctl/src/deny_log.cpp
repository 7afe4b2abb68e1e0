#include "vaultwall/deny_log.h"

#include <unistd.h>

#include <climits>
#include <cstring>
#include <nlohmann/json.hpp>

#include "vaultwall/compile.h"
#include "vaultwall/sha256.h"

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

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace vaultwall
