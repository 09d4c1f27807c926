// Re-screening: the watch list (an institution's own customers, as subjects), and the alert log
// every write that lists or clears a watched subject appends to in its own transaction, so that an
// alert exists exactly when its change committed.
#include <algorithm>
#include <cstring>

#include "store/detail/store_impl.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::LmdbError;
using detail::StoreIo;
using detail::SubjectValue;
using detail::Val;
using detail::View;

namespace {

// Expired watched listings cleared per write transaction by the sweep: a day on which many
// watched entries expire is cleared in several commits rather than one that blocks every writer.
constexpr size_t kSweepRowsPerCommit = 10'000;

constexpr uint8_t kAlertLayoutVersion = 1;

// The watch filter (Store::Impl::WatchFilter): built once a process has probed the table this
// often since the table last changed, so a one-shot report never pays for reading the whole list.
constexpr uint64_t kWatchFilterAfterProbes = 10'000;
// At least this many bits per watched subject (rounded up to a power of two), with
// kWatchFilterProbes probes: about 1% false positives at worst, each costing one read. 10M
// subjects take 12.5 to 25 MiB.
constexpr uint64_t kWatchFilterBitsPerSubject = 10;
constexpr uint64_t kWatchFilterMinWords = 1024;
// Subjects are HMAC outputs, uniform already: each probe takes one 8-byte word of the subject.
constexpr size_t kWatchFilterProbes = 4;

// watched_listings key: i64 expires_at ‖ u32 issuer id ‖ u64 seq.
using ListingKey = std::array<char, 8 + 4 + 8>;
ListingKey WatchedListingKey(const SubjectValue& v) {
  ListingKey key;
  detail::PutU64(key.data(), static_cast<uint64_t>(v.expires_at));
  detail::PutU32(key.data() + 8, v.issuer_id);
  detail::PutU64(key.data() + 12, v.seq);
  return key;
}

bool Listed(const SubjectValue& v, int64_t now) {
  return v.flags == 0 && v.expires_at > now;
}

void PutLengthPrefixed(std::string& out, std::string_view s) {
  out.push_back(static_cast<char>(static_cast<uint8_t>(s.size())));
  out.append(s);
}

// The alert log's value: a version byte, the fixed fields, then the issuer, reason and refs, each
// a length byte and its bytes (issuer codes, reasons and refs are all short: kMaxWatchRefBytes).
std::string EncodeAlert(const Alert& a) {
  std::string out;
  out.push_back(static_cast<char>(kAlertLayoutVersion));
  out.push_back(static_cast<char>(a.kind));
  char n[8];
  detail::PutU64(n, static_cast<uint64_t>(a.at));
  out.append(n, 8);
  out.append(reinterpret_cast<const char*>(a.subject.bytes.data()), a.subject.bytes.size());
  out.push_back(static_cast<char>(a.id_type));
  out.push_back(static_cast<char>(a.category));
  out.push_back(static_cast<char>(a.basis));
  detail::PutU64(n, static_cast<uint64_t>(a.issued_at));
  out.append(n, 8);
  detail::PutU64(n, static_cast<uint64_t>(a.expires_at));
  out.append(n, 8);
  detail::PutU64(n, a.entry.seq);
  out.append(n, 8);
  PutLengthPrefixed(out, a.entry.issuer);
  PutLengthPrefixed(out, a.reason);
  out.push_back(static_cast<char>(static_cast<uint8_t>(a.refs.size() >> 8)));
  out.push_back(static_cast<char>(static_cast<uint8_t>(a.refs.size())));
  for (const std::string& ref : a.refs) PutLengthPrefixed(out, ref);
  return out;
}

class AlertReader {
 public:
  explicit AlertReader(std::string_view bytes) : rest_(bytes) {}
  bool Take(size_t n, const char*& p) {
    if (rest_.size() < n) return false;
    p = rest_.data();
    rest_.remove_prefix(n);
    return true;
  }
  bool U8(uint8_t& v) {
    const char* p;
    if (!Take(1, p)) return false;
    v = static_cast<uint8_t>(*p);
    return true;
  }
  bool I64(int64_t& v) {
    const char* p;
    if (!Take(8, p)) return false;
    v = static_cast<int64_t>(detail::GetU64(p));
    return true;
  }
  bool AtEnd() const { return rest_.empty(); }
  bool Str(std::string& s) {
    uint8_t len;
    const char* p;
    if (!U8(len) || !Take(len, p)) return false;
    s.assign(p, len);
    return true;
  }

