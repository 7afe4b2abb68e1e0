// The agent's process plumbing, without privileges: the one-agent lock,
// systemd's notification datagram, and the event loop's timers and signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "vaultwall/agent/event_loop.h"
#include "vaultwall/agent/instance_lock.h"
#include "vaultwall/agent/systemd_notify.h"
#include "vaultwall/common/fd.h"

namespace vaultwall {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "vw-agent-test.XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(InstanceLockPath, NamedAfterThePinDirectoryUnambiguously) {
  EXPECT_EQ(instance_lock_path("/run/vaultwall", "/sys/fs/bpf/vaultwall"),
            "/run/vaultwall/agent.sys-fs-bpf-vaultwall.lock");
  EXPECT_EQ(instance_lock_path("/run/vaultwall", "/sys/fs/bpf/vaultwall/"),
            instance_lock_path("/run/vaultwall", "/sys/fs/bpf//vaultwall"));
  EXPECT_NE(instance_lock_path("/r", "/a-b"), instance_lock_path("/r", "/a/b"));
  EXPECT_NE(instance_lock_path("/r", "/a_b"), instance_lock_path("/r", "/a-b"));
  EXPECT_EQ(instance_lock_path("/r", "/sys/fs/bpf/vw-1"), "/r/agent.sys-fs-bpf-vw_2d1.lock");
}

TEST(InstanceLock, ASecondAgentOnTheSamePinDirIsRefusedWithTheHoldersPid) {
  TempDir run;
  auto first = InstanceLock::acquire(run.path(), "/sys/fs/bpf/vw-test");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(fs::exists(first->path()));
  auto second = InstanceLock::acquire(run.path(), "/sys/fs/bpf/vw-test/");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, EBUSY);
  std::string message = second.error().message();
  EXPECT_NE(message.find("another vaultwall-agent (pid " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("systemctl stop vaultwall-agent"), std::string::npos) << message;
  // Another pin directory is another lock.
  EXPECT_TRUE(InstanceLock::acquire(run.path(), "/sys/fs/bpf/vw-other"));
}

TEST(InstanceLock, ReleasedWhenItsHolderEndsAndTheFileRemoved) {
  TempDir run;
  std::string path;
  {
    auto first = InstanceLock::acquire(run.path(), "/sys/fs/bpf/vw-test");
    ASSERT_TRUE(first);
    path = first->path();
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(InstanceLock::acquire(run.path(), "/sys/fs/bpf/vw-test"));
}

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
    sockaddr_un address{.sun_family = AF_UNIX};
    name.copy(address.sun_path, sizeof(address.sun_path) - 1);
    socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    if (address.sun_path[0] == '@') address.sun_path[0] = '\0';
    bound_ = ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) == 0;
    ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~NotifySocket() { ::unsetenv("NOTIFY_SOCKET"); }
  bool bound() const { return bound_; }
  std::string receive() {
    char text[512] = {};
    ssize_t n = ::recv(fd_.get(), text, sizeof(text), MSG_DONTWAIT);
    return n > 0 ? std::string(text, static_cast<size_t>(n)) : std::string();
  }

 private:
  UniqueFd fd_;
  bool bound_ = false;
};

TEST(SystemdNotify, SendsTheStateToAPathSocket) {
  TempDir dir;
  NotifySocket systemd(dir.path() + "/notify");
  ASSERT_TRUE(systemd.bound());
  ASSERT_TRUE(notify_systemd("READY=1\nSTATUS=2 of 2 interfaces covered"));
  EXPECT_EQ(systemd.receive(), "READY=1\nSTATUS=2 of 2 interfaces covered");
}

TEST(SystemdNotify, SendsToAnAbstractSocket) {
  NotifySocket systemd("@vw-agent-test-" + std::to_string(::getpid()));
  ASSERT_TRUE(systemd.bound());
  ASSERT_TRUE(notify_systemd("WATCHDOG=1"));
  EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
}

TEST(SystemdNotify, NothingToDoOutsideSystemdAndAnErrorWhenTheSocketIsGone) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(notify_systemd("READY=1"));
  TempDir dir;
  ::setenv("NOTIFY_SOCKET", (dir.path() + "/nobody-listens").c_str(), 1);
  auto sent = notify_systemd("READY=1");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_FALSE(sent);
  EXPECT_NE(sent.error().message().find("notify systemd"), std::string::npos);
}

TEST(SystemdNotify, WatchdogIntervalOnlyForThisProcess) {
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  EXPECT_EQ(watchdog_interval(), std::chrono::microseconds(30'000'000));
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  EXPECT_FALSE(watchdog_interval());
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_TRUE(watchdog_interval());
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_FALSE(watchdog_interval());
}

TEST(EventLoop, TimersFireInDeadlineOrderAndArmWithinNeverPostpones) {
  auto loop = EventLoop::create();
  auto soon = Timer::create();
  auto late = Timer::create();
  ASSERT_TRUE(loop && soon && late);
  std::vector<std::string> fired;
  ASSERT_TRUE(loop->watch(soon->fd(), [&] {
    soon->acknowledge();
    fired.push_back("soon");
  }));
  ASSERT_TRUE(loop->watch(late->fd(), [&] {
    late->acknowledge();
    fired.push_back("late");
    loop->stop();
  }));
  ASSERT_TRUE(soon->arm_within(20ms));
  ASSERT_TRUE(soon->arm_within(5s));  // a later request keeps the earlier deadline
  ASSERT_TRUE(late->arm_within(150ms));
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(fired, (std::vector<std::string>{"soon", "late"}));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST(EventLoop, PeriodicTimerFiresRepeatedly) {
  auto loop = EventLoop::create();
  auto tick = Timer::create();
  ASSERT_TRUE(loop && tick);
  int ticks = 0;
  ASSERT_TRUE(loop->watch(tick->fd(), [&] {
    tick->acknowledge();
    if (++ticks == 3) loop->stop();
  }));
  ASSERT_TRUE(tick->arm_every(10ms));
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(ticks, 3);
}

TEST(EventLoop, SignalsArriveAsEvents) {
  auto loop = EventLoop::create();
  auto signals = SignalSource::create({SIGUSR1});
  ASSERT_TRUE(loop && signals);
  std::vector<int> received;
  ASSERT_TRUE(loop->watch(signals->fd(), [&] {
    while (auto signal = signals->next()) received.push_back(*signal);
    loop->stop();
  }));
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);  // blocked: pending until the loop reads it
  ASSERT_TRUE(loop->run());
  EXPECT_EQ(received, std::vector<int>{SIGUSR1});
}

}  // namespace
}  // namespace vaultwall
