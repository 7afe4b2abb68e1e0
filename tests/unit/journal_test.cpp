// The change journal writer: one JSON line per change, file 0600 in a
// directory it creates, and interrupted changes recorded from their markers.
#include "vaultwall/common/journal.h"
#include "vaultwall/apply/verify.h"
#include "vaultwall/common/time.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace vaultwall {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vwo-journal-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    path_ = (dir_ / "sub" / "journal.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<json> lines() {
    std::vector<json> out;
    auto text = read_journal(path_);
    if (!text) throw std::runtime_error(text.error().message());
    for (const std::string& line : *text) out.push_back(json::parse(line));
    return out;
  }

  fs::path dir_;
  std::string path_;
};

JournalEntry sample_entry() {
  JournalEntry e;
  e.command = "apply";
  e.argv = {"vaultwallctl", "apply", "-f", "vault.json"};
  e.pin_dir = "/sys/fs/bpf/vwo";
  e.from = PolicyVersion{3, "aa"};
  e.to = PolicyVersion{4, "bb"};
  e.rules_added = {"203.0.113.0/24"};
  e.rules_removed = {"198.51.100.7/32"};
  return e;
}

TEST_F(JournalTest, AppendsOneLinePerChangeInAPrivateFile) {
  auto pending = PendingChange::begin(path_, sample_entry());
  ASSERT_TRUE(pending) << pending.error().message();
  ASSERT_TRUE(pending->finish());

  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  auto all = lines();
  ASSERT_EQ(all.size(), 1u);
  const json& line = all[0];
  EXPECT_EQ(line["command"], "apply");
  EXPECT_EQ(line["result"], "ok");
  EXPECT_TRUE(line["reason"].is_null());
  EXPECT_EQ(line["uid"], getuid());
  EXPECT_EQ(line["pid"], getpid());
  EXPECT_EQ(line["argv"][3], "vault.json");
  EXPECT_EQ(line["from"]["generation"], 3);
  EXPECT_EQ(line["to"]["generation"], 4);
  EXPECT_EQ(line["to"]["digest"], "bb");
  EXPECT_EQ(line["rulesAdded"][0], "203.0.113.0/24");
  EXPECT_EQ(line["rulesRemoved"][0], "198.51.100.7/32");
  EXPECT_TRUE(line["time"].get<std::string>().ends_with("Z"));
}

TEST_F(JournalTest, RecordsThePersonBehindSudoAndTheHost) {
  ::setenv("SUDO_USER", "alice", 1);
  auto pending = PendingChange::begin(path_, sample_entry());
  ::unsetenv("SUDO_USER");
  ASSERT_TRUE(pending) << pending.error().message();
  ASSERT_TRUE(pending->finish());
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  auto all = lines();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["user"], "alice");
  EXPECT_EQ(all[0]["host"], host);

  // Without sudo: the login uid's name, or the uid's.
  pending = PendingChange::begin(path_, sample_entry());
  ASSERT_TRUE(pending);
  ASSERT_TRUE(pending->finish());
  std::string user = lines().back()["user"];
  EXPECT_FALSE(user.empty());
  EXPECT_NE(user, "alice");
}

TEST_F(JournalTest, FailureKeepsTheFirstReason) {
  auto pending = PendingChange::begin(path_, sample_entry());
  ASSERT_TRUE(pending);
  pending->entry().fail("document invalid: ipRules[0]: private range");
  pending->entry().fail("exit status 1");
  ASSERT_TRUE(pending->finish());
  auto all = lines();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["result"], "failed");
  EXPECT_EQ(all[0]["reason"], "document invalid: ipRules[0]: private range");
}

// verify compares the kernel's generation with what the journal's last
// change left. `attach A B` re-applies for A before B fails: a failed
// change that moved the generation left what is in force, so it counts; a
// failed one that moved nothing does not bless the generation it read.
TEST_F(JournalTest, AFailedChangeThatMovedTheGenerationIsWhatItLeft) {
  auto record = [&](const char* command, uint64_t from, uint64_t to, bool ok) {
    JournalEntry e = sample_entry();
    e.command = command;
    e.from = PolicyVersion{from, "aa"};
    e.to = PolicyVersion{to, "aa"};
    auto pending = PendingChange::begin(path_, e);
    ASSERT_TRUE(pending) << pending.error().message();
    if (!ok) pending->entry().fail("vaultwall is already attached to eth0");
    ASSERT_TRUE(pending->finish());
  };
  const std::string pin_dir = sample_entry().pin_dir;
  record("apply", 13, 14, true);
  record("attach", 14, 15, false);
  auto view = read_journal_view(path_, pin_dir);
  ASSERT_TRUE(view) << view.error().message();
  EXPECT_EQ(view->last_ok, std::optional<uint64_t>(15));
  record("apply", 16, 16, false);  // refused, read while something else was in force
  view = read_journal_view(path_, pin_dir);
  ASSERT_TRUE(view) << view.error().message();
  EXPECT_EQ(view->last_ok, std::optional<uint64_t>(15));
}

