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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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
#include <thread>

#include "node/admin/context.h"
#include "protocol/identifier.h"

namespace duanka::admin {
namespace {

// ---- Limits and tuning ---------------------------------------------------------------------

// Input lines per write transaction (so at most this many entries per AppendOwn). One commit
// (one fsync) per 10,000 entries costs nothing per entry; the subjects index pages a commit
// rewrites are shared by more entries the larger the batch; and an interrupted run loses at
// most this many lines' work, which the next run redoes.
constexpr size_t kLinesPerTransaction = 10'000;

// The longest input line read as a line: a type name (≤ 12 bytes), a value of at most
// protocol::kMaxIdentifierInputBytes (256), a category (≤ 13), a basis (≤ 14), a case reference
// of at most protocol::kMaxCaseRefBytes (64; a little more quoted) and a date (10), with
// separators and spaces: about 400 bytes. 1 KiB leaves room for padding; longer lines are
// refused as invalid without being kept in memory.
constexpr size_t kMaxLineBytes = 1024;

// TYPE,VALUE,CATEGORY[,BASIS[,CASE_REF[,EXPIRES]]]
constexpr size_t kMinFields = 3;
constexpr size_t kMaxFields = 6;

// Bytes asked of read(2) at a time.
constexpr size_t kReadBlockBytes = size_t{1} << 20;

// How long a chunk that has lines waits for more from a slow pipe before it is published anyway,
// so that `producer | duanka-admin report --batch -` publishes as it goes.
constexpr std::chrono::milliseconds kMaxChunkWait{1000};
// How often a blocked read wakes to notice an interruption.
constexpr int kPollMillis = 100;

// Chunks each queue between the threads holds: enough to keep both cores busy, few enough to
// bound memory (a signed chunk holds a few MB).
constexpr size_t kChunksAhead = 2;

// Invalid lines named on stderr as well as on stdout; the rest are only counted there.
constexpr size_t kMaxInvalidLinesOnStderr = 20;

constexpr std::chrono::milliseconds kProgressInterval{200};

const char* const kFormat = "TYPE,VALUE,CATEGORY[,BASIS[,CASE_REF[,EXPIRES]]]";

// ---- Interruption ----------------------------------------------------------------------------

// Set by SIGINT, SIGTERM or SIGHUP: the transaction in hand commits, then the run stops. A
// second signal kills the process (the handler is installed with SA_RESETHAND), which is safe
// too: every commit is atomic, and the next run completes what is missing. Process-wide because
// a signal handler can reach nothing else; only InterruptHandlers sets it up.
std::atomic<bool> g_interrupted{false};

extern "C" void OnInterrupt(int) {
  g_interrupted.store(true);
}

class InterruptHandlers {
 public:
  InterruptHandlers() {
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
    // A closed stdout (`| head`) is reported as a write error, not a silent death mid-run.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &old_pipe_);
  }
  ~InterruptHandlers() {
    for (size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
    ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  }
  InterruptHandlers(const InterruptHandlers&) = delete;
  InterruptHandlers& operator=(const InterruptHandlers&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
  struct sigaction old_pipe_ {};
};

// ---- Input lines -----------------------------------------------------------------------------

// Lines of a file or stdin, read in large blocks and bounded in length.
class LineReader {
 public:
  enum class Status : uint8_t {
    kLine,     // `line` holds the next line, without '\n' (and without a trailing '\r')
    kTooLong,  // the next line was longer than kMaxLineBytes; its bytes were skipped
    kIdle,     // nothing arrived for kPollMillis (a slow pipe); ask again
    kEnd,      // no more input
    kError,    // read(2) failed; errno_value() says why
  };

  explicit LineReader(int fd) : fd_(fd), buffer_(kReadBlockBytes + kMaxLineBytes) {}

  // `line` points into the reader's buffer and is valid until the next call.
  Status Next(std::string_view& line) {
    for (;;) {
      const char* begin = buffer_.data() + begin_;
      const void* nl = std::memchr(begin, '\n', end_ - begin_);
      if (nl != nullptr) {
        size_t len = static_cast<size_t>(static_cast<const char*>(nl) - begin);
        begin_ += len + 1;
        bytes_ += len + 1;
        if (discarding_) {
          discarding_ = false;
          return Status::kTooLong;
        }
        line = std::string_view(begin, len);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > kMaxLineBytes) return Status::kTooLong;
        return Status::kLine;
      }
      if (eof_) {
        if (begin_ == end_ && !discarding_) return Status::kEnd;
        // The last line has no newline.
        size_t len = end_ - begin_;
        line = std::string_view(begin, len);
        begin_ = end_;
        bytes_ += len;
        if (discarding_ || len > kMaxLineBytes) {
          discarding_ = false;
          return Status::kTooLong;
        }
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return Status::kLine;
      }
      Status filled = Fill();
      if (filled != Status::kLine) return filled;
    }
  }

  uint64_t bytes_read() const { return bytes_; }
  int errno_value() const { return errno_; }

 private:
  Status Fill() {
    // Keep the partial line at the end; drop it when it is already too long.
    size_t partial = end_ - begin_;
    if (partial > kMaxLineBytes) {
      discarding_ = true;
      bytes_ += partial;
      partial = 0;
    }
    std::memmove(buffer_.data(), buffer_.data() + begin_, partial);
    begin_ = 0;
    end_ = partial;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, kPollMillis);
    if (ready == 0) return Status::kIdle;
    if (ready < 0 && errno != EINTR) {
      errno_ = errno;
      return Status::kError;
    }
    if (ready < 0) return Status::kIdle;
    ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return Status::kIdle;
      errno_ = errno;
      return Status::kError;
    }
    if (n == 0) eof_ = true;
    end_ += static_cast<size_t>(n);
    return Status::kLine;  // "go on"
  }

