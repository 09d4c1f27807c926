// Private to store/: the write path's state inside one write transaction, shared by appending
// (append.cpp) and fork resolution (resolve.cpp), so that a kept record a resolution restores is
// appended exactly as Append would append it.
#pragma once

#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "store/detail/store_impl.h"

namespace duanka::store::detail {

// Applies one batch inside a write transaction. Heads are cached and written back once at the
// end, so a batch of one feed costs one head read and one head write in all.
class BatchWriter {
 public:
  BatchWriter(Store::Impl& impl, MDB_txn* txn, int64_t now) : impl_(impl), txn_(txn), now_(now) {}

  AppendStatus Add(const VerifiedRecord& v) {
    const protocol::Record& r = v.record();
    HeadValue& head = HeadOf(r.issuer);
    if (Discarded(head, r, v.hash())) return AppendStatus::kLosing;
    if (r.seq <= head.seq) return HeldSeq(r.issuer, head, v);
    // Records before the fork are still the issuer's one history; nothing at or past it is taken.
    if (head.frozen && r.seq >= head.fork_seq) return AppendStatus::kFrozen;
    if (r.seq > head.seq + 1) return AppendStatus::kGap;
    if (r.prev != head.hash) return AppendStatus::kConflict;
    if (head.seq > 0 && !protocol::IssueTimeFollows(HeadIssuedAt(r.issuer, head), r.issued_at)) {
      return AppendStatus::kMisdated;
    }
    Extend(r.issuer, head, r, v.hash(), v.signed_record());
    return AppendStatus::kAppended;
  }

  // The issue time of the feed's head record, read once per batch and then kept by Extend.
  int64_t HeadIssuedAt(const std::string& issuer, const HeadValue& head) {
    auto it = head_issued_at_.find(issuer);
    if (it != head_issued_at_.end()) return it->second;
    std::optional<SignedRecord> held = impl_.ReadRecord(txn_, head.issuer_id, head.seq);
    if (!held) throw LmdbError{MDB_CORRUPTED, "a feed's head points past its records"};
    Result<protocol::Record> r = protocol::DecodeRecord(held->bytes);
    if (!r) throw LmdbError{MDB_CORRUPTED, "a feed's head record does not decode"};
    return head_issued_at_[issuer] = r->issued_at;
  }

  // The compromise time of the key that signed `r`, when it is withdrawn (asked once per key per
  // batch: a batch is mostly one issuer's records under one key).
  std::optional<int64_t> SignerWithdrawnSince(const protocol::Record& r) {
    auto it = withdrawn_since_.find(r.signer_key_id);
    if (it != withdrawn_since_.end()) return it->second;
    return withdrawn_since_[r.signer_key_id] = impl_.WithdrawnSince(txn_, r.signer_key_id);
  }

  // The head as the batch sees it, for AppendOwn's record maker.
  Head PublicHead(const std::string& issuer) {
    const HeadValue& h = HeadOf(issuer);
    return store::Head{issuer, h.seq, h.hash, h.frozen, h.fork_seq, h.last_grew_at};
  }

  void Flush() {
    FlushDayCounts();
    for (const std::string& issuer : dirty_) {
      std::string value = heads_.at(issuer).Encode();
      MDB_val k = Val(issuer), v = Val(value);
      Check(mdb_put(txn_, impl_.heads, &k, &v, 0), "cannot write a feed head");
    }
    dirty_.clear();
  }

  // Two validly signed records of one (issuer, seq): kept, and the feed frozen at seq, whether
  // or not either record is held. Returns false if evidence for that seq was already kept.
  bool AddEvidence(const VerifiedRecord& a, const VerifiedRecord& b) {
    const std::string& issuer = a.record().issuer;
    HeadValue& head = HeadOf(issuer);
    if (head.issuer_id == 0) {
      head.issuer_id = AssignIssuerId(issuer);
      dirty_.insert(issuer);
    }
    // The held record (if any) goes first, as a fork found while appending would put it.
    bool b_held = false;
    if (a.record().seq <= head.seq) {
      std::optional<SignedRecord> held = impl_.ReadRecord(txn_, head.issuer_id, a.record().seq);
      b_held = held && protocol::RecordHash(*held) == b.hash();
    }
    const VerifiedRecord& first = b_held ? b : a;
    const VerifiedRecord& second = b_held ? a : b;
    // Peers without the resolution keep sending the resolved fork's evidence: it is proof worth
    // keeping, but that fork is settled, so it must not freeze the feed again.
    bool settled = Settled(head, a.record(), a.hash()) || Settled(head, b.record(), b.hash());
    return KeepEvidence(issuer, head, a.record().seq, first.signed_record(), second.signed_record(),
                        !settled);
  }

