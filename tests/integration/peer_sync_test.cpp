// Records travel between real daemons over real TLS on loopback: reports and revocations cross
// lines and rings of nodes, a node stopped or killed catches up when it comes back, and nothing of
// a large catch-up is lost to a SIGKILL.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "node/common/audit.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

using protocol::IdType;

// The daemon's last line on a clean exit.
constexpr const char* kStoppedLine = " stopped";
// What the daemon logs when it penalises a peer.
constexpr const char* kPenaltyLog = ") refused for ";

// Honest nodes never penalise one another: relaying another member's records is not misbehaving.
// (Penalties are logged as "peer X (...) refused for N s: why".)
::testing::AssertionResult NoPenalties(Consortium& c, const std::vector<Node*>& nodes) {
  for (Node* n : nodes) {
    if (c.Logged(*n, kPenaltyLog)) {
      return ::testing::AssertionFailure() << n->code << " penalised an honest peer:\n"
                                           << c.Log(*n);
    }
  }
  return ::testing::AssertionSuccess();
}

// The logs of every node, for a failure message.
std::string Logs(Consortium& c, const std::vector<Node*>& nodes) {
  std::string out;
  for (Node* n : nodes) out += c.Log(*n);
  return out;
}

TEST(PeerSyncTest, LineOfFiveCarriesReportsAndRevocationsEndToEnd) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANK1", "BANK2", "BANK3", "BANK4", "BANK5"});
  ASSERT_TRUE(c.StartAll());
  Node& first = *line.front();
  Node& last = *line.back();

  const std::string id = c.Report(first, "qq", "10001");
  ASSERT_EQ(id, "BANK1:1");
  ASSERT_TRUE(Eventually([&] { return c.Listed(last, IdType::kQq, "10001"); })) << Logs(c, line);
  // The shipped lookup CLI at the far end agrees, and does not list what nobody reported.
  EXPECT_EQ(c.Duanka(last, {"lookup", "qq", "10001"}).exit_code, 0);
  EXPECT_EQ(c.Duanka(last, {"lookup", "qq", "10002"}).exit_code, 1);

  // The other way along the line.
  ASSERT_EQ(c.Report(last, "phone", "13912345678"), "BANK5:1");
  EXPECT_TRUE(Eventually([&] { return c.Listed(first, IdType::kPhone, "13912345678"); }))
      << Logs(c, line);

  // A revocation travels like any record, and applies at the far end.
  ASSERT_TRUE(c.Revoke(first, id));
  EXPECT_TRUE(Eventually([&] {
    return c.Revoked(last, IdType::kQq, "10001") && !c.Listed(last, IdType::kQq, "10001");
  })) << Logs(c, line);
  EXPECT_EQ(c.Duanka(last, {"lookup", "qq", "10001"}).exit_code, 1);
  EXPECT_TRUE(Eventually([&] { return bool(c.SameHeads(line)); })) << c.SameHeads(line);
  for (Node* n : line) {
    Result<uint64_t> feed = c.VerifyFeed(*n, "BANK1");
    ASSERT_TRUE(feed.ok()) << n->code << ": " << feed.error().message;
    EXPECT_EQ(*feed, 2u) << n->code;
  }
  EXPECT_TRUE(NoPenalties(c, line));
}

TEST(PeerSyncTest, RingOfFourConvergesOnEveryFeed) {
  Consortium c;
  std::vector<Node*> ring = c.Ring({"BANKA", "BANKB", "BANKC", "BANKD"});
  ASSERT_TRUE(c.StartAll());

  // Two reports at opposite corners of the ring at once; each reaches every node.
  const std::string a = c.Report(*ring[0], "qq", "20001");
  const std::string b = c.Report(*ring[2], "wechat", "ring_member");
  ASSERT_EQ(a, "BANKA:1");
  ASSERT_EQ(b, "BANKC:1");
  for (Node* n : ring) {
    EXPECT_TRUE(Eventually([&] {
      return c.Listed(*n, IdType::kQq, "20001") && c.Listed(*n, IdType::kWechat, "ring_member");
    })) << n->code
        << "\n"
        << Logs(c, ring);
  }

  ASSERT_TRUE(c.Revoke(*ring[2], b, "appeal-upheld"));
  for (Node* n : ring) {
    EXPECT_TRUE(Eventually([&] { return c.Revoked(*n, IdType::kWechat, "ring_member"); }))
        << n->code << "\n"
        << Logs(c, ring);
  }
  EXPECT_TRUE(Eventually([&] { return bool(c.SameHeads(ring)); })) << c.SameHeads(ring);
  EXPECT_EQ(c.HeadSeq(*ring[3], "BANKC"), 2u);
  EXPECT_TRUE(NoPenalties(c, ring));
}

