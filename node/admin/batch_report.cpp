// report --batch: an institution's existing list published as entries of its own feed, in large
// transactions, idempotently. Input, outputs and exit codes are in node/admin/README.md.
//
// The input is cut into chunks of kLinesPerTransaction lines, and each chunk goes through
//
//   ReadChunk  read, parse, canonicalise, derive subjects      (reader thread)
//   Presign    plan which lines are new, sign them as a chain  (signer thread)
//   Commit     plan again inside the write transaction, verify the chain, append, then print
//              one result line per input line                  (the calling thread)
//
// With --threads 1 the three run one after another on the calling thread.
//
// Signing is sequential per feed (each record's prev is the hash of the signed record before it),
// so it gets a core of its own and does nothing else. Records are signed before the write
// transaction, against the head the chunks before will leave, so that LMDB's writer lock (which
// the daemon needs too) is held only for the re-check and the writes. Inside the transaction the
// plan is made again from the store as it is then; only when the head or the plan differ (another
// administrator published meanwhile) is the chunk signed again, there. The decision what to
// publish is thus always taken inside the transaction that publishes it, and a line is published
// at most once however many runs of the same file overlap or are killed half-way.
//
// The stages' parts live beside this file: batch_report_parse (one line), batch_report_plan (what
// each line becomes, and the signed chain), batch_report_queue (between the threads),
// batch_report_output (result lines and counts) and batch_report_interrupt (signals); the
// input's lines and the progress bar are node/common's, shared with duanka lookup --batch.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "node/admin/batch_input.h"
#include "node/admin/batch_report_interrupt.h"
#include "node/admin/batch_report_limits.h"
#include "node/admin/batch_report_output.h"
#include "node/admin/batch_report_parse.h"
#include "node/admin/batch_report_plan.h"
#include "node/admin/batch_report_queue.h"
#include "node/admin/context.h"
#include "node/common/line_reader.h"
#include "node/common/progress.h"

namespace duanka::admin {
namespace batch {
namespace {

class BatchRun {
 public:
  BatchRun(const BatchReportOptions& o, Home& home, const crypto::Pepper& pepper,
           const node::SigningIdentity& id, int fd, uint64_t total_bytes)
      : o_(o),
        home_(home),
        me_(home.config.institution),
        id_(id),
        key_id_(protocol::KeyId(id.key.public_key())),
        reader_(fd, kPollInterval),
        parser_(pepper, node::SystemNow()),
        progress_(::isatty(2) == 1, total_bytes) {}

  // Runs to the end of the input, an interruption or the first operational failure.
  void Run(unsigned threads) {
    RunStages(threads);
    progress_.Clear();  // the summary starts on a clean line
  }

  const Counts& counts() const { return counts_; }
  const std::optional<Error>& failure() const { return failure_; }
  bool interrupted() const { return interrupted_.load(); }
  size_t resigned_chunks() const { return resigned_; }

 private:
  void RunStages(unsigned threads) {
    Result<std::optional<store::Head>> head = home_.store->GetHead(me_);
    if (!head) return Failed(std::move(head).error());
    if (*head) expected_ = **head;
    expected_.issuer = me_;
    if (threads <= 1) {
      for (;;) {
        std::optional<Chunk> c = ReadChunk();
        if (!c) break;
        if (!Presign(*c) || !Commit(*c) || c->last) break;
      }
      return;
    }
    // Three threads for two cores: the signer has one to itself (signing is sequential per
    // feed and the bulk of the work); reading and writing share the other.
    ChunkQueue parsed, signed_chunks;
    std::thread reader([&] {
      while (std::optional<Chunk> c = ReadChunk()) {
        bool last = c->last;
        if (!parsed.Push(std::move(*c)) || last) break;
      }
      parsed.Finish();
    });
    std::thread signer([&] {
      while (std::optional<Chunk> c = parsed.Pop()) {
        if (!Presign(*c) || !signed_chunks.Push(std::move(*c))) break;
      }
      signed_chunks.Finish();
      parsed.Close();  // a reader still pushing stops
    });
    while (std::optional<Chunk> c = signed_chunks.Pop()) {
      if (!Commit(*c)) break;
    }
    stop_.store(true);  // wakes a signer waiting for commits (Presign's drain) and the reader
    parsed.Close();
    signed_chunks.Close();
    reader.join();
    signer.join();
  }

