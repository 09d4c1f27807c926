// libFuzzer entry point for the identifier normaliser: every input is fed as every type.
//
// Checked properties (abort, so the fuzzer records the input):
//  * a canonical form is a fixed point: canonicalizing it again gives it back unchanged;
//  * a canonical form is never longer than kMaxIdentifierInputBytes, and is printable ASCII;
//  * a refusal is one printable line of bounded length starting "<type>: ".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/identifier.h"

namespace {

using duanka::protocol::AllIdTypes;
using duanka::protocol::Canonicalize;
using duanka::protocol::IdType;
using duanka::protocol::IdTypeName;
using duanka::protocol::kMaxIdentifierInputBytes;

void Require(bool condition, const char* property, IdType type) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_identifier: %s violated for type %.*s\n", property,
               static_cast<int>(IdTypeName(type).size()), IdTypeName(type).data());
  std::abort();
}

bool IsPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

void CheckCanonical(IdType type, const std::string& canonical) {
  Require(!canonical.empty(), "canonical form is not empty", type);
  Require(canonical.size() <= kMaxIdentifierInputBytes, "canonical form within the input limit",
          type);
  Require(IsPrintableAscii(canonical), "canonical form is printable ASCII", type);
  const auto again = Canonicalize(type, canonical);
  Require(again.ok(), "canonical form is accepted again", type);
  Require(*again == canonical, "canonicalization is idempotent", type);
}

// Messages are assembled from constants only, so their length is bounded whatever the input. A
// substring test for leaks belongs in the unit tests: here the fuzzer soon learns to feed message
// text itself ("17 digits and a") and the test would flag its own words.
constexpr size_t kMaxMessageBytes = 400;

void CheckRefusal(IdType type, const std::string& message) {
  const std::string prefix = std::string(IdTypeName(type)) + ": ";
  Require(message.starts_with(prefix), "message starts with the type name", type);
  Require(message.find("; expected ") != std::string::npos, "message says what is expected", type);
  Require(IsPrintableAscii(message), "message is one printable line", type);
  Require(message.size() <= kMaxMessageBytes, "message length is bounded", type);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (IdType type : AllIdTypes()) {
    const auto result = Canonicalize(type, input);
    if (result.ok()) {
      CheckCanonical(type, *result);
    } else {
      CheckRefusal(type, result.error().message);
    }
  }
  return 0;
}