 private:
  std::string_view rest_;
};

std::optional<Alert> DecodeAlert(uint64_t id, std::string_view bytes) {
  AlertReader r(bytes);
  Alert a;
  a.id = id;
  uint8_t version, kind, id_type, category, basis, refs_hi, refs_lo;
  const char* subject;
  int64_t seq;
  if (!r.U8(version) || version != kAlertLayoutVersion || !r.U8(kind) || !r.I64(a.at) ||
      !r.Take(a.subject.bytes.size(), subject) || !r.U8(id_type) || !r.U8(category) ||
      !r.U8(basis) || !r.I64(a.issued_at) || !r.I64(a.expires_at) || !r.I64(seq) ||
      !r.Str(a.entry.issuer) || !r.Str(a.reason) || !r.U8(refs_hi) || !r.U8(refs_lo)) {
    return std::nullopt;
  }
  a.kind = static_cast<AlertKind>(kind);
  std::memcpy(a.subject.bytes.data(), subject, a.subject.bytes.size());
  a.id_type = static_cast<protocol::IdType>(id_type);
  a.category = static_cast<protocol::Category>(category);
  a.basis = static_cast<protocol::Basis>(basis);
  a.entry.seq = static_cast<uint64_t>(seq);
  a.refs.resize((size_t{refs_hi} << 8) | refs_lo);
  for (std::string& ref : a.refs) {
    if (!r.Str(ref)) return std::nullopt;
  }
  if (!r.AtEnd()) return std::nullopt;
  return a;
}

std::vector<std::string> WatchedRefs(MDB_txn* txn, MDB_dbi watch, const Hash256& subject) {
  std::vector<std::string> refs;
  if (watch == 0) return refs;
  detail::Cursor c(txn, watch);
  Check(c.open_rc(), "cannot open a cursor");
  MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
  while (Found(rc, "cannot read the watch list")) {
    refs.emplace_back(View(v));
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
  }
  return refs;  // dups come sorted
}

uint64_t LastAlertIdIn(MDB_txn* txn, MDB_dbi alerts) {
  if (alerts == 0) return 0;
  detail::Cursor c(txn, alerts);
  Check(c.open_rc(), "cannot open a cursor");
  MDB_val k, v;
  if (!Found(mdb_cursor_get(c.get(), &k, &v, MDB_LAST), "cannot read the alert log")) return 0;
  if (k.mv_size != 8) throw LmdbError{MDB_CORRUPTED, "an alert's id is malformed"};
  return detail::GetU64(static_cast<const char*>(k.mv_data));
}

uint64_t MetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view key) {
  MDB_val k = Val(key), v;
  if (!Found(mdb_get(txn, meta, &k, &v), "cannot read the store's counters")) return 0;
  if (v.mv_size != 8) throw LmdbError{MDB_CORRUPTED, "a store counter is malformed"};
  return detail::GetU64(static_cast<const char*>(v.mv_data));
}

void PutMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view key, uint64_t value) {
  char bytes[8];
  detail::PutU64(bytes, value);
  MDB_val k = Val(key), v = Val(bytes, sizeof bytes);
  Check(mdb_put(txn, meta, &k, &v, 0), "cannot write the store's counters");
}

Error ReadOnly(const Store::Impl& impl, const char* what) {
  return MakeError(ErrorKind::kIo, "store " + impl.options.path.string() +
                                       " is open for reading only; " + what + " writes");
}

