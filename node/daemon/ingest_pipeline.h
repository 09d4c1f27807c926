// Records from peers on their way into the store: verified on a pool of worker threads (both
// cores), then committed by one writer thread that groups whatever is ready into one transaction
// (group commit). A batch's completion runs only after its commit, so nothing is announced onward
// before it is durable.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "node/common/profile.h"
#include "node/daemon/metrics.h"
#include "node/daemon/sync_env.h"
#include "store/store.h"

namespace duanka::daemon {

// verify_threads and max_clock_skew_seconds from [limits] (IngestOptionsFrom, daemon_options.h).
struct IngestOptions {
  unsigned verify_threads = 1;
  // Batches whose first record is ahead of the feed's head wait this many writer rounds for the
  // batches before them (verification on several threads may finish them out of order).
  unsigned gap_patience_rounds = 8;
  size_t max_waiting_batches = 64;
  // Records dated further ahead of this node's clock are refused as kNotYet (held back).
  int64_t max_clock_skew_seconds = 0;
};

class IngestPipeline : public Ingest {
 public:
  IngestPipeline(store::Store& store, const TrustHolder& trust, Metrics& metrics,
                 std::function<int64_t()> now, IngestOptions options);
  ~IngestPipeline() override;

  // One issuer's contiguous records (seq ascending). `done` runs on the writer thread after the
  // batch was committed (or refused); it must be quick (post elsewhere).
  void Submit(std::vector<protocol::SignedRecord> records, Done done) override;

  // Evidence of equivocation from a peer: verified, then kept (Store::AddEvidence).
  void SubmitEvidence(protocol::SignedRecord a, protocol::SignedRecord b, Done done) override;

  // Stops taking batches, finishes those in hand, joins the threads.
  void Stop();

 private:
  struct Verified;
  void VerifyOne(std::vector<protocol::SignedRecord> records, Done done);
  void WriterLoop();
  void CommitRound(std::vector<std::unique_ptr<Verified>>& round);

  store::Store& store_;
  const TrustHolder& trust_;
  Metrics& metrics_;
  std::function<int64_t()> now_;
  IngestOptions options_;

  std::mutex mutex_;
  std::condition_variable work_ready_;    // verify workers wait on it
  std::condition_variable commit_ready_;  // the writer waits on it
  std::deque<std::function<void()>> verify_queue_;
  std::vector<std::unique_ptr<Verified>> commit_queue_;
  size_t in_verification_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> verifiers_;
  std::thread writer_;
  // Writer thread only.
  std::vector<std::unique_ptr<Verified>> waiting_;  // out-of-order batches (gap), oldest first
  // Remembers how far each feed's profile scan reached, so that each commit scans only what it
  // added (node::SaveProfileScans).
  node::ProfileReader profile_scans_{store_};
};

}  // namespace duanka::daemon
