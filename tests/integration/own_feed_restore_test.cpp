// A node whose store is restored from a backup must not fork its own feed: duankad notes the
// head of its own feed that a peer claims past its store's (Store::NoteSeenHead), and
// `duanka-admin report`/`revoke` refuse until the store has caught up. A claim found false (a
// peer that serves nothing of what it claimed) is forgotten, so a liar cannot stop a member
// from publishing.
//
// The restored node is first started where it can learn the head but not fetch the records: it
// dials nobody, and the only peer that reaches it is a rogue connection from this test that
// claims the real head (hash and all, read from BANKB's store) and answers nothing. That makes
// the refusal deterministic; then the node is started again with BANKB reachable and catches up.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/consortium.h"
#include "tests/integration/rogue_peer.h"

namespace duanka::integration {
namespace {

namespace fs = std::filesystem;
namespace msg = protocol::msg;
using testing::RunResult;

// The institution the rogue connection plays (certified by the consortium's CA).
constexpr const char* kRogue = "ROGUE";
// How long a rogue waits for the node's greeting or its want.
constexpr Millis kAnswerDeadline{5000};
// While the rogue holds the claim, the node must not refuse it for silence (that would forget
// the claim): far above any wait of this test.
constexpr int64_t kPatientWantTimeoutMs = 600'000;
// Entries of BANKA before the backup, and after it (the restored store lacks those).
constexpr uint64_t kBeforeBackup = 3;
constexpr uint64_t kAfterBackup = 2;
// A head far past anything BANKA signed: a liar's claim.
constexpr uint64_t kFalseHead = 1'000'000;
// The admin tool's exit code for the refusal (node/admin/README.md).
constexpr int kRefusedExit = 2;
// duankad's log lines (node/daemon/sync_core.cpp).
constexpr const char* kNotedLine = "holds this node's own feed BANKA up to seq ";
constexpr const char* kForgottenLine = "the claim of BANKA up to seq 1000000 was false: forgotten";

class OwnFeedRestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rogue_home_ = c_.dir() / kRogue;
    RunResult issue =
        c_.AdminTool({"--home", rogue_home_.string(), "pki", "issue", "--ca-dir",
                      c_.ca_dir().string(), "--institution", kRogue, "--host", "127.0.0.1"});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
  }

  // A rogue session with `node`: its hello read and the rogue's own sent, or nullptr.
  std::unique_ptr<RogueConnection> Greeted(const Node& node) {
    Result<TlsContext> tls =
        RogueTlsContext(rogue_home_ / "ca.pem", rogue_home_ / "tls.pem", rogue_home_ / "tls.key");
    EXPECT_TRUE(tls.ok()) << tls.error().message;
    if (!tls) return nullptr;
    Result<std::unique_ptr<RogueConnection>> conn =
        RogueConnection::Connect(node.port, *tls, kAnswerDeadline);
    EXPECT_TRUE(conn.ok()) << conn.error().message;
    if (!conn) return nullptr;
    if (!(*conn)->ReadUntil<msg::Hello>(kAnswerDeadline)) return nullptr;
    if (!(*conn)->Send(HelloFrom(kRogue, c_.name()))) return nullptr;
    return std::move(*conn);
  }

  // A rogue session that has claimed BANKA's feed up to kFalseHead (a made-up hash filled with
  // `fill`), been sent a want for it, and seen `node` keep the claim; nullptr, with a test
  // failure, if any step did not happen.
  std::unique_ptr<RogueConnection> LiarClaimingOurFeed(const Node& node, uint8_t fill) {
    std::unique_ptr<RogueConnection> liar = Greeted(node);
    if (liar == nullptr) {
      ADD_FAILURE() << "no rogue session: " << c_.LogText(node);
      return nullptr;
    }
    crypto::Hash256 made_up;
    made_up.bytes.fill(fill);
    if (!liar->Send(msg::Heads{{msg::Head{"BANKA", kFalseHead, made_up, false}}}) ||
        !liar->ReadUntil<msg::Want>(kAnswerDeadline) ||
        !Eventually([&] { return SeenHead(node) == kFalseHead; })) {
      ADD_FAILURE() << "the false claim was not taken: " << c_.LogText(node);
      return nullptr;
    }
    return liar;
  }

