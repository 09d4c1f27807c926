// The write path: extending feeds, detecting forks, indexing entries and applying revocations,
// all inside one write transaction per batch.
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "store/detail/store_impl.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::HeadValue;
using detail::LmdbError;
using detail::RevokedValue;
using detail::SubjectValue;
using detail::Val;
using detail::View;

namespace {

// Applies one batch inside a write transaction. Heads are cached and written back once at the
// end, so a batch of one feed costs one head read and one head write in all.
class BatchWriter {
 public:
  BatchWriter(Store::Impl& impl, MDB_txn* txn, int64_t now) : impl_(impl), txn_(txn), now_(now) {}

  AppendStatus Add(const VerifiedRecord& v) {
    const protocol::Record& r = v.record();
    HeadValue& head = HeadOf(r.issuer);
    if (r.seq <= head.seq) return HeldSeq(r.issuer, head, v);
    // Records before the fork are still the issuer's one history; nothing at or past it is taken.
    if (head.frozen && r.seq >= head.fork_seq) return AppendStatus::kFrozen;
    if (r.seq > head.seq + 1) return AppendStatus::kGap;
    if (r.prev != head.hash) return AppendStatus::kConflict;
    Extend(r.issuer, head, v);
    return AppendStatus::kAppended;
  }

  // The head as the batch sees it, for AppendOwn's record maker.
  Head PublicHead(const std::string& issuer) {
    const HeadValue& h = HeadOf(issuer);
    return store::Head{issuer, h.seq, h.hash, h.frozen, h.fork_seq, h.last_grew_at};
  }

  void Flush() {
    for (const std::string& issuer : dirty_) {
      std::string value = heads_.at(issuer).Encode();
      MDB_val k = Val(issuer), v = Val(value);
      Check(mdb_put(txn_, impl_.heads, &k, &v, 0), "cannot write a feed head");
    }
    dirty_.clear();
  }

 private:
  HeadValue& HeadOf(const std::string& issuer) {
    auto it = heads_.find(issuer);
    if (it != heads_.end()) return it->second;
    std::optional<HeadValue> held = impl_.ReadHead(txn_, issuer);
    return heads_.emplace(issuer, held.value_or(HeadValue{})).first->second;
  }

  // A record at a seq this feed already holds: the same one, or proof of a fork.
  AppendStatus HeldSeq(const std::string& issuer, HeadValue& head, const VerifiedRecord& v) {
    std::optional<SignedRecord> held = impl_.ReadRecord(txn_, head.issuer_id, v.record().seq);
    if (!held) throw LmdbError{MDB_CORRUPTED, "a feed's head points past its records"};
    if (protocol::RecordHash(*held) == v.hash()) return AppendStatus::kDuplicate;
    KeepEvidence(issuer, head, v.record().seq, *held, v.signed_record());
    return AppendStatus::kForked;
  }

 public:
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
    return KeepEvidence(issuer, head, a.record().seq, first.signed_record(),
                        second.signed_record());
  }