// apply's entry names the file read and the SHA-256 of its bytes.
TEST_F(JournalTest, RecordsTheInputFileAndItsDigest) {
  JournalEntry entry = sample_entry();
  entry.input = InputFile{"/etc/vaultwall/vault.json", std::string(64, 'a')};
  ASSERT_TRUE(append_journal(path_, entry));
  auto all = lines();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["input"]["path"], "/etc/vaultwall/vault.json");
  EXPECT_EQ(all[0]["input"]["sha256"], std::string(64, 'a'));
  ASSERT_TRUE(append_journal(path_, sample_entry()));
  EXPECT_FALSE(lines()[1].contains("input"));  // no file read: no input
}

// A failure reason quotes the document, which may not be valid UTF-8.
TEST_F(JournalTest, InvalidUtf8InAReasonIsReplacedNotFatal) {
  auto pending = PendingChange::begin(path_, sample_entry());
  ASSERT_TRUE(pending);
  pending->entry().fail("unknown field \"\xc0\xaf\" in networkAcls");
  ASSERT_TRUE(pending->finish());
  auto all = lines();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["result"], "failed");
  EXPECT_NE(all[0]["reason"].get<std::string>().find("\xef\xbf\xbd"), std::string::npos);
}

TEST_F(JournalTest, ChangeInProgressShowsAsSuchAndLeavesNoLineYet) {
  auto pending = PendingChange::begin(path_, sample_entry());
  ASSERT_TRUE(pending);
  auto all = lines();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["result"], "in-progress");
  ASSERT_TRUE(pending->finish());
  all = lines();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["result"], "ok");
}

// A process that dies between begin and finish (here: _exit in a child)
// leaves its marker; the next writer records it as interrupted, once.
TEST_F(JournalTest, DeadProcessIsRecordedAsInterrupted) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pending = PendingChange::begin(path_, sample_entry());
    _exit(pending ? 0 : 1);  // no finish(): as if killed mid-change
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto history = lines();
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]["result"], "interrupted");

  JournalEntry next = sample_entry();
  next.command = "update";
  ASSERT_TRUE(append_journal(path_, next));
  ASSERT_TRUE(append_journal(path_, next));
  auto all = lines();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["result"], "interrupted");
  EXPECT_EQ(all[0]["pid"], child);
  EXPECT_FALSE(all[0]["reason"].get<std::string>().empty());
  EXPECT_FALSE(all[0].contains("procStartTicks"));
  EXPECT_EQ(all[1]["command"], "update");
  EXPECT_EQ(all[2]["command"], "update");
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Markers are read as untrusted input: whatever their shape, a change goes
// on, nothing is recorded from them, and the caller is told which.
TEST_F(JournalTest, MarkersOfTheWrongShapeAreIgnoredWithAWarning) {
  ASSERT_TRUE(append_journal(path_, sample_entry()));
  const std::vector<std::string> shapes = {
      R"({"pid":"12"})",
      R"({"pid":-7,"procStartTicks":1,"command":"x"})",
      "42",
      "[1]",
      "null",
      "{}",
      R"({"pid":1e300,"procStartTicks":1,"command":"x"})",
      R"({"pid":12,"procStartTicks":"x","command":"x"})",
      R"({"pid":99,"procStartTicks":1,"command":"x"})",  // pid differs from the file's name
      "not json",
      ""};
  const std::string prefix = (dir_ / "sub" / ".journal.jsonl.pending.").string();
  for (size_t i = 0; i < shapes.size(); i++)
    write_file(prefix + std::to_string(4000000 + i), shapes[i]);
  fs::create_directory(prefix + "4000100");
  ASSERT_EQ(::mkfifo((prefix + "4000101").c_str(), 0600), 0);

  auto pending = PendingChange::begin(path_, sample_entry());
  ASSERT_TRUE(pending) << pending.error().message();
  std::vector<std::string> warnings = pending->take_warnings();
  EXPECT_EQ(warnings.size(), shapes.size() + 2);
  for (const std::string& w : warnings)
    EXPECT_NE(w.find("ignoring journal marker"), std::string::npos) << w;
  ASSERT_TRUE(pending->finish());
  auto all = lines();
  EXPECT_EQ(all.size(), 2u) << "damaged markers were recorded";
}

TEST_F(JournalTest, ASymlinkedJournalIsNotWrittenThrough) {
  fs::create_directories(dir_ / "sub");
  write_file(dir_ / "victim", "precious\n");
  fs::create_symlink(dir_ / "victim", path_);
  auto pending = PendingChange::begin(path_, sample_entry());
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().code, EINVAL);
  EXPECT_NE(pending.error().context.find("symbolic link"), std::string::npos)
      << pending.error().message();
  EXPECT_EQ(read_file(dir_ / "victim"), "precious\n");
  EXPECT_FALSE(read_journal(path_));
}

