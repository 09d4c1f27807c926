// The flood guard in the store: an issuer's entries past its daily limit (by issue day) are held,
// counted the same after a reopen, reported once per crossing, and answered as listed again once
// their day is released; a released day holds nothing more.
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

constexpr uint64_t kLimit = 3;
constexpr int64_t kDay = 86400;
constexpr int64_t kToday = kTestNow - 60;
constexpr int64_t kTwoDaysAgo = kTestNow - 2 * kDay;

class HoldTest : public ::testing::Test {
 protected:
  HoldTest() {
    trust_.Add(bank_.signer());
    trust_.Add(other_.signer());
    Open(kLimit);
  }

  void Open(uint64_t daily, std::map<std::string, uint64_t, std::less<>> per_issuer = {}) {
    store_.reset();
    Options options;
    options.path = dir_.path() / "store";
    options.flood.daily_entries = daily;
    options.flood.per_issuer = std::move(per_issuer);
    store_ = std::move(Store::Open(options)).value();
  }

  SignedRecord Entry(TestIssuer& issuer, uint64_t subject, int64_t issued_at = kToday) {
    return issuer.Entry(TestSubject(subject), protocol::Category::kSold, kTestNow + kYear,
                        issued_at);
  }
  AppendResult Append(const std::vector<SignedRecord>& records) {
    std::vector<protocol::VerifiedRecord> verified;
    for (const SignedRecord& r : records) {
      verified.push_back(duanka::testing::MustVerify(r, trust_, kTestNow));
    }
    Result<AppendResult> result = store_->Append(verified, kTestNow);
    EXPECT_TRUE(result.ok()) << result.error().message;
    return result.ok() ? *result : AppendResult{};
  }
  EntryState State(uint64_t subject) {
    std::vector<Listing> out;
    Hash256 s = TestSubject(subject);
    EXPECT_TRUE(store_->Lookup(std::span(&s, 1), LookupOptions{kTestNow, false}, out).ok());
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? EntryState::kExpired : out[0].state;
  }
  std::vector<HeldDay> Days() { return store_->HeldDays().value(); }

  duanka::testing::TempDir dir_;
  TestIssuer bank_{"BANKA"};
  TestIssuer other_{"BANKB"};
  protocol::Trust trust_;
  std::unique_ptr<Store> store_;
};

TEST_F(HoldTest, EntriesPastTheDailyLimitAreHeldAndTheCrossingIsReportedOnce) {
  AppendResult first = Append({Entry(bank_, 1), Entry(bank_, 2), Entry(bank_, 3), Entry(bank_, 4)});
  EXPECT_EQ(first.appended, 4u);
  EXPECT_EQ(first.held, 1u);
  ASSERT_EQ(first.crossings.size(), 1u);
  EXPECT_EQ(first.crossings[0].issuer, "BANKA");
  EXPECT_EQ(first.crossings[0].day, DayOf(kToday));
  EXPECT_EQ(first.crossings[0].limit, kLimit);
  for (uint64_t s : {1, 2, 3}) EXPECT_EQ(State(s), EntryState::kActive) << s;
  EXPECT_EQ(State(4), EntryState::kHeld);

  AppendResult second = Append({Entry(bank_, 5)});
  EXPECT_EQ(second.held, 1u);
  EXPECT_TRUE(second.crossings.empty()) << "a day's crossing is reported once";
  EXPECT_EQ(State(5), EntryState::kHeld);

  std::vector<HeldDay> days = Days();
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].issuer, "BANKA");
  EXPECT_EQ(days[0].day, DayOf(kToday));
  EXPECT_EQ(days[0].entries, 5u);
  EXPECT_EQ(days[0].held, 2u);
  EXPECT_FALSE(days[0].released);
}

TEST_F(HoldTest, TheCountSurvivesAReopenAndIsKeptPerIssuerAndPerIssueDay) {
  Append({Entry(bank_, 1, kTwoDaysAgo), Entry(bank_, 2, kTwoDaysAgo), Entry(bank_, 3, kTwoDaysAgo),
          Entry(bank_, 4, kTwoDaysAgo)});
  EXPECT_EQ(State(4), EntryState::kHeld);
  Open(kLimit);
  // Another day starts its own count; another issuer has its own.
  Append({Entry(bank_, 5), Entry(bank_, 6), Entry(other_, 7), Entry(other_, 8), Entry(other_, 9)});
  EXPECT_EQ(State(5), EntryState::kActive);
  EXPECT_EQ(State(6), EntryState::kActive);
  EXPECT_EQ(State(9), EntryState::kActive);
  AppendResult more = Append({Entry(bank_, 10), Entry(bank_, 11)});
  EXPECT_EQ(State(10), EntryState::kActive);
  EXPECT_EQ(State(11), EntryState::kHeld) << "the fourth of today after a reopen";
  EXPECT_EQ(more.crossings.size(), 1u);
}