 private:
  bool KeepEvidence(const std::string& issuer, HeadValue& head, uint64_t seq,
                    const SignedRecord& held, const SignedRecord& other) {
    auto key = detail::RecordKey(head.issuer_id, seq);
    MDB_val k = Val(key.data(), key.size()), held_already{};
    int rc = mdb_get(txn_, impl_.evidence, &k, &held_already);
    if (rc != 0 && rc != MDB_NOTFOUND) Check(rc, "cannot read fork evidence");
    // Evidence of a fork held already (peers echo it back) changes nothing: in particular it
    // must not make room by dropping another pair.
    if (rc == MDB_NOTFOUND) {
      if (!MakeRoomForEvidence(head.issuer_id, seq)) return false;
      std::string value = detail::EncodeEvidence(held, other);
      MDB_val val = Val(value);
      rc = mdb_put(txn_, impl_.evidence, &k, &val, MDB_NOOVERWRITE);
      Check(rc, "cannot keep fork evidence");
    } else {
      rc = MDB_KEYEXIST;
    }
    if (!head.frozen || seq < head.fork_seq) {
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
    auto first = detail::RecordKey(issuer_id, 0);
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
    auto wanted = detail::RecordKey(issuer_id, seq);
    // Keys are big-endian, so byte order is seq order.
    if (std::memcmp(wanted.data(), latest->data(), wanted.size()) >= 0) return false;
    MDB_val drop = Val(latest->data(), latest->size());
    Check(mdb_del(txn_, impl_.evidence, &drop, nullptr), "cannot replace fork evidence");
    return true;
  }

  void Extend(const std::string& issuer, HeadValue& head, const VerifiedRecord& v) {
    const protocol::Record& r = v.record();
    if (head.issuer_id == 0) head.issuer_id = AssignIssuerId(issuer);
    PutRecord(head.issuer_id, r.seq, v.signed_record());
    head.seq = r.seq;
    head.hash = v.hash();
    head.last_grew_at = now_;
    ++head.records;
    dirty_.insert(issuer);
    if (const protocol::EntryBody* e = r.entry()) {
      IndexEntry(head, r, *e);
    } else {
      ++head.revocations;
      ApplyRevocation(r, *r.revocation());
    }
  }

  uint32_t AssignIssuerId(const std::string& issuer) {
    MDB_val k = Val(detail::kNextIssuerIdKey), v;
    uint32_t id = 1;
    if (Found(mdb_get(txn_, impl_.meta, &k, &v), "cannot read the next issuer id") &&
        v.mv_size == 4) {
      id = detail::GetU32(static_cast<const char*>(v.mv_data));
    }
    char next[4];
    detail::PutU32(next, id + 1);
    MDB_val nv = Val(next, sizeof next);
    Check(mdb_put(txn_, impl_.meta, &k, &nv, 0), "cannot write the next issuer id");
    char key[4];
    detail::PutU32(key, id);
    MDB_val ik = Val(key, sizeof key), iv = Val(issuer);
    Check(mdb_put(txn_, impl_.issuer_ids, &ik, &iv, MDB_NOOVERWRITE), "cannot write an issuer id");
    return id;
  }

  void PutRecord(uint32_t issuer_id, uint64_t seq, const SignedRecord& record) {
    auto key = detail::RecordKey(issuer_id, seq);
    std::string value = detail::EncodeSignedRecord(record);
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
      detail::Cursor c(txn_, impl_.records);
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
    if (std::optional<RevokedValue> early = TakePending(r.issuer, r.seq)) {
      sv.flags |= SubjectValue::kRevokedFlag;
      PutRevoked(r.issuer, r.seq, *early);
      ++head.revoked_entries;
    }
    auto value = sv.Encode();
    MDB_val k = Val(e.subject.bytes.data(), e.subject.bytes.size()),
            v = Val(value.data(), value.size());
    Check(mdb_put(txn_, impl_.subjects, &k, &v, 0), "cannot index a subject");
  }

  // A revocation that arrived before its entry: the first one waiting wins.
  std::optional<RevokedValue> TakePending(const std::string& issuer, uint64_t seq) {
    std::string key = detail::EntryKey(issuer, seq);
    MDB_val k = Val(key), v;
    if (!Found(mdb_get(txn_, impl_.pending, &k, &v), "cannot read pending revocations")) {
      return std::nullopt;
    }
    std::optional<RevokedValue> first = RevokedValue::Decode(View(v));
    Check(mdb_del(txn_, impl_.pending, &k, nullptr), "cannot clear pending revocations");
    return first;
  }

  void PutRevoked(const std::string& issuer, uint64_t seq, const RevokedValue& value) {
    std::string key = detail::EntryKey(issuer, seq);
    std::string encoded = value.Encode();
    MDB_val k = Val(key), v = Val(encoded);
    Check(mdb_put(txn_, impl_.revoked, &k, &v, 0), "cannot record a revocation");
  }

  void ApplyRevocation(const protocol::Record& r, const protocol::RevocationBody& rev) {
    const protocol::EntryId& target = rev.target;
    std::string target_key = detail::EntryKey(target.issuer, target.seq);
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
    MarkSubjectRevoked(decoded->entry()->subject, target_head.issuer_id, target.seq);
    PutRevoked(target.issuer, target.seq, value);
    ++target_head.revoked_entries;
    dirty_.insert(target.issuer);
  }

  void MarkSubjectRevoked(const Hash256& subject, uint32_t issuer_id, uint64_t seq) {
    detail::Cursor c(txn_, impl_.subjects);
    Check(c.open_rc(), "cannot open a cursor");
    MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
    auto prefix = detail::RecordKey(issuer_id, seq);
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
    while (Found(rc, "cannot read the subjects index")) {
      if (v.mv_size == SubjectValue::kSize && std::memcmp(v.mv_data, prefix.data(), 12) == 0) {
        SubjectValue sv = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
        sv.flags |= SubjectValue::kRevokedFlag;
        auto updated = sv.Encode();
        MDB_val nv = Val(updated.data(), updated.size());
        // The flags sit after (issuer id, seq), so the duplicate keeps its place in the order.
        Check(mdb_cursor_put(c.get(), &k, &nv, MDB_CURRENT), "cannot update the subjects index");
        return;
      }
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
    }
    throw LmdbError{MDB_CORRUPTED, "an entry is missing from the subjects index"};
  }

  Store::Impl& impl_;
  MDB_txn* txn_;
  int64_t now_;
  std::map<std::string, HeadValue> heads_;
  std::set<std::string> dirty_;
  std::string records_tail_;
  bool records_tail_loaded_ = false;
};

Error StoreIo(const LmdbError& e, const Store::Impl& impl) {
  return MakeError(ErrorKind::kIo, "store " + impl.options.path.string() + ": " + e.what + ": " +
                                       mdb_strerror(e.rc));
}

}  // namespace

