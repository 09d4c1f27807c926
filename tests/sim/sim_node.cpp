#include "tests/sim/sim_node.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <span>
#include <stdexcept>

#include "node/common/ingest.h"

namespace duanka::sim {
namespace {

// Simulated cost of verifying and committing a batch: what orders commits among messages.
constexpr SimTime kVerifyBase = 100;      // µs per batch
constexpr SimTime kVerifyPerRecord = 20;  // µs per record (hashing; one signature per segment)
constexpr SimTime kCommit = 500;          // µs: one durable LMDB transaction
// As the daemon's IngestOptions: a batch whose first record is ahead of the head waits this many
// commit rounds for the batches before it, each round this long.
constexpr unsigned kGapPatienceRounds = 8;
constexpr SimTime kGapRetry = 20 * kMillisecond;
// A small map that grows by doubling, as a fresh node's does.
constexpr uint64_t kInitialMapBytes = 1 << 20;
constexpr int64_t kYear = 365 * 24 * 3600;

// The outcome of one batch from its append statuses: the mapping node/daemon/ingest_pipeline.cpp
// makes (the first gap, conflict or frozen feed refuses the rest of the batch).
daemon::BatchOutcome OutcomeOf(const store::AppendResult& appended,
                               std::span<const protocol::VerifiedRecord> records) {
  daemon::BatchOutcome outcome;
  for (size_t j = 0; j < records.size(); ++j) {
    store::AppendStatus s = appended.statuses[j];
    if (s == store::AppendStatus::kAppended) ++outcome.appended;
    if (s == store::AppendStatus::kDuplicate) ++outcome.duplicates;
    if (s == store::AppendStatus::kForked) ++outcome.forks;
    if ((s == store::AppendStatus::kAppended || s == store::AppendStatus::kDuplicate) &&
        records[j].signature_checked()) {
      outcome.signature_checked.push_back(records[j].hash());
    }
    if (outcome.refused) continue;
    const protocol::Record& r = records[j].record();
    if (s == store::AppendStatus::kGap) {
      outcome.refused = MakeError(ErrorKind::kGap,
                                  "record " + r.id().ToString() + ": earlier records are missing");
    } else if (s == store::AppendStatus::kConflict) {
      outcome.refused = MakeError(
          ErrorKind::kConflict, "record " + r.id().ToString() + ": does not link to the held head");
    } else if (s == store::AppendStatus::kFrozen) {
      outcome.refused = MakeError(
          ErrorKind::kFrozen, "record " + r.id().ToString() + ": the feed is frozen after a fork");
    } else if (s == store::AppendStatus::kLosing) {
      outcome.refused =
          MakeError(ErrorKind::kConflict,
                    "record " + r.id().ToString() + ": on a branch discarded by a fork resolution");
    }
  }
  return outcome;
}

// What the log line being written is about (each run is one thread).
thread_local const World* log_world = nullptr;
thread_local const std::string* log_node = nullptr;

class SimContextFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string text;
    if (log_world != nullptr) {
      char at[32];
      std::snprintf(at, sizeof at, "%9.3f s", double(log_world->loop.now()) / kSecond);
      text = at;
    }
    if (log_node != nullptr) text += " " + *log_node;
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SimContextFlag>();
  }
};

// Sets the log context for the duration of a call into a node.
class LogScope {
 public:
  LogScope(const World& w, const std::string& node) : world_(log_world), node_(log_node) {
    log_world = &w;
    log_node = &node;
  }
  ~LogScope() {
    log_world = world_;
    log_node = node_;
  }
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  const World* world_;
  const std::string* node_;
};

}  // namespace

void EnableVerboseLog() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<SimContextFlag>('*').set_pattern("[%*] [%l] %v");
  spdlog::set_formatter(std::move(formatter));
  spdlog::set_level(spdlog::level::info);
}

void SimLog(const World& w, const std::string& who, const std::string& text) {
  if (!spdlog::should_log(spdlog::level::info)) return;
  LogScope scope(w, who);
  spdlog::info("sim: {}", text);
}

// ---- World ----

World::World(const SimOptions& o, std::filesystem::path run_dir)
    : options(o),
      rng(o.seed),
      pki(SimPki::Get()),
      dir(std::move(run_dir)),
      network(loop, rng, trace, NetworkOptions{}) {}

daemon::SteadyTime World::steady_now() const {
  // Well after the clock's epoch: the core treats a default SteadyTime as "never".
  constexpr SimTime kSteadyBase = 1000 * kSecond;
  return daemon::SteadyTime(std::chrono::microseconds(kSteadyBase + loop.now()));
}

