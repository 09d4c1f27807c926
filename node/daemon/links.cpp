#include "node/daemon/links.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <random>

#include "node/daemon/log.h"

namespace duanka::daemon {

using boost::system::error_code;

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& text) {
  auto bad = [&] {
    return MakeError(ErrorKind::kInvalidInput,
                     "\"" + text + "\" is not HOST:PORT (e.g. 10.0.0.2:7400 or [::1]:7400)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad();
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const char* begin = text.data() + colon + 1;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || ptr != end || port == 0 || port > 65535 || host.empty()) return bad();
  return std::make_pair(host, static_cast<uint16_t>(port));
}

// ---- Listener ----------------------------------------------------------------------------------

struct Listener::Impl : std::enable_shared_from_this<Listener::Impl> {
  Impl(LinkContext c, uint32_t max) : ctx(c), max_inbound(max), acceptor(c.io) {}
  LinkContext ctx;
  uint32_t max_inbound;
  tcp::acceptor acceptor;
  std::atomic<uint32_t> inbound{0};
  std::atomic<bool> stopped{false};

  asio::awaitable<void> AcceptLoop() {
    auto self = shared_from_this();
    while (!stopped) {
      error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(
          asio::make_strand(ctx.io), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        LogWarn("accept failed: {}", ec.message());
        continue;
      }
      if (inbound >= max_inbound) {
        ctx.metrics.CountPeerRefused();
        socket.close(ec);
        continue;
      }
      ++inbound;
      auto conn = std::make_shared<Connection>(std::move(socket), ctx.tls, ctx.trust, ctx.options,
                                               Connection::Side::kServer, ctx.handler);
      conn->SetOnTerminated([self] { --self->inbound; });
      conn->Start([self](const HandshakeFailure& f) {
        self->ctx.metrics.CountPeerRefused();
        LogWarn("inbound connection from {} refused: {}", f.address, f.reason);
      });
    }
  }
};

Listener::Listener(LinkContext context, uint32_t max_inbound)
    : impl_(std::make_shared<Impl>(context, max_inbound)) {}
Listener::~Listener() {
  Stop();
}

Status Listener::Start(const std::string& listen) {
  Result<std::pair<std::string, uint16_t>> hp = SplitHostPort(listen);
  if (!hp) return std::move(hp).error();
  error_code ec;
  asio::ip::address address = asio::ip::make_address(hp->first, ec);
  if (ec) {
    return MakeError(ErrorKind::kInvalidInput,
                     "listen address \"" + hp->first + "\" is not an IP address");
  }
  tcp::endpoint endpoint(address, hp->second);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError(ErrorKind::kIo, "cannot listen on " + listen + ": " + ec.message());
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->AcceptLoop(), asio::detached);
  return Ok();
}

void Listener::Stop() {
  impl_->stopped = true;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    error_code ec;
    impl->acceptor.close(ec);
  });
}

uint16_t Listener::port() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

// ---- Dialer ------------------------------------------------------------------------------------

struct Dialer::Impl : std::enable_shared_from_this<Dialer::Impl> {
  Impl(LinkContext c, std::string a, BackoffOptions b)
      : ctx(c), address(std::move(a)), backoff(b), strand(asio::make_strand(c.io)), timer(strand) {}
  LinkContext ctx;
  std::string address;
  BackoffOptions backoff;
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;
  std::atomic<bool> stopped{false};
  std::shared_ptr<Connection> current;
  std::mt19937_64 rng{std::random_device{}()};

  // Waits `d` (or until Stop()).
  asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
    timer.expires_after(d);
    error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<void> Loop() {
    auto self = shared_from_this();
    Result<std::pair<std::string, uint16_t>> hp = SplitHostPort(address);
    if (!hp) {
      LogError("peer {}: {}", address, hp.error().message);
      co_return;
    }
    std::chrono::milliseconds delay = backoff.min;
    while (!stopped) {
      auto started = std::chrono::steady_clock::now();
      co_await DialOnce(hp->first, hp->second);
      if (stopped) break;
      bool healthy = std::chrono::steady_clock::now() - started > backoff.healthy_after;
      delay = healthy ? backoff.min : std::min(backoff.max, delay * 2);
      // Jitter keeps a restarted consortium from reconnecting in lockstep.
      std::uniform_real_distribution<double> jitter(0.75, 1.25);
      co_await Sleep(std::chrono::milliseconds(
          static_cast<int64_t>(static_cast<double>(delay.count()) * jitter(rng))));
    }
  }

  // One connection, from resolving to its end.
  asio::awaitable<void> DialOnce(const std::string& host, uint16_t port) {
    auto self = shared_from_this();
    error_code ec;
    tcp::resolver resolver(strand);
    auto endpoints = co_await resolver.async_resolve(host, std::to_string(port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      LogWarn("peer {}: cannot resolve: {}", address, ec.message());
      co_return;
    }
    tcp::socket socket(asio::make_strand(ctx.io));
    // The connect gets the handshake's deadline: a black-holed address must not stall the loop.
    asio::steady_timer deadline(strand);
    deadline.expires_after(ctx.options.handshake_timeout);
    deadline.async_wait([&socket](error_code e) {
      if (!e) socket.close(e);
    });
    co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    deadline.cancel();
    if (ec || !socket.is_open()) {
      LogInfo("peer {}: cannot connect: {}", address, ec ? ec.message() : "timed out");
      co_return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto conn = std::make_shared<Connection>(std::move(socket), ctx.tls, ctx.trust, ctx.options,
                                             Connection::Side::kClient, ctx.handler);
    // Wake this loop when the connection ends.
    asio::steady_timer ended(strand, std::chrono::steady_clock::time_point::max());
    conn->SetOnTerminated(
        [this, self, &ended] { asio::post(strand, [&ended] { ended.cancel(); }); });
    current = conn;
    conn->Start([this, self](const HandshakeFailure& f) {
      ctx.metrics.CountPeerRefused();
      LogWarn("peer {}: {}", address, f.reason);
    });
    co_await ended.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    current.reset();
  }
};

Dialer::Dialer(LinkContext context, std::string address, BackoffOptions backoff)
    : impl_(std::make_shared<Impl>(context, std::move(address), backoff)) {}
Dialer::~Dialer() {
  Stop();
}

void Dialer::Start() {
  asio::co_spawn(impl_->strand, impl_->Loop(), asio::detached);
}

void Dialer::Stop() {
  impl_->stopped = true;
  asio::post(impl_->strand, [impl = impl_] { impl->timer.cancel(); });
}

}  // namespace duanka::daemon