std::string IssuerCodeUncached(MDB_txn* txn, MDB_dbi issuer_ids, uint32_t issuer_id) {
  char key[4];
  detail::PutU32(key, issuer_id);
  MDB_val k = Val(key, sizeof key), v;
  if (!Found(mdb_get(txn, issuer_ids, &k, &v), "cannot read issuer ids")) {
    throw LmdbError{MDB_CORRUPTED, "an entry's issuer id has no code"};
  }
  return std::string(View(v));
}

void BumpWatchGeneration(MDB_txn* txn, MDB_dbi meta) {
  PutMetaU64(txn, meta, detail::kWatchGenerationKey,
             MetaU64(txn, meta, detail::kWatchGenerationKey) + 1);
}

}  // namespace

bool Store::Impl::WatchFilter::MayHold(const Hash256& subject) const {
  const uint64_t mask = bits.size() * 64 - 1;
  for (size_t i = 0; i < kWatchFilterProbes; ++i) {
    const uint64_t bit =
        detail::GetU64(reinterpret_cast<const char*>(subject.bytes.data()) + 8 * i) & mask;
    if ((bits[bit >> 6] & (uint64_t{1} << (bit & 63))) == 0) return false;
  }
  return true;
}

void Store::Impl::WatchFilter::Add(const Hash256& subject) {
  const uint64_t mask = bits.size() * 64 - 1;
  for (size_t i = 0; i < kWatchFilterProbes; ++i) {
    const uint64_t bit =
        detail::GetU64(reinterpret_cast<const char*>(subject.bytes.data()) + 8 * i) & mask;
    bits[bit >> 6] |= uint64_t{1} << (bit & 63);
  }
}

Store::Impl::WatchFilter Store::Impl::BuildWatchFilter(MDB_txn* txn, uint64_t generation) const {
  MDB_stat stat;
  Check(mdb_stat(txn, watch, &stat), "cannot read the watch list's size");
  uint64_t words = kWatchFilterMinWords;
  while (words * 64 < stat.ms_entries * kWatchFilterBitsPerSubject) words *= 2;
  WatchFilter filter;
  filter.generation = generation;
  filter.bits.assign(words, 0);
  detail::Cursor c(txn, watch);
  Check(c.open_rc(), "cannot open a cursor");
  MDB_val k, v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
  while (Found(rc, "cannot read the watch list")) {
    if (k.mv_size != Hash256{}.bytes.size()) {
      throw LmdbError{MDB_CORRUPTED, "a watched subject is malformed"};
    }
    Hash256 s;
    std::memcpy(s.bytes.data(), k.mv_data, s.bytes.size());
    filter.Add(s);
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_NODUP);
  }
  return filter;
}

// The filter a writer of the list saved (Store::SaveWatchFilter), if it is of `generation`.
std::optional<Store::Impl::WatchFilter> Store::Impl::SavedWatchFilter(MDB_txn* txn,
                                                                      uint64_t generation) const {
  MDB_val k = Val(detail::kWatchFilterKey), v;
  if (!Found(mdb_get(txn, meta, &k, &v), "cannot read the saved watch filter")) return std::nullopt;
  const char* p = static_cast<const char*>(v.mv_data);
  if (v.mv_size < 16 || detail::GetU64(p) != generation) return std::nullopt;
  const uint64_t words = detail::GetU64(p + 8);
  if (words == 0 || (words & (words - 1)) != 0 || v.mv_size != 16 + words * 8) {
    throw LmdbError{MDB_CORRUPTED, "the saved watch filter is malformed"};
  }
  WatchFilter filter;
  filter.generation = generation;
  filter.bits.resize(words);
  std::memcpy(filter.bits.data(), p + 16, words * 8);
  return filter;
}

