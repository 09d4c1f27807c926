// The loopback TLS round trip of the peer protocol: the part of a propagation hop that is neither
// a verify nor a commit. A hop is an announce (A to B), B's want (B to A) and the records (A to
// B): one round trip and a half.
//
// A consortium CA and two member TLS certificates are made in a temporary directory with the
// project's own PKI (crypto/pki.h), and each end gets the context duankad uses
// (CreateTlsContext: TLS 1.3, mutual authentication against the CA). A server thread and the
// client talk over 127.0.0.1 with Boost.Asio ssl streams, TCP_NODELAY on both sockets (as
// node/daemon/links.cpp sets it): one handshake, then N round trips of a small payload (about
// an announce frame): the client writes it, the server reads it and writes it back, the client
// reads it. The same over plain TCP in the same run is the sub-floor (the kernel's loopback and
// two thread wake-ups, no TLS).
//
// Blocking reads and writes on two threads: no event loop, so this is a floor below the
// daemon's own path (which goes through epoll and a strand). Figures only, no assertions.
//
//   build/release/tests/bench/sync/tls_rtt_bench                      # 20,000 round trips, 64 B
//   build/release/tests/bench/sync/tls_rtt_bench --round-trips 100000 --bytes 512
#include <utility>  // Boost 1.74's asio (awaitable.hpp) needs it first on GCC 12

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base/base.h"
#include "crypto/pki.h"

