// Several processes on one store at once, as the daemon, the admin tool and lookup CLIs are: two
// writer processes and four reader processes for a few seconds. Readers never see a head whose
// records are missing, a chain that does not verify, a head moving back or an entry missing from
// the index (each reader checks and reports through its exit code); at the end every record a
// writer reported committed is there and the store is consistent.
//
// The map starts tiny, so it grows many times under the readers' feet, in other processes.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store/store.h"
#include "tests/store/store_tool_common.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

namespace tool = duanka::testing::store_tool;
using duanka::testing::kTestNow;

// Long enough for thousands of commits and reader passes, short enough for every CI run.
constexpr const char* kWriteSeconds = "3";
constexpr int kReaders = 4;
// Grown by doubling to a few MiB during the run: a dozen growths, each seen by every process.
constexpr uint64_t kInitialMapBytes = 32 * 1024;
// How long the parent waits in one poll of its children's pipes.
constexpr int kPollMs = 20;

class StoreConcurrencyTest : public ::testing::Test {
 protected:
  StoreConcurrencyTest() {
    // Readers open read-only, so the store must exist before they start.
    Options o;
    o.path = path_;
    o.initial_map_bytes = kInitialMapBytes;
    Result<std::unique_ptr<Store>> s = Store::Open(o);
    EXPECT_TRUE(s.ok()) << s.error().message;
  }

  std::unique_ptr<tool::Child> Spawn(std::vector<std::string> args) {
    std::vector<std::string> argv = {DUANKA_STORE_WRITER_TOOL};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::string& a : {std::string("--store"), path_.string(),
                                 std::string("--initial-map"), std::to_string(kInitialMapBytes)}) {
      argv.push_back(a);
    }
    return std::make_unique<tool::Child>(argv);
  }

  void StartReaders() {
    for (int i = 0; i < kReaders; ++i) {
      readers_.push_back(Spawn({"read", "--stop-file", stop_file_.string()}));
    }
  }

  // Runs the writers to their end, collecting their output (and draining the readers', which
  // print only at the end). Returns each writer's lines.
  std::vector<std::vector<std::string>> RunWriters(
      std::vector<std::unique_ptr<tool::Child>>& writers) {
    std::vector<std::vector<std::string>> lines(writers.size());
    for (bool open = true; open;) {
      open = false;
      for (size_t i = 0; i < writers.size(); ++i) {
        if (writers[i]->eof()) continue;
        open = true;
        writers[i]->Read(kPollMs, lines[i]);
      }
    }
    for (auto& w : writers) {
      int status = w->Wait();
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "a writer " << tool::DescribeStatus(status);
    }
    return lines;
  }

  // Stops the readers and checks that they saw no violation and, in their last pass, every
  // record in the store.
  void StopReaders(uint64_t records_in_store) {
    std::ofstream(stop_file_) << "stop\n";
    for (auto& r : readers_) {
      std::vector<std::string> lines;
      r->ReadToEnd(lines);
      int status = r->Wait();
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "a reader saw a violation (named above) or failed: " << tool::DescribeStatus(status);
      ASSERT_FALSE(lines.empty());
      const std::string& summary = lines.back();
      ASSERT_EQ(summary.rfind(std::string(tool::kReaderWord) + " ", 0), 0u) << summary;
      unsigned long long passes = 0, records = 0;
      ASSERT_EQ(std::sscanf(summary.c_str(), "reader %llu %llu", &passes, &records), 2);
      std::printf("reader: %llu passes, %llu records verified\n", passes, records);
      EXPECT_EQ(records, records_in_store) << "a reader's last pass did not see every record";
    }
  }

  // Opens the store after everyone is gone and checks it whole.
  tool::StoreContents CheckFinalStore() {
    tool::StoreContents contents;
    {
      Options o;
      o.path = path_;
      Result<std::unique_ptr<Store>> s = Store::Open(o);
      EXPECT_TRUE(s.ok()) << s.error().message;
      if (!s.ok()) return contents;
      std::vector<std::string> problems =
          tool::CheckStoreConsistent(**s, tool::ToolTrust(), kTestNow, &contents);
      EXPECT_TRUE(problems.empty())
          << problems.size() << " problems, the first: " << problems.front();
    }
    Result<uint64_t> raw = tool::RawSubjectValueCount(path_);
    EXPECT_TRUE(raw.ok());
    if (raw.ok()) {
      EXPECT_EQ(*raw, contents.entries);
    }
    return contents;
  }

  static uint64_t TotalRecords(const tool::StoreContents& contents) {
    uint64_t n = 0;
    for (const auto& [issuer, head] : contents.heads) n += head.seq;
    return n;
  }

  duanka::testing::TempDir dir_;
  std::filesystem::path path_ = dir_ / "store";
  std::filesystem::path stop_file_ = dir_ / "stop";
  std::vector<std::unique_ptr<tool::Child>> readers_;
};

