// The service manager's notification protocol (sd_notify(3)): one datagram
// of "KEY=value" lines to $NOTIFY_SOCKET. No library needed for it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "vaultwall/common/error.h"

namespace vaultwall {

// Sends `state` (e.g. "READY=1\nSTATUS=...") to $NOTIFY_SOCKET: a path, or
// an abstract socket when it starts with '@'. Not an error when the
// variable is unset (not started by systemd, or NotifyAccess=none).
Result<void> notify_systemd(std::string_view state);

// How often systemd expects WATCHDOG=1: $WATCHDOG_USEC, when set for this
// process ($WATCHDOG_PID unset or ours); nullopt otherwise.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace vaultwall
