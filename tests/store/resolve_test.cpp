// Fork resolution in the store: the losing branch set aside and undone, the kept branch appended,
// the feed unfrozen, and records of the discarded branch refused afterwards.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using crypto::Hash256;
using duanka::testing::kTestNow;
using duanka::testing::kYear;
using duanka::testing::MustVerify;
using duanka::testing::MustVerifyAll;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using protocol::EntryId;
using protocol::RecordHash;
using protocol::SignedRecord;

// A second branch of an issuer's feed, signed with its real key from (seq, prev) on: what an
// issuer that restored an old backup (or a thief with its key) publishes.
class Branch {
 public:
  Branch(const TestIssuer& issuer, uint64_t after_seq, const Hash256& prev)
      : issuer_(issuer), seq_(after_seq), prev_(prev) {}

  SignedRecord Entry(const Hash256& subject) {
    protocol::Record r = Base();
    protocol::EntryBody e;
    e.subject = subject;
    e.id_type = protocol::IdType::kBankCard;
    e.pepper_epoch = 1;
    e.category = protocol::Category::kSold;
    e.basis = protocol::Basis::kInstitution;
    e.expires_at = kTestNow + kYear;
    e.case_ref = "branch-" + std::to_string(r.seq);
    r.body = e;
    return SignAndAdvance(r);
  }

  SignedRecord Revoke(const EntryId& target) {
    protocol::Record r = Base();
    r.body = protocol::RevocationBody{target, protocol::RevocationReason::kIssuedInError};
    return SignAndAdvance(r);
  }

  SignedRecord Profile() {
    protocol::Record r = Base();
    r.body = duanka::testing::SampleProfile();
    return SignAndAdvance(r);
  }

 private:
  protocol::Record Base() const {
    protocol::Record r;
    r.issuer = issuer_.code();
    r.seq = seq_ + 1;
    r.prev = prev_;
    r.issued_at = kTestNow - 50;
    r.signer_key_id = protocol::KeyId(issuer_.key().public_key());
    return r;
  }
  SignedRecord SignAndAdvance(const protocol::Record& r) {
    Result<SignedRecord> s = protocol::SignRecord(r, issuer_.key());
    if (!s) throw std::runtime_error(s.error().message);
    seq_ = r.seq;
    prev_ = RecordHash(*s);
    return *s;
  }

  const TestIssuer& issuer_;
  uint64_t seq_;
  Hash256 prev_;
};

class ResolveTest : public ::testing::Test {
 protected:
  ResolveTest() {
    trust_.Add(bank_a_.signer());
    trust_.Add(bank_b_.signer());
    trust_.Add(regulator_.signer());
    store_ = OpenStore();
  }

