#include "node/common/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace duanka::node {
namespace {

constexpr int kBlock = -1;  // poll(2)'s "no timeout"

}  // namespace

LineReader::LineReader(int fd)
    : fd_(fd), poll_millis_(kBlock), buffer_(kReadBlockBytes + kMaxBatchLineBytes) {}

LineReader::LineReader(int fd, std::chrono::milliseconds idle_after)
    : fd_(fd),
      poll_millis_(static_cast<int>(idle_after.count())),
      buffer_(kReadBlockBytes + kMaxBatchLineBytes) {}

std::optional<LineReader::Status> LineReader::Fill() {
  const size_t partial = end_ - begin_;
  if (discarding_ || partial > kMaxBatchLineBytes) {
    // The partial line is already too long: drop its bytes and remember to skip to its end.
    discarding_ = true;
    bytes_read_ += partial;
    begin_ = end_ = 0;
  } else {
    std::memmove(buffer_.data(), buffer_.data() + begin_, partial);
    begin_ = 0;
    end_ = partial;
  }
  const bool may_idle = poll_millis_ != kBlock;
  if (may_idle) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, poll_millis_);
    if (ready == 0 || (ready < 0 && errno == EINTR)) return Status::kIdle;
    if (ready < 0) {
      errno_ = errno;
      return Status::kError;
    }
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return std::nullopt;
    }
    if (n == 0) {
      eof_ = true;
      return std::nullopt;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
      if (may_idle) return Status::kIdle;
      if (errno != EINTR) {
        // A non-blocking descriptor (a parent may leave stdin so) has nothing yet: wait for it
        // rather than fail the batch.
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, kBlock) < 0 && errno != EINTR) break;
      }
      continue;
    }
    break;
  }
  errno_ = errno;
  return Status::kError;
}

LineReader::Status LineReader::Next(std::string_view& line) {
  for (;;) {
    const char* start = buffer_.data() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    size_t length = 0;
    if (nl != nullptr) {
      length = static_cast<size_t>(static_cast<const char*>(nl) - start);
      begin_ += length + 1;
      bytes_read_ += length + 1;
    } else if (errno_ != 0) {
      return Status::kError;
    } else if (eof_) {
      if (end_ == begin_ && !discarding_) return Status::kEnd;
      // The last line has no '\n'.
      length = end_ - begin_;
      begin_ = end_;
      bytes_read_ += length;
    } else {
      if (std::optional<Status> stop = Fill()) return *stop;
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

}  // namespace duanka::node