namespace duanka {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Defaults: enough round trips for a steady p99 in a few seconds; 64 bytes is about an announce
// frame (a feed's code, head sequence number and hash).
constexpr uint64_t kDefaultRoundTrips = 20'000;
constexpr uint64_t kDefaultBytes = 64;
// Limits of the arguments: a run of the maximum takes minutes, not hours; the payload stays
// within one TLS record (16 KiB) so that a round trip is one record each way.
constexpr uint64_t kMaxRoundTrips = 10'000'000;
constexpr uint64_t kMaxBytes = 16'384;
// Round trips before the timed ones (not counted): the TLS 1.3 session tickets the server sends
// after the handshake arrive with the first read, and the caches and the scheduler settle. Never
// more than the timed round trips themselves.
constexpr uint64_t kWarmUpRoundTrips = 1'000;
// The certificates: a throwaway CA for this run only.
constexpr const char* kConsortium = "RTTBENCH";
constexpr const char* kServerCode = "BANKA";
constexpr const char* kClientCode = "BANKB";
constexpr const char* kLoopback = "127.0.0.1";

struct Options {
  uint64_t round_trips = kDefaultRoundTrips;
  uint64_t bytes = kDefaultBytes;
};

struct Latencies {
  std::vector<double> us;   // one per timed round trip
  double handshake_ms = 0;  // TLS only
};

double Us(SteadyClock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// A temporary directory, removed with everything in it when this goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tls_rtt_bench.XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The files of one member's node: its TLS certificate and key.
struct MemberFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// A TLS certificate of the consortium CA in ca_dir for `code`, written beside its key in dir.
Result<MemberFiles> IssueTls(const std::filesystem::path& ca_dir, const std::filesystem::path& dir,
                             const std::string& code) {
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  crypto::IssueOptions o;
  o.institution = code;
  o.role = crypto::Role::kMember;
  o.kind = crypto::CertKind::kTls;
  o.subject_key = key.public_key();
  o.hosts = {kLoopback};
  Result<std::string> pem = crypto::IssueCertificate(ca_dir, o);
  if (!pem) return std::move(pem).error();
  MemberFiles files{dir / (code + "-tls.pem"), dir / (code + "-tls.key")};
  if (Status s = base::WriteFileAtomic(files.cert, *pem, 0644, false); !s) {
    return std::move(s).error();
  }
  if (Status s = crypto::SavePrivateKey(files.key, key, false); !s) return std::move(s).error();
  return files;
}

// duankad's peer context for one member (asio's context takes ownership of the SSL_CTX).
Result<std::unique_ptr<asio::ssl::context>> PeerContext(const crypto::TrustStore& trust,
                                                        const MemberFiles& files) {
  Result<ssl_ctx_st*> native = crypto::CreateTlsContext(trust, files.cert, files.key);
  if (!native) return std::move(native).error();
  return std::make_unique<asio::ssl::context>(*native);
}

// The server's half: accept one connection, (handshake,) then echo `bytes` at a time until the
// client closes. Runs on its own thread; `error` says why it stopped early, if it did.
template <typename Stream>
void Echo(Stream& stream, uint64_t bytes, std::string& error) {
  std::vector<char> buffer(bytes);
  boost::system::error_code ec;
  for (;;) {
    asio::read(stream, asio::buffer(buffer), ec);
    if (ec) break;  // the client is done (eof), or gone
    asio::write(stream, asio::buffer(buffer), ec);
    if (ec) {
      error = "server write: " + ec.message();
      return;
    }
  }
}

// The client's half: warm-up, then the timed round trips.
template <typename Stream>
Result<std::vector<double>> RoundTrips(Stream& stream, const Options& o) {
  std::vector<char> out(o.bytes, 'a');
  std::vector<char> in(o.bytes);
  std::vector<double> us;
  us.reserve(o.round_trips);
  const uint64_t warm_up = std::min(kWarmUpRoundTrips, o.round_trips);
  boost::system::error_code ec;
  for (uint64_t i = 0; i < warm_up + o.round_trips; ++i) {
    out[i % o.bytes] = static_cast<char>('a' + i % 26);
    const auto start = SteadyClock::now();
    asio::write(stream, asio::buffer(out), ec);
    if (!ec) asio::read(stream, asio::buffer(in), ec);
    const auto end = SteadyClock::now();
    if (ec) {
      return MakeError(ErrorKind::kIo, "round trip " + std::to_string(i) + ": " + ec.message());
    }
    if (in != out) return MakeError(ErrorKind::kInternal, "the echo differs from what was sent");
    if (i >= warm_up) us.push_back(Us(end - start));
  }
  return us;
}

// A client that could not connect: the server thread's blocking accept returns (EINVAL on
// Linux) rather than waiting for ever.
void WakeAccept(tcp::acceptor& acceptor) {
  ::shutdown(acceptor.native_handle(), SHUT_RDWR);
}

Result<Latencies> MeasureTcp(const Options& o) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(kLoopback), 0));
  std::string server_error;
  std::thread server([&] {
    tcp::socket socket(io);
    boost::system::error_code ec;
    acceptor.accept(socket, ec);
    if (ec) {
      server_error = "accept: " + ec.message();
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (ec) {
      server_error = "TCP_NODELAY: " + ec.message();
      return;
    }
    Echo(socket, o.bytes, server_error);
  });
  tcp::socket socket(io);
  boost::system::error_code ec;
  Result<std::vector<double>> us{std::vector<double>{}};
  socket.connect(acceptor.local_endpoint(), ec);
  if (!ec) socket.set_option(tcp::no_delay(true), ec);
  if (ec) {
    us = MakeError(ErrorKind::kIo, "connect: " + ec.message());
    WakeAccept(acceptor);
  }
  if (us) us = RoundTrips(socket, o);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  server.join();
  if (!us) return std::move(us).error();
  if (!server_error.empty()) return MakeError(ErrorKind::kIo, server_error);
  return Latencies{std::move(*us), 0};
}

