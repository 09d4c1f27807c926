// What every `--batch FILE|-` command of duanka-admin (report, watch) does with its input before
// reading a line: open it (stdin for "-"), refuse a directory, and learn a regular file's size for
// the progress bar; and the blank-trimming and lower-casing their line parsers share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "crypto/base/result.h"

namespace duanka::admin::batch {

// An open input: closed when this goes (stdin is left open).
class BatchInput {
 public:
  BatchInput() = default;
  BatchInput(int fd, uint64_t total_bytes) : fd_(fd), total_bytes_(total_bytes) {}
  BatchInput(BatchInput&& o) noexcept : fd_(o.fd_), total_bytes_(o.total_bytes_) { o.fd_ = 0; }
  BatchInput& operator=(BatchInput&& o) noexcept {
    std::swap(fd_, o.fd_);
    std::swap(total_bytes_, o.total_bytes_);
    return *this;
  }
  BatchInput(const BatchInput&) = delete;
  ~BatchInput();
  // Gives the descriptor up without closing it.
  void Release() { fd_ = 0; }

  int fd() const { return fd_; }
  // A regular file's size; 0 for pipes and terminals, which have none.
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  int fd_ = 0;
  uint64_t total_bytes_ = 0;
};

// kInvalidInput "--batch: cannot open F: why" or "--batch: F is a directory".
Result<BatchInput> OpenBatchInput(const std::string& input);

bool IsBlank(char c);
std::string_view Trim(std::string_view s);  // without leading and trailing blanks
std::string Lower(std::string_view s);      // ASCII letters lower-cased
}  // namespace duanka::admin::batch
