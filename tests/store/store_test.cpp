#include <algorithm>
// The store's rules, one test each, on a real LMDB environment in a temp dir.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <fstream>
#include <set>
#include <thread>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::kYear;
using duanka::testing::MustVerify;
using duanka::testing::MustVerifyAll;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using protocol::EntryId;

class StoreTest : public ::testing::Test {
 protected:
  StoreTest() {
    trust_.Add(bank_a_.signer());
    trust_.Add(bank_b_.signer());
    trust_.Add(regulator_.signer());
    store_ = OpenStore();
  }

  std::unique_ptr<Store> OpenStore(Options options = {}) {
    options.path = dir_ / "store";
    Result<std::unique_ptr<Store>> s = Store::Open(options);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(s).value() : nullptr;
  }

  AppendResult Append(const std::vector<protocol::SignedRecord>& records, int64_t now = kTestNow) {
    std::vector<VerifiedRecord> verified = MustVerifyAll(records, trust_);
    Result<AppendResult> r = store_->Append(verified, now);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : AppendResult{};
  }

  // BANKA's entries about TestSubject(1) to (n), appended; returns them as signed.
  std::vector<protocol::SignedRecord> AppendEntries(int n) {
    std::vector<protocol::SignedRecord> feed;
    for (int i = 1; i <= n; ++i) feed.push_back(bank_a_.Entry(TestSubject(i)));
    Append(feed);
    return feed;
  }

  std::vector<Listing> Find(const crypto::Hash256& subject, int64_t now = kTestNow,
                            bool details = false) {
    std::vector<Listing> out;
    Status s = store_->Lookup(std::span<const crypto::Hash256>(&subject, 1),
                              LookupOptions{now, details}, out);
    EXPECT_TRUE(s.ok());
    return out;
  }

  Head HeadOf(const std::string& issuer) {
    Result<std::optional<Head>> h = store_->GetHead(issuer);
    EXPECT_TRUE(h.ok());
    return h.ok() && *h ? **h : Head{};
  }

  duanka::testing::TempDir dir_;
  TestIssuer bank_a_{"BANKA"};
  TestIssuer bank_b_{"BANKB"};
  TestIssuer regulator_{"PBOC", crypto::Role::kRegulator};
  protocol::Trust trust_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, AppendedEntryIsFoundByOneLookup) {
  AppendResult r = Append({bank_a_.Entry(TestSubject(1))});
  EXPECT_EQ(r.appended, 1u);
  ASSERT_EQ(r.statuses, std::vector<AppendStatus>{AppendStatus::kAppended});
  std::vector<Listing> found = Find(TestSubject(1), kTestNow, true);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, (EntryId{"BANKA", 1}));
  EXPECT_EQ(found[0].state, EntryState::kActive);
  EXPECT_EQ(found[0].category, protocol::Category::kRentedOut);
  EXPECT_EQ(found[0].basis, protocol::Basis::kPsbIdentified);
  EXPECT_EQ(found[0].id_type, protocol::IdType::kPhone);
  EXPECT_EQ(found[0].case_ref, "case-1");
  EXPECT_EQ(found[0].pepper_epoch, 1u);
  EXPECT_EQ(found[0].expires_at, kTestNow + 2 * kYear);
  EXPECT_TRUE(Find(TestSubject(2)).empty());
  Head head = HeadOf("BANKA");
  EXPECT_EQ(head.seq, 1u);
  EXPECT_EQ(head.last_grew_at, kTestNow);
}

TEST_F(StoreTest, DuplicateRecordIsNoOp) {
  auto first = bank_a_.Entry(TestSubject(1));
  Append({first});
  AppendResult again = Append({first});
  EXPECT_EQ(again.statuses, std::vector<AppendStatus>{AppendStatus::kDuplicate});
  EXPECT_EQ(again.appended, 0u);
  EXPECT_EQ(Find(TestSubject(1)).size(), 1u);
  EXPECT_EQ(HeadOf("BANKA").seq, 1u);
}

TEST_F(StoreTest, GapRefusedAndNotWritten) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  auto r3 = bank_a_.Entry(TestSubject(3));
  AppendResult r = Append({r1, r3});
  EXPECT_EQ(r.statuses, (std::vector<AppendStatus>{AppendStatus::kAppended, AppendStatus::kGap}));
  EXPECT_TRUE(Find(TestSubject(3)).empty());
  EXPECT_EQ(HeadOf("BANKA").seq, 1u);
  // Once the gap is filled the rest follows.
  EXPECT_EQ(Append({r2, r3}).appended, 2u);
  EXPECT_EQ(HeadOf("BANKA").seq, 3u);
}

