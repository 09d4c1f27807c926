// Where connections come from: the listener accepts peers on `listen`; a dialer per configured
// peer address keeps one outbound connection up, reconnecting with exponential backoff and jitter.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "node/daemon/connection.h"
#include "node/daemon/metrics.h"

namespace duanka::daemon {

// "HOST:PORT" (IPv6 in brackets) → host and port; kInvalidInput naming what is expected.
Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& text);

struct LinkContext {
  asio::io_context& io;
  asio::ssl::context& tls;
  const crypto::TrustStore& trust;
  ConnectionOptions options;
  ConnectionHandler& handler;
  Metrics& metrics;
};

class Listener {
 public:
  Listener(LinkContext context, uint32_t max_inbound);
  ~Listener();
  // Binds `listen` (HOST:PORT). kInvalidInput for a bad address, kIo if it cannot bind.
  Status Start(const std::string& listen);
  void Stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct BackoffOptions {
  std::chrono::milliseconds min{250};
  std::chrono::milliseconds max{60000};
  // A connection that lasted this long was healthy: the next failure starts from `min` again.
  std::chrono::milliseconds healthy_after{10000};
};

class Dialer {
 public:
  Dialer(LinkContext context, std::string address, BackoffOptions backoff);
  ~Dialer();
  void Start();
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace duanka::daemon
