// A progress bar on stderr for long batches (`duanka lookup --batch`, `duanka-admin report
// --batch`), drawn only when enabled (stderr is a terminal: never into a log file or a pipe), at
// most a few times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace duanka::node {

class Progress {
 public:
  // total_bytes: the input's size when known (a regular file), else 0 (the text only, no bar).
  Progress(bool enabled, uint64_t total_bytes);
  ~Progress() { Clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Cheap to call often: draws only once kRedrawInterval has passed since the start or the last
  // draw. `bytes`: how much of the input is done. `describe(seconds)`, asked only when drawing,
  // gives the counts shown after the bar (seconds: since the start, for rates).
  template <typename Describe>
  void Update(uint64_t bytes, const Describe& describe) {
    if (!enabled_) return;
    const Clock::time_point now = Clock::now();
    if (now - last_draw_ < kRedrawInterval) return;
    last_draw_ = now;
    Draw(bytes, describe(std::chrono::duration<double>(now - start_).count()));
  }
  // Erases the bar, so that the next line on stderr starts clean.
  void Clear();

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kRedrawInterval{200};
  // Narrow, because report --batch's counts after the bar are long.
  static constexpr int kBarWidth = 24;

  void Draw(uint64_t bytes, std::string_view text);

  bool enabled_;
  bool drawn_ = false;
  uint64_t total_bytes_;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace duanka::node
