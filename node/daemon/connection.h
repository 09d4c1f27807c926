// The network layer: one TLS 1.3 connection to a peer node. It knows bytes, frames and peers,
// never records: finished frames go to a ConnectionHandler (the sync layer), which gives them
// meaning. Nothing from the peer is read as a frame before its certificate has been verified.
//
// Threads: all of a connection's I/O runs on its own strand; Send() and Close() may be called
// from any thread.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crypto/pki.h"
#include "protocol/frame.h"

namespace duanka::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;

// Frames of one peer that may wait for the handler at once, however small: the handler serves
// peers in turn on one strand, so a flood of tiny frames would otherwise queue ahead of every
// other peer's. An honest peer has a few wants, answers and announces in flight.
inline constexpr size_t kMaxUnprocessedFrames = 256;

// Built by ConnectionOptionsFrom (daemon_options.h) from [limits], where the defaults are.
struct ConnectionOptions {
  size_t max_frame_bytes = 0;
  std::chrono::milliseconds handshake_timeout{};
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds shutdown_timeout{};
  size_t max_send_queue_bytes = 0;
  // Bytes of received frames the handler has not yet reported handled (FrameHandled): beyond
  // this the connection stops reading the peer until it catches up, so a peer that sends faster
  // than this node processes holds bounded memory. Reading stops too while more than this waits
  // to be sent to the peer: one that asks without reading the answers gets nothing more read.
  size_t max_unprocessed_bytes = 0;
};

class Connection;

// Implemented by the sync layer. Called on the connection's strand.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // The handshake is done and the peer's certificate verified. To refuse the peer (too many
  // connections, penalised), call c->Close(reason). Frames may follow at once.
  virtual void OnOpen(const std::shared_ptr<Connection>& c) = 0;
  virtual void OnFrame(const std::shared_ptr<Connection>& c, std::string payload) = 0;
  // Called exactly once for every connection that was opened.
  virtual void OnClose(const std::shared_ptr<Connection>& c, const std::string& reason) = 0;
};

// Why a connection failed before it opened, for penalties and logs.
struct HandshakeFailure {
  std::string address;
  std::string reason;
  bool peer_misbehaved;  // garbage or an untrusted certificate, not a timeout or reset
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Side { kClient, kServer };

  // REQUIRES: socket was made on a strand (asio::make_strand), which all its I/O then runs on.
  Connection(tcp::socket socket, asio::ssl::context& tls, const crypto::TrustStore& trust,
             ConnectionOptions options, Side side, ConnectionHandler& handler);

  // Runs the TLS handshake (within handshake_timeout), verifies the peer's certificate, then
  // reads frames until the peer leaves, misbehaves, goes idle or Close() is called.
  // on_failure is called (instead of the handler) when the connection never opened.
  void Start(std::function<void(const HandshakeFailure&)> on_failure);

  // Called once when the connection ends, opened or not (after OnClose): dialers reconnect and
  // the listener counts inbound connections with it. Set before Start().
  void SetOnTerminated(std::function<void()> f) { on_terminated_ = std::move(f); }

  // Called on the strand once the peer's certificate is verified, before the handler hears of the
  // connection: a reason to refuse this peer (the connection then ends as a failed handshake,
  // before any frame is read or sent), or nullopt to open it. Set before Start().
  using Admission = std::function<std::optional<std::string>(const crypto::CertificateInfo&)>;
  void SetAdmission(Admission f) { admission_ = std::move(f); }

  // Queues one frame with this payload. A peer that lets more than max_send_queue_bytes pile up
  // is too slow to keep: the connection closes rather than letting it hold memory or others up.
  void Send(std::string payload);

  // Bytes of frames queued for the peer and not yet written (any thread; a moment behind).
  size_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }

  // The handler is done with a frame of this many payload bytes (any thread): reading resumes
  // when the frames still waiting fall within max_unprocessed_bytes.
  void FrameHandled(size_t bytes);

  // Closes politely: queued frames are flushed, then TLS close_notify, all within
  // shutdown_timeout of the first call, an absolute deadline that nothing the peer sends moves;
  // a peer that has not finished by then is cut off. Idempotent.
  void Close(std::string reason);

  const std::string& institution() const { return peer_.institution; }
  const crypto::CertificateInfo& peer() const { return peer_; }
  const std::string& address() const { return address_; }
  Side side() const { return side_; }
  // Whether the connection ended because the peer sent bytes that are not frames (garbage, an
  // oversize or zero length): the sync layer penalises that like any invalid data. Read it on
  // the connection's strand, e.g. in OnClose.
  bool peer_misbehaved() const { return peer_misbehaved_; }
  std::chrono::steady_clock::time_point opened_at() const { return opened_at_; }
  // Why the connection ended, once it has: read on its strand or after on_terminated ran.
  const std::string& end_reason() const { return end_reason_; }

 private:
  // Takes `self` as a parameter, not from shared_from_this() in its body: the coroutine's frame
  // then owns the connection from the moment Start() spawns it, although its body runs later on
  // the strand (the listener drops its own reference as soon as Start() returns).
  asio::awaitable<void> Run(std::shared_ptr<Connection> self,
                            std::function<void(const HandshakeFailure&)> on_failure);
  asio::awaitable<void> ReadFrames();
  asio::awaitable<void> WriteLoop();
  asio::awaitable<void> Watchdog();
  asio::awaitable<void> Shutdown();
  void Terminate(const std::string& reason);

  asio::any_io_executor strand_;  // the socket's executor: a strand made by the listener/dialer
  TlsStream stream_;
  const crypto::TrustStore& trust_;
  ConnectionOptions options_;
  Side side_;
  ConnectionHandler& handler_;
  std::string address_;
  crypto::CertificateInfo peer_;
  std::chrono::steady_clock::time_point opened_at_{};

  // Everything below is touched on the strand only.
  protocol::FrameDecoder decoder_;
  std::deque<std::string> send_queue_;  // encoded frames
  size_t send_queue_bytes_ = 0;
  asio::steady_timer send_signal_;  // wakes the write loop
  asio::steady_timer read_resume_;  // wakes the read loop paused for backpressure
  size_t unprocessed_bytes_ = 0;
  size_t unprocessed_frames_ = 0;
  std::atomic<size_t> queued_bytes_{0};  // send_queue_bytes_, readable from other threads
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point deadline_;
  bool opened_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool peer_misbehaved_ = false;
  std::string close_reason_;
  std::string end_reason_;
  std::function<void()> on_terminated_;
  Admission admission_;
};

}  // namespace duanka::daemon