  // The seen head of BANKA in `node`'s store (0: none).
  uint64_t SeenHead(const Node& node) {
    uint64_t seq = 0;
    c_.WithStore(node, [&](const store::Store& s) {
      Result<std::optional<std::pair<uint64_t, int64_t>>> seen = s.SeenHead("BANKA");
      if (seen.ok() && *seen) seq = (*seen)->first;
    });
    return seq;
  }

  RunResult ReportAt(const Node& node, const std::string& qq) {
    return c_.Admin(node, {"report", "qq", qq, "--category", "sold"});
  }

  static void ExpectRefused(const RunResult& r, uint64_t seen, uint64_t held) {
    EXPECT_EQ(r.exit_code, kRefusedExit) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(testing::Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("duanka-admin: the network has seen BANKA:" + std::to_string(seen) +
                         " but this store holds BANKA up to " + std::to_string(held) +
                         ": this store may be restored from a backup"),
              std::string::npos)
        << r.err;
  }

  Consortium c_;
  fs::path rogue_home_;
};

TEST_F(OwnFeedRestoreTest, RestoredNodeRefusesToReportUntilItHasCaughtUp) {
  std::vector<Node*> line = c_.Line({"BANKA", "BANKB"});
  Node& a = *line[0];
  Node& b = *line[1];
  ASSERT_TRUE(c_.StartAll());
  for (uint64_t i = 1; i <= kBeforeBackup; ++i) {
    ASSERT_EQ(ReportAt(a, std::to_string(60000 + i)).exit_code, 0);
  }
  ASSERT_TRUE(Eventually([&] { return c_.HeadSeq(b, "BANKA") == kBeforeBackup; })) << c_.Log(b);

  // The backup, of the stopped node's store.
  ASSERT_EQ(c_.Stop(a), 0) << c_.Log(a);
  const fs::path backup = c_.dir() / "backup.data.mdb";
  fs::copy_file(a.store_dir() / "data.mdb", backup);
  ASSERT_TRUE(c_.Start(a));
  for (uint64_t i = 1; i <= kAfterBackup; ++i) {
    ASSERT_EQ(ReportAt(a, std::to_string(61000 + i)).exit_code, 0);
  }
  const uint64_t network_head = kBeforeBackup + kAfterBackup;
  ASSERT_TRUE(Eventually([&] { return c_.HeadSeq(b, "BANKA") == network_head; })) << c_.Log(b);
  const std::optional<store::Head> real = c_.Head(b, "BANKA");
  ASSERT_TRUE(real);

  // Restore: BANKA is back at the backup's head, and reaches nobody but the rogue.
  ASSERT_EQ(c_.Stop(a), 0) << c_.Log(a);
  for (const char* file : {"data.mdb", "lock.mdb"}) fs::remove(a.store_dir() / file);
  fs::copy_file(backup, a.store_dir() / "data.mdb");
  ASSERT_EQ(c_.HeadSeq(a, "BANKA"), kBeforeBackup);
  const std::vector<std::string> peers = a.peers;
  a.peers.clear();
  a.limits["want_timeout_ms"] = kPatientWantTimeoutMs;
  ASSERT_TRUE(c_.Start(a));
  std::unique_ptr<RogueConnection> rogue = Greeted(a);
  ASSERT_NE(rogue, nullptr) << c_.Log(a);
  ASSERT_TRUE(rogue->Send(msg::Heads{{msg::Head{"BANKA", real->seq, real->hash, false}}}));
  // BANKA notes the head and asks the rogue for its own missing records.
  std::optional<msg::Want> want = rogue->ReadUntil<msg::Want>(kAnswerDeadline);
  ASSERT_TRUE(want) << c_.Log(a);
  EXPECT_EQ(want->issuer, "BANKA");
  EXPECT_EQ(want->from_seq, kBeforeBackup + 1);
  ASSERT_TRUE(Eventually([&] { return SeenHead(a) == network_head; })) << c_.Log(a);
  EXPECT_TRUE(c_.Logged(a, kNotedLine + std::to_string(network_head)));

  ExpectRefused(ReportAt(a, "62001"), network_head, kBeforeBackup);
  ExpectRefused(c_.Admin(a, {"revoke", "BANKA:1", "--reason", "issued-in-error"}), network_head,
                kBeforeBackup);
  EXPECT_EQ(c_.HeadSeq(a, "BANKA"), kBeforeBackup) << "a refused command appended";

  // With BANKB reachable, BANKA fetches its own records and may publish again, at the next seq.
  rogue.reset();
  ASSERT_EQ(c_.Stop(a), 0) << c_.Log(a);
  a.peers = peers;
  a.limits.erase("want_timeout_ms");
  ASSERT_TRUE(c_.Start(a));
  ASSERT_TRUE(Eventually([&] { return c_.HeadSeq(a, "BANKA") == network_head; })) << c_.Log(a);
  EXPECT_EQ(c_.Head(a, "BANKA")->hash, real->hash);
  RunResult report = ReportAt(a, "62001");
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "BANKA:" + std::to_string(network_head + 1) + "\n");
  ASSERT_TRUE(Eventually([&] { return c_.Listed(b, protocol::IdType::kQq, "62001"); }))
      << c_.Log(a) << c_.Log(b);
  EXPECT_TRUE(Eventually([&] { return bool(c_.SameHeads({&a, &b})); })) << c_.SameHeads({&a, &b});
  for (Node* n : line) {
    EXPECT_TRUE(c_.AllEvidence(*n).empty()) << n->code << " holds evidence of a fork";
    std::optional<store::Head> h = c_.Head(*n, "BANKA");
    ASSERT_TRUE(h);
    EXPECT_FALSE(h->frozen) << n->code;
    Result<uint64_t> verified = c_.VerifyFeed(*n, "BANKA");
    ASSERT_TRUE(verified.ok()) << n->code << ": " << verified.error().message;
    EXPECT_EQ(*verified, network_head + 1) << n->code;
  }
  for (Node* n : line) EXPECT_EQ(c_.Stop(*n), 0) << n->code;
}