  int fd_;
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  bool discarding_ = false;
  uint64_t bytes_ = 0;
  int errno_ = 0;
};

// ---- Parsing one line ------------------------------------------------------------------------

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Splits on commas. A field may be in double quotes (RFC 4180 style, "" for a quote inside), so
// that a case reference can hold commas; quoted fields never span lines. Surrounding spaces and
// tabs of every field are dropped. Returns a reason (never quoting the line) on failure.
std::optional<std::string> SplitFields(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  size_t i = 0;
  for (;;) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field.push_back(line[i++]);
      }
      if (!closed) return "a double quote is not closed";
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i < line.size() && line[i] != ',') return "text after a closing double quote";
    } else {
      size_t comma = line.find(',', i);
      size_t end = comma == std::string_view::npos ? line.size() : comma;
      field = std::string(Trim(line.substr(i, end - i)));
      i = end;
    }
    if (fields.size() == kMaxFields) {
      return "more than 6 fields; expected " + std::string(kFormat) +
             " (put a case reference that holds commas in double quotes)";
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return std::nullopt;
    ++i;  // the comma
  }
}

// A valid line, waiting to be published.
struct Pending {
  uint64_t line = 0;
  protocol::EntryBody entry;  // expires_at == 0: the basis's default, from the issue time
  // The subject under each older epoch the pepper still holds (none before a first rotation), so
  // that a listing withdrawn under an old epoch stays withdrawn when the list is re-published
  // under the new one.
  std::vector<crypto::Hash256> earlier_subjects;
};

enum class Outcome : uint8_t { kPublished, kAlreadyListed, kWithdrawn, kInvalid };

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPublished:
      return "published";
    case Outcome::kAlreadyListed:
      return "already-listed";
    case Outcome::kWithdrawn:
      return "withdrawn";
    case Outcome::kInvalid:
      return "invalid";
  }
  return "invalid";
}

struct LineResult {
  uint64_t line = 0;
  Outcome outcome = Outcome::kInvalid;
  protocol::EntryId entry;  // published: the new entry; already listed / withdrawn: the held one
  std::string reason;       // invalid: why (never the value)
};

