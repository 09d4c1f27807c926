#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include "node/daemon/webhook.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <optional>
#include <random>
#include <thread>

#include "node/common/alerts.h"
#include "node/common/version.h"
#include "node/daemon/http_lookup.h"
#include "node/daemon/log.h"

namespace duanka::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// A receiver's answer is read only for its status; a body beyond this is a misbehaving receiver.
constexpr uint64_t kMaxResponseBytes = 64 << 10;
// The cursor's audit `user`: the delivery, not a person or an API client.
constexpr std::string_view kAuditUser = "webhook";
// A failure is logged with how many came in a row; doubling stops here (2^20 × the base is far
// beyond any cap the config allows).
constexpr uint32_t kMaxBackoffDoublings = 20;
// After a notice of a commit that showed no new alert, the log is read again this often, up to
// kWakeRechecks times: the notice can come before the commit is visible to readers (store_watch.h),
// by as long as the committing process's fsync takes on a busy disk.
constexpr std::chrono::milliseconds kWakeRecheck{5};
constexpr uint32_t kWakeRechecks = 200;
constexpr size_t kMaxPemBytes = 1 << 20;

bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string HostHeader(const node::WebhookUrl& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  const uint16_t default_port = url.tls ? 443 : 80;
  if (url.port != default_port) host += ":" + std::to_string(url.port);
  return host;
}

}  // namespace

WebhookOptions WebhookOptionsFrom(const node::AlertSettings& alerts) {
  WebhookOptions o;
  if (Result<node::WebhookUrl> url = node::ParseWebhookUrl(alerts.webhook_url); url) o.url = *url;
  o.timeout = std::chrono::milliseconds(alerts.webhook_timeout_ms);
  o.max_backoff = std::chrono::seconds(alerts.webhook_max_backoff_s);
  return o;
}

Result<std::shared_ptr<ssl::context>> CreateWebhookTlsContext(const node::AlertSettings& alerts) {
  Result<node::WebhookUrl> url = node::ParseWebhookUrl(alerts.webhook_url);
  if (!url)
    return MakeError(ErrorKind::kInvalidInput, "alerts.webhook_url: " + url.error().message);
  if (!url->tls) return std::shared_ptr<ssl::context>();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (alerts.webhook_ca_file) {
    const std::filesystem::path& file = *alerts.webhook_ca_file;
    Result<std::string> pem = base::ReadFile(file, kMaxPemBytes);
    if (!pem) {
      return MakeError(ErrorKind::kIo, "alerts.webhook_ca_file: " + pem.error().message);
    }
    ctx->add_certificate_authority(asio::buffer(*pem), ec);
    if (ec) {
      return MakeError(ErrorKind::kIo, "alerts.webhook_ca_file " + file.string() +
                                           ": expected PEM CA certificates (" + ec.message() + ")");
    }
  } else {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      return MakeError(ErrorKind::kIo,
                       "alerts.webhook_url is https but the system trust store "
                       "cannot be loaded (" +
                           ec.message() + "); set alerts.webhook_ca_file");
    }
  }
  return ctx;
}

struct Webhook::Impl {
  Impl(store::Store& s, const node::AuditLog& a, Metrics& m, WebhookOptions o,
       std::shared_ptr<ssl::context> t, std::function<int64_t()> n)
      : store(s),
        audit(a),
        metrics(m),
        options(std::move(o)),
        tls(std::move(t)),
        now(std::move(n)),
        host_header(HostHeader(options.url)),
        rng(std::random_device{}()) {}

  // First: destroyed last, after every timer and socket of it (and the coroutine's frame, which
  // a stop leaves suspended, goes with it).
  asio::io_context io;
  store::Store& store;
  const node::AuditLog& audit;
  Metrics& metrics;
  const WebhookOptions options;
  const std::shared_ptr<ssl::context> tls;
  const std::function<int64_t()> now;
  const std::string host_header;
  std::mt19937_64 rng;
  asio::steady_timer wake_timer{io};
  bool woken = false;  // a notice came while the loop was busy; the io thread's alone
  std::thread thread;
  std::atomic<bool> started{false};
  // The loop's state, the io thread's alone (and Stop()'s once it is joined).
  bool have_position = false;  // `delivered` and `saved` read from the store
  uint64_t delivered = 0;      // every alert through this id is delivered and audited
  uint64_t saved = 0;          // what the store's cursor holds
  uint32_t failures = 0;       // in a row
  bool store_failing = false;
  uint32_t rechecks_left = 0;                  // quick re-reads left after a notice of a commit
  std::atomic<uint64_t> delivered_through{0};  // `delivered`, for Backlog() on other threads

