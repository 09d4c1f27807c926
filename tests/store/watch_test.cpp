// Re-screening in the store: a watched subject's listing raises one `listed` alert in the
// transaction that appends it, its revocation, expiry, key withdrawal or release from a hold raise
// exactly what changed, alerts are numbered without gaps and survive a reopen, and delivery cursors
// only move forward. Unwatched subjects raise nothing.
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

class WatchTest : public ::testing::Test {
 protected:
  WatchTest() {
    trust_.Add(bank_.signer());
    Open(0);
  }

  void Open(uint64_t daily_limit) {
    store_.reset();
    Options options;
    options.path = dir_.path() / "store";
    options.flood.daily_entries = daily_limit;
    store_ = std::move(Store::Open(options)).value();
  }

  AppendResult Append(const std::vector<SignedRecord>& records, int64_t now = kTestNow) {
    std::vector<protocol::VerifiedRecord> verified;
    for (const SignedRecord& r : records) {
      verified.push_back(duanka::testing::MustVerify(r, trust_, kTestNow));
    }
    Result<AppendResult> result = store_->Append(verified, now);
    EXPECT_TRUE(result.ok()) << result.error().message;
    return result.ok() ? *result : AppendResult{};
  }

  WatchChange Watch(uint64_t subject, const std::string& ref, int64_t now = kTestNow) {
    WatchItem item{{TestSubject(subject)}, ref};
    Result<WatchChange> change = store_->Watch(std::span(&item, 1), now);
    EXPECT_TRUE(change.ok()) << change.error().message;
    return change.ok() ? *change : WatchChange{};
  }

  std::vector<Alert> AlertsAfter(uint64_t after) { return store_->Alerts(after, 100).value(); }

  duanka::testing::TempDir dir_;
  TestIssuer bank_{"BANKA"};
  protocol::Trust trust_;
  std::unique_ptr<Store> store_;
};

TEST_F(WatchTest, AWatchedSubjectsListingRaisesOneListedAlertWithItsRefs) {
  EXPECT_EQ(Watch(1, "CUST-2").changed, 1u);
  EXPECT_EQ(Watch(1, "CUST-1").changed, 1u);
  EXPECT_EQ(store_->WatchCount().value(), 2u);

  Append({bank_.Entry(TestSubject(2)), bank_.Entry(TestSubject(1), protocol::Category::kSold)});
  std::vector<Alert> alerts = AlertsAfter(0);
  ASSERT_EQ(alerts.size(), 1u) << "the unwatched subject raises nothing";
  const Alert& a = alerts[0];
  EXPECT_EQ(a.id, 1u);
  EXPECT_EQ(a.kind, AlertKind::kListed);
  EXPECT_EQ(a.at, kTestNow);
  EXPECT_EQ(a.subject, TestSubject(1));
  EXPECT_EQ(a.entry.ToString(), EntryId({"BANKA", 2}).ToString());
  EXPECT_EQ(a.id_type, protocol::IdType::kPhone);
  EXPECT_EQ(a.category, protocol::Category::kSold);
  EXPECT_EQ(a.basis, protocol::Basis::kPsbIdentified);
  EXPECT_EQ(a.expires_at, kTestNow + 2 * kYear);
  EXPECT_TRUE(a.reason.empty());
  EXPECT_EQ(a.refs, (std::vector<std::string>{"CUST-1", "CUST-2"}));
  EXPECT_EQ(store_->LastAlertId().value(), 1u);
}

TEST_F(WatchTest, WatchingIsIdempotentAndUnwatchingStopsAlerts) {
  EXPECT_EQ(Watch(1, "CUST-1").changed, 1u);
  WatchChange again = Watch(1, "CUST-1");
  EXPECT_EQ(again.changed, 0u);
  EXPECT_EQ(again.unchanged, 1u);
  EXPECT_EQ(store_->WatchCount().value(), 1u);

  WatchItem item{{TestSubject(1)}, "CUST-1"};
  EXPECT_EQ(store_->Unwatch(std::span(&item, 1)).value().changed, 1u);
  EXPECT_EQ(store_->Unwatch(std::span(&item, 1)).value().unchanged, 1u);
  EXPECT_EQ(store_->WatchCount().value(), 0u);
  Append({bank_.Entry(TestSubject(1))});
  EXPECT_TRUE(AlertsAfter(0).empty());
}