  std::unique_ptr<Store> OpenStore() {
    Options options;
    options.path = dir_ / "store";
    Result<std::unique_ptr<Store>> s = Store::Open(options);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::vector<AppendStatus> Append(const std::vector<SignedRecord>& records) {
    std::vector<VerifiedRecord> verified = MustVerifyAll(records, trust_);
    Result<AppendResult> r = store_->Append(verified, kTestNow);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->statuses : std::vector<AppendStatus>{};
  }

  ResolveOutcome Resolve(const std::string& issuer, uint64_t seq, const SignedRecord& kept) {
    Result<ResolveOutcome> r = store_->ResolveFork(issuer, seq, RecordHash(kept), kTestNow);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : ResolveOutcome{};
  }

  std::vector<Listing> Find(const Hash256& subject) {
    std::vector<Listing> out;
    Status s =
        store_->Lookup(std::span<const Hash256>(&subject, 1), LookupOptions{kTestNow, true}, out);
    EXPECT_TRUE(s.ok());
    return out;
  }

  std::optional<EntryState> StateOf(const Hash256& subject) {
    std::vector<Listing> found = Find(subject);
    EXPECT_LE(found.size(), 1u);
    if (found.empty()) return std::nullopt;
    return found[0].state;
  }

  Head HeadOf(const std::string& issuer) {
    Result<std::optional<Head>> h = store_->GetHead(issuer);
    EXPECT_TRUE(h.ok());
    return h.ok() && *h ? **h : Head{};
  }

  IssuerStats StatsOf(const std::string& issuer) {
    Result<Stats> stats = store_->GetStats(kTestNow);
    EXPECT_TRUE(stats.ok());
    for (const IssuerStats& s : stats.ok() ? stats->issuers : std::vector<IssuerStats>{}) {
      if (s.issuer == issuer) return s;
    }
    ADD_FAILURE() << "no stats for " << issuer;
    return IssuerStats{};
  }

  uint64_t Pending() {
    Result<Stats> stats = store_->GetStats(kTestNow);
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? stats->pending_revocations : 0;
  }

  std::vector<std::string> LosingBytes(const std::string& issuer) {
    Result<std::vector<SignedRecord>> losing = store_->LosingRecords(issuer);
    EXPECT_TRUE(losing.ok());
    std::vector<std::string> out;
    for (const SignedRecord& r : losing.ok() ? *losing : std::vector<SignedRecord>{}) {
      out.push_back(r.bytes);
    }
    return out;
  }

  size_t EvidenceCount() {
    Result<std::vector<Evidence>> all = store_->AllEvidence();
    EXPECT_TRUE(all.ok());
    return all.ok() ? all->size() : 0;
  }

  duanka::testing::TempDir dir_;
  TestIssuer bank_a_{"BANKA"};
  TestIssuer bank_b_{"BANKB"};
  TestIssuer regulator_{"PBOC", crypto::Role::kRegulator};
  protocol::Trust trust_;
  std::unique_ptr<Store> store_;
};

using S = AppendStatus;

// Profiles (issue 16) extend a feed but are neither entries nor revocations: a fork that sets one
// aside, a revocation aimed at one and one that waited for its seq change no count and list or
// unlist nothing.
TEST_F(ResolveTest, AProfileSetAsideOrRevokedChangesNoCount) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  Branch losing(bank_a_, 1, RecordHash(r1));
  auto l2 = losing.Profile();
  auto l3 = losing.Entry(TestSubject(30));
  // A revocation of the profile (a member's mistake): it withdraws nothing.
  auto l4 = losing.Revoke(EntryId{"BANKA", 2});
  ASSERT_EQ(Append({r1, l2, l3, l4}), std::vector<S>(4, S::kAppended));
  IssuerStats before = StatsOf("BANKA");
  ASSERT_EQ(before.records, 4u);
  ASSERT_EQ(before.entries, 2u);
  ASSERT_EQ(before.revocations, 1u);
  ASSERT_EQ(before.revoked_entries, 0u);
  ASSERT_EQ(StateOf(TestSubject(30)), EntryState::kActive);

  auto k2 = bank_a_.Entry(TestSubject(2));
  ASSERT_EQ(Append({k2}), std::vector<S>{S::kForked});
  ResolveOutcome out = Resolve("BANKA", 2, k2);
  EXPECT_EQ(out.set_aside, 3u);
  EXPECT_TRUE(out.kept_appended);
  IssuerStats after = StatsOf("BANKA");
  EXPECT_EQ(after.records, 2u);
  EXPECT_EQ(after.entries, 2u);
  EXPECT_EQ(after.revocations, 0u);
  EXPECT_EQ(after.revoked_entries, 0u);
  EXPECT_EQ(StateOf(TestSubject(2)), EntryState::kActive);
  EXPECT_TRUE(Find(TestSubject(30)).empty());
  EXPECT_EQ(Pending(), 0u);
}

// A revocation that arrives before its target waits; when the target turns out to be a profile
// or a revocation, it withdraws nothing and stops waiting (no pending revocation is left).
TEST_F(ResolveTest, ARevocationWaitingForAProfileOrARevocationStopsWaiting) {
  ASSERT_EQ(
      Append({regulator_.Revoke(EntryId{"BANKA", 2}), regulator_.Revoke(EntryId{"BANKA", 3})}),
      std::vector<S>(2, S::kAppended));
  ASSERT_EQ(Pending(), 2u);
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Profile(duanka::testing::SampleProfile());
  auto r3 = bank_a_.Revoke(EntryId{"BANKA", 1});
  ASSERT_EQ(Append({r1, r2, r3}), std::vector<S>(3, S::kAppended));
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(StateOf(TestSubject(1)), EntryState::kRevoked);
  EXPECT_EQ(StatsOf("BANKA").revoked_entries, 1u);
  // Reopened, the same.
  store_.reset();
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(Pending(), 0u);
}

