// Fuzz target: a consortium notice as a peer's `objects` message or `duanka-admin import` carries
// it (protocol/notice.h). The first byte picks the form (odd: a notice file with its magic line;
// even: the SignedNotice bytes of an `objects` body); the rest is the input.
//
// Nothing may crash, leak, throw or trip a sanitizer, and:
//   - a refusal is kMalformed with one bounded line (it must not echo the input);
//   - a notice that decodes is exactly its canonical encoding: re-encoding gives the same bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "protocol/notice.h"

namespace duanka::protocol {
namespace {

constexpr size_t kMaxErrorMessageLength = 300;

[[noreturn]] void Fail(const char* what, const Error* error = nullptr) {
  std::fprintf(stderr, "fuzz_notice: %s%s%s\n", what, error ? ": " : "",
               error ? error->message.c_str() : "");
  std::abort();
}

void FuzzOne(std::span<const uint8_t> input) {
  if (input.empty()) return;
  const bool as_file = (input[0] & 1) != 0;
  const std::string_view bytes(reinterpret_cast<const char*>(input.data()) + 1, input.size() - 1);
  Result<std::pair<SignedNotice, Notice>> decoded =
      as_file ? DecodeNoticeFile(bytes) : DecodeSignedNotice(bytes);
  if (!decoded) {
    if (decoded.error().kind != ErrorKind::kMalformed) {
      Fail("a refusal is not kMalformed", &decoded.error());
    }
    if (decoded.error().message.find('\n') != std::string::npos ||
        decoded.error().message.size() > kMaxErrorMessageLength) {
      Fail("a refusal is not one short line", &decoded.error());
    }
    return;
  }
  const std::string again =
      as_file ? EncodeNoticeFile(decoded->first) : EncodeSignedNotice(decoded->first);
  if (again != bytes) Fail("a decoded notice does not re-encode to its own bytes");
  (void)decoded->second.Subject();
}

}  // namespace
}  // namespace duanka::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duanka::protocol::FuzzOne(std::span<const uint8_t>(data, size));
  return 0;
}