TEST_F(OwnFeedRestoreTest, AFalseClaimIsForgottenWhenItsPeerServesNothing) {
  Node& a = c_.Add("BANKA");
  ASSERT_TRUE(c_.Start(a));
  ASSERT_EQ(ReportAt(a, "63001").exit_code, 0);
  std::unique_ptr<RogueConnection> liar = LiarClaimingOurFeed(a, 0x5a);
  ASSERT_NE(liar, nullptr);
  ExpectRefused(ReportAt(a, "63002"), kFalseHead, 1);

  // It serves nothing of what it claimed: penalised, and its claim forgotten.
  ASSERT_TRUE(liar->Send(msg::Records{}));
  EXPECT_TRUE(liar->WaitClosed(kAnswerDeadline));
  ASSERT_TRUE(Eventually([&] { return SeenHead(a) == 0; })) << c_.Log(a);
  EXPECT_TRUE(c_.Logged(a, kForgottenLine)) << c_.Log(a);
  RunResult report = ReportAt(a, "63002");
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "BANKA:2\n");
  EXPECT_EQ(c_.Stop(a), 0);
}

// A claim from a peer penalised for anything (here: bytes that are not frames, while its want of
// our own feed is outstanding) is forgotten with it: a peer that lies and then sends garbage must
// not keep duanka-admin from publishing (a stolen replica's key could otherwise do it for good).
TEST_F(OwnFeedRestoreTest, AClaimFromAPeerPenalisedForGarbageIsForgotten) {
  Node& a = c_.Add("BANKA");
  ASSERT_TRUE(c_.Start(a));
  ASSERT_EQ(ReportAt(a, "64001").exit_code, 0);
  std::unique_ptr<RogueConnection> liar = LiarClaimingOurFeed(a, 0x5b);
  ASSERT_NE(liar, nullptr);

  ASSERT_TRUE(liar->SendRaw(std::string(64, '\xff')));
  EXPECT_TRUE(liar->WaitClosed(kAnswerDeadline));
  ASSERT_TRUE(Eventually([&] { return SeenHead(a) == 0; })) << c_.Log(a);
  EXPECT_TRUE(c_.Logged(a, "came from a peer refused for misbehaving: forgotten")) << c_.Log(a);
  RunResult report = ReportAt(a, "64002");
  EXPECT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(report.out, "BANKA:2\n");
  EXPECT_EQ(c_.Stop(a), 0);
}

}  // namespace
}  // namespace duanka::integration
