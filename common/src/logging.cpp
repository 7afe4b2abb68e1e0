#include "vaultwall/common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace vaultwall {

namespace {

// %* in the pattern: the syslog priority prefix journald understands.
class SyslogPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    // syslog priorities by spdlog level: trace and debug 7, info 6, warn
    // 4, err 3, critical 2 (off, never logged, as info).
    static constexpr std::string_view kPrefixes[] = {"<7>", "<7>", "<6>", "<4>",
                                                     "<3>", "<2>", "<6>"};
    static_assert(spdlog::level::trace == 0 && spdlog::level::critical == 5 &&
                  spdlog::level::off == 6);
    std::string_view prefix = kPrefixes[std::min<size_t>(msg.level, std::size(kPrefixes) - 1)];
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

// True when stderr is the journal stream systemd set up ($JOURNAL_STREAM is
// "device:inode" of it; a child whose stderr was redirected inherits the
// variable, hence the comparison).
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  unsigned long long device = 0, inode = 0;
  if (!stream || std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat st {};
  return ::fstat(STDERR_FILENO, &st) == 0 && st.st_dev == device && st.st_ino == inode;
}

// %* in the command pattern: "warning: " and "debug: " before the message,
// nothing before an error (the program's name says enough) or an info line.
class CommandLevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view prefix = msg.level == spdlog::level::warn    ? "warning: "
                              : msg.level <= spdlog::level::debug ? "debug: "
                                                                  : "";
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<CommandLevelFlag>();
  }
};

}  // namespace

void setup_logging(const std::string& program, LogStyle style, bool verbose) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  std::shared_ptr<spdlog::logger> logger;
  if (style == LogStyle::kCommand) {
    logger = spdlog::stderr_logger_mt(program);  // no colours: scripts read these lines
    formatter->add_flag<CommandLevelFlag>('*').set_pattern("%n: %*%v");
  } else {
    logger = spdlog::stderr_color_mt(program);
    if (stderr_is_journal())
      formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
    else
      formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$: %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);  // every line reaches the journal at once
  spdlog::set_default_logger(logger);
}

}  // namespace vaultwall
