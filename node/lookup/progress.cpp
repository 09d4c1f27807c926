#include "node/lookup/progress.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "node/lookup/text.h"

namespace duanka::lookup {

Progress::Progress(bool enabled, uint64_t total_bytes)
    : enabled_(enabled),
      total_bytes_(total_bytes),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::Update(uint64_t lines, uint64_t bytes) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(lines) / seconds : 0;
  char buf[160];
  if (total_bytes_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(bytes) / total_bytes_);
    const int filled = static_cast<int>(fraction * kBarWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kBarWidth - filled), '-');
    std::snprintf(buf, sizeof buf, "\r[%s] %3d%%  %llu lines  %.0f lines/s\033[K", bar.c_str(),
                  static_cast<int>(fraction * 100), static_cast<unsigned long long>(lines), rate);
  } else {
    std::snprintf(buf, sizeof buf, "\r%llu lines  %.0f lines/s\033[K",
                  static_cast<unsigned long long>(lines), rate);
  }
  WriteAll(2, buf);
  drawn_ = true;
}

void Progress::Clear() {
  if (!drawn_) return;
  WriteAll(2, "\r\033[K");
  drawn_ = false;
}

}  // namespace duanka::lookup
