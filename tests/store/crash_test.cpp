// Crash safety of the store: a writer process killed with SIGKILL at random moments never costs a
// batch it reported committed, and never leaves a half-written batch, a broken chain or an index
// that disagrees with the records.
//
// Each iteration runs store_writer_tool in write mode on the same store; it continues the feeds
// from the heads it finds (three issuers, mixed entries and revocations, the regulator's often
// pending), printing "committed ISSUER SEQ" after each commit, and is killed after a random
// 0-30 ms. Then the store must open, hold every reported commit, verify end to end and have an
// index that matches its records exactly (tests/store/store_tool_common.h says what is checked).
//
//   DUANKA_CRASH_ITERATIONS=2000 build/tests/store/crash_test   # a longer run
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/store/store_tool_common.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

namespace tool = duanka::testing::store_tool;
using duanka::testing::kTestNow;

// At least this many kills by default; DUANKA_CRASH_ITERATIONS asks for more (or fewer).
constexpr int kDefaultIterations = 200;
// The kill lands a uniformly random 0..kMaxKillDelayMs after the writer is ready: enough for a
// handful of commits at most, so kills fall before, inside and between commits.
constexpr int kMaxKillDelayMs = 30;
// Every this-many-th kill is timed from the fork instead, so that some land while the writer
// starts, opens or creates the store.
constexpr int kKillFromSpawnEvery = 10;
// A tiny initial map makes every writer run grow the map (LMDB opens it at the data's size), so
// kills also land around a growth.
constexpr uint64_t kInitialMapBytes = 64 * 1024;
// The whole store is checked after every kill, which costs time in proportion to its records;
// past this many the test starts a fresh store, keeping the default run well under a minute.
constexpr uint64_t kFreshStoreAfterRecords = 6000;
// A writer that is not ready by then is hung: a guard against a stuck test, not a timing check.
constexpr auto kReadyGuard = std::chrono::seconds(60);
// Fixed so that a failure can be replayed; each iteration's writer gets base + iteration.
constexpr uint64_t kBaseSeed = 20'260'901;

int Iterations() {
  const char* env = std::getenv("DUANKA_CRASH_ITERATIONS");
  if (env == nullptr || *env == '\0') return kDefaultIterations;
  return std::max(1, std::atoi(env));
}

// Reads the child's lines for `ms` milliseconds (so that its pipe never fills).
void ReadFor(tool::Child& child, int ms, std::vector<std::string>& lines) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (auto now = std::chrono::steady_clock::now(); now < until && !child.eof();
       now = std::chrono::steady_clock::now()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    child.Read(static_cast<int>(std::max<int64_t>(left, 1)), lines);
  }
}

// Feed heads by issuer (seq only).
using Heads = std::map<std::string, uint64_t>;

std::string Describe(const Heads& heads) {
  std::string out = "{";
  for (const auto& [issuer, seq] : heads) {
    out += (out.size() > 1 ? " " : "") + issuer + ":" + std::to_string(seq);
  }
  return out + "}";
}

bool HasLine(const std::vector<std::string>& lines, std::string_view want) {
  for (const std::string& l : lines) {
    if (l == want) return true;
  }
  return false;
}

