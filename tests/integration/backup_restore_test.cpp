// Backing up a node's store with LMDB's own tool while the node runs, and restoring it: the way an
// operator does it (`mdb_copy HOME/store BACKUP_DIR`, with or without `-c` to compact).
//
// A backup taken while the daemon runs holds exactly the records committed when it was taken,
// opens with the store API and verifies end to end. A node whose store is replaced by an older
// backup catches up from its peers, its own feed included, and goes on signing where its feed
// really ended (no fork). A copy taken while a writer is busy (the batch reporter at one node,
// the daemon ingesting at the next) is still a sound store: every feed chain-verifies from seq 1
// to its head, and the subjects index agrees with the feeds.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "node/common/audit.h"
#include "tests/integration/consortium.h"

namespace duanka::integration {
namespace {

namespace fs = std::filesystem;
using protocol::IdType;
using testing::RunProgram;
using testing::RunResult;

// Debian's lmdb-utils (ops/bootstrap installs it).
constexpr const char* kMdbCopy = "/usr/bin/mdb_copy";
// The daemon's last line on a clean exit.
constexpr const char* kStoppedLine = " stopped";

// A directory laid out like a HOME around a copied store (HOME/store/data.mdb, with the
// consortium's ca.pem and pepper.key beside it), so that the harness's read-only views
// (Heads, Find, VerifyFeed) work on a backup exactly as on a node.
Node SnapshotHome(const Consortium& c, const fs::path& dir) {
  Node n;
  n.code = "SNAPSHOT";
  n.home = dir;
  fs::create_directories(n.store_dir());
  fs::copy_file(c.ca_pem(), dir / "ca.pem", fs::copy_options::overwrite_existing);
  fs::copy_file(c.pepper_file(), dir / "pepper.key", fs::copy_options::overwrite_existing);
  fs::permissions(dir / "pepper.key", fs::perms::owner_read | fs::perms::owner_write);
  return n;
}

// mdb_copy [-c] STORE DEST: DEST (an existing empty directory) receives data.mdb.
RunResult MdbCopy(const fs::path& store, const fs::path& dest, bool compact) {
  std::vector<std::string> args = {kMdbCopy};
  if (compact) args.push_back("-c");
  args.push_back(store.string());
  args.push_back(dest.string());
  return RunProgram(args);
}

std::string Logs(Consortium& c, const std::vector<Node*>& nodes) {
  std::string out;
  for (Node* n : nodes) out += c.Log(*n);
  return out;
}

// Every feed of the store verifies from seq 1 to its head, and its entry count in the stats
// (read from the heads table) is what the feed holds.
::testing::AssertionResult SoundStore(const Consortium& c, const Node& n) {
  std::vector<store::Head> heads = c.Heads(n);
  if (heads.empty()) return ::testing::AssertionFailure() << "no feeds readable";
  for (const store::Head& h : heads) {
    if (h.frozen) return ::testing::AssertionFailure() << h.issuer << " is frozen";
    Result<uint64_t> verified = c.VerifyFeed(n, h.issuer);
    if (!verified) {
      return ::testing::AssertionFailure() << h.issuer << ": " << verified.error().message;
    }
    if (*verified != h.seq) {
      return ::testing::AssertionFailure()
             << h.issuer << ": verified " << *verified << " records, head at " << h.seq;
    }
  }
  return ::testing::AssertionSuccess();
}

// The backup is copied with or without compaction (`mdb_copy -c`): both must restore.
class BackupRestoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kMdbCopy)) << kMdbCopy << " is missing: apt-get install lmdb-utils";
  }
};

