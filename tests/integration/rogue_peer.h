// A hostile or broken peer for the integration tests: a raw TLS 1.3 client or server, outside
// any daemon, that speaks our framing (protocol/frame.h, protocol/message.h) with whatever bytes
// a test wants to send — garbage, oversize lengths, half frames, forged records — and reports
// exactly what a real node answered.
//
// Everything is synchronous and bounded: each call drives its own io_context for at most the
// timeout it is given, so a test can never hang on a node that stays silent. Nothing here reads
// from the socket unless a Read* call asks for it, so a peer that "never reads" is just a
// connection whose test never calls Read*.
//
// Not thread-safe: one test thread uses a connection (and its server) at a time.
#pragma once

#include <utility>  // Boost 1.74's asio headers need it first on GCC 12

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/base/result.h"
#include "crypto/crypto.h"
#include "protocol/frame.h"
#include "protocol/message.h"
#include "protocol/record.h"

namespace duanka::integration {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Millis = std::chrono::milliseconds;

// One signed entry (a qq subject made from `subject_text`, sold, institution's finding, a year)
// of `issuer` at `seq` after `prev`, by `key`, certified or not: what a rogue member publishes.
protocol::SignedRecord SignedEntry(const crypto::SigningKey& key, const std::string& issuer,
                                   uint64_t seq, const crypto::Hash256& prev,
                                   const std::string& subject_text);

// A hello as a member `institution` of `consortium` sends it, pepper epoch 1, its clock at
// `node_time` (Unix seconds; now when not given).
protocol::msg::Hello HelloFrom(const std::string& institution, const std::string& consortium);
protocol::msg::Hello HelloFrom(const std::string& institution, const std::string& consortium,
                               int64_t node_time);

// The TLS side of a rogue peer.
using TlsContext = std::shared_ptr<asio::ssl::context>;

// A context built by the node's own crypto::CreateTlsContext (TLS 1.3, this certificate and key,
// the CA of ca_pem as trust anchor), except that the rogue accepts whatever certificate the other
// side shows: it is here to test the node's checks, not its own. kIo/kInvalidInput as
// CreateTlsContext.
Result<TlsContext> RogueTlsContext(const std::filesystem::path& ca_pem,
                                   const std::filesystem::path& cert_pem,
                                   const std::filesystem::path& key_pem);

// A TLS 1.3 client context with no certificate at all.
TlsContext AnonymousTlsContext();

// One TLS connection to (or from) a node.
class RogueConnection {
 public:
  ~RogueConnection();
  RogueConnection(const RogueConnection&) = delete;
  RogueConnection& operator=(const RogueConnection&) = delete;

  // Dials 127.0.0.1:port and runs the TLS client handshake, all within `timeout`. kIo names what
  // failed. With TLS 1.3 the client's handshake finishes before the server has checked the
  // client's certificate, so a refused client usually connects and is closed right after.
  static Result<std::unique_ptr<RogueConnection>> Connect(uint16_t port, TlsContext tls,
                                                          Millis timeout);

  // Writes bytes as they are (inside TLS). False if the connection is gone or the write did not
  // finish within `timeout`.
  bool SendRaw(std::string_view bytes, Millis timeout = Millis(5000));
  bool SendFrame(std::string_view payload) { return SendRaw(protocol::EncodeFrame(payload)); }
  bool Send(const protocol::Message& message) {
    return SendFrame(protocol::EncodeMessage(message));
  }

  // The next frame's payload, or nullopt when the node closed the connection (closed() is then
  // true) or sent nothing whole within `timeout`.
  std::optional<std::string> ReadFrame(Millis timeout);
  // The next frame, decoded. A frame that does not decode is reported as closed with a reason.
  std::optional<protocol::Message> ReadMessage(Millis timeout);
  // Reads messages until one of kind T arrives (earlier ones are kept in seen()), or nullopt.
  template <typename T>
  std::optional<T> ReadUntil(Millis timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
      if (left <= Millis(0)) return std::nullopt;
      std::optional<protocol::Message> m = ReadMessage(left);
      if (!m) return std::nullopt;
      if (T* t = std::get_if<T>(&*m)) return *t;
    }
  }
  // Reads until the node closes the connection: true if it did within `timeout`. Messages read
  // meanwhile are kept in seen().
  bool WaitClosed(Millis timeout);