// The signatures a node checks to answer wants (metrics: duanka_serve_signature_checks_total).
std::optional<double> ServeSignatureChecks(const Node& n) {
  std::optional<std::string> metrics = HttpGet(n.api_port, "/metrics");
  if (!metrics) return std::nullopt;
  return MetricValue(*metrics, "duanka_serve_signature_checks_total");
}

// An answer must end on a record whose own signature is checked. The origin checks its own new
// records once to serve them (its admin tool wrote them); a relay serves what its ingest checked
// on the way in, and checks nothing again: one signature check less per hop.
TEST(PeerSyncTest, RelayServesWhatItCheckedOnTheWayInWithoutCheckingAgain) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC"});
  ASSERT_TRUE(c.StartAll());
  Node& origin = *line[0];
  Node& relay = *line[1];
  Node& far = *line[2];
  constexpr int kReports = 3;
  for (int i = 0; i < kReports; ++i) {
    const std::string value = std::to_string(20001 + i);
    ASSERT_FALSE(c.Report(origin, "qq", value).empty());
    // One at a time: each record is its own want at each hop.
    ASSERT_TRUE(Eventually([&] { return c.Listed(far, IdType::kQq, value); })) << Logs(c, line);
  }
  std::optional<double> at_origin = ServeSignatureChecks(origin);
  std::optional<double> at_relay = ServeSignatureChecks(relay);
  ASSERT_TRUE(at_origin.has_value() && at_relay.has_value());
  EXPECT_GE(*at_origin, 1.0);
  EXPECT_EQ(*at_relay, 0.0);
  EXPECT_TRUE(NoPenalties(c, line));
}

TEST(PeerSyncTest, StoppedNodeCatchesUpAfterRestart) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC"});
  Node& a = *line[0];
  Node& b = *line[1];
  Node& end = *line[2];
  ASSERT_TRUE(c.StartAll());
  const std::string first = c.Report(a, "qq", "30000");
  ASSERT_TRUE(Eventually([&] { return c.Listed(end, IdType::kQq, "30000"); })) << Logs(c, line);

  // SIGTERM: a clean exit, within the deadline, with its last words in the log.
  EXPECT_EQ(c.Stop(b), 0);
  EXPECT_TRUE(c.Logged(b, kStoppedLine)) << c.Log(b);

  // Meanwhile BANKA goes on: five entries and a revocation, none of which can reach BANKC now
  // (its only link to BANKA is BANKB).
  constexpr int kMeanwhile = 5;
  for (int i = 1; i <= kMeanwhile; ++i) {
    ASSERT_FALSE(c.Report(a, "qq", std::to_string(30000 + i)).empty());
  }
  ASSERT_TRUE(c.Revoke(a, first));
  const uint64_t head = c.HeadSeq(a, "BANKA");
  ASSERT_EQ(head, 1u + kMeanwhile + 1);
  EXPECT_EQ(c.HeadSeq(end, "BANKA"), 1u);

  ASSERT_TRUE(c.Start(b));
  EXPECT_TRUE(Eventually([&] { return c.HeadSeq(end, "BANKA") == head; })) << Logs(c, line);
  EXPECT_TRUE(c.Revoked(end, IdType::kQq, "30000"));
  EXPECT_TRUE(c.Listed(end, IdType::kQq, std::to_string(30000 + kMeanwhile)));

  // The end of the line, too: stopped, behind, restarted, current.
  EXPECT_EQ(c.Stop(end), 0);
  ASSERT_FALSE(c.Report(a, "qq", "30100").empty());
  ASSERT_TRUE(c.Start(end));
  EXPECT_TRUE(Eventually([&] { return c.Listed(end, IdType::kQq, "30100"); })) << Logs(c, line);
  EXPECT_TRUE(Eventually([&] { return bool(c.SameHeads(line)); })) << c.SameHeads(line);
  EXPECT_TRUE(NoPenalties(c, line));
  for (Node* n : line) EXPECT_EQ(c.Stop(*n), 0) << n->code;
}