Result<AppendResult> Store::Append(std::span<const VerifiedRecord> batch, int64_t now) {
  AppendResult result;
  try {
    impl_->Write([&](MDB_txn* txn) {
      result = AppendResult{};
      BatchWriter writer(*impl_, txn, now);
      for (const VerifiedRecord& v : batch) {
        AppendStatus status = writer.Add(v);
        result.statuses.push_back(status);
        if (status == AppendStatus::kAppended) ++result.appended;
        if (status == AppendStatus::kForked) ++result.forks;
      }
      writer.Flush();
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return result;
}

Result<AppendResult> Store::AppendOwn(const std::string& issuer, const MakeRecords& make,
                                      int64_t now) {
  AppendResult result;
  std::optional<Error> refused;
  try {
    impl_->Write([&](MDB_txn* txn) {
      result = AppendResult{};
      refused.reset();
      BatchWriter writer(*impl_, txn, now);
      Head head = writer.PublicHead(issuer);
      if (head.frozen) {
        refused =
            MakeError(ErrorKind::kFrozen, "feed " + issuer + " is frozen after a fork at seq " +
                                              std::to_string(head.fork_seq));
        return false;
      }
      Result<std::vector<VerifiedRecord>> made = make(head);
      if (!made) {
        refused = std::move(made).error();
        return false;
      }
      for (const VerifiedRecord& v : *made) {
        AppendStatus status = writer.Add(v);
        result.statuses.push_back(status);
        if (status != AppendStatus::kAppended || v.record().issuer != issuer) {
          refused = MakeError(ErrorKind::kInternal, "record " + v.record().id().ToString() +
                                                        " does not extend feed " + issuer + " (" +
                                                        AppendStatusName(status) + ")");
          return false;
        }
        ++result.appended;
      }
      writer.Flush();
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  if (refused) return std::move(*refused);
  return result;
}

Result<bool> Store::AddEvidence(const VerifiedRecord& a, const VerifiedRecord& b, int64_t now) {
  const protocol::Record& ra = a.record();
  const protocol::Record& rb = b.record();
  if (ra.issuer != rb.issuer || ra.seq != rb.seq || a.hash() == b.hash()) {
    return MakeError(ErrorKind::kMalformed,
                     "evidence must be two different records of one issuer and sequence number");
  }
  bool added = false;
  try {
    impl_->Write([&](MDB_txn* txn) {
      BatchWriter writer(*impl_, txn, now);
      added = writer.AddEvidence(a, b);
      writer.Flush();
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return added;
}

Status Store::PutObject(std::string_view name, std::string_view bytes) {
  try {
    impl_->Write([&](MDB_txn* txn) {
      MDB_val k = Val(name), v = Val(bytes);
      Check(mdb_put(txn, impl_->objects, &k, &v, 0), "cannot keep a consortium object");
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

Status Store::PutCertificate(const Hash256& key_id, std::string_view der) {
  try {
    impl_->Write([&](MDB_txn* txn) {
      MDB_val k = Val(key_id.bytes.data(), key_id.bytes.size()), v = Val(der);
      int rc = mdb_put(txn, impl_->certs, &k, &v, MDB_NOOVERWRITE);
      if (rc != MDB_KEYEXIST) Check(rc, "cannot keep a certificate");
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

}  // namespace duanka::store
