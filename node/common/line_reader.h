// Lines of a batch file or stdin, read in large blocks and bounded in length, so that no input
// (binary garbage, a 100 MB line, a closed stdin) can make a batch hang or grow without limit.
// `duanka lookup --batch` and `duanka-admin report --batch` both read their input through it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace duanka::node {

// The longest batch line read as a line, counting a trailing '\r' but not the '\n'. A lookup
// line is a type name (at most 12 bytes), a comma and a value of at most
// protocol::kMaxIdentifierInputBytes (256); a report line adds a category (≤ 13), a basis (≤ 14),
// a case reference of at most protocol::kMaxCaseRefBytes (64; a little more quoted) and a date
// (10): about 400 bytes with separators and spaces. 1 KiB leaves room for padding. Longer lines
// are answered "invalid" without being kept: their bytes are skipped as they stream past.
inline constexpr size_t kMaxBatchLineBytes = 1024;

// Bytes asked of read(2) at a time: large enough that system calls cost nothing per line.
inline constexpr size_t kReadBlockBytes = size_t{1} << 20;

class LineReader {
 public:
  enum class Status : uint8_t {
    kLine,     // `line` holds the next line, without its '\n' and a trailing '\r'
    kTooLong,  // the next line was longer than kMaxBatchLineBytes; its bytes were skipped
    kIdle,     // (only with idle_after) nothing arrived for that long; ask again
    kEnd,      // no more input
    kError,    // read(2) or poll(2) failed; errno_value() says why
  };

  // Reads `fd` (not owned; it stays open), waiting as long as the input takes.
  explicit LineReader(int fd);
  // The same, but Next returns kIdle when nothing arrives for `idle_after` (or a signal
  // arrives), so that a caller reading a slow pipe can publish what it has or notice an
  // interruption.
  LineReader(int fd, std::chrono::milliseconds idle_after);

  // The next line. `line` points into the reader's buffer and is valid until the next call.
  Status Next(std::string_view& line);

  // Bytes of the input consumed by the lines returned so far, for progress.
  uint64_t bytes_read() const { return bytes_read_; }
  // The errno of the failure after kError (kept, because errno itself is not).
  int errno_value() const { return errno_; }

 private:
  // Refills the buffer after keeping (or, when discarding, dropping) the partial line at its
  // end. nullopt: go on scanning; otherwise the status Next returns (kIdle or kError).
  std::optional<Status> Fill();

  int fd_;
  int poll_millis_;  // -1: block in read(2)
  std::vector<char> buffer_;
  size_t begin_ = 0;  // the unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  bool discarding_ = false;  // inside a line that is already too long
  uint64_t bytes_read_ = 0;
  int errno_ = 0;  // nonzero once read(2) or poll(2) failed; Next then returns kError
};

}  // namespace duanka::node
