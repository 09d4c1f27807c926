// What only the node's own daemon knows (its peers and their state), for `duanka status`: asked
// of duankad's HTTP API (GET /v1/status) at the address HOME's duanka.toml gives it, over the
// loopback interface.
#pragma once

#include <nlohmann/json.hpp>

#include "crypto/base/result.h"
#include "node/common/config.h"

namespace duanka::lookup {

// The address asked, as the status line names it ("127.0.0.1:7480").
std::string DaemonApiAddress(const node::Config& config);

// duankad's GET /v1/status, parsed. kIo with one line saying why there is none: the daemon does
// not answer (not running, or another address), the API refused (a token missing from api.token),
// or the API uses TLS (this CLI never links OpenSSL: read GET /v1/status or the status page).
Result<nlohmann::json> AskDaemonStatus(const node::Config& config);

}  // namespace duanka::lookup
