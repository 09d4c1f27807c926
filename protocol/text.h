// Text shown to a person (an institution's profile in lookups and in the notice `duanka explain`
// prints): which characters may change how it reads without showing themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace duanka::protocol {

// A character of Unicode general category Cf (format), Zl (line separator) or Zp (paragraph
// separator). A bidi control can show an appeal number or web address reversed or reordered, a
// zero-width character makes two different names look alike, and U+2028/U+2029 break a line that
// is promised to be one.
struct FormatCharacter {
  uint32_t code_point = 0;
  std::string_view kind;  // e.g. "a bidi control", "a zero-width character"
};

// The first format or separator character in `s`, if any. Bytes that are not UTF-8 are passed
// over: whether the text is UTF-8 at all is checked separately.
std::optional<FormatCharacter> FirstFormatCharacter(std::string_view s);

// "U+202E (a bidi control)", for refusal messages.
std::string Describe(const FormatCharacter& c);

}  // namespace duanka::protocol
