// The agent's one event loop: epoll over the file descriptors of its
// activities (link events, timers, signals; later others such as a metrics
// listener), each with a small handler. Handlers run one at a time on the
// loop's thread, so activities share state without locks.
#pragma once

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>

#include "vaultwall/common/error.h"
#include "vaultwall/common/fd.h"

namespace vaultwall {

class EventLoop {
 public:
  static Result<EventLoop> create();

  // Calls on_readable whenever fd has data (level-triggered: a handler that
  // leaves data unread is called again). The loop does not own fd.
  Result<void> watch(int fd, std::function<void()> on_readable);

  // Runs handlers until stop() is called (from a handler).
  Result<void> run();
  void stop() { running_ = false; }

 private:
  explicit EventLoop(UniqueFd epoll) : epoll_(std::move(epoll)) {}
  UniqueFd epoll_;
  std::map<int, std::function<void()>> handlers_;
  bool running_ = false;
};

// A timerfd on CLOCK_MONOTONIC.
class Timer {
 public:
  static Result<Timer> create();

  int fd() const { return fd_.get(); }

  // Fires every `period`, the first time after one period.
  Result<void> arm_every(std::chrono::milliseconds period);
  // Fires once, after `delay` at the latest: an earlier pending deadline is
  // kept (so repeated requests never postpone it).
  Result<void> arm_within(std::chrono::milliseconds delay);
  // Reads the expirations (call in the handler, or it fires again at once).
  void acknowledge();

 private:
  explicit Timer(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// A signalfd for the given signals, which are blocked for normal delivery
// (call before starting any thread).
class SignalSource {
 public:
  static Result<SignalSource> create(std::initializer_list<int> signals);

  int fd() const { return fd_.get(); }

  // The next pending signal, or nullopt when none is pending.
  std::optional<int> next();

 private:
  explicit SignalSource(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace vaultwall
