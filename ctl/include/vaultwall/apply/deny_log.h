// What a deny-log line needs besides the event: the vault and virtual
// network names of the policy that decided it, the host, and a correlation
// id that groups one connection's retransmits. Pure (no kernel access), so
// vaultwallctl log and the unit tests share it.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vaultwall/apply/apply.h"
#include "vaultwall_abi.h"

namespace vaultwall {

// Names taken from the stored document of one generation.
struct EventPolicyNames {
  uint64_t generation = 0;  // of the document the names come from (0: none)
  std::string resource_id;  // the vault's ARM id, "" when the document has none
  std::map<uint32_t, std::string> virtual_networks;  // slot-local vnet id -> resource id
};

// The names of the policy in `current` (empty when nothing is applied or
// the stored document did not load).
EventPolicyNames event_policy_names(const KernelPolicy& current);

// The last segment of a resource id ("/subscriptions/../virtualNetworks/vnet-a" -> "vnet-a").
std::string resource_name(const std::string& resource_id);

// Groups the events of one connection (same protocol, addresses and ports;
// a SYN and its retransmits) under one id: a connection is the same while
// its events come less than `idle` apart, and its id is a hash of the host,
// the 5-tuple and the time of its first event, formatted as a GUID like
// Azure's correlationId. At most `capacity` connections are remembered (the
// least recently seen is forgotten first).
class ConnectionCorrelator {
 public:
  explicit ConnectionCorrelator(std::string host, uint64_t idle_ns = 65'000'000'000ull,
                                size_t capacity = 65536)
      : host_(std::move(host)), idle_ns_(idle_ns), capacity_(capacity) {}

  std::string correlation_id(const vw_event& e);
  size_t size() const { return by_key_.size(); }

  // The connections as text (one "key-hex last-seen-ns id" line each, least
  // recent first), so one-shot readers (`vaultwallctl log` run again and
  // again) keep giving a connection's retransmits its first event's id.
  std::string save() const;
  // Adds the connections of save()'s text; malformed lines are skipped.
  void load(std::string_view text);

 private:
  struct Connection {
    std::string key;
    uint64_t last_seen_ns = 0;
    std::string id;
  };
  std::string host_;
  uint64_t idle_ns_;
  size_t capacity_;
  std::list<Connection> recent_;  // most recently seen first
  std::unordered_map<std::string, std::list<Connection>::iterator> by_key_;
};

// This host's name (gethostname), "" when it has none.
std::string host_name();

}  // namespace vaultwall