void World::NoteMemoryViolation(const std::string& detail) {
  if (memory_violations.empty()) memory_violations.push_back(Violation{kMemoryBounded, detail});
}

// ---- Ingest ----

// Verifies as the daemon's pipeline does (node::VerifyRun) and commits after a simulated delay.
// A crash drops what is still waiting: it was never committed.
class HonestNode::SimIngest : public daemon::Ingest {
 public:
  explicit SimIngest(HonestNode& node) : node_(node), incarnation_(node.incarnation_) {}

  void Submit(std::vector<protocol::SignedRecord> records, Done done) override {
    auto batch = std::make_shared<Batch>();
    batch->done = std::move(done);
    const SimTime delay = kVerifyBase + kVerifyPerRecord * SimTime(records.size()) + kCommit;
    batch->records = std::move(records);
    node_.w_.loop.After(delay, [this, inc = incarnation_, batch, &node = node_] {
      if (node.incarnation_ != inc) return;
      LogScope scope(node.w_, node.institution_);
      Commit(*batch);
    });
  }

  void SubmitEvidence(protocol::SignedRecord a, protocol::SignedRecord b, Done done) override {
    node_.w_.loop.After(
        2 * kVerifyBase + kCommit, [inc = incarnation_, a = std::move(a), b = std::move(b),
                                    done = std::move(done), &node = node_] {
          if (node.incarnation_ != inc) return;
          World& w = node.w_;
          LogScope scope(w, node.institution_);
          std::shared_ptr<const protocol::Trust> trust = node.trust_->Get();
          protocol::VerifyOptions options{w.wall_now(), node.limits_.max_clock_skew_seconds};
          daemon::BatchOutcome outcome;
          // Evidence must stand on its own: each record's own signature, not a chain's.
          Result<protocol::VerifiedRecord> va = protocol::Verify(a, *trust, options);
          Result<protocol::VerifiedRecord> vb = protocol::Verify(b, *trust, options);
          if (!va || !vb) {
            outcome.refused = va ? vb.error() : va.error();
          } else {
            Result<bool> added = node.store_->AddEvidence(*va, *vb, w.wall_now());
            if (!added) {
              outcome.refused = added.error();
            } else if (*added) {
              outcome.forks = 1;
            }
          }
          w.trace.Mix(uint64_t{0xe1d});
          w.trace.Mix(uint64_t{node.index_});
          w.trace.Mix(uint64_t{outcome.forks});
          done(outcome);
        });
  }

 private:
  struct Batch {
    std::vector<protocol::SignedRecord> records;
    std::optional<node::VerifiedRun> verified;
    unsigned rounds_waited = 0;
    Done done;
  };

  void Commit(Batch& batch) {
    World& w = node_.w_;
    const int64_t now = w.wall_now();
    if (!batch.verified) {
      std::shared_ptr<const protocol::Trust> trust = node_.trust_->Get();
      batch.verified =
          node::VerifyRun(batch.records, *trust,
                          protocol::VerifyOptions{now, node_.limits_.max_clock_skew_seconds});
    }
    node::VerifiedRun& run = *batch.verified;
    daemon::BatchOutcome outcome;
    if (!run.records.empty()) {
      Result<store::AppendResult> appended = node_.store_->Append(run.records, now);
      if (!appended) {
        outcome.refused = appended.error();
      } else {
        const bool whole_batch_early = appended->statuses.front() == store::AppendStatus::kGap;
        if (whole_batch_early && batch.rounds_waited < kGapPatienceRounds) {
          // Waits for the batch before it, as the daemon's writer lets it.
          ++batch.rounds_waited;
          auto again = std::make_shared<Batch>(std::move(batch));
          w.loop.After(kGapRetry, [this, inc = incarnation_, again, &node = node_] {
            if (node.incarnation_ != inc) return;
            LogScope scope(node.w_, node.institution_);
            Commit(*again);
          });
          return;
        }
        outcome = OutcomeOf(*appended, run.records);
        node_.metrics_->CountRecordsAppended(outcome.appended);
      }
    }
    if (!outcome.refused) outcome.refused = run.error;
    w.trace.Mix(uint64_t{0xc0117});
    w.trace.Mix(uint64_t{node_.index_});
    w.trace.Mix(uint64_t{outcome.appended});
    w.trace.Mix(uint64_t(outcome.refused ? int(outcome.refused->kind) + 1 : 0));
    batch.done(outcome);
  }

  HonestNode& node_;
  uint64_t incarnation_;
};

// ---- HonestNode ----

HonestNode::HonestNode(World& w, size_t index, std::string institution, node::DaemonLimits limits)
    : w_(w),
      index_(index),
      institution_(std::move(institution)),
      limits_(limits),
      store_dir_(w.dir / institution_) {}

