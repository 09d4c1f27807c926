// The flood guard: each issuer's entries are counted per issue day, and those past the issuer's
// daily limit are held (flagged in the subjects index, listed in `held`) until their day is
// released. Counting by the signed issue day, not by arrival, makes every node hold the same
// entries: a feed's records arrive in seq order everywhere and issue times rise along it.
#include <cstring>

#include "store/detail/batch_writer.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::LmdbError;
using detail::StoreIo;
using detail::SubjectValue;
using detail::Val;
using detail::View;

namespace {

constexpr int64_t kSecondsPerDay = 86400;
constexpr size_t kDayBytes = 4;
constexpr size_t kSeqBytes = 8;

// Splits a DayKey or HeldKey (code ‖ 0 ‖ u32 day [‖ u64 seq]) into its issuer and day.
std::optional<std::pair<std::string, uint32_t>> SplitDayKey(std::string_view key) {
  size_t zero = key.find('\0');
  if (zero == std::string_view::npos || key.size() < zero + 1 + kDayBytes) return std::nullopt;
  return std::make_pair(std::string(key.substr(0, zero)), detail::GetU32(key.data() + zero + 1));
}

std::string IssuerPrefix(const std::string& issuer) {
  return issuer + std::string(1, '\0');
}

}  // namespace

uint64_t FloodLimits::For(std::string_view issuer) const {
  auto it = per_issuer.find(issuer);
  return it != per_issuer.end() ? it->second : daily_entries;
}

uint32_t DayOf(int64_t unix_seconds) {
  if (unix_seconds < 0) return 0;
  return static_cast<uint32_t>(unix_seconds / kSecondsPerDay);
}

namespace detail {

uint64_t& BatchWriter::DayCount(const std::string& day_key) {
  auto it = day_counts_.find(day_key);
  if (it != day_counts_.end()) return it->second;
  uint64_t count = 0;
  MDB_val k = Val(day_key), v;
  if (Found(mdb_get(txn_, impl_.day_counts, &k, &v), "cannot read an issuer's day count") &&
      v.mv_size == kSeqBytes) {
    count = GetU64(static_cast<const char*>(v.mv_data));
  }
  return day_counts_.emplace(day_key, count).first->second;
}

bool BatchWriter::DayReleased(const std::string& day_key) {
  MDB_val k = Val(day_key), v;
  return Found(mdb_get(txn_, impl_.released, &k, &v), "cannot read released days");
}

bool BatchWriter::CountAndHold(const protocol::Record& r, const protocol::EntryBody& e) {
  const uint32_t day = DayOf(r.issued_at);
  const std::string day_key = DayKey(r.issuer, day);
  uint64_t& count = DayCount(day_key);
  ++count;
  const uint64_t limit = impl_.options.flood.For(r.issuer);
  if (limit == 0 || count <= limit || DayReleased(day_key)) return false;
  if (count == limit + 1) crossings_.push_back(LimitCrossing{r.issuer, day, limit});
  std::string key = HeldKey(r.issuer, day, r.seq);
  MDB_val k = Val(key), v = Val(e.subject.bytes.data(), e.subject.bytes.size());
  Check(mdb_put(txn_, impl_.held, &k, &v, 0), "cannot hold an entry");
  ++held_;
  return true;
}

void BatchWriter::Uncount(const std::string& issuer, const protocol::Record& r, bool was_held) {
  const uint32_t day = DayOf(r.issued_at);
  uint64_t& count = DayCount(DayKey(issuer, day));
  if (count > 0) --count;
  if (!was_held) return;
  std::string key = HeldKey(issuer, day, r.seq);
  MDB_val k = Val(key);
  int rc = mdb_del(txn_, impl_.held, &k, nullptr);
  if (rc != MDB_NOTFOUND) Check(rc, "cannot drop a held entry");
}

void BatchWriter::FlushDayCounts() {
  for (const auto& [day_key, count] : day_counts_) {
    char value[kSeqBytes];
    PutU64(value, count);
    MDB_val k = Val(day_key), v = Val(value, sizeof value);
    Check(mdb_put(txn_, impl_.day_counts, &k, &v, 0), "cannot write an issuer's day count");
  }
  day_counts_.clear();
}

}  // namespace detail

