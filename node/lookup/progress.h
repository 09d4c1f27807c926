// A progress bar on stderr for long batches, drawn only when stderr is a terminal (never into a
// log file or a pipe), at most a few times a second.
#pragma once

#include <chrono>
#include <cstdint>

namespace duanka::lookup {

class Progress {
 public:
  // total_bytes: the input's size when known (a regular file), else 0 (lines only, no bar).
  Progress(bool enabled, uint64_t total_bytes);
  ~Progress() { Clear(); }

  // Cheap to call often: draws only when kRedrawInterval has passed.
  void Update(uint64_t lines, uint64_t bytes);
  // Erases the bar, so that the summary line starts clean.
  void Clear();

 private:
  static constexpr std::chrono::milliseconds kRedrawInterval{200};
  static constexpr int kBarWidth = 30;

  bool enabled_;
  bool drawn_ = false;
  uint64_t total_bytes_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace duanka::lookup