  // Every message read so far, in order.
  const std::vector<protocol::Message>& seen() const { return seen_; }
  // Whether a message of kind T has been read.
  template <typename T>
  bool Saw() const {
    for (const protocol::Message& m : seen_) {
      if (std::holds_alternative<T>(m)) return true;
    }
    return false;
  }

  bool closed() const { return closed_; }
  // Why the connection ended, as the TLS layer said (e.g. "end of file", an alert's text).
  const std::string& close_reason() const { return close_reason_; }

  // Drops the TCP connection at once, without a TLS close_notify.
  void Abort();

  // The one call that is safe from another thread while a test thread is blocked in this
  // connection's Send* (a flood that the node stopped reading): shuts the socket down
  // (shutdown(2)), so that the blocked call fails and returns. The test thread still owns the
  // object and destroys it.
  void Interrupt();

 private:
  friend class RogueServer;
  // The TLS handshake as `side`, within `deadline`.
  Status Handshake(asio::ssl::stream_base::handshake_type side,
                   std::chrono::steady_clock::time_point deadline);
  RogueConnection(std::shared_ptr<asio::io_context> io, TlsContext tls);
  // Runs the io_context until done() or the deadline; false on timeout.
  template <typename Done>
  bool Pump(std::chrono::steady_clock::time_point deadline, Done done);
  void StartReading();
  void Closed(const std::string& reason);

  std::shared_ptr<asio::io_context> io_;
  TlsContext tls_;
  asio::ssl::stream<tcp::socket> stream_;
  // Frames from a node are at most its frame limit; the default is what test nodes use.
  protocol::FrameDecoder decoder_{protocol::kDefaultMaxFrameBytes};
  std::array<char, 64 * 1024> buffer_{};
  bool reading_ = false;
  bool closed_ = false;
  std::string close_reason_;
  int interrupt_fd_ = -1;  // a duplicate of the socket's descriptor once connected, for Interrupt()
  std::vector<protocol::Message> seen_;
};

// A TLS server on 127.0.0.1 (an ephemeral port) for a node to dial: to test what the node does
// with a peer it chose to call.
class RogueServer {
 public:
  explicit RogueServer(TlsContext tls);
  ~RogueServer();
  uint16_t port() const { return port_; }
  // Accepts one connection and runs the TLS server handshake within `timeout`. kIo on failure
  // (the message says whether it was the accept or the handshake, and why).
  Result<std::unique_ptr<RogueConnection>> Accept(Millis timeout);

 private:
  std::shared_ptr<asio::io_context> io_;
  TlsContext tls_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
};

// A stranger on the peer port: a plain TCP connection to 127.0.0.1:port from a loopback source
// address of the test's choosing (any 127.x.y.z, so that one test can play many sources) that
// never finishes a TLS handshake. It says nothing, or only the first bytes of a ClientHello, and
// never reads: it holds whatever the node gave it until the node closes it.
class StalledClient {
 public:
  enum class Mode { kSilent, kPartialClientHello };
  // kIo naming what failed (bind, connect, or no connection within `timeout`).
  static Result<std::unique_ptr<StalledClient>> Open(uint16_t port, const std::string& source,
                                                     Mode mode, Millis timeout = Millis(2000));
  ~StalledClient();
  StalledClient(const StalledClient&) = delete;
  StalledClient& operator=(const StalledClient&) = delete;
  // Whether the node closed or reset the connection. Never blocks and never consumes a byte.
  bool ClosedByNode() const;

 private:
  explicit StalledClient(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace duanka::integration
