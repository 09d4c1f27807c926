// Withdrawn signing keys in the store: exactly the entries the key signed at or after the
// compromise time are suspended, now and as they arrive; a second withdrawal of the key moves the
// line both ways; and, beside it, the append path's rule that issue times rise along a feed.
#include <gtest/gtest.h>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::kYear;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using protocol::SignedRecord;

// Times after the rise rule's start, so that both rules of this file apply.
constexpr int64_t kT = protocol::kIssueTimesRiseFrom + 10'000;

class WithdrawTest : public ::testing::Test {
 protected:
  WithdrawTest() {
    trust_.Add(bank_.signer());
    Options options;
    options.path = dir_.path() / "store";
    store_ = std::move(Store::Open(options)).value();
  }

  SignedRecord At(uint64_t subject, int64_t issued_at) {
    return bank_.Entry(TestSubject(subject), protocol::Category::kSold, issued_at + kYear,
                       issued_at);
  }
  std::vector<AppendStatus> Append(const std::vector<SignedRecord>& records) {
    std::vector<protocol::VerifiedRecord> verified;
    for (const SignedRecord& r : records) {
      verified.push_back(duanka::testing::MustVerify(r, trust_, kT + 100));
    }
    return store_->Append(verified, kT + 100).value().statuses;
  }
  EntryState State(uint64_t subject) {
    std::vector<Listing> out;
    Hash256 s = TestSubject(subject);
    EXPECT_TRUE(store_->Lookup(std::span(&s, 1), LookupOptions{kT + 100, true}, out).ok());
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? EntryState::kRevoked : out[0].state;
  }
  Hash256 KeyId() const { return protocol::KeyId(bank_.key().public_key()); }

  duanka::testing::TempDir dir_;
  TestIssuer bank_{"BANKA"};
  protocol::Trust trust_;
  std::unique_ptr<Store> store_;
};

TEST_F(WithdrawTest, SuspendsExactlyWhatTheKeySignedAtOrAfterTheTime) {
  Append({At(1, kT - 10), At(2, kT - 1), At(3, kT), At(4, kT + 5)});
  Result<uint64_t> suspended = store_->WithdrawKey(KeyId(), "BANKA", kT, kT);
  ASSERT_TRUE(suspended.ok()) << suspended.error().message;
  EXPECT_EQ(*suspended, 2u);
  EXPECT_EQ(State(1), EntryState::kActive);
  EXPECT_EQ(State(2), EntryState::kActive);
  EXPECT_EQ(State(3), EntryState::kSuspended);
  EXPECT_EQ(State(4), EntryState::kSuspended);
  // `show` can say since when.
  Result<std::optional<Listing>> shown = store_->GetListing(protocol::EntryId{"BANKA", 4}, kT);
  ASSERT_TRUE(shown.ok() && *shown);
  EXPECT_EQ((*shown)->suspended_since, std::optional<int64_t>(kT));
  // Records the key signs later are suspended as they arrive.
  Append({At(5, kT + 20)});
  EXPECT_EQ(State(5), EntryState::kSuspended);
  EXPECT_EQ(store_->WithdrawnSince(KeyId()).value(), std::optional<int64_t>(kT));
}

TEST_F(WithdrawTest, ANewerWithdrawalMovesTheLineBothWays) {
  Append({At(1, kT - 10), At(2, kT), At(3, kT + 10)});
  ASSERT_EQ(store_->WithdrawKey(KeyId(), "BANKA", kT, kT).value(), 2u);
  // The CA set the time too early: a later time lifts entry 2.
  ASSERT_EQ(store_->WithdrawKey(KeyId(), "BANKA", kT + 5, kT).value(), 1u);
  EXPECT_EQ(State(2), EntryState::kActive);
  EXPECT_EQ(State(3), EntryState::kSuspended);
  // And an earlier one widens it.
  ASSERT_EQ(store_->WithdrawKey(KeyId(), "BANKA", kT - 20, kT).value(), 3u);
  EXPECT_EQ(State(1), EntryState::kSuspended);
}

TEST_F(WithdrawTest, AWithdrawalBeforeTheFeedArrivesAppliesAsItDoes) {
  ASSERT_EQ(store_->WithdrawKey(KeyId(), "BANKA", kT, kT).value(), 0u);
  Append({At(1, kT - 1), At(2, kT + 1)});
  EXPECT_EQ(State(1), EntryState::kActive);
  EXPECT_EQ(State(2), EntryState::kSuspended);
}

TEST_F(WithdrawTest, AWithdrawalSurvivesReopen) {
  Append({At(1, kT + 1)});
  ASSERT_EQ(store_->WithdrawKey(KeyId(), "BANKA", kT, kT).value(), 1u);
  Options options;
  options.path = dir_.path() / "store";
  store_.reset();
  store_ = std::move(Store::Open(options)).value();
  EXPECT_EQ(State(1), EntryState::kSuspended);
  EXPECT_EQ(store_->WithdrawnSince(KeyId()).value(), std::optional<int64_t>(kT));
}

