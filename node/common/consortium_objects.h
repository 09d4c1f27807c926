// Consortium-signed objects (design section 9): signed by the consortium's authority, carried
// like records and certificates (over the peer protocol, or as a file handed to any one node),
// verified by every node before use, the newest of each name winning, and kept in the store so
// that every program of the node applies the same. The CRL is the first kind.
#pragma once

#include <string_view>

#include "crypto/pki.h"
#include "store/store.h"

namespace duanka::node {

// The store's name for the consortium CA's newest CRL (PEM), and the peer protocol's.
inline constexpr std::string_view kCrlObject = "crl";

// Verifies `pem` as a CRL of the CA newer than the one in force, keeps it in the store and puts
// it in force in `ca`. kInvalidInput (not a CRL of this CA), kConflict (not newer), kIo (store).
Result<crypto::CrlInfo> AdmitCrl(store::Store& store, crypto::TrustStore& ca, std::string_view pem);

// Puts the store's CRL in force in `ca` when it is newer than the one `ca` has (every program
// does this after opening its store: a CRL imported or received since the node's crl.pem was
// written). True when it changed anything.
Result<bool> ApplyHeldCrl(const store::Store& store, crypto::TrustStore& ca);

}  // namespace duanka::node
