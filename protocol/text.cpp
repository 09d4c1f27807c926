#include "protocol/detail/text.h"

#include "protocol/message.h"

#include <cstddef>
#include <cstdint>

namespace duanka::protocol::detail {

bool IsCleanUtf8Text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    if (len == 1 && (c < 0x20 || c == 0x7f)) return false;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp >= 0x80 && cp <= 0x9f) return false;  // C1 controls
    i += len;
  }
  return true;
}

// Cap'n Proto's descriptions are short sentences, but they go into logs: one bounded line.
constexpr size_t kMaxLibraryErrorBytes = 160;

std::string OneLine(std::string_view text) {
  std::string out(text.substr(0, kMaxLibraryErrorBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

bool IsObjectName(std::string_view name) {
  if (name.empty() || name.size() > kMaxObjectNameBytes) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || c == '-')) return false;
  }
  return true;
}

}  // namespace duanka::protocol::detail
