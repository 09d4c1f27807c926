#include "protocol/text.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "protocol/detail/text.h"
#include "protocol/message.h"

namespace duanka::protocol {
namespace {

// The code point of the strict UTF-8 sequence at s[i] and its length in bytes; length 0 when the
// bytes there are not one (overlong, surrogate, beyond U+10FFFF, truncated).
struct Decoded {
  uint32_t cp = 0;
  size_t len = 0;
};

Decoded DecodeAt(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > s.size()) return {};
  uint32_t cp = len == 1 ? c : c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return {};
    cp = cp << 6 | (cc & 0x3f);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {};
  return {cp, len};
}

struct FormatRange {
  uint32_t first;
  uint32_t last;
  std::string_view kind;
};

constexpr std::string_view kBidi = "a bidi control";
constexpr std::string_view kZeroWidth = "a zero-width character";
constexpr std::string_view kInvisible = "an invisible format character";

// Every code point of general category Cf, Zl and Zp as of Unicode 15.1
// (DerivedGeneralCategory.txt), in ascending order. A table rather than ICU: the set is small and
// rarely grows; a character a later version adds to Cf passes until it is added here.
constexpr std::array<FormatRange, 25> kFormatRanges = {{
    {0x00ad, 0x00ad, "a soft hyphen"},
    {0x0600, 0x0605, kInvisible},
    {0x061c, 0x061c, kBidi},  // ARABIC LETTER MARK
    {0x06dd, 0x06dd, kInvisible},
    {0x070f, 0x070f, kInvisible},
    {0x0890, 0x0891, kInvisible},
    {0x08e2, 0x08e2, kInvisible},
    {0x180e, 0x180e, kZeroWidth},  // MONGOLIAN VOWEL SEPARATOR
    {0x200b, 0x200d, kZeroWidth},  // ZERO WIDTH SPACE, NON-JOINER, JOINER
    {0x200e, 0x200f, kBidi},       // LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
    {0x2028, 0x2028, "a line separator"},
    {0x2029, 0x2029, "a paragraph separator"},
    {0x202a, 0x202e, kBidi},       // embeddings and overrides
    {0x2060, 0x2064, kZeroWidth},  // WORD JOINER and the invisible operators
    {0x2066, 0x2069, kBidi},       // isolates
    {0x206a, 0x206f, kInvisible},  // deprecated shaping controls
    {0xfeff, 0xfeff, kZeroWidth},  // ZERO WIDTH NO-BREAK SPACE (byte order mark)
    {0xfff9, 0xfffb, kInvisible},  // interlinear annotation
    {0x110bd, 0x110bd, kInvisible},
    {0x110cd, 0x110cd, kInvisible},
    {0x13430, 0x1343f, kInvisible},
    {0x1bca0, 0x1bca3, kInvisible},
    {0x1d173, 0x1d17a, kInvisible},
    {0xe0001, 0xe0001, kInvisible},  // LANGUAGE TAG
    {0xe0020, 0xe007f, kInvisible},  // tag characters
}};

constexpr bool Ascending() {
  for (size_t i = 0; i < kFormatRanges.size(); ++i) {
    if (kFormatRanges[i].first > kFormatRanges[i].last) return false;
    if (i > 0 && kFormatRanges[i - 1].last >= kFormatRanges[i].first) return false;
  }
  return true;
}
static_assert(Ascending(), "FormatKind stops at the first range above the code point");

std::optional<std::string_view> FormatKind(uint32_t cp) {
  for (const FormatRange& r : kFormatRanges) {
    if (cp < r.first) break;
    if (cp <= r.last) return r.kind;
  }
  return std::nullopt;
}

}  // namespace

std::optional<FormatCharacter> FirstFormatCharacter(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const Decoded d = DecodeAt(s, i);
    if (d.len == 0) {
      ++i;
      continue;
    }
    if (std::optional<std::string_view> kind = FormatKind(d.cp)) {
      return FormatCharacter{d.cp, *kind};
    }
    i += d.len;
  }
  return std::nullopt;
}

std::string Describe(const FormatCharacter& c) {
  char code[16];
  std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c.code_point));
  return std::string(code) + " (" + std::string(c.kind) + ")";
}

namespace detail {

bool IsCleanUtf8Text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const Decoded d = DecodeAt(s, i);
    if (d.len == 0) return false;
    if (d.cp < 0x20 || d.cp == 0x7f) return false;   // C0 controls, DEL
    if (d.cp >= 0x80 && d.cp <= 0x9f) return false;  // C1 controls
    i += d.len;
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

}  // namespace detail
}  // namespace duanka::protocol