TEST_F(StoreTest, GapOnEmptyFeedRefused) {
  bank_a_.Entry(TestSubject(1));
  AppendResult r = Append({bank_a_.Entry(TestSubject(2))});
  EXPECT_EQ(r.statuses, std::vector<AppendStatus>{AppendStatus::kGap});
  Result<std::optional<Head>> h = store_->GetHead("BANKA");
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->has_value());
}

TEST_F(StoreTest, RecordNotLinkingToHeadRefused) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  Append({r1});
  // seq 2 whose prev is not r1's hash: the issuer forked somewhere we have not seen.
  auto stray =
      bank_a_.Equivocate(2, crypto::Sha256(crypto::AsBytes(std::string_view("x"))), TestSubject(9));
  AppendResult r = Append({stray});
  EXPECT_EQ(r.statuses, std::vector<AppendStatus>{AppendStatus::kConflict});
  EXPECT_TRUE(Find(TestSubject(9)).empty());
  EXPECT_EQ(HeadOf("BANKA").seq, 1u);
}

TEST_F(StoreTest, ForkedFeedIsFrozenWithEvidence) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  Append({r1, r2});
  auto twin = bank_a_.Equivocate(2, protocol::RecordHash(r1), TestSubject(99));
  AppendResult r = Append({twin});
  EXPECT_EQ(r.statuses, std::vector<AppendStatus>{AppendStatus::kForked});
  EXPECT_EQ(r.forks, 1u);
  Head head = HeadOf("BANKA");
  EXPECT_TRUE(head.frozen);
  EXPECT_EQ(head.fork_seq, 2u);
  EXPECT_EQ(head.seq, 2u);
  Result<std::vector<Evidence>> evidence = store_->AllEvidence();
  ASSERT_TRUE(evidence.ok());
  ASSERT_EQ(evidence->size(), 1u);
  EXPECT_EQ((*evidence)[0].held.bytes, r2.bytes);
  EXPECT_EQ((*evidence)[0].other.bytes, twin.bytes);
  // Nothing past the fork is taken from a frozen feed.
  AppendResult after = Append({bank_a_.Entry(TestSubject(3))});
  EXPECT_EQ(after.statuses, std::vector<AppendStatus>{AppendStatus::kFrozen});
  EXPECT_TRUE(Find(TestSubject(3)).empty());
  EXPECT_TRUE(Find(TestSubject(99)).empty());
  // Other feeds go on.
  EXPECT_EQ(Append({bank_b_.Entry(TestSubject(4))}).appended, 1u);
  // The same twin again changes nothing more.
  EXPECT_EQ(Append({twin}).statuses, std::vector<AppendStatus>{AppendStatus::kForked});
  EXPECT_EQ(store_->AllEvidence()->size(), 1u);
}

TEST_F(StoreTest, EvidenceFromAPeerFreezesAFeedNotYetHeld) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  auto r3 = bank_a_.Entry(TestSubject(3));
  auto twin3 = bank_a_.Equivocate(3, protocol::RecordHash(r2), TestSubject(33));
  Result<bool> added =
      store_->AddEvidence(MustVerify(r3, trust_), MustVerify(twin3, trust_), kTestNow);
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_TRUE(*added);
  EXPECT_FALSE(*store_->AddEvidence(MustVerify(twin3, trust_), MustVerify(r3, trust_), kTestNow));
  Head head = HeadOf("BANKA");
  EXPECT_TRUE(head.frozen);
  EXPECT_EQ(head.fork_seq, 3u);
  EXPECT_EQ(head.seq, 0u);
  // The history before the fork is still taken; nothing at or after it.
  AppendResult r = Append({r1, r2, r3});
  EXPECT_EQ(r.statuses, (std::vector<AppendStatus>{AppendStatus::kAppended, AppendStatus::kAppended,
                                                   AppendStatus::kFrozen}));
  Result<std::vector<Evidence>> evidence = store_->AllEvidence();
  ASSERT_TRUE(evidence.ok());
  ASSERT_EQ(evidence->size(), 1u);
  EXPECT_NE(evidence->front().held.bytes, evidence->front().other.bytes);
}