  // The connection kept open between POSTs (the receiver may close it at any time).
  struct Connection {
    std::optional<beast::tcp_stream> plain;                   // http
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;  // https
    beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  };
  std::unique_ptr<Connection> connection;

  // Forever: Step() after Step(), and a step that throws is a failure like any other.
  asio::awaitable<void> Run();
  // Reads the next page of the log and delivers it, or waits for one.
  asio::awaitable<void> Step();
  // Counts a failure, saves what was delivered before it, and backs off.
  asio::awaitable<void> Fail(uint64_t alert_id, const std::string& reason);
  // The store's cursor to `delivered`; false (logged) when the write failed.
  bool SaveCursor();
  asio::awaitable<void> Sleep(std::chrono::milliseconds delay);
  // Until a notice of a commit or the poll interval, or kWakeRecheck while rechecks are left.
  asio::awaitable<void> WaitForAlerts();
  // One POST of `alert`; Ok only for a 2xx answer, else the reason (for the log).
  asio::awaitable<Status> Deliver(const store::Alert& alert);
  asio::awaitable<Status> Connect(std::chrono::steady_clock::time_point deadline);
  asio::awaitable<Result<unsigned>> Exchange(const http::request<http::string_body>& request,
                                             std::chrono::steady_clock::time_point deadline);
  std::chrono::milliseconds Backoff(uint32_t failures);
};