class LineParser {
 public:
  LineParser(const crypto::Pepper& pepper, int64_t now) : pepper_(pepper), now_(now) {
    for (uint32_t epoch : pepper.epochs()) {
      if (epoch != pepper.current_epoch()) earlier_epochs_.push_back(epoch);
    }
  }

  // Fills `pending` (true) or `invalid` (false, with the reason); nullopt for a line that is
  // not data (blank, or the header).
  std::optional<bool> Parse(uint64_t number, std::string_view line, Pending& pending,
                            LineResult& invalid) {
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // Excel's BOM
    if (Trim(line).empty()) return std::nullopt;
    if (number == 1 && Lower(line.substr(0, 5)) == "type,") return std::nullopt;
    auto refuse = [&](std::string reason) {
      invalid = LineResult{number, Outcome::kInvalid, {}, std::move(reason)};
      return false;
    };
    if (std::optional<std::string> bad = SplitFields(line, fields_)) return refuse(*bad);
    if (fields_.size() < kMinFields) {
      return refuse("expected " + std::string(kFormat) + ", found " +
                    std::to_string(fields_.size()) + (fields_.size() == 1 ? " field" : " fields"));
    }
    std::optional<protocol::IdType> type = protocol::ParseIdType(Lower(fields_[0]));
    if (!type) {
      return refuse("TYPE: unknown identifier type; expected one of " +
                    protocol::IdTypeNames(/*new_reports_only=*/true));
    }
    if (!protocol::AcceptsNewReports(*type)) return refuse(protocol::NoNewReportsMessage(*type));
    // The message names the type and the reason, never the value.
    Result<std::string> canonical = protocol::Canonicalize(*type, fields_[1]);
    if (!canonical) return refuse(canonical.error().message);
    std::optional<protocol::Category> category = protocol::ParseCategory(Lower(fields_[2]));
    if (!category) return refuse("CATEGORY: expected one of " + protocol::AllCategoryNames());
    protocol::Basis basis = protocol::Basis::kInstitution;
    if (fields_.size() > 3 && !fields_[3].empty()) {
      std::optional<protocol::Basis> b = protocol::ParseBasis(Lower(fields_[3]));
      if (!b) return refuse("BASIS: expected one of " + protocol::AllBasisNames());
      basis = *b;
    }
    std::string case_ref;
    if (fields_.size() > 4) {
      case_ref = std::move(fields_[4]);
      if (case_ref.size() > protocol::kMaxCaseRefBytes) {
        return refuse("CASE_REF: longer than 64 bytes");
      }
      for (char c : case_ref) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          return refuse("CASE_REF: holds a control character");
        }
      }
    }
    int64_t expires = 0;
    if (fields_.size() > 5 && !fields_[5].empty()) {
      Result<int64_t> parsed = node::ParseExpiryDate(fields_[5]);
      if (!parsed) {
        std::string why = parsed.error().message;
        if (why.starts_with("--expires: ")) why.erase(0, 11);
        return refuse("EXPIRES: " + why);
      }
      if (*parsed <= now_) return refuse("EXPIRES: the date has passed");
      if (*parsed - now_ > protocol::kMaxEntryLifetimeSeconds) {
        return refuse("EXPIRES: at most 10 years from today");
      }
      expires = *parsed;
    }
    pending.line = number;
    protocol::EntryBody& e = pending.entry;
    e.id_type = *type;
    e.pepper_epoch = pepper_.current_epoch();
    e.subject = pepper_.Subject(e.pepper_epoch, protocol::IdTypeName(*type), *canonical);
    pending.earlier_subjects.clear();
    for (uint32_t epoch : earlier_epochs_) {
      pending.earlier_subjects.push_back(
          pepper_.Subject(epoch, protocol::IdTypeName(*type), *canonical));
    }
    e.category = *category;
    e.basis = basis;
    e.expires_at = expires;
    e.case_ref = std::move(case_ref);
    return true;
  }

 private:
  const crypto::Pepper& pepper_;
  int64_t now_;
  std::vector<uint32_t> earlier_epochs_;
  std::vector<std::string> fields_;
};

