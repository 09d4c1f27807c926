// A test's look at a node's HTTP API on loopback: GET a path, read a metric. Bounded: every call
// ends within its socket timeouts however the node behaves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace duanka::integration {

// GET http://127.0.0.1:PORT/TARGET: the body of a 200 answer, or nullopt.
std::optional<std::string> HttpGet(uint16_t port, const std::string& target);

// The value of one sample (NAME or NAME{LABELS}) in Prometheus text, or nullopt.
std::optional<double> MetricValue(const std::string& metrics, const std::string& sample);

}  // namespace duanka::integration
