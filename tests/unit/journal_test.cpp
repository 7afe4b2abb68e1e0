// The change journal writer: one JSON line per change, file 0600 in a
// directory it creates, and interrupted changes recorded from their markers.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vaultwall/journal.h"

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

TEST_F(JournalTest, PathComesFromFlagThenEnvironmentThenDefault) {
  ::unsetenv(kJournalPathEnv);
  EXPECT_EQ(journal_path(), kJournalDefaultPath);
  ::setenv(kJournalPathEnv, "/tmp/env.jsonl", 1);
  EXPECT_EQ(journal_path(), "/tmp/env.jsonl");
  EXPECT_EQ(journal_path("/tmp/flag.jsonl"), "/tmp/flag.jsonl");
  ::unsetenv(kJournalPathEnv);
}

TEST(JournalTime, FormatsUtcWithMicroseconds) {
  EXPECT_EQ(format_utc_time(1'764'322'548'123'456'789ull), "2025-11-28T09:35:48.123456Z");
  EXPECT_EQ(format_utc_time(0), "1970-01-01T00:00:00.000000Z");
}

}  // namespace
}  // namespace vaultwall