bool Store::Impl::MaybeWatched(MDB_txn* txn, const Hash256& subject) {
  // Transaction ids are the environment's, shared by every process: a new id means another
  // commit may have changed the table since the last check.
  const uint64_t txn_id = mdb_txn_id(txn);
  if (txn_id != watch_filter_checked_txn) {
    watch_filter_checked_txn = txn_id;
    const uint64_t generation = MetaU64(txn, meta, detail::kWatchGenerationKey);
    watch_filter_valid = watch_filter && watch_filter->generation == generation;
    if (!watch_filter_valid && watch_probes_unfiltered >= kWatchFilterAfterProbes) {
      // Saved by the tool that last changed the list: a copy, where a scan of 10M subjects
      // would cost a catch-up seconds.
      std::optional<WatchFilter> saved = SavedWatchFilter(txn, generation);
      watch_filter = saved ? std::move(*saved) : BuildWatchFilter(txn, generation);
      watch_filter_valid = true;
      watch_probes_unfiltered = 0;
    }
  }
  if (watch_filter_valid && !watch_filter->MayHold(subject)) return false;
  if (!watch_filter_valid) ++watch_probes_unfiltered;
  MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
  return Found(mdb_get(txn, watch, &k, &v), "cannot read the watch list");
}

const char* AlertKindName(AlertKind kind) {
  switch (kind) {
    case AlertKind::kListed:
      return "listed";
    case AlertKind::kCleared:
      return "cleared";
  }
  return "unknown";
}

void Store::Impl::NoteListingChange(MDB_txn* txn, const Hash256& subject,
                                    const SubjectValue* before, const SubjectValue* after,
                                    int64_t now, std::string_view why) {
  if (watch == 0) return;
  const bool listed_after = after != nullptr && Listed(*after, now);
  if (before == nullptr) {
    // A new entry (the append path's every entry): no row can be noted for it yet, so an entry
    // not listed, or a subject not watched (one read of an often empty table), ends it here.
    if (!listed_after || !MaybeWatched(txn, subject)) return;
  }
  // The row of a listing alerted (or screened) as listed and not yet cleared, if any.
  const SubjectValue* noted = before != nullptr ? before : after;
  ListingKey key = WatchedListingKey(*noted);
  MDB_val k = Val(key.data(), key.size()), v;
  const bool was_noted =
      Found(mdb_get(txn, watched_listings, &k, &v), "cannot read the watched listings");
  if (listed_after == was_noted) return;
  std::vector<std::string> refs = WatchedRefs(txn, watch, subject);
  Alert a;
  if (was_noted) {
    Check(mdb_del(txn, watched_listings, &k, nullptr), "cannot update the watched listings");
    if (refs.empty()) return;  // no longer watched: nobody to tell
    a.kind = AlertKind::kCleared;
    // An expiry the sweep has not reached yet is what ended the listing, whatever came after.
    a.reason = noted->expires_at <= now ? "expired" : std::string(why);
  } else {
    if (refs.empty()) return;
    MDB_val sv = Val(subject.bytes.data(), subject.bytes.size());
    Check(mdb_put(txn, watched_listings, &k, &sv, 0), "cannot note a watched listing");
    a.kind = AlertKind::kListed;
  }
  a.id = LastAlertIdIn(txn, alerts) + 1;
  a.at = now;
  a.subject = subject;
  // Read, not cached: this transaction may have given the id out and may yet abort, and the
  // cache must only ever hold committed codes.
  a.entry = EntryId{IssuerCodeUncached(txn, issuer_ids, noted->issuer_id), noted->seq};
  a.id_type = static_cast<protocol::IdType>(noted->id_type);
  a.category = static_cast<protocol::Category>(noted->category);
  a.basis = static_cast<protocol::Basis>(noted->basis);
  a.issued_at = noted->issued_at;
  a.expires_at = noted->expires_at;
  a.refs = std::move(refs);
  char id[8];
  detail::PutU64(id, a.id);
  std::string value = EncodeAlert(a);
  MDB_val ik = Val(id, sizeof id), iv = Val(value);
  Check(mdb_put(txn, alerts, &ik, &iv, MDB_APPEND), "cannot append an alert");
}

