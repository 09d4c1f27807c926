#include "node/common/consortium_objects.h"

namespace duanka::node {

Result<crypto::CrlInfo> AdmitCrl(store::Store& store, crypto::TrustStore& ca,
                                 std::string_view pem) {
  Result<crypto::CrlInfo> info = ca.InspectCrl(pem);
  if (!info) return std::move(info).error();
  if (std::optional<crypto::CrlInfo> held = ca.crl(); held && info->number <= held->number) {
    return MakeError(ErrorKind::kConflict, "CRL number " + std::to_string(info->number) +
                                               " is not newer than the one in force (number " +
                                               std::to_string(held->number) + ")");
  }
  // Kept before it is put in force: a CRL in force here but lost at a restart would let a
  // revoked member back in.
  if (Status kept = store.PutObject(kCrlObject, pem); !kept) return std::move(kept).error();
  return ca.UpdateCrl(pem);
}

Result<bool> ApplyHeldCrl(const store::Store& store, crypto::TrustStore& ca) {
  Result<std::optional<std::string>> held = store.GetObject(kCrlObject);
  if (!held) return std::move(held).error();
  if (!*held) return false;
  // The usual case (called at every commit the daemon sees): the held CRL is the one in force,
  // and nothing needs parsing or a signature check.
  if (std::optional<crypto::CrlInfo> in_force = ca.crl(); in_force && in_force->pem == **held) {
    return false;
  }
  Result<crypto::CrlInfo> info = ca.InspectCrl(**held);
  if (!info) return MakeError(ErrorKind::kIo, "the store's CRL: " + info.error().message);
  if (std::optional<crypto::CrlInfo> in_force = ca.crl();
      in_force && info->number <= in_force->number) {
    return false;
  }
  Result<crypto::CrlInfo> applied = ca.UpdateCrl(**held);
  if (!applied) return std::move(applied).error();
  return true;
}

}  // namespace duanka::node