  void Failed(Error e) {
    std::lock_guard<std::mutex> lock(failure_mutex_);
    if (!failure_) failure_ = std::move(e);
    stop_.store(true);
  }
  bool Stopping() {
    if (Interrupted()) interrupted_.store(true);
    return interrupted_.load() || stop_.load();
  }

  // The next chunk of input, or nullopt when there is nothing more to do.
  std::optional<Chunk> ReadChunk() {
    if (input_done_ || Stopping()) return std::nullopt;
    Chunk c;
    c.pending.reserve(kLinesPerTransaction);
    size_t lines = 0;
    auto started = std::chrono::steady_clock::now();
    while (lines < kLinesPerTransaction) {
      std::string_view text;
      node::LineReader::Status s = reader_.Next(text);
      if (s == node::LineReader::Status::kIdle) {
        if (Stopping()) break;
        if (lines > 0 && std::chrono::steady_clock::now() - started >= kMaxChunkWait) break;
        continue;
      }
      if (s == node::LineReader::Status::kEnd) {
        input_done_ = true;
        break;
      }
      if (s == node::LineReader::Status::kError) {
        Failed(MakeError(ErrorKind::kIo, "cannot read " + InputName() + " after line " +
                                             std::to_string(line_number_) + ": " +
                                             std::strerror(reader_.errno_value())));
        return std::nullopt;
      }
      ++line_number_;
      ++lines;
      if (s == node::LineReader::Status::kTooLong) {
        c.invalid.push_back(
            LineResult{line_number_,
                       Outcome::kInvalid,
                       {},
                       "line longer than " + std::to_string(node::kMaxBatchLineBytes) + " bytes"});
        continue;
      }
      Pending p;
      LineResult bad;
      std::optional<bool> parsed = parser_.Parse(line_number_, text, p, bad);
      if (!parsed) continue;
      if (*parsed) {
        c.pending.push_back(std::move(p));
      } else {
        c.invalid.push_back(std::move(bad));
      }
    }
    c.lines_through = line_number_;
    c.bytes_through = reader_.bytes_read();
    c.last = input_done_;
    if (lines == 0 && !input_done_) return std::nullopt;  // interrupted before any line
    return c;
  }

  // Plans and signs `c` against the head the chunks before it leave (outside any transaction).
  bool Presign(Chunk& c) {
    if (resync_needed_.load() && !Resync()) return false;
    const int64_t now = node::SystemNow();
    Result<std::vector<Decision>> plan = Plan(*home_.store, me_, c.pending, &in_flight_, now);
    if (!plan) {
      Failed(std::move(plan).error());
      return false;
    }
    c.plan = std::move(*plan);
    SignChain(c, expected_, now, me_, id_, home_.config.listing, key_id_);
    InFlight published;
    published.reserve(c.records.size());
    for (size_t i = 0; i < c.results.size(); ++i) {
      if (c.results[i].outcome == Outcome::kPublished) {
        published.emplace_back(KeyOf(c.pending[i]), c.results[i].entry.seq);
      }
    }
    std::sort(published.begin(), published.end());
    in_flight_.push_back(std::move(published));
    // Chunks older than those in the queue and the one being written have committed; their
    // entries are in the store, where Plan finds them.
    if (in_flight_.size() > kChunksAhead + 2) in_flight_.pop_front();
    if (!c.records.empty()) {
      expected_.seq = c.base.seq + c.records.size();
      expected_.hash = protocol::RecordHash(c.records.back());
    }
    ++presigned_;
    return true;
  }

  // After the writer had to sign a chunk again, every chunk signed since is stale too: wait
  // until the writer has committed them all, then start again from the store's head.
  bool Resync() {
    {
      std::unique_lock<std::mutex> lock(commit_mutex_);
      while (committed_ < presigned_) {
        if (Stopping()) return false;
        committed_cv_.wait_for(lock, kPollInterval);
      }
    }
    resync_needed_.store(false);
    Result<std::optional<store::Head>> head = home_.store->GetHead(me_);
    if (!head) {
      Failed(std::move(head).error());
      return false;
    }
    expected_ = head->value_or(store::Head{});
    expected_.issuer = me_;
    in_flight_.clear();  // all committed: Plan finds them in the store
    return true;
  }