TEST_F(HoldTest, AnIssuersOverrideReplacesTheDefaultAndNoLimitHoldsNothing) {
  Open(kLimit, {{"BANKB", 1}});
  Append({Entry(other_, 1), Entry(other_, 2), Entry(bank_, 3), Entry(bank_, 4)});
  EXPECT_EQ(State(1), EntryState::kActive);
  EXPECT_EQ(State(2), EntryState::kHeld);
  EXPECT_EQ(State(4), EntryState::kActive);

  Open(0);
  AppendResult unlimited = Append({Entry(bank_, 5), Entry(bank_, 6), Entry(bank_, 7)});
  EXPECT_EQ(unlimited.held, 0u);
  EXPECT_EQ(State(7), EntryState::kActive);
}

TEST_F(HoldTest, ReleasingADayListsItsHeldEntriesAndHoldsNothingMoreOfThatDay) {
  Append({Entry(bank_, 1, kTwoDaysAgo), Entry(bank_, 2, kTwoDaysAgo), Entry(bank_, 3, kTwoDaysAgo),
          Entry(bank_, 4, kTwoDaysAgo), Entry(bank_, 5), Entry(bank_, 6), Entry(bank_, 7),
          Entry(bank_, 8)});
  EXPECT_EQ(State(4), EntryState::kHeld);
  EXPECT_EQ(State(8), EntryState::kHeld);

  Result<uint64_t> released = store_->ReleaseHeld("BANKA", DayOf(kTwoDaysAgo), kTestNow);
  ASSERT_TRUE(released.ok()) << released.error().message;
  EXPECT_EQ(*released, 1u);
  EXPECT_EQ(State(4), EntryState::kActive);
  EXPECT_EQ(State(8), EntryState::kHeld) << "only the day released";

  Result<uint64_t> all = store_->ReleaseHeld("BANKA", std::nullopt, kTestNow);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 1u);
  EXPECT_EQ(State(8), EntryState::kActive);
  AppendResult later = Append({Entry(bank_, 9)});
  EXPECT_EQ(later.held, 0u) << "a released day holds nothing more";
  EXPECT_EQ(State(9), EntryState::kActive);

  std::vector<HeldDay> days = Days();
  ASSERT_EQ(days.size(), 2u);
  for (const HeldDay& d : days) {
    EXPECT_EQ(d.held, 0u);
    EXPECT_TRUE(d.released);
  }
  Result<uint64_t> again = store_->ReleaseHeld("BANKA", std::nullopt, kTestNow);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
}

TEST_F(HoldTest, AReleaseBeforeTheEntriesArriveKeepsTheirDayFromBeingHeld) {
  ASSERT_TRUE(store_->ReleaseHeld("BANKA", DayOf(kToday), kTestNow).ok());
  AppendResult result =
      Append({Entry(bank_, 1), Entry(bank_, 2), Entry(bank_, 3), Entry(bank_, 4), Entry(bank_, 5)});
  EXPECT_EQ(result.held, 0u);
  EXPECT_TRUE(result.crossings.empty());
  EXPECT_EQ(State(5), EntryState::kActive);
}

TEST_F(HoldTest, ARevokedHeldEntryIsAnsweredRevokedBeforeAndAfterItsRelease) {
  Append({Entry(bank_, 1), Entry(bank_, 2), Entry(bank_, 3), Entry(bank_, 4)});
  Append({bank_.Revoke(protocol::EntryId{"BANKA", 4})});
  EXPECT_EQ(State(4), EntryState::kRevoked);
  ASSERT_TRUE(store_->ReleaseHeld("BANKA", std::nullopt, kTestNow).ok());
  EXPECT_EQ(State(4), EntryState::kRevoked);
}

}  // namespace
}  // namespace duanka::store
