#include "tests/integration/rogue_peer.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "crypto/pki.h"
#include "node/common/audit.h"

namespace duanka::integration {

protocol::msg::Hello HelloFrom(const std::string& institution, const std::string& consortium) {
  return HelloFrom(institution, consortium, node::SystemNow());
}

protocol::msg::Hello HelloFrom(const std::string& institution, const std::string& consortium,
                               int64_t node_time) {
  return protocol::msg::Hello{protocol::kProtocolVersion, consortium, institution, {1}, node_time};
}

protocol::SignedRecord SignedEntry(const crypto::SigningKey& key, const std::string& issuer,
                                   uint64_t seq, const crypto::Hash256& prev,
                                   const std::string& subject_text) {
  constexpr int64_t kOneYear = 365LL * 24 * 3600;
  protocol::Record r;
  r.issuer = issuer;
  r.seq = seq;
  r.prev = prev;
  r.issued_at = node::SystemNow();
  r.signer_key_id = protocol::KeyId(key.public_key());
  protocol::EntryBody e;
  e.subject = crypto::Sha256(crypto::AsBytes(subject_text));
  e.id_type = protocol::IdType::kQq;
  e.pepper_epoch = 1;
  e.category = protocol::Category::kSold;
  e.basis = protocol::Basis::kInstitution;
  e.expires_at = r.issued_at + kOneYear;
  r.body = e;
  Result<protocol::SignedRecord> s = protocol::SignRecord(r, key);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? *s : protocol::SignedRecord{};
}
namespace {

using Clock = std::chrono::steady_clock;
using boost::system::error_code;

std::string Describe(const error_code& ec) {
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return "end of file";
  return ec.message();
}

}  // namespace

Result<TlsContext> RogueTlsContext(const std::filesystem::path& ca_pem,
                                   const std::filesystem::path& cert_pem,
                                   const std::filesystem::path& key_pem) {
  Result<crypto::TrustStore> trust = crypto::TrustStore::Load(ca_pem, std::nullopt);
  if (!trust) return std::move(trust).error();
  Result<ssl_ctx_st*> native = crypto::CreateTlsContext(*trust, cert_pem, key_pem);
  if (!native) return std::move(native).error();
  // asio's context takes ownership of the SSL_CTX; the trust store was copied into it by
  // reference count (SSL_CTX_set1_cert_store), so it may go.
  auto tls = std::make_shared<asio::ssl::context>(*native);
  // Still ask for the other side's certificate (a server must, to be a plausible peer), but take
  // any: the node's checks are under test, not ours.
  tls->set_verify_mode(asio::ssl::verify_peer);
  tls->set_verify_callback([](bool, asio::ssl::verify_context&) { return true; });
  return tls;
}

TlsContext AnonymousTlsContext() {
  auto tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  tls->set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                   asio::ssl::context::no_tlsv1_2);
  tls->set_verify_mode(asio::ssl::verify_none);
  return tls;
}

// ---- RogueConnection ---------------------------------------------------------------------------

RogueConnection::RogueConnection(std::shared_ptr<asio::io_context> io, TlsContext tls)
    : io_(std::move(io)), tls_(std::move(tls)), stream_(*io_, *tls_) {}

RogueConnection::~RogueConnection() {
  Abort();
  if (interrupt_fd_ >= 0) ::close(interrupt_fd_);
  // Closing the socket completes its pending operations as cancelled; run those handlers now,
  // while the object they point at still exists (a server's io_context outlives its connections).
  io_->restart();
  io_->poll();
}

Status RogueConnection::Handshake(asio::ssl::stream_base::handshake_type side,
                                  Clock::time_point deadline) {
  std::optional<error_code> shook;
  stream_.async_handshake(side, [&](error_code ec) { shook = ec; });
  if (!Pump(deadline, [&] { return shook.has_value(); })) {
    Abort();
    Pump(Clock::now() + Millis(100), [&] { return shook.has_value(); });
    return MakeError(ErrorKind::kIo, "TLS handshake timed out");
  }
  if (*shook) return MakeError(ErrorKind::kIo, "TLS handshake failed: " + Describe(*shook));
  return Ok();
}

template <typename Done>
bool RogueConnection::Pump(Clock::time_point deadline, Done done) {
  io_->restart();
  while (!done()) {
    auto now = Clock::now();
    if (now >= deadline) return false;
    if (io_->run_one_for(deadline - now) == 0 && io_->stopped()) {
      // No work left: nothing more can happen without another call from the test.
      return done();
    }
  }
  return true;
}

Result<std::unique_ptr<RogueConnection>> RogueConnection::Connect(uint16_t port, TlsContext tls,
                                                                  Millis timeout) {
  auto io = std::make_shared<asio::io_context>();
  std::unique_ptr<RogueConnection> c(new RogueConnection(io, std::move(tls)));
  const auto deadline = Clock::now() + timeout;
  std::optional<error_code> connected;
  tcp::endpoint node(asio::ip::make_address("127.0.0.1"), port);
  c->stream_.next_layer().async_connect(node, [&](error_code ec) { connected = ec; });
  if (!c->Pump(deadline, [&] { return connected.has_value(); }) || *connected) {
    return MakeError(ErrorKind::kIo, "cannot connect to port " + std::to_string(port) + ": " +
                                         (connected ? connected->message() : "timed out"));
  }
  c->interrupt_fd_ = ::fcntl(c->stream_.next_layer().native_handle(), F_DUPFD_CLOEXEC, 0);
  if (Status shook = c->Handshake(asio::ssl::stream_base::client, deadline); !shook) {
    return std::move(shook).error();
  }
  return c;
}

