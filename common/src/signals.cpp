#include "vaultwall/common/signals.h"

#include <atomic>
#include <csignal>

namespace vaultwall {
namespace {

std::atomic<bool> stop_flag{false};
std::atomic<bool> hangup_flag{false};

void on_stop(int) { stop_flag = true; }
void on_hangup(int) { hangup_flag = true; }

}  // namespace

void stop_on_signals(bool catch_hangup) {
  struct sigaction stop {};
  stop.sa_handler = on_stop;
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  if (!catch_hangup) return;
  struct sigaction hangup {};
  hangup.sa_handler = on_hangup;
  sigaction(SIGHUP, &hangup, nullptr);
}

bool stop_requested() { return stop_flag.load(); }

bool take_hangup() { return hangup_flag.exchange(false); }

}  // namespace vaultwall
