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
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "node/daemon/http_router.h"

namespace duanka::daemon {

// A connection's strand, named by its concrete type: a type-erased executor (any_io_executor, the
// default of tcp_stream) costs a virtual call and a copy at every step of every operation.
using SessionExecutor = boost::asio::strand<boost::asio::io_context::executor_type>;
using SessionSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, SessionExecutor>;
using SessionStream = boost::beast::basic_stream<boost::asio::ip::tcp, SessionExecutor>;

struct SessionLimits {
  size_t max_body_bytes = 0;
  std::chrono::milliseconds request_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
};

class HttpSession;

// The live sessions of one server: their number (for max_connections) and a way to stop them.
class SessionTracker {
 public:
  void Add(const std::shared_ptr<HttpSession>& session);
  void Remove(const HttpSession* session);
  size_t size() const;
  // Asks every live session to close: idle ones now, busy ones after the request in hand.
  void StopAll();

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const HttpSession*, std::weak_ptr<HttpSession>> sessions_;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // The socket's strand must be its own.
  HttpSession(SessionSocket socket, SessionLimits limits,
              std::shared_ptr<const RequestHandler> handler,
              std::shared_ptr<SessionTracker> tracker);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Registers with the tracker and starts reading the first request.
  void Start();
  // Thread-safe: closes now if waiting for a request, else after the reply in hand.
  void Stop();

 private:
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

  SessionStream stream_;
  SessionLimits limits_;
  std::shared_ptr<const RequestHandler> handler_;
  std::shared_ptr<SessionTracker> tracker_;
  std::string client_;  // the peer's address, for the audit log
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
  bool first_request_ = true;
  bool idle_ = false;      // waiting for the first byte of a request
  bool stopping_ = false;  // Stop() was called: no further requests
  size_t lingered_ = 0;    // bytes discarded while closing
};

}  // namespace duanka::daemon
