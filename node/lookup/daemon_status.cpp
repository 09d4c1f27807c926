#include "node/lookup/daemon_status.h"

// clang-format off
#include <utility>  // before Asio: Boost 1.74's headers need it on GCC 12
// clang-format on
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <filesystem>

#include "crypto/base/base.h"
#include "node/common/host_port.h"

namespace duanka::lookup {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// A daemon on the same machine answers in milliseconds; past this it is taken as not answering.
constexpr std::chrono::milliseconds kDaemonStatusTimeout{2000};
// A status names every feed and peer: far below this for any consortium.
constexpr size_t kMaxStatusBodyBytes = 8 << 20;
constexpr size_t kMaxTokenFileBytes = 4096;
constexpr unsigned kHttpVersion = 11;
constexpr unsigned kHttpOk = 200;

// The API's own address, or loopback when it listens on every address.
Result<asio::ip::tcp::endpoint> ApiEndpoint(const node::Config& config) {
  Result<node::HostPort> hp = node::ParseHostPort(config.network.api);
  if (!hp) return std::move(hp).error();
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(hp->host, ec);
  if (ec) {
    // Resolving a name would need the resolver's NSS modules, which a static binary lacks.
    return MakeError(ErrorKind::kIo, "network.api " + config.network.api +
                                         " is a name, not an address; ask GET /v1/status there");
  }
  if (address.is_unspecified()) {
    address = address.is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                              : asio::ip::address(asio::ip::address_v4::loopback());
  }
  return asio::ip::tcp::endpoint(address, hp->port);
}

std::string Token(const node::Config& config) {
  std::error_code ec;
  if (!std::filesystem::exists(config.api_token, ec)) return "";
  Result<std::string> text = base::ReadFile(config.api_token, kMaxTokenFileBytes);
  if (!text) return "";
  std::string token = *text;
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

}  // namespace

std::string DaemonApiAddress(const node::Config& config) {
  Result<asio::ip::tcp::endpoint> endpoint = ApiEndpoint(config);
  if (!endpoint) return config.network.api;
  std::string host = endpoint->address().to_string();
  if (endpoint->address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint->port());
}

Result<nlohmann::json> AskDaemonStatus(const node::Config& config) {
  if (config.api_tls_cert) {
    return MakeError(ErrorKind::kIo,
                     "the HTTP API uses TLS, which duanka does not speak; read GET /v1/status or "
                     "the status page (GET /) with a client of the API");
  }
  Result<asio::ip::tcp::endpoint> endpoint = ApiEndpoint(config);
  if (!endpoint) return std::move(endpoint).error();
  const std::string address = DaemonApiAddress(config);

  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(kDaemonStatusTimeout);
  http::request<http::empty_body> request{http::verb::get, "/v1/status", kHttpVersion};
  request.set(http::field::host, address);
  if (const std::string token = Token(config); !token.empty()) {
    request.set(http::field::authorization, "Bearer " + token);
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxStatusBodyBytes);
  beast::error_code failed;
  stream.async_connect(*endpoint, [&](beast::error_code ec) {
    if (ec) {
      failed = ec;
      return;
    }
    http::async_write(stream, request, [&](beast::error_code ec, size_t) {
      if (ec) {
        failed = ec;
        return;
      }
      http::async_read(stream, buffer, parser, [&](beast::error_code ec, size_t) { failed = ec; });
    });
  });
  io.run();
  if (failed) {
    return MakeError(ErrorKind::kIo, "duankad does not answer on " + address + " (" +
                                         failed.message() + "); is it running?");
  }
  const auto& response = parser.get();
  if (response.result_int() != kHttpOk) {
    return MakeError(ErrorKind::kIo, "duankad on " + address + " answered HTTP " +
                                         std::to_string(response.result_int()) +
                                         " to GET /v1/status (a token in api.token? a client "
                                         "name? see docs/operations.md section 5)");
  }
  nlohmann::json status = nlohmann::json::parse(response.body(), nullptr, false);
  if (!status.is_object()) {
    return MakeError(ErrorKind::kIo,
                     "duankad on " + address + " answered GET /v1/status with no JSON object");
  }
  return status;
}

}  // namespace duanka::lookup
