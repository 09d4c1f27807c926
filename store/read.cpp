// The read path: lookups by subject, feeds for sync and export, listings and statistics.
#include <cstring>
#include <map>

#include "store/detail/store_impl.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::HeadValue;
using detail::LmdbError;
using detail::RevokedValue;
using detail::StoreIo;
using detail::SubjectValue;
using detail::Val;
using detail::View;

namespace {

EntryState StateOf(const SubjectValue& v, int64_t now) {
  if (v.flags & SubjectValue::kRevokedFlag) return EntryState::kRevoked;
  // An entry is listed up to, not at, its expiry second.
  if (v.expires_at <= now) return EntryState::kExpired;
  if (v.flags & SubjectValue::kSuspendedFlag) return EntryState::kSuspended;
  if (v.flags & SubjectValue::kHeldFlag) return EntryState::kHeld;
  return EntryState::kActive;
}

std::optional<RevokedValue> ReadRevoked(MDB_txn* txn, MDB_dbi dbi, const std::string& issuer,
                                        uint64_t seq) {
  std::string key = detail::EntryKey(issuer, seq);
  MDB_val k = Val(key), v;
  if (!Found(mdb_get(txn, dbi, &k, &v), "cannot read revocations")) return std::nullopt;
  return RevokedValue::Decode(View(v));
}

}  // namespace

Listing Store::Impl::ToListing(MDB_txn* txn, const Hash256& subject, const SubjectValue& v,
                               const LookupOptions& options, const protocol::Record* held) const {
  Listing l;
  l.subject = subject;
  l.id = EntryId{IssuerCode(txn, v.issuer_id), v.seq};
  l.id_type = static_cast<protocol::IdType>(v.id_type);
  l.category = static_cast<protocol::Category>(v.category);
  l.basis = static_cast<protocol::Basis>(v.basis);
  l.issued_at = v.issued_at;
  l.expires_at = v.expires_at;
  l.state = StateOf(v, options.now);
  if (!options.details) return l;
  std::optional<protocol::Record> decoded;
  if (held == nullptr) {
    if (std::optional<SignedRecord> stored = ReadRecord(txn, v.issuer_id, v.seq)) {
      if (Result<protocol::Record> r = protocol::DecodeRecord(stored->bytes)) {
        decoded = std::move(*r);
        held = &*decoded;
      }
    }
  }
  if (held != nullptr && held->entry() != nullptr) {
    l.case_ref = held->entry()->case_ref;
    l.pepper_epoch = held->entry()->pepper_epoch;
    if (v.flags & SubjectValue::kSuspendedFlag) {
      l.suspended_since = WithdrawnSince(txn, held->signer_key_id);
    }
  }
  if (std::optional<RevokedValue> rv = ReadRevoked(txn, revoked, l.id.issuer, l.id.seq)) {
    l.revocation =
        RevocationInfo{EntryId{rv->by_issuer, rv->by_seq},
                       static_cast<protocol::RevocationReason>(rv->reason), rv->revoked_at};
  }
  return l;
}

