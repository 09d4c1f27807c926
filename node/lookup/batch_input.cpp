#include "node/lookup/batch_input.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace duanka::lookup {

LineReader::LineReader(int fd) : fd_(fd), buffer_(kReadBlockBytes + kMaxBatchLineBytes) {}

bool LineReader::Fill() {
  const size_t partial = end_ - begin_;
  if (discarding_ || partial > kMaxBatchLineBytes) {
    // The partial line is already too long: drop its bytes and remember to skip to its end.
    discarding_ = true;
    begin_ = end_ = 0;
  } else {
    std::memmove(buffer_.data(), buffer_.data() + begin_, partial);
    begin_ = 0;
    end_ = partial;
  }
  for (;;) {
    ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      bytes_read_ += static_cast<uint64_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    error_ = true;
    return false;
  }
}

LineReader::Status LineReader::Next(std::string_view& line) {
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    size_t length = 0;
    if (nl != nullptr) {
      length = static_cast<size_t>(static_cast<const char*>(nl) - start);
      begin_ += length + 1;
    } else if (eof_ || error_) {
      if (error_) return Status::kError;
      if (end_ == begin_ && !discarding_) return Status::kEnd;
      // The last line has no '\n'.
      length = end_ - begin_;
      begin_ = end_;
    } else {
      Fill();
      continue;
    }
    if (discarding_ || length > kMaxBatchLineBytes) {
      discarding_ = false;
      return Status::kTooLong;
    }
    if (length > 0 && start[length - 1] == '\r') --length;
    line = std::string_view(start, length);
    return Status::kLine;
  }
}

}  // namespace duanka::lookup
