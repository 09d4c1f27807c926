// The API's routes: bearer-token check, then path and method → handler. No sockets (the
// connection calls Handle with a parsed request), so every route can be driven directly.
//
//   POST /v1/lookup, POST /v1/lookup/batch   http_lookup
//   GET  /v1/status                          backend.status_json
//   GET  /metrics                            backend.metrics_text (Prometheus text format)
//   GET  /healthz                            200 "ok" while backend.healthy()
// Unknown path 404, wrong method 405 (with Allow), missing or wrong token 401; every error body is
// one line {"error":"…"}.
#pragma once

#include <optional>

#include "crypto/crypto.h"
#include "node/daemon/http_api.h"
#include "node/daemon/http_lookup.h"
#include "node/daemon/http_types.h"

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

 private:
  ApiReply Route(const ApiRequest& request) const;
  bool Authorized(std::string_view authorization) const;

  ApiBackend backend_;
  LookupApi lookups_;
  // SHA-256 of the configured token: comparing digests in constant time hides the token's length
  // as well as its bytes.
  std::optional<crypto::Hash256> token_digest_;
};

}  // namespace duanka::daemon
