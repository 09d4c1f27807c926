// duanka.toml → the HTTP API's options: TLS (api_tls.h), named clients and the legacy token
// (api_clients.h), Host names and the rate limit; and the rules for an API other hosts can reach.
//
// An API on a non-loopback address needs TLS and client authentication (a named client, or the
// legacy token): a bank's network is no place for lookups in clear or without a caller's name.
// Every refusal is one line naming the key to set.
#pragma once

#include "crypto/base/result.h"
#include "node/common/config.h"
#include "node/daemon/api_clients.h"
#include "node/daemon/http_api.h"

namespace duanka::daemon {

// kInvalidInput (exit 2) for a configuration that does not fit, kIo (exit 3) for a file that
// cannot be read.
Result<ApiOptions> ApiOptionsFromConfig(const node::Config& config);

// The named clients of files.api_clients (none when the file does not exist), checked against
// the rest of the configuration as at start; for SIGHUP.
Result<ApiClients> LoadConfiguredClients(const node::Config& config);

// Whether HOST:PORT names a loopback address (or "localhost").
bool IsLoopbackListen(const std::string& host_port);

}  // namespace duanka::daemon
