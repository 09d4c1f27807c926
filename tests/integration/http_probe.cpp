#include "tests/integration/http_probe.h"

#include <utility>  // Boost 1.74's asio headers need it first on GCC 12

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <sstream>

#include "tests/api/api_record.h"

namespace duanka::integration {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::optional<std::string> HttpGet(uint16_t port, const std::string& target) {
  constexpr timeval kIoTimeout{10, 0};
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return std::nullopt;
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &kIoTimeout, sizeof kIoTimeout);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &kIoTimeout, sizeof kIoTimeout);
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request, ec);
  if (ec) return std::nullopt;
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, ec);
  if (ec) return std::nullopt;
  api_record::Record("GET", target, response.result_int(),
                     std::string(response[http::field::content_type]), response.body());
  if (response.result_int() != 200) return std::nullopt;
  return response.body();
}

CurlReply CurlReplyOf(std::string_view method, std::string_view url, const std::string& out) {
  CurlReply reply;
  const size_t status_at = out.rfind('\n');
  if (status_at == std::string::npos || status_at == 0) return reply;
  const size_t type_at = out.rfind('\n', status_at - 1);
  if (type_at == std::string::npos) return reply;
  reply.status = static_cast<unsigned>(std::strtoul(out.c_str() + status_at + 1, nullptr, 10));
  reply.content_type = out.substr(type_at + 1, status_at - type_at - 1);
  reply.body = out.substr(0, type_at);
  // curl prints 000 when no answer came: nothing to record.
  if (reply.status == 0) return reply;
  std::string_view path = url;
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    size_t slash = url.find('/', scheme + 3);
    path = slash == std::string_view::npos ? "/" : url.substr(slash);
  }
  api_record::Record(method, path, reply.status, reply.content_type, reply.body);
  return reply;
}

std::optional<double> MetricValue(const std::string& metrics, const std::string& sample) {
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return std::nullopt;
}

}  // namespace duanka::integration
