// The seen_heads table: the highest head of a feed that a peer claimed, so that a store restored
// from a backup knows it is behind the network before its administrators sign into a fork.
#include "store/detail/store_impl.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::LmdbError;
using detail::StoreIo;
using detail::Val;
using detail::View;

namespace {

// u64 seq ‖ i64 noted at; longer values (a later version's additions) are read by their prefix.
constexpr size_t kSeenHeadBytes = 16;

Error NoTable(const Store::Impl& impl) {
  return MakeError(ErrorKind::kIo, "store " + impl.options.path.string() +
                                       ": no seen_heads table (a read-only open of a store made "
                                       "before it; open it writable once to add it)");
}

std::optional<std::pair<uint64_t, int64_t>> Read(MDB_txn* txn, MDB_dbi dbi,
                                                 const std::string& issuer) {
  MDB_val k = Val(issuer), v;
  if (!Found(mdb_get(txn, dbi, &k, &v), "cannot read a seen head")) return std::nullopt;
  std::string_view bytes = View(v);
  // A value this version cannot read is no claim: the guard it feeds then stays open.
  if (bytes.size() < kSeenHeadBytes) return std::nullopt;
  return std::make_pair(detail::GetU64(bytes.data()),
                        static_cast<int64_t>(detail::GetU64(bytes.data() + 8)));
}

}  // namespace

Status Store::NoteSeenHead(const std::string& issuer, uint64_t seq, int64_t now) {
  if (impl_->seen_heads == 0) return NoTable(*impl_);
  try {
    impl_->Write([&](MDB_txn* txn) {
      std::optional<std::pair<uint64_t, int64_t>> held = Read(txn, impl_->seen_heads, issuer);
      if (held && held->first >= seq) return false;  // nothing to write: abort, not commit
      char value[kSeenHeadBytes];
      detail::PutU64(value, seq);
      detail::PutU64(value + 8, static_cast<uint64_t>(now));
      MDB_val k = Val(issuer), v = Val(value, sizeof value);
      Check(mdb_put(txn, impl_->seen_heads, &k, &v, 0), "cannot keep a seen head");
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

Result<std::optional<std::pair<uint64_t, int64_t>>> Store::SeenHead(
    const std::string& issuer) const {
  if (impl_->seen_heads == 0) return std::optional<std::pair<uint64_t, int64_t>>();
  try {
    Impl::Reader reader(*impl_);
    return Read(reader.txn(), impl_->seen_heads, issuer);
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
}

Status Store::ClearSeenHead(const std::string& issuer) {
  if (impl_->seen_heads == 0) return NoTable(*impl_);
  try {
    impl_->Write([&](MDB_txn* txn) {
      MDB_val k = Val(issuer);
      int rc = mdb_del(txn, impl_->seen_heads, &k, nullptr);
      if (rc == MDB_NOTFOUND) return false;
      Check(rc, "cannot forget a seen head");
      return true;
    });
  } catch (const LmdbError& e) {
    return StoreIo(e, *impl_);
  }
  return Ok();
}

}  // namespace duanka::store