// An issuer that forks at every seq proves nothing more after the first: a feed keeps at most
// kMaxEvidencePerFeed pairs, the earliest forks, so it cannot fill the store or every peer's
// evidence exchange.
TEST_F(StoreTest, EvidencePerFeedIsCappedAtTheEarliestForks) {
  std::vector<protocol::SignedRecord> feed;
  for (uint64_t i = 1; i <= 12; ++i) feed.push_back(bank_a_.Entry(TestSubject(i)));
  auto twin_at = [&](uint64_t seq) {
    crypto::Hash256 prev = seq == 1 ? crypto::Hash256{} : protocol::RecordHash(feed[seq - 2]);
    return bank_a_.Equivocate(seq, prev, TestSubject(1000 + seq));
  };
  for (uint64_t seq = 5; seq <= 12; ++seq) {
    ASSERT_TRUE(store_
                    ->AddEvidence(MustVerify(feed[seq - 1], trust_),
                                  MustVerify(twin_at(seq), trust_), kTestNow)
                    .ok());
  }
  auto held_seqs = [&] {
    std::vector<uint64_t> seqs;
    Result<std::vector<Evidence>> all = store_->AllEvidence();
    EXPECT_TRUE(all.ok()) << all.error().message;
    for (const Evidence& e : all.ok() ? *all : std::vector<Evidence>{}) {
      Result<protocol::Record> r = protocol::DecodeRecord(e.held.bytes);
      EXPECT_TRUE(r.ok()) << r.error().message;
      if (r.ok()) seqs.push_back(r->seq);
    }
    std::sort(seqs.begin(), seqs.end());
    return seqs;
  };
  EXPECT_EQ(held_seqs(), (std::vector<uint64_t>{5, 6, 7, 8}));
  // The same evidence again (peers echo it back) is held already: nothing is dropped for it.
  Result<bool> again =
      store_->AddEvidence(MustVerify(feed[4], trust_), MustVerify(twin_at(5), trust_), kTestNow);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(*again);
  EXPECT_EQ(held_seqs(), (std::vector<uint64_t>{5, 6, 7, 8}));
  // An earlier fork replaces the latest held, and the feed freezes at the earliest.
  Result<bool> earlier =
      store_->AddEvidence(MustVerify(feed[1], trust_), MustVerify(twin_at(2), trust_), kTestNow);
  ASSERT_TRUE(earlier.ok()) << earlier.error().message;
  EXPECT_TRUE(*earlier);
  EXPECT_EQ(held_seqs(), (std::vector<uint64_t>{2, 5, 6, 7}));
  EXPECT_EQ(HeadOf("BANKA").fork_seq, 2u);
  // A later fork is not kept; the history before the fork is still taken.
  Result<bool> later =
      store_->AddEvidence(MustVerify(feed[10], trust_), MustVerify(twin_at(11), trust_), kTestNow);
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_FALSE(*later);
  EXPECT_EQ(Append({feed[0]}).appended, 1u);
  EXPECT_EQ(store_->AllEvidence()->size(), kMaxEvidencePerFeed);
}

TEST_F(StoreTest, EvidenceOfOneRecordTwiceRefused) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  Result<bool> added =
      store_->AddEvidence(MustVerify(r1, trust_), MustVerify(r1, trust_), kTestNow);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().kind, ErrorKind::kMalformed);
  auto b1 = bank_b_.Entry(TestSubject(1));
  EXPECT_FALSE(store_->AddEvidence(MustVerify(r1, trust_), MustVerify(b1, trust_), kTestNow).ok());
}

TEST_F(StoreTest, OwnFeedFrozenRefusesAppendOwn) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  Append({r1});
  Append({bank_a_.Equivocate(1, crypto::Hash256{}, TestSubject(5))});
  Result<AppendResult> r = store_->AppendOwn(
      "BANKA",
      [&](const Head&) -> Result<std::vector<VerifiedRecord>> {
        return std::vector<VerifiedRecord>{};
      },
      kTestNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kFrozen);
}

TEST_F(StoreTest, RevocationWithdrawsEntryInSameTransaction) {
  auto entry = bank_a_.Entry(TestSubject(1));
  auto revoke = bank_a_.Revoke(EntryId{"BANKA", 1}, protocol::RevocationReason::kIssuedInError);
  Append({entry, revoke});
  std::vector<Listing> found = Find(TestSubject(1), kTestNow, true);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].state, EntryState::kRevoked);
  ASSERT_TRUE(found[0].revocation.has_value());
  EXPECT_EQ(found[0].revocation->by, (EntryId{"BANKA", 2}));
  EXPECT_EQ(found[0].revocation->reason, protocol::RevocationReason::kIssuedInError);
}

TEST_F(StoreTest, RevocationBeforeItsEntryIsPendingThenApplied) {
  auto entry = bank_a_.Entry(TestSubject(1));
  // The regulator's feed outruns the bank's.
  Append({regulator_.Revoke(EntryId{"BANKA", 1}, protocol::RevocationReason::kCourtOrder)});
  Result<Stats> before = store_->GetStats(kTestNow);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->pending_revocations, 1u);
  Append({entry});
  std::vector<Listing> found = Find(TestSubject(1), kTestNow, true);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].state, EntryState::kRevoked);
  EXPECT_EQ(found[0].revocation->by, (EntryId{"PBOC", 1}));
  EXPECT_EQ(store_->GetStats(kTestNow)->pending_revocations, 0u);
}