TEST_F(ResolveTest, KeptBranchHeldUnfreezesWithoutRollback) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  auto r3 = bank_a_.Entry(TestSubject(3));
  Append({r1, r2, r3});
  auto twin = bank_a_.Equivocate(2, RecordHash(r1), TestSubject(99));
  ASSERT_EQ(Append({twin}), std::vector<S>{S::kForked});
  ASSERT_TRUE(HeadOf("BANKA").frozen);

  ResolveOutcome out = Resolve("BANKA", 2, r2);
  EXPECT_EQ(out.set_aside, 0u);
  EXPECT_FALSE(out.kept_appended);
  EXPECT_TRUE(out.unfrozen);
  Head head = HeadOf("BANKA");
  EXPECT_FALSE(head.frozen);
  EXPECT_EQ(head.seq, 3u);
  EXPECT_EQ(head.hash, RecordHash(r3));
  Result<std::vector<std::pair<uint64_t, Hash256>>> resolution = store_->Resolutions("BANKA");
  ASSERT_TRUE(resolution.ok());
  ASSERT_EQ(resolution->size(), 1u);
  EXPECT_EQ(resolution->front().first, 2u);
  EXPECT_EQ(resolution->front().second, RecordHash(r2));
  EXPECT_TRUE(LosingBytes("BANKA").empty());
  EXPECT_EQ(StateOf(TestSubject(2)), EntryState::kActive);
  EXPECT_TRUE(Find(TestSubject(99)).empty());

  // The feed grows again, and the twin offered again is refused without freezing it.
  EXPECT_EQ(Append({bank_a_.Entry(TestSubject(4))}), std::vector<S>{S::kAppended});
  EXPECT_EQ(Append({twin}), std::vector<S>{S::kLosing});
  EXPECT_FALSE(HeadOf("BANKA").frozen);
  EXPECT_EQ(HeadOf("BANKA").seq, 4u);
  EXPECT_EQ(StatsOf("BANKA").records, 4u);
}

