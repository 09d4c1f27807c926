// The daemon's local HTTP API (Boost.Beast), on `api` (loopback by default):
//   POST /v1/lookup        {"type","value","purpose"} → the same JSON as `duanka lookup --json`
//   POST /v1/lookup/batch  {"purpose","items":[{"type","value"},…]} → {"results":[…]} (bounded)
//   POST /v1/explain       {"type","value"[,"purpose":"appeal"]} → `duanka explain --json`
//   GET  /                 the same status as one HTML page for operators (status_page.h)
//   GET  /v1/status        institution, feeds, peers, counts
//   GET  /metrics          Prometheus text format
//   GET  /healthz          200 "ok" while the store is readable
//   GET  /v1/alerts        ?after=ID&wait=S: the alert feed, a long poll (alert_feed.h)
// Every lookup is audited as in the CLI (user = the API client's name, or its address when no
// client is configured). Invalid input or a missing purpose → 400 with {"error": "…"}.
// Over TLS (options.tls) when configured; named clients, the Host check and the rate limit are
// http_router.h's.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/base/result.h"
#include "node/common/audit.h"
#include "node/common/lookup.h"
#include "node/common/risk.h"
#include "node/daemon/api_clients.h"
#include "node/daemon/metrics.h"

namespace boost::asio::ssl {
class context;
}

namespace duanka::daemon {

class AlertNotifier;  // alert_feed.h

struct ApiOptions {
  std::string listen = "127.0.0.1:7480";  // HOST:PORT
  // The legacy single token (files.api_token): the client named "token".
  std::optional<std::string> bearer_token;
  // Named clients. With any client (or bearer_token), every request must authenticate as one.
  ApiClients clients;
  // TLS on the listener (api_tls.h); null: plain HTTP, which the daemon allows on loopback only.
  std::shared_ptr<boost::asio::ssl::context> tls;
  // Host header values accepted besides loopback names and addresses and the listen address,
  // e.g. the DNS name in the API's certificate. Compared without the port, case-insensitively.
  std::vector<std::string> host_names;
  // Per client: requests per second (0: no limit) and the burst above it.
  uint32_t requests_per_second = 0;
  uint32_t request_burst = 1;
  size_t max_body_bytes = 1 << 20;  // a lookup body is ~100 bytes; a batch is bounded below
  size_t max_batch_items = 10000;   // items per /v1/lookup/batch request
  // Reading one request, headers and body (from the connection's start for the first request,
  // else from its first byte), and writing one reply: a silent or slow client is dropped.
  int request_timeout_ms = 10000;
  int idle_timeout_ms = 60000;  // a keep-alive connection with no request is closed
  // Connections served at once; beyond it a connection gets a 503 and is closed at once, so
  // that clients cannot take every descriptor (the daemon sets it from limits.max_api_connections,
  // within the descriptor budget).
  size_t max_connections = 256;
};

// What the API answers from; the daemon provides it. Called on the API's threads.
struct ApiBackend {
  const node::Lookuper* lookuper = nullptr;
  const node::AuditLog* audit = nullptr;
  Metrics* metrics = nullptr;
  std::function<int64_t()> now;                     // Unix seconds
  std::function<std::string()> status_json;         // GET /v1/status body
  std::function<std::string()> metrics_text;        // GET /metrics body
  std::function<bool()> healthy;                    // GET /healthz
  std::function<std::vector<store::Head>()> heads;  // freshness in lookup answers
  // The grading of lookup answers ("risk", node/common/risk.h): the consortium's policy held, and
  // the node's own [grading] rules (null: none). Without a cache, the built-in default.
  const node::PolicyCache* policy = nullptr;
  const node::GradingPolicy* local_grading = nullptr;
  // Where the server reports trouble of its own (accept failing, e.g. at the descriptor limit):
  // one line per episode. Optional.
  std::function<void(const std::string&)> log;
  // GET /v1/alerts (alert_feed.h): its store and long-poll waiters; null: the feed answers 503.
  AlertNotifier* alerts = nullptr;
  // The status page's alerts pending delivery (the webhook's backlog); nullopt or unset: no
  // webhook is configured.
  std::function<std::optional<uint64_t>()> alerts_pending;
};

class ApiServer {
 public:
  // `io` must outlive the server (the destructor posts Stop() to it).
  ApiServer(boost::asio::io_context& io, ApiOptions options, ApiBackend backend);
  ~ApiServer();
  // Binds and starts accepting. kInvalidInput for a bad address, kIo if it cannot bind.
  Status Start();
  // Stops accepting and closes idle connections; requests in progress finish.
  void Stop();
  // The bound port (useful with port 0 in tests).
  uint16_t port() const;
  // Replaces the named clients (see ApiRouter::SetClients). Thread-safe.
  void SetClients(const ApiClients& clients);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace duanka::daemon