Result<Latencies> MeasureTls(const Options& o, const std::filesystem::path& dir) {
  const std::filesystem::path ca_dir = dir / "ca";
  if (Status s = crypto::CreateCa(ca_dir, crypto::CaOptions{kConsortium}); !s) {
    return std::move(s).error();
  }
  Result<MemberFiles> server_files = IssueTls(ca_dir, dir, kServerCode);
  if (!server_files) return std::move(server_files).error();
  Result<MemberFiles> client_files = IssueTls(ca_dir, dir, kClientCode);
  if (!client_files) return std::move(client_files).error();
  Result<crypto::TrustStore> trust = crypto::TrustStore::Load(ca_dir / "ca.pem", std::nullopt);
  if (!trust) return std::move(trust).error();
  Result<std::unique_ptr<asio::ssl::context>> server_tls = PeerContext(*trust, *server_files);
  if (!server_tls) return std::move(server_tls).error();
  Result<std::unique_ptr<asio::ssl::context>> client_tls = PeerContext(*trust, *client_files);
  if (!client_tls) return std::move(client_tls).error();

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(kLoopback), 0));
  std::string server_error;
  std::thread server([&] {
    asio::ssl::stream<tcp::socket> stream(io, **server_tls);
    boost::system::error_code ec;
    acceptor.accept(stream.next_layer(), ec);
    if (ec) {
      server_error = "accept: " + ec.message();
      return;
    }
    stream.next_layer().set_option(tcp::no_delay(true), ec);
    if (ec) {
      server_error = "TCP_NODELAY: " + ec.message();
      return;
    }
    stream.handshake(asio::ssl::stream_base::server, ec);
    if (ec) {
      server_error = "server handshake: " + ec.message();
      return;
    }
    // As the daemon does after its handshake: the peer's certificate, a TLS one of this CA.
    Result<crypto::CertificateInfo> peer =
        crypto::VerifiedPeer(stream.native_handle(), *trust, std::time(nullptr));
    if (!peer || peer->institution != kClientCode) {
      server_error =
          "the client's certificate: " + (peer ? peer->institution : peer.error().message);
      return;
    }
    Echo(stream, o.bytes, server_error);
  });

  asio::ssl::stream<tcp::socket> stream(io, **client_tls);
  boost::system::error_code ec;
  Result<std::vector<double>> us{std::vector<double>{}};
  double handshake_ms = 0;
  stream.next_layer().connect(acceptor.local_endpoint(), ec);
  if (!ec) stream.next_layer().set_option(tcp::no_delay(true), ec);
  if (ec) {
    us = MakeError(ErrorKind::kIo, "connect: " + ec.message());
    WakeAccept(acceptor);
  } else {
    const auto start = SteadyClock::now();
    stream.handshake(asio::ssl::stream_base::client, ec);
    handshake_ms = Us(SteadyClock::now() - start) / 1000;
    if (ec) us = MakeError(ErrorKind::kIo, "client handshake: " + ec.message());
  }
  if (us) {
    Result<crypto::CertificateInfo> peer =
        crypto::VerifiedPeer(stream.native_handle(), *trust, std::time(nullptr));
    if (!peer || peer->institution != kServerCode) {
      us = MakeError(
          ErrorKind::kUnauthorized,
          "the server's certificate: " + (peer ? peer->institution : peer.error().message));
    }
  }
  if (us) us = RoundTrips(stream, o);
  // Closing the socket (no close_notify: the server reads eof and stops).
  stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
  stream.next_layer().close(ec);
  server.join();
  if (!us) return std::move(us).error();
  if (!server_error.empty()) return MakeError(ErrorKind::kIo, server_error);
  return Latencies{std::move(*us), handshake_ms};
}

void Print(const char* what, const std::vector<double>& us) {
  std::printf("  %-10s p50 %7.2f µs   p99 %7.2f µs   mean %7.2f µs   max %8.2f µs\n", what,
              Percentile(us, 0.5), Percentile(us, 0.99), Mean(us), Percentile(us, 1.0));
}

