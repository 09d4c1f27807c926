// Events over the last minute, for a figure a person reads ("lookups per minute" on the status
// page); Prometheus computes its own rates from the counters. One-second slots in a ring, each an
// atomic word holding the second it counts and its count, so that counting is one CAS and no
// count is lost to a concurrent reset of the slot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace duanka::daemon {

class MinuteRate {
 public:
  static constexpr int64_t kWindowSeconds = 60;

  // One event at `second` (any monotonic count of seconds).
  void Add(int64_t second) {
    std::atomic<uint64_t>& slot = slots_[Index(second)];
    const uint64_t stamp = Stamp(second);
    uint64_t seen = slot.load(std::memory_order_relaxed);
    uint64_t next;
    do {
      // A slot still counting a second one ring ago starts again from this one.
      next = (seen >> kCountBits) == stamp ? seen + 1 : (stamp << kCountBits) | 1;
    } while (!slot.compare_exchange_weak(seen, next, std::memory_order_relaxed));
  }

  // Events in the window ending with `second` (that second and the kWindowSeconds - 1 before).
  uint64_t Count(int64_t second) const {
    uint64_t total = 0;
    for (int64_t s = second - kWindowSeconds + 1; s <= second; ++s) {
      const uint64_t v = slots_[Index(s)].load(std::memory_order_relaxed);
      if ((v >> kCountBits) == Stamp(s)) total += v & kCountMask;
    }
    return total;
  }

 private:
  // 2^32 events in one second is beyond any node; 2^32 seconds (136 years) of stamps, the same.
  static constexpr int kCountBits = 32;
  static constexpr uint64_t kCountMask = (uint64_t{1} << kCountBits) - 1;

  static size_t Index(int64_t second) {
    return static_cast<size_t>(static_cast<uint64_t>(second) % kWindowSeconds);
  }
  static uint64_t Stamp(int64_t second) { return static_cast<uint64_t>(second) & kCountMask; }

  std::array<std::atomic<uint64_t>, kWindowSeconds> slots_{};
};

}  // namespace duanka::daemon
