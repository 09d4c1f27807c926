#include "node/daemon/ingest_pipeline.h"

#include "node/common/human_time.h"
#include "node/common/ingest.h"
#include "node/common/profile.h"
#include "node/daemon/log.h"

#include <algorithm>
#include <chrono>

namespace duanka::daemon {

struct IngestPipeline::Verified {
  std::vector<protocol::VerifiedRecord> records;  // empty for evidence
  std::optional<Error> refused;                   // verification's verdict on the rest
  std::optional<std::pair<protocol::VerifiedRecord, protocol::VerifiedRecord>> evidence;
  Done done;
  unsigned rounds_waited = 0;
};

IngestPipeline::IngestPipeline(store::Store& store, const TrustHolder& trust, Metrics& metrics,
                               std::function<int64_t()> now, IngestOptions options)
    : store_(store), trust_(trust), metrics_(metrics), now_(std::move(now)), options_(options) {
  for (unsigned i = 0; i < std::max(1u, options_.verify_threads); ++i) {
    verifiers_.emplace_back([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      for (;;) {
        work_ready_.wait(lock, [this] { return stopping_ || !verify_queue_.empty(); });
        if (verify_queue_.empty()) return;  // stopping and drained
        std::function<void()> job = std::move(verify_queue_.front());
        verify_queue_.pop_front();
        ++in_verification_;
        lock.unlock();
        job();
        lock.lock();
        --in_verification_;
        commit_ready_.notify_one();
      }
    });
  }
  writer_ = std::thread([this] { WriterLoop(); });
}

IngestPipeline::~IngestPipeline() {
  Stop();
}

void IngestPipeline::Submit(std::vector<protocol::SignedRecord> records, Done done) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return;
  verify_queue_.push_back([this, records = std::move(records), done = std::move(done)]() mutable {
    VerifyOne(std::move(records), std::move(done));
  });
  work_ready_.notify_one();
}

void IngestPipeline::SubmitEvidence(protocol::SignedRecord a, protocol::SignedRecord b, Done done) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return;
  verify_queue_.push_back([this, a = std::move(a), b = std::move(b), done = std::move(done)] {
    auto v = std::make_unique<Verified>();
    v->done = done;
    std::shared_ptr<const protocol::Trust> trust = trust_.Get();
    protocol::VerifyOptions options{now_(), options_.max_clock_skew_seconds};
    // Evidence must stand on its own: each record's own signature, not a chain's.
    Result<protocol::VerifiedRecord> va = protocol::Verify(a, *trust, options);
    Result<protocol::VerifiedRecord> vb = protocol::Verify(b, *trust, options);
    if (!va || !vb) {
      v->refused = va ? vb.error() : va.error();
    } else {
      v->evidence.emplace(std::move(*va), std::move(*vb));
    }
    std::lock_guard<std::mutex> inner(mutex_);
    commit_queue_.push_back(std::move(v));
  });
  work_ready_.notify_one();
}

void IngestPipeline::VerifyOne(std::vector<protocol::SignedRecord> records, Done done) {
  auto v = std::make_unique<Verified>();
  v->done = std::move(done);
  std::shared_ptr<const protocol::Trust> trust = trust_.Get();
  // The same verification as `duanka-admin import` (node/common/ingest.h).
  node::VerifiedRun run = node::VerifyRun(
      records, *trust, protocol::VerifyOptions{now_(), options_.max_clock_skew_seconds});
  v->records = std::move(run.records);
  v->refused = std::move(run.error);
  std::lock_guard<std::mutex> lock(mutex_);
  commit_queue_.push_back(std::move(v));
}

void IngestPipeline::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : verifiers_) {
    if (t.joinable()) t.join();
  }
  commit_ready_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void IngestPipeline::WriterLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  // Batches waiting for their predecessors are retried at least this often.
  static constexpr std::chrono::milliseconds kWaitingRetry{20};
  for (;;) {
    auto ready = [this] {
      return !commit_queue_.empty() ||
             (stopping_ && verify_queue_.empty() && in_verification_ == 0);
    };
    if (waiting_.empty()) {
      commit_ready_.wait(lock, ready);
    } else {
      commit_ready_.wait_for(lock, kWaitingRetry, ready);
    }
    if (commit_queue_.empty() && waiting_.empty()) break;  // stopping, all committed
    if (commit_queue_.empty() && stopping_) break;
    std::vector<std::unique_ptr<Verified>> round = std::move(commit_queue_);
    commit_queue_.clear();
    lock.unlock();
    CommitRound(round);
    lock.lock();
  }
  // Batches still waiting for their predecessors will not get them now.
  for (auto& w : waiting_) {
    BatchOutcome outcome;
    outcome.refused = MakeError(ErrorKind::kGap, "shutting down before earlier records arrived");
    w->done(outcome);
  }
  waiting_.clear();
}