TEST_F(WatchTest, ARevocationClearsWithItsReasonAndARepeatedEntryAlertsOnce) {
  Watch(1, "CUST-1");
  SignedRecord entry = bank_.Entry(TestSubject(1));
  Append({entry});
  Append({entry});  // a duplicate from a second peer changes nothing
  ASSERT_EQ(AlertsAfter(0).size(), 1u);
  Append({bank_.Revoke(EntryId{"BANKA", 1}, protocol::RevocationReason::kAppealUpheld)});
  std::vector<Alert> alerts = AlertsAfter(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].id, 2u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kCleared);
  EXPECT_EQ(alerts[0].reason, "appeal-upheld");
  EXPECT_EQ(alerts[0].entry.seq, 1u);
  EXPECT_EQ(alerts[0].refs, std::vector<std::string>{"CUST-1"});
}

TEST_F(WatchTest, AnEntryAndItsRevocationInOneBatchRaiseBothInOrder) {
  Watch(1, "CUST-1");
  SignedRecord entry = bank_.Entry(TestSubject(1));
  Append({entry, bank_.Revoke(EntryId{"BANKA", 1})});
  std::vector<Alert> alerts = AlertsAfter(0);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kListed);
  EXPECT_EQ(alerts[1].kind, AlertKind::kCleared);
  EXPECT_EQ(alerts[1].id, 2u);
}

TEST_F(WatchTest, TheSweepClearsExpiredListingsOnceIncludingThoseScreenedAtWatchTime) {
  const int64_t soon = kTestNow + 100;
  Append({bank_.Entry(TestSubject(1), protocol::Category::kSold, soon)});
  // Watched after the listing: screened by the caller, no alert, but its expiry still clears.
  Watch(1, "CUST-1");
  Watch(2, "CUST-2");
  Append({bank_.Entry(TestSubject(2), protocol::Category::kSold, soon + 50)});
  ASSERT_EQ(AlertsAfter(0).size(), 1u);

  EXPECT_EQ(store_->SweepExpiredAlerts(soon - 1).value(), 0u);
  EXPECT_EQ(store_->SweepExpiredAlerts(soon).value(), 1u);
  EXPECT_EQ(store_->SweepExpiredAlerts(soon).value(), 0u) << "cleared once";
  EXPECT_EQ(store_->SweepExpiredAlerts(soon + 50).value(), 1u);
  std::vector<Alert> alerts = AlertsAfter(1);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kCleared);
  EXPECT_EQ(alerts[0].reason, "expired");
  EXPECT_EQ(alerts[0].refs, std::vector<std::string>{"CUST-1"});
  EXPECT_EQ(alerts[0].at, soon);
  EXPECT_EQ(alerts[1].refs, std::vector<std::string>{"CUST-2"});
}

TEST_F(WatchTest, ARevocationAfterAnUnsweptExpiryClearsAsExpired) {
  const int64_t soon = kTestNow + 100;
  Watch(1, "CUST-1");
  Append({bank_.Entry(TestSubject(1), protocol::Category::kSold, soon)});
  Append({bank_.Revoke(EntryId{"BANKA", 1})}, soon + 10);
  std::vector<Alert> alerts = AlertsAfter(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].reason, "expired");
  EXPECT_EQ(store_->SweepExpiredAlerts(soon + 20).value(), 0u);
}

