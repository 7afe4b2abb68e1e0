#include "vaultwall/agent/logging.h"

#include <bpf/libbpf.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
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
    const char* prefix = "<6>";  // info
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        prefix = "<7>";
        break;
      case spdlog::level::warn:
        prefix = "<4>";
        break;
      case spdlog::level::err:
        prefix = "<3>";
        break;
      case spdlog::level::critical:
        prefix = "<2>";
        break;
      default:
        break;
    }
    dest.append(prefix, prefix + 3);
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

int libbpf_to_spdlog(enum libbpf_print_level level, const char* format, va_list args) {
  spdlog::level::level_enum ours = level == LIBBPF_WARN   ? spdlog::level::warn
                                   : level == LIBBPF_INFO ? spdlog::level::info
                                                          : spdlog::level::debug;
  if (!spdlog::should_log(ours)) return 0;
  char text[1024];
  int n = std::vsnprintf(text, sizeof(text), format, args);
  std::string line(text, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(text) - 1));
  while (!line.empty() && line.back() == '\n') line.pop_back();
  spdlog::log(ours, "libbpf: {}", line);
  return n;
}

}  // namespace

void setup_agent_logging(bool verbose) {
  auto logger = spdlog::stderr_color_mt("vaultwall-agent");
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (stderr_is_journal())
    formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
  else
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$: %v");
  logger->set_formatter(std::move(formatter));
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);  // every line reaches the journal at once
  spdlog::set_default_logger(logger);
  libbpf_set_print(libbpf_to_spdlog);
}

}  // namespace vaultwall
