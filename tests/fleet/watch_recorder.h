// Test helpers for watches: a handler that records what it is told and lets
// the test wait for it, and a watch run on its own thread.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "vaultwall/fleet/etcd_client.h"

namespace vaultwall::fleet::testing {

#define ASSERT_OK(result) ASSERT_TRUE(result) << (result).error().message()

class Recorder {
 public:
  WatchControl operator()(const WatchMessage& message) {
    std::lock_guard lock(mutex_);
    messages_.push_back(message);
    if (auto* events = std::get_if<WatchEvents>(&message)) {
      for (const WatchEvent& event : events->events) events_.push_back(event);
    }
    changed_.notify_all();
    return WatchControl::kContinue;
  }

  // Until predicate(messages, events) holds, or timeout.
  template <class Predicate>
  bool wait(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return predicate(messages_, events_); });
  }

  template <class T>
  size_t count() {
    std::lock_guard lock(mutex_);
    return std::count_if(messages_.begin(), messages_.end(),
                         [](const WatchMessage& m) { return std::holds_alternative<T>(m); });
  }
  std::vector<WatchMessage> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::vector<WatchEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<int64_t> event_revisions() {
    std::vector<int64_t> revisions;
    for (const WatchEvent& event : events()) revisions.push_back(event.kv.mod_revision);
    return revisions;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<WatchMessage> messages_;
  std::vector<WatchEvent> events_;
};

// Predicates for Recorder::wait.
template <class T>
inline auto has = [](const std::vector<WatchMessage>& messages, const std::vector<WatchEvent>&) {
  return std::any_of(messages.begin(), messages.end(),
                     [](const WatchMessage& m) { return std::holds_alternative<T>(m); });
};

template <class T>
auto at_least(size_t n) {
  return [n](const std::vector<WatchMessage>& messages, const std::vector<WatchEvent>&) {
    return size_t(std::count_if(messages.begin(), messages.end(), [](const WatchMessage& m) {
             return std::holds_alternative<T>(m);
           })) >= n;
  };
}

inline auto events_at_least(size_t n) {
  return [n](const std::vector<WatchMessage>&, const std::vector<WatchEvent>& events) {
    return events.size() >= n;
  };
}

// A watch on its own thread, stopped (stop_token) and joined at scope end.
class BackgroundWatch {
 public:
  BackgroundWatch(EtcdClient& client, WatchRequest request, Recorder& recorder)
      : thread_([&client, request, &recorder, this](std::stop_token stop) {
          result_ = client.watch(request, std::ref(recorder), stop);
          done_ = true;
        }) {}
  ~BackgroundWatch() {
    thread_.request_stop();
    thread_.join();
  }
  bool done() const { return done_; }
  const Result<void>& result() const { return result_; }

 private:
  Result<void> result_;
  std::atomic<bool> done_{false};
  std::jthread thread_;
};

}  // namespace vaultwall::fleet::testing
