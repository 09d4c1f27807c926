#include "node/daemon/http_router.h"

#include <sodium.h>

#include <exception>

namespace duanka::daemon {
namespace {

constexpr unsigned kOk = 200;
constexpr unsigned kUnauthorized = 401;
constexpr unsigned kNotFound = 404;
constexpr unsigned kMethodNotAllowed = 405;
constexpr unsigned kInternalError = 500;
constexpr unsigned kUnavailable = 503;

constexpr std::string_view kBearerScheme = "bearer ";  // compared case-insensitively

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

ApiReply TextReply(std::string_view content_type, std::string body) {
  ApiReply reply;
  reply.content_type = content_type;
  reply.body = std::move(body);
  return reply;
}

ApiReply WrongMethod(std::string_view allow) {
  ApiReply reply = ErrorReply(kMethodNotAllowed, "method not allowed; use " + std::string(allow));
  reply.allow = allow;
  return reply;
}

}  // namespace

ApiRouter::ApiRouter(const ApiOptions& options, ApiBackend backend)
    : backend_(std::move(backend)), lookups_(backend_, options.max_batch_items) {
  if (options.bearer_token) token_digest_ = crypto::Sha256(crypto::AsBytes(*options.bearer_token));
}

bool ApiRouter::Authorized(std::string_view authorization) const {
  if (!token_digest_) return true;
  if (!StartsWithNoCase(authorization, kBearerScheme)) return false;
  std::string_view token = authorization.substr(kBearerScheme.size());
  crypto::Hash256 digest = crypto::Sha256(crypto::AsBytes(token));
  return sodium_memcmp(digest.bytes.data(), token_digest_->bytes.data(), digest.bytes.size()) == 0;
}

ApiReply ApiRouter::Handle(const ApiRequest& request) const {
  try {
    return Route(request);
  } catch (const std::exception&) {
    // Only our own bugs or memory exhaustion get here; the message could hold anything.
    return ErrorReply(kInternalError, "internal error");
  }
}

ApiReply ApiRouter::Route(const ApiRequest& request) const {
  if (!Authorized(request.authorization)) {
    ApiReply reply = ErrorReply(kUnauthorized, "missing or wrong bearer token");
    reply.www_authenticate = true;
    return reply;
  }
  std::string_view path = request.target.substr(0, request.target.find('?'));
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  // The audit log names the API client: its address, or "token" when a token is required
  // (every client then holds the one token, so the address adds nothing trustworthy).
  const std::string_view user = token_digest_ ? std::string_view("token") : request.client;

  if (path == "/v1/lookup") {
    return post ? lookups_.Lookup(request.body, user) : WrongMethod("POST");
  }
  if (path == "/v1/lookup/batch") {
    return post ? lookups_.Batch(request.body, user) : WrongMethod("POST");
  }
  if (path == "/v1/status") {
    if (!get) return WrongMethod("GET");
    if (!backend_.status_json) return ErrorReply(kUnavailable, "status is not available");
    std::string body = backend_.status_json();
    body += '\n';
    return TextReply(kContentTypeJson, std::move(body));
  }
  if (path == "/metrics") {
    if (!get) return WrongMethod("GET");
    if (!backend_.metrics_text) return ErrorReply(kUnavailable, "metrics are not available");
    return TextReply(kContentTypeMetrics, backend_.metrics_text());
  }
  if (path == "/healthz") {
    if (!get) return WrongMethod("GET");
    if (backend_.healthy && !backend_.healthy()) {
      return ErrorReply(kUnavailable, "the store is not readable");
    }
    ApiReply reply = TextReply(kContentTypeText, "ok\n");
    reply.status = kOk;
    return reply;
  }
  return ErrorReply(kNotFound,
                    "no such endpoint; see /v1/lookup, /v1/lookup/batch, "
                    "/v1/status, /metrics, /healthz");
}

}  // namespace duanka::daemon