TEST_F(StoreTest, RevocationOfRevokedEntryChangesNothing) {
  Append({bank_a_.Entry(TestSubject(1)), bank_a_.Revoke(EntryId{"BANKA", 1})});
  Append({regulator_.Revoke(EntryId{"BANKA", 1}, protocol::RevocationReason::kCourtOrder)});
  std::vector<Listing> found = Find(TestSubject(1), kTestNow, true);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].revocation->by, (EntryId{"BANKA", 2}));  // the first one stands
  Result<Stats> stats = store_->GetStats(kTestNow);
  ASSERT_TRUE(stats.ok());
  for (const IssuerStats& s : stats->issuers) {
    if (s.issuer == "BANKA") {
      EXPECT_EQ(s.revoked_entries, 1u);
    }
  }
}

TEST_F(StoreTest, RegulatorRevokesAnotherIssuersEntry) {
  Append({bank_a_.Entry(TestSubject(1))});
  Append({regulator_.Revoke(EntryId{"BANKA", 1})});
  EXPECT_EQ(Find(TestSubject(1))[0].state, EntryState::kRevoked);
}

TEST_F(StoreTest, ExpiryAtTheBoundaryWithInjectedClock) {
  const int64_t expires = kTestNow + 100;
  Append({bank_a_.Entry(TestSubject(1), protocol::Category::kLent, expires)});
  EXPECT_EQ(Find(TestSubject(1), expires - 1)[0].state, EntryState::kActive);
  EXPECT_EQ(Find(TestSubject(1), expires)[0].state, EntryState::kExpired);
  EXPECT_EQ(Find(TestSubject(1), expires + kYear)[0].state, EntryState::kExpired);
}

TEST_F(StoreTest, SeveralIssuersListOneSubject) {
  Append({bank_a_.Entry(TestSubject(7)), bank_b_.Entry(TestSubject(7), protocol::Category::kSold)});
  std::vector<Listing> found = Find(TestSubject(7));
  ASSERT_EQ(found.size(), 2u);
  std::set<std::string> issuers{found[0].id.issuer, found[1].id.issuer};
  EXPECT_EQ(issuers, (std::set<std::string>{"BANKA", "BANKB"}));
}

TEST_F(StoreTest, RangeServesFeedInOrderAndBounded) {
  std::vector<protocol::SignedRecord> feed;
  for (int i = 1; i <= 10; ++i) feed.push_back(bank_a_.Entry(TestSubject(i)));
  Append(feed);
  Result<std::vector<protocol::SignedRecord>> r = store_->Range("BANKA", 3, 4);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ((*r)[i].bytes, feed[2 + i].bytes);
  EXPECT_EQ(store_->Range("BANKA", 9, 100)->size(), 2u);
  EXPECT_TRUE(store_->Range("BANKA", 11, 5)->empty());
  EXPECT_TRUE(store_->Range("BANKA", 0, 5)->empty());
  EXPECT_TRUE(store_->Range("NOBODY", 1, 5)->empty());
}

TEST_F(StoreTest, HeadNeverMovesBackwards) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  Append({r1, r2});
  Append({r1});
  EXPECT_EQ(HeadOf("BANKA").seq, 2u);
  EXPECT_EQ(HeadOf("BANKA").hash, protocol::RecordHash(r2));
}

TEST_F(StoreTest, BatchOfSeveralFeedsCommitsTogether) {
  AppendResult r = Append({bank_a_.Entry(TestSubject(1)), bank_b_.Entry(TestSubject(2)),
                           bank_a_.Entry(TestSubject(3))});
  EXPECT_EQ(r.appended, 3u);
  Result<std::vector<Head>> heads = store_->Heads();
  ASSERT_TRUE(heads.ok());
  EXPECT_EQ(heads->size(), 2u);
}

TEST_F(StoreTest, StatsCountByIssuerAndState) {
  Append({bank_a_.Entry(TestSubject(1)),
          bank_a_.Entry(TestSubject(2), protocol::Category::kLent, kTestNow + 10),
          bank_a_.Entry(TestSubject(3)), bank_a_.Revoke(EntryId{"BANKA", 3})});
  Result<Stats> stats = store_->GetStats(kTestNow + 20);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->issuers.size(), 1u);
  const IssuerStats& a = stats->issuers[0];
  EXPECT_EQ(a.records, 4u);
  EXPECT_EQ(a.entries, 3u);
  EXPECT_EQ(a.revocations, 1u);
  EXPECT_EQ(a.revoked_entries, 1u);
  EXPECT_EQ(a.expired_entries, 1u);
  EXPECT_EQ(a.active_entries, 1u);
  EXPECT_GT(stats->bytes_on_disk, 0u);
}

