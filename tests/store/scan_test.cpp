// Store::ScanIndex: every entry and every revocation, applied or pending, in one read.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::kYear;
using duanka::testing::MustVerifyAll;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using protocol::Category;
using protocol::EntryId;
using protocol::RevocationReason;

struct Seen {
  EntryId target;
  EntryId by;
  RevocationReason reason;
  bool pending;
  bool operator==(const Seen&) const = default;
};

class ScanTest : public ::testing::Test {
 protected:
  ScanTest() {
    trust_.Add(bank_a_.signer());
    trust_.Add(bank_b_.signer());
    trust_.Add(regulator_.signer());
    Options options;
    options.path = dir_ / "store";
    Result<std::unique_ptr<Store>> s = Store::Open(options);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    if (s.ok()) store_ = std::move(s).value();
  }

  void Append(const std::vector<protocol::SignedRecord>& records) {
    std::vector<VerifiedRecord> verified = MustVerifyAll(records, trust_);
    Result<AppendResult> r = store_->Append(verified, kTestNow);
    ASSERT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    ASSERT_EQ(r->appended, records.size());
  }

  // Scans at `now`: entries by id, revocations in visit order.
  void Scan(int64_t now) {
    entries_.clear();
    revocations_.clear();
    Status s = store_->ScanIndex(
        now, [&](const Listing& l) { entries_.emplace(l.id, l); },
        [&](const EntryId& target, const RevocationInfo& info, bool pending) {
          revocations_.push_back(Seen{target, info.by, info.reason, pending});
        });
    ASSERT_TRUE(s.ok()) << s.error().message;
  }

  duanka::testing::TempDir dir_;
  TestIssuer bank_a_{"BANKA"};
  TestIssuer bank_b_{"BANKB"};
  TestIssuer regulator_{"PBOC", crypto::Role::kRegulator};
  protocol::Trust trust_;
  std::unique_ptr<Store> store_;
  std::map<EntryId, Listing> entries_;
  std::vector<Seen> revocations_;
};

TEST_F(ScanTest, EmptyStoreVisitsNothing) {
  Scan(kTestNow);
  EXPECT_TRUE(entries_.empty());
  EXPECT_TRUE(revocations_.empty());
}

TEST_F(ScanTest, EveryEntryWithItsStateAndEveryRevocationAppliedOrPending) {
  Append({bank_a_.Entry(TestSubject(1), Category::kSold),
          bank_a_.Entry(TestSubject(2), Category::kLent, kTestNow + 10),
          bank_a_.Entry(TestSubject(3)),
          bank_a_.Revoke(EntryId{"BANKA", 3}, RevocationReason::kAppealUpheld)});
  // Two entries about one subject (two duplicates under one key), and a regulator's revocation
  // of BANKB:2, which this store does not hold yet.
  Append({bank_b_.Entry(TestSubject(1), Category::kBroker),
          regulator_.Revoke(EntryId{"BANKB", 2}, RevocationReason::kCourtOrder)});

  Scan(kTestNow + 20);
  ASSERT_EQ(entries_.size(), 4u);
  const Listing& sold = entries_.at(EntryId{"BANKA", 1});
  EXPECT_EQ(sold.state, EntryState::kActive);
  EXPECT_EQ(sold.category, Category::kSold);
  EXPECT_EQ(sold.basis, protocol::Basis::kPsbIdentified);
  EXPECT_EQ(sold.id_type, protocol::IdType::kPhone);
  EXPECT_EQ(sold.issued_at, kTestNow - 60);
  EXPECT_EQ(sold.expires_at, kTestNow + 2 * kYear);
  EXPECT_EQ(sold.subject, TestSubject(1));
  EXPECT_TRUE(sold.case_ref.empty());  // the record is not read
  EXPECT_EQ(entries_.at(EntryId{"BANKA", 2}).state, EntryState::kExpired);
  EXPECT_EQ(entries_.at(EntryId{"BANKA", 3}).state, EntryState::kRevoked);
  EXPECT_EQ(entries_.at(EntryId{"BANKB", 1}).category, Category::kBroker);
  EXPECT_EQ(revocations_,
            (std::vector<Seen>{
                {EntryId{"BANKA", 3}, EntryId{"BANKA", 4}, RevocationReason::kAppealUpheld, false},
                {EntryId{"BANKB", 2}, EntryId{"PBOC", 1}, RevocationReason::kCourtOrder, true}}));

  // Earlier, the short entry was still listed: the state follows `now`.
  Scan(kTestNow);
  EXPECT_EQ(entries_.at(EntryId{"BANKA", 2}).state, EntryState::kActive);

  // Once BANKB:2 arrives the pending revocation is applied, and the scan says so.
  Append({bank_b_.Entry(TestSubject(4), Category::kBought)});
  Scan(kTestNow);
  EXPECT_EQ(entries_.at(EntryId{"BANKB", 2}).state, EntryState::kRevoked);
  ASSERT_EQ(revocations_.size(), 2u);
  EXPECT_EQ(revocations_[1],
            (Seen{EntryId{"BANKB", 2}, EntryId{"PBOC", 1}, RevocationReason::kCourtOrder, false}));
}

TEST_F(ScanTest, AgreesWithGetStats) {
  for (uint64_t i = 1; i <= 50; ++i) {
    Append({bank_a_.Entry(TestSubject(i), Category::kRentedOut,
                          i % 5 == 0 ? kTestNow + 5 : kTestNow + kYear)});
  }
  Append({bank_a_.Revoke(EntryId{"BANKA", 7}), bank_a_.Revoke(EntryId{"BANKA", 10})});
  Scan(kTestNow + 10);
  std::map<EntryState, uint64_t> states;
  for (const auto& [id, l] : entries_) ++states[l.state];
  Result<Stats> stats = store_->GetStats(kTestNow + 10);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->issuers.size(), 1u);
  EXPECT_EQ(entries_.size(), stats->issuers[0].entries);
  EXPECT_EQ(states[EntryState::kRevoked], stats->issuers[0].revoked_entries);
  EXPECT_EQ(states[EntryState::kExpired], stats->issuers[0].expired_entries);
  EXPECT_EQ(states[EntryState::kActive], stats->issuers[0].active_entries);
  EXPECT_EQ(states[EntryState::kExpired], 9u);  // every fifth but BANKA:10, revoked first
  EXPECT_EQ(revocations_.size(), 2u);
}

}  // namespace
}  // namespace duanka::store
