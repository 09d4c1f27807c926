// Frames: length prefix, incremental decoding, and refusal of hostile lengths.
#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace duanka::protocol {
namespace {

using State = FrameDecoder::State;

// Every frame the decoder has ready, then the state it stopped in.
struct Drained {
  std::vector<std::string> frames;
  State last = State::kNeedMore;
};

Drained Drain(FrameDecoder& decoder) {
  Drained out;
  std::string frame;
  while ((out.last = decoder.Next(frame)) == State::kFrame) out.frames.push_back(frame);
  return out;
}

std::string Header(uint32_t length) {
  return std::string{static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                     static_cast<char>(length >> 8), static_cast<char>(length)};
}

TEST(FrameTest, LengthIsFourBytesBigEndian) {
  EXPECT_EQ(EncodeFrame("abc"), std::string("\0\0\0\3abc", 7));
  const std::string payload(0x010203, 'x');
  const std::string frame = EncodeFrame(payload);
  ASSERT_EQ(frame.size(), 4 + payload.size());
  EXPECT_EQ(frame.substr(0, 4), std::string("\x00\x01\x02\x03", 4));
}

TEST(FrameTest, NothingFedNeedsMore) {
  FrameDecoder decoder(1024);
  std::string frame = "untouched";
  EXPECT_EQ(decoder.Next(frame), State::kNeedMore);
  EXPECT_EQ(frame, "untouched");
  EXPECT_TRUE(decoder.error().empty());
}

TEST(FrameTest, TruncatedFrameWaitsForMore) {
  FrameDecoder decoder(1024);
  const std::string frame = EncodeFrame("hello, peer");
  decoder.Feed(std::string_view(frame).substr(0, 2));  // half a header
  EXPECT_EQ(decoder.state(), State::kNeedMore);
  decoder.Feed(std::string_view(frame).substr(2, 6));  // the header and 4 payload bytes
  std::string out = "untouched";
  EXPECT_EQ(decoder.Next(out), State::kNeedMore);
  EXPECT_EQ(out, "untouched");
  decoder.Feed(std::string_view(frame).substr(8));
  EXPECT_EQ(decoder.Next(out), State::kFrame);
  EXPECT_EQ(out, "hello, peer");
  EXPECT_EQ(decoder.Next(out), State::kNeedMore);
}

TEST(FrameTest, FrameSplitAtEveryByteBoundary) {
  const std::vector<std::string> payloads = {"a", std::string(300, 'b'), "ccc",
                                             std::string(1, '\0')};
  std::string stream;
  for (const std::string& p : payloads) stream += EncodeFrame(p);

  // Two reads, split at every position.
  for (size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder decoder(1024);
    decoder.Feed(std::string_view(stream).substr(0, split));
    Drained first = Drain(decoder);
    decoder.Feed(std::string_view(stream).substr(split));
    Drained second = Drain(decoder);
    first.frames.insert(first.frames.end(), second.frames.begin(), second.frames.end());
    EXPECT_EQ(first.frames, payloads) << "split at " << split;
    EXPECT_EQ(second.last, State::kNeedMore) << "split at " << split;
  }

  // One byte per read.
  FrameDecoder decoder(1024);
  std::vector<std::string> got;
  for (char c : stream) {
    decoder.Feed(std::string_view(&c, 1));
    Drained d = Drain(decoder);
    got.insert(got.end(), d.frames.begin(), d.frames.end());
  }
  EXPECT_EQ(got, payloads);
}

TEST(FrameTest, TwoFramesInOneRead) {
  FrameDecoder decoder(1024);
  decoder.Feed(EncodeFrame("first") + EncodeFrame("second") + EncodeFrame("th").substr(0, 5));
  Drained d = Drain(decoder);
  EXPECT_EQ(d.frames, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(d.last, State::kNeedMore);
  decoder.Feed(std::string_view("h"));
  d = Drain(decoder);
  EXPECT_EQ(d.frames, std::vector<std::string>{"th"});
}

TEST(FrameTest, LengthAtTheLimitAccepted) {
  FrameDecoder decoder(64);
  decoder.Feed(EncodeFrame(std::string(64, 'x')));
  Drained d = Drain(decoder);
  ASSERT_EQ(d.frames.size(), 1u);
  EXPECT_EQ(d.frames[0], std::string(64, 'x'));
  EXPECT_EQ(d.last, State::kNeedMore);
}

TEST(FrameTest, OversizeLengthRejectedBeforeBuffering) {
  FrameDecoder decoder(64);
  decoder.Feed(Header(65));  // the header alone: the payload has not arrived
  std::string out;
  EXPECT_EQ(decoder.Next(out), State::kError);
  EXPECT_NE(decoder.error().find("65"), std::string::npos) << decoder.error();
  EXPECT_NE(decoder.error().find("64"), std::string::npos) << decoder.error();
  // The payload that follows is not stored, and the error is final.
  decoder.Feed(std::string(65, 'x'));
  decoder.Feed(EncodeFrame("valid"));
  EXPECT_LE(decoder.buffered_bytes(), sizeof(std::string));
  EXPECT_EQ(decoder.Next(out), State::kError);
  EXPECT_EQ(decoder.state(), State::kError);
}

TEST(FrameTest, HugeLengthRejectedWithDefaultLimit) {
  FrameDecoder decoder;
  decoder.Feed(Header(0xffffffff) + "xxxx");
  std::string out;
  EXPECT_EQ(decoder.Next(out), State::kError);
  EXPECT_LE(decoder.buffered_bytes(), sizeof(std::string));
}

TEST(FrameTest, AnnouncedLengthIsNotAllocatedAhead) {
  // A peer announces the largest frame allowed and sends ten bytes of it.
  FrameDecoder decoder(kDefaultMaxFrameBytes);
  decoder.Feed(Header(kDefaultMaxFrameBytes) + std::string(10, 'x'));
  EXPECT_EQ(decoder.state(), State::kNeedMore);
  EXPECT_LT(decoder.buffered_bytes(), 4096u);
  // Memory follows what arrives, within a factor of two.
  decoder.Feed(std::string(100'000, 'y'));
  EXPECT_GE(decoder.buffered_bytes(), 100'010u);
  EXPECT_LE(decoder.buffered_bytes(), 2 * 100'010u);
}

TEST(FrameTest, PartialFrameNeverHoldsMoreThanItsLength) {
  FrameDecoder decoder(1 << 20);
  decoder.Feed(Header(100'000));
  for (int i = 0; i < 999; ++i) {
    decoder.Feed(std::string(100, 'p'));
    ASSERT_LE(decoder.buffered_bytes(), 100'000u) << "after " << (i + 1) * 100 << " bytes";
  }
}

TEST(FrameTest, ZeroLengthRejected) {
  FrameDecoder decoder(1024);
  decoder.Feed(Header(0));
  std::string out;
  EXPECT_EQ(decoder.Next(out), State::kError);
  EXPECT_NE(decoder.error().find("length 0"), std::string::npos) << decoder.error();
}

TEST(FrameTest, FramesBeforeABadHeaderAreDeliveredThenError) {
  FrameDecoder decoder(1024);
  decoder.Feed(EncodeFrame("good") + Header(0) + EncodeFrame("never"));
  std::string out;
  ASSERT_EQ(decoder.Next(out), State::kFrame);
  EXPECT_EQ(out, "good");
  EXPECT_EQ(decoder.Next(out), State::kError);
  EXPECT_EQ(out, "good");  // left as it was
  EXPECT_EQ(decoder.Next(out), State::kError);
}

TEST(FrameTest, BufferedBytesReturnToZeroWhenDrained) {
  FrameDecoder decoder(1 << 20);
  decoder.Feed(EncodeFrame(std::string(500'000, 'z')));
  EXPECT_GE(decoder.buffered_bytes(), 500'000u);
  std::string out;
  ASSERT_EQ(decoder.Next(out), State::kFrame);
  EXPECT_EQ(out.size(), 500'000u);
  EXPECT_LE(decoder.buffered_bytes(), sizeof(std::string));
}

}  // namespace
}  // namespace duanka::protocol
