// report --batch: the bounded queue that hands chunks from one thread to the next (reader →
// signer → writer), so that memory stays bounded however far one side runs ahead.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "node/admin/batch_report_limits.h"
#include "node/admin/batch_report_plan.h"

namespace duanka::admin::batch {

class ChunkQueue {
 public:
  // False when the queue was closed (its consumer gave up).
  bool Push(Chunk c) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || queue_.size() < kChunksAhead; });
    if (closed_) return false;
    queue_.push_back(std::move(c));
    not_empty_.notify_one();
    return true;
  }
  // nullopt once the producer finished (or the queue was closed) and it is empty.
  std::optional<Chunk> Pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return finished_ || closed_ || !queue_.empty(); });
    if (queue_.empty() || closed_) return std::nullopt;
    Chunk c = std::move(queue_.front());
    queue_.pop_front();
    not_full_.notify_one();
    return c;
  }
  // The producer has no more.
  void Finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
    not_empty_.notify_all();
  }
  // Either side gives up: wakes both.
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<Chunk> queue_;
  bool finished_ = false, closed_ = false;
};

}  // namespace duanka::admin::batch
