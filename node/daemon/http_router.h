// The API's routes: Host check, client authentication, rate limit, then path and method →
// handler. No sockets (the connection calls Handle with a parsed request), so every route can be
// driven directly.
//
// Before routing, in this order:
//   Host         must be a loopback name or address (any port), the listen address, or one of
//                options.host_names: a browser led to the API by DNS rebinding sends the
//                attacker's name (421; missing: 400).
//   client       with any client configured, a bearer token of a token client (401) or a client
//                certificate whose CN is a certificate client (403); the client's name is the
//                audit log's `user`. Without clients (loopback only) the user is the address.
//   rate limit   per client name, a token bucket (429 with Retry-After).
//
//   POST /v1/lookup, POST /v1/lookup/batch   http_lookup
//   POST /v1/explain                         http_lookup
//   GET  /                                   status_page.h: backend.status_json as HTML
//   GET  /v1/status                          backend.status_json
//   GET  /metrics                            backend.metrics_text (Prometheus text format)
//   GET  /healthz                            200 "ok" while backend.healthy()
//   GET  /v1/alerts?after=ID&wait=S          alert_feed.h: the alert feed (a long poll)
// Unknown path 404, wrong method 405 (with Allow); every error body is one line {"error":"…"}.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "crypto/crypto.h"
#include "node/daemon/alert_feed.h"
#include "node/daemon/http_api.h"
#include "node/daemon/http_lookup.h"
#include "node/daemon/http_types.h"
#include "node/daemon/rate_limit.h"

namespace duanka::daemon {

// What a connection calls for each complete request; implemented by ApiRouter.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on the connection's strand, from any of the io_context's threads; never throws.
  virtual ApiReply Handle(const ApiRequest& request) const = 0;
};

class ApiRouter final : public RequestHandler {
 public:
  // REQUIRES: backend.lookuper and backend.audit are set and outlive this object.
  ApiRouter(const ApiOptions& options, ApiBackend backend);
  ApiRouter(const ApiRouter&) = delete;  // lookups_ refers to backend_
  ApiRouter& operator=(const ApiRouter&) = delete;

  ApiReply Handle(const ApiRequest& request) const override;

  // Replaces the named clients (SIGHUP after `duanka-admin api-client add|remove`); requests
  // in progress finish with the old set. options.bearer_token stays the client "token".
  void SetClients(const ApiClients& clients);

  // The API's own counters in Prometheus text format (appended to GET /metrics).
  std::string MetricsText() const;

 private:
  // Who may call, as digests: comparing SHA-256 digests in constant time hides a token's length
  // as well as its bytes.
  struct Credentials {
    std::vector<std::pair<std::string, crypto::Hash256>> tokens;  // name, SHA-256 of its token
    std::vector<std::string> certificates;                        // names (CNs)
    bool empty() const { return tokens.empty() && certificates.empty(); }
  };
  ApiReply Route(const ApiRequest& request) const;
  bool HostAllowed(std::string_view host) const;
  // The client's name, or the refusal to answer.
  std::variant<std::string, ApiReply> Authenticate(const Credentials& credentials,
                                                   const ApiRequest& request) const;
  std::shared_ptr<const Credentials> CurrentCredentials() const;

  ApiBackend backend_;
  LookupApi lookups_;
  AlertsApi alerts_;
  std::optional<crypto::Hash256> legacy_token_digest_;  // options.bearer_token
  std::string listen_host_;                             // lowercase, without brackets
  std::vector<std::string> host_names_;                 // lowercase
  mutable std::mutex credentials_mutex_;
  std::shared_ptr<const Credentials> credentials_;
  mutable RateLimiter limiter_;
  mutable std::atomic<uint64_t> refused_host_{0};
  mutable std::atomic<uint64_t> refused_unauthenticated_{0};
  mutable std::atomic<uint64_t> refused_certificate_{0};
};

}  // namespace duanka::daemon
