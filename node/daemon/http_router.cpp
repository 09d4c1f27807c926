#include "node/daemon/http_router.h"

#include <sodium.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <exception>

#include "node/common/host_port.h"
#include "node/daemon/status_page.h"

namespace duanka::daemon {
namespace {

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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The host of a Host header value ("name", "name:port", "[v6]:port"), lowercase, without a
// trailing dot; nullopt if it is not of that form.
std::optional<std::string> HostName(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  if (host.starts_with('[')) {
    size_t end = host.find(']');
    if (end == std::string_view::npos) return std::nullopt;
    name = host.substr(1, end - 1);
    std::string_view rest = host.substr(end + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return std::nullopt;
      port = rest.substr(1);
    }
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
  }
  if (name.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out = Lower(name);
  if (out.ends_with('.')) out.pop_back();
  return out;
}

// The host of a HOST:PORT listen address, as HostName gives it; "" for an unspecified address
// (0.0.0.0, ::), which no client can name.
std::string ListenHost(std::string_view listen) {
  Result<node::HostPort> hp = node::ParseHostPort(listen, node::PortZero::kAllowed);
  if (!hp) return "";
  std::optional<std::string> host = HostName(hp->ToString());
  if (!host) return "";
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(*host, ec);
  return !ec && address.is_unspecified() ? "" : *host;
}

ApiReply Refusal(unsigned status, std::string_view message) {
  ApiReply reply = ErrorReply(status, message);
  reply.close = true;
  return reply;
}

ApiReply WrongMethod(std::string_view allow) {
  ApiReply reply = ErrorReply(kMethodNotAllowed, "method not allowed; use " + std::string(allow));
  reply.allow = allow;
  return reply;
}

}  // namespace

ApiRouter::ApiRouter(const ApiOptions& options, ApiBackend backend)
    : backend_(std::move(backend)),
      lookups_(backend_, options.max_batch_items),
      alerts_(backend_),
      listen_host_(ListenHost(options.listen)),
      limiter_(options.requests_per_second, options.request_burst) {
  if (options.bearer_token) {
    legacy_token_digest_ = crypto::Sha256(crypto::AsBytes(*options.bearer_token));
  }
  for (const std::string& name : options.host_names) host_names_.push_back(Lower(name));
  SetClients(options.clients);
}

void ApiRouter::SetClients(const ApiClients& clients) {
  auto credentials = std::make_shared<Credentials>();
  if (legacy_token_digest_) {
    credentials->tokens.emplace_back(std::string(kLegacyTokenClient), *legacy_token_digest_);
  }
  for (const ApiClient& c : clients.clients) {
    if (c.token_sha256) credentials->tokens.emplace_back(c.name, *c.token_sha256);
    if (c.certificate) credentials->certificates.push_back(c.name);
  }
  std::lock_guard<std::mutex> lock(credentials_mutex_);
  credentials_ = std::move(credentials);
}

std::shared_ptr<const ApiRouter::Credentials> ApiRouter::CurrentCredentials() const {
  std::lock_guard<std::mutex> lock(credentials_mutex_);
  return credentials_;
}

bool ApiRouter::HostAllowed(std::string_view host) const {
  std::optional<std::string> name = HostName(host);
  if (!name) return false;
  if (*name == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(*name, ec);
  if (!ec && address.is_loopback()) return true;
  if (!listen_host_.empty() && *name == listen_host_) return true;
  return std::find(host_names_.begin(), host_names_.end(), *name) != host_names_.end();
}

std::variant<std::string, ApiReply> ApiRouter::Authenticate(const Credentials& credentials,
                                                            const ApiRequest& request) const {
  if (!request.authorization.empty()) {
    if (StartsWithNoCase(request.authorization, kBearerScheme)) {
      std::string_view token = request.authorization.substr(kBearerScheme.size());
      crypto::Hash256 digest = crypto::Sha256(crypto::AsBytes(token));
      // Every client is compared, so that the time taken does not tell which one nearly matched.
      const std::string* match = nullptr;
      for (const auto& [name, expected] : credentials.tokens) {
        if (sodium_memcmp(digest.bytes.data(), expected.bytes.data(), digest.bytes.size()) == 0) {
          match = &name;
        }
      }
      if (match != nullptr) return *match;
    }
    refused_unauthenticated_.fetch_add(1, std::memory_order_relaxed);
    ApiReply reply = Refusal(kUnauthorized, "missing or wrong bearer token");
    reply.www_authenticate = true;
    return reply;
  }
  if (!request.certificate_name.empty()) {
    const auto& names = credentials.certificates;
    if (std::find(names.begin(), names.end(), request.certificate_name) != names.end()) {
      return std::string(request.certificate_name);
    }
    refused_certificate_.fetch_add(1, std::memory_order_relaxed);
    return Refusal(kForbidden,
                   "the client certificate's CN is not an API client of this node (duanka-admin "
                   "api-client add NAME --certificate)");
  }
  refused_unauthenticated_.fetch_add(1, std::memory_order_relaxed);
  ApiReply reply = Refusal(kUnauthorized, "missing or wrong bearer token");
  reply.www_authenticate = true;
  return reply;
}

std::string ApiRouter::MetricsText() const {
  std::string out =
      "# HELP duanka_api_requests_refused_total API requests refused before routing, by reason "
      "(host: a foreign Host header; unauthenticated: no or a wrong token; certificate: a client "
      "certificate of no registered client).\n"
      "# TYPE duanka_api_requests_refused_total counter\n";
  out += "duanka_api_requests_refused_total{reason=\"host\"} " +
         std::to_string(refused_host_.load(std::memory_order_relaxed)) + "\n";
  out += "duanka_api_requests_refused_total{reason=\"unauthenticated\"} " +
         std::to_string(refused_unauthenticated_.load(std::memory_order_relaxed)) + "\n";
  out += "duanka_api_requests_refused_total{reason=\"certificate\"} " +
         std::to_string(refused_certificate_.load(std::memory_order_relaxed)) + "\n";
  out +=
      "# HELP duanka_api_rate_limited_total API requests answered 429 (over the client's rate "
      "limit), per client.\n"
      "# TYPE duanka_api_rate_limited_total counter\n";
  // Client names are checked to [A-Za-z0-9._-] (or are addresses): nothing to escape.
  for (const auto& [client, n] : limiter_.Refused()) {
    out += "duanka_api_rate_limited_total{client=\"" + client + "\"} " + std::to_string(n) + "\n";
  }
  return out;
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
  if (request.host.empty()) {
    refused_host_.fetch_add(1, std::memory_order_relaxed);
    return Refusal(kBadRequest, "Host: the header is required");
  }
  if (!HostAllowed(request.host)) {
    refused_host_.fetch_add(1, std::memory_order_relaxed);
    return Refusal(kMisdirected,
                   "Host: not a name of this API (loopback names, the listen address and "
                   "network.api_host_names are); refused against DNS rebinding");
  }
  std::shared_ptr<const Credentials> credentials = CurrentCredentials();
  // Without clients (the daemon allows that on loopback only) the address is all there is.
  std::string user(request.client);
  if (!credentials->empty()) {
    std::variant<std::string, ApiReply> who = Authenticate(*credentials, request);
    if (ApiReply* refused = std::get_if<ApiReply>(&who)) return std::move(*refused);
    user = std::move(std::get<std::string>(who));
  }
  std::string_view path = request.target.substr(0, request.target.find('?'));
  // Monitoring is never starved by a client's own lookups: the scraper, the health probe and the
  // status page are answered whatever the client's rate (the store's statistics behind status are
  // cached, so each costs little).
  const bool monitoring =
      path == "/metrics" || path == "/healthz" || path == "/v1/status" || path == "/";
  if (std::optional<uint32_t> wait = monitoring ? std::nullopt : limiter_.Take(user)) {
    ApiReply reply =
        ErrorReply(kTooManyRequests, "too many requests from this client; retry after " +
                                         std::to_string(*wait) + " s");
    reply.retry_after = *wait;
    return reply;
  }
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";

  if (path == "/v1/lookup") {
    return post ? lookups_.Lookup(request.body, user) : WrongMethod("POST");
  }
  if (path == "/v1/lookup/batch") {
    return post ? lookups_.Batch(request.body, user) : WrongMethod("POST");
  }
  if (path == "/v1/explain") {
    return post ? lookups_.Explain(request.body, user) : WrongMethod("POST");
  }
  if (path == "/v1/alerts") {
    if (!get) return WrongMethod("GET");
    const size_t mark = request.target.find('?');
    return alerts_.Get(mark == std::string_view::npos ? "" : request.target.substr(mark + 1), user);
  }
  if (path == "/") {
    if (!get) return WrongMethod("GET");
    if (!backend_.status_json) return ErrorReply(kUnavailable, "status is not available");
    // The page renders from the very snapshot /v1/status answers with, so the two never differ.
    nlohmann::json status = nlohmann::json::parse(backend_.status_json(), nullptr, false);
    if (status.is_discarded()) return ErrorReply(kInternalError, "status is not available");
    StatusPageFigures figures;
    if (backend_.metrics != nullptr) {
      figures.lookups_last_minute = backend_.metrics->LookupsLastMinute();
    }
    if (backend_.alerts != nullptr) {
      const store::Store& store = backend_.alerts->store();
      if (Result<uint64_t> n = store.WatchCount(); n) figures.watch_entries = *n;
      if (Result<uint64_t> n = store.LastAlertId(); n) figures.alerts_raised = *n;
    }
    if (backend_.alerts_pending) figures.alerts_pending = backend_.alerts_pending();
    return TextReply(kContentTypeHtml, RenderStatusPage(status, figures));
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
    return TextReply(kContentTypeMetrics, backend_.metrics_text() + MetricsText());
  }
  if (path == "/healthz") {
    if (!get) return WrongMethod("GET");
    if (backend_.healthy && !backend_.healthy()) {
      return ErrorReply(kUnavailable, "the store is not readable");
    }
    // A lookup that cannot be audited is refused: the node cannot do its work.
    if (backend_.audit != nullptr) {
      if (Status writable = backend_.audit->Writable(); !writable) {
        return ErrorReply(kUnavailable, writable.error().message +
                                            "; lookups are refused while the audit log cannot "
                                            "be written");
      }
    }
    ApiReply reply = TextReply(kContentTypeText, "ok\n");
    reply.status = kOk;
    return reply;
  }
  return ErrorReply(kNotFound,
                    "no such endpoint; see / (the status page), /v1/lookup, /v1/lookup/batch, "
                    "/v1/alerts, /v1/status, /metrics, /healthz");
}

}  // namespace duanka::daemon