asio::awaitable<void> Webhook::Impl::Sleep(std::chrono::milliseconds delay) {
  asio::steady_timer timer(io, delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> Webhook::Impl::WaitForAlerts() {
  if (!woken) {
    const bool quick = rechecks_left > 0;
    if (quick) --rechecks_left;
    wake_timer.expires_after(quick ? std::chrono::milliseconds(kWakeRecheck)
                                   : std::chrono::milliseconds(kWebhookPollInterval));
    boost::system::error_code ec;
    co_await wake_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (woken) rechecks_left = kWakeRechecks;
  woken = false;
}

std::chrono::milliseconds Webhook::Impl::Backoff(uint32_t failures) {
  const uint32_t doublings = std::min(failures > 0 ? failures - 1 : 0, kMaxBackoffDoublings);
  const int64_t cap =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.max_backoff).count();
  const int64_t ceiling = std::min<int64_t>(cap, kWebhookBackoffBase.count() << doublings);
  // Full jitter: receivers that came back are not hit by every node at the same instant.
  std::uniform_int_distribution<int64_t> pick(0, ceiling);
  return std::chrono::milliseconds(pick(rng));
}

asio::awaitable<Status> Webhook::Impl::Connect(std::chrono::steady_clock::time_point deadline) {
  auto fresh = std::make_unique<Connection>();
  if (tls) {
    fresh->tls.emplace(io, *tls);
  } else {
    fresh->plain.emplace(io);
  }
  boost::system::error_code ec;
  // Shared with the guard's handler: one that fired just as the resolve ended runs after this
  // frame has moved on.
  auto resolver = std::make_shared<tcp::resolver>(io);
  asio::steady_timer guard(io, deadline);
  guard.async_wait([resolver](boost::system::error_code e) {
    if (!e) resolver->cancel();
  });
  tcp::resolver::results_type addresses =
      co_await resolver->async_resolve(options.url.host, std::to_string(options.url.port),
                                       asio::redirect_error(asio::use_awaitable, ec));
  guard.cancel();
  if (ec) co_return MakeError(ErrorKind::kIo, "cannot resolve the host: " + ec.message());
  fresh->tcp().expires_at(deadline);
  co_await fresh->tcp().async_connect(addresses, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return MakeError(ErrorKind::kIo, "cannot connect: " + ec.message());
  if (fresh->tls) {
    SSL* native = fresh->tls->native_handle();
    const std::string& host = options.url.host;
    // The name (or address) in the URL is what the receiver's certificate must be for.
    if (IsIpAddress(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), host.c_str());
    } else {
      SSL_set_tlsext_host_name(native, host.c_str());
      SSL_set1_host(native, host.c_str());
    }
    co_await fresh->tls->async_handshake(ssl::stream_base::client,
                                         asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return MakeError(ErrorKind::kIo, "TLS handshake failed: " + ec.message());
  }
  connection = std::move(fresh);
  co_return Ok();
}

asio::awaitable<Result<unsigned>> Webhook::Impl::Exchange(
    const http::request<http::string_body>& request,
    std::chrono::steady_clock::time_point deadline) {
  Connection& c = *connection;
  c.tcp().expires_at(deadline);
  boost::system::error_code ec;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  if (c.tls) {
    co_await http::async_write(*c.tls, request, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      co_await http::async_read(*c.tls, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
    }
  } else {
    co_await http::async_write(*c.plain, request, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      co_await http::async_read(*c.plain, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  if (ec) {
    connection.reset();
    co_return MakeError(ErrorKind::kIo, ec == beast::error::timeout
                                            ? "no answer within alerts.webhook_timeout_ms"
                                            : "the exchange failed: " + ec.message());
  }
  if (!parser.get().keep_alive()) connection.reset();
  co_return parser.get().result_int();
}

asio::awaitable<Status> Webhook::Impl::Deliver(const store::Alert& alert) {
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  http::request<http::string_body> request{http::verb::post, options.url.target, 11};
  request.set(http::field::host, host_header);
  request.set(http::field::user_agent, std::string("duankad/") + node::kVersion);
  request.set(http::field::content_type, "application/json");
  request.set("Idempotency-Key", std::to_string(alert.id));
  request.keep_alive(true);
  request.body() = node::AlertJson(alert);
  request.prepare_payload();

  Result<unsigned> status = MakeError(ErrorKind::kIo, "not sent");
  // A connection kept from an earlier POST may have been closed by the receiver meanwhile: one
  // failure on it is no failure of the receiver, and the POST goes again on a new connection (a
  // receiver that did take it sees the same Idempotency-Key twice).
  if (connection) status = co_await Exchange(request, deadline);
  if (!status) {
    if (Status connected = co_await Connect(deadline); !connected) co_return connected;
    status = co_await Exchange(request, deadline);
  }
  if (!status) co_return std::move(status).error();
  if (*status < 200 || *status > 299) {
    co_return MakeError(ErrorKind::kIo, "the receiver answered HTTP " + std::to_string(*status));
  }
  co_return Ok();
}

bool Webhook::Impl::SaveCursor() {
  if (delivered <= saved) return true;
  if (Status moved = store.SetAlertCursor(node::kWebhookCursor, delivered); !moved) {
    // The alerts stay delivered in memory and the next save tries again; only a crash before it
    // sends them again.
    LogWarn(
        "alert webhook: the cursor was not saved ({}); after a restart up to {} alert(s) are "
        "sent again",
        moved.error().message, delivered - saved);
    return false;
  }
  saved = delivered;
  return true;
}

asio::awaitable<void> Webhook::Impl::Fail(uint64_t alert_id, const std::string& reason) {
  SaveCursor();
  metrics.CountWebhookFailure();
  ++failures;
  const std::chrono::milliseconds delay = Backoff(failures);
  LogWarn(
      "alert webhook {}: alert {} not delivered ({}); {} failure(s) in a row, next try in {} ms",
      options.url.host, alert_id, reason, failures, delay.count());
  co_await Sleep(delay);
}

asio::awaitable<void> Webhook::Impl::Step() {
  if (!have_position) {
    Result<uint64_t> cursor = store.AlertCursor(node::kWebhookCursor);
    if (!cursor) {
      if (!store_failing) {
        LogWarn("alert webhook: cannot read its cursor: {}; trying again every {} s",
                cursor.error().message, kWebhookPollInterval.count());
      }
      store_failing = true;
      co_await Sleep(kWebhookPollInterval);
      co_return;
    }
    delivered = saved = *cursor;
    delivered_through.store(delivered, std::memory_order_relaxed);
    have_position = true;
  }
  Result<std::vector<store::Alert>> page = store.Alerts(delivered, node::kAlertPageSize);
  if (!page) {
    if (!store_failing) {
      LogWarn("alert webhook: cannot read the alert log: {}; trying again every {} s",
              page.error().message, kWebhookPollInterval.count());
    }
    store_failing = true;
    co_await Sleep(kWebhookPollInterval);
    co_return;
  }
  store_failing = false;
  if (page->empty()) {
    // Caught up: the cursor is saved before any wait, so a quiet webhook leaves none unsaved.
    SaveCursor();
    // A notice that showed nothing new is followed by quick second looks.
    co_await WaitForAlerts();
    co_return;
  }
  rechecks_left = 0;
  for (const store::Alert& alert : *page) {
    Status sent = co_await Deliver(alert);
    if (!sent) {
      co_await Fail(alert.id, sent.error().message);
      co_return;
    }
    // Audited before it counts as delivered: an alert whose line cannot be written is sent again
    // (the receiver drops the repeat by its Idempotency-Key) until one can.
    const std::vector<store::Alert> one = {alert};
    if (Status s = audit.Append(
            node::AlertDeliveryAuditJson(now(), kAuditProgram, kAuditUser, "alerts-delivered", one),
            false);
        !s) {
      co_await Fail(alert.id,
                    "answered, but the audit log cannot be written: " + s.error().message);
      co_return;
    }
    if (failures > 0) {
      LogInfo("alert webhook {}: delivering again after {} failure(s)", options.url.host, failures);
    }
    failures = 0;
    delivered = alert.id;
    delivered_through.store(delivered, std::memory_order_relaxed);
    metrics.CountAlertsDelivered(1);
    // One write transaction per alert would contend with sync's ingest for the store's writer.
    if (delivered - saved >= kWebhookCursorEveryAlerts) SaveCursor();
  }
}

asio::awaitable<void> Webhook::Impl::Run() {
  for (;;) {
    bool crashed = false;
    try {
      co_await Step();
    } catch (...) {
      // Not the loop's end: the webhook would then stop for good without a word.
      crashed = true;
    }
    if (crashed) {
      connection.reset();
      metrics.CountWebhookFailure();
      ++failures;
      const std::chrono::milliseconds delay = Backoff(failures);
      LogWarn(
          "alert webhook {}: an unexpected error in the delivery loop; {} failure(s) in a row, "
          "next try in {} ms",
          options.url.host, failures, delay.count());
      co_await Sleep(delay);
    }
  }
}

Webhook::Webhook(store::Store& store, const node::AuditLog& audit, Metrics& metrics,
                 WebhookOptions options, std::shared_ptr<ssl::context> tls,
                 std::function<int64_t()> now)
    : impl_(std::make_unique<Impl>(store, audit, metrics, std::move(options), std::move(tls),
                                   std::move(now))) {}

Webhook::~Webhook() {
  Stop();
}

void Webhook::Start() {
  if (impl_->started.exchange(true)) return;
  Impl* impl = impl_.get();
  asio::co_spawn(impl->io, impl->Run(), [](std::exception_ptr e) {
    // Run() catches what a step throws; this is only what escaped its own handling.
    if (e)
      LogError("alert webhook: the delivery loop ended; no alert is delivered until a restart");
  });
  impl->thread = std::thread([impl] { impl->io.run(); });
}

void Webhook::Wake() {
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl] {
    impl->woken = true;
    impl->wake_timer.cancel();
  });
}

void Webhook::Stop() {
  // The loop is left suspended where it is (its frame goes with the io_context): a POST in hand
  // is cut off, and its alert, not yet acknowledged, stays behind the cursor.
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // The io thread is gone: its position is this thread's now. Saved on the way out, so that a
  // clean stop sends nothing twice.
  if (impl_->started) impl_->SaveCursor();
}

Result<AlertBacklog> Webhook::Backlog() const {
  Result<uint64_t> stored = impl_->store.AlertCursor(node::kWebhookCursor);
  if (!stored) return std::move(stored).error();
  // The store's cursor lags the delivery by up to kWebhookCursorEveryAlerts.
  const uint64_t through = impl_->delivered_through.load(std::memory_order_relaxed);
  const uint64_t cursor = std::max(*stored, through);
  Result<uint64_t> last = impl_->store.LastAlertId();
  if (!last) return std::move(last).error();
  AlertBacklog backlog;
  if (*last <= cursor) return backlog;
  backlog.pending = *last - cursor;
  Result<std::vector<store::Alert>> first = impl_->store.Alerts(cursor, 1);
  if (!first) return std::move(first).error();
  if (!first->empty()) {
    backlog.oldest_pending_age_seconds = std::max<int64_t>(0, impl_->now() - first->front().at);
  }
  return backlog;
}

}  // namespace duanka::daemon