TEST_F(StoreTest, ListingsOfOneIssuer) {
  Append({bank_a_.Entry(TestSubject(1)), bank_b_.Entry(TestSubject(2)),
          bank_a_.Entry(TestSubject(3))});
  std::vector<EntryId> ids;
  ASSERT_TRUE(
      store_->ForEachListing("BANKA", kTestNow, [&](const Listing& l) { ids.push_back(l.id); })
          .ok());
  EXPECT_EQ(ids, (std::vector<EntryId>{{"BANKA", 1}, {"BANKA", 2}}));
  size_t all = 0;
  ASSERT_TRUE(store_->ForEachListing("", kTestNow, [&](const Listing&) { ++all; }).ok());
  EXPECT_EQ(all, 3u);
}

TEST_F(StoreTest, GetListingsAnswersAsGetListingDoesForEachId) {
  // BANKA:1 and BANKB:1 share a subject (two index values to tell apart); BANKA:2 expires
  // before `now`; BANKA:3 is revoked by BANKA:4, itself no entry.
  Append({bank_a_.Entry(TestSubject(1)), bank_b_.Entry(TestSubject(1)),
          bank_a_.Entry(TestSubject(2), protocol::Category::kRentedOut, kTestNow + 10),
          bank_a_.Entry(TestSubject(3)),
          bank_a_.Revoke(EntryId{"BANKA", 3}, protocol::RevocationReason::kCourtOrder)});
  const int64_t now = kTestNow + 20;
  // Issuers interleaved, one id twice, ids past the head and of an issuer not held.
  const std::vector<EntryId> ids = {{"BANKA", 1}, {"BANKB", 1}, {"BANKA", 2}, {"BANKA", 3},
                                    {"BANKA", 4}, {"BANKA", 5}, {"PBOC", 1},  {"BANKB", 1}};
  Result<std::vector<std::optional<Listing>>> many = store_->GetListings(ids, now);
  ASSERT_TRUE(many.ok()) << many.error().message;
  ASSERT_EQ(many->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(ids[i].ToString());
    Result<std::optional<Listing>> one = store_->GetListing(ids[i], now);
    ASSERT_TRUE(one.ok());
    const std::optional<Listing>& got = (*many)[i];
    ASSERT_EQ(got.has_value(), one->has_value());
    if (!got) continue;
    const Listing& want = **one;
    EXPECT_EQ(got->id, ids[i]);
    EXPECT_EQ(got->id, want.id);
    EXPECT_EQ(got->subject, want.subject);
    EXPECT_EQ(got->state, want.state);
    EXPECT_EQ(got->issued_at, want.issued_at);
    EXPECT_EQ(got->expires_at, want.expires_at);
    EXPECT_EQ(got->case_ref, want.case_ref);
    EXPECT_EQ(got->pepper_epoch, want.pepper_epoch);
    ASSERT_EQ(got->revocation.has_value(), want.revocation.has_value());
    if (got->revocation) {
      EXPECT_EQ(got->revocation->by, want.revocation->by);
      EXPECT_EQ(got->revocation->reason, want.revocation->reason);
      EXPECT_EQ(got->revocation->revoked_at, want.revocation->revoked_at);
    }
  }
  // What the comparison rests on, stated outright.
  EXPECT_TRUE((*many)[0] && (*many)[1] && (*many)[2] && (*many)[3] && (*many)[7]);
  EXPECT_FALSE((*many)[4] || (*many)[5] || (*many)[6]);
  EXPECT_EQ((*many)[1]->id, (EntryId{"BANKB", 1}));
  EXPECT_EQ((*many)[2]->state, EntryState::kExpired);
  EXPECT_EQ((*many)[3]->state, EntryState::kRevoked);
  ASSERT_TRUE((*many)[3]->revocation.has_value());
  EXPECT_EQ((*many)[3]->revocation->by, (EntryId{"BANKA", 4}));
  EXPECT_TRUE(store_->GetListings({}, now).value().empty());
}

TEST_F(StoreTest, CertificatesAreKeptOnce) {
  crypto::Hash256 id = protocol::KeyId(bank_a_.key().public_key());
  ASSERT_TRUE(store_->PutCertificate(id, "der-bytes").ok());
  ASSERT_TRUE(store_->PutCertificate(id, "der-bytes").ok());
  Result<std::vector<std::string>> certs = store_->Certificates();
  ASSERT_TRUE(certs.ok());
  EXPECT_EQ(*certs, std::vector<std::string>{"der-bytes"});
}

TEST_F(StoreTest, ReopenKeepsEverything) {
  Append({bank_a_.Entry(TestSubject(1)), bank_a_.Entry(TestSubject(2))});
  store_.reset();
  store_ = OpenStore();
  EXPECT_EQ(HeadOf("BANKA").seq, 2u);
  EXPECT_EQ(Find(TestSubject(2)).size(), 1u);
}

