// The counting read: every entry of the subjects index and every revocation, in one transaction.
#include <cstring>

#include "store/detail/store_impl.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::LmdbError;
using detail::RevokedValue;
using detail::StoreIo;
using detail::SubjectValue;
using detail::View;

namespace {

// The target of a `revoked` or `pending` row from its key: issuer code ‖ 0x00 ‖ u64 seq.
EntryId TargetOf(std::string_view key) {
  const size_t nul = key.find('\0');
  if (nul == std::string_view::npos || key.size() != nul + 1 + 8) {
    throw LmdbError{MDB_CORRUPTED, "a revocation key is malformed"};
  }
  return EntryId{std::string(key.substr(0, nul)), detail::GetU64(key.data() + nul + 1)};
}

void VisitRevocations(MDB_txn* txn, MDB_dbi dbi, bool pending,
                      const Store::RevocationVisit& visit) {
  detail::Cursor c(txn, dbi);
  Check(c.open_rc(), "cannot open a cursor");
  MDB_val k, v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
  while (Found(rc, "cannot read revocations")) {
    std::optional<RevokedValue> rv = RevokedValue::Decode(View(v));
    if (!rv) throw LmdbError{MDB_CORRUPTED, "a revocation value is truncated"};
    visit(TargetOf(View(k)),
          RevocationInfo{EntryId{std::move(rv->by_issuer), rv->by_seq},
                         static_cast<protocol::RevocationReason>(rv->reason), rv->revoked_at},
          pending);
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
  }
}

}  // namespace

Status Store::ScanIndex(int64_t now, const std::function<void(const Listing&)>& entry,
                        const RevocationVisit& revocation) const {
  try {
    Impl::Reader reader(*impl_);
    MDB_txn* txn = reader.txn();
    {
      detail::Cursor c(txn, impl_->subjects);
      Check(c.open_rc(), "cannot open a cursor");
      MDB_val k, v;
      const LookupOptions options{now, /*details=*/false};
      int rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST);
      while (Found(rc, "cannot read the subjects index")) {
        if (k.mv_size != sizeof(Hash256::bytes) || v.mv_size != SubjectValue::kSize) {
          throw LmdbError{MDB_CORRUPTED, "a subjects index row has the wrong size"};
        }
        Hash256 subject;
        std::memcpy(subject.bytes.data(), k.mv_data, subject.bytes.size());
        const SubjectValue sv = SubjectValue::Decode(static_cast<const char*>(v.mv_data));
        entry(impl_->ToListing(txn, subject, sv, options));
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
      }
    }
    VisitRevocations(txn, impl_->revoked, /*pending=*/false, revocation);
    VisitRevocations(txn, impl_->pending, /*pending=*/true, revocation);
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

}  // namespace duanka::store