// The whole path on a node that held the losing branch, including revocations it made and one
// made of it by the regulator, then the kept branch arriving, re-offers, a new fork, and reopen.
TEST_F(ResolveTest, LosingBranchHeldIsSetAsideAndUndone) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  Branch losing(bank_a_, 2, RecordHash(r2));
  auto l3 = losing.Entry(TestSubject(30));
  auto l4 = losing.Revoke(EntryId{"BANKA", 1});
  auto l5 = losing.Entry(TestSubject(50));
  auto l6 = losing.Revoke(EntryId{"BANKA", 3});  // within the branch: undone before l3 goes
  ASSERT_EQ(Append({r1, r2, l3, l4, l5, l6}), std::vector<S>(6, S::kAppended));
  auto pboc = regulator_.Revoke(EntryId{"BANKA", 5});
  ASSERT_EQ(Append({pboc}), std::vector<S>{S::kAppended});
  ASSERT_EQ(StateOf(TestSubject(1)), EntryState::kRevoked);
  ASSERT_EQ(StateOf(TestSubject(50)), EntryState::kRevoked);
  ASSERT_EQ(StateOf(TestSubject(30)), EntryState::kRevoked);
  IssuerStats before = StatsOf("BANKA");
  ASSERT_EQ(before.records, 6u);
  ASSERT_EQ(before.entries, 4u);
  ASSERT_EQ(before.revocations, 2u);
  ASSERT_EQ(before.revoked_entries, 3u);
  ASSERT_EQ(Pending(), 0u);

  auto k3 = bank_a_.Entry(TestSubject(3));
  auto k4 = bank_a_.Entry(TestSubject(4));
  auto k5 = bank_a_.Entry(TestSubject(5));
  ASSERT_EQ(Append({k3}), std::vector<S>{S::kForked});
  ASSERT_EQ(HeadOf("BANKA").fork_seq, 3u);

  ResolveOutcome out = Resolve("BANKA", 3, k3);
  EXPECT_EQ(out.set_aside, 4u);
  EXPECT_TRUE(out.kept_appended);
  EXPECT_TRUE(out.unfrozen);
  Head head = HeadOf("BANKA");
  EXPECT_FALSE(head.frozen);
  EXPECT_EQ(head.seq, 3u);
  EXPECT_EQ(head.hash, RecordHash(k3));
  // Entries of the losing branch are no longer answered; what it revoked is active again.
  EXPECT_TRUE(Find(TestSubject(30)).empty());
  EXPECT_TRUE(Find(TestSubject(50)).empty());
  EXPECT_EQ(StateOf(TestSubject(1)), EntryState::kActive);
  EXPECT_FALSE(Find(TestSubject(1))[0].revocation.has_value());
  EXPECT_EQ(StateOf(TestSubject(3)), EntryState::kActive);
  EXPECT_EQ(LosingBytes("BANKA"),
            (std::vector<std::string>{l3.bytes, l4.bytes, l5.bytes, l6.bytes}));
  Result<std::vector<SignedRecord>> range = store_->Range("BANKA", 1, 10);
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->size(), 3u);
  EXPECT_EQ((*range)[2].bytes, k3.bytes);
  IssuerStats after = StatsOf("BANKA");
  EXPECT_EQ(after.records, 3u);
  EXPECT_EQ(after.entries, 3u);
  EXPECT_EQ(after.revocations, 0u);
  EXPECT_EQ(after.revoked_entries, 0u);
  EXPECT_EQ(after.active_entries, 3u);
  // The regulator's revocation names BANKA:5, which is now the kept branch's record to come, so
  // it waits for it, as on a node that never saw l5.
  EXPECT_EQ(Pending(), 1u);
  EXPECT_EQ(StatsOf("PBOC").revocations, 1u);

  // The kept branch goes on, and the regulator's revocation applies to its BANKA:5.
  EXPECT_EQ(Append({k4, k5}), (std::vector<S>{S::kAppended, S::kAppended}));
  EXPECT_EQ(StateOf(TestSubject(5)), EntryState::kRevoked);
  EXPECT_EQ(Pending(), 0u);
  EXPECT_EQ(StatsOf("BANKA").revoked_entries, 1u);

  // Peers without the resolution re-offer the losing branch: refused, nothing written or frozen.
  EXPECT_EQ(Append({l3, l4, l5, l6}), std::vector<S>(4, S::kLosing));
  EXPECT_EQ(EvidenceCount(), 1u);
  // and its evidence, at the fork and after it: kept as proof, but no freeze.
  Result<bool> again =
      store_->AddEvidence(MustVerify(l3, trust_), MustVerify(k3, trust_), kTestNow);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  Result<bool> at4 = store_->AddEvidence(MustVerify(l4, trust_), MustVerify(k4, trust_), kTestNow);
  ASSERT_TRUE(at4.ok());
  EXPECT_TRUE(*at4);
  Result<bool> at5 = store_->AddEvidence(MustVerify(k5, trust_), MustVerify(l5, trust_), kTestNow);
  ASSERT_TRUE(at5.ok());
  EXPECT_TRUE(*at5);
  EXPECT_EQ(EvidenceCount(), 3u);
  EXPECT_FALSE(HeadOf("BANKA").frozen);
  EXPECT_EQ(HeadOf("BANKA").seq, 5u);

  // A new fork on the kept branch freezes the feed again.
  auto k6 = bank_a_.Entry(TestSubject(6));
  ASSERT_EQ(Append({k6}), std::vector<S>{S::kAppended});
  auto twin6 = bank_a_.Equivocate(6, RecordHash(k5), TestSubject(66));
  EXPECT_EQ(Append({twin6}), std::vector<S>{S::kForked});
  EXPECT_TRUE(HeadOf("BANKA").frozen);
  EXPECT_EQ(HeadOf("BANKA").fork_seq, 6u);

  // Everything survives a reopen.
  store_.reset();
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(HeadOf("BANKA").seq, 6u);
  EXPECT_EQ(LosingBytes("BANKA").size(), 4u);
  Result<std::vector<std::pair<uint64_t, Hash256>>> resolution = store_->Resolutions("BANKA");
  ASSERT_TRUE(resolution.ok());
  ASSERT_EQ(resolution->size(), 1u);
  EXPECT_EQ(resolution->front(), std::make_pair(uint64_t{3}, RecordHash(k3)));
  EXPECT_TRUE(Find(TestSubject(30)).empty());
  EXPECT_EQ(StateOf(TestSubject(1)), EntryState::kActive);
  EXPECT_EQ(Append({l3}), std::vector<S>{S::kLosing});
  IssuerStats reopened = StatsOf("BANKA");
  EXPECT_EQ(reopened.records, 6u);
  EXPECT_EQ(reopened.entries, 6u);
  EXPECT_EQ(reopened.revoked_entries, 1u);
}