HonestNode::~HonestNode() {
  // The core first: it holds the links and refers to the store, trust and ingest.
  core_.reset();
  ingest_.reset();
}

void HonestNode::Boot() {
  LogScope scope(w_, institution_);
  ++incarnation_;
  const bool fresh = !std::filesystem::exists(store_dir_);
  store::Options options;
  options.path = store_dir_;
  options.initial_map_bytes = kInitialMapBytes;
  Result<std::unique_ptr<store::Store>> opened = store::Store::Open(options);
  if (!opened) throw std::runtime_error("cannot open a store: " + opened.error().message);
  store_ = std::move(*opened);
  if (fresh) {
    // Every member's signing certificate, as `duanka-admin init` and a bundle would bring them.
    for (const std::string& who : w_.honest) {
      const SimIdentity& id = w_.pki.Identity(who);
      if (!store_->PutCertificate(id.key_id, id.cert_der)) throw std::runtime_error("certs");
    }
    for (const auto& a : w_.adversaries) {
      const SimIdentity& id = w_.pki.Identity(a->institution());
      if (!store_->PutCertificate(id.key_id, id.cert_der)) throw std::runtime_error("certs");
    }
  }
  metrics_ = std::make_unique<daemon::Metrics>();
  trust_ = std::make_unique<daemon::TrustHolder>();
  ingest_ = std::make_unique<SimIngest>(*this);
  links_open_ = 0;

  daemon::SyncContext context{
      *store_,
      w_.pki.ca(),
      *trust_,
      *ingest_,
      *metrics_,
      daemon::SyncClock{[this] { return w_.wall_now(); }, [this] { return w_.steady_now(); }},
      [this, inc = incarnation_](std::function<void()> f) {
        w_.loop.Post([this, inc, f = std::move(f)] {
          if (incarnation_ != inc) return;
          LogScope scope(w_, institution_);
          f();
        });
      },
      [this](const std::string& who, const std::string& why) {
        w_.penalties.push_back(PenaltyGiven{index_, who, why, w_.loop.now()});
        w_.trace.Mix(uint64_t{0xbad});
        w_.trace.Mix(uint64_t{index_});
        w_.trace.Mix(who);
      }};
  daemon::SyncOptions sync;
  sync.institution = institution_;
  sync.consortium = w_.pki.consortium();
  sync.pepper_epochs = {1};
  sync.limits = limits_;
  core_ = std::make_unique<daemon::SyncCore>(std::move(context), std::move(sync));
  core_->Start();
  up_ = true;

  daemon::SyncCore::Intervals every = core_->intervals();
  auto first = [&](std::chrono::milliseconds period) {
    // Spread over one period, so that the nodes do not tick in step.
    return SimTime(w_.rng() % uint64_t(period.count() * kMillisecond));
  };
  auto us = [](std::chrono::milliseconds period) { return SimTime(period.count()) * kMillisecond; };
  Every(first(every.heads), us(every.heads), &daemon::SyncCore::TickHeads);
  Every(first(every.ping), us(every.ping), &daemon::SyncCore::TickPing);
  Every(first(every.wants), us(every.wants), &daemon::SyncCore::TickWants);
  Every(first(every.snapshot), us(every.snapshot), &daemon::SyncCore::TickSnapshot);
}

void HonestNode::Every(SimTime first, SimTime period, void (daemon::SyncCore::*tick)()) {
  w_.loop.After(first, [this, inc = incarnation_, period, tick] {
    if (inc != incarnation_) return;
    LogScope scope(w_, institution_);
    (core_.get()->*tick)();
    if (tick == &daemon::SyncCore::TickWants) CheckMemory();
    Every(period, period, tick);
  });
}

void HonestNode::Crash() {
  if (!up_) return;
  ++w_.crashes;
  up_ = false;
  ++incarnation_;  // pending ticks, posts and ingest commits are now void
  w_.network.EndpointDown(endpoint);
  core_.reset();
  ingest_.reset();
  trust_.reset();
  metrics_.reset();
  store_.reset();
  links_open_ = 0;
  w_.trace.Mix(uint64_t{0xdead});
  w_.trace.Mix(uint64_t{index_});
}

void HonestNode::Opened(const std::shared_ptr<SimLink>& link) {
  LogScope scope(w_, institution_);
  ++links_open_;
  core_->OnOpen(link);
}

void HonestNode::Frame(SimLink& link, const std::string& payload) {
  LogScope scope(w_, institution_);
  core_->OnFrame(link, payload);
  CheckMemory();
}

void HonestNode::Closed(SimLink& link, const std::string& reason) {
  LogScope scope(w_, institution_);
  --links_open_;
  core_->OnClose(link, reason, /*misbehaved=*/false);
}