void IngestPipeline::CommitRound(std::vector<std::unique_ptr<Verified>>& round) {
  const int64_t now = now_();
  // Evidence first; then record batches, with the ones that waited for predecessors, in feed
  // order so that consecutive batches of one feed link up inside the one transaction.
  std::vector<std::unique_ptr<Verified>> batches;
  for (auto& v : round) {
    if (v->evidence) {
      BatchOutcome outcome;
      Result<bool> added = store_.AddEvidence(v->evidence->first, v->evidence->second, now);
      if (!added) {
        outcome.refused = added.error();
      } else if (*added) {
        outcome.forks = 1;
        metrics_.CountFork();
      }
      v->done(outcome);
    } else {
      batches.push_back(std::move(v));
    }
  }
  for (auto& w : waiting_) batches.push_back(std::move(w));
  waiting_.clear();
  auto key = [](const std::unique_ptr<Verified>& v) {
    return v->records.empty() ? std::make_pair(std::string(), uint64_t{0})
                              : std::make_pair(v->records.front().record().issuer,
                                               v->records.front().record().seq);
  };
  std::stable_sort(batches.begin(), batches.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });

  std::vector<protocol::VerifiedRecord> all;
  std::vector<size_t> offsets;
  for (auto& b : batches) {
    offsets.push_back(all.size());
    for (auto& r : b->records) all.push_back(std::move(r));
  }
  Result<store::AppendResult> appended = store_.Append(all, now);
  if (appended) {
    for (const store::LimitCrossing& c : appended->crossings) {
      metrics_.CountFloodCrossing();
      LogAlert(
          "issuer {} passed its daily limit of {} new entries on {} (UTC): its further entries of "
          "that day are held (answered as held, not listed) until released (duanka-admin hold "
          "list; hold release {} --day {})",
          c.issuer, c.limit, node::UtcDay(c.day), c.issuer, node::UtcDay(c.day));
    }
    // Where each grown feed's newest profile is, for the lookup CLI (node/common/profile.h).
    std::vector<std::string> grown;
    for (size_t j = 0; j < all.size(); ++j) {
      const std::string& issuer = all[j].record().issuer;
      if (appended->statuses[j] == store::AppendStatus::kAppended &&
          std::find(grown.begin(), grown.end(), issuer) == grown.end()) {
        grown.push_back(issuer);
      }
    }
    if (Status saved = node::SaveProfileScans(store_, profile_scans_, grown); !saved) {
      // Only a start for readers: without it they read the feeds themselves.
      LogWarn("cannot save where the issuers' profiles are: {}", saved.error().message);
    }
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    Verified& b = *batches[i];
    size_t begin = offsets[i];
    size_t end = i + 1 < offsets.size() ? offsets[i + 1] : all.size();
    BatchOutcome outcome;
    if (!appended) {
      outcome.refused = appended.error();
      b.done(outcome);
      continue;
    }
    for (size_t j = begin; j < end; ++j) {
      store::AppendStatus s = appended->statuses[j];
      if (s == store::AppendStatus::kAppended) ++outcome.appended;
      if (s == store::AppendStatus::kDuplicate) ++outcome.duplicates;
      if ((s == store::AppendStatus::kAppended || s == store::AppendStatus::kDuplicate) &&
          all[j].signature_checked()) {
        outcome.signature_checked.push_back(all[j].hash());
      }
      if (s == store::AppendStatus::kForked) {
        ++outcome.forks;
        metrics_.CountFork();
      }
      if (s == store::AppendStatus::kLosing) outcome.losing = true;
      if (!outcome.refused) outcome.refused = node::RefusalOf(s, all[j].record());
    }
    bool whole_batch_early = end > begin && appended->statuses[begin] == store::AppendStatus::kGap;
    if (whole_batch_early && b.rounds_waited < options_.gap_patience_rounds &&
        waiting_.size() < options_.max_waiting_batches) {
      // Give it back its records and let it wait for the batch before it.
      for (size_t j = begin; j < end; ++j) b.records.push_back(std::move(all[j]));
      ++b.rounds_waited;
      waiting_.push_back(std::move(batches[i]));
      continue;
    }
    metrics_.CountRecordsAppended(outcome.appended);
    if (!outcome.refused) outcome.refused = b.refused;
    b.done(outcome);
  }
}

}  // namespace duanka::daemon