  // The flood guard (hold.cpp): what this batch held, and the days whose limit it crossed.
  size_t held() const { return held_; }
  const std::vector<LimitCrossing>& crossings() const { return crossings_; }

  // Applies a fork resolution (resolve.cpp; Store::ResolveFork says what it does).
  ResolveOutcome Resolve(const std::string& issuer, uint64_t seq, const Hash256& kept);
  // Withdraws a signing key since a compromise time (withdraw.cpp; Store::WithdrawKey says what
  // it does). Returns the entries suspended under the key afterwards.
  uint64_t Withdraw(const std::string& issuer, const Hash256& key_id, int64_t since);

 private:
  HeadValue& HeadOf(const std::string& issuer) {
    auto it = heads_.find(issuer);
    if (it != heads_.end()) return it->second;
    std::optional<HeadValue> held = impl_.ReadHead(txn_, issuer);
    return heads_.emplace(issuer, held.value_or(HeadValue{})).first->second;
  }

  // The resolutions applied to an issuer's feed, one per resolved fork, in seq order; read once
  // per batch.
  std::vector<ResolvedValue>& ResolutionsOf(const std::string& issuer) {
    auto it = resolutions_.find(issuer);
    if (it != resolutions_.end()) return it->second;
    std::vector<ResolvedValue> all;
    if (impl_.resolved != 0) {
      Cursor c(txn_, impl_.resolved);
      Check(c.open_rc(), "cannot open a cursor");
      const std::string prefix = EntryKey(issuer, 0).substr(0, issuer.size() + 1);
      MDB_val k = Val(prefix), v;
      int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
      while (Found(rc, "cannot read fork resolutions") &&
             View(k).substr(0, prefix.size()) == prefix) {
        std::optional<ResolvedValue> resolved = ResolvedValue::Decode(View(v));
        if (!resolved) throw LmdbError{MDB_CORRUPTED, "a fork resolution is truncated"};
        all.push_back(*resolved);
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
      }
    }
    return resolutions_.emplace(issuer, std::move(all)).first->second;
  }

  // Whether a record lies on a branch one of the issuer's fork resolutions discarded. At a
  // fork's seq and the one after, the resolution alone decides; further along only a branch this
  // node set aside or holds as evidence is recognisable, and a record that extends the held feed
  // is not on one, so the common case costs no read.
  bool Discarded(const HeadValue& head, const protocol::Record& r, const Hash256& hash) {
    const bool extends = r.seq == head.seq + 1 && r.prev == head.hash;
    for (const ResolvedValue& resolved : ResolutionsOf(r.issuer)) {
      if (r.seq < resolved.seq) break;
      if (extends && r.seq > resolved.seq + 1) continue;
      if (KnownDiscarded(resolved, head.issuer_id, r.seq, hash, r.prev, 0)) return true;
    }
    return false;
  }
  // Whether a record (of evidence, say) lies on a branch any resolution discarded: as Discarded,
  // without the shortcut for records that extend the feed.
  bool Settled(const HeadValue& head, const protocol::Record& r, const Hash256& hash) {
    for (const ResolvedValue& resolved : ResolutionsOf(r.issuer)) {
      if (r.seq < resolved.seq) break;
      if (KnownDiscarded(resolved, head.issuer_id, r.seq, hash, r.prev, 0)) return true;
    }
    return false;
  }
  bool KnownDiscarded(const ResolvedValue& resolved, uint32_t issuer_id, uint64_t seq,
                      const Hash256& hash, const Hash256& prev, size_t depth);

