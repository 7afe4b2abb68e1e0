// Hostile documents (tests/data/hostile/, made by generate_corpus.py, plus
// huge ones made here): each is refused with an error naming the JSON path
// it expects, and the kernel's generation and digest do not move. One load
// of the program; a good policy first, then every hostile one through the
// library's apply path, and a sample through the vaultwallctl binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vaultwall/apply/apply.h"
#include "vaultwall/kernel/program.h"
#include "vaultwall/policy/document.h"
#include "vaultwall/policy/sha256.h"

namespace vaultwall {
namespace {

namespace fs = std::filesystem;

struct HostileCase {
  std::string name;
  std::string text;
  std::string path;      // the error must be at this path or inside it; "" = syntax
  std::string fragment;  // and its message must contain this
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<HostileCase> corpus() {
  std::vector<HostileCase> cases;
  const fs::path dir = fs::path(VW_SOURCE_DIR) / "tests/data/hostile";
  std::ifstream table(dir / "expected.tsv");
  std::string line;
  while (std::getline(table, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t a = line.find('\t'), b = line.find('\t', a + 1);
    std::string file = line.substr(0, a);
    cases.push_back(
        {file, read_file(dir / file), line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return cases;
}

// Too big to keep in the repository: made here.
std::vector<HostileCase> huge_documents() {
  std::vector<HostileCase> cases;
  cases.push_back({"huge-16MiB-string",
                   R"({"networkAcls": {"defaultAction": ")" + std::string(16 << 20, 'A') + "\"}}",
                   "networkAcls.defaultAction", "not a valid defaultAction"});
  std::string rules;
  for (int i = 0; i < 200000; i++)
    rules += std::string(i ? "," : "") + R"({"value": ")" + std::to_string(20 + i / 65536) + "." +
             std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + R"(.0/24"})";
  cases.push_back({"huge-200k-ip-rules", R"({"networkAcls": {"ipRules": [)" + rules + "]}}",
                   "networkAcls.ipRules", "exceed"});
  cases.push_back(
      {"huge-32MiB-whitespace-then-garbage", std::string(32 << 20, ' ') + "x", "", "invalid JSON"});
  // Deep nesting stops at 10000 levels here (the corpus has those): the
  // parser's memory grows with the square of the depth, see
  // DeepNestingIsRefusedInBoundedMemory below.
  return cases;
}

bool names_path(const Diagnostic& d, const HostileCase& c) {
  if (!d.is_error() || d.message.find(c.fragment) == std::string::npos) return false;
  if (c.path.empty()) return d.path.empty();  // syntax: line and column, no path
  return d.path == c.path || d.path.starts_with(c.path + ".") || d.path.starts_with(c.path + "[");
}

std::string all_errors(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) out += "  " + d.text() + "\n";
  return out;
}

struct KernelState {
  uint32_t slot = 0;
  uint64_t generation = 0;
  std::string digest;
  friend bool operator==(const KernelState&, const KernelState&) = default;
};

class HostileDocuments : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "hostile-document tests apply to a loaded XDP program; run ctest as root";
    pin_dir_ = "/sys/fs/bpf/vwtest-hostile-" + std::to_string(getpid());
    auto program = Program::load(pin_dir_);
    ASSERT_TRUE(program) << program.error().message();
    program_.emplace(std::move(*program));
    auto maps = PinnedMaps::open(pin_dir_);
    ASSERT_TRUE(maps) << maps.error().message();
    maps_.emplace(std::move(*maps));
  }
  void TearDown() override {
    maps_.reset();
    program_.reset();
    std::error_code ec;
    if (!pin_dir_.empty()) fs::remove_all(pin_dir_, ec);
  }

  KernelState state() {
    auto current = read_kernel_policy(*maps_);
    if (!current) throw std::runtime_error(current.error().message());
    return {current->slot, current->info.generation, to_hex(current->info.digest, VW_DIGEST_LEN)};
  }

  // The production apply path; returns the diagnostics, or "" after an apply.
  std::vector<Diagnostic> try_apply(const std::string& text) {
    auto loaded = load_policy(text);
    if (!loaded.ok()) return loaded.diagnostics;
    auto current = read_kernel_policy(*maps_);
    if (!current) throw std::runtime_error(current.error().message());
    auto compilation = compile_against_kernel(*loaded.value, *current);
    if (!compilation.ok()) return compilation.diagnostics;
    auto applied = apply_compiled(*maps_, *current, *loaded.value, compilation.value->compiled);
    if (!applied) throw std::runtime_error(applied.error().message());
    return {};
  }

  std::string pin_dir_;
  std::optional<Program> program_;
  std::optional<PinnedMaps> maps_;
};

