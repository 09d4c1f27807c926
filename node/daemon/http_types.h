// What crosses between the HTTP connection (http_session: bytes, limits, timeouts) and the API
// that gives requests meaning (http_router, http_lookup): a parsed request in, a reply out. Neither
// side sees the other's types, so the API can be driven without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace duanka::daemon {

// A parsed HTTP request. Views into the connection's buffers, valid during the Handle call only.
struct ApiRequest {
  std::string_view method;         // "GET", "POST", …
  std::string_view target;         // "/v1/lookup", possibly with "?query"
  std::string_view authorization;  // the Authorization header, empty if absent
  std::string_view body;
  std::string_view client;  // the peer's address, e.g. "127.0.0.1"
  std::string_view host;    // the Host header, empty if absent
  // The CN of the client certificate verified in the TLS handshake; empty without TLS or
  // without a certificate.
  std::string_view certificate_name;
};

inline constexpr std::string_view kContentTypeJson = "application/json";
inline constexpr std::string_view kContentTypeText = "text/plain; charset=utf-8";
// The Prometheus text exposition format's own content type.
inline constexpr std::string_view kContentTypeMetrics = "text/plain; version=0.0.4; charset=utf-8";

// The HTTP status codes the API answers with.
inline constexpr unsigned kOk = 200;
inline constexpr unsigned kBadRequest = 400;
inline constexpr unsigned kUnauthorized = 401;
inline constexpr unsigned kForbidden = 403;
inline constexpr unsigned kNotFound = 404;
inline constexpr unsigned kMethodNotAllowed = 405;
inline constexpr unsigned kPayloadTooLarge = 413;
inline constexpr unsigned kMisdirected = 421;
inline constexpr unsigned kTooManyRequests = 429;
inline constexpr unsigned kHeadersTooLarge = 431;
inline constexpr unsigned kInternalError = 500;
inline constexpr unsigned kUnavailable = 503;

struct ApiReply {
  unsigned status = kOk;
  std::string_view content_type = kContentTypeJson;  // static storage
  std::string body;
  std::string_view allow;         // the Allow header of a 405, static storage
  bool www_authenticate = false;  // a 401's "WWW-Authenticate: Bearer"
  uint32_t retry_after = 0;       // a 429's Retry-After, in seconds; 0: no header
  // The request was refused before it was routed (401, 403, 421): the connection ends after the
  // reply, so that it cannot be held open with requests that are never served.
  bool close = false;
  // A reply not ready yet (a long poll: GET /v1/alerts?wait=S). When set, the connection calls
  // it once with `send` and uses nothing else of this reply; `send` must then be called exactly
  // once, from any thread, with the reply to write. Meanwhile the connection reads nothing.
  std::function<void(std::function<void(ApiReply)> send)> deferred;
  // Kept by the connection until the reply is written (or the connection ends), then released:
  // whoever made the reply can wait for it to leave.
  std::shared_ptr<void> written;
};

// {"error":"<message>"} and a newline: every error the API answers has this one-line shape.
ApiReply ErrorReply(unsigned status, std::string_view message);

}  // namespace duanka::daemon