// A node that held the losing branch and never saw the kept record: the feed goes back to seq - 1
// and takes the kept record when it arrives.
TEST_F(ResolveTest, ResolutionBeforeTheKeptRecordArrives) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  Branch losing(bank_a_, 1, RecordHash(r1));
  auto l2 = losing.Entry(TestSubject(20));
  auto l3 = losing.Entry(TestSubject(30));
  ASSERT_EQ(Append({r1, l2, l3}), std::vector<S>(3, S::kAppended));
  auto k2 = bank_a_.Entry(TestSubject(2));

  ResolveOutcome out = Resolve("BANKA", 2, k2);
  EXPECT_EQ(out.set_aside, 2u);
  EXPECT_FALSE(out.kept_appended);
  EXPECT_FALSE(out.unfrozen);
  Head head = HeadOf("BANKA");
  EXPECT_EQ(head.seq, 1u);
  EXPECT_EQ(head.hash, RecordHash(r1));
  EXPECT_FALSE(head.frozen);
  EXPECT_TRUE(Find(TestSubject(20)).empty());

  EXPECT_EQ(Append({l2, k2}), (std::vector<S>{S::kLosing, S::kAppended}));
  EXPECT_EQ(StateOf(TestSubject(2)), EntryState::kActive);
  EXPECT_EQ(StatsOf("BANKA").entries, 2u);
}

// A fork at seq 1: the head goes back to the empty feed.
TEST_F(ResolveTest, ForkAtTheFirstSeqEmptiesTheFeed) {
  Branch losing(bank_a_, 0, Hash256{});
  auto l1 = losing.Entry(TestSubject(10));
  ASSERT_EQ(Append({l1}), std::vector<S>{S::kAppended});
  auto k1 = bank_a_.Entry(TestSubject(1));
  ASSERT_EQ(Append({k1}), std::vector<S>{S::kForked});

  ResolveOutcome out = Resolve("BANKA", 1, k1);
  EXPECT_EQ(out.set_aside, 1u);
  EXPECT_TRUE(out.kept_appended);
  EXPECT_TRUE(out.unfrozen);
  EXPECT_EQ(HeadOf("BANKA").seq, 1u);
  EXPECT_TRUE(Find(TestSubject(10)).empty());
  EXPECT_EQ(StateOf(TestSubject(1)), EntryState::kActive);
}

// A regulator's own feed forked: a losing revocation of another member's entry is undone, and one
// still waiting for its entry is dropped.
TEST_F(ResolveTest, RegulatorLosingRevocationsOfOtherFeedsAreUndone) {
  auto b1 = bank_b_.Entry(TestSubject(1));
  auto b2 = bank_b_.Entry(TestSubject(2));
  Branch losing(regulator_, 0, Hash256{});
  auto lp1 = losing.Revoke(EntryId{"BANKB", 1});
  auto lp2 = losing.Revoke(EntryId{"BANKB", 7});
  ASSERT_EQ(Append({b1, b2, lp1, lp2}), std::vector<S>(4, S::kAppended));
  ASSERT_EQ(StateOf(TestSubject(1)), EntryState::kRevoked);
  ASSERT_EQ(StatsOf("BANKB").revoked_entries, 1u);
  ASSERT_EQ(Pending(), 1u);
  auto kp1 = regulator_.Revoke(EntryId{"BANKB", 2});

  ResolveOutcome out = Resolve("PBOC", 1, kp1);
  EXPECT_EQ(out.set_aside, 2u);
  EXPECT_FALSE(out.kept_appended);  // the kept record was never seen here
  EXPECT_EQ(StateOf(TestSubject(1)), EntryState::kActive);
  EXPECT_EQ(StatsOf("BANKB").revoked_entries, 0u);
  EXPECT_EQ(Pending(), 0u);
  Head head = HeadOf("PBOC");
  EXPECT_EQ(head.seq, 0u);
  EXPECT_EQ(head.hash, Hash256{});
  EXPECT_EQ(StatsOf("PBOC").records, 0u);
  EXPECT_EQ(StatsOf("PBOC").revocations, 0u);

  EXPECT_EQ(Append({lp1, kp1}), (std::vector<S>{S::kLosing, S::kAppended}));
  EXPECT_EQ(StateOf(TestSubject(2)), EntryState::kRevoked);
  EXPECT_EQ(StateOf(TestSubject(1)), EntryState::kActive);
}

