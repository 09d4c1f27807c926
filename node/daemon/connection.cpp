#include "node/daemon/connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "node/common/audit.h"

namespace duanka::daemon {
namespace {

using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// Bytes read from the socket at a time; frames larger than this arrive over several reads.
constexpr size_t kReadChunkBytes = 64 * 1024;

std::string Describe(const error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return "peer closed";
  if (ec == asio::error::connection_reset) return "connection reset";
  if (ec == asio::error::operation_aborted) return "cancelled";
  std::string msg = ec.message();
  for (char& c : msg) {
    if (c == '\n') c = ' ';
  }
  return msg;
}

}  // namespace

Connection::Connection(tcp::socket socket, asio::ssl::context& tls, const crypto::TrustStore& trust,
                       ConnectionOptions options, Side side, ConnectionHandler& handler)
    : strand_(socket.get_executor()),
      stream_(std::move(socket), tls),
      trust_(trust),
      options_(options),
      side_(side),
      handler_(handler),
      decoder_(options.max_frame_bytes),
      send_signal_(strand_),
      read_resume_(strand_),
      watchdog_(strand_) {
  error_code ec;
  tcp::endpoint remote = stream_.next_layer().remote_endpoint(ec);
  address_ = ec ? "unknown" : remote.address().to_string() + ":" + std::to_string(remote.port());
}

void Connection::Start(std::function<void(const HandshakeFailure&)> on_failure) {
  asio::co_spawn(strand_, Run(shared_from_this(), std::move(on_failure)), asio::detached);
}

asio::awaitable<void> Connection::Run(std::shared_ptr<Connection> self,
                                      std::function<void(const HandshakeFailure&)> on_failure) {
  deadline_ = Clock::now() + options_.handshake_timeout;
  asio::co_spawn(strand_, Watchdog(), asio::detached);
  error_code ec;
  co_await stream_.async_handshake(
      side_ == Side::kClient ? asio::ssl::stream_base::client : asio::ssl::stream_base::server,
      asio::redirect_error(asio::use_awaitable, ec));
  if (ec || closed_) {
    // Cut short by the watchdog, or by Close() (the listener dropping it for a newcomer).
    bool cut_short = closed_;
    // TLS-level refusals (no certificate, unknown CA, not TLS at all) are the peer's doing;
    // timeouts and resets may be the network's.
    bool misbehaved = !cut_short && ec.category() == asio::error::get_ssl_category();
    on_failure({address_,
                !cut_short              ? "TLS handshake failed: " + Describe(ec)
                : close_reason_.empty() ? std::string("handshake timed out")
                                        : close_reason_,
                misbehaved});
    Terminate("handshake failed");
    co_return;
  }
  Result<crypto::CertificateInfo> peer =
      crypto::VerifiedPeer(stream_.native_handle(), trust_, node::SystemNow());
  if (!peer) {
    on_failure({address_, "peer certificate refused: " + peer.error().message, true});
    Terminate("peer certificate refused");
    co_return;
  }
  if (admission_) {
    // Before the handler or the peer hears anything: a refused peer never gets a frame in.
    if (std::optional<std::string> refused = admission_(*peer)) {
      on_failure({address_, *refused, false});
      Terminate(*refused);
      co_return;
    }
  }
  peer_ = std::move(*peer);
  opened_ = true;
  opened_at_ = Clock::now();
  deadline_ = Clock::now() + options_.idle_timeout;
  handler_.OnOpen(self);
  asio::co_spawn(strand_, WriteLoop(), asio::detached);
  co_await ReadFrames();
}

asio::awaitable<void> Connection::ReadFrames() {
  auto self = shared_from_this();
  std::string chunk(kReadChunkBytes, '\0');
  std::string frame;
  while (!closed_) {
    error_code ec;
    size_t n = co_await stream_.async_read_some(asio::buffer(chunk),
                                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // A polite close cancels the read on purpose; the write loop finishes the job.
      if (!(closing_ && ec == asio::error::operation_aborted)) Terminate(Describe(ec));
      co_return;
    }
    // Once closing, the close deadline is absolute: bytes from the peer must not move it, or a
    // peer that keeps sending (and never reads) would hold the connection for ever.
    if (!closing_) deadline_ = Clock::now() + options_.idle_timeout;
    decoder_.Feed(std::span<const char>(chunk.data(), n));
    for (;;) {
      protocol::FrameDecoder::State state = decoder_.Next(frame);
      if (state == protocol::FrameDecoder::State::kNeedMore) break;
      if (state == protocol::FrameDecoder::State::kError) {
        peer_misbehaved_ = true;
        Terminate("invalid frame: " + decoder_.error());
        co_return;
      }
      if (closing_) continue;  // draining: frames after Close() are dropped
      unprocessed_bytes_ += frame.size();
      ++unprocessed_frames_;
      handler_.OnFrame(self, std::move(frame));
      if (closed_) co_return;
    }
    // Backpressure: read no more until the handler has caught up, or the peer has read what it
    // asked for. While this node is the slow one the idle deadline waits too; a peer that does
    // not read its answers keeps its deadline and is cut off at it.
    for (;;) {
      const bool handler_behind = unprocessed_bytes_ > options_.max_unprocessed_bytes ||
                                  unprocessed_frames_ >= kMaxUnprocessedFrames;
      const bool peer_behind = send_queue_bytes_ > options_.max_unprocessed_bytes;
      if ((!handler_behind && !peer_behind) || closed_ || closing_) break;
      if (handler_behind) deadline_ = Clock::time_point::max();
      read_resume_.expires_at(Clock::time_point::max());
      error_code ignored;
      co_await read_resume_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      if (handler_behind && !closing_) {
        deadline_ = Clock::now() + options_.idle_timeout;
        watchdog_.cancel();  // re-arm at the new deadline
      }
    }
  }
}

asio::awaitable<void> Connection::WriteLoop() {
  auto self = shared_from_this();
  while (!closed_) {
    if (send_queue_.empty()) {
      if (closing_) break;
      send_signal_.expires_at(Clock::time_point::max());
      error_code ignored;
      co_await send_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      continue;
    }
    error_code ec;
    co_await asio::async_write(stream_, asio::buffer(send_queue_.front()),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      Terminate(Describe(ec));
      co_return;
    }
    send_queue_bytes_ -= send_queue_.front().size();
    queued_bytes_.store(send_queue_bytes_, std::memory_order_relaxed);
    send_queue_.pop_front();
    if (send_queue_bytes_ <= options_.max_unprocessed_bytes) read_resume_.cancel();
  }
  if (!closed_) co_await Shutdown();
}

asio::awaitable<void> Connection::Shutdown() {
  auto self = shared_from_this();
  // The deadline set by Close() stands: flushing the queue already took part of it.
  error_code ec;
  stream_.next_layer().cancel(ec);  // stop the pending read so close_notify can be exchanged
  // async_shutdown waits for the peer's close_notify forever; the watchdog cuts it short.
  co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  Terminate(close_reason_);
}

asio::awaitable<void> Connection::Watchdog() {
  auto self = shared_from_this();
  while (!closed_) {
    watchdog_.expires_at(deadline_);
    error_code ec;
    co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (closed_) co_return;
    if (Clock::now() >= deadline_) {
      Terminate(!opened_   ? "handshake timed out"
                : closing_ ? close_reason_ + " (peer did not finish the TLS close in time)"
                           : "idle: nothing received within the idle timeout");
      co_return;
    }
  }
}

void Connection::Send(std::string payload) {
  asio::post(strand_, [self = shared_from_this(), payload = std::move(payload)]() mutable {
    if (self->closed_ || self->closing_ || !self->opened_) return;
    std::string frame = protocol::EncodeFrame(payload);
    self->send_queue_bytes_ += frame.size();
    self->queued_bytes_.store(self->send_queue_bytes_, std::memory_order_relaxed);
    if (self->send_queue_bytes_ > self->options_.max_send_queue_bytes) {
      self->Terminate("peer too slow: send queue over the limit");
      return;
    }
    self->send_queue_.push_back(std::move(frame));
    self->send_signal_.cancel();
  });
}

void Connection::FrameHandled(size_t bytes) {
  asio::post(strand_, [self = shared_from_this(), bytes] {
    self->unprocessed_bytes_ -= std::min(bytes, self->unprocessed_bytes_);
    if (self->unprocessed_frames_ > 0) --self->unprocessed_frames_;
    if (self->unprocessed_bytes_ <= self->options_.max_unprocessed_bytes &&
        self->unprocessed_frames_ < kMaxUnprocessedFrames) {
      self->read_resume_.cancel();
    }
  });
}

void Connection::Close(std::string reason) {
  asio::post(strand_, [self = shared_from_this(), reason = std::move(reason)]() mutable {
    if (self->closed_ || self->closing_) return;
    if (!self->opened_) {
      self->close_reason_ = reason;  // what the handshake's on_failure reports
      self->Terminate(reason);
      return;
    }
    self->closing_ = true;
    self->close_reason_ = std::move(reason);
    self->deadline_ = Clock::now() + self->options_.shutdown_timeout;
    self->watchdog_.cancel();
    self->send_signal_.cancel();
    self->read_resume_.cancel();
  });
}

void Connection::Terminate(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  end_reason_ = reason;
  error_code ignored;
  stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.next_layer().close(ignored);
  watchdog_.cancel();
  send_signal_.cancel();
  read_resume_.cancel();
  // The queue is not cleared here: the write loop may have an async_write in flight on its
  // front frame, which would then write from freed memory and pop an empty deque. The frames go
  // with the connection, once its coroutines have seen closed_ and let go of it.
  if (opened_) handler_.OnClose(shared_from_this(), reason);
  if (on_terminated_) std::exchange(on_terminated_, nullptr)();
}

}  // namespace duanka::daemon