  // A record at a seq this feed already holds: the same one, or proof of a fork.
  AppendStatus HeldSeq(const std::string& issuer, HeadValue& head, const VerifiedRecord& v) {
    std::optional<SignedRecord> held = impl_.ReadRecord(txn_, head.issuer_id, v.record().seq);
    if (!held) throw LmdbError{MDB_CORRUPTED, "a feed's head points past its records"};
    if (protocol::RecordHash(*held) == v.hash()) return AppendStatus::kDuplicate;
    KeepEvidence(issuer, head, v.record().seq, *held, v.signed_record(), true);
    return AppendStatus::kForked;
  }

  bool KeepEvidence(const std::string& issuer, HeadValue& head, uint64_t seq,
                    const SignedRecord& held, const SignedRecord& other, bool freeze) {
    auto key = RecordKey(head.issuer_id, seq);
    MDB_val k = Val(key.data(), key.size()), held_already{};
    int rc = mdb_get(txn_, impl_.evidence, &k, &held_already);
    if (rc != 0 && rc != MDB_NOTFOUND) Check(rc, "cannot read fork evidence");
    // Evidence of a fork held already (peers echo it back) changes nothing: in particular it
    // must not make room by dropping another pair.
    if (rc == MDB_NOTFOUND) {
      if (!MakeRoomForEvidence(head.issuer_id, seq)) return false;
      std::string value = EncodeEvidence(held, other);
      MDB_val val = Val(value);
      rc = mdb_put(txn_, impl_.evidence, &k, &val, MDB_NOOVERWRITE);
      Check(rc, "cannot keep fork evidence");
    } else {
      rc = MDB_KEYEXIST;
    }
    if (freeze && (!head.frozen || seq < head.fork_seq)) {
      head.frozen = true;
      head.fork_seq = seq;
      dirty_.insert(issuer);
    }
    return rc != MDB_KEYEXIST;
  }

  // One fork proves an issuer equivocated; more only cost space. A feed keeps at most
  // kMaxEvidencePerFeed pairs, the earliest forks (the earliest is where the feed froze): a pair
  // at a later seq than all held is not kept, one at an earlier seq replaces the latest held.
  bool MakeRoomForEvidence(uint32_t issuer_id, uint64_t seq) {
    MDB_cursor* cursor = nullptr;
    Check(mdb_cursor_open(txn_, impl_.evidence, &cursor), "cannot read fork evidence");
    auto first = RecordKey(issuer_id, 0);
    MDB_val k = Val(first.data(), first.size()), v{};
    size_t held = 0;
    std::optional<std::array<char, 12>> latest;
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == first.size() && std::memcmp(k.mv_data, first.data(), 4) == 0) {
      ++held;
      latest.emplace();
      std::memcpy(latest->data(), k.mv_data, latest->size());
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) Check(rc, "cannot read fork evidence");
    if (held < kMaxEvidencePerFeed) return true;
    auto wanted = RecordKey(issuer_id, seq);
    // Keys are big-endian, so byte order is seq order.
    if (std::memcmp(wanted.data(), latest->data(), wanted.size()) >= 0) return false;
    MDB_val drop = Val(latest->data(), latest->size());
    Check(mdb_del(txn_, impl_.evidence, &drop, nullptr), "cannot replace fork evidence");
    return true;
  }

  void Extend(const std::string& issuer, HeadValue& head, const protocol::Record& r,
              const Hash256& hash, const SignedRecord& record) {
    if (head.issuer_id == 0) head.issuer_id = AssignIssuerId(issuer);
    PutRecord(head.issuer_id, r.seq, record);
    head.seq = r.seq;
    head.hash = hash;
    head.last_grew_at = now_;
    head_issued_at_[issuer] = r.issued_at;
    ++head.records;
    dirty_.insert(issuer);
    if (const protocol::EntryBody* e = r.entry()) {
      IndexEntry(head, r, *e);
      return;
    }
    // A revocation that waited for this seq found no entry (a revocation or a profile is here):
    // it withdraws nothing, and must not wait, nor count as pending, for ever.
    (void)TakePending(issuer, r.seq);
    if (r.revocation() != nullptr) {
      ++head.revocations;
      // A revocation signed by a withdrawn key since its compromise is kept in the feed but
      // withdraws nothing: a thief must not be able to unlist an issuer's genuine entries.
      if (std::optional<int64_t> since = SignerWithdrawnSince(r); !since || r.issued_at < *since) {
        ApplyRevocation(r, *r.revocation());
      }
    }
  }

