#include "node/daemon/crl_reload.h"

#include <filesystem>

#include "crypto/base/base.h"
#include "crypto/pki.h"
#include "node/common/consortium_objects.h"

namespace duanka::daemon {
namespace {

// A CRL lists revoked serials only: far below this even for a large consortium.
constexpr size_t kMaxCrlFileBytes = 16 << 20;
constexpr size_t kMaxCaFileBytes = 64 << 10;

}  // namespace

std::string ReloadCrlFile(const node::Config& config, store::Store& store) {
  const std::filesystem::path path = config.crl.value_or(config.home / "crl.pem");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return "no CRL file at " + path.string() + "; the CRL in force stays";
  }
  Result<std::string> pem = base::ReadFile(path, kMaxCrlFileBytes);
  if (!pem) return pem.error().message + "; the CRL in force stays";
  Result<std::string> ca_pem = base::ReadFile(config.ca, kMaxCaFileBytes);
  if (!ca_pem) return ca_pem.error().message + "; the CRL in force stays";
  // A scratch trust store: the daemon's own is the sync strand's to change.
  Result<crypto::TrustStore> scratch = crypto::TrustStore::Create(*ca_pem, std::nullopt);
  if (!scratch) return scratch.error().message + "; the CRL in force stays";
  if (Result<bool> held = node::ApplyHeldCrl(store, *scratch); !held) {
    return held.error().message + "; the CRL in force stays";
  }
  Result<crypto::CrlInfo> admitted = node::AdmitCrl(store, *scratch, *pem);
  if (!admitted) {
    if (admitted.error().kind == ErrorKind::kConflict) {
      return path.string() + " holds no newer CRL than the one in force";
    }
    return path.string() + ": " + admitted.error().message + "; the CRL in force stays";
  }
  return "CRL number " + std::to_string(admitted->number) + " from " + path.string() +
         " taken; it is put in force and passed to every peer";
}

}  // namespace duanka::daemon
