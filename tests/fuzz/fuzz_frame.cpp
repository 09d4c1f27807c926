// Fuzz target: the frame decoder, fed a peer's byte stream in reads of any size.
//
// Input layout: the first 8 bytes (zero-padded when shorter) seed a small PRNG that chooses read
// sizes, the frame limit and how the stream is cut into payloads; the rest is the stream. Nothing
// may crash, leak or trip a sanitizer, and these properties must hold (abort otherwise):
//   - on arbitrary bytes, with a small limit so that it is reachable: the frames, the final state
//     and the error text are the same however the stream is split into reads (one read, random
//     reads, one byte at a time for short streams), and the same as a plain reference parser's;
//     every frame is 1 … limit bytes; the decoder never holds more than twice the bytes fed, nor
//     (after an error) anything at all;
//   - the stream cut into payloads, each framed with EncodeFrame, concatenated and fed at random
//     split points, comes back as exactly those payloads, with no error.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame.h"

namespace duanka::protocol {
namespace {

using State = FrameDecoder::State;

// Streams up to this long are also fed one byte per read.
constexpr size_t kMaxBytewiseStream = 1024;

// A broken property: report it on stderr (libFuzzer saves the input) and abort.
[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz_frame: %s\n", what);
  std::abort();
}

// splitmix64: deterministic, so that a saved input replays exactly.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  // 1 … max, biased towards small values so that reads split headers often.
  size_t Size(size_t max) {
    const uint64_t r = Next();
    const size_t cap = (r & 3) == 0 ? max : std::min<size_t>(max, 16);
    return 1 + static_cast<size_t>((r >> 2) % cap);
  }
};

struct Outcome {
  std::vector<std::string> frames;
  State state = State::kNeedMore;
  std::string error;
  bool operator==(const Outcome&) const = default;
};

void Drain(FrameDecoder& decoder, Outcome& out, size_t fed) {
  if (decoder.buffered_bytes() > 2 * fed + 64)
    Fail("decoder holds more than twice what it was fed");
  std::string frame;
  State s;
  while ((s = decoder.Next(frame)) == State::kFrame) {
    if (frame.empty() || frame.size() > decoder.max_frame_bytes()) {
      Fail("a frame is empty or larger than the limit");
    }
    out.frames.push_back(frame);
  }
  out.state = s;
  out.error = decoder.error();
  if (s == State::kError && decoder.buffered_bytes() > sizeof(std::string)) {
    Fail("a broken decoder still holds a partial frame");
  }
}

// Feeds `stream` in reads whose sizes `next_size` chooses, taking frames after each read.
template <typename NextSize>
Outcome FeedInReads(std::string_view stream, size_t limit, NextSize next_size) {
  FrameDecoder decoder(limit);
  Outcome out;
  size_t fed = 0;
  while (fed < stream.size()) {
    const size_t n = std::min(next_size(), stream.size() - fed);
    decoder.Feed(stream.substr(fed, n));
    fed += n;
    Drain(decoder, out, fed);
  }
  Drain(decoder, out, fed);
  return out;
}

// The reference: the frame format read straight off the whole stream.
Outcome Reference(std::string_view stream, size_t limit) {
  Outcome out;
  while (stream.size() >= kFrameHeaderBytes) {
    const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(stream[i])); };
    const uint32_t length = b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
    if (length == 0 || length > limit) {
      out.state = State::kError;
      return out;
    }
    if (stream.size() - kFrameHeaderBytes < length) break;
    out.frames.emplace_back(stream.substr(kFrameHeaderBytes, length));
    stream.remove_prefix(kFrameHeaderBytes + length);
  }
  return out;
}

void ArbitraryStream(std::string_view stream, Rng& rng) {
  // Small limits, so that the fuzzer reaches the limit with short inputs.
  const size_t limit = 1 + rng.Next() % 512;
  const Outcome whole = FeedInReads(stream, limit, [&] { return stream.size() + 1; });
  const Outcome random = FeedInReads(stream, limit, [&] { return rng.Size(64); });
  if (!(whole == random)) Fail("the outcome depends on how reads split");
  // One byte per read is the slowest way through; short streams show every boundary already.
  if (stream.size() <= kMaxBytewiseStream &&
      !(whole == FeedInReads(stream, limit, [] { return size_t{1}; }))) {
    Fail("the outcome of one-byte reads differs");
  }
  Outcome reference = Reference(stream, limit);
  reference.error = whole.error;  // the reference does not word its errors
  if (!(whole == reference)) Fail("the decoder disagrees with the reference parser");
  if ((whole.state == State::kError) == whole.error.empty()) {
    Fail("an error without a message, or a message without an error");
  }
}

void FramedPayloads(std::string_view data, Rng& rng) {
  std::vector<std::string> payloads;
  std::string stream;
  while (!data.empty()) {
    const size_t n = std::min(rng.Size(256), data.size());
    payloads.emplace_back(data.substr(0, n));
    stream += EncodeFrame(payloads.back());
    data.remove_prefix(n);
  }
  const Outcome got = FeedInReads(stream, kDefaultMaxFrameBytes, [&] { return rng.Size(300); });
  if (got.frames != payloads) Fail("framed payloads do not come back exactly");
  if (got.state != State::kNeedMore || !got.error.empty()) Fail("valid frames end in an error");
}

void FuzzOne(std::span<const uint8_t> input) {
  uint64_t seed = 0;
  const size_t seed_bytes = std::min(input.size(), sizeof(seed));
  std::memcpy(&seed, input.data(), seed_bytes);
  const std::string_view stream(reinterpret_cast<const char*>(input.data()) + seed_bytes,
                                input.size() - seed_bytes);
  Rng rng{seed};
  ArbitraryStream(stream, rng);
  FramedPayloads(stream, rng);
}

}  // namespace
}  // namespace duanka::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duanka::protocol::FuzzOne(std::span<const uint8_t>(data, size));
  return 0;
}
