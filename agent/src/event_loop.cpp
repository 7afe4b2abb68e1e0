#include "vaultwall/agent/event_loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <array>

namespace vaultwall {

namespace {

timespec to_timespec(std::chrono::milliseconds ms) {
  return {.tv_sec = static_cast<time_t>(ms.count() / 1000),
          .tv_nsec = static_cast<long>(ms.count() % 1000 * 1'000'000)};
}

bool is_zero(const timespec& t) { return t.tv_sec == 0 && t.tv_nsec == 0; }

bool earlier(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

}  // namespace

Result<EventLoop> EventLoop::create() {
  int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return fail_errno("create the event loop (epoll_create1)");
  return EventLoop(UniqueFd(fd));
}

Result<void> EventLoop::watch(int fd, std::function<void()> on_readable) {
  epoll_event event{.events = EPOLLIN, .data = {.fd = fd}};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0)
    return fail_errno("watch fd " + std::to_string(fd) + " (epoll_ctl)");
  handlers_[fd] = std::move(on_readable);
  return {};
}

Result<void> EventLoop::run() {
  running_ = true;
  std::array<epoll_event, 16> ready{};
  while (running_) {
    int n = ::epoll_wait(epoll_.get(), ready.data(), static_cast<int>(ready.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("wait for events (epoll_wait)");
    }
    for (int i = 0; i < n && running_; i++)
      if (auto handler = handlers_.find(ready[i].data.fd); handler != handlers_.end())
        handler->second();
  }
  return {};
}

Result<Timer> Timer::create() {
  int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return fail_errno("create a timer (timerfd_create)");
  return Timer(UniqueFd(fd));
}

Result<void> Timer::arm_every(std::chrono::milliseconds period) {
  itimerspec spec{.it_interval = to_timespec(period), .it_value = to_timespec(period)};
  if (::timerfd_settime(fd_.get(), 0, &spec, nullptr) != 0) return fail_errno("arm a timer");
  return {};
}

Result<void> Timer::arm_within(std::chrono::milliseconds delay) {
  // A zero it_value disarms a timerfd: the shortest delay is 1 ns.
  timespec wanted = is_zero(to_timespec(delay)) ? timespec{0, 1} : to_timespec(delay);
  itimerspec current{};
  if (::timerfd_gettime(fd_.get(), &current) != 0) return fail_errno("read a timer");
  if (!is_zero(current.it_value) && !earlier(wanted, current.it_value)) return {};
  itimerspec spec{.it_interval = {}, .it_value = wanted};
  if (::timerfd_settime(fd_.get(), 0, &spec, nullptr) != 0) return fail_errno("arm a timer");
  return {};
}

void Timer::acknowledge() {
  uint64_t expirations = 0;
  // EAGAIN (nothing expired yet) is harmless: there is nothing to clear.
  [[maybe_unused]] ssize_t n = ::read(fd_.get(), &expirations, sizeof(expirations));
}

Result<SignalSource> SignalSource::create(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals) sigaddset(&set, signal);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return fail_errno("block signals");
  int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return fail_errno("create a signalfd");
  return SignalSource(UniqueFd(fd));
}

std::optional<int> SignalSource::next() {
  signalfd_siginfo info{};
  if (::read(fd_.get(), &info, sizeof(info)) != static_cast<ssize_t>(sizeof(info)))
    return std::nullopt;
  return static_cast<int>(info.ssi_signo);
}

}  // namespace vaultwall