// ---- Chunks, plans and the signed chain --------------------------------------------------------

// What to do with one pending line, decided from the store (and the lines before it).
struct Decision {
  static constexpr uint32_t kNone = UINT32_MAX;
  Outcome outcome = Outcome::kPublished;  // kPublished: publish it (if no earlier line did)
  protocol::EntryId entry;                // kAlreadyListed / kWithdrawn: the held entry
  uint32_t same_as = kNone;               // an earlier line of the chunk with the same key
  bool operator==(const Decision&) const = default;
};

struct Chunk {
  std::vector<Pending> pending;     // in line order
  std::vector<LineResult> invalid;  // refused while parsing, in line order
  uint64_t lines_through = 0;       // input lines consumed, this chunk included
  uint64_t bytes_through = 0;
  bool last = false;  // the input ended (or the run was interrupted) with this chunk

  // Filled when signing:
  std::vector<Decision> plan;
  store::Head base;  // the head the chain extends
  std::vector<protocol::SignedRecord> records;
  std::vector<LineResult> results;  // one per pending, in line order
};

// An entry's key for idempotence: this issuer, subject and category. Ordered by subject first,
// so that a sorted run of keys is also a sorted run of subjects for Store::Lookup.
struct Key {
  crypto::Hash256 subject;
  protocol::Category category = protocol::Category::kRentedOut;
  auto operator<=>(const Key&) const = default;
};

Key KeyOf(const Pending& p) {
  return Key{p.entry.subject, p.entry.category};
}

// Entries of one chunk that is signed but perhaps not yet committed: key → seq, sorted by key.
using InFlight = std::vector<std::pair<Key, uint64_t>>;

// Revocations that do not mean "this listing was wrong": after them the same listing may be
// published again.
bool AllowsRelisting(protocol::RevocationReason reason) {
  return reason == protocol::RevocationReason::kSuperseded ||
         reason == protocol::RevocationReason::kRehashed;
}