Result<WatchChange> Store::Watch(std::span<const WatchItem> items, int64_t now,
                                 const BeforeWatchCommit& before_commit) {
  if (impl_->watch == 0) return ReadOnly(*impl_, "watching");
  for (const WatchItem& item : items) {
    if (item.subjects.empty() || item.ref.empty() || item.ref.size() > kMaxWatchRefBytes) {
      return MakeError(ErrorKind::kInvalidInput,
                       "a watch needs at least one subject and a reference of 1 to " +
                           std::to_string(kMaxWatchRefBytes) + " bytes");
    }
  }
  WatchChange change;
  std::optional<Error> refused;
  try {
    impl_->Write([&](MDB_txn* txn) {
      change = WatchChange{};
      refused.reset();
      bool wrote = false;
      uint64_t new_pairs = 0;
      // Subjects past the table's last one are appended: LMDB then fills pages instead of
      // splitting them, so a sorted import into a new list packs it densely (and fast).
      std::string tail;
      {
        detail::Cursor c(txn, impl_->watch);
        Check(c.open_rc(), "cannot open a cursor");
        MDB_val k, v;
        if (Found(mdb_cursor_get(c.get(), &k, &v, MDB_LAST), "cannot read the watch list")) {
          tail = std::string(View(k));
        }
      }
      for (const WatchItem& item : items) {
        bool added = false, held_before = false;
        for (const Hash256& subject : item.subjects) {
          MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v = Val(item.ref);
          const std::string_view key = View(k);
          const bool at_end = tail < key;
          int rc = mdb_put(txn, impl_->watch, &k, &v, MDB_NODUPDATA | (at_end ? MDB_APPEND : 0u));
          if (rc == MDB_KEYEXIST) {
            held_before = true;
            continue;
          }
          Check(rc, "cannot add to the watch list");
          added = wrote = true;
          if (at_end) tail = std::string(key);
          // Listings held now were screened by the caller, not alerted: note them so that their
          // end (a revocation, an expiry) still raises a kCleared alert. The same cursor counts
          // the subject's refs, which an alert carries all of.
          detail::Cursor c(txn, impl_->subjects);
          Check(c.open_rc(), "cannot open a cursor");
          MDB_val sk = k, sv;
          int found = mdb_cursor_get(c.get(), &sk, &sv, MDB_SET);
          while (Found(found, "cannot read the subjects index")) {
            if (sv.mv_size != SubjectValue::kSize) {
              throw LmdbError{MDB_CORRUPTED, "a subjects index value is malformed"};
            }
            SubjectValue entry = SubjectValue::Decode(static_cast<const char*>(sv.mv_data));
            if (Listed(entry, now)) {
              ListingKey key = WatchedListingKey(entry);
              MDB_val lk = Val(key.data(), key.size()),
                      lv = Val(subject.bytes.data(), subject.bytes.size());
              Check(mdb_put(txn, impl_->watched_listings, &lk, &lv, 0),
                    "cannot note a watched listing");
            }
            found = mdb_cursor_get(c.get(), &sk, &sv, MDB_NEXT_DUP);
          }
          if (!at_end) {
            detail::Cursor refs(txn, impl_->watch);
            Check(refs.open_rc(), "cannot open a cursor");
            MDB_val rk = k, rv;
            size_t count = 0;
            if (Found(mdb_cursor_get(refs.get(), &rk, &rv, MDB_SET),
                      "cannot read the watch list")) {
              Check(mdb_cursor_count(refs.get(), &count), "cannot count a subject's refs");
            }
            if (count > kMaxRefsPerSubject) {
              refused = MakeError(ErrorKind::kInvalidInput,
                                  "a watched identifier may carry at most " +
                                      std::to_string(kMaxRefsPerSubject) +
                                      " references; one would carry more (nothing was written)");
              return false;
            }
          }
        }
        // A pair counts once, whichever epochs' subjects it is held under (a re-import after a
        // pepper rotation adds the new epoch's subject to pairs held already).
        if (added && !held_before) ++new_pairs;
        ++(added ? change.changed : change.unchanged);
        change.item_changed.push_back(added);
      }
      if (before_commit) {
        if (Status ok = before_commit(change); !ok) {
          refused = std::move(ok).error();
          return false;
        }
      }
      PutMetaU64(txn, impl_->meta, detail::kWatchPairsKey,
                 MetaU64(txn, impl_->meta, detail::kWatchPairsKey) + new_pairs);
      if (wrote) BumpWatchGeneration(txn, impl_->meta);
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  if (refused) return std::move(*refused);
  return change;
}

Result<WatchChange> Store::Unwatch(std::span<const WatchItem> items,
                                   const BeforeWatchCommit& before_commit) {
  if (impl_->watch == 0) return ReadOnly(*impl_, "unwatching");
  WatchChange change;
  std::optional<Error> refused;
  try {
    impl_->Write([&](MDB_txn* txn) {
      change = WatchChange{};
      refused.reset();
      uint64_t gone_pairs = 0;
      for (const WatchItem& item : items) {
        bool removed = false;
        for (const Hash256& subject : item.subjects) {
          MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v = Val(item.ref);
          // Rows in watched_listings are left: with no ref left for the subject, the alert
          // they would raise is dropped when the listing ends.
          removed =
              Found(mdb_del(txn, impl_->watch, &k, &v), "cannot remove from the watch list") ||
              removed;
        }
        if (removed) ++gone_pairs;
        ++(removed ? change.changed : change.unchanged);
        change.item_changed.push_back(removed);
      }
      if (before_commit) {
        if (Status ok = before_commit(change); !ok) {
          refused = std::move(ok).error();
          return false;
        }
      }
      const uint64_t pairs = MetaU64(txn, impl_->meta, detail::kWatchPairsKey);
      PutMetaU64(txn, impl_->meta, detail::kWatchPairsKey, pairs - std::min(pairs, gone_pairs));
      if (gone_pairs > 0) BumpWatchGeneration(txn, impl_->meta);
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  if (refused) return std::move(*refused);
  return change;
}

Status Store::SaveWatchFilter() {
  if (impl_->watch == 0) return ReadOnly(*impl_, "saving the watch filter");
  try {
    impl_->Write([&](MDB_txn* txn) {
      const uint64_t generation = MetaU64(txn, impl_->meta, detail::kWatchGenerationKey);
      Impl::WatchFilter filter = impl_->BuildWatchFilter(txn, generation);
      std::string value(16 + filter.bits.size() * 8, '\0');
      detail::PutU64(value.data(), generation);
      detail::PutU64(value.data() + 8, filter.bits.size());
      std::memcpy(value.data() + 16, filter.bits.data(), filter.bits.size() * 8);
      MDB_val k = Val(detail::kWatchFilterKey), v = Val(value);
      Check(mdb_put(txn, impl_->meta, &k, &v, 0), "cannot save the watch filter");
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

Result<uint64_t> Store::WatchCount() const {
  try {
    Impl::Reader reader(*impl_);
    return MetaU64(reader.txn(), impl_->meta, detail::kWatchPairsKey);
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Result<uint64_t> Store::SweepExpiredAlerts(int64_t now) {
  if (impl_->watch == 0) return ReadOnly(*impl_, "sweeping expired alerts");
  uint64_t raised = 0;
  try {
    for (;;) {
      size_t rows = 0;
      uint64_t raised_here = 0;
      impl_->Write([&](MDB_txn* txn) {
        rows = 0;
        raised_here = 0;
        const uint64_t before = LastAlertIdIn(txn, impl_->alerts);
        std::vector<std::pair<Hash256, SubjectValue>> expired;
        {
          detail::Cursor c(txn, impl_->watched_listings);
          Check(c.open_rc(), "cannot open a cursor");
          MDB_val k, v;
          int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
          while (Found(rc, "cannot read the watched listings") && rows < kSweepRowsPerCommit) {
            if (k.mv_size != sizeof(ListingKey) || v.mv_size != Hash256{}.bytes.size()) {
              throw LmdbError{MDB_CORRUPTED, "a watched listing's row is malformed"};
            }
            const char* p = static_cast<const char*>(k.mv_data);
            SubjectValue entry;
            entry.expires_at = static_cast<int64_t>(detail::GetU64(p));
            if (entry.expires_at > now) break;
            entry.issuer_id = detail::GetU32(p + 8);
            entry.seq = detail::GetU64(p + 12);
            Hash256 subject;
            std::memcpy(subject.bytes.data(), v.mv_data, subject.bytes.size());
            expired.emplace_back(subject, entry);
            ++rows;
            rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
          }
        }
        for (const auto& [subject, row] : expired) {
          // The row keeps only its key; the alert's fields come from the subjects index.
          detail::Cursor c(txn, impl_->subjects);
          Check(c.open_rc(), "cannot open a cursor");
          MDB_val k = Val(subject.bytes.data(), subject.bytes.size()), v;
          auto prefix = detail::RecordKey(row.issuer_id, row.seq);
          std::optional<SubjectValue> entry;
          int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET);
          while (!entry && Found(rc, "cannot read the subjects index")) {
            if (v.mv_size == SubjectValue::kSize &&
                std::memcmp(v.mv_data, prefix.data(), prefix.size()) == 0) {
              entry = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
            }
            rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
          }
          if (!entry) {  // gone (set aside): its change cleared it already
            ListingKey key = WatchedListingKey(row);
            MDB_val lk = Val(key.data(), key.size());
            Check(mdb_del(txn, impl_->watched_listings, &lk, nullptr),
                  "cannot update the watched listings");
            continue;
          }
          impl_->NoteListingChange(txn, subject, &*entry, nullptr, now, "expired");
        }
        raised_here = LastAlertIdIn(txn, impl_->alerts) - before;
        return rows > 0;
      });
      raised += raised_here;
      if (rows < kSweepRowsPerCommit) break;
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return raised;
}

Result<std::vector<Alert>> Store::Alerts(uint64_t after, size_t max) const {
  std::vector<Alert> out;
  try {
    Impl::Reader reader(*impl_);
    if (impl_->alerts == 0 || max == 0) return out;
    detail::Cursor c(reader.txn(), impl_->alerts);
    Check(c.open_rc(), "cannot open a cursor");
    char from[8];
    detail::PutU64(from, after + 1);
    MDB_val k = Val(from, sizeof from), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    while (out.size() < max && Found(rc, "cannot read the alert log")) {
      if (k.mv_size != 8) throw LmdbError{MDB_CORRUPTED, "an alert's id is malformed"};
      std::optional<Alert> a =
          DecodeAlert(detail::GetU64(static_cast<const char*>(k.mv_data)), View(v));
      if (!a) throw LmdbError{MDB_CORRUPTED, "an alert does not decode"};
      out.push_back(std::move(*a));
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return out;
}

Result<uint64_t> Store::LastAlertId() const {
  try {
    Impl::Reader reader(*impl_);
    return LastAlertIdIn(reader.txn(), impl_->alerts);
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Result<uint64_t> Store::AlertCursor(std::string_view name) const {
  try {
    Impl::Reader reader(*impl_);
    return MetaU64(reader.txn(), impl_->meta,
                   std::string(detail::kAlertCursorKeyPrefix) + std::string(name));
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Status Store::SetAlertCursor(std::string_view name, uint64_t delivered) {
  if (impl_->watch == 0) return ReadOnly(*impl_, "moving an alert cursor");
  const std::string key = std::string(detail::kAlertCursorKeyPrefix) + std::string(name);
  try {
    impl_->Write([&](MDB_txn* txn) {
      if (MetaU64(txn, impl_->meta, key) >= delivered) return false;
      PutMetaU64(txn, impl_->meta, key, delivered);
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

}  // namespace duanka::store