TEST_F(WatchTest, AHeldEntryAlertsWhenReleasedAndAWithdrawnKeyClearsAndLiftsBack) {
  Open(1);
  Watch(2, "CUST-2");
  Append({bank_.Entry(TestSubject(1)), bank_.Entry(TestSubject(2))});
  EXPECT_TRUE(AlertsAfter(0).empty()) << "a held entry is not listed";
  ASSERT_EQ(store_->ReleaseHeld("BANKA", std::nullopt, kTestNow).value(), 1u);
  std::vector<Alert> alerts = AlertsAfter(0);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kListed);

  const Hash256 key = protocol::KeyId(bank_.key().public_key());
  ASSERT_TRUE(store_->WithdrawKey(key, "BANKA", kTestNow - 3600, kTestNow).ok());
  ASSERT_TRUE(store_->WithdrawKey(key, "BANKA", kTestNow + 3600, kTestNow).ok());
  alerts = AlertsAfter(1);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].kind, AlertKind::kCleared);
  EXPECT_EQ(alerts[0].reason, "key-withdrawn");
  EXPECT_EQ(alerts[1].kind, AlertKind::kListed) << "a later compromise time lifts it";
}

TEST_F(WatchTest, AlertsAndCursorsSurviveAReopenAndCursorsOnlyMoveForward) {
  Watch(1, "CUST-1");
  Append({bank_.Entry(TestSubject(1))});
  Append({bank_.Revoke(EntryId{"BANKA", 1})});
  ASSERT_TRUE(store_->SetAlertCursor("webhook", 2).ok());
  ASSERT_TRUE(store_->SetAlertCursor("webhook", 1).ok());
  Open(0);
  EXPECT_EQ(store_->LastAlertId().value(), 2u);
  EXPECT_EQ(store_->AlertCursor("webhook").value(), 2u);
  EXPECT_EQ(store_->AlertCursor("other").value(), 0u);
  std::vector<Alert> page = store_->Alerts(0, 1).value();
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, 1u);
  EXPECT_TRUE(store_->Alerts(2, 10).value().empty());
  EXPECT_EQ(store_->WatchCount().value(), 1u);
}

TEST_F(WatchTest, ARefOutOfBoundsIsRefusedAndNothingIsWritten) {
  WatchItem items[] = {{{TestSubject(1)}, "OK"}, {{TestSubject(2)}, std::string(65, 'x')}};
  Result<WatchChange> change = store_->Watch(items, kTestNow);
  ASSERT_FALSE(change.ok());
  EXPECT_EQ(change.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(store_->WatchCount().value(), 0u);
}

// Past kWatchFilterAfterProbes appends the store answers "not watched" from an in-memory filter:
// it must never miss a watched subject, including one watched after the filter was built (by
// another handle, as duanka-admin would be beside the daemon).
TEST_F(WatchTest, TheWatchFilterNeverMissesAWatchedSubjectNorOneWatchedAfterItWasBuilt) {
  constexpr uint64_t kUnwatched = 12'000;  // above kWatchFilterAfterProbes
  Watch(1'000'000, "EARLY");
  std::vector<SignedRecord> batch;
  for (uint64_t i = 0; i < kUnwatched; ++i) batch.push_back(bank_.Entry(TestSubject(i + 10)));
  Append(batch);
  Append({bank_.Entry(TestSubject(1'000'000))});
  ASSERT_EQ(AlertsAfter(0).size(), 1u);

  Options other;
  other.path = dir_.path() / "store";
  std::unique_ptr<Store> admin = std::move(Store::Open(other)).value();
  WatchItem late{{TestSubject(2'000'000)}, "LATE"};
  ASSERT_TRUE(admin->Watch(std::span(&late, 1), kTestNow).ok());
  Append({bank_.Entry(TestSubject(2'000'000))});
  std::vector<Alert> alerts = AlertsAfter(1);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].refs, std::vector<std::string>{"LATE"});
}