void HonestNode::Outgoing(std::string& payload) {
  if (!tamper_outgoing) return;
  Result<protocol::Message> m = protocol::DecodeMessage(payload);
  if (!m) return;
  auto* records = std::get_if<protocol::msg::Records>(&*m);
  if (records == nullptr || records->records.empty()) return;
  records->records.back().signature[7] ^= 0x01;
  payload = protocol::EncodeMessage(*m);
}

void HonestNode::CheckMemory() {
  if (!up_) return;
  // Bounded by the consortium's configured limits (a sabotaged node runs with others).
  const size_t wants = core_->outstanding_wants();
  const size_t want_bound = links_open_ * w_.limits.wants_per_peer;
  if (wants > want_bound) {
    w_.NoteMemoryViolation(institution_ + " has " + std::to_string(wants) +
                           " wants outstanding with " + std::to_string(links_open_) +
                           " peers (bound " + std::to_string(want_bound) + ")");
  }
  const size_t feeds = core_->feeds_tracked();
  if (feeds > w_.certified + 1) {
    w_.NoteMemoryViolation(institution_ + " tracks " + std::to_string(feeds) + " feeds with " +
                           std::to_string(w_.certified) + " certified issuers");
  }
}

void HonestNode::PublishEntries(size_t n) {
  if (!up_ || n == 0) return;
  LogScope scope(w_, institution_);
  const SimIdentity& id = w_.pki.Identity(institution_);
  const int64_t now = w_.wall_now();
  std::vector<uint64_t> made;
  Result<store::AppendResult> appended = store_->AppendOwn(
      institution_,
      [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
        std::vector<protocol::VerifiedRecord> out;
        made.clear();  // the store may call this again (a grown map)
        crypto::Hash256 prev = head.hash;
        for (size_t i = 0; i < n; ++i) {
          protocol::Record r;
          r.issuer = institution_;
          r.seq = head.seq + 1 + i;
          r.prev = prev;
          r.issued_at = now;
          r.signer_key_id = id.key_id;
          protocol::EntryBody e;
          const std::string subject = institution_ + "/" + std::to_string(r.seq);
          e.subject = crypto::Sha256(crypto::AsBytes(subject));
          e.id_type = protocol::IdType::kPhone;
          e.pepper_epoch = 1;
          e.category = protocol::Category::kRentedOut;
          e.basis = protocol::Basis::kInstitution;
          e.expires_at = now + kYear;
          r.body = e;
          Result<protocol::SignedRecord> s = protocol::SignRecord(r, id.key);
          if (!s) return std::move(s).error();
          Result<protocol::VerifiedRecord> v =
              protocol::Verify(*s, w_.trust, protocol::VerifyOptions{now});
          if (!v) return std::move(v).error();
          prev = v->hash();
          made.push_back(r.seq);
          out.push_back(std::move(*v));
        }
        return out;
      },
      now);
  if (!appended) throw std::runtime_error("cannot publish: " + appended.error().message);
  own_entries_.insert(own_entries_.end(), made.begin(), made.end());
  w_.records_published += n;
  core_->OnLocalChange();
}

void HonestNode::RevokeOne() {
  if (!up_ || own_entries_.empty()) return;
  LogScope scope(w_, institution_);
  const size_t pick = w_.rng() % own_entries_.size();
  const protocol::EntryId target{institution_, own_entries_[pick]};
  const SimIdentity& id = w_.pki.Identity(institution_);
  const int64_t now = w_.wall_now();
  protocol::EntryId made;
  Result<store::AppendResult> appended = store_->AppendOwn(
      institution_,
      [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
        protocol::Record r;
        r.issuer = institution_;
        r.seq = head.seq + 1;
        r.prev = head.hash;
        r.issued_at = now;
        r.signer_key_id = id.key_id;
        r.body = protocol::RevocationBody{target, protocol::RevocationReason::kIssuedInError};
        made = r.id();
        Result<protocol::SignedRecord> s = protocol::SignRecord(r, id.key);
        if (!s) return std::move(s).error();
        Result<protocol::VerifiedRecord> v =
            protocol::Verify(*s, w_.trust, protocol::VerifyOptions{now});
        if (!v) return std::move(v).error();
        return std::vector<protocol::VerifiedRecord>{std::move(*v)};
      },
      now);
  if (!appended) throw std::runtime_error("cannot revoke: " + appended.error().message);
  own_entries_.erase(own_entries_.begin() + std::ptrdiff_t(pick));
  w_.revocations.emplace_back(made, target);
  ++w_.records_published;
  core_->OnLocalChange();
}

}  // namespace duanka::sim
