// HOST:PORT, the one form of every address in duanka.toml and on the command line
// (network.listen, network.api, the address in a network.peers entry): parsed here once, so that
// the config check, the listeners and the dialler agree on what an address is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/base/result.h"

namespace duanka::node {

struct HostPort {
  std::string host;  // a name or an IP address; an IPv6 address without its brackets
  uint16_t port = 0;

  // As written: "10.0.0.2:7400", "[::1]:7400".
  std::string ToString() const;
};

// Port 0 asks the kernel for any free port: a listener in a test may, a config may not.
enum class PortZero : uint8_t { kRefused, kAllowed };

// "HOST:PORT" with a port of 1 to 65535 (0 too when allowed), an IPv6 host in brackets. Refused
// (kInvalidInput) with one line naming the text and the form expected.
Result<HostPort> ParseHostPort(std::string_view text, PortZero zero = PortZero::kRefused);

}  // namespace duanka::node
