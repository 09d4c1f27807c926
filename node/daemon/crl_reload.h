// SIGHUP's CRL reload: the operator fetched a newer CRL from the consortium operator into
// files.crl (or HOME/crl.pem) and signals the daemon instead of restarting it.
#pragma once

#include <string>

#include "node/common/config.h"
#include "store/store.h"

namespace duanka::daemon {

// Reads the CRL file and, when it holds a CRL of this CA newer than the one the store holds,
// verifies and keeps it in the store exactly as `duanka-admin import` would; the sync strand then
// puts it in force and passes it on (Sync::OnLocalChange). Never changes what is in force when the
// file is missing, unreadable, not the CA's or not newer. Returns a line for the log saying which.
std::string ReloadCrlFile(const node::Config& config, store::Store& store);

}  // namespace duanka::daemon