// Decides each pending line: already listed (an active entry of `me` with the same subject and
// category is held, or is being published by a chunk in `in_flight`, or by an earlier line of
// the chunk), withdrawn (the same listing of `me` was revoked as wrong: a re-run of an old file
// must not list again whom an appeal or a court released), or to be published. Sorted vectors
// rather than hash maps: this runs twice per line, and allocating a node per key costs more than
// the lookup itself.
Result<std::vector<Decision>> Plan(const store::Store& store, const std::string& me,
                                   std::span<const Pending> pending,
                                   const std::deque<InFlight>* in_flight, int64_t now) {
  const size_t n = pending.size();
  // Lines by key, and within a key by line.
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    auto c = KeyOf(pending[a]) <=> KeyOf(pending[b]);
    return c != 0 ? c < 0 : a < b;
  });
  std::vector<crypto::Hash256> subjects;
  subjects.reserve(n);
  for (uint32_t i : order) {
    if (subjects.empty() || subjects.back() != pending[i].entry.subject) {
      subjects.push_back(pending[i].entry.subject);
    }
  }
  // After a rotation: each line's subject under the older epochs → its current subject. Only
  // withdrawals count across epochs; an active entry under an old epoch is what re-keying
  // publishes again under the new one.
  std::vector<std::pair<crypto::Hash256, crypto::Hash256>> earlier;
  for (const Pending& p : pending) {
    for (const crypto::Hash256& old : p.earlier_subjects) earlier.push_back({old, p.entry.subject});
  }
  if (!earlier.empty()) {
    std::sort(earlier.begin(), earlier.end());
    earlier.erase(std::unique(earlier.begin(), earlier.end()), earlier.end());
    for (const auto& [old, current] : earlier) subjects.push_back(old);
    std::sort(subjects.begin(), subjects.end());
    subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
  }
  std::vector<store::Listing> found;
  Status looked = store.Lookup(subjects, store::LookupOptions{now, false}, found);
  if (!looked) return std::move(looked).error();

  // What this issuer holds per key: an active entry (the oldest) before a withdrawn one.
  std::vector<std::pair<Key, Decision>> held;
  for (const store::Listing& l : found) {
    if (l.id.issuer != me) continue;
    if (l.state == store::EntryState::kActive) {
      held.push_back({Key{l.subject, l.category}, Decision{Outcome::kAlreadyListed, l.id}});
    } else if (l.state == store::EntryState::kRevoked) {
      // Rare: one more read for the revocation's reason.
      Result<std::optional<store::Listing>> detail = store.GetListing(l.id, now);
      if (!detail) return std::move(detail).error();
      if (*detail && (*detail)->revocation && !AllowsRelisting((*detail)->revocation->reason)) {
        held.push_back({Key{l.subject, l.category}, Decision{Outcome::kWithdrawn, l.id}});
        auto it =
            std::lower_bound(earlier.begin(), earlier.end(), l.subject,
                             [](const auto& e, const crypto::Hash256& s) { return e.first < s; });
        for (; it != earlier.end() && it->first == l.subject; ++it) {
          held.push_back({Key{it->second, l.category}, Decision{Outcome::kWithdrawn, l.id}});
        }
      }
    }
  }
  std::sort(held.begin(), held.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.second.outcome != b.second.outcome) return a.second.outcome < b.second.outcome;
    return a.second.entry.seq < b.second.entry.seq;
  });
  auto held_decision = [&](const Key& key) -> const Decision* {
    auto it = std::lower_bound(held.begin(), held.end(), key,
                               [](const auto& h, const Key& k) { return h.first < k; });
    return it != held.end() && it->first == key ? &it->second : nullptr;
  };
  auto in_flight_seq = [&](const Key& key) -> std::optional<uint64_t> {
    if (in_flight == nullptr) return std::nullopt;
    for (const InFlight& chunk : *in_flight) {
      auto it = std::lower_bound(chunk.begin(), chunk.end(), key,
                                 [](const auto& e, const Key& k) { return e.first < k; });
      if (it != chunk.end() && it->first == key) return it->second;
    }
    return std::nullopt;
  };

  std::vector<Decision> plan(n);
  for (size_t g = 0; g < n;) {
    const uint32_t first = order[g];
    const Key key = KeyOf(pending[first]);
    size_t end = g + 1;
    while (end < n && KeyOf(pending[order[end]]) == key) ++end;
    Decision d;  // publish the first line; the others are the same listing
    const Decision* h = held_decision(key);
    std::optional<uint64_t> flying;
    if (h == nullptr || h->outcome != Outcome::kAlreadyListed) flying = in_flight_seq(key);
    if (flying) {
      d = Decision{Outcome::kAlreadyListed, protocol::EntryId{me, *flying}};
    } else if (h != nullptr) {
      d = *h;
    }
    plan[first] = d;
    if (d.outcome == Outcome::kPublished) d.same_as = first;
    for (size_t k = g + 1; k < end; ++k) plan[order[k]] = d;
    g = end;
  }
  return plan;
}