TEST_F(StoreTest, MapGrowsUnderTinyInitialMapWithoutLosingBatches) {
  store_.reset();
  std::filesystem::remove_all(dir_ / "store");
  Options tiny;
  tiny.initial_map_bytes = 64 * 1024;
  store_ = OpenStore(tiny);
  std::vector<protocol::SignedRecord> feed;
  for (int i = 1; i <= 3000; ++i) feed.push_back(bank_a_.Entry(TestSubject(i)));
  for (size_t i = 0; i < feed.size(); i += 500) {
    std::vector<protocol::SignedRecord> batch(feed.begin() + i, feed.begin() + i + 500);
    EXPECT_EQ(Append(batch).appended, 500u);
  }
  EXPECT_EQ(HeadOf("BANKA").seq, 3000u);
  for (int i = 1; i <= 3000; i += 97) EXPECT_EQ(Find(TestSubject(i)).size(), 1u) << i;
  Result<Stats> stats = store_->GetStats(kTestNow);
  EXPECT_GT(stats->map_bytes, tiny.initial_map_bytes);
}

TEST_F(StoreTest, MapAtConfiguredMaximumFailsWithIoAndWritesNothing) {
  store_.reset();
  std::filesystem::remove_all(dir_ / "store");
  Options capped;
  capped.initial_map_bytes = 64 * 1024;
  capped.max_map_bytes = 256 * 1024;
  store_ = OpenStore(capped);
  std::vector<protocol::SignedRecord> feed;
  for (int i = 1; i <= 3000; ++i) feed.push_back(bank_a_.Entry(TestSubject(i)));
  Result<AppendResult> r = store_->Append(MustVerifyAll(feed, trust_), kTestNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kIo);
  EXPECT_NE(r.error().message.find("maximum size"), std::string::npos) << r.error().message;
  Result<std::optional<Head>> h = store_->GetHead("BANKA");
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->has_value());
}

TEST_F(StoreTest, NewerSchemaRefusedWithClearMessage) {
  store_.reset();
  // Rewrite the schema version as a future duanka would have.
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, (dir_ / "store").c_str(), 0, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi meta;
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  const uint32_t future = kSchemaVersion + 1;
  char version[4] = {0, 0, 0, static_cast<char>(future)};
  MDB_val k{6, const_cast<char*>("schema")}, v{4, version};
  ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
  Options o;
  o.path = dir_ / "store";
  Result<std::unique_ptr<Store>> s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kIo);
  EXPECT_NE(s.error().message.find("schema version " + std::to_string(future)), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("upgrade"), std::string::npos);
}

// The raw LMDB side of the schema tests: the store's file as another duanka would leave it.
class RawStore {
 public:
  explicit RawStore(const std::filesystem::path& path) {
    EXPECT_EQ(mdb_env_create(&env_), 0);
    mdb_env_set_maxdbs(env_, 32);
    EXPECT_EQ(mdb_env_open(env_, path.c_str(), 0, 0600), 0);
    EXPECT_EQ(mdb_txn_begin(env_, nullptr, 0, &txn_), 0);
  }
  ~RawStore() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    mdb_env_close(env_);
  }
  MDB_dbi Table(const char* name) {
    MDB_dbi dbi = 0;
    EXPECT_EQ(mdb_dbi_open(txn_, name, 0, &dbi), 0) << name;
    return dbi;
  }
  uint32_t Schema() {
    MDB_val k{6, const_cast<char*>("schema")}, v;
    if (mdb_get(txn_, Table("meta"), &k, &v) != 0 || v.mv_size != 4) return 0;
    const auto* b = static_cast<const unsigned char*>(v.mv_data);
    return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
  }
  void SetSchema(uint32_t version) {
    char b[4] = {static_cast<char>(version >> 24), static_cast<char>(version >> 16),
                 static_cast<char>(version >> 8), static_cast<char>(version)};
    MDB_val k{6, const_cast<char*>("schema")}, v{4, b};
    EXPECT_EQ(mdb_put(txn_, Table("meta"), &k, &v, 0), 0);
  }
  // Every value of the records table, in key order (one feed: seq order).
  std::vector<std::string> Records() {
    std::vector<std::string> out;
    MDB_cursor* c = nullptr;
    EXPECT_EQ(mdb_cursor_open(txn_, Table("records"), &c), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      out.emplace_back(static_cast<const char*>(v.mv_data), v.mv_size);
    }
    mdb_cursor_close(c);
    return out;
  }
  // Replaces the i-th value (key order) of the records table.
  void SetRecord(size_t i, const std::string& value) {
    MDB_cursor* c = nullptr;
    EXPECT_EQ(mdb_cursor_open(txn_, Table("records"), &c), 0);
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    for (size_t at = 0; rc == 0 && at < i; ++at) rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    EXPECT_EQ(rc, 0);
    // The key as a copy: k points into the page, which the put rewrites.
    std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
    MDB_val kk{key.size(), key.data()};
    MDB_val nv{value.size(), const_cast<char*>(value.data())};
    EXPECT_EQ(mdb_cursor_put(c, &kk, &nv, MDB_CURRENT), 0);
    mdb_cursor_close(c);
  }
  void Commit() {
    EXPECT_EQ(mdb_txn_commit(txn_), 0);
    txn_ = nullptr;
  }

 private:
  MDB_env* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
};

