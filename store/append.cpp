// The write path: extending feeds, detecting forks, indexing entries and applying revocations,
// all inside one write transaction per batch (the writer itself is in detail/batch_writer.h).
#include <optional>

#include "store/detail/batch_writer.h"

namespace duanka::store {

using detail::BatchWriter;
using detail::Check;
using detail::LmdbError;
using detail::StoreIo;
using detail::Val;

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
      result.held = writer.held();
      result.crossings = writer.crossings();
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
        if (status == AppendStatus::kMisdated && v.record().issuer == issuer) {
          // Not a bug of ours but this machine's clock, stepped back since the last record.
          refused = MakeError(ErrorKind::kConflict,
                              "record " + v.record().id().ToString() +
                                  " would be dated before the feed's last record: this "
                                  "machine's clock is behind; check it (NTP) and try again");
          return false;
        }
        if (status != AppendStatus::kAppended || v.record().issuer != issuer) {
          refused = MakeError(ErrorKind::kInternal, "record " + v.record().id().ToString() +
                                                        " does not extend feed " + issuer + " (" +
                                                        AppendStatusName(status) + ")");
          return false;
        }
        ++result.appended;
      }
      writer.Flush();
      result.held = writer.held();
      result.crossings = writer.crossings();
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
