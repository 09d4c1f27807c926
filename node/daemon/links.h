// Where connections come from: the listener accepts peers on `listen`; a dialer per configured
// peer keeps one outbound connection up, reconnecting with exponential backoff and jitter.
//
// The listener faces strangers: a connection is nobody's until its TLS handshake has verified a
// member's certificate. Connections in handshake therefore have their own, smaller budget, with a
// per-source-address share, and count against the inbound budget only once established, so that
// strangers can delay a member's handshake but never take an established or outbound link's place.
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
#include <string_view>

#include "node/daemon/connection.h"
#include "node/daemon/metrics.h"

namespace duanka::daemon {

struct LinkContext {
  asio::io_context& io;
  asio::ssl::context& tls;
  const crypto::TrustStore& trust;
  ConnectionOptions options;
  ConnectionHandler& handler;
  Metrics& metrics;
};

// The listener's budgets: InboundBudgetsFrom (daemon_options.h) takes them from [limits], fitted
// to the descriptor limit.
struct InboundBudgets {
  // Inbound links whose handshake finished (limits.max_inbound_connections).
  uint32_t max_established = 0;
  // Accepted connections still in the TLS handshake (limits.max_handshaking_connections). When
  // it is full, a newcomer from a source address holding fewer handshakes than the busiest source
  // takes the place of that source's oldest handshake; otherwise the newcomer is closed at once.
  uint32_t max_handshaking = 0;
  // Handshakes in progress from one source address (limits.handshakes_per_address); a newcomer
  // beyond it is closed at once.
  uint32_t handshakes_per_address = 0;
};

class Listener {
 public:
  Listener(LinkContext context, InboundBudgets budgets);
  ~Listener();
  // Binds `listen` (HOST:PORT). kInvalidInput for a bad address, kIo if it cannot bind.
  Status Start(const std::string& listen);
  void Stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// min and max from [limits] (BackoffOptionsFrom, daemon_options.h).
struct BackoffOptions {
  std::chrono::milliseconds min{};
  std::chrono::milliseconds max{};
  // A connection that lasted this long was healthy: the next failure starts from `min` again.
  std::chrono::milliseconds healthy_after{10000};
};

// What a dialer is doing, for /v1/status: read from any thread.
struct DialerStatus {
  enum class State {
    kConnecting,  // resolving, connecting or in the TLS handshake
    kConnected,   // the TLS handshake is done; the sync layer has the connection
    kWaiting,     // the last attempt ended; the next one starts at retry_at
    kInvalid,     // the entry cannot be dialled (never retried)
  };
  std::string institution;  // the entry's CODE
  std::string address;      // the entry's HOST:PORT
  State state = State::kConnecting;
  int64_t retry_at = 0;    // wall-clock seconds; kWaiting only
  std::string last_error;  // why the last attempt ended ("" before any ended)
};
std::string_view DialerStateName(DialerStatus::State state);

class Dialer {
 public:
  // `peer` is a `network.peers` entry, CODE@HOST:PORT (node::ParsePeerEntry): a connection whose
  // verified certificate names another institution is closed before any frame is read or sent,
  // counted as refused, logged with both codes, and retried with backoff like any failure.
  Dialer(LinkContext context, std::string peer, BackoffOptions backoff);
  ~Dialer();
  void Start();
  void Stop();
  DialerStatus status() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace duanka::daemon