TEST(PeerSyncTest, NodeKilledDuringLargeCatchUpLosesNothing) {
  constexpr uint64_t kRecords = 20'000;
  // Small wants, one at a time: the catch-up takes a few hundred round trips and commits, so that
  // the SIGKILL below lands in the middle of it rather than after it.
  const std::map<std::string, int64_t> kSlowCatchUp = {{"records_per_want", 128},
                                                       {"wants_in_flight", 1}};
  // The kill comes once a quarter of the feed has arrived: well into the catch-up, with many
  // batches committed before it and many still to come.
  constexpr uint64_t kKillAfter = kRecords / 4;
  // How often the catch-up's progress is looked at, to kill it while it is under way.
  constexpr Millis kProgressPoll{5};
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB", kSlowCatchUp);
  c.Dial(b, a);
  ASSERT_TRUE(c.Start(a));

  // 20,000 entries at BANKA, by the shipped batch reporter.
  const std::filesystem::path batch = c.dir() / "batch.csv";
  {
    std::ofstream out(batch);
    for (uint64_t i = 0; i < kRecords; ++i) out << "qq," << 500'000'000 + i << ",sold\n";
  }
  testing::RunResult reported = c.Admin(a, {"report", "--batch", batch.string()});
  ASSERT_EQ(reported.exit_code, 0) << reported.err;
  ASSERT_EQ(c.HeadSeq(a, "BANKA"), kRecords);

  ASSERT_TRUE(c.Start(b));
  uint64_t at_kill = 0;
  const auto deadline = std::chrono::steady_clock::now() + kEventually;
  while (std::chrono::steady_clock::now() < deadline) {
    at_kill = c.HeadSeq(b, "BANKA");
    if (at_kill >= kKillAfter) break;
    std::this_thread::sleep_for(kProgressPoll);
  }
  c.Kill(b);
  ::testing::Test::RecordProperty("killed_at_seq", std::to_string(at_kill));
  ASSERT_GE(at_kill, kKillAfter) << "the catch-up did not get far\n" << c.Log(b);
  ASSERT_LT(at_kill, kRecords) << "the catch-up finished before the kill; nothing was tested";
  const uint64_t after_kill = c.HeadSeq(b, "BANKA");
  EXPECT_GE(after_kill, at_kill) << "a committed batch was lost";
  // What survived the kill is a sound prefix of the feed.
  Result<uint64_t> prefix = c.VerifyFeed(b, "BANKA");
  ASSERT_TRUE(prefix.ok()) << prefix.error().message;
  EXPECT_EQ(*prefix, after_kill);

  ASSERT_TRUE(c.Start(b));
  ASSERT_TRUE(Eventually([&] { return c.HeadSeq(b, "BANKA") == kRecords; }))
      << "BANKB holds " << c.HeadSeq(b, "BANKA") << "\n"
      << c.Log(b);
  Result<uint64_t> feed = c.VerifyFeed(b, "BANKA");
  ASSERT_TRUE(feed.ok()) << feed.error().message;
  EXPECT_EQ(*feed, kRecords);
  EXPECT_TRUE(c.SameHeads({&a, &b}));
  // Every entry is in BANKB's index too, not just in the feed.
  const int64_t now = node::SystemNow();
  auto entries = [&](const Node& n) {
    uint64_t active = 0;
    c.WithStore(n, [&](const store::Store& s) {
      Result<store::Stats> stats = s.GetStats(now);
      ASSERT_TRUE(stats.ok());
      for (const store::IssuerStats& i : stats->issuers) active += i.active_entries;
    });
    return active;
  };
  EXPECT_EQ(entries(b), kRecords);
  EXPECT_EQ(entries(b), entries(a));
  EXPECT_TRUE(c.Listed(b, IdType::kQq, std::to_string(500'000'000 + kRecords - 1)));

  EXPECT_TRUE(NoPenalties(c, {&a, &b}));
  EXPECT_EQ(c.Stop(b), 0);
  EXPECT_TRUE(c.Logged(b, kStoppedLine));
}

}  // namespace
}  // namespace duanka::integration
