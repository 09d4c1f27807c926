// duanka-admin, the real binary, on a HOME whose store was restored from a backup while the
// network holds more of the institution's own feed: report, report --batch and revoke refuse to
// sign there (a second record at a held seq is a fork) until the store has caught up, unless
// --i-know. The seen head is written here in-process, as duankad writes it when a peer claims
// the feed (tests/integration/own_feed_restore_test.cpp runs it with daemons).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"
#include "node/common/config.h"
#include "store/store.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::RunProgram;
using testing::RunResult;

const std::string kAdmin = DUANKA_ADMIN_BIN;
// Entries before the backup, and after it (which the restored store lacks).
constexpr uint64_t kBeforeBackup = 2;
constexpr uint64_t kAfterBackup = 3;
constexpr uint64_t kNetworkHead = kBeforeBackup + kAfterBackup;
// The exit codes the refusal is documented with (node/admin/README.md).
constexpr int kRefusedExit = 2;
constexpr int kBatchRefusedExit = 3;

class OwnFeedGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", (dir_ / "pepper.key").string()}).exit_code, 0);
    RunResult issue = Admin({"--home", Home(), "pki", "issue", "--ca-dir", Ca(), "--institution",
                             "BANKA", "--role", "member"});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", Home(), "--institution", "BANKA", "--ca",
                            Ca() + "/ca.pem", "--pepper", (dir_ / "pepper.key").string()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string Home() const { return (dir_ / "BANKA").string(); }
  fs::path StoreDir() const { return dir_ / "BANKA" / "store"; }

  RunResult Admin(std::vector<std::string> args) {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args);
  }
  RunResult AtHome(std::vector<std::string> args) {
    args.insert(args.begin(), {"--home", Home()});
    return Admin(std::move(args));
  }

  std::string Report(const std::string& qq) {
    RunResult r = AtHome({"report", "qq", qq, "--category", "sold"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }

  std::unique_ptr<store::Store> OpenStore(bool read_only) {
    store::Options o;
    o.path = StoreDir();
    o.read_only = read_only;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(s).value() : nullptr;
  }

  uint64_t Head() {
    std::unique_ptr<store::Store> s = OpenStore(true);
    if (s == nullptr) return 0;
    Result<std::optional<store::Head>> h = s->GetHead("BANKA");
    EXPECT_TRUE(h.ok());
    return h.ok() && *h ? (*h)->seq : 0;
  }

  // BANKA publishes kBeforeBackup entries, its store is backed up, it publishes kAfterBackup more
  // (exported to `bundle`, as its peers hold them), and the backup is restored; then a peer claims
  // the feed's real head, as duankad notes it.
  void RestoreBehindTheNetwork(const fs::path& bundle) {
    for (uint64_t i = 1; i <= kBeforeBackup; ++i) Report(std::to_string(10000 + i));
    const fs::path backup = dir_ / "backup.data.mdb";
    fs::copy_file(StoreDir() / "data.mdb", backup);
    for (uint64_t i = 1; i <= kAfterBackup; ++i) Report(std::to_string(20000 + i));
    ASSERT_EQ(Head(), kNetworkHead);
    RunResult exported = AtHome({"export", "--out", bundle.string(), "--issuer", "BANKA", "--from",
                                 std::to_string(kBeforeBackup + 1)});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    for (const char* file : {"data.mdb", "lock.mdb"}) fs::remove(StoreDir() / file);
    fs::copy_file(backup, StoreDir() / "data.mdb");
    ASSERT_EQ(Head(), kBeforeBackup);
    std::unique_ptr<store::Store> s = OpenStore(false);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->NoteSeenHead("BANKA", kNetworkHead, node::SystemNow()).ok());
  }

  // The refusal: one line naming both heads and the way out.
  void ExpectRefused(const RunResult& r, int exit_code) {
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    const std::string line =
        "duanka-admin: the network has seen BANKA:" + std::to_string(kNetworkHead) +
        " but this store holds BANKA up to " + std::to_string(kBeforeBackup) +
        ": this store may be restored from a backup; let duankad fetch the "
        "rest (duanka status shows the own feed catching up) or pass "
        "--i-know to publish anyway (a fork freezes BANKA's feed everywhere)";
    EXPECT_NE(r.err.find(line + "\n"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }

  std::vector<nlohmann::json> AuditActions() {
    std::vector<nlohmann::json> out;
    for (const std::string& line : testing::Lines(ReadAll(dir_ / "BANKA" / "audit.log"))) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  fs::path WriteBatch() {
    const fs::path batch = dir_ / "batch.csv";
    std::ofstream(batch) << "qq,30001,sold\nqq,30002,lent\n";
    return batch;
  }

  testing::TempDir dir_;
};

TEST_F(OwnFeedGuardTest, RefusedWhileBehindThenPassesOnceCaughtUp) {
  const fs::path bundle = dir_ / "after-backup.bundle";
  RestoreBehindTheNetwork(bundle);
  const size_t audited = AuditActions().size();

  ExpectRefused(AtHome({"report", "qq", "30000", "--category", "sold"}), kRefusedExit);
  EXPECT_EQ(testing::Lines(AtHome({"report", "qq", "30000", "--category", "sold"}).err).size(), 1u);
  ExpectRefused(AtHome({"revoke", "BANKA:1", "--reason", "issued-in-error"}), kRefusedExit);
  ExpectRefused(AtHome({"report", "--batch", WriteBatch().string()}), kBatchRefusedExit);
  EXPECT_EQ(Head(), kBeforeBackup) << "a refused command appended";
  // The batch run is audited as not completed; nothing else was.
  std::vector<nlohmann::json> actions = AuditActions();
  ASSERT_EQ(actions.size(), audited + 1);
  EXPECT_EQ(actions.back()["action"], "report-batch");
  EXPECT_EQ(actions.back()["completed"], false);
  EXPECT_EQ(actions.back()["published"], 0);

  // Catching up (here by the export the peers hold; duankad fetches the same records).
  RunResult imported = AtHome({"import", bundle.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  ASSERT_EQ(Head(), kNetworkHead);
  RunResult report = AtHome({"report", "qq", "30000", "--category", "sold"});
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "BANKA:" + std::to_string(kNetworkHead + 1) + "\n");
  EXPECT_EQ(report.err, "");
  RunResult revoke = AtHome({"revoke", "BANKA:1", "--reason", "issued-in-error"});
  EXPECT_EQ(revoke.exit_code, 0) << revoke.err;
  RunResult batch = AtHome({"report", "--batch", WriteBatch().string()});
  EXPECT_EQ(batch.exit_code, 0) << batch.err;
  EXPECT_EQ(Head(), kNetworkHead + 4);
}

TEST_F(OwnFeedGuardTest, IKnowPublishesAnywayWithAWarningAndAnAuditMark) {
  RestoreBehindTheNetwork(dir_ / "after-backup.bundle");
  RunResult report = AtHome({"report", "qq", "30000", "--category", "sold", "--i-know"});
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "BANKA:" + std::to_string(kBeforeBackup + 1) + "\n");
  EXPECT_NE(report.err.find("warning: --i-know: the network has seen BANKA:5 but this store holds "
                            "BANKA up to 2; publishing BANKA:3 anyway"),
            std::string::npos)
      << report.err;
  EXPECT_EQ(AuditActions().back()["action"], "report");
  EXPECT_EQ(AuditActions().back()["i_know"], true);

  RunResult revoke =
      AtHome({"revoke", "BANKA:1", "--reason", "issued-in-error", "--i-know", "--json"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_EQ(nlohmann::json::parse(revoke.out)["entry"], "BANKA:4");
  EXPECT_EQ(AuditActions().back()["i_know"], true);

  RunResult batch = AtHome({"report", "--batch", WriteBatch().string(), "--i-know"});
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  EXPECT_EQ(batch.out, "1,published,BANKA:5\n2,published,BANKA:6\n");
  EXPECT_EQ(AuditActions().back()["action"], "report-batch");
  EXPECT_EQ(AuditActions().back()["i_know"], true);
  EXPECT_EQ(Head(), 6u);
  // The head has passed the seen head: no warning, no refusal, no flag needed.
  RunResult after = AtHome({"report", "qq", "30003", "--category", "sold"});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.err, "");
}

TEST_F(OwnFeedGuardTest, ASeenHeadAtOrBelowTheHeadChangesNothing) {
  Report("10001");
  Report("10002");
  {
    std::unique_ptr<store::Store> s = OpenStore(false);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->NoteSeenHead("BANKA", 2, node::SystemNow()).ok());
  }
  RunResult r = AtHome({"report", "qq", "10003", "--category", "sold"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "BANKA:3\n");
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace duanka
