// VerifyRun, the verification every record from outside goes through (a peer's answer, an
// imported bundle): a run is vouched for in segments of at most kMaxUncheckedRun records, so that
// no stored record is further than that from one whose own signature was checked. Any node can
// then end an answer on a checked record, and an honest relay is never blamed for a record whose
// signature nobody checked.
#include <gtest/gtest.h>

#include "node/common/ingest.h"
#include "tests/support/test_feed.h"

namespace duanka::node {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using protocol::SignedRecord;

// `n` records of `issuer`'s feed from seq 1, linked, each signature garbage except at the seqs
// in `signed_at` (0-based positions): what an issuer that signs chains over unsigned records
// sends.
std::vector<SignedRecord> ChainWithBadInnerSignatures(TestIssuer& issuer, size_t n,
                                                      const std::set<size_t>& signed_at) {
  std::vector<SignedRecord> out;
  crypto::Hash256 prev{};
  for (size_t i = 0; i < n; ++i) {
    SignedRecord r = issuer.Equivocate(i + 1, prev, TestSubject(i));
    if (!signed_at.count(i)) r.signature[0] ^= 0x5a;
    prev = protocol::RecordHash(r);
    out.push_back(std::move(r));
  }
  return out;
}

class IngestTest : public ::testing::Test {
 protected:
  IngestTest() { trust_.Add(bank_a_.signer()); }
  TestIssuer bank_a_{"BANKA"};
  protocol::Trust trust_;
  protocol::VerifyOptions options_{kTestNow};
};

TEST_F(IngestTest, SoundRunLongerThanASegmentVerifiesWhole) {
  std::vector<SignedRecord> run;
  const size_t n = protocol::kMaxUncheckedRun * 2 + 7;
  for (size_t i = 0; i < n; ++i) run.push_back(bank_a_.Entry(TestSubject(i)));
  VerifiedRun v = VerifyRun(run, trust_, options_);
  EXPECT_FALSE(v.error) << v.error->message;
  ASSERT_EQ(v.records.size(), n);
  // Each segment's newest record had its own signature checked.
  for (size_t i = 0; i < n; ++i) {
    bool segment_end = (i + 1) % protocol::kMaxUncheckedRun == 0 || i + 1 == n;
    EXPECT_EQ(v.records[i].signature_checked(), segment_end) << "record " << i + 1;
  }
}

TEST_F(IngestTest, RunVouchedForOnlyByItsLastSignatureIsRefusedBeyondOneSegment) {
  // One valid signature at the very end of a run longer than a segment: a single chain would
  // accept it all, and nobody could then serve its inner records as the end of an answer.
  const size_t n = protocol::kMaxUncheckedRun + 10;
  std::vector<SignedRecord> run = ChainWithBadInnerSignatures(bank_a_, n, {n - 1});
  VerifiedRun v = VerifyRun(run, trust_, options_);
  ASSERT_TRUE(v.error);
  EXPECT_EQ(v.error->kind, ErrorKind::kUnauthorized);
  EXPECT_NE(v.error->message.find("BANKA:1"), std::string::npos) << v.error->message;
  EXPECT_TRUE(v.records.empty());
}

TEST_F(IngestTest, BadInnerSignaturesWithinASegmentAreVouchedForByItsEnd) {
  // The issuer's own misbehaviour, but its bytes are what it vouched for: taken, and the segment
  // ends (which a node serves as answers' ends) are checked records.
  const size_t n = protocol::kMaxUncheckedRun * 2;
  std::vector<SignedRecord> run =
      ChainWithBadInnerSignatures(bank_a_, n, {protocol::kMaxUncheckedRun - 1, n - 1});
  VerifiedRun v = VerifyRun(run, trust_, options_);
  EXPECT_FALSE(v.error) << v.error->message;
  EXPECT_EQ(v.records.size(), n);
}

TEST_F(IngestTest, BrokenLinkBetweenSegmentsIsFound) {
  std::vector<SignedRecord> run;
  for (size_t i = 0; i < protocol::kMaxUncheckedRun; ++i)
    run.push_back(bank_a_.Entry(TestSubject(i)));
  // The next segment starts a history of its own at the right seq.
  run.push_back(
      bank_a_.Equivocate(protocol::kMaxUncheckedRun + 1, crypto::Hash256{}, TestSubject(999)));
  VerifiedRun v = VerifyRun(run, trust_, options_);
  ASSERT_TRUE(v.error);
  EXPECT_EQ(v.error->kind, ErrorKind::kMalformed);
  EXPECT_NE(v.error->message.find("does not follow"), std::string::npos) << v.error->message;
  EXPECT_EQ(v.records.size(), protocol::kMaxUncheckedRun);
}

TEST_F(IngestTest, RecordDatedAheadOfTheClockIsNotYetNotUnauthorized) {
  SignedRecord ahead =
      bank_a_.Entry(TestSubject(1), protocol::Category::kSold, kTestNow + duanka::testing::kYear,
                    kTestNow + protocol::kDefaultMaxClockSkewSeconds + 60);
  VerifiedRun v = VerifyRun(std::vector<SignedRecord>{ahead}, trust_, options_);
  ASSERT_TRUE(v.error);
  EXPECT_EQ(v.error->kind, ErrorKind::kNotYet) << v.error->message;
}

}  // namespace
}  // namespace duanka::node