// Signs the chunk's new entries as a chain on `head`, filling records and results. A line whose
// record fails the protocol's own range checks (say, a case reference that is not UTF-8) becomes
// invalid, and the next line with its key is published in its place.
void SignChain(Chunk& c, const store::Head& head, int64_t issued_at, const std::string& me,
               const node::SigningIdentity& id, const node::ListingPolicy& policy,
               const crypto::Hash256& key_id) {
  c.base = head;
  c.records.clear();
  c.results.assign(c.pending.size(), LineResult{});
  // For each first line of a key: the line that published it, if any yet.
  std::vector<uint32_t> publisher(c.pending.size(), Decision::kNone);
  protocol::Record r;
  r.issuer = me;
  r.issued_at = issued_at;
  r.signer_key_id = key_id;
  uint64_t seq = head.seq;
  crypto::Hash256 prev = head.hash;
  for (size_t i = 0; i < c.pending.size(); ++i) {
    const Decision& d = c.plan[i];
    LineResult& out = c.results[i];
    out.line = c.pending[i].line;
    if (d.outcome != Outcome::kPublished) {
      out.outcome = d.outcome;
      out.entry = d.entry;
      continue;
    }
    uint32_t first = d.same_as == Decision::kNone ? static_cast<uint32_t>(i) : d.same_as;
    if (publisher[first] != Decision::kNone) {
      out.outcome = Outcome::kAlreadyListed;
      out.entry = c.results[publisher[first]].entry;
      continue;
    }
    protocol::EntryBody entry = c.pending[i].entry;
    if (entry.expires_at == 0) entry.expires_at = issued_at + policy.LifetimeSeconds(entry.basis);
    r.seq = seq + 1;
    r.prev = prev;
    r.body = std::move(entry);
    Result<protocol::SignedRecord> signed_record = protocol::SignRecord(r, id.key);
    if (!signed_record) {
      out.outcome = Outcome::kInvalid;
      out.reason = signed_record.error().message;
      continue;
    }
    seq = r.seq;
    prev = protocol::RecordHash(*signed_record);
    c.records.push_back(std::move(*signed_record));
    out.outcome = Outcome::kPublished;
    out.entry = protocol::EntryId{me, seq};
    publisher[first] = static_cast<uint32_t>(i);
  }
}

// ---- Bounded queues between the threads -----------------------------------------------------

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

// ---- Output ------------------------------------------------------------------------------------

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void AppendResult(std::string& out, const LineResult& r, bool json) {
  if (json) {
    out += "{\"line\":";
    out += std::to_string(r.line);
    out += ",\"result\":\"";
    out += OutcomeName(r.outcome);
    out += '"';
    if (r.outcome == Outcome::kInvalid) {
      out += ",\"reason\":";
      AppendJsonString(out, r.reason);
    } else {
      out += ",\"entry\":\"";
      out += r.entry.ToString();
      out += '"';
    }
    out += "}\n";
  } else {
    out += std::to_string(r.line);
    out += ',';
    out += OutcomeName(r.outcome);
    out += ',';
    out += r.outcome == Outcome::kInvalid ? r.reason : r.entry.ToString();
    out += '\n';
  }
}

std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

struct Counts {
  uint64_t lines = 0;
  uint64_t published = 0;
  uint64_t already_listed = 0;
  uint64_t withdrawn = 0;
  uint64_t invalid = 0;
  std::optional<protocol::EntryId> first, last;
};

// A progress line on stderr, drawn only when stderr is a terminal, a few times a second.
class Progress {
 public:
  Progress(bool enabled, uint64_t total_bytes)
      : enabled_(enabled), total_bytes_(total_bytes), start_(Clock::now()) {}
  ~Progress() { Clear(); }

  void Update(const Counts& c, uint64_t bytes) {
    if (!enabled_) return;
    Clock::time_point now = Clock::now();
    if (drawn_ && now - last_ < kProgressInterval) return;
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    std::string text = "\r\033[K";
    if (total_bytes_ > 0) {
      double done = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_bytes_));
      int filled = static_cast<int>(done * kBarWidth);
      text += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
      char pct[16];
      std::snprintf(pct, sizeof pct, "%3d%% ", static_cast<int>(done * 100));
      text += pct;
    }
    text += Grouped(c.lines) + " lines: " + Grouped(c.published) + " published, " +
            Grouped(c.already_listed) + " already listed, " + Grouped(c.invalid) + " invalid";
    if (seconds > 0) {
      text += ", " + Grouped(static_cast<uint64_t>(static_cast<double>(c.published) / seconds)) +
              " entries/s";
    }
    (void)!::write(2, text.data(), text.size());
    drawn_ = true;
  }
  void Clear() {
    if (!drawn_) return;
    static constexpr char kErase[] = "\r\033[K";
    (void)!::write(2, kErase, sizeof kErase - 1);
    drawn_ = false;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr int kBarWidth = 24;
  bool enabled_;
  uint64_t total_bytes_;
  Clock::time_point start_, last_;
  bool drawn_ = false;
};