int Run(const Options& o) {
  TempDir dir;
  if (dir.path().empty()) {
    std::fprintf(stderr, "tls_rtt_bench: cannot make a temporary directory: %s\n",
                 std::strerror(errno));
    return 1;
  }
  // TCP first, then TLS: the same threads, payload and counts.
  Result<Latencies> plain = MeasureTcp(o);
  if (!plain) {
    std::fprintf(stderr, "tls_rtt_bench: plain TCP: %s\n", plain.error().message.c_str());
    return 1;
  }
  Result<Latencies> tls = MeasureTls(o, dir.path());
  if (!tls) {
    std::fprintf(stderr, "tls_rtt_bench: TLS: %s\n", tls.error().message.c_str());
    return 1;
  }
  std::printf(
      "loopback round trips (%s), %llu of %llu bytes after %llu not counted, "
      "TCP_NODELAY, two threads, blocking I/O:\n",
      kLoopback, static_cast<unsigned long long>(o.round_trips),
      static_cast<unsigned long long>(o.bytes),
      static_cast<unsigned long long>(std::min(kWarmUpRoundTrips, o.round_trips)));
  Print("TLS 1.3", tls->us);
  Print("plain TCP", plain->us);
  std::printf(
      "  TLS 1.3 mutual-auth handshake (Ed25519 certificates, duankad's context): "
      "%.2f ms\n",
      tls->handshake_ms);
  std::printf("  1.5 TLS round trips (a hop's announce, want and records), p50: %.2f µs\n",
              1.5 * Percentile(tls->us, 0.5));
  // Machine-readable copies for ops/bench (key<TAB>value<TAB>unit), beside the text above.
  std::printf("figure\ttls_rtt_round_trips\t%llu\tround trips\n",
              static_cast<unsigned long long>(o.round_trips));
  std::printf("figure\ttls_rtt_bytes\t%llu\tB\n", static_cast<unsigned long long>(o.bytes));
  std::printf("figure\ttls_rtt_p50_us\t%.3f\tus\n", Percentile(tls->us, 0.5));
  std::printf("figure\ttls_rtt_p99_us\t%.3f\tus\n", Percentile(tls->us, 0.99));
  std::printf("figure\ttls_rtt_mean_us\t%.3f\tus\n", Mean(tls->us));
  std::printf("figure\ttcp_rtt_p50_us\t%.3f\tus\n", Percentile(plain->us, 0.5));
  std::printf("figure\ttcp_rtt_p99_us\t%.3f\tus\n", Percentile(plain->us, 0.99));
  std::printf("figure\ttcp_rtt_mean_us\t%.3f\tus\n", Mean(plain->us));
  std::printf("figure\ttls_handshake_ms\t%.3f\tms\n", tls->handshake_ms);
  return 0;
}

// A whole decimal number in [min, max], or nullopt.
std::optional<uint64_t> Number(const char* text, uint64_t min, uint64_t max) {
  if (text == nullptr || *text < '0' || *text > '9') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace
}  // namespace duanka

int main(int argc, char** argv) {
  using duanka::kMaxBytes;
  using duanka::kMaxRoundTrips;
  duanka::Options o;
  struct Flag {
    const char* name;
    uint64_t max;
    uint64_t* value;
  };
  const Flag flags[] = {{"--round-trips", kMaxRoundTrips, &o.round_trips},
                        {"--bytes", kMaxBytes, &o.bytes}};
  for (int i = 1; i < argc; ++i) {
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    const Flag* flag = nullptr;
    for (const Flag& f : flags) flag = std::strcmp(argv[i], f.name) == 0 ? &f : flag;
    if (flag == nullptr) {
      std::fprintf(stderr, "usage: tls_rtt_bench [--round-trips N] [--bytes N]\n");
      return 2;
    }
    std::optional<uint64_t> n = duanka::Number(value, 1, flag->max);
    if (!n) {
      std::fprintf(stderr, "tls_rtt_bench: %s expects a whole number 1..%llu\n", flag->name,
                   static_cast<unsigned long long>(flag->max));
      return 2;
    }
    *flag->value = *n;
    ++i;
  }
  try {
    return duanka::Run(o);
  } catch (const std::exception& e) {  // the acceptor's bind or listen, a thread not started
    std::fprintf(stderr, "tls_rtt_bench: %s\n", e.what());
    return 1;
  }
}
