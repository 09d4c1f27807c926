// Lines of a batch file or stdin, read in large blocks and bounded in length, so that no input
// (binary garbage, a 100 MB line, a closed stdin) can make duanka hang or grow without limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace duanka::lookup {

// The longest batch line read as a line. A valid one is a type name (at most 12 bytes), a comma
// and a value of at most protocol::kMaxIdentifierInputBytes (256), perhaps with spaces and a
// '\r': 1 KiB leaves room for padding. Longer lines are answered "invalid" without being kept:
// their bytes are skipped as they stream past.
inline constexpr size_t kMaxBatchLineBytes = 1024;

// Bytes asked of read(2) at a time: large enough that system calls cost nothing per line.
inline constexpr size_t kReadBlockBytes = size_t{1} << 20;

class LineReader {
 public:
  enum class Status : uint8_t {
    kLine,     // `line` holds the next line, without its '\n' and a trailing '\r'
    kTooLong,  // the next line was longer than kMaxBatchLineBytes; it was skipped
    kEnd,      // no more input
    kError,    // read(2) failed; errno says why
  };

  // Reads `fd` (not owned; it stays open).
  explicit LineReader(int fd);

  // The next line. `line` points into the reader's buffer and is valid until the next call.
  Status Next(std::string_view& line);

  // Bytes consumed so far, for progress.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  // Refills the buffer after keeping (or, when discarding, dropping) the partial line at its
  // end. False at end of input or on an error (error_ set).
  bool Fill();

  int fd_;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // the unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  bool error_ = false;
  bool discarding_ = false;  // inside a line that is already too long
  uint64_t bytes_read_ = 0;
};

}  // namespace duanka::lookup