TEST_F(WithdrawTest, ARecordDatedBeforeTheOneItFollowsIsMisdated) {
  // The thief's way: sign after the last honest record, dated before it (and before T).
  ASSERT_EQ(Append({At(1, kT)}), std::vector<AppendStatus>{AppendStatus::kAppended});
  EXPECT_EQ(Append({At(2, kT - 1)}), std::vector<AppendStatus>{AppendStatus::kMisdated});
  Result<std::optional<Head>> head = store_->GetHead("BANKA");
  ASSERT_TRUE(head.ok() && *head);
  EXPECT_EQ((*head)->seq, 1u);
}

TEST_F(WithdrawTest, ObjectsAreListedByPrefixInNameOrder) {
  ASSERT_TRUE(store_->PutObject("notice:withdrawal:BANKB:02", "b").ok());
  ASSERT_TRUE(store_->PutObject("notice:resolution:BANKA", "a").ok());
  ASSERT_TRUE(store_->PutObject("crl", "c").ok());
  auto listed = store_->ObjectsWithPrefix("notice:").value();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].first, "notice:resolution:BANKA");
  EXPECT_EQ(listed[1].second, "b");
  EXPECT_TRUE(store_->ObjectsWithPrefix("none:").value().empty());
}

TEST_F(WithdrawTest, AnOwnRecordDatedBeforeTheFeedsLastSaysToCheckTheClock) {
  ASSERT_EQ(Append({At(1, kT)}), std::vector<AppendStatus>{AppendStatus::kAppended});
  // This machine's clock stepped back between two of its own records.
  const protocol::VerifiedRecord behind = duanka::testing::MustVerify(At(2, kT - 1), trust_, kT);
  Result<AppendResult> r = store_->AppendOwn(
      "BANKA",
      [&](const Head&) -> Result<std::vector<protocol::VerifiedRecord>> {
        return std::vector<protocol::VerifiedRecord>{behind};
      },
      kT + 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kConflict) << r.error().message;
  EXPECT_NE(r.error().message.find("BANKA:2 would be dated before the feed's last record"),
            std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("clock"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("NTP"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  EXPECT_EQ(store_->GetHead("BANKA").value()->seq, 1u);
}

}  // namespace
}  // namespace duanka::store

namespace duanka::store {
namespace {

TEST_F(WithdrawTest, RevocationsTheKeySignedSinceTheTimeWithdrawNothing) {
  // Genuine entries; then the thief revokes one of them with the stolen key.
  Append({At(1, kT - 10), At(2, kT - 5)});
  SignedRecord thief_revokes_1 =
      bank_.Revoke(protocol::EntryId{"BANKA", 1}, protocol::RevocationReason::kIssuedInError);
  // (TestIssuer dates revocations before kT; re-sign it dated after the compromise.)
  protocol::Record r = protocol::DecodeRecord(thief_revokes_1.bytes).value();
  r.issued_at = kT + 1;
  thief_revokes_1 = protocol::SignRecord(r, bank_.key()).value();
  Append({thief_revokes_1});
  EXPECT_EQ(State(1), EntryState::kRevoked);
  ASSERT_TRUE(store_->WithdrawKey(KeyId(), "BANKA", kT, kT).ok());
  EXPECT_EQ(State(1), EntryState::kActive);  // the thief's revocation undone
  EXPECT_EQ(State(2), EntryState::kActive);
  // A narrower withdrawal (the revocation was the issuer's after all) puts it back in force.
  ASSERT_TRUE(store_->WithdrawKey(KeyId(), "BANKA", kT + 2, kT).ok());
  EXPECT_EQ(State(1), EntryState::kRevoked);
}

TEST_F(WithdrawTest, ARevocationTheWithdrawnKeySignsLaterWithdrawsNothingOnArrival) {
  Append({At(1, kT - 10)});
  ASSERT_TRUE(store_->WithdrawKey(KeyId(), "BANKA", kT, kT).ok());
  protocol::Record r =
      protocol::DecodeRecord(
          bank_.Revoke(protocol::EntryId{"BANKA", 1}, protocol::RevocationReason::kIssuedInError)
              .bytes)
          .value();
  r.issued_at = kT + 1;
  EXPECT_EQ(Append({protocol::SignRecord(r, bank_.key()).value()}),
            std::vector<AppendStatus>{AppendStatus::kAppended});
  EXPECT_EQ(State(1), EntryState::kActive);
}

// A profile inside the withdrawn range is passed over (it neither lists nor withdraws anything),
// and the entries around it are suspended and lifted as usual.
TEST_F(WithdrawTest, AProfileInTheWithdrawnRangeIsPassedOver) {
  Append({At(1, kT - 10), bank_.Profile(duanka::testing::SampleProfile(), kT + 1), At(3, kT + 2)});
  ASSERT_EQ(store_->WithdrawKey(KeyId(), "BANKA", kT, kT).value(), 1u);
  EXPECT_EQ(State(1), EntryState::kActive);
  EXPECT_EQ(State(3), EntryState::kSuspended);
  ASSERT_EQ(store_->WithdrawKey(KeyId(), "BANKA", kT + 10, kT).value(), 0u);
  EXPECT_EQ(State(3), EntryState::kActive);
  Result<Stats> stats = store_->GetStats(kT + 100);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->issuers.size(), 1u);
  EXPECT_EQ(stats->issuers[0].records, 3u);
  EXPECT_EQ(stats->issuers[0].entries, 2u);
  EXPECT_EQ(stats->issuers[0].revocations, 0u);
}

}  // namespace
}  // namespace duanka::store
