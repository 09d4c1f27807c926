#include "node/daemon/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "node/daemon/api_tls.h"
#include "node/daemon/http_types.h"

namespace duanka::daemon {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Our requests carry a handful of short headers; 8 KiB (Beast's default, stated here) bounds the
// memory a client can make us hold before the body limit applies.
constexpr uint32_t kMaxHeaderBytes = 8 * 1024;
// Read size while waiting for a request's first bytes: one lookup request is ~200 bytes.
constexpr size_t kReadChunkBytes = 4096;
// After an error reply that ends the connection (413, 400), the client may still be sending.
// Closing with unread bytes makes the kernel send a reset, which can destroy the reply before the
// client reads it; so reading is shut down gracefully: discard what arrives, for a bounded time
// and amount, until the client closes.
constexpr std::chrono::milliseconds kLingerTimeout{1000};
constexpr size_t kMaxLingerBytes = 4 << 20;
// TLS: how long the close_notify exchange may take before the socket is simply closed (Asio's
// shutdown would otherwise wait for a silent client forever).
constexpr std::chrono::milliseconds kTlsCloseTimeout{1000};

// The interim reply to "Expect: 100-continue".
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view View(beast::string_view s) {
  return std::string_view(s.data(), s.size());
}

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_method).category();
}

}  // namespace

// ---- SessionTracker ----

void SessionTracker::Add(const std::shared_ptr<SessionBase>& session) {
  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.emplace(session.get(), session);
}

void SessionTracker::Remove(const SessionBase* session) {
  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.erase(session);
}

size_t SessionTracker::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sessions_.size();
}

void SessionTracker::StopAll() {
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [key, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  // Outside the lock: a session's last reference may be dropped here, and its destructor locks.
  for (auto& s : live) s->Stop();
}

// ---- HttpSession ----

template <class Stream>
HttpSession<Stream>::HttpSession(Stream stream, SessionLimits limits,
                                 std::shared_ptr<const RequestHandler> handler,
                                 std::shared_ptr<SessionTracker> tracker)
    : stream_(std::move(stream)),
      limits_(limits),
      handler_(std::move(handler)),
      tracker_(std::move(tracker)) {
  beast::error_code ec;
  tcp::endpoint remote = Tcp().socket().remote_endpoint(ec);
  client_ = ec ? "unknown" : remote.address().to_string();
  // Replies are written whole; waiting to coalesce them would only add latency.
  Tcp().socket().set_option(tcp::no_delay(true), ec);
}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  tracker_->Remove(this);
}

template <class Stream>
SessionStream& HttpSession<Stream>::Tcp() {
  return beast::get_lowest_layer(stream_);
}

template <class Stream>
void HttpSession<Stream>::Start() {
  tracker_->Add(this->shared_from_this());
  if constexpr (kTls) {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      // The handshake is part of the first request: a client that stalls in it is dropped.
      self->Tcp().expires_after(self->limits_.request_timeout);
      self->stream_.async_handshake(boost::asio::ssl::stream_base::server,
                                    beast::bind_front_handler(&HttpSession::OnHandshake, self));
    });
  } else {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::WaitForRequest,
                                                                    this->shared_from_this()));
  }
}

template <class Stream>
void HttpSession<Stream>::OnHandshake(beast::error_code ec) {
  // A failed handshake (no common version or cipher, a client certificate that does not verify,
  // a timeout) has no HTTP answer: TLS has already told the client.
  if (ec) {
    closing_ = true;
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
    return;
  }
  if constexpr (kTls) certificate_name_ = ClientCertificateName(stream_.native_handle());
  WaitForRequest();
}

template <class Stream>
void HttpSession<Stream>::Stop() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->stopping_ = true;
    if (self->idle_) self->Tcp().cancel();  // the pending read ends with operation_aborted
  });
}