TEST_P(BackupRestoreTest, LiveBackupRestoresAndCatchesUp) {
  const bool compact = GetParam();
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC"});
  Node& a = *line[0];
  Node& b = *line[1];
  Node& end = *line[2];
  ASSERT_TRUE(c.StartAll());

  // Before the backup: five entries of BANKA and one of BANKB itself, everywhere.
  constexpr int kBefore = 5;
  for (int i = 1; i <= kBefore; ++i) {
    ASSERT_FALSE(c.Report(a, "qq", std::to_string(40000 + i)).empty());
  }
  ASSERT_EQ(c.Report(b, "wechat", "backup_before"), "BANKB:1");
  ASSERT_TRUE(Eventually([&] {
    return c.HeadSeq(end, "BANKA") == kBefore && c.HeadSeq(end, "BANKB") == 1 &&
           c.HeadSeq(a, "BANKB") == 1;
  })) << Logs(c, line);
  ASSERT_TRUE(c.SameHeads({&a, &b, &end}));
  const std::optional<store::Head> a_at_backup = c.Head(b, "BANKA");
  const std::optional<store::Head> b_at_backup = c.Head(b, "BANKB");
  ASSERT_TRUE(a_at_backup && b_at_backup);

  // The backup, taken with BANKB's daemon running (it holds the store open for writing).
  const fs::path backup = c.dir() / "backup";
  fs::create_directories(backup / "store");
  RunResult copied = MdbCopy(b.store_dir(), backup / "store", compact);
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  ASSERT_TRUE(fs::exists(backup / "store" / "data.mdb"));
  // The bytes to restore, kept aside before anything opens the backup (and adds a lock.mdb).
  const fs::path pristine = c.dir() / "backup.data.mdb";
  fs::copy_file(backup / "store" / "data.mdb", pristine);
  ASSERT_TRUE(b.pid > 0 && c.Running(b)) << "the backup disturbed BANKB\n" << c.Log(b);

  // After the backup: BANKA goes on (three entries and a revocation), and so does BANKB.
  constexpr int kAfter = 3;
  for (int i = 1; i <= kAfter; ++i) {
    ASSERT_FALSE(c.Report(a, "qq", std::to_string(40100 + i)).empty());
  }
  ASSERT_TRUE(c.Revoke(a, "BANKA:1"));
  ASSERT_EQ(c.Report(b, "wechat", "backup_after"), "BANKB:2");
  const uint64_t a_head = kBefore + kAfter + 1;
  ASSERT_TRUE(Eventually([&] {
    return c.HeadSeq(b, "BANKA") == a_head && c.HeadSeq(a, "BANKB") == 2 &&
           c.HeadSeq(end, "BANKB") == 2;
  })) << Logs(c, line);

  // The backup holds exactly what BANKB held when it was taken, and is a sound store.
  {
    Node snapshot = SnapshotHome(c, backup);
    std::vector<store::Head> heads = c.Heads(snapshot);
    ASSERT_EQ(heads.size(), 2u);
    std::optional<store::Head> ha = c.Head(snapshot, "BANKA");
    std::optional<store::Head> hb = c.Head(snapshot, "BANKB");
    ASSERT_TRUE(ha && hb);
    EXPECT_EQ(ha->seq, a_at_backup->seq);
    EXPECT_EQ(ha->hash, a_at_backup->hash);
    EXPECT_EQ(hb->seq, b_at_backup->seq);
    EXPECT_EQ(hb->hash, b_at_backup->hash);
    EXPECT_TRUE(SoundStore(c, snapshot));
    for (int i = 1; i <= kBefore; ++i) {
      EXPECT_TRUE(c.Listed(snapshot, IdType::kQq, std::to_string(40000 + i))) << i;
    }
    EXPECT_TRUE(c.Find(snapshot, IdType::kQq, "40101").empty());
    EXPECT_TRUE(c.Listed(snapshot, IdType::kWechat, "backup_before"));
    EXPECT_TRUE(c.Find(snapshot, IdType::kWechat, "backup_after").empty());
  }

  // Restore: stop BANKB, put the backup in place of its store, start it again.
  ASSERT_EQ(c.Stop(b), 0) << c.Log(b);
  EXPECT_TRUE(c.Logged(b, kStoppedLine));
  for (const char* file : {"data.mdb", "lock.mdb"}) fs::remove(b.store_dir() / file);
  fs::copy_file(pristine, b.store_dir() / "data.mdb");
  fs::permissions(b.store_dir() / "data.mdb", fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_EQ(c.HeadSeq(b, "BANKA"), a_at_backup->seq);
  ASSERT_EQ(c.HeadSeq(b, "BANKB"), b_at_backup->seq);
  ASSERT_TRUE(c.Start(b));

  // BANKB catches up on BANKA's feed and on its own (from BANKA and BANKC, which kept it).
  EXPECT_TRUE(Eventually([&] {
    return c.HeadSeq(b, "BANKA") == a_head && c.HeadSeq(b, "BANKB") == 2;
  })) << Logs(c, line);
  EXPECT_TRUE(c.Listed(b, IdType::kQq, "40103"));
  EXPECT_TRUE(c.Revoked(b, IdType::kQq, "40001"));
  EXPECT_FALSE(c.Listed(b, IdType::kQq, "40001"));
  EXPECT_TRUE(c.Listed(b, IdType::kWechat, "backup_after"));
  EXPECT_TRUE(Eventually([&] {
    return bool(c.SameHeads({&a, &b, &end}));
  })) << c.SameHeads({&a, &b, &end});
  EXPECT_TRUE(SoundStore(c, b));

  // BANKB signs on from where its feed really ended: seq 3, not a second seq 2 (which would be
  // equivocation, and freeze BANKB's feed everywhere).
  EXPECT_EQ(c.Report(b, "wechat", "backup_restored"), "BANKB:3");
  EXPECT_TRUE(Eventually([&] {
    return c.Listed(a, IdType::kWechat, "backup_restored") &&
           c.Listed(end, IdType::kWechat, "backup_restored");
  })) << Logs(c, line);
  for (Node* n : line) {
    EXPECT_TRUE(c.AllEvidence(*n).empty()) << n->code << " holds evidence of a fork";
    std::optional<store::Head> h = c.Head(*n, "BANKB");
    ASSERT_TRUE(h);
    EXPECT_FALSE(h->frozen) << n->code;
  }
  EXPECT_TRUE(Eventually([&] {
    return bool(c.SameHeads({&a, &b, &end}));
  })) << c.SameHeads({&a, &b, &end});
  for (Node* n : line) EXPECT_EQ(c.Stop(*n), 0) << n->code;
}

INSTANTIATE_TEST_SUITE_P(MdbCopy, BackupRestoreTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Compacting") : std::string("Plain");
                         });

