// Fork resolution: a regulator names the record kept at a fork's seq; the losing branch held here
// is set aside as evidence and its effects undone, so the store ends as if it had only ever
// received the kept branch.
#include <algorithm>
#include <utility>
#include <vector>

#include "store/detail/batch_writer.h"

namespace duanka::store {

using detail::BatchWriter;
using detail::Check;
using detail::Found;
using detail::HeadValue;
using detail::LmdbError;
using detail::ResolvedValue;
using detail::RevokedValue;
using detail::StoreIo;
using detail::SubjectValue;
using detail::Val;
using detail::View;

namespace {

// Counters of a head are only ever decremented for what they counted; saturating keeps a store
// damaged by hand from wrapping them to 2^64.
void Decrement(uint64_t& counter) {
  if (counter > 0) --counter;
}

protocol::Record MustDecode(const SignedRecord& stored) {
  Result<protocol::Record> r = protocol::DecodeRecord(stored.bytes);
  if (!r) throw LmdbError{MDB_CORRUPTED, "a stored record does not decode"};
  return std::move(r).value();
}

}  // namespace

namespace detail {

ResolveOutcome BatchWriter::Resolve(const std::string& issuer, uint64_t seq, const Hash256& kept) {
  ResolveOutcome out;
  const ResolvedValue resolved{seq, kept};
  std::string value = resolved.Encode();
  // One row per resolved fork: a feed that forks again later keeps its earlier resolutions, so
  // their discarded branches stay recognisable.
  std::string key = EntryKey(issuer, seq);
  MDB_val k = Val(key), v = Val(value);
  Check(mdb_put(txn_, impl_.resolved, &k, &v, 0), "cannot keep a fork resolution");
  std::vector<ResolvedValue>& known = ResolutionsOf(issuer);
  std::erase_if(known, [&](const ResolvedValue& r) { return r.seq == seq; });
  known.insert(std::upper_bound(known.begin(), known.end(), seq,
                                [](uint64_t s, const ResolvedValue& r) { return s < r.seq; }),
               resolved);

  HeadValue& head = HeadOf(issuer);
  const bool was_frozen = head.frozen;
  const uint64_t old_seq = head.seq;
  if (head.issuer_id != 0 && seq <= head.seq) {
    std::optional<SignedRecord> at_fork = impl_.ReadRecord(txn_, head.issuer_id, seq);
    if (!at_fork) throw LmdbError{MDB_CORRUPTED, "a feed's head points past its records"};
    if (protocol::RecordHash(*at_fork) != kept) {
      // Newest first: a revocation on the branch is undone before the entry it withdrew goes.
      for (uint64_t s = old_seq; s >= seq; --s) {
        SetAside(issuer, head, s, seq);
        ++out.set_aside;
      }
      head.seq = seq - 1;
      head.hash = Hash256{};
      if (head.seq > 0) {
        std::optional<SignedRecord> parent = impl_.ReadRecord(txn_, head.issuer_id, head.seq);
        if (!parent) throw LmdbError{MDB_CORRUPTED, "a feed is missing a record before its head"};
        head.hash = protocol::RecordHash(*parent);
      }
      head.records = head.records >= out.set_aside ? head.records - out.set_aside : 0;
      dirty_.insert(issuer);
    }
  }
  // Frozen by this fork, or by one on the branch just set aside: that fork is settled.
  const bool fork_set_aside = out.set_aside > 0 && head.fork_seq >= seq && head.fork_seq <= old_seq;
  if (head.frozen && (head.fork_seq == seq || fork_set_aside)) {
    head.frozen = false;
    head.fork_seq = 0;
    dirty_.insert(issuer);
    RefreezeAtLaterForks(issuer, head, resolved);
  }
  out.kept_appended = AppendKeptFromEvidence(issuer, head, resolved);
  out.unfrozen = was_frozen && !head.frozen;
  return out;
}

bool BatchWriter::KnownDiscarded(const ResolvedValue& resolved, uint32_t issuer_id, uint64_t seq,
                                 const Hash256& hash, const Hash256& prev, size_t depth) {
  if (seq < resolved.seq) return false;
  if (seq == resolved.seq) return hash != resolved.kept;
  // Every record after the kept one links to it.
  if (seq == resolved.seq + 1) return prev != resolved.kept;
  // Each step back reads evidence at the seq before, of which a feed keeps a few pairs at most.
  if (issuer_id == 0 || depth > kMaxEvidencePerFeed) return false;
  if (std::optional<SignedRecord> set_aside = ReadLosing(issuer_id, seq)) {
    if (protocol::RecordHash(*set_aside) == hash) return true;
  }
  if (std::optional<SignedRecord> parent = ReadLosing(issuer_id, seq - 1)) {
    if (protocol::RecordHash(*parent) == prev) return true;
  }
  // A node that never held the losing branch knows its records only as fork evidence.
  if (std::optional<Evidence> pair = ReadEvidence(issuer_id, seq - 1)) {
    for (const SignedRecord* side : {&pair->held, &pair->other}) {
      if (protocol::RecordHash(*side) != prev) continue;
      protocol::Record parent = MustDecode(*side);
      return KnownDiscarded(resolved, issuer_id, seq - 1, prev, parent.prev, depth + 1);
    }
  }
  return false;
}

void BatchWriter::SetAside(const std::string& issuer, HeadValue& head, uint64_t seq,
                           uint64_t fork_seq) {
  std::optional<SignedRecord> held = impl_.ReadRecord(txn_, head.issuer_id, seq);
  if (!held) throw LmdbError{MDB_CORRUPTED, "a feed's head points past its records"};
  protocol::Record r = MustDecode(*held);
  if (const protocol::EntryBody* e = r.entry()) {
    UndoEntry(issuer, head, r, *e, fork_seq);
  } else if (r.revocation() != nullptr) {
    Decrement(head.revocations);
    UndoRevocation(r, *r.revocation());
  }
  auto key = RecordKey(head.issuer_id, seq);
  std::string value = EncodeSignedRecord(*held);
  MDB_val k = Val(key.data(), key.size()), v = Val(value);
  // A row left by an earlier resolution at this seq is replaced: the record held now is the one
  // the newest resolution discards.
  Check(mdb_put(txn_, impl_.losing, &k, &v, 0), "cannot set a losing record aside");
  Check(mdb_del(txn_, impl_.records, &k, nullptr), "cannot remove a losing record");
  // The cached tail may now name a removed key; reloading keeps MDB_APPEND exact.
  records_tail_loaded_ = false;
  records_tail_.clear();
}

void BatchWriter::UndoEntry(const std::string& issuer, HeadValue& head, const protocol::Record& r,
                            const protocol::EntryBody& e, uint64_t fork_seq) {
  SubjectValue removed = RemoveSubjectValue(e.subject, head.issuer_id, r.seq);
  impl_.NoteListingChange(txn_, e.subject, &removed, nullptr, now_, "fork-resolved");
  Decrement(head.entries);
  Uncount(issuer, r, (removed.flags & SubjectValue::kHeldFlag) != 0);
  if (removed.flags & SubjectValue::kRevokedFlag) Decrement(head.revoked_entries);
  std::string key = EntryKey(issuer, r.seq);
  MDB_val k = Val(key), v;
  if (!Found(mdb_get(txn_, impl_.revoked, &k, &v), "cannot read revocations")) return;
  std::optional<RevokedValue> by = RevokedValue::Decode(View(v));
  Check(mdb_del(txn_, impl_.revoked, &k, nullptr), "cannot undo a revocation");
  // A revocation by a record that stays names this entry's id, not this record: it waits for the
  // kept branch's record at this seq, as on a node that never held this one.
  if (by && !(by->by_issuer == issuer && by->by_seq >= fork_seq)) {
    std::string encoded = by->Encode();
    MDB_val pv = Val(encoded);
    int rc = mdb_put(txn_, impl_.pending, &k, &pv, MDB_NODUPDATA);
    if (rc != MDB_KEYEXIST) Check(rc, "cannot keep a pending revocation");
  }
}

void BatchWriter::UndoRevocation(const protocol::Record& r, const protocol::RevocationBody& rev) {
  const protocol::EntryId& target = rev.target;
  std::string target_key = EntryKey(target.issuer, target.seq);
  MDB_val tk = Val(target_key), tv;
  if (Found(mdb_get(txn_, impl_.revoked, &tk, &tv), "cannot read revocations")) {
    std::optional<RevokedValue> applied = RevokedValue::Decode(View(tv));
    // Withdrawn by another record first: this one changed nothing.
    if (!applied || applied->by_issuer != r.issuer || applied->by_seq != r.seq) return;
    Check(mdb_del(txn_, impl_.revoked, &tk, nullptr), "cannot undo a revocation");
    HeadValue& target_head = HeadOf(target.issuer);
    std::optional<SignedRecord> held = impl_.ReadRecord(txn_, target_head.issuer_id, target.seq);
    if (!held) throw LmdbError{MDB_CORRUPTED, "a revoked entry is missing from its feed"};
    protocol::Record entry = MustDecode(*held);
    if (entry.entry() == nullptr) {
      throw LmdbError{MDB_CORRUPTED, "a revocation is recorded against a revocation"};
    }
    impl_.SetSubjectFlag(txn_, entry.entry()->subject, target_head.issuer_id, target.seq,
                         SubjectValue::kRevokedFlag, false, now_, "");
    Decrement(target_head.revoked_entries);
    dirty_.insert(target.issuer);
    return;
  }
  Cursor c(txn_, impl_.pending);
  Check(c.open_rc(), "cannot open a cursor");
  MDB_val k = Val(target_key), v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
  while (Found(rc, "cannot read pending revocations")) {
    std::optional<RevokedValue> waiting = RevokedValue::Decode(View(v));
    if (waiting && waiting->by_issuer == r.issuer && waiting->by_seq == r.seq) {
      Check(mdb_cursor_del(c.get(), 0), "cannot undo a pending revocation");
      return;
    }
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
  }
}

SubjectValue BatchWriter::RemoveSubjectValue(const Hash256& subject, uint32_t issuer_id,
                                             uint64_t seq) {
  Cursor c(txn_, impl_.subjects);
  Check(c.open_rc(), "cannot open a cursor");
  MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
  auto prefix = RecordKey(issuer_id, seq);
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
  while (Found(rc, "cannot read the subjects index")) {
    if (v.mv_size == SubjectValue::kSize && std::memcmp(v.mv_data, prefix.data(), 12) == 0) {
      SubjectValue sv = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
      Check(mdb_cursor_del(c.get(), 0), "cannot update the subjects index");
      return sv;
    }
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
  }
  throw LmdbError{MDB_CORRUPTED, "an entry is missing from the subjects index"};
}

std::optional<Evidence> BatchWriter::ReadEvidence(uint32_t issuer_id, uint64_t seq) {
  auto key = RecordKey(issuer_id, seq);
  MDB_val k = Val(key.data(), key.size()), v;
  if (!Found(mdb_get(txn_, impl_.evidence, &k, &v), "cannot read fork evidence")) {
    return std::nullopt;
  }
  std::optional<Evidence> pair = DecodeEvidence(View(v));
  if (!pair) throw LmdbError{MDB_CORRUPTED, "fork evidence is truncated"};
  return pair;
}

std::optional<SignedRecord> BatchWriter::ReadLosing(uint32_t issuer_id, uint64_t seq) {
  if (impl_.losing == 0) return std::nullopt;
  auto key = RecordKey(issuer_id, seq);
  MDB_val k = Val(key.data(), key.size()), v;
  if (!Found(mdb_get(txn_, impl_.losing, &k, &v), "cannot read a losing record")) {
    return std::nullopt;
  }
  std::optional<SignedRecord> record = DecodeSignedRecord(View(v));
  if (!record) throw LmdbError{MDB_CORRUPTED, "a losing record does not decode"};
  return record;
}

void BatchWriter::RefreezeAtLaterForks(const std::string& issuer, HeadValue& head,
                                       const ResolvedValue& resolved) {
  if (head.issuer_id == 0) return;
  std::vector<std::pair<uint64_t, Evidence>> later;
  {
    Cursor c(txn_, impl_.evidence);
    Check(c.open_rc(), "cannot open a cursor");
    auto from = RecordKey(head.issuer_id, resolved.seq + 1);
    MDB_val k = Val(from.data(), from.size()), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    while (Found(rc, "cannot read fork evidence") && k.mv_size == from.size() &&
           std::memcmp(k.mv_data, from.data(), 4) == 0) {
      std::optional<Evidence> pair = DecodeEvidence(View(v));
      if (!pair) throw LmdbError{MDB_CORRUPTED, "fork evidence is truncated"};
      later.emplace_back(GetU64(static_cast<const char*>(k.mv_data) + 4), std::move(*pair));
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  }
  // In seq order, so the first real fork found is the earliest, where the feed freezes.
  for (const auto& [seq, pair] : later) {
    protocol::Record a = MustDecode(pair.held);
    protocol::Record b = MustDecode(pair.other);
    if (Settled(head, a, protocol::RecordHash(pair.held)) ||
        Settled(head, b, protocol::RecordHash(pair.other))) {
      continue;
    }
    head.frozen = true;
    head.fork_seq = seq;
    dirty_.insert(issuer);
    return;
  }
}

bool BatchWriter::AppendKeptFromEvidence(const std::string& issuer, HeadValue& head,
                                         const ResolvedValue& resolved) {
  if (head.issuer_id == 0 || head.seq + 1 != resolved.seq) return false;
  if (head.frozen && resolved.seq >= head.fork_seq) return false;
  std::optional<Evidence> pair = ReadEvidence(head.issuer_id, resolved.seq);
  if (!pair) return false;
  for (const SignedRecord* side : {&pair->held, &pair->other}) {
    Hash256 hash = protocol::RecordHash(*side);
    if (hash != resolved.kept) continue;
    protocol::Record r = MustDecode(*side);
    if (r.issuer != issuer || r.seq != resolved.seq || r.prev != head.hash) return false;
    Extend(issuer, head, r, hash, *side);
    return true;
  }
  return false;
}

}  // namespace detail

Result<ResolveOutcome> Store::ResolveFork(const std::string& issuer, uint64_t seq,
                                          const Hash256& kept, int64_t now) {
  if (issuer.empty()) {
    return MakeError(ErrorKind::kInvalidInput, "a fork resolution must name the forked issuer");
  }
  if (seq == 0) {
    return MakeError(ErrorKind::kInvalidInput,
                     "a fork resolution of " + issuer + " names seq 0; a fork's seq is 1 or more");
  }
  ResolveOutcome out;
  try {
    impl_->Write([&](MDB_txn* txn) {
      BatchWriter writer(*impl_, txn, now);
      out = writer.Resolve(issuer, seq, kept);
      writer.Flush();
      // A claimed head of the feed (seen_heads) may be a head of the branch just set aside: a
      // guard against publishing behind it would block the issuer on the kept branch for good.
      if (impl_->seen_heads != 0) {
        MDB_val k = Val(issuer);
        int rc = mdb_del(txn, impl_->seen_heads, &k, nullptr);
        if (rc != MDB_NOTFOUND) Check(rc, "cannot clear a seen head");
      }
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Result<std::vector<std::pair<uint64_t, Hash256>>> Store::Resolutions(
    const std::string& issuer) const {
  std::vector<std::pair<uint64_t, Hash256>> out;
  if (impl_->resolved == 0) return out;
  try {
    Impl::Reader reader(*impl_);
    detail::Cursor c(reader.txn(), impl_->resolved);
    Check(c.open_rc(), "cannot open a cursor");
    const std::string prefix = detail::EntryKey(issuer, 0).substr(0, issuer.size() + 1);
    MDB_val k = Val(prefix), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    while (Found(rc, "cannot read fork resolutions") &&
           View(k).substr(0, prefix.size()) == prefix) {
      std::optional<ResolvedValue> resolved = ResolvedValue::Decode(View(v));
      if (!resolved) throw LmdbError{MDB_CORRUPTED, "a fork resolution is truncated"};
      out.emplace_back(resolved->seq, resolved->kept);
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Result<std::vector<SignedRecord>> Store::LosingRecords(const std::string& issuer) const {
  std::vector<SignedRecord> out;
  if (impl_->losing == 0) return out;
  try {
    Impl::Reader reader(*impl_);
    std::optional<HeadValue> head = impl_->ReadHead(reader.txn(), issuer);
    if (!head || head->issuer_id == 0) return out;
    detail::Cursor c(reader.txn(), impl_->losing);
    Check(c.open_rc(), "cannot open a cursor");
    auto from = detail::RecordKey(head->issuer_id, 0);
    MDB_val k = Val(from.data(), from.size()), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    while (Found(rc, "cannot read losing records") && k.mv_size == from.size() &&
           std::memcmp(k.mv_data, from.data(), 4) == 0) {
      std::optional<SignedRecord> r = detail::DecodeSignedRecord(View(v));
      if (!r) throw LmdbError{MDB_CORRUPTED, "a losing record does not decode"};
      out.push_back(std::move(*r));
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

}  // namespace duanka::store