template <class Stream>
void HttpSession<Stream>::WaitForRequest() {
  if (stopping_) return Close();
  parser_.emplace();
  parser_->body_limit(limits_.max_body_bytes);
  parser_->header_limit(kMaxHeaderBytes);
  if (buffer_.size() > 0) {  // a pipelined request is already here
    Tcp().expires_after(limits_.request_timeout);
    return ReadRequest();
  }
  idle_ = true;
  // Over TLS the first request's deadline already runs from the handshake's start.
  if (!(kTls && first_request_)) {
    Tcp().expires_after(first_request_ ? limits_.request_timeout : limits_.idle_timeout);
  }
  stream_.async_read_some(
      buffer_.prepare(kReadChunkBytes),
      beast::bind_front_handler(&HttpSession::OnFirstBytes, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::OnFirstBytes(beast::error_code ec, size_t bytes) {
  idle_ = false;
  // Timeout (the stream has closed the socket), end of stream, reset or Stop(): nothing to answer.
  if (ec) return Close();
  buffer_.commit(bytes);
  // The first request's deadline runs from the connection's start; later ones from their first
  // byte.
  if (!first_request_) Tcp().expires_after(limits_.request_timeout);
  ReadRequest();
}

template <class Stream>
void HttpSession<Stream>::ReadRequest() {
  // The header first: a client that sent "Expect: 100-continue" (curl does for bodies over 1 KiB)
  // waits for the go-ahead before sending the body, and one over the body limit gets its 413
  // before sending it.
  http::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&HttpSession::OnHeader, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::OnHeader(beast::error_code ec, size_t) {
  if (ec || parser_->is_done()) return OnRead(ec, 0);
  if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = this->shared_from_this()](beast::error_code write_ec, size_t) {
                       if (write_ec) return self->Close();
                       self->ReadBody();
                     });
    return;
  }
  ReadBody();
}

template <class Stream>
void HttpSession<Stream>::ReadBody() {
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRead, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::OnRead(beast::error_code ec, size_t) {
  first_request_ = false;
  if (ec == http::error::body_limit) {
    return Reply(
        ErrorReply(kPayloadTooLarge, "body: larger than the limit of " +
                                         std::to_string(limits_.max_body_bytes) + " bytes"),
        false);
  }
  if (ec == http::error::header_limit) {
    return Reply(ErrorReply(kHeadersTooLarge, "headers: larger than the limit of " +
                                                  std::to_string(kMaxHeaderBytes) + " bytes"),
                 false);
  }
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return Close();
  if (ec && IsHttpParseError(ec))
    return Reply(ErrorReply(kBadRequest, "malformed HTTP request"), false);
  if (ec) return Close();  // timeout (socket already closed), reset, Stop()

  const auto& request = parser_->get();
  ApiRequest api{View(request.method_string()),
                 View(request.target()),
                 View(request[http::field::authorization]),
                 request.body(),
                 client_,
                 View(request[http::field::host]),
                 certificate_name_};
  ApiReply reply = handler_->Handle(api);
  // A request refused before routing (no or a wrong token, a foreign Host) gets one answer per
  // connection: otherwise a client could hold connections (and the daemon's descriptors) open
  // with requests that are never served.
  const bool keep_alive = request.keep_alive() && !stopping_ && !reply.close;
  if (reply.deferred) {
    // A long poll: no operation is pending on the socket while it waits, so neither timeout
    // cuts it; the reply comes back to this strand, and a Stop() meanwhile ends the connection
    // after it.
    auto deferred = std::move(reply.deferred);
    deferred([self = this->shared_from_this(), keep_alive](ApiReply ready) {
      net::post(self->stream_.get_executor(),
                [self, keep_alive, ready = std::move(ready)]() mutable {
                  self->Reply(std::move(ready), keep_alive && !self->stopping_);
                });
    });
    return;
  }
  Reply(std::move(reply), keep_alive);
}

template <class Stream>
void HttpSession<Stream>::Reply(ApiReply reply, bool keep_alive) {
  response_ = {};
  response_.version(11);
  response_.result(reply.status);
  response_.set(http::field::content_type,
                beast::string_view(reply.content_type.data(), reply.content_type.size()));
  if (!reply.allow.empty()) {
    response_.set(http::field::allow, beast::string_view(reply.allow.data(), reply.allow.size()));
  }
  if (reply.www_authenticate) response_.set(http::field::www_authenticate, "Bearer");
  if (reply.retry_after > 0) {
    response_.set(http::field::retry_after, std::to_string(reply.retry_after));
  }
  response_.body() = std::move(reply.body);
  written_ = std::move(reply.written);
  response_.keep_alive(keep_alive);
  response_.prepare_payload();
  // A client that stops reading its replies is dropped like one that stops sending.
  Tcp().expires_after(limits_.request_timeout);
  http::async_write(
      stream_, response_,
      beast::bind_front_handler(&HttpSession::OnWrite, this->shared_from_this(), keep_alive));
}

template <class Stream>
void HttpSession<Stream>::OnWrite(bool keep_alive, beast::error_code ec, size_t) {
  written_.reset();
  if (ec) return Close();
  if (!keep_alive) return Linger();
  WaitForRequest();
}

template <class Stream>
void HttpSession<Stream>::Linger() {
  // TLS: the close_notify exchange is the graceful close (the client's unread bytes are TLS
  // records, which shutdown reads and discards).
  if constexpr (kTls) return Close();
  beast::error_code ec;
  Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  Tcp().expires_after(kLingerTimeout);
  buffer_.clear();
  DrainSome();
}

template <class Stream>
void HttpSession<Stream>::DrainSome() {
  Tcp().async_read_some(buffer_.prepare(kReadChunkBytes),
                        [self = this->shared_from_this()](beast::error_code ec, size_t bytes) {
                          self->lingered_ += bytes;
                          if (ec || self->lingered_ > kMaxLingerBytes) return self->Close();
                          // prepare() reuses the same space: nothing is committed
                          self->DrainSome();
                        });
}

template <class Stream>
void HttpSession<Stream>::Close() {
  if (closing_) return;
  closing_ = true;
  if constexpr (kTls) {
    if (Tcp().socket().is_open()) {
      Tcp().expires_after(kTlsCloseTimeout);
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored;
        self->Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        self->Tcp().close();
      });
      return;
    }
  }
  beast::error_code ec;
  Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  Tcp().close();
}

template class HttpSession<SessionStream>;
template class HttpSession<TlsSessionStream>;

}  // namespace duanka::daemon