// After a pepper rotation the list is re-imported with both epochs' subjects: the pair held under
// the old one is the same pair (counted once, but the item did change: a new subject is held).
TEST_F(WatchTest, APairHeldUnderSeveralEpochsCountsOnceAndLeavesOnce) {
  Watch(1, "CUST-1");
  WatchItem both{{TestSubject(101), TestSubject(1)}, "CUST-1"};
  WatchChange added = store_->Watch(std::span(&both, 1), kTestNow).value();
  EXPECT_EQ(added.changed, 1u);
  EXPECT_EQ(added.item_changed, std::vector<bool>{true});
  EXPECT_EQ(store_->WatchCount().value(), 1u);
  EXPECT_EQ(store_->Watch(std::span(&both, 1), kTestNow).value().unchanged, 1u);
  Append({bank_.Entry(TestSubject(101))});
  ASSERT_EQ(AlertsAfter(0).size(), 1u) << "the new epoch's subject alerts";
  WatchChange removed = store_->Unwatch(std::span(&both, 1)).value();
  EXPECT_EQ(removed.changed, 1u);
  EXPECT_EQ(store_->WatchCount().value(), 0u);
}

TEST_F(WatchTest, AnErrorBeforeCommitWritesNothingAndTooManyRefsAreRefused) {
  WatchItem item{{TestSubject(1)}, "CUST-1"};
  bool asked = false;
  Result<WatchChange> aborted =
      store_->Watch(std::span(&item, 1), kTestNow, [&](const WatchChange& c) -> Status {
        asked = true;
        EXPECT_EQ(c.item_changed, std::vector<bool>{true});
        return MakeError(ErrorKind::kIo, "the audit log cannot be written");
      });
  ASSERT_FALSE(aborted.ok());
  EXPECT_TRUE(asked);
  EXPECT_EQ(aborted.error().message, "the audit log cannot be written");
  EXPECT_EQ(store_->WatchCount().value(), 0u);
  Append({bank_.Entry(TestSubject(1))});
  EXPECT_TRUE(AlertsAfter(0).empty()) << "the aborted watch was not written";

  std::vector<WatchItem> many;
  for (size_t i = 0; i <= kMaxRefsPerSubject; ++i) {
    many.push_back(WatchItem{{TestSubject(2)}, "REF#" + std::to_string(i)});
  }
  Result<WatchChange> refused = store_->Watch(many, kTestNow);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(store_->WatchCount().value(), 0u);
  many.pop_back();
  EXPECT_EQ(store_->Watch(many, kTestNow).value().changed, kMaxRefsPerSubject);
}

// A saved filter (duanka-admin watch saves one) is read instead of scanning the list; one made
// stale by a later change is not used.
TEST_F(WatchTest, ASavedWatchFilterIsUsedOnlyWhileTheListIsAsSaved) {
  constexpr uint64_t kUnwatched = 12'000;  // above kWatchFilterAfterProbes
  Watch(1'000'000, "SAVED");
  ASSERT_TRUE(store_->SaveWatchFilter().ok());
  Watch(2'000'000, "AFTER");  // the saved filter is now stale
  Open(0);
  std::vector<SignedRecord> batch;
  for (uint64_t i = 0; i < kUnwatched; ++i) batch.push_back(bank_.Entry(TestSubject(i + 10)));
  Append(batch);
  Append({bank_.Entry(TestSubject(1'000'000)), bank_.Entry(TestSubject(2'000'000))});
  std::vector<Alert> alerts = AlertsAfter(0);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].refs, std::vector<std::string>{"SAVED"});
  EXPECT_EQ(alerts[1].refs, std::vector<std::string>{"AFTER"});

  ASSERT_TRUE(store_->SaveWatchFilter().ok());
  Open(0);
  Append(std::vector<SignedRecord>(batch.begin(), batch.begin() + 1));  // a duplicate: no probe
  batch.clear();
  for (uint64_t i = 0; i < kUnwatched; ++i) batch.push_back(bank_.Entry(TestSubject(i + 50'000)));
  Append(batch);
  Append({bank_.Entry(TestSubject(1'000'000))});
  EXPECT_EQ(AlertsAfter(2).size(), 1u) << "the saved filter holds every watched subject";
}

}  // namespace
}  // namespace duanka::store