// mdb_copy while writers are busy: BANKA's store while `duanka-admin report --batch` publishes
// into it, BANKB's while its daemon ingests the same records from BANKA. Each copy is a sound
// store holding a prefix of the feed (between the heads seen just before and just after it).
TEST(BackupWhileWritingTest, CopiesTakenDuringWritesAreSoundStores) {
  ASSERT_TRUE(fs::exists(kMdbCopy)) << kMdbCopy << " is missing: apt-get install lmdb-utils";
  // Large enough that the batch takes a few seconds on a busy 2-core machine, so that several
  // copies land in the middle of it.
  constexpr uint64_t kRecords = 30'000;
  constexpr uint64_t kFirstQq = 600'000'000;
  // Copies taken per store at most (each is verified in full afterwards).
  constexpr size_t kMaxCopies = 6;
  // How often the heads are looked at for a change worth a copy.
  constexpr Millis kCopyInterval{20};
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB");
  c.Dial(b, a);
  ASSERT_TRUE(c.StartAll());

  const fs::path batch = c.dir() / "batch.csv";
  {
    std::ofstream out(batch);
    for (uint64_t i = 0; i < kRecords; ++i) out << "qq," << kFirstQq + i << ",sold\n";
  }
  RunResult reported;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    reported = c.Admin(a, {"report", "--batch", batch.string()});
    writing = false;
  });

  struct Copy {
    const Node* node;
    fs::path dir;
    uint64_t before = 0;  // the node's head of BANKA just before the copy
    uint64_t after = 0;   // and just after
    bool compact = false;
  };
  // A copy of a node whenever its head has moved since its last copy, until both nodes hold
  // the whole feed (or the deadline passes): each copy races a writer that commits batch after
  // batch (10,000 lines per transaction at BANKA, one `records` message per commit at BANKB).
  std::vector<Copy> copies;
  std::map<std::string, std::optional<uint64_t>> copied_at;
  const auto deadline = std::chrono::steady_clock::now() + kEventually;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all_done = !writing;
    for (const Node* n : {&a, &b}) {
      const uint64_t seq = c.HeadSeq(*n, "BANKA");
      if (seq < kRecords) all_done = false;
      std::optional<uint64_t>& last = copied_at[n->code];
      if ((last && *last == seq) || seq == kRecords) continue;
      size_t of_node = 0;
      for (const Copy& k : copies) of_node += k.node == n ? 1 : 0;
      if (of_node >= kMaxCopies) continue;
      Copy copy;
      copy.node = n;
      copy.compact = of_node % 2 == 0;
      copy.dir = c.dir() / ("copy-" + n->code + "-" + std::to_string(of_node));
      fs::create_directories(copy.dir / "store");
      copy.before = c.HeadSeq(*n, "BANKA");
      RunResult r = MdbCopy(n->store_dir(), copy.dir / "store", copy.compact);
      copy.after = c.HeadSeq(*n, "BANKA");
      ASSERT_EQ(r.exit_code, 0) << r.err;
      last = copy.before;
      copies.push_back(copy);
    }
    if (all_done) break;
    std::this_thread::sleep_for(kCopyInterval);
  }
  writer.join();
  ASSERT_EQ(reported.exit_code, 0) << reported.err;
  ASSERT_TRUE(Eventually([&] { return c.HeadSeq(b, "BANKA") == kRecords; }))
      << "BANKB holds " << c.HeadSeq(b, "BANKA") << "\n"
      << c.Log(b);

  int mid_write = 0;
  std::string taken;
  for (const Copy& copy : copies) {
    taken += " " + copy.node->code + "@" + std::to_string(copy.before) + ".." +
             std::to_string(copy.after) + (copy.compact ? "(-c)" : "");
    SCOPED_TRACE(copy.dir.filename().string() + (copy.compact ? " (mdb_copy -c)" : " (mdb_copy)"));
    Node snapshot = SnapshotHome(c, copy.dir);
    const uint64_t seq = c.HeadSeq(snapshot, "BANKA");
    EXPECT_GE(seq, copy.before);
    EXPECT_LE(seq, copy.after);
    if (seq > 0 && seq < kRecords) ++mid_write;
    if (seq == 0) continue;  // taken before the first batch committed: an empty, sound store
    EXPECT_TRUE(SoundStore(c, snapshot));
    // The subjects index agrees with the feed: the last entry held is listed, the next is not.
    const uint64_t last_qq = kFirstQq + seq - 1;
    EXPECT_TRUE(c.Listed(snapshot, IdType::kQq, std::to_string(last_qq)));
    EXPECT_TRUE(c.Find(snapshot, IdType::kQq, std::to_string(last_qq + 1)).empty());
    c.WithStore(snapshot, [&](const store::Store& s) {
      Result<store::Stats> stats = s.GetStats(node::SystemNow());
      ASSERT_TRUE(stats.ok()) << stats.error().message;
      ASSERT_EQ(stats->issuers.size(), 1u);
      EXPECT_EQ(stats->issuers[0].records, seq);
      EXPECT_EQ(stats->issuers[0].active_entries, seq);
    });
  }
  ::testing::Test::RecordProperty("copies", taken);
  std::cout << "copies (node@head before..after):" << taken << "\n";
  ::testing::Test::RecordProperty("copies_mid_write", mid_write);
  // At least one copy must have landed inside the writes, or nothing was tested.
  EXPECT_GE(mid_write, 1) << "every copy was taken before or after the writes";
  EXPECT_EQ(c.Stop(b), 0);
  EXPECT_EQ(c.Stop(a), 0);
}

}  // namespace
}  // namespace duanka::integration