TEST_F(ResolveTest, FeedFrozenAtALaterForkOnTheKeptBranchStaysFrozen) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  auto r3 = bank_a_.Entry(TestSubject(3));
  Append({r1, r2, r3});
  // Forks at 2 and, on the branch the resolution keeps, at 3: frozen at the earliest.
  ASSERT_EQ(Append({bank_a_.Equivocate(2, RecordHash(r1), TestSubject(20))}),
            std::vector<S>{S::kForked});
  ASSERT_EQ(Append({bank_a_.Equivocate(3, RecordHash(r2), TestSubject(30))}),
            std::vector<S>{S::kForked});
  ASSERT_EQ(HeadOf("BANKA").fork_seq, 2u);

  ResolveOutcome out = Resolve("BANKA", 2, r2);
  EXPECT_FALSE(out.unfrozen);
  EXPECT_TRUE(HeadOf("BANKA").frozen);
  EXPECT_EQ(HeadOf("BANKA").fork_seq, 3u);
  EXPECT_EQ(Append({bank_a_.Entry(TestSubject(4))}), std::vector<S>{S::kFrozen});
  // Resolving the later fork too unfreezes it.
  out = Resolve("BANKA", 3, r3);
  EXPECT_TRUE(out.unfrozen);
  EXPECT_FALSE(HeadOf("BANKA").frozen);
}

TEST_F(ResolveTest, NodeThatNeverSawTheForkOnlyRecordsTheResolution) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  Append({r1, r2});
  ResolveOutcome out = Resolve("BANKA", 2, r2);
  EXPECT_EQ(out.set_aside, 0u);
  EXPECT_FALSE(out.kept_appended);
  EXPECT_FALSE(out.unfrozen);
  EXPECT_EQ(HeadOf("BANKA").seq, 2u);
  // The losing record and the fork evidence it makes reach it later: refused, kept, no freeze.
  auto twin = bank_a_.Equivocate(2, RecordHash(r1), TestSubject(99));
  EXPECT_EQ(Append({twin}), std::vector<S>{S::kLosing});
  EXPECT_EQ(EvidenceCount(), 0u);
  Result<bool> kept =
      store_->AddEvidence(MustVerify(r2, trust_), MustVerify(twin, trust_), kTestNow);
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(*kept);
  EXPECT_EQ(EvidenceCount(), 1u);
  EXPECT_FALSE(HeadOf("BANKA").frozen);
  // Further along the losing branch, known only through evidence: still no freeze.
  auto r3 = bank_a_.Entry(TestSubject(3));
  auto r4 = bank_a_.Entry(TestSubject(4));
  ASSERT_EQ(Append({r3, r4}), (std::vector<S>{S::kAppended, S::kAppended}));
  Branch losing(bank_a_, 2, RecordHash(twin));
  auto l3 = losing.Entry(TestSubject(30));
  auto l4 = losing.Entry(TestSubject(40));
  ASSERT_TRUE(store_->AddEvidence(MustVerify(r3, trust_), MustVerify(l3, trust_), kTestNow).ok());
  ASSERT_TRUE(store_->AddEvidence(MustVerify(r4, trust_), MustVerify(l4, trust_), kTestNow).ok());
  EXPECT_EQ(EvidenceCount(), 3u);
  EXPECT_FALSE(HeadOf("BANKA").frozen);
  EXPECT_EQ(Append({l3, l4}), (std::vector<S>{S::kLosing, S::kLosing}));
  // A twin of r4 that follows r3 is a new fork on the kept branch.
  EXPECT_EQ(Append({bank_a_.Equivocate(4, RecordHash(r3), TestSubject(44))}),
            std::vector<S>{S::kForked});
  EXPECT_EQ(HeadOf("BANKA").fork_seq, 4u);
  // Applying the same resolution again changes nothing.
  out = Resolve("BANKA", 2, r2);
  EXPECT_EQ(out.set_aside, 0u);
  EXPECT_FALSE(out.unfrozen);
  EXPECT_EQ(HeadOf("BANKA").seq, 4u);
  EXPECT_TRUE(HeadOf("BANKA").frozen);
}

