// ApiServer: the listening socket. Accepts connections on a strand of its own, gives each one a
// strand and an HttpSession, and refuses connections beyond max_connections.
#include "node/daemon/http_api.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "node/common/host_port.h"
#include "node/daemon/http_router.h"
#include "node/daemon/http_session.h"

namespace duanka::daemon {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// When accept itself fails (out of file descriptors, most likely: EMFILE, ENFILE), retrying at
// once would spin on the same error while the connection waits in the backlog. Wait instead,
// from the first delay doubling to the longest, and log once per episode, not per attempt.
constexpr std::chrono::milliseconds kAcceptBackoffFirst{100};
constexpr std::chrono::milliseconds kAcceptBackoffMax{1000};

constexpr std::string_view kListenExpected =
    "api listen: expected HOST:PORT with an IP address, e.g. 127.0.0.1:7480 or [::1]:7480";

Result<tcp::endpoint> ParseListen(std::string_view listen) {
  Result<node::HostPort> hp = node::ParseHostPort(listen, node::PortZero::kAllowed);
  if (!hp) return MakeError(ErrorKind::kInvalidInput, std::string(kListenExpected));
  const std::string host = hp->host == "localhost" ? "127.0.0.1" : hp->host;
  beast::error_code address_ec;
  net::ip::address address = net::ip::make_address(host, address_ec);
  if (address_ec) return MakeError(ErrorKind::kInvalidInput, std::string(kListenExpected));
  return tcp::endpoint(address, hp->port);
}

// Sent, best effort, to a connection beyond max_connections before closing it, so the client
// learns why. Written without blocking: a fresh socket's send buffer always takes it.
const std::string& TooManyConnections() {
  static const std::string text = [] {
    std::string body = ErrorReply(503, "too many connections").body;
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }();
  return text;
}

void Refuse(SessionSocket& socket) {
  beast::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(net::buffer(TooManyConnections()), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace

struct ApiServer::Impl : std::enable_shared_from_this<ApiServer::Impl> {
  Impl(net::io_context& io, ApiOptions o, ApiBackend backend)
      : io(io),
        options(std::move(o)),
        backend_ok(backend.lookuper != nullptr && backend.audit != nullptr),
        log(backend.log),
        router(backend_ok ? std::make_shared<ApiRouter>(options, std::move(backend)) : nullptr),
        tls(options.tls),
        strand(net::make_strand(io)),
        acceptor(strand),
        retry(strand),
        tracker(std::make_shared<SessionTracker>()) {}

  void Accept() {
    acceptor.async_accept(net::make_strand(io),
                          beast::bind_front_handler(&Impl::OnAccept, shared_from_this()));
  }

  void OnAccept(beast::error_code ec, SessionSocket socket) {
    if (stopped || !acceptor.is_open()) return;
    // A client that gave up while in the backlog is no reason to wait.
    if (ec == net::error::connection_aborted) return Accept();
    if (ec) return BackOff(ec);
    if (failed_accepts > 0) {
      Log("API: accepting connections again after " + std::to_string(failed_accepts) +
          " failed attempt(s)");
      failed_accepts = 0;
      backoff = kAcceptBackoffFirst;
    }
    // Only this strand adds sessions, so the count cannot grow between the check and the add.
    if (tracker->size() >= options.max_connections) {
      Refuse(socket);
    } else {
      SessionLimits limits{options.max_body_bytes,
                           std::chrono::milliseconds(options.request_timeout_ms),
                           std::chrono::milliseconds(options.idle_timeout_ms)};
      if (tls) {
        std::make_shared<HttpSession<TlsSessionStream>>(TlsSessionStream(std::move(socket), *tls),
                                                        limits, router, tracker)
            ->Start();
      } else {
        std::make_shared<HttpSession<SessionStream>>(SessionStream(std::move(socket)), limits,
                                                     router, tracker)
            ->Start();
      }
    }
    Accept();
  }

  void BackOff(const beast::error_code& ec) {
    if (failed_accepts++ == 0) {
      Log("API: cannot accept a connection: " + ec.message() + "; retrying every " +
          std::to_string(kAcceptBackoffFirst.count()) + " to " +
          std::to_string(kAcceptBackoffMax.count()) +
          " ms (connections already open are still served)");
    }
    retry.expires_after(backoff);
    backoff = std::min(backoff * 2, kAcceptBackoffMax);
    retry.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && !self->stopped) self->Accept();
    });
  }

  void Log(const std::string& line) const {
    if (log) log(line);
  }

  net::io_context& io;
  ApiOptions options;
  bool backend_ok;
  std::function<void(const std::string&)> log;
  std::shared_ptr<ApiRouter> router;
  std::shared_ptr<net::ssl::context> tls;
  net::strand<net::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  net::steady_timer retry;
  std::shared_ptr<SessionTracker> tracker;
  std::atomic<uint16_t> port{0};
  bool stopped = false;  // on the strand
  // The current episode of failing accepts (on the strand): attempts so far, next delay.
  uint64_t failed_accepts = 0;
  std::chrono::milliseconds backoff = kAcceptBackoffFirst;
};

ApiServer::ApiServer(net::io_context& io, ApiOptions options, ApiBackend backend)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(backend))) {}

ApiServer::~ApiServer() {
  Stop();
}

Status ApiServer::Start() {
  if (!impl_->backend_ok) {
    return MakeError(ErrorKind::kInternal, "the API needs a lookuper and an audit log");
  }
  Result<tcp::endpoint> endpoint = ParseListen(impl_->options.listen);
  if (!endpoint) return std::move(endpoint).error();
  beast::error_code ec;
  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(endpoint->protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;  // the reason to report is ec, not how closing went
    acceptor.close(ignored);
    return MakeError(ErrorKind::kIo,
                     "cannot listen on " + impl_->options.listen + " for the API: " + ec.message());
  }
  impl_->port = acceptor.local_endpoint(ec).port();
  net::post(impl_->strand, beast::bind_front_handler(&Impl::Accept, impl_));
  return Ok();
}

void ApiServer::Stop() {
  net::post(impl_->strand, [impl = impl_] {
    if (impl->stopped) return;
    impl->stopped = true;
    beast::error_code ec;
    impl->acceptor.close(ec);
    impl->retry.cancel();
    impl->tracker->StopAll();
  });
}

uint16_t ApiServer::port() const {
  return impl_->port;
}

void ApiServer::SetClients(const ApiClients& clients) {
  if (impl_->router) impl_->router->SetClients(clients);
}

}  // namespace duanka::daemon