void ExpectSame(const std::vector<protocol::SignedRecord>& got,
                const std::vector<protocol::SignedRecord>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].bytes, want[i].bytes) << "record " << i + 1;
    EXPECT_EQ(got[i].signature, want[i].signature) << "record " << i + 1;
  }
}

TEST_F(StoreTest, RecordsAreStoredPackedAndReadBackExactly) {
  std::vector<protocol::SignedRecord> feed = AppendEntries(3);
  ExpectSame(*store_->Range("BANKA", 1, 3), feed);
  store_.reset();
  RawStore raw(dir_ / "store");
  EXPECT_EQ(raw.Schema(), kSchemaVersion);
  std::vector<std::string> stored = raw.Records();
  ASSERT_EQ(stored.size(), feed.size());
  for (size_t i = 0; i < feed.size(); ++i) {
    EXPECT_EQ(stored[i].front(), '\x01') << "the packed form's tag";
    EXPECT_LT(stored[i].size(), feed[i].bytes.size() + feed[i].signature.size());
  }
}

TEST_F(StoreTest, SchemaOneStoreIsReadAsItIsAndMarkedTwoByTheFirstWriter) {
  std::vector<protocol::SignedRecord> feed = AppendEntries(3);
  store_.reset();
  {
    // As schema 1 wrote it: the canonical bytes and the signature, unpacked.
    RawStore raw(dir_ / "store");
    raw.SetSchema(1);
    for (size_t i = 0; i < feed.size(); ++i) raw.SetRecord(i, feed[i].bytes + feed[i].signature);
    raw.Commit();
  }
  Options read_only;
  read_only.read_only = true;
  store_ = OpenStore(read_only);
  ASSERT_NE(store_, nullptr);
  ExpectSame(*store_->Range("BANKA", 1, 3), feed);
  std::vector<Listing> found = Find(TestSubject(2), kTestNow, true);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].case_ref, "case-2");  // read from the unpacked record
  store_.reset();
  EXPECT_EQ(RawStore(dir_ / "store").Schema(), 1u) << "a reader changes nothing";

  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  feed.push_back(bank_a_.Entry(TestSubject(4)));
  EXPECT_EQ(Append({feed.back()}).appended, 1u);
  ExpectSame(*store_->Range("BANKA", 1, 4), feed);
  store_.reset();
  RawStore raw(dir_ / "store");
  EXPECT_EQ(raw.Schema(), kSchemaVersion);
  std::vector<std::string> stored = raw.Records();
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0], feed[0].bytes + feed[0].signature) << "schema 1's records stay as they are";
  EXPECT_EQ(stored[3].front(), '\x01');
}

TEST_F(StoreTest, ADamagedStoredRecordIsAnErrorNotARecord) {
  std::vector<protocol::SignedRecord> feed = AppendEntries(2);
  store_.reset();
  {
    RawStore raw(dir_ / "store");
    std::string damaged = raw.Records()[1];
    damaged[0] = '\x02';  // a tag no schema wrote
    raw.SetRecord(1, damaged);
    raw.Commit();
  }
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  Result<std::vector<protocol::SignedRecord>> r = store_->Range("BANKA", 1, 2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not decode"), std::string::npos) << r.error().message;
  Result<std::optional<protocol::SignedRecord>> first = store_->Get(EntryId{"BANKA", 1});
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->bytes, feed[0].bytes);
  Result<std::optional<protocol::SignedRecord>> second = store_->Get(EntryId{"BANKA", 2});
  ASSERT_FALSE(second.ok()) << "a damaged record is not a missing one";
  EXPECT_NE(second.error().message.find("does not decode"), std::string::npos)
      << second.error().message;
}

TEST_F(StoreTest, MissingStoreReadOnlyIsNotFound) {
  Options o;
  o.path = dir_ / "absent";
  o.read_only = true;
  Result<std::unique_ptr<Store>> s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "absent"));
}

TEST_F(StoreTest, UnopenablePathIsIoError) {
  std::ofstream(dir_ / "afile") << "not a directory";
  Options o;
  o.path = dir_ / "afile" / "store";
  Result<std::unique_ptr<Store>> s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kIo);
  EXPECT_NE(s.error().message.find("afile"), std::string::npos);
}

TEST_F(StoreTest, ConsortiumObjectsAreKeptReplacedAndReadByReaders) {
  Result<std::optional<std::string>> none = store_->GetObject("crl");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(store_->PutObject("crl", "first").ok());
  ASSERT_TRUE(store_->PutObject("crl", "second").ok());
  Options o;
  o.read_only = true;
  std::unique_ptr<Store> reader = OpenStore(o);
  ASSERT_NE(reader, nullptr);
  Result<std::optional<std::string>> held = reader->GetObject("crl");
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->value_or(""), "second");
  EXPECT_FALSE(reader->GetObject("other")->has_value());
}