TEST(StoreCrashTest, KilledWriterLosesNoCommitAndLeavesStoreConsistent) {
  const int iterations = Iterations();
  const protocol::Trust trust = tool::ToolTrust();
  duanka::testing::TempDir dir;
  const std::filesystem::path path = dir / "store";
  std::mt19937_64 rng(kBaseSeed);

  // Heads as the previous check saw them, where the next writer starts.
  Heads previous;
  int kills = 0;
  uint64_t commits = 0, killed_after_commit = 0, killed_inside_committed_append = 0,
           fresh_stores = 1, max_pending = 0, max_revoked = 0, records_checked = 0;
  for (int i = 0; i < iterations; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i) + ", writer seed " +
                 std::to_string(kBaseSeed + i));
    tool::Child child({DUANKA_STORE_WRITER_TOOL, "write", "--store", path.string(), "--issuers",
                       "BANKA,BANKB,PBOC", "--targets", "BANKA,BANKB", "--seed",
                       std::to_string(kBaseSeed + i), "--initial-map",
                       std::to_string(kInitialMapBytes)});
    std::vector<std::string> lines;
    if (i % kKillFromSpawnEvery != 0) {
      auto guard = std::chrono::steady_clock::now() + kReadyGuard;
      while (!HasLine(lines, tool::kReadyLine) && !child.eof()) {
        ASSERT_LT(std::chrono::steady_clock::now(), guard) << "the writer never became ready";
        child.Read(100, lines);
      }
    }
    ReadFor(child, static_cast<int>(rng() % (kMaxKillDelayMs + 1)), lines);
    child.Kill();
    child.ReadToEnd(lines);
    const int status = child.Wait();
    ++kills;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer ended on its own: " << tool::DescribeStatus(status);

    // The heads the store must hold now: those after the last batch reported committed, or, when
    // the kill came inside an Append, possibly those after the batch announced for it. Anything
    // else is a lost commit or half a batch.
    Heads after_commits = previous;
    std::optional<Heads> in_flight;
    for (const std::string& line : lines) {
      if (std::optional<Heads> batch = tool::ParseBatch(line)) {
        in_flight = after_commits;
        for (const auto& [issuer, seq] : *batch) (*in_flight)[issuer] = seq;
      } else if (auto c = tool::ParseCommitted(line)) {
        after_commits[c->first] = c->second;
        if (in_flight == after_commits) in_flight.reset();
        ++commits;
      }
    }
    if (after_commits != previous) ++killed_after_commit;

    tool::StoreContents contents;
    {
      Options o;
      o.path = path;
      o.create_if_missing = false;  // the writer creates it; the check must not
      Result<std::unique_ptr<Store>> s = Store::Open(o);
      if (!s.ok() && s.error().kind == ErrorKind::kNotFound) {
        // Killed before the store was created: nothing can have been reported committed.
        ASSERT_TRUE(after_commits.empty());
        continue;
      }
      ASSERT_TRUE(s.ok()) << s.error().message;
      std::vector<std::string> problems =
          tool::CheckStoreConsistent(**s, trust, kTestNow, &contents);
      ASSERT_TRUE(problems.empty())
          << problems.size() << " problems, the first: " << problems.front();
      Result<Stats> stats = (*s)->GetStats(kTestNow);
      ASSERT_TRUE(stats.ok());
      max_pending = std::max(max_pending, stats->pending_revocations);
      for (const IssuerStats& is : stats->issuers) {
        max_revoked = std::max(max_revoked, is.revoked_entries);
      }
    }
    // With the Store closed: the index holds nothing beyond the listings checked above.
    Result<uint64_t> raw = tool::RawSubjectValueCount(path);
    ASSERT_TRUE(raw.ok()) << raw.error().message;
    EXPECT_EQ(*raw, contents.entries) << "the subjects index holds listings of no entry record";

    Heads held;
    for (const auto& [issuer, head] : contents.heads) held[issuer] = head.seq;
    if (held == after_commits) {
      // Before or between Appends, or inside one that had not committed.
    } else if (in_flight && held == *in_flight) {
      ++killed_inside_committed_append;
    } else {
      ADD_FAILURE() << "the store holds heads " << Describe(held) << "; after the reported commits "
                    << Describe(after_commits) << ", after the batch in flight "
                    << (in_flight ? Describe(*in_flight) : "(none)");
    }
    uint64_t records = 0;
    previous.clear();
    for (const auto& [issuer, head] : contents.heads) {
      previous[issuer] = head.seq;
      records += head.seq;
    }
    records_checked += records;
    if (::testing::Test::HasFailure()) break;
    if (records > kFreshStoreAfterRecords) {
      std::filesystem::remove_all(path);
      previous.clear();
      ++fresh_stores;
    }
  }
  std::printf(
      "%d kills, %llu commits reported, %llu kills after a commit, %llu inside an Append that "
      "committed, %llu stores, up to %llu pending revocations and %llu revoked entries per issuer "
      "seen, %llu records checked\n",
      kills, static_cast<unsigned long long>(commits),
      static_cast<unsigned long long>(killed_after_commit),
      static_cast<unsigned long long>(killed_inside_committed_append),
      static_cast<unsigned long long>(fresh_stores), static_cast<unsigned long long>(max_pending),
      static_cast<unsigned long long>(max_revoked),
      static_cast<unsigned long long>(records_checked));
  // The test proves nothing if the writer never got to commit.
  EXPECT_GT(commits, 0u);
}

}  // namespace
}  // namespace duanka::store
