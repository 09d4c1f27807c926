// Fuzz target: a message payload as it arrives from a peer, inside one frame.
//
// The whole input is the payload, given to DecodeMessage with the default limits. Nothing may
// crash, leak, throw or trip a sanitizer, and these properties must hold (abort otherwise):
//   - decoding does not depend on where the bytes sit in memory (aligned or not);
//   - a refusal is kMalformed with one bounded line;
//   - a message that decodes re-encodes (EncodeMessage) to a payload that decodes to the same
//     message, and encoding that again gives the same bytes;
//   - limits only ever refuse: whatever decodes under tight limits decodes under the defaults.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "protocol/message.h"

namespace duanka::protocol {
namespace {

// Errors name a field and a number or two; anything much longer is echoing input.
constexpr size_t kMaxErrorMessageLength = 300;

[[noreturn]] void Fail(const char* what, const Error* error = nullptr) {
  std::fprintf(stderr, "fuzz_message: %s%s%s\n", what, error ? ": " : "",
               error ? error->message.c_str() : "");
  std::abort();
}

void CheckRefusal(const Result<Message>& m) {
  if (m.ok()) return;
  if (m.error().kind != ErrorKind::kMalformed) Fail("a refusal is not kMalformed", &m.error());
  if (m.error().message.find('\n') != std::string::npos ||
      m.error().message.size() > kMaxErrorMessageLength) {
    Fail("a refusal is not one short line", &m.error());
  }
}

void FuzzOne(std::span<const uint8_t> input) {
  const std::string_view payload(reinterpret_cast<const char*>(input.data()), input.size());
  Result<Message> decoded = DecodeMessage(payload);
  CheckRefusal(decoded);

  // libFuzzer's buffer is aligned; one byte into a copy is not, which takes the copying path.
  const std::string shifted = " " + std::string(payload);
  Result<Message> unaligned = DecodeMessage(std::string_view(shifted).substr(1));
  if (decoded.ok() != unaligned.ok()) Fail("decoding depends on alignment");
  if (decoded && !(*decoded == *unaligned)) Fail("aligned and unaligned decoding disagree");

  MessageLimits tight;
  tight.max_records = 2;
  tight.max_heads = 2;
  tight.max_certs = 2;
  tight.max_cert_bytes = 64;
  tight.max_want_count = 2;
  tight.max_evidence = 1;
  tight.max_pepper_epochs = 2;
  tight.max_objects = 1;
  tight.max_object_bytes = 64;
  Result<Message> under_tight = DecodeMessage(payload, tight);
  CheckRefusal(under_tight);
  if (under_tight && !decoded) Fail("tight limits accept what the defaults refuse");
  if (under_tight && !(*under_tight == *decoded)) Fail("limits change what a message decodes to");

  if (!decoded) return;
  const std::string encoded = EncodeMessage(*decoded);
  Result<Message> again = DecodeMessage(encoded);
  if (!again) Fail("a decoded message does not decode after re-encoding", &again.error());
  if (!(*again == *decoded)) Fail("a re-encoded message decodes to a different message");
  if (EncodeMessage(*again) != encoded) Fail("encoding is not deterministic");
}

}  // namespace
}  // namespace duanka::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duanka::protocol::FuzzOne(std::span<const uint8_t>(data, size));
  return 0;
}
