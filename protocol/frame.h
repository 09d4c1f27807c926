// Frames: how messages are delimited on a connection between nodes.
//
// A frame is a 4-byte big-endian payload length, then that many bytes of payload (one encoded
// Message, protocol/message.h). Lengths of 0 and lengths over the receiver's limit are protocol
// errors that end the connection. See protocol/README.md section 6.
//
// This is a pure function of the bytes, with no sockets and no clock, so that it can be tested
// byte by byte and fuzzed: the connection reads whatever the socket has, feeds it in, and takes
// out complete frames. How the bytes were split into reads never changes what comes out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>

namespace duanka::protocol {

inline constexpr size_t kFrameHeaderBytes = 4;
// The largest payload a node accepts: a `records` message at its default limit (4096 records of
// at most 1 KiB, about 4.5 MiB) fits with room to spare, while a peer can make a node hold at most
// this much for a frame it has not finished sending.
inline constexpr size_t kDefaultMaxFrameBytes = 8 << 20;

// The frame carrying `payload`: its length as 4 bytes big-endian, then the payload.
// REQUIRES: 1 ≤ payload.size() ≤ UINT32_MAX (our own messages are never empty and stay far below
// any receiver's limit).
std::string EncodeFrame(std::string_view payload);

// Splits a byte stream into frames.
//
//   FrameDecoder decoder(kDefaultMaxFrameBytes);
//   decoder.Feed(bytes_just_read);
//   std::string frame;
//   while (decoder.Next(frame) == FrameDecoder::State::kFrame) Handle(frame);
//   if (decoder.state() == FrameDecoder::State::kError) Close(decoder.error());
//
// Frames come out in stream order; frames completed before a bad header are still returned, and
// then kError. An error is final: later Feed calls are ignored and Next keeps returning kError.
//
// Memory: Feed copies what it is given (the caller's buffer may be reused at once). A header is
// checked as soon as its 4 bytes arrive, so an oversize or zero length is refused before any of
// its payload is stored; a frame's storage grows with the bytes that actually arrive and never
// beyond its announced length (≤ max_frame_bytes), so a peer cannot make the node allocate a
// length it only announced. Complete frames wait inside until Next takes them: call Next until
// kNeedMore after each Feed, and the decoder holds at most one partial frame plus the complete
// frames of the last read.
//
// Not thread-safe: one decoder per connection, used from that connection's strand.
class FrameDecoder {
 public:
  enum class State {
    kNeedMore,  // no complete frame yet: read more and Feed it
    kFrame,     // Next returned a frame
    kError,     // the stream is broken (error() says how): close the connection
  };

  // REQUIRES: max_frame_bytes ≥ 1.
  explicit FrameDecoder(size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Takes the next bytes of the stream (a std::string, std::string_view or buffer converts).
  void Feed(std::span<const char> bytes);
  // A string literal would be fed with its terminating NUL; pass std::string_view("…") instead.
  template <size_t N>
  void Feed(const char (&literal)[N]) = delete;

  // kFrame: `frame_out` is replaced by the next frame's payload (1 … max_frame_bytes bytes).
  // kNeedMore or kError: `frame_out` is left as it was.
  State Next(std::string& frame_out);

  // kFrame when a frame is waiting, else kError or kNeedMore, without taking anything.
  State state() const;
  // One line saying why the stream is broken ("frame length 0", "frame length 9000000 exceeds
  // the limit of 8388608 bytes"); empty unless state() is kError. Valid while *this lives.
  const std::string& error() const { return error_; }

  // Bytes of memory held for frames (the partial frame's capacity and the waiting frames), for
  // metrics and tests.
  size_t buffered_bytes() const;
  size_t max_frame_bytes() const { return max_frame_bytes_; }

 private:
  void Fail(std::string message);

  size_t max_frame_bytes_;
  char header_[kFrameHeaderBytes] = {};
  size_t header_size_ = 0;         // bytes of the current header received so far
  size_t expected_ = 0;            // the current frame's payload length, once its header is in
  std::string partial_;            // the current frame's payload received so far
  std::deque<std::string> ready_;  // complete frames not yet taken, in stream order
  size_t ready_bytes_ = 0;
  bool failed_ = false;
  std::string error_;
};

}  // namespace duanka::protocol