// ---- The run -----------------------------------------------------------------------------------

class BatchRun {
 public:
  BatchRun(const BatchReportOptions& o, Home& home, const crypto::Pepper& pepper,
           const node::SigningIdentity& id, int fd, uint64_t total_bytes)
      : o_(o),
        home_(home),
        me_(home.config.institution),
        id_(id),
        key_id_(protocol::KeyId(id.key.public_key())),
        reader_(fd),
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
    if (g_interrupted.load()) interrupted_.store(true);
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
      LineReader::Status s = reader_.Next(text);
      if (s == LineReader::Status::kIdle) {
        if (Stopping()) break;
        if (lines > 0 && std::chrono::steady_clock::now() - started >= kMaxChunkWait) break;
        continue;
      }
      if (s == LineReader::Status::kEnd) {
        input_done_ = true;
        break;
      }
      if (s == LineReader::Status::kError) {
        Failed(MakeError(ErrorKind::kIo, "cannot read " + InputName() + " after line " +
                                             std::to_string(line_number_) + ": " +
                                             std::strerror(reader_.errno_value())));
        return std::nullopt;
      }
      ++line_number_;
      ++lines;
      if (s == LineReader::Status::kTooLong) {
        c.invalid.push_back(
            LineResult{line_number_,
                       Outcome::kInvalid,
                       {},
                       "line longer than " + std::to_string(kMaxLineBytes) + " bytes"});
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
        committed_cv_.wait_for(lock, std::chrono::milliseconds(kPollMillis));
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
    progress_.Update(counts_, c.bytes_through);
    return !Stopping();
  }

  std::string InputName() const { return o_.input == "-" ? "stdin" : o_.input; }

  const BatchReportOptions& o_;
  Home& home_;
  const std::string me_;
  const node::SigningIdentity& id_;
  const crypto::Hash256 key_id_;

  // The reading and signing side (one thread).
  LineReader reader_;
  LineParser parser_;
  uint64_t line_number_ = 0;
  bool input_done_ = false;
  store::Head expected_;            // the head after the last chunk signed
  std::deque<InFlight> in_flight_;  // entries of the last chunks signed, perhaps not yet committed
  uint64_t presigned_ = 0;          // chunks signed so far

  // The writing side (the calling thread).
  Counts counts_;
  Progress progress_;
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

int ReportBatch(const BatchReportOptions& o) {
  if (o.threads > 2) return Fail(ErrorKind::kInvalidInput, "--threads: 1 or 2");
  int fd = 0;
  uint64_t total_bytes = 0;
  if (o.input != "-") {
    fd = ::open(o.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Fail(ErrorKind::kInvalidInput,
                  "--batch: cannot open " + o.input + ": " + std::strerror(errno));
    }
  }
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd > 0) ::close(fd);
    }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return Fail(ErrorKind::kInvalidInput, "--batch: " + o.input + " is a directory");
    }
    // For the progress bar; pipes and terminals have no size.
    if (S_ISREG(st.st_mode)) total_bytes = static_cast<uint64_t>(st.st_size);
  }

  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(home->config.pepper);
  if (!pepper) return Fail(ErrorKind::kIo, pepper.error().message);
  Result<node::SigningIdentity> id = LoadIdentity(*home);
  if (!id) return Fail(id.error());

  unsigned threads = o.threads;
  if (threads == 0) threads = std::thread::hardware_concurrency() >= 2 ? 2 : 1;

  InterruptHandlers handlers;
  const int64_t started_at = node::SystemNow();
  auto started = std::chrono::steady_clock::now();
  BatchRun run(o, *home, *pepper, *id, fd, total_bytes);
  run.Run(threads);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const Counts& c = run.counts();

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