// A planted symlink where this process's marker goes is replaced, not followed.
TEST_F(JournalTest, APlantedMarkerSymlinkIsReplacedNotFollowed) {
  fs::create_directories(dir_ / "sub");
  write_file(dir_ / "victim", "precious\n");
  fs::create_symlink(
      dir_ / "victim",
      (dir_ / "sub" / (".journal.jsonl.pending." + std::to_string(getpid()))).string());
  auto pending = PendingChange::begin(path_, sample_entry());
  ASSERT_TRUE(pending) << pending.error().message();
  ASSERT_TRUE(pending->finish());
  EXPECT_EQ(read_file(dir_ / "victim"), "precious\n");
  EXPECT_EQ(lines().size(), 1u);
}

TEST_F(JournalTest, AFifoJournalIsRefusedWithoutBlocking) {
  fs::create_directories(dir_ / "sub");
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  auto pending = PendingChange::begin(path_, sample_entry());  // would block without O_NONBLOCK
  ASSERT_FALSE(pending);
  EXPECT_NE(pending.error().context.find("FIFO"), std::string::npos) << pending.error().message();
  auto history = read_journal(path_);
  ASSERT_FALSE(history);
  EXPECT_NE(history.error().context.find("not a regular file"), std::string::npos);
}

// A record cut short by a crash of an older version stays on its own line.
TEST_F(JournalTest, ARecordAfterAPartialLineStartsOnItsOwnLine) {
  fs::create_directories(dir_ / "sub");
  write_file(path_, "{\"schemaVersion\":1,\"comm");
  ASSERT_EQ(::chmod(path_.c_str(), 0600), 0);
  ASSERT_TRUE(append_journal(path_, sample_entry()));
  auto text = read_journal(path_);
  ASSERT_TRUE(text);
  ASSERT_EQ(text->size(), 2u);
  EXPECT_EQ(json::parse((*text)[1])["command"], "apply");
}

// When the journal cannot grow (here RLIMIT_FSIZE, as a full disk), nothing
// of the record is left behind, the finished entry waits in its marker, and
// the next writer records it with its real result.
TEST_F(JournalTest, ARecordWithoutRoomIsAbsentAndWaitsInItsMarker) {
  for (int i = 0; i < 3; i++) ASSERT_TRUE(append_journal(path_, sample_entry()));
  const auto size_before = fs::file_size(path_);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto pending = PendingChange::begin(path_, sample_entry());
    if (!pending) _exit(2);
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{size_before + 200, size_before + 200};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(3);
    pending->entry().rules_added.assign(20, "203.0.113.0/24");  // longer than the room left
    auto finished = pending->finish();
    _exit(finished ? 4 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child's finish() should have failed for lack of room";
  EXPECT_EQ(fs::file_size(path_), size_before) << "a partial record was left in the journal";

  ASSERT_TRUE(append_journal(path_, sample_entry()));
  auto all = lines();
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[3]["pid"], child);
  EXPECT_EQ(all[3]["result"], "ok") << "the finished entry was recorded as " << all[3]["result"];
  EXPECT_EQ(all[3]["rulesAdded"].size(), 20u);
  EXPECT_FALSE(all[3].contains("procStartTicks"));
}

TEST_F(JournalTest, HugeReasonsAndListsAreCut) {
  JournalEntry e = sample_entry();
  e.fail(std::string(1 << 20, 'x'));
  e.rules_added.assign(5000, "203.0.113.0/24");
  ASSERT_TRUE(append_journal(path_, e));
  EXPECT_LT(fs::file_size(path_), 64u * 1024);
  auto all = lines();
  EXPECT_LT(all[0]["reason"].get<std::string>().size(), 5000u);
  EXPECT_EQ(all[0]["rulesAdded"].size(), 1001u);
  EXPECT_EQ(all[0]["rulesAdded"][1000], "... (4000 more)");
}

TEST_F(JournalTest, PathComesFromFlagThenEnvironmentThenDefault) {
  ::unsetenv(kJournalPathEnv);
  EXPECT_EQ(journal_path(), kJournalDefaultPath);
  ::setenv(kJournalPathEnv, "/tmp/env.jsonl", 1);
  EXPECT_EQ(journal_path(), "/tmp/env.jsonl");
  EXPECT_EQ(journal_path("/tmp/flag.jsonl"), "/tmp/flag.jsonl");
  ::unsetenv(kJournalPathEnv);
}

TEST(JournalTime, FormatsUtcWithMicroseconds) {
  EXPECT_EQ(format_utc(1'764'322'548'123'456'789ull), "2025-11-28T09:35:48.123456Z");
  EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace vaultwall