  // Appends `c` in one write transaction, deciding again there what is new; then reports it.
  bool Commit(Chunk& c) {
    const int64_t now = node::SystemNow();
    bool resigned = false;
    Result<store::AppendResult> appended = AppendToOwnFeed(
        home_, o_.i_know,
        [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
          Result<std::vector<Decision>> plan = Plan(*home_.store, me_, c.pending, nullptr, now);
          if (!plan) return std::move(plan).error();
          if (head.seq != c.base.seq || head.hash != c.base.hash || *plan != c.plan) {
            // Another administrator published to this feed meanwhile: sign again, here.
            c.plan = std::move(*plan);
            SignChain(c, head, now, me_, id_, home_.config.listing, key_id_);
            resigned = true;
          }
          // The only way to a VerifiedRecord; one signature check vouches for the whole chain.
          return protocol::VerifyChain(c.records, home_.trust, protocol::VerifyOptions{now});
        },
        now);
    if (!appended) {
      Failed(std::move(appended).error());
      return false;
    }
    if (resigned) {
      ++resigned_;
      resync_needed_.store(true);
    }
    {
      std::lock_guard<std::mutex> lock(commit_mutex_);
      ++committed_;
    }
    committed_cv_.notify_all();
    return Emit(c);
  }

  // Writes the chunk's result lines in input order (after the commit, so "published" is true).
  bool Emit(const Chunk& c) {
    std::string out;
    out.reserve((c.results.size() + c.invalid.size()) * 48);
    size_t a = 0, b = 0;
    while (a < c.results.size() || b < c.invalid.size()) {
      bool take_invalid =
          a == c.results.size() || (b < c.invalid.size() && c.invalid[b].line < c.results[a].line);
      const LineResult& r = take_invalid ? c.invalid[b++] : c.results[a++];
      AppendResult(out, r, o_.json);
      switch (r.outcome) {
        case Outcome::kPublished:
          ++counts_.published;
          if (!counts_.first) counts_.first = r.entry;
          counts_.last = r.entry;
          break;
        case Outcome::kAlreadyListed:
          ++counts_.already_listed;
          break;
        case Outcome::kWithdrawn:
          ++counts_.withdrawn;
          break;
        case Outcome::kInvalid:
          if (counts_.invalid < kMaxInvalidLinesOnStderr) {
            progress_.Clear();
            std::fprintf(stderr, "duanka-admin: line %llu: %s\n",
                         static_cast<unsigned long long>(r.line), r.reason.c_str());
          } else if (counts_.invalid == kMaxInvalidLinesOnStderr) {
            progress_.Clear();
            std::fprintf(stderr, "duanka-admin: more invalid lines; each is named on stdout\n");
          }
          ++counts_.invalid;
          break;
      }
    }
    counts_.lines = c.lines_through;
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
      Failed(MakeError(ErrorKind::kIo, std::string("cannot write the results to stdout: ") +
                                           std::strerror(errno) + " (published through line " +
                                           std::to_string(c.lines_through) + ")"));
      return false;
    }
    progress_.Update(c.bytes_through,
                     [this](double seconds) { return ProgressText(counts_, seconds); });
    return !Stopping();
  }

  std::string InputName() const { return o_.input == "-" ? "stdin" : o_.input; }

  const BatchReportOptions& o_;
  Home& home_;
  const std::string me_;
  const node::SigningIdentity& id_;
  const crypto::Hash256 key_id_;

  // The reading and signing side (one thread).
  node::LineReader reader_;
  LineParser parser_;
  uint64_t line_number_ = 0;
  bool input_done_ = false;
  store::Head expected_;            // the head after the last chunk signed
  std::deque<InFlight> in_flight_;  // entries of the last chunks signed, perhaps not yet committed
  uint64_t presigned_ = 0;          // chunks signed so far

