// Frame encoding and the incremental frame decoder (frame.h).
#include "protocol/frame.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

namespace duanka::protocol {

std::string EncodeFrame(std::string_view payload) {
  assert(!payload.empty() && payload.size() <= std::numeric_limits<uint32_t>::max());
  const auto n = static_cast<uint32_t>(payload.size());
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(payload);
  return out;
}

FrameDecoder::FrameDecoder(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {
  assert(max_frame_bytes >= 1);
}

void FrameDecoder::Fail(std::string message) {
  failed_ = true;
  error_ = std::move(message);
  // Nothing more of this stream will be used; give the partial frame's memory back now.
  std::string().swap(partial_);
}

void FrameDecoder::Feed(std::span<const char> bytes) {
  while (!bytes.empty() && !failed_) {
    if (header_size_ < kFrameHeaderBytes) {
      const size_t take = std::min(kFrameHeaderBytes - header_size_, bytes.size());
      std::copy_n(bytes.begin(), take, header_ + header_size_);
      header_size_ += take;
      bytes = bytes.subspan(take);
      if (header_size_ < kFrameHeaderBytes) return;
      // Check the length the moment it is known, before storing a byte of its payload.
      const auto b = [this](size_t i) {
        return static_cast<uint32_t>(static_cast<uint8_t>(header_[i]));
      };
      const uint32_t length = b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
      if (length == 0) return Fail("frame length 0: every frame carries a message");
      if (length > max_frame_bytes_) {
        return Fail("frame length " + std::to_string(length) + " exceeds the limit of " +
                    std::to_string(max_frame_bytes_) + " bytes");
      }
      expected_ = length;
      continue;
    }
    const size_t take = std::min(expected_ - partial_.size(), bytes.size());
    const size_t needed = partial_.size() + take;
    if (partial_.capacity() < needed) {
      // Grow geometrically with what has arrived, but never past the announced length: a peer
      // that announces 8 MiB and sends 10 bytes costs 10 bytes, not 8 MiB. (A fresh string,
      // because std::string::reserve on a non-empty one may round up to twice its capacity.)
      std::string grown;
      grown.reserve(std::min(expected_, std::max(needed, 2 * partial_.capacity())));
      grown.append(partial_);
      partial_.swap(grown);
    }
    partial_.append(bytes.data(), take);
    bytes = bytes.subspan(take);
    if (partial_.size() == expected_) {
      ready_bytes_ += partial_.size();
      ready_.push_back(std::move(partial_));
      partial_ = std::string();
      header_size_ = 0;
      expected_ = 0;
    }
  }
}

FrameDecoder::State FrameDecoder::state() const {
  if (!ready_.empty()) return State::kFrame;
  return failed_ ? State::kError : State::kNeedMore;
}

FrameDecoder::State FrameDecoder::Next(std::string& frame_out) {
  const State s = state();
  if (s != State::kFrame) return s;
  ready_bytes_ -= ready_.front().size();
  frame_out = std::move(ready_.front());
  ready_.pop_front();
  return State::kFrame;
}

size_t FrameDecoder::buffered_bytes() const {
  return partial_.capacity() + ready_bytes_;
}

}  // namespace duanka::protocol