Result<uint64_t> Store::ReleaseHeld(const std::string& issuer, std::optional<uint32_t> day,
                                    int64_t now) {
  if (impl_->held == 0) {
    return MakeError(ErrorKind::kIo, "store " + impl_->options.path.string() +
                                         " is open for reading only; a release writes");
  }
  uint64_t released = 0;
  try {
    impl_->Write([&](MDB_txn* txn) {
      released = 0;
      std::optional<detail::HeadValue> head = impl_->ReadHead(txn, issuer);
      const std::string prefix = day ? detail::DayKey(issuer, *day) : IssuerPrefix(issuer);
      std::vector<std::string> days;  // DayKeys released
      if (day) days.push_back(prefix);
      // Read first, then write: deleting under a cursor while walking it is easy to get wrong.
      std::vector<std::pair<std::string, Hash256>> rows;
      {
        detail::Cursor c(txn, impl_->held);
        Check(c.open_rc(), "cannot open a cursor");
        MDB_val k = Val(prefix), v;
        int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
        while (Found(rc, "cannot read held entries") &&
               View(k).substr(0, prefix.size()) == prefix) {
          if (k.mv_size != prefix.size() + (day ? 0 : kDayBytes) + kSeqBytes ||
              v.mv_size != Hash256{}.bytes.size() || !head) {
            throw LmdbError{MDB_CORRUPTED, "a held entry's row is malformed"};
          }
          Hash256 subject;
          std::memcpy(subject.bytes.data(), v.mv_data, subject.bytes.size());
          rows.emplace_back(std::string(View(k)), subject);
          rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
        }
      }
      for (const auto& [key, subject] : rows) {
        const uint64_t seq = detail::GetU64(key.data() + key.size() - kSeqBytes);
        std::string day_key = key.substr(0, key.size() - kSeqBytes);
        if (days.empty() || days.back() != day_key) days.push_back(day_key);
        impl_->SetSubjectFlag(txn, subject, head->issuer_id, seq, SubjectValue::kHeldFlag, false,
                              now, "");
        MDB_val k = Val(key);
        Check(mdb_del(txn, impl_->held, &k, nullptr), "cannot release a held entry");
        ++released;
      }
      char at[kSeqBytes];
      detail::PutU64(at, static_cast<uint64_t>(now));
      for (const std::string& day_key : days) {
        MDB_val dk = Val(day_key), dv = Val(at, sizeof at);
        int put = mdb_put(txn, impl_->released, &dk, &dv, MDB_NOOVERWRITE);
        if (put != MDB_KEYEXIST) Check(put, "cannot record a released day");
      }
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return released;
}

Result<std::vector<HeldDay>> Store::HeldDays() const {
  std::vector<HeldDay> days;
  if (impl_->held == 0) return days;
  try {
    Impl::Reader reader(*impl_);
    MDB_txn* txn = reader.txn();
    std::map<std::pair<std::string, uint32_t>, HeldDay> by_day;
    auto at = [&](const std::string& issuer, uint32_t day) -> HeldDay& {
      HeldDay& d = by_day[{issuer, day}];
      d.issuer = issuer;
      d.day = day;
      return d;
    };
    detail::Cursor held(txn, impl_->held);
    Check(held.open_rc(), "cannot open a cursor");
    MDB_val k, v;
    int rc = mdb_cursor_get(held.get(), &k, &v, MDB_FIRST);
    while (Found(rc, "cannot read held entries")) {
      if (auto split = SplitDayKey(View(k))) ++at(split->first, split->second).held;
      rc = mdb_cursor_get(held.get(), &k, &v, MDB_NEXT);
    }
    detail::Cursor released(txn, impl_->released);
    Check(released.open_rc(), "cannot open a cursor");
    rc = mdb_cursor_get(released.get(), &k, &v, MDB_FIRST);
    while (Found(rc, "cannot read released days")) {
      if (auto split = SplitDayKey(View(k))) at(split->first, split->second).released = true;
      rc = mdb_cursor_get(released.get(), &k, &v, MDB_NEXT);
    }
    for (auto& [key, d] : by_day) {
      std::string day_key = detail::DayKey(d.issuer, d.day);
      MDB_val dk = Val(day_key), dv;
      if (Found(mdb_get(txn, impl_->day_counts, &dk, &dv), "cannot read an issuer's day count") &&
          dv.mv_size == kSeqBytes) {
        d.entries = detail::GetU64(static_cast<const char*>(dv.mv_data));
      }
      days.push_back(std::move(d));
    }
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return days;
}

}  // namespace duanka::store