TEST_F(StoreConcurrencyTest, TwoWritersOfDifferentFeedsAndFourReaders) {
  StartReaders();
  // The first writer's regulator revokes entries of the second writer's feed, often before they
  // exist: pending revocations applied by another process's commit.
  std::vector<std::unique_ptr<tool::Child>> writers;
  writers.push_back(Spawn({"write", "--issuers", "BANKA,PBOC", "--targets", "BANKA,BANKB", "--seed",
                           "11", "--seconds", kWriteSeconds}));
  writers.push_back(
      Spawn({"write", "--issuers", "BANKB", "--seed", "12", "--seconds", kWriteSeconds}));
  std::vector<std::vector<std::string>> lines = RunWriters(writers);

  tool::StoreContents contents = CheckFinalStore();
  size_t commits = 0;
  for (const auto& writer_lines : lines) {
    for (const std::string& line : writer_lines) {
      auto c = tool::ParseCommitted(line);
      if (!c) continue;
      ++commits;
      ASSERT_TRUE(contents.heads.count(c->first)) << line;
      EXPECT_GE(contents.heads[c->first].seq, c->second) << "lost: " << line;
    }
  }
  std::printf("%zu commits, %llu records\n", commits,
              static_cast<unsigned long long>(TotalRecords(contents)));
  EXPECT_GT(commits, 0u);
  EXPECT_EQ(contents.heads.size(), 3u);
  StopReaders(TotalRecords(contents));
}

TEST_F(StoreConcurrencyTest, TwoWritersOfOneFeedThroughAppendOwnAndFourReaders) {
  StartReaders();
  std::vector<std::unique_ptr<tool::Child>> writers;
  for (const char* tag : {"1", "2"}) {
    writers.push_back(Spawn(
        {"own", "--issuer", "BANKC", "--tag", tag, "--seed", tag, "--seconds", kWriteSeconds}));
  }
  std::vector<std::vector<std::string>> lines = RunWriters(writers);

  tool::StoreContents contents = CheckFinalStore();
  // The feed is one chain (CheckFinalStore verified it), so no seq was signed twice. Each seq a
  // writer reported is there and carries that writer's tag.
  ASSERT_EQ(contents.feeds.count("BANKC"), 1u);
  const std::vector<protocol::Record>& feed = contents.feeds["BANKC"];
  std::set<uint64_t> reported;
  for (size_t w = 0; w < lines.size(); ++w) {
    const std::string tag = "w" + std::to_string(w + 1) + "-";
    for (const std::string& line : lines[w]) {
      auto c = tool::ParseCommitted(line);
      if (!c) continue;
      ASSERT_EQ(c->first, "BANKC");
      ASSERT_LE(c->second, feed.size()) << "lost: " << line;
      EXPECT_TRUE(reported.insert(c->second).second) << "reported twice: " << line;
      const protocol::EntryBody* e = feed[c->second - 1].entry();
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->case_ref, tag + std::to_string(c->second)) << "signed by the other writer";
    }
  }
  std::set<std::string> tags;
  for (const protocol::Record& r : feed) tags.insert(r.entry()->case_ref.substr(0, 3));
  std::printf("%zu commits, %zu records\n", reported.size(), feed.size());
  EXPECT_EQ(tags, (std::set<std::string>{"w1-", "w2-"})) << "both writers must have appended";
  StopReaders(TotalRecords(contents));
}

}  // namespace
}  // namespace duanka::store