TEST_F(StoreTest, ReadOnlyStoreRefusesWrites) {
  Append({bank_a_.Entry(TestSubject(1))});
  Options o;
  o.read_only = true;
  std::unique_ptr<Store> reader = OpenStore(o);
  ASSERT_NE(reader, nullptr);
  std::vector<Listing> out;
  crypto::Hash256 subject = TestSubject(1);
  ASSERT_TRUE(reader->Lookup(std::span<const crypto::Hash256>(&subject, 1), {kTestNow}, out).ok());
  EXPECT_EQ(out.size(), 1u);
  Result<AppendResult> w =
      reader->Append(MustVerifyAll({bank_a_.Entry(TestSubject(2))}, trust_), kTestNow);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::kIo);
}

TEST_F(StoreTest, AppendOwnNeverSignsTheSameSeqTwice) {
  // Two threads (standing in for two admin processes) race to publish; LMDB's writer lock
  // makes each see the other's head, so the feed stays one chain.
  auto publish = [&](int base) {
    for (int i = 0; i < 50; ++i) {
      Result<AppendResult> r = store_->AppendOwn(
          "BANKA",
          [&](const Head& head) -> Result<std::vector<VerifiedRecord>> {
            protocol::Record rec;
            rec.issuer = "BANKA";
            rec.seq = head.seq + 1;
            rec.prev = head.hash;
            rec.issued_at = kTestNow - 10;
            rec.signer_key_id = protocol::KeyId(bank_a_.key().public_key());
            protocol::EntryBody e;
            e.subject = TestSubject(base + i);
            e.id_type = protocol::IdType::kQq;
            e.pepper_epoch = 1;
            e.category = protocol::Category::kBroker;
            e.basis = protocol::Basis::kInstitution;
            e.expires_at = kTestNow + kYear;
            rec.body = e;
            Result<protocol::SignedRecord> s = protocol::SignRecord(rec, bank_a_.key());
            if (!s) return std::move(s).error();
            Result<VerifiedRecord> v = protocol::Verify(*s, trust_, {kTestNow});
            if (!v) return std::move(v).error();
            return std::vector<VerifiedRecord>{std::move(*v)};
          },
          kTestNow);
      EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    }
  };
  std::thread t1(publish, 1000), t2(publish, 2000);
  t1.join();
  t2.join();
  EXPECT_EQ(HeadOf("BANKA").seq, 100u);
  EXPECT_FALSE(HeadOf("BANKA").frozen);
  Result<std::vector<protocol::SignedRecord>> feed = store_->Range("BANKA", 1, 200);
  ASSERT_TRUE(feed.ok());
  ASSERT_EQ(feed->size(), 100u);
  EXPECT_TRUE(protocol::VerifyChain(*feed, trust_, {kTestNow}).ok());
}

TEST_F(StoreTest, AppendOwnErrorFromMakerWritesNothing) {
  Result<AppendResult> r = store_->AppendOwn(
      "BANKA",
      [&](const Head&) -> Result<std::vector<VerifiedRecord>> {
        return MakeError(ErrorKind::kInvalidInput, "no");
      },
      kTestNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
  Result<std::optional<Head>> h = store_->GetHead("BANKA");
  EXPECT_FALSE(h->has_value());
}

TEST_F(StoreTest, ChainVerifiedBatchAppends) {
  std::vector<protocol::SignedRecord> feed;
  for (int i = 1; i <= 100; ++i) feed.push_back(bank_a_.Entry(TestSubject(i)));
  Result<std::vector<VerifiedRecord>> chain = protocol::VerifyChain(feed, trust_, {kTestNow});
  ASSERT_TRUE(chain.ok());
  Result<AppendResult> r = store_->Append(*chain, kTestNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->appended, 100u);
  // A second chain must link to the held head: one that does not is refused record by record.
  std::vector<protocol::SignedRecord> more;
  for (int i = 101; i <= 110; ++i) more.push_back(bank_a_.Entry(TestSubject(i)));
  Result<std::vector<VerifiedRecord>> tail = protocol::VerifyChain(
      std::span<const protocol::SignedRecord>(more).subspan(1), trust_, {kTestNow});
  ASSERT_TRUE(tail.ok());
  Result<AppendResult> gap = store_->Append(*tail, kTestNow);
  ASSERT_TRUE(gap.ok());
  EXPECT_EQ(gap->appended, 0u);
  EXPECT_EQ(gap->statuses.front(), AppendStatus::kGap);
}

}  // namespace
}  // namespace duanka::store