  uint32_t AssignIssuerId(const std::string& issuer) {
    MDB_val k = Val(kNextIssuerIdKey), v;
    uint32_t id = 1;
    if (Found(mdb_get(txn_, impl_.meta, &k, &v), "cannot read the next issuer id") &&
        v.mv_size == 4) {
      id = GetU32(static_cast<const char*>(v.mv_data));
    }
    char next[4];
    PutU32(next, id + 1);
    MDB_val nv = Val(next, sizeof next);
    Check(mdb_put(txn_, impl_.meta, &k, &nv, 0), "cannot write the next issuer id");
    char key[4];
    PutU32(key, id);
    MDB_val ik = Val(key, sizeof key), iv = Val(issuer);
    Check(mdb_put(txn_, impl_.issuer_ids, &ik, &iv, MDB_NOOVERWRITE), "cannot write an issuer id");
    return id;
  }

  void PutRecord(uint32_t issuer_id, uint64_t seq, const SignedRecord& record) {
    auto key = RecordKey(issuer_id, seq);
    std::string value = EncodeSignedRecord(record);
    MDB_val k = Val(key.data(), key.size()), v = Val(value);
    // Appending past the table's last key lets LMDB fill pages instead of splitting them in
    // half: a feed synced in order then packs its records densely.
    std::string_view key_view(key.data(), key.size());
    bool at_end = RecordsTail() < key_view;
    Check(mdb_put(txn_, impl_.records, &k, &v, at_end ? MDB_APPEND : MDB_NOOVERWRITE),
          "cannot write a record");
    if (at_end) records_tail_.assign(key.data(), key.size());
  }

  const std::string& RecordsTail() {
    if (!records_tail_loaded_) {
      Cursor c(txn_, impl_.records);
      Check(c.open_rc(), "cannot open a cursor");
      MDB_val k, v;
      if (Found(mdb_cursor_get(c.get(), &k, &v, MDB_LAST), "cannot read the last record")) {
        records_tail_ = std::string(View(k));
      }
      records_tail_loaded_ = true;
    }
    return records_tail_;
  }

  void IndexEntry(HeadValue& head, const protocol::Record& r, const protocol::EntryBody& e) {
    ++head.entries;
    SubjectValue sv;
    sv.issuer_id = head.issuer_id;
    sv.seq = r.seq;
    sv.id_type = static_cast<uint8_t>(e.id_type);
    sv.category = static_cast<uint8_t>(e.category);
    sv.basis = static_cast<uint8_t>(e.basis);
    sv.expires_at = e.expires_at;
    sv.issued_at = r.issued_at;
    if (std::optional<int64_t> since = SignerWithdrawnSince(r); since && r.issued_at >= *since) {
      sv.flags |= SubjectValue::kSuspendedFlag;
    }
    if (CountAndHold(r, e)) sv.flags |= SubjectValue::kHeldFlag;
    if (std::optional<RevokedValue> early = TakePending(r.issuer, r.seq)) {
      sv.flags |= SubjectValue::kRevokedFlag;
      PutRevoked(r.issuer, r.seq, *early);
      ++head.revoked_entries;
    }
    auto value = sv.Encode();
    MDB_val k = Val(e.subject.bytes.data(), e.subject.bytes.size()),
            v = Val(value.data(), value.size());
    Check(mdb_put(txn_, impl_.subjects, &k, &v, 0), "cannot index a subject");
    impl_.NoteListingChange(txn_, e.subject, nullptr, &sv, now_, "");
  }

  // A revocation that arrived before its entry: the first one waiting wins.
  std::optional<RevokedValue> TakePending(const std::string& issuer, uint64_t seq) {
    std::string key = EntryKey(issuer, seq);
    MDB_val k = Val(key), v;
    if (!Found(mdb_get(txn_, impl_.pending, &k, &v), "cannot read pending revocations")) {
      return std::nullopt;
    }
    std::optional<RevokedValue> first = RevokedValue::Decode(View(v));
    Check(mdb_del(txn_, impl_.pending, &k, nullptr), "cannot clear pending revocations");
    return first;
  }