bool RogueConnection::SendRaw(std::string_view bytes, Millis timeout) {
  if (closed_) return false;
  std::optional<error_code> written;
  asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                    [&](error_code ec, size_t) { written = ec; });
  if (!Pump(Clock::now() + timeout, [&] { return written.has_value(); })) {
    // The buffer dies with this call: the write must not outlive it.
    Abort();
    Pump(Clock::now() + Millis(100), [&] { return written.has_value(); });
    return false;
  }
  if (*written) Closed(Describe(*written));
  return !*written;
}

void RogueConnection::StartReading() {
  if (reading_ || closed_) return;
  reading_ = true;
  stream_.async_read_some(asio::buffer(buffer_), [this](error_code ec, size_t n) {
    reading_ = false;
    if (ec) {
      Closed(Describe(ec));
      return;
    }
    decoder_.Feed(std::span<const char>(buffer_.data(), n));
    if (decoder_.state() == protocol::FrameDecoder::State::kError) {
      Closed("the node sent an invalid frame: " + decoder_.error());
      return;
    }
    // Keep reading only while nothing whole is waiting: a test that stops asking stops reading.
    if (decoder_.state() == protocol::FrameDecoder::State::kNeedMore) StartReading();
  });
}

std::optional<std::string> RogueConnection::ReadFrame(Millis timeout) {
  auto waiting = [&] {
    return decoder_.state() == protocol::FrameDecoder::State::kFrame || (closed_ && !reading_);
  };
  if (!waiting()) StartReading();
  Pump(Clock::now() + timeout, waiting);
  std::string frame;
  if (decoder_.Next(frame) == protocol::FrameDecoder::State::kFrame) return frame;
  return std::nullopt;
}

std::optional<protocol::Message> RogueConnection::ReadMessage(Millis timeout) {
  std::optional<std::string> frame = ReadFrame(timeout);
  if (!frame) return std::nullopt;
  Result<protocol::Message> m = protocol::DecodeMessage(*frame);
  if (!m) {
    Closed("the node sent a message that does not decode: " + m.error().message);
    return std::nullopt;
  }
  seen_.push_back(*m);
  return *m;
}

bool RogueConnection::WaitClosed(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!closed_) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (left <= Millis(0)) break;
    ReadMessage(left);
  }
  return closed_;
}

void RogueConnection::Closed(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = reason;
}

void RogueConnection::Abort() {
  error_code ignored;
  stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.next_layer().close(ignored);
  Closed("closed by the test");
}

void RogueConnection::Interrupt() {
  // Only the kernel call: asio's socket object belongs to the thread that is blocked in it. The
  // descriptor is a duplicate that lives as long as this object, so it never names another file.
  if (interrupt_fd_ >= 0) ::shutdown(interrupt_fd_, SHUT_RDWR);
}

// ---- RogueServer -------------------------------------------------------------------------------

RogueServer::RogueServer(TlsContext tls)
    : io_(std::make_shared<asio::io_context>()), tls_(std::move(tls)), acceptor_(*io_) {
  tcp::endpoint any_port(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(any_port.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(any_port);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
}

RogueServer::~RogueServer() {
  error_code ignored;
  acceptor_.close(ignored);
}

Result<std::unique_ptr<RogueConnection>> RogueServer::Accept(Millis timeout) {
  std::unique_ptr<RogueConnection> c(new RogueConnection(io_, tls_));
  const auto deadline = Clock::now() + timeout;
  std::optional<error_code> accepted;
  acceptor_.async_accept(c->stream_.next_layer(), [&](error_code ec) { accepted = ec; });
  if (!c->Pump(deadline, [&] { return accepted.has_value(); })) {
    error_code ignored;
    acceptor_.cancel(ignored);
    c->Pump(Clock::now() + Millis(100), [&] { return accepted.has_value(); });
    return MakeError(ErrorKind::kIo, "no connection within the timeout");
  }
  if (*accepted) return MakeError(ErrorKind::kIo, "accept failed: " + accepted->message());
  c->interrupt_fd_ = ::fcntl(c->stream_.next_layer().native_handle(), F_DUPFD_CLOEXEC, 0);
  if (Status shook = c->Handshake(asio::ssl::stream_base::server, deadline); !shook) {
    return std::move(shook).error();
  }
  return c;
}

// ---- StalledClient -----------------------------------------------------------------------------

Result<std::unique_ptr<StalledClient>> StalledClient::Open(uint16_t port, const std::string& source,
                                                           Mode mode, Millis timeout) {
  auto failed = [&](const std::string& what) {
    return MakeError(ErrorKind::kIo, what + " (from " + source + " to port " +
                                         std::to_string(port) + "): " + std::strerror(errno));
  };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return failed("socket");
  std::unique_ptr<StalledClient> c(new StalledClient(fd));
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1) {
    return MakeError(ErrorKind::kInvalidInput, source + " is not an IPv4 address");
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return failed("bind");
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    if (errno != EINPROGRESS) return failed("connect");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      errno = ETIMEDOUT;
      return failed("connect");
    }
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      errno = error;
      return failed("connect");
    }
  }
  if (mode == Mode::kPartialClientHello) {
    // A handshake record announcing 512 bytes of ClientHello, of which only the first few come.
    static constexpr unsigned char kStart[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
                                               0x00, 0x01, 0xfc, 0x03, 0x03};
    if (::send(fd, kStart, sizeof kStart, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof kStart)) {
      return failed("send");
    }
  }
  return c;
}

StalledClient::~StalledClient() {
  ::close(fd_);
}

bool StalledClient::ClosedByNode() const {
  char byte = 0;
  ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // the node said something (a TLS alert): still open
  if (n == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK;
}

}  // namespace duanka::integration
