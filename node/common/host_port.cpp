#include "node/common/host_port.h"

#include <charconv>

namespace duanka::node {
namespace {

// Host names and addresses are short; a longer "host" is a mistake, not an address (RFC 1035
// bounds a name at 253 characters).
constexpr size_t kMaxHostLength = 253;

bool IsHostCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == ':' || c == '%';
}

}  // namespace

std::string HostPort::ToString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view text, PortZero zero) {
  auto bad = [&] {
    // Quoted as one printable line: the text may come from a file with anything in it.
    std::string shown(text.substr(0, kMaxHostLength));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return MakeError(ErrorKind::kInvalidInput,
                     "\"" + shown +
                         "\" is not HOST:PORT (e.g. 10.0.0.2:7400 or [::1]:7400; the port 1 to "
                         "65535)");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad();
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad();  // an IPv6 address without brackets: which colon is the port's is a guess
  }
  if (host.empty() || host.size() > kMaxHostLength) return bad();
  for (char c : host) {
    if (!IsHostCharacter(c)) return bad();
  }
  unsigned port = 0;
  const char* end = port_text.data() + port_text.size();
  auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc() || ptr != end || port > UINT16_MAX) return bad();
  if (port == 0 && zero == PortZero::kRefused) return bad();
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace duanka::node
