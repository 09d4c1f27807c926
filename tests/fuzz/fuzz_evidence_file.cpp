// Fuzz target: an evidence file as `duanka-admin evidence verify` reads it
// (protocol/evidence_file.h).
//
// The whole input is the file. Nothing may crash, leak, throw or trip a sanitizer, and:
//   - a refusal is kMalformed with one bounded line (it must not echo the file);
//   - a file that decodes re-encodes (EncodeEvidenceFile, which must accept it: decoding applies
//     every limit encoding does) to a file that decodes to the same evidence.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "protocol/evidence_file.h"

namespace duanka::protocol {
namespace {

// Errors name a limit or a position; anything much longer is echoing input.
constexpr size_t kMaxErrorMessageLength = 300;

[[noreturn]] void Fail(const char* what, const Error* error = nullptr) {
  std::fprintf(stderr, "fuzz_evidence_file: %s%s%s\n", what, error ? ": " : "",
               error ? error->message.c_str() : "");
  std::abort();
}

bool SameRecord(const SignedRecord& a, const SignedRecord& b) {
  return a.bytes == b.bytes && a.signature == b.signature;
}

bool Same(const EvidenceFile& a, const EvidenceFile& b) {
  if (a.consortium != b.consortium || a.certificates != b.certificates ||
      a.pairs.size() != b.pairs.size() || a.losing.size() != b.losing.size()) {
    return false;
  }
  for (size_t i = 0; i < a.pairs.size(); ++i) {
    if (!SameRecord(a.pairs[i].a, b.pairs[i].a) || !SameRecord(a.pairs[i].b, b.pairs[i].b)) {
      return false;
    }
  }
  for (size_t i = 0; i < a.losing.size(); ++i) {
    if (!SameRecord(a.losing[i], b.losing[i])) return false;
  }
  return true;
}

void FuzzOne(std::span<const uint8_t> input) {
  const std::string_view file(reinterpret_cast<const char*>(input.data()), input.size());
  Result<EvidenceFile> decoded = DecodeEvidenceFile(file);
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
  Result<std::string> encoded = EncodeEvidenceFile(*decoded);
  if (!encoded) Fail("a decoded evidence file does not encode", &encoded.error());
  Result<EvidenceFile> again = DecodeEvidenceFile(*encoded);
  if (!again) Fail("a decoded evidence file does not decode after re-encoding", &again.error());
  if (!Same(*again, *decoded)) Fail("a re-encoded evidence file decodes to a different one");
}

}  // namespace
}  // namespace duanka::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duanka::protocol::FuzzOne(std::span<const uint8_t>(data, size));
  return 0;
}
