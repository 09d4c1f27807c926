// A bulk withdrawal (duanka-admin revoke --batch, issue 17 section 2) at one end of a line of
// real daemons reaches the other end: every entry shows revoked there.
#include <gtest/gtest.h>

#include <fstream>

#include "node/common/audit.h"
#include "tests/integration/consortium.h"

namespace duanka::integration {
namespace {

// Entries published and then withdrawn in one run each.
constexpr uint64_t kEntries = 10'000;
// Ten thousand records signed, relayed three hops and verified at each on a busy 2-core machine:
// more than kEventually allows for one record.
constexpr Millis kCarried{120'000};

struct StateCounts {
  uint64_t active = 0, revoked = 0, other = 0;
};

StateCounts CountStates(const Consortium& c, const Node& node, const std::string& issuer) {
  StateCounts n;
  c.WithStore(node, [&](const store::Store& s) {
    EXPECT_TRUE(s.ForEachListing(issuer, node::SystemNow(), [&](const store::Listing& l) {
                   if (l.state == store::EntryState::kActive) {
                     ++n.active;
                   } else if (l.state == store::EntryState::kRevoked) {
                     ++n.revoked;
                   } else {
                     ++n.other;
                   }
                 }).ok());
  });
  return n;
}

TEST(BulkRevokeNetworkTest, TenThousandRevocationsAtOneEndOfALineOfFourReachTheFarEnd) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC", "BANKD"});
  ASSERT_TRUE(c.StartAll());
  Node& first = *line.front();
  Node& last = *line.back();

  std::string entries, ids;
  for (uint64_t i = 0; i < kEntries; ++i) {
    entries += "qq," + std::to_string(100'000'000 + i) + ",sold\n";
    ids += "BANKA:" + std::to_string(i + 1) + "\n";
  }
  const std::filesystem::path entries_file = c.dir() / "entries.csv";
  const std::filesystem::path ids_file = c.dir() / "ids.txt";
  std::ofstream(entries_file) << entries;
  std::ofstream(ids_file) << ids;

  testing::RunResult published = c.Admin(first, {"report", "--batch", entries_file.string()});
  ASSERT_EQ(published.exit_code, 0) << published.err;
  ASSERT_TRUE(
      Eventually([&] { return CountStates(c, last, "BANKA").active == kEntries; }, kCarried))
      << c.Log(last);

  testing::RunResult revoked =
      c.Admin(first, {"revoke", "--batch", ids_file.string(), "--reason", "issued-in-error"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  EXPECT_EQ(c.HeadSeq(first, "BANKA"), 2 * kEntries);

  // Every entry shows revoked at the far end, and every node holds the same feed.
  EXPECT_TRUE(
      Eventually([&] { return CountStates(c, last, "BANKA").revoked == kEntries; }, kCarried))
      << c.Log(last);
  StateCounts far = CountStates(c, last, "BANKA");
  EXPECT_EQ(far.active, 0u);
  EXPECT_EQ(far.other, 0u);
  EXPECT_FALSE(c.Listed(last, protocol::IdType::kQq, "100000000"));
  EXPECT_TRUE(c.Revoked(last, protocol::IdType::kQq, "100009999"));
  EXPECT_TRUE(Eventually([&] { return bool(c.SameHeads(line)); })) << c.SameHeads(line);
  Result<uint64_t> feed = c.VerifyFeed(last, "BANKA");
  ASSERT_TRUE(feed.ok()) << feed.error().message;
  EXPECT_EQ(*feed, 2 * kEntries);
}

}  // namespace
}  // namespace duanka::integration