  void PutRevoked(const std::string& issuer, uint64_t seq, const RevokedValue& value) {
    std::string key = EntryKey(issuer, seq);
    std::string encoded = value.Encode();
    MDB_val k = Val(key), v = Val(encoded);
    Check(mdb_put(txn_, impl_.revoked, &k, &v, 0), "cannot record a revocation");
  }

  void ApplyRevocation(const protocol::Record& r, const protocol::RevocationBody& rev) {
    const protocol::EntryId& target = rev.target;
    std::string target_key = EntryKey(target.issuer, target.seq);
    MDB_val tk = Val(target_key), tv;
    // Withdrawing what is already withdrawn changes nothing.
    if (Found(mdb_get(txn_, impl_.revoked, &tk, &tv), "cannot read revocations")) return;
    RevokedValue value{r.issuer, r.seq, static_cast<uint8_t>(rev.reason), r.issued_at};
    HeadValue& target_head = HeadOf(target.issuer);
    if (target_head.issuer_id == 0 || target.seq > target_head.seq) {
      std::string encoded = value.Encode();
      MDB_val pv = Val(encoded);
      int rc = mdb_put(txn_, impl_.pending, &tk, &pv, MDB_NODUPDATA);
      if (rc != MDB_KEYEXIST) Check(rc, "cannot keep a pending revocation");
      return;
    }
    std::optional<SignedRecord> held = impl_.ReadRecord(txn_, target_head.issuer_id, target.seq);
    if (!held) throw LmdbError{MDB_CORRUPTED, "a feed's head points past its records"};
    Result<protocol::Record> decoded = protocol::DecodeRecord(held->bytes);
    // A revocation of a revocation withdraws nothing; the record itself still stands in its feed.
    if (!decoded || decoded->entry() == nullptr) return;
    impl_.SetSubjectFlag(txn_, decoded->entry()->subject, target_head.issuer_id, target.seq,
                         SubjectValue::kRevokedFlag, true, now_,
                         protocol::RevocationReasonName(rev.reason));
    PutRevoked(target.issuer, target.seq, value);
    ++target_head.revoked_entries;
    dirty_.insert(target.issuer);
  }

  // The flood guard (hold.cpp). CountAndHold counts an entry against its issuer's issue day and
  // returns whether it is held (the held row written); Uncount takes back an entry set aside.
  bool CountAndHold(const protocol::Record& r, const protocol::EntryBody& e);
  void Uncount(const std::string& issuer, const protocol::Record& r, bool was_held);
  uint64_t& DayCount(const std::string& day_key);
  bool DayReleased(const std::string& day_key);
  void FlushDayCounts();

  // Fork resolution (resolve.cpp).
  void SetAside(const std::string& issuer, HeadValue& head, uint64_t seq, uint64_t fork_seq);
  void UndoEntry(const std::string& issuer, HeadValue& head, const protocol::Record& r,
                 const protocol::EntryBody& e, uint64_t fork_seq);
  void UndoRevocation(const protocol::Record& r, const protocol::RevocationBody& rev);
  SubjectValue RemoveSubjectValue(const Hash256& subject, uint32_t issuer_id, uint64_t seq);
  std::optional<Evidence> ReadEvidence(uint32_t issuer_id, uint64_t seq);
  std::optional<SignedRecord> ReadLosing(uint32_t issuer_id, uint64_t seq);
  void RefreezeAtLaterForks(const std::string& issuer, HeadValue& head,
                            const ResolvedValue& resolved);
  bool AppendKeptFromEvidence(const std::string& issuer, HeadValue& head,
                              const ResolvedValue& resolved);

  Store::Impl& impl_;
  MDB_txn* txn_;
  int64_t now_;
  std::map<std::string, HeadValue> heads_;
  std::set<std::string> dirty_;
  std::map<std::string, std::vector<ResolvedValue>> resolutions_;
  std::string records_tail_;
  bool records_tail_loaded_ = false;
  std::map<std::string, int64_t> head_issued_at_;
  std::map<Hash256, std::optional<int64_t>> withdrawn_since_;
  std::map<std::string, uint64_t> day_counts_;  // DayKey → entries counted, written by Flush
  size_t held_ = 0;
  std::vector<LimitCrossing> crossings_;
};

}  // namespace duanka::store::detail
