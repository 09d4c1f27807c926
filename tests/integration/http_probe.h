// A test's look at a node's HTTP API on loopback: GET a path, read a metric, read curl's answer.
// Bounded: every call ends within its socket timeouts however the node behaves. Every response
// received is recorded for the API contract (tests/api/api_record.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace duanka::integration {

// GET http://127.0.0.1:PORT/TARGET: the body of a 200 answer, or nullopt.
std::optional<std::string> HttpGet(uint16_t port, const std::string& target);

// curl's --write-out for CurlReplyOf: after the body, the content type and the status, each on a
// line of its own.
inline constexpr const char* kCurlWriteOut = "\n%{content_type}\n%{http_code}";

struct CurlReply {
  unsigned status = 0;  // 0: no HTTP answer came
  std::string content_type;
  std::string body;
};

// Splits the output of `curl -w kCurlWriteOut ... URL` (a full URL, or the path alone) for a
// request of `method`, and records the response for the API contract (tests/api/api_record.h).
CurlReply CurlReplyOf(std::string_view method, std::string_view url, const std::string& out);

// The value of one sample (NAME or NAME{LABELS}) in Prometheus text, or nullopt.
std::optional<double> MetricValue(const std::string& metrics, const std::string& sample);

}  // namespace duanka::integration