// Runs vaultwallctl with `arguments` (no shell between); returns (exit
// code, stdout + stderr).
std::pair<int, std::string> run_ctl(std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), VW_CTL_BINARY);
  std::vector<char*> argv;
  for (std::string& a : arguments) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {-1, "pipe: " + std::string(std::strerror(errno))};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string output;
  std::array<char, 4096> buffer;
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer.data(), buffer.size())) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) output.append(buffer.data(), static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  if (rc != 0) return {-1, "spawn " + arguments[0] + ": " + std::strerror(rc)};
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST_F(HostileDocuments, EveryOneIsRefusedWithItsPathAndTheKernelKeepsItsPolicy) {
  std::vector<HostileCase> cases = corpus();
  ASSERT_GE(cases.size(), 300u)
      << "the hostile corpus shrank; run tests/hostile/generate_corpus.py";
  for (HostileCase& c : huge_documents()) cases.push_back(std::move(c));

  ASSERT_TRUE(try_apply(read_file(fs::path(VW_SOURCE_DIR) / "tests/hostile/good.json")).empty());
  const KernelState good = state();
  ASSERT_EQ(good.generation, 1u);

  size_t rejected = 0;
  for (const HostileCase& c : cases) {
    std::vector<Diagnostic> diagnostics = try_apply(c.text);
    bool refused = std::any_of(diagnostics.begin(), diagnostics.end(),
                               [](const Diagnostic& d) { return d.is_error(); });
    EXPECT_TRUE(refused) << c.name << " was applied";
    bool named = std::any_of(diagnostics.begin(), diagnostics.end(),
                             [&](const Diagnostic& d) { return names_path(d, c); });
    EXPECT_TRUE(named) << c.name << ": expected an error at \"" << c.path << "\" containing \""
                       << c.fragment << "\"; got\n"
                       << all_errors(diagnostics);
    EXPECT_EQ(state(), good) << c.name << " changed the kernel's policy";
    rejected += refused && named;
  }
  std::cout << "hostile: " << rejected << " of " << cases.size()
            << " documents rejected in-process with the expected path; generation "
            << good.generation << " and digest " << good.digest.substr(0, 16) << "... unchanged"
            << std::endl;
}

TEST_F(HostileDocuments, ASampleIsRefusedByTheBinaryAndShowIsUnchanged) {
  auto [applied, apply_output] =
      run_ctl({"--pin-dir", pin_dir_, "apply", "-f", VW_SOURCE_DIR "/tests/hostile/good.json"});
  ASSERT_EQ(applied, 0) << apply_output;
  auto [shown, show_before] = run_ctl({"--pin-dir", pin_dir_, "show", "-o", "json"});
  ASSERT_EQ(shown, 0) << show_before;
  const KernelState good = state();

  const fs::path dir = fs::path(VW_SOURCE_DIR) / "tests/data/hostile";
  std::vector<HostileCase> cases = corpus();
  size_t rejected = 0, sampled = 0;
  for (size_t i = 0; i < cases.size(); i += 12) {  // every 12th: about 45 runs
    const HostileCase& c = cases[i];
    sampled++;
    auto [code, output] = run_ctl({"--pin-dir", pin_dir_, "apply", "-f", (dir / c.name).string()});
    EXPECT_EQ(code, 1) << c.name << ":\n" << output;
    std::string wanted = c.path.empty() ? c.fragment : c.path;
    EXPECT_NE(output.find(wanted), std::string::npos)
        << c.name << ": the message does not name \"" << wanted << "\":\n"
        << output;
    EXPECT_NE(output.find("nothing was applied"), std::string::npos) << c.name << ":\n" << output;
    EXPECT_EQ(state(), good) << c.name;
    rejected += code == 1;
  }
  auto [shown_after, show_after] = run_ctl({"--pin-dir", pin_dir_, "show", "-o", "json"});
  EXPECT_EQ(shown_after, 0);
  EXPECT_EQ(show_after, show_before) << "vaultwallctl show changed after hostile applies";
  std::cout << "hostile: " << rejected << " of " << sampled
            << " sampled documents rejected by vaultwallctl apply -f; show unchanged" << std::endl;
}

// Deep nesting is refused early (the parser caps the depth), so a small
// document cannot make it allocate without bound. The child runs with a
// 1 GiB address-space limit so a regression cannot take the host down.
TEST(HostileDocumentsMemory, DeepNestingIsRefusedInBoundedMemory) {
  const std::string text = std::string(200000, '[') + std::string(200000, ']');
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit limit{1ul << 30, 1ul << 30};
    setrlimit(RLIMIT_AS, &limit);
    try {
      auto loaded = load_policy(text);
      _exit(loaded.ok() ? 2 : 0);
    } catch (...) {
      _exit(3);  // std::bad_alloc
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "a 400 KB document nested 200000 deep was not refused within 1 GiB (status " << status
      << ")";
}

}  // namespace
}  // namespace vaultwall
