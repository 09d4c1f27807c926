#include "node/daemon/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace duanka::daemon {

// The refused-request counters are per client name; on an open loopback API names are addresses,
// so past this many the rest are counted together under one label.
constexpr size_t kMaxRefusedLabels = 256;
constexpr std::string_view kOtherClients = "other";

RateLimiter::RateLimiter(uint32_t per_second, uint32_t burst, Clock clock)
    : per_second_(per_second),
      burst_(std::max<uint32_t>(burst, 1)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

std::optional<uint32_t> RateLimiter::Take(std::string_view client) {
  if (per_second_ <= 0) return std::nullopt;
  const auto now = clock_();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxRateBuckets) Evict(now);
    it = buckets_.emplace(std::string(client), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * per_second_);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return std::nullopt;
  }
  auto counter = refused_.find(client);
  if (counter == refused_.end()) {
    counter = refused_.size() < kMaxRefusedLabels
                  ? refused_.emplace(std::string(client), 0).first
                  : refused_.try_emplace(std::string(kOtherClients), 0).first;
  }
  ++counter->second;
  const double wait = (1 - b.tokens) / per_second_;
  return static_cast<uint32_t>(std::max(1.0, std::ceil(wait)));
}

void RateLimiter::Evict(std::chrono::steady_clock::time_point now) {
  std::erase_if(buckets_, [&](const auto& entry) {
    const double elapsed = std::chrono::duration<double>(now - entry.second.at).count();
    return entry.second.tokens + elapsed * per_second_ >= burst_;
  });
  if (buckets_.size() < kMaxRateBuckets) return;
  buckets_.erase(
      std::min_element(buckets_.begin(), buckets_.end(),
                       [](const auto& a, const auto& b) { return a.second.at < b.second.at; }));
}

std::map<std::string, uint64_t> RateLimiter::Refused() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {refused_.begin(), refused_.end()};
}

}  // namespace duanka::daemon
