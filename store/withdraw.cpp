// Withdrawn signing keys: the entries a stolen key signed since its compromise time are
// suspended, now (WithdrawKey) and as such records arrive (the append path asks WithdrawnSince).
#include <cstring>

#include "store/detail/batch_writer.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::HeadValue;
using detail::LmdbError;
using detail::StoreIo;
using detail::SubjectValue;
using detail::Val;
using detail::View;

namespace {

// withdrawn value: i64 since ‖ issuer code.
std::string EncodeWithdrawn(int64_t since, const std::string& issuer) {
  std::string out(8, '\0');
  detail::PutU64(out.data(), static_cast<uint64_t>(since));
  return out + issuer;
}

}  // namespace

std::optional<int64_t> Store::Impl::WithdrawnSince(MDB_txn* txn, const Hash256& key_id) const {
  if (withdrawn == 0) return std::nullopt;
  MDB_val k = Val(key_id.bytes.data(), key_id.bytes.size()), v;
  if (!Found(mdb_get(txn, withdrawn, &k, &v), "cannot read withdrawn keys")) return std::nullopt;
  if (v.mv_size < 8) throw LmdbError{MDB_CORRUPTED, "a withdrawn key's value is too short"};
  return static_cast<int64_t>(detail::GetU64(static_cast<const char*>(v.mv_data)));
}

bool Store::Impl::SetSubjectFlag(MDB_txn* txn, const Hash256& subject, uint32_t issuer_id,
                                 uint64_t seq, uint8_t flag, bool on, int64_t now,
                                 std::string_view why) {
  detail::Cursor c(txn, subjects);
  Check(c.open_rc(), "cannot open a cursor");
  MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
  auto prefix = detail::RecordKey(issuer_id, seq);
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
  while (Found(rc, "cannot read the subjects index")) {
    if (v.mv_size == SubjectValue::kSize &&
        std::memcmp(v.mv_data, prefix.data(), prefix.size()) == 0) {
      SubjectValue sv = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
      const uint8_t flags = on ? (sv.flags | flag) : (sv.flags & ~flag);
      if (flags == sv.flags) return false;
      const SubjectValue before = sv;
      sv.flags = flags;
      auto updated = sv.Encode();
      MDB_val nv = Val(updated.data(), updated.size());
      // The flags sit after (issuer id, seq), so the duplicate keeps its place in the order.
      Check(mdb_cursor_put(c.get(), &k, &nv, MDB_CURRENT), "cannot update the subjects index");
      NoteListingChange(txn, subject, &before, &sv, now, why);
      return true;
    }
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
  }
  throw LmdbError{MDB_CORRUPTED, "an entry is missing from the subjects index"};
}

namespace detail {

uint64_t BatchWriter::Withdraw(const std::string& issuer, const Hash256& key_id, int64_t since) {
  std::string value = EncodeWithdrawn(since, issuer);
  MDB_val k = Val(key_id.bytes.data(), key_id.bytes.size()), v = Val(value);
  Check(mdb_put(txn_, impl_.withdrawn, &k, &v, 0), "cannot record a withdrawn key");
  withdrawn_since_[key_id] = since;
  HeadValue& head = HeadOf(issuer);
  if (head.issuer_id == 0) return 0;
  // Every record of the feed: a key signs only its institution's records, and the rare
  // withdrawal may afford one pass over one feed. Read first, changed after, so that no cursor
  // walks a table this changes.
  std::vector<protocol::Record> signed_by_key;
  {
    Cursor c(txn_, impl_.records);
    Check(c.open_rc(), "cannot open a cursor");
    auto first = RecordKey(head.issuer_id, 1);
    MDB_val rk = Val(first.data(), first.size()), rv;
    int rc = mdb_cursor_get(c.get(), &rk, &rv, MDB_SET_RANGE);
    while (Found(rc, "cannot read records") && rk.mv_size == first.size() &&
           std::memcmp(rk.mv_data, first.data(), 4) == 0) {
      std::optional<SignedRecord> held = DecodeSignedRecord(View(rv));
      if (!held) throw LmdbError{MDB_CORRUPTED, "a stored record does not decode"};
      Result<protocol::Record> r = protocol::DecodeRecord(held->bytes);
      if (r && r->signer_key_id == key_id) signed_by_key.push_back(std::move(*r));
      rc = mdb_cursor_get(c.get(), &rk, &rv, MDB_NEXT);
    }
  }
  uint64_t suspended = 0;
  for (const protocol::Record& r : signed_by_key) {
    const bool after = r.issued_at >= since;
    if (const protocol::EntryBody* e = r.entry()) {
      impl_.SetSubjectFlag(txn_, e->subject, head.issuer_id, r.seq, SubjectValue::kSuspendedFlag,
                           after, now_, "key-withdrawn");
      if (after) ++suspended;
    } else if (r.revocation() == nullptr) {
      continue;  // a profile: neither listed nor withdrawing anything
    } else if (after) {
      UndoRevocation(r, *r.revocation());  // changes nothing unless this record applied it
    } else {
      ApplyRevocation(r, *r.revocation());  // a narrower withdrawal: in force again
    }
  }
  return suspended;
}

}  // namespace detail

Result<uint64_t> Store::WithdrawKey(const Hash256& key_id, const std::string& issuer, int64_t since,
                                    int64_t now) {
  uint64_t suspended = 0;
  try {
    impl_->Write([&](MDB_txn* txn) {
      detail::BatchWriter writer(*impl_, txn, now);
      suspended = writer.Withdraw(issuer, key_id, since);
      writer.Flush();
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return suspended;
}

Result<std::optional<int64_t>> Store::WithdrawnSince(const Hash256& key_id) const {
  try {
    Impl::Reader reader(*impl_);
    return impl_->WithdrawnSince(reader.txn(), key_id);
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Result<std::vector<std::pair<std::string, std::string>>> Store::ObjectsWithPrefix(
    std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  if (impl_->objects == 0) return out;
  try {
    Impl::Reader reader(*impl_);
    detail::Cursor c(reader.txn(), impl_->objects);
    Check(c.open_rc(), "cannot open a cursor");
    MDB_val k = Val(prefix), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (Found(rc, "cannot read consortium objects") &&
           View(k).substr(0, prefix.size()) == prefix) {
      out.emplace_back(std::string(View(k)), std::string(View(v)));
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

}  // namespace duanka::store
