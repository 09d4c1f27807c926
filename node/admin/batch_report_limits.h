// report --batch: the limits and tuning its stages share (the line limits are node/common's
// kMaxBatchLineBytes and kReadBlockBytes, shared with duanka lookup --batch).
#pragma once

#include <chrono>
#include <cstddef>

namespace duanka::admin::batch {

// Input lines per write transaction (so at most this many entries per AppendOwn). One commit
// (one fsync) per 10,000 entries costs nothing per entry; the subjects index pages a commit
// rewrites are shared by more entries the larger the batch; and an interrupted run loses at
// most this many lines' work, which the next run redoes.
inline constexpr size_t kLinesPerTransaction = 10'000;

// How long a chunk that has lines waits for more from a slow pipe before it is published anyway,
// so that `producer | duanka-admin report --batch -` publishes as it goes.
inline constexpr std::chrono::milliseconds kMaxChunkWait{1000};
// How often a blocked read wakes to notice an interruption.
inline constexpr std::chrono::milliseconds kPollInterval{100};

// Chunks each queue between the threads holds: enough to keep both cores busy, few enough to
// bound memory (a signed chunk holds a few MB).
inline constexpr size_t kChunksAhead = 2;

// Invalid lines named on stderr as well as on stdout; the rest are only counted there.
inline constexpr size_t kMaxInvalidLinesOnStderr = 20;

}  // namespace duanka::admin::batch