  // The writing side (the calling thread).
  Counts counts_;
  node::Progress progress_;
  size_t resigned_ = 0;

  // Shared.
  std::mutex commit_mutex_;
  std::condition_variable committed_cv_;
  uint64_t committed_ = 0;                  // chunks the writer has committed
  std::atomic<bool> resync_needed_{false};  // the writer signed a chunk again
  std::mutex failure_mutex_;
  std::optional<Error> failure_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};
};

}  // namespace
}  // namespace batch

int ReportBatch(const BatchReportOptions& o) {
  using batch::Grouped;
  if (o.threads > 2) return Fail(ErrorKind::kInvalidInput, "--threads: 1 or 2");
  Result<batch::BatchInput> input = batch::OpenBatchInput(o.input);
  if (!input) return Fail(input.error());
  const int fd = input->fd();
  const uint64_t total_bytes = input->total_bytes();

  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(home->config.pepper);
  if (!pepper) return Fail(ErrorKind::kIo, pepper.error().message);
  Result<node::SigningIdentity> id = LoadIdentity(*home);
  if (!id) return Fail(id.error());

  unsigned threads = o.threads;
  if (threads == 0) threads = std::thread::hardware_concurrency() >= 2 ? 2 : 1;

  batch::InterruptHandlers handlers;
  const int64_t started_at = node::SystemNow();
  auto started = std::chrono::steady_clock::now();
  batch::BatchRun run(o, *home, *pepper, *id, fd, total_bytes);
  run.Run(threads);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const batch::Counts& c = run.counts();

  std::optional<Error> failure = run.failure();
  if (!failure && run.interrupted()) {
    failure = MakeError(ErrorKind::kIo, "interrupted after line " + std::to_string(c.lines) +
                                            "; run the same command again to finish");
  }

  nlohmann::json event = {
      {"time", node::IsoTime(started_at)},
      {"program", "duanka-admin"},
      {"user", node::OsUserName()},
      {"action", "report-batch"},
      {"input", o.input == "-" ? "stdin" : o.input},
      {"lines", c.lines},
      {"published", c.published},
      {"already_listed", c.already_listed},
      {"withdrawn", c.withdrawn},
      {"invalid", c.invalid},
      {"seconds", std::round(seconds * 1000) / 1000},
      {"completed", !failure.has_value()},
  };
  if (o.i_know) event["i_know"] = true;
  if (c.first) {
    event["first_entry"] = c.first->ToString();
    event["last_entry"] = c.last->ToString();
  }
  if (failure) event["error"] = failure->message;

  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f s", seconds);
  std::string summary = "report --batch: " + Grouped(c.published) + " published, " +
                        Grouped(c.already_listed) + " already listed, " + Grouped(c.withdrawn) +
                        " withdrawn, " + Grouped(c.invalid) + " invalid; " + Grouped(c.lines) +
                        " lines in " + rate;
  if (seconds > 0) {
    // Entries published per second; for a run that published nothing, lines read per second.
    bool entries = c.published > 0;
    summary += " (" +
               Grouped(static_cast<uint64_t>(static_cast<double>(entries ? c.published : c.lines) /
                                             seconds)) +
               (entries ? " entries/s)" : " lines/s)");
  }
  if (c.first) summary += "; entries " + c.first->ToString() + " to " + c.last->ToString();
  if (run.resigned_chunks() > 0) {
    summary += "; " + std::to_string(run.resigned_chunks()) +
               (run.resigned_chunks() == 1 ? " transaction" : " transactions") +
               " signed again after another administrator published";
  }
  std::fprintf(stderr, "duanka-admin: %s\n", summary.c_str());

  if (Status s = Audit(*home, event.dump()); !s) {
    return Fail(ErrorKind::kIo, "published " + Grouped(c.published) +
                                    " entries but could not audit the batch: " + s.error().message);
  }
  if (failure) {
    // Whatever the error's kind, a run that did not finish is an operational failure: the
    // operator runs it again (or fixes the store) and the next run completes it.
    (void)Fail(*failure);
    return kExitFailure;
  }
  return c.invalid > 0 ? kExitInvalid : kExitOk;
}

}  // namespace duanka::admin