TEST_F(ResolveTest, SeqZeroRefusedAndNothingWritten) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  Append({r1});
  Result<ResolveOutcome> r = store_->ResolveFork("BANKA", 0, RecordHash(r1), kTestNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(r.error().message.find("seq 0"), std::string::npos) << r.error().message;
  Result<std::vector<std::pair<uint64_t, Hash256>>> resolution = store_->Resolutions("BANKA");
  ASSERT_TRUE(resolution.ok());
  EXPECT_TRUE(resolution->empty());
}

TEST_F(ResolveTest, ReadOnlyStoreRefusesAndReadsResolution) {
  auto r1 = bank_a_.Entry(TestSubject(1));
  auto r2 = bank_a_.Entry(TestSubject(2));
  Append({r1, r2});
  Resolve("BANKA", 2, r2);
  store_.reset();
  Options options;
  options.path = dir_ / "store";
  options.read_only = true;
  Result<std::unique_ptr<Store>> ro = Store::Open(options);
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  Result<std::vector<std::pair<uint64_t, Hash256>>> resolution = (*ro)->Resolutions("BANKA");
  ASSERT_TRUE(resolution.ok());
  ASSERT_EQ(resolution->size(), 1u);
  EXPECT_EQ(resolution->front().first, 2u);
  Result<ResolveOutcome> refused = (*ro)->ResolveFork("BANKA", 1, RecordHash(r1), kTestNow);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kIo);
}

}  // namespace
}  // namespace duanka::store

namespace duanka::store {
namespace {

TEST_F(ResolveTest, ASecondForkIsResolvedBesideTheFirstAndTheFirstStaysSettled) {
  const std::vector<AppendStatus> kLosingOnly{AppendStatus::kLosing};
  const std::vector<AppendStatus> kForkedOnly{AppendStatus::kForked};
  SignedRecord r1 = bank_a_.Entry(TestSubject(1));
  SignedRecord k2 = bank_a_.Entry(TestSubject(2));
  Branch first_other(bank_a_, 1, RecordHash(r1));
  SignedRecord l2 = first_other.Entry(TestSubject(20));
  Append({r1, k2});
  EXPECT_EQ(Append({l2}), kForkedOnly);
  Resolve("BANKA", 2, k2);
  EXPECT_FALSE(HeadOf("BANKA").frozen);

  // The feed goes on, then forks again at seq 4.
  SignedRecord k3 = bank_a_.Entry(TestSubject(3));
  SignedRecord k4 = bank_a_.Entry(TestSubject(4));
  Branch second_other(bank_a_, 3, RecordHash(k3));
  SignedRecord l4 = second_other.Entry(TestSubject(40));
  Append({k3, k4});
  EXPECT_EQ(Append({l4}), kForkedOnly);
  ASSERT_TRUE(HeadOf("BANKA").frozen);
  EXPECT_EQ(HeadOf("BANKA").fork_seq, 4u);
  // The first fork's losing record, sent again by a peer, is still recognised as settled.
  EXPECT_EQ(Append({l2}), kLosingOnly);
  EXPECT_EQ(HeadOf("BANKA").fork_seq, 4u);

  Resolve("BANKA", 4, k4);
  EXPECT_FALSE(HeadOf("BANKA").frozen);
  Result<std::vector<std::pair<uint64_t, Hash256>>> both = store_->Resolutions("BANKA");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*both,
            (std::vector<std::pair<uint64_t, Hash256>>{{2, RecordHash(k2)}, {4, RecordHash(k4)}}));
  // Neither fork freezes the feed again, whether its records or its evidence come back.
  EXPECT_EQ(Append({l2}), kLosingOnly);
  EXPECT_EQ(Append({l4}), kLosingOnly);
  Result<bool> kept = store_->AddEvidence(MustVerify(k2, trust_), MustVerify(l2, trust_), kTestNow);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(HeadOf("BANKA").frozen);
  // And the feed grows on the kept branch.
  EXPECT_EQ(Append({bank_a_.Entry(TestSubject(5))}),
            std::vector<AppendStatus>{AppendStatus::kAppended});
}

}  // namespace
}  // namespace duanka::store
