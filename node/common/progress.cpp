#include "node/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace duanka::node {
namespace {

// Best effort: a progress bar that cannot be drawn is no reason to stop a batch.
void WriteStderr(std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(2, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

Progress::Progress(bool enabled, uint64_t total_bytes)
    : enabled_(enabled), total_bytes_(total_bytes), start_(Clock::now()), last_draw_(start_) {}

void Progress::Draw(uint64_t bytes, std::string_view text) {
  std::string line = "\r";
  if (total_bytes_ > 0) {
    const double fraction =
        std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_bytes_));
    const int filled = static_cast<int>(fraction * kBarWidth);
    line += '[';
    line.append(static_cast<size_t>(filled), '#');
    line.append(static_cast<size_t>(kBarWidth - filled), '-');
    char percent[16];
    std::snprintf(percent, sizeof percent, "] %3d%%  ", static_cast<int>(fraction * 100));
    line += percent;
  }
  line += text;
  line += "\033[K";  // the end of a longer line drawn before
  WriteStderr(line);
  drawn_ = true;
}

void Progress::Clear() {
  if (!drawn_) return;
  WriteStderr("\r\033[K");
  drawn_ = false;
}

}  // namespace duanka::node