Status Store::Lookup(std::span<const Hash256> subjects, const LookupOptions& options,
                     std::vector<Listing>& out) const {
  try {
    Impl::Reader reader(*impl_);
    detail::Cursor c(reader.txn(), impl_->subjects);
    Check(c.open_rc(), "cannot open a cursor");
    for (const Hash256& subject : subjects) {
      MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
      int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
      while (Found(rc, "cannot read the subjects index")) {
        if (v.mv_size != SubjectValue::kSize) {
          throw LmdbError{MDB_CORRUPTED, "a subjects index value has the wrong size"};
        }
        SubjectValue sv = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
        out.push_back(impl_->ToListing(reader.txn(), subject, sv, options));
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
      }
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

Result<std::vector<Head>> Store::Heads() const {
  std::vector<Head> out;
  try {
    Impl::Reader reader(*impl_);
    detail::Cursor c(reader.txn(), impl_->heads);
    Check(c.open_rc(), "cannot open a cursor");
    MDB_val k, v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
    while (Found(rc, "cannot read feed heads")) {
      if (std::optional<HeadValue> h = HeadValue::Decode(View(v))) {
        out.push_back(
            Head{std::string(View(k)), h->seq, h->hash, h->frozen, h->fork_seq, h->last_grew_at});
      }
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Result<std::optional<Head>> Store::GetHead(const std::string& issuer) const {
  try {
    Impl::Reader reader(*impl_);
    std::optional<HeadValue> h = impl_->ReadHead(reader.txn(), issuer);
    if (!h) return std::optional<Head>();
    return std::optional<Head>(
        Head{issuer, h->seq, h->hash, h->frozen, h->fork_seq, h->last_grew_at});
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Result<std::vector<SignedRecord>> Store::Range(const std::string& issuer, uint64_t from,
                                               size_t count) const {
  std::vector<SignedRecord> out;
  try {
    Impl::Reader reader(*impl_);
    std::optional<HeadValue> h = impl_->ReadHead(reader.txn(), issuer);
    if (!h || from == 0 || from > h->seq || count == 0) return out;
    detail::Cursor c(reader.txn(), impl_->records);
    Check(c.open_rc(), "cannot open a cursor");
    auto key = detail::RecordKey(h->issuer_id, from);
    MDB_val k = Val(key.data(), key.size()), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_KEY);
    uint64_t expected = from;
    while (out.size() < count && expected <= h->seq && Found(rc, "cannot read records")) {
      if (k.mv_size != 12 || detail::GetU32(static_cast<const char*>(k.mv_data)) != h->issuer_id ||
          detail::GetU64(static_cast<const char*>(k.mv_data) + 4) != expected) {
        break;
      }
      std::optional<SignedRecord> r = detail::DecodeSignedRecord(View(v));
      if (!r) throw LmdbError{MDB_CORRUPTED, "a stored record does not decode"};
      out.push_back(std::move(*r));
      ++expected;
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Result<std::optional<SignedRecord>> Store::Get(const EntryId& id) const {
  try {
    Impl::Reader reader(*impl_);
    std::optional<HeadValue> h = impl_->ReadHead(reader.txn(), id.issuer);
    if (!h || id.seq > h->seq) return std::optional<SignedRecord>();
    return impl_->ReadRecord(reader.txn(), h->issuer_id, id.seq);
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Result<std::optional<Listing>> Store::GetListing(const EntryId& id, int64_t now) const {
  Result<std::optional<SignedRecord>> record = Get(id);
  if (!record) return std::move(record).error();
  if (!*record) return std::optional<Listing>();
  Result<protocol::Record> r = protocol::DecodeRecord((*record)->bytes);
  if (!r || r->entry() == nullptr) return std::optional<Listing>();
  std::vector<Listing> found;
  Hash256 subject = r->entry()->subject;
  Status looked = Lookup(std::span<const Hash256>(&subject, 1), LookupOptions{now, true}, found);
  if (!looked) return std::move(looked).error();
  for (Listing& l : found) {
    if (l.id == id) return std::optional<Listing>(std::move(l));
  }
  return std::optional<Listing>();
}

Result<std::vector<std::optional<Listing>>> Store::GetListings(std::span<const EntryId> ids,
                                                               int64_t now) const {
  std::vector<std::optional<Listing>> out(ids.size());
  try {
    Impl::Reader reader(*impl_);
    MDB_txn* txn = reader.txn();
    detail::Cursor c(txn, impl_->subjects);
    Check(c.open_rc(), "cannot open a cursor");
    const LookupOptions options{now, /*details=*/true};
    // Batches name few issuers, mostly one: its head is read once per run of equal issuers.
    const std::string* head_of = nullptr;
    std::optional<HeadValue> h;
    for (size_t i = 0; i < ids.size(); ++i) {
      const EntryId& id = ids[i];
      if (head_of == nullptr || *head_of != id.issuer) {
        h = impl_->ReadHead(txn, id.issuer);
        head_of = &id.issuer;
      }
      if (!h || id.seq > h->seq) continue;
      std::optional<SignedRecord> held = impl_->ReadRecord(txn, h->issuer_id, id.seq);
      if (!held) continue;
      Result<protocol::Record> r = protocol::DecodeRecord(held->bytes);
      if (!r || r->entry() == nullptr) continue;
      const Hash256& subject = r->entry()->subject;
      MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
      int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
      while (Found(rc, "cannot read the subjects index")) {
        if (v.mv_size != SubjectValue::kSize) {
          throw LmdbError{MDB_CORRUPTED, "a subjects index value has the wrong size"};
        }
        SubjectValue sv = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
        if (sv.issuer_id == h->issuer_id && sv.seq == id.seq) {
          out[i] = impl_->ToListing(txn, subject, sv, options, &*r);
          break;
        }
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
      }
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Status Store::ForEachListing(const std::string& issuer, int64_t now,
                             const std::function<void(const Listing&)>& visit) const {
  Result<std::vector<Head>> heads = Heads();
  if (!heads) return std::move(heads).error();
  for (const Head& head : *heads) {
    if (!issuer.empty() && head.issuer != issuer) continue;
    for (uint64_t from = 1; from <= head.seq;) {
      static constexpr size_t kListPage = 1024;  // bounds memory for feeds of millions
      Result<std::vector<SignedRecord>> page = Range(head.issuer, from, kListPage);
      if (!page) return std::move(page).error();
      if (page->empty()) break;
      for (const SignedRecord& s : *page) {
        Result<protocol::Record> r = protocol::DecodeRecord(s.bytes);
        if (r && r->entry() != nullptr) {
          Result<std::optional<Listing>> l = GetListing(r->id(), now);
          if (!l) return std::move(l).error();
          if (*l) visit(**l);
        }
      }
      from += page->size();
    }
  }
  return Ok();
}

Result<std::optional<std::string>> Store::GetObject(std::string_view name) const {
  if (impl_->objects == 0) return std::optional<std::string>();
  try {
    Impl::Reader reader(*impl_);
    MDB_val k = Val(name), v;
    if (!Found(mdb_get(reader.txn(), impl_->objects, &k, &v), "cannot read a consortium object")) {
      return std::optional<std::string>();
    }
    return std::optional<std::string>(std::string(View(v)));
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Result<std::vector<std::string>> Store::Certificates() const {
  std::vector<std::string> out;
  try {
    Impl::Reader reader(*impl_);
    detail::Cursor c(reader.txn(), impl_->certs);
    Check(c.open_rc(), "cannot open a cursor");
    MDB_val k, v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
    while (Found(rc, "cannot read certificates")) {
      out.emplace_back(View(v));
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Result<std::vector<Evidence>> Store::AllEvidence() const {
  std::vector<Evidence> out;
  try {
    Impl::Reader reader(*impl_);
    detail::Cursor c(reader.txn(), impl_->evidence);
    Check(c.open_rc(), "cannot open a cursor");
    MDB_val k, v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
    while (Found(rc, "cannot read evidence")) {
      std::optional<Evidence> evidence = detail::DecodeEvidence(View(v));
      if (!evidence) throw LmdbError{MDB_CORRUPTED, "fork evidence is truncated"};
      out.push_back(std::move(*evidence));
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Result<Stats> Store::GetStats(int64_t now) const {
  Stats stats;
  try {
    Impl::Reader reader(*impl_);
    MDB_txn* txn = reader.txn();
    std::map<uint32_t, size_t> by_id;
    {
      detail::Cursor c(txn, impl_->heads);
      Check(c.open_rc(), "cannot open a cursor");
      MDB_val k, v;
      int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
      while (Found(rc, "cannot read feed heads")) {
        if (std::optional<HeadValue> h = HeadValue::Decode(View(v))) {
          IssuerStats s;
          s.issuer = std::string(View(k));
          s.records = h->records;
          s.entries = h->entries;
          s.revocations = h->revocations;
          s.revoked_entries = h->revoked_entries;
          s.frozen = h->frozen;
          s.last_grew_at = h->last_grew_at;
          by_id[h->issuer_id] = stats.issuers.size();
          stats.issuers.push_back(std::move(s));
        }
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
      }
    }
    // Expiry depends on `now`, so expired entries are counted by one pass over the index.
    {
      detail::Cursor c(txn, impl_->subjects);
      Check(c.open_rc(), "cannot open a cursor");
      MDB_val k, v;
      int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
      while (Found(rc, "cannot read the subjects index")) {
        SubjectValue sv = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
        auto it = by_id.find(sv.issuer_id);
        if (it != by_id.end()) {
          const EntryState state = StateOf(sv, now);
          if (state == EntryState::kExpired) ++stats.issuers[it->second].expired_entries;
          if (state == EntryState::kHeld) ++stats.issuers[it->second].held_entries;
        }
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
      }
    }
    for (IssuerStats& s : stats.issuers) {
      s.active_entries = s.entries - s.revoked_entries - s.expired_entries - s.held_entries;
    }
    MDB_stat st;
    Check(mdb_stat(txn, impl_->pending, &st), "cannot read table statistics");
    stats.pending_revocations = st.ms_entries;
    Check(mdb_stat(txn, impl_->evidence, &st), "cannot read table statistics");
    stats.evidence = st.ms_entries;
    MDB_envinfo info;
    Check(mdb_env_info(impl_->env, &info), "cannot read the environment");
    MDB_stat env_stat;
    Check(mdb_env_stat(impl_->env, &env_stat), "cannot read the environment");
    stats.bytes_on_disk = (info.me_last_pgno + 1) * env_stat.ms_psize;
    stats.map_bytes = info.me_mapsize;
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return stats;
}

}  // namespace duanka::store
