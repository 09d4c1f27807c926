// Fuzz target: a bundle file as `duanka-admin import` reads it (protocol/bundle.h).
//
// The whole input is the file. Nothing may crash, leak, throw or trip a sanitizer, and:
//   - a refusal is kMalformed with one bounded line (it must not echo the file);
//   - a bundle that decodes re-encodes (EncodeBundle) to a file that decodes to the same bundle.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "protocol/bundle.h"

namespace duanka::protocol {
namespace {

// Errors name a limit or a position; anything much longer is echoing input.
constexpr size_t kMaxErrorMessageLength = 300;

[[noreturn]] void Fail(const char* what, const Error* error = nullptr) {
  std::fprintf(stderr, "fuzz_bundle: %s%s%s\n", what, error ? ": " : "",
               error ? error->message.c_str() : "");
  std::abort();
}

bool Same(const Bundle& a, const Bundle& b) {
  if (a.consortium != b.consortium || a.certificates != b.certificates || a.objects != b.objects ||
      a.records.size() != b.records.size()) {
    return false;
  }
  for (size_t i = 0; i < a.records.size(); ++i) {
    if (a.records[i].bytes != b.records[i].bytes ||
        a.records[i].signature != b.records[i].signature) {
      return false;
    }
  }
  return true;
}

void FuzzOne(std::span<const uint8_t> input) {
  const std::string_view file(reinterpret_cast<const char*>(input.data()), input.size());
  Result<Bundle> decoded = DecodeBundle(file);
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
  Result<Bundle> again = DecodeBundle(EncodeBundle(*decoded));
  if (!again) Fail("a decoded bundle does not decode after re-encoding", &again.error());
  if (!Same(*again, *decoded)) Fail("a re-encoded bundle decodes to a different bundle");
}

}  // namespace
}  // namespace duanka::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duanka::protocol::FuzzOne(std::span<const uint8_t>(data, size));
  return 0;
}
