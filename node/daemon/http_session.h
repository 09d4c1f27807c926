// One HTTP/1.1 connection of the API: reads requests within the limits, hands each to the
// RequestHandler, writes the reply, and keeps the connection alive between requests. Knows bytes,
// limits and timeouts, never what a request means.
//
// Threads: all of a session's state lives on its socket's strand, so the io_context may be run by
// several threads without locks here. Stop() may be called from any thread.
//
// Timeouts (why two): a new connection must deliver its first request within request_timeout,
// and every later request within request_timeout of its first byte, so a client sending slowly
// (or not at all) cannot hold a connection; between requests a keep-alive connection may wait
// idle_timeout for the next one.
//
// Over TLS (HttpSession<TlsSessionStream>) the handshake comes first, within request_timeout, and
// the connection ends with a TLS close within kTlsCloseTimeout (a silent peer cannot hold it).
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>

#include "node/daemon/http_router.h"

namespace duanka::daemon {

// A connection's strand, named by its concrete type: a type-erased executor (any_io_executor, the
// default of tcp_stream) costs a virtual call and a copy at every step of every operation.
using SessionExecutor = boost::asio::strand<boost::asio::io_context::executor_type>;
using SessionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, SessionExecutor>;
using SessionStream = boost::beast::basic_stream<boost::asio::ip::tcp, SessionExecutor>;
using TlsSessionStream = boost::beast::ssl_stream<SessionStream>;

struct SessionLimits {
  size_t max_body_bytes = 0;
  std::chrono::milliseconds request_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
};

// What the tracker knows of a session, plain or TLS.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Thread-safe: closes now if waiting for a request, else after the reply in hand.
  virtual void Stop() = 0;
};

// The live sessions of one server: their number (for max_connections) and a way to stop them.
class SessionTracker {
 public:
  void Add(const std::shared_ptr<SessionBase>& session);
  void Remove(const SessionBase* session);
  size_t size() const;
  // Asks every live session to close: idle ones now, busy ones after the request in hand.
  void StopAll();

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const SessionBase*, std::weak_ptr<SessionBase>> sessions_;
};

// Stream is SessionStream (plain HTTP) or TlsSessionStream; both are instantiated in the .cpp.
template <class Stream>
class HttpSession : public SessionBase, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsSessionStream>;
  // The socket's strand must be its own.
  HttpSession(Stream stream, SessionLimits limits, std::shared_ptr<const RequestHandler> handler,
              std::shared_ptr<SessionTracker> tracker);
  ~HttpSession() override;
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Registers with the tracker, then (TLS) handshakes and starts reading the first request.
  void Start();
  void Stop() override;

 private:
  SessionStream& Tcp();
  void OnHandshake(boost::beast::error_code ec);
  void WaitForRequest();
  void OnFirstBytes(boost::beast::error_code ec, size_t bytes);
  void ReadRequest();
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  void ReadBody();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void Reply(ApiReply reply, bool keep_alive);
  void OnWrite(bool keep_alive, boost::beast::error_code ec, size_t bytes);
  void Linger();
  void DrainSome();
  void Close();

  Stream stream_;
  SessionLimits limits_;
  std::shared_ptr<const RequestHandler> handler_;
  std::shared_ptr<SessionTracker> tracker_;
  std::string client_;            // the peer's address, for the audit log
  std::string certificate_name_;  // TLS: the verified client certificate's CN, or ""
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  std::shared_ptr<void> written_;  // ApiReply::written of the reply being written
  bool first_request_ = true;
  bool idle_ = false;      // waiting for the first byte of a request
  bool stopping_ = false;  // Stop() was called: no further requests
  size_t lingered_ = 0;    // bytes discarded while closing
  bool closing_ = false;   // Close() has begun
};

extern template class HttpSession<SessionStream>;
extern template class HttpSession<TlsSessionStream>;

}  // namespace duanka::daemon
