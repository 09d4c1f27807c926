// Per-client request rate limit of the HTTP API: one token bucket per client name, filled at
// `per_second` up to `burst`; a request takes one token or is refused (HTTP 429, Retry-After).
// A client cannot spend another's budget, so one runaway script slows only itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace duanka::daemon {

// Buckets kept at once. Clients are named in a file (a handful), but on an open loopback API the
// name is the caller's address; beyond this, buckets that have refilled (so hold no state worth
// keeping) are dropped, and if none has, the least recently used one.
inline constexpr size_t kMaxRateBuckets = 4096;

class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // per_second 0: no limit (every Take succeeds). burst is at least 1.
  RateLimiter(uint32_t per_second, uint32_t burst, Clock clock = nullptr);

  // Takes a token from `client`'s bucket: nullopt if allowed, else the whole seconds (at least
  // 1) until a token will be there, for Retry-After. Thread-safe.
  std::optional<uint32_t> Take(std::string_view client);

  bool enabled() const { return per_second_ > 0; }
  // Requests refused so far, per client name (for the metrics).
  std::map<std::string, uint64_t> Refused() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;
  };
  void Evict(std::chrono::steady_clock::time_point now);

  const double per_second_;
  const double burst_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  std::map<std::string, uint64_t, std::less<>> refused_;
};

}  // namespace duanka::daemon
