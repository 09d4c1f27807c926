// duanka-admin watch: the institution's own customers as a watch list (store/watch.cpp), screened
// against the listings held when they are added; the store raises an alert (duanka alerts) when
// one is listed or cleared later.
//
// The input is read once and checked whole before anything is written: a file with an invalid
// line is refused (exit 2), each bad line named by number, so that a typo on line 9,000,000 never
// leaves a watch list half imported, nor a customer silently unwatched. The valid pairs are held
// compactly in memory (raw identifiers never go to a file; only their subjects are kept) and
// written in subject order, kWatchItemsPerWrite per transaction.
#include "node/admin/watch_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/admin/admin.h"
#include "node/admin/batch_input.h"
#include "node/admin/batch_report_interrupt.h"
#include "node/admin/batch_report_limits.h"
#include "node/admin/batch_report_output.h"
#include "node/admin/context.h"
#include "node/common/audit.h"
#include "node/common/line_reader.h"
#include "node/common/lookup.h"
#include "node/common/progress.h"
#include "node/common/risk.h"
#include "protocol/identifier.h"

namespace duanka::admin {
namespace {

// Pairs per Store::Watch or Unwatch transaction: one commit (one fsync) per 100,000 pairs costs
// nothing per pair, and it bounds the memory a chunk holds (a few hundred bytes a pair with its
// subjects and its screening) and the work an interrupted run redoes.
constexpr size_t kWatchItemsPerWrite = 100'000;

// Lines parsed together on every core (kMaxParseThreads at most): large enough that starting
// threads costs nothing per line, small enough that the raw lines in hand stay a few MiB.
constexpr size_t kParseBlockLines = 65'536;
constexpr unsigned kMaxParseThreads = 8;

// Pairs per audit line (each about 30 bytes): 1,000 keeps a line near 30 KiB, well inside what
// the audit log's readers scan (kAuditMaxTailScanBytes).
constexpr size_t kAuditPairsPerLine = 1'000;

constexpr std::string_view kFormat = "TYPE,VALUE,REF";
constexpr std::string_view kProgram = "duanka-admin";

enum class Mode : uint8_t { kAdd, kRemove };

struct WatchBatchOptions {
  std::optional<std::string> home;
  std::string input;  // a file, or "-" for stdin
  Mode mode = Mode::kAdd;
};

using batch::Lower;
using batch::Trim;

// Why `ref` cannot be a watch reference, or nullopt. A reference that is itself a valid
// identifier of some type would put a customer's identifier into the store in the clear, where
// only keyed hashes may be: refused, whatever the institution meant by it.
std::optional<std::string> RefProblem(std::string_view ref) {
  if (ref.empty()) {
    return "REF: empty; expected the institution's own customer reference, 1 to " +
           std::to_string(store::kMaxWatchRefBytes) + " printable ASCII characters";
  }
  if (ref.size() > store::kMaxWatchRefBytes) {
    return "REF: longer than " + std::to_string(store::kMaxWatchRefBytes) + " characters";
  }
  for (char c : ref) {
    if (c < 0x20 || c > 0x7e) {
      return "REF: holds a character that is not printable ASCII; expected 1 to " +
             std::to_string(store::kMaxWatchRefBytes) + " printable ASCII characters, no comma";
    }
  }
  for (protocol::IdType type : protocol::AllIdTypes()) {
    if (protocol::Canonicalize(type, ref)) {
      return "REF: reads as a valid " + std::string(protocol::IdTypeName(type)) +
             " identifier; a reference must be the institution's own customer number, never an "
             "identifier (add a character no identifier has, e.g. cust#1001 or 1001/A)";
    }
  }
  return std::nullopt;
}

enum class LineKind : uint8_t { kSkip, kValid, kInvalid };

struct WatchLine {
  protocol::IdType type = protocol::IdType::kCnId;
  std::string canonical;
  std::string ref;
};

// TYPE,VALUE,REF: TYPE up to the first comma, REF after the last (it has none). Blank lines and
// a first line starting "type," (a header) are skipped. `reason` never quotes the line.
LineKind ParseLine(uint64_t number, std::string_view line, WatchLine& out, std::string& reason) {
  if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // Excel's BOM
  if (Trim(line).empty()) return LineKind::kSkip;
  if (number == 1 && Lower(Trim(line).substr(0, 5)) == "type,") return LineKind::kSkip;
  const size_t first = line.find(',');
  const size_t last = line.rfind(',');
  if (first == std::string_view::npos || first == last) {
    reason = "expected " + std::string(kFormat) + ", found " +
             (first == std::string_view::npos ? "1 field" : "2 fields");
    return LineKind::kInvalid;
  }
  std::optional<protocol::IdType> type = protocol::ParseIdType(Lower(Trim(line.substr(0, first))));
  if (!type) {
    reason = "TYPE: unknown identifier type; expected one of " +
             protocol::IdTypeNames(/*new_reports_only=*/false);
    return LineKind::kInvalid;
  }
  // The message names the type and what is wrong, never the value.
  Result<std::string> canonical =
      protocol::Canonicalize(*type, line.substr(first + 1, last - first - 1));
  if (!canonical) {
    reason = canonical.error().message;
    return LineKind::kInvalid;
  }
  const std::string_view ref = Trim(line.substr(last + 1));
  if (std::optional<std::string> bad = RefProblem(ref)) {
    reason = std::move(*bad);
    return LineKind::kInvalid;
  }
  out.type = *type;
  out.canonical = std::move(*canonical);
  out.ref.assign(ref);
  return LineKind::kValid;
}

std::string InputName(const WatchBatchOptions& o) {
  return o.input == "-" ? "stdin" : o.input;
}

const char* Verb(Mode mode) {
  return mode == Mode::kAdd ? "watch --batch" : "watch remove --batch";
}

// A valid line, kept compactly until the whole input is checked: about 60 bytes of memory a
// line with its ref, so that 10M customers fit in well under a gigabyte.
struct PendingPair {
  crypto::Hash256 subject;  // under the current epoch
  uint64_t line = 0;
  uint32_t ref_at = 0;    // in Collected::refs
  uint32_t extra_at = 0;  // in Collected::extra_subjects: the other epochs' and legacy forms'
  uint8_t ref_len = 0;
  uint8_t extra_count = 0;
  protocol::IdType type = protocol::IdType::kCnId;
};

struct Collected {
  uint64_t lines = 0;
  uint64_t invalid = 0;
  std::vector<PendingPair> pairs;
  std::string refs;
  std::vector<crypto::Hash256> extra_subjects;
  std::vector<std::pair<uint64_t, std::string>> problems;  // (line, reason), the first few
};

// Lines of the input in hand, parsed on every core: canonical forms, the REF rules (a dozen
// canonicalisations a line) and the subjects' HMACs are the import's whole CPU cost.
struct LineBlock {
  std::string bytes;
  struct Line {
    uint64_t number;
    uint32_t at;
    uint32_t size;
    bool too_long;
  };
  std::vector<Line> lines;
};

void ParseRange(const LineBlock& block, size_t from, size_t to, const node::Lookuper& lookuper,
                Collected& out) {
  WatchLine parsed;
  std::string reason;
  for (size_t i = from; i < to; ++i) {
    const LineBlock::Line& l = block.lines[i];
    LineKind kind = LineKind::kInvalid;
    if (l.too_long) {
      reason = "line longer than " + std::to_string(node::kMaxBatchLineBytes) + " bytes";
    } else {
      kind =
          ParseLine(l.number, std::string_view(block.bytes).substr(l.at, l.size), parsed, reason);
    }
    if (kind == LineKind::kSkip) continue;
    if (kind == LineKind::kInvalid) {
      if (out.problems.size() <= batch::kMaxInvalidLinesOnStderr) {
        out.problems.emplace_back(l.number, reason);
      }
      ++out.invalid;
      continue;
    }
    std::vector<crypto::Hash256> subjects = lookuper.Subjects(parsed.type, parsed.canonical);
    PendingPair pair;
    pair.subject = subjects.front();
    pair.line = l.number;
    pair.type = parsed.type;
    pair.ref_at = static_cast<uint32_t>(out.refs.size());
    pair.ref_len = static_cast<uint8_t>(parsed.ref.size());
    out.refs += parsed.ref;
    pair.extra_at = static_cast<uint32_t>(out.extra_subjects.size());
    pair.extra_count = static_cast<uint8_t>(subjects.size() - 1);
    out.extra_subjects.insert(out.extra_subjects.end(), subjects.begin() + 1, subjects.end());
    out.pairs.push_back(pair);
  }
}

// Appends `part` (parsed from later lines) to `all`, moving its offsets.
Status Merge(Collected& all, Collected&& part) {
  // Offsets are 32-bit to keep a pair small: 4 GiB of refs is about 60M lines.
  if (all.refs.size() + part.refs.size() > UINT32_MAX ||
      all.extra_subjects.size() + part.extra_subjects.size() > UINT32_MAX) {
    return MakeError(ErrorKind::kInvalidInput,
                     "--batch: too many lines for one run; split the file and run once per part");
  }
  const auto ref_base = static_cast<uint32_t>(all.refs.size());
  const auto extra_base = static_cast<uint32_t>(all.extra_subjects.size());
  for (PendingPair& p : part.pairs) {
    p.ref_at += ref_base;
    p.extra_at += extra_base;
  }
  all.pairs.insert(all.pairs.end(), part.pairs.begin(), part.pairs.end());
  all.refs += part.refs;
  all.extra_subjects.insert(all.extra_subjects.end(), part.extra_subjects.begin(),
                            part.extra_subjects.end());
  all.invalid += part.invalid;
  for (auto& problem : part.problems) {
    if (all.problems.size() <= batch::kMaxInvalidLinesOnStderr) {
      all.problems.push_back(std::move(problem));
    }
  }
  return Ok();
}

Status ParseBlock(const LineBlock& block, const node::Lookuper& lookuper, unsigned threads,
                  Collected& all) {
  std::vector<Collected> parts(threads);
  std::vector<std::thread> workers;
  const size_t per = (block.lines.size() + threads - 1) / threads;
  for (unsigned t = 0; t < threads; ++t) {
    const size_t from = std::min(block.lines.size(), t * per);
    const size_t to = std::min(block.lines.size(), from + per);
    workers.emplace_back([&, t, from, to] { ParseRange(block, from, to, lookuper, parts[t]); });
  }
  for (std::thread& w : workers) w.join();
  for (Collected& part : parts) {
    if (Status merged = Merge(all, std::move(part)); !merged) return merged;
  }
  return Ok();
}

// Reads and checks the whole input, writing nothing: a file with an invalid line is refused
// whole, so that a typo on line 9,000,000 never leaves a watch list half imported, nor a customer
// silently unwatched. Holding every valid pair lets the writer go in subject order (below).
Result<Collected> CollectInput(const WatchBatchOptions& o, int fd, const node::Lookuper& lookuper,
                               node::Progress& progress) {
  // Wakes every kPollInterval on a slow pipe, to notice an interruption.
  node::LineReader reader(fd, batch::kPollInterval);
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, kMaxParseThreads);
  Collected all;
  LineBlock block;
  const auto parse = [&]() -> Status {
    Status parsed = ParseBlock(block, lookuper, threads, all);
    block.bytes.clear();
    block.lines.clear();
    return parsed;
  };
  for (;;) {
    if (batch::Interrupted()) {
      return MakeError(ErrorKind::kIo, "interrupted at line " + std::to_string(all.lines) + " of " +
                                           InputName(o) + ", before writing anything");
    }
    std::string_view text;
    const node::LineReader::Status s = reader.Next(text);
    if (s == node::LineReader::Status::kIdle) continue;
    if (s == node::LineReader::Status::kEnd) break;
    if (s == node::LineReader::Status::kError) {
      return MakeError(ErrorKind::kIo, "cannot read " + InputName(o) + " after line " +
                                           std::to_string(all.lines) + ": " +
                                           std::strerror(reader.errno_value()));
    }
    ++all.lines;
    const bool too_long = s == node::LineReader::Status::kTooLong;
    block.lines.push_back({all.lines, static_cast<uint32_t>(block.bytes.size()),
                           static_cast<uint32_t>(too_long ? 0 : text.size()), too_long});
    if (!too_long) block.bytes += text;
    if (block.lines.size() == kParseBlockLines) {
      if (Status p = parse(); !p) return std::move(p).error();
      progress.Update(reader.bytes_read(), [&](double) {
        return "checking: " + batch::Grouped(all.lines) + " lines, " + batch::Grouped(all.invalid) +
               " invalid";
      });
    }
  }
  if (Status p = parse(); !p) return std::move(p).error();
  return all;
}

// The first kAuditSubjectHexChars hex digits of `h` (Hash256::Hex() renders all 64, a
// million times for a large list).
void AppendHexPrefix(std::string& out, const crypto::Hash256& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  static_assert(node::kAuditSubjectHexChars % 2 == 0);
  for (size_t i = 0; i < node::kAuditSubjectHexChars / 2; ++i) {
    out += kDigits[h.bytes[i] >> 4];
    out += kDigits[h.bytes[i] & 15];
  }
}

// Renders a JSON string of printable ASCII (a checked REF) without a JSON object per line.
void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

struct ApplyCounts {
  uint64_t lines = 0;
  uint64_t changed = 0;
  uint64_t unchanged = 0;
  uint64_t listed = 0;
};

// Writes the checked pairs in subject order, kWatchItemsPerWrite per transaction: past the
// list's last subject the store appends (full pages, each written once), so a first import of
// millions is as fast and as dense as LMDB allows, where input order would rewrite a page per
// pair. Each pair changed is audited; with `add`, every line is screened against the listings
// held now.
class Applier {
 public:
  Applier(const WatchBatchOptions& o, Home& home, const crypto::Pepper& pepper,
          const node::GradingPolicy& policy, const node::AuditLog& audit, node::Progress& progress)
      : o_(o),
        home_(home),
        lookuper_(*home.store, pepper),
        policy_(policy),
        local_policy_(home.config.local_grading.purposes.empty() ? nullptr
                                                                 : &home.config.local_grading),
        audit_(audit),
        progress_(progress),
        user_(node::OsUserName()) {}

  Status Run(Collected& in) {
    counts_.lines = in.lines;
    std::sort(in.pairs.begin(), in.pairs.end(), [](const PendingPair& a, const PendingPair& b) {
      return a.subject < b.subject || (a.subject == b.subject && a.line < b.line);
    });
    for (size_t first = 0; first < in.pairs.size(); first += kWatchItemsPerWrite) {
      // A chunk not begun is dropped; those before are committed.
      if (batch::Interrupted()) {
        return MakeError(ErrorKind::kIo, "interrupted after " + batch::Grouped(first) + " of " +
                                             batch::Grouped(in.pairs.size()) + " pairs");
      }
      const size_t end = std::min(in.pairs.size(), first + kWatchItemsPerWrite);
      if (Status w = WriteChunk(in, first, end); !w) return w;
      written_ = end;
      progress_.Update(end, [this](double) { return ProgressText(); });
    }
    return Ok();
  }

  const ApplyCounts& counts() const { return counts_; }
  uint64_t written() const { return written_; }
  // The screened lines, in input order.
  std::string ListedLines() {
    std::sort(listed_.begin(), listed_.end());
    std::string text;
    for (const auto& [n, line] : listed_) text += line;
    return text;
  }

 private:
  std::string ProgressText() const {
    return batch::Grouped(written_) + " pairs, " + batch::Grouped(counts_.changed) +
           (o_.mode == Mode::kAdd ? " added, " + batch::Grouped(counts_.listed) + " listed now"
                                  : " removed");
  }

  Status WriteChunk(const Collected& in, size_t first, size_t end) {
    std::vector<store::WatchItem> items;
    items.reserve(end - first);
    for (size_t i = first; i < end; ++i) {
      const PendingPair& p = in.pairs[i];
      store::WatchItem item;
      item.subjects.reserve(1 + p.extra_count);
      item.subjects.push_back(p.subject);
      item.subjects.insert(item.subjects.end(), in.extra_subjects.begin() + p.extra_at,
                           in.extra_subjects.begin() + p.extra_at + p.extra_count);
      item.ref.assign(in.refs, p.ref_at, p.ref_len);
      items.push_back(std::move(item));
    }
    const int64_t now = node::SystemNow();
    // Audited inside the store's transaction, before it commits: a change is never committed
    // unaudited (a failed audit writes nothing), and a crash in between leaves at worst an audit
    // line for a change the rerun then makes.
    const store::Store::BeforeWatchCommit audit = [&](const store::WatchChange& c) -> Status {
      if (c.changed == 0) return Ok();
      return AuditPairs(items, c.item_changed, now);
    };
    Result<store::WatchChange> change = o_.mode == Mode::kAdd
                                            ? home_.store->Watch(items, now, audit)
                                            : home_.store->Unwatch(items, audit);
    if (!change) return std::move(change).error();
    counts_.changed += change->changed;
    counts_.unchanged += change->unchanged;
    if (o_.mode == Mode::kAdd) return Screen(in, first, items, now);
    return Ok();
  }

  // The pairs changed, kAuditPairsPerLine to an audit line: action, and for each pair the first
  // kAuditSubjectHexChars of its current-epoch subject and its ref; never the identifier. One
  // line per pair would make a 10M import a 2 GB log whose hash chain costs more than the import.
  Status AuditPairs(const std::vector<store::WatchItem>& items, const std::vector<bool>& changed,
                    int64_t now) {
    std::string head = o_.mode == Mode::kAdd ? R"({"action":"watch-add","pairs":[)"
                                             : R"({"action":"watch-remove","pairs":[)";
    const std::string tail = R"(],"program":)" + nlohmann::json(kProgram).dump() + R"(,"time":)" +
                             nlohmann::json(node::IsoTime(now)).dump() + R"(,"user":)" +
                             nlohmann::json(user_).dump() + "}\n";
    std::string text;
    size_t in_line = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i >= changed.size() || !changed[i]) continue;
      text += in_line == 0 ? head : ",";
      text += "[\"";
      AppendHexPrefix(text, items[i].subjects.front());
      text += "\",";
      AppendJsonString(text, items[i].ref);
      text += ']';
      if (++in_line == kAuditPairsPerLine) {
        text += tail;
        in_line = 0;
      }
    }
    if (in_line > 0) text += tail;
    // Synced with the chunk: its pairs are committed, so their lines must be durable too.
    return audit_.AppendLines(text, /*sync=*/true);
  }

  // Looks the chunk's subjects up in one read transaction, in key order, and keeps one line per
  // listed pair, as `duanka lookup --batch --json` prints a listed line (node::AnswerJson, with
  // "line" first), plus "ref".
  Status Screen(const Collected& in, size_t first, const std::vector<store::WatchItem>& items,
                int64_t now) {
    std::vector<std::pair<crypto::Hash256, uint32_t>> keyed;
    for (uint32_t i = 0; i < items.size(); ++i) {
      for (const crypto::Hash256& s : items[i].subjects) keyed.emplace_back(s, i);
    }
    std::sort(keyed.begin(), keyed.end());
    std::vector<crypto::Hash256> subjects;
    subjects.reserve(keyed.size());
    for (const auto& [s, i] : keyed) {
      if (subjects.empty() || subjects.back() != s) subjects.push_back(s);
    }
    std::vector<store::Listing> listings;
    if (Status read = home_.store->Lookup(subjects, store::LookupOptions{now, false}, listings);
        !read) {
      return read;
    }
    std::vector<std::pair<uint32_t, uint32_t>> hits;  // (item, listing)
    for (uint32_t j = 0; j < listings.size(); ++j) {
      auto [lo, hi] =
          std::equal_range(keyed.begin(), keyed.end(), std::pair{listings[j].subject, uint32_t{0}},
                           [](const auto& a, const auto& b) { return a.first < b.first; });
      for (auto k = lo; k != hi; ++k) hits.emplace_back(k->second, j);
    }
    std::sort(hits.begin(), hits.end());
    hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
    for (size_t h = 0; h < hits.size();) {
      const uint32_t i = hits[h].first;
      const PendingPair& pair = in.pairs[first + i];
      node::LookupAnswer answer;
      answer.type = pair.type;
      answer.subject = items[i].subjects.front();
      for (; h < hits.size() && hits[h].first == i; ++h) {
        answer.listings.push_back(listings[hits[h].second]);
      }
      if (!answer.listed()) continue;
      std::vector<std::string> issuers;
      for (const store::Listing& l : answer.listings) issuers.push_back(l.id.issuer);
      Result<node::IssuerProfiles> profiles = lookuper_.profiles().ForIssuers(issuers);
      if (!profiles) return std::move(profiles).error();
      answer.profiles = std::move(*profiles);
      // Graded as a re-screening of existing customers grades it.
      const node::RiskSummary risk = node::Summarize(answer.listings, now, policy_, local_policy_,
                                                     node::Purpose::kPeriodicReview);
      std::string line = R"({"line":)" + std::to_string(pair.line) + R"(,"ref":)";
      AppendJsonString(line, items[i].ref);
      line += ',';
      line += std::string_view(node::AnswerJson(answer, /*all=*/false, nullptr, &risk)).substr(1);
      line += '\n';
      listed_.emplace_back(pair.line, std::move(line));
      ++counts_.listed;
    }
    return Ok();
  }

  const WatchBatchOptions& o_;
  Home& home_;
  node::Lookuper lookuper_;
  const node::GradingPolicy& policy_;
  const node::GradingPolicy* local_policy_;  // null without [grading] rules
  const node::AuditLog& audit_;
  node::Progress& progress_;
  const std::string user_;
  ApplyCounts counts_;
  size_t written_ = 0;                                    // pairs (in subject order) committed
  std::vector<std::pair<uint64_t, std::string>> listed_;  // (input line, JSON line)
};

int WatchBatch(const WatchBatchOptions& o) {
  Result<batch::BatchInput> input = batch::OpenBatchInput(o.input);
  if (!input) return Fail(input.error());
  const int fd = input->fd();
  const uint64_t total_bytes = input->total_bytes();

  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  // Alerts go out once, from the institution's node; removing what was added anyway is allowed.
  if (o.mode != Mode::kRemove) {
    if (Status s = NotOnAReplica(*home, "keep the watch list"); !s) return Fail(s.error());
  }
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(home->config.pepper);
  if (!pepper) return Fail(ErrorKind::kIo, pepper.error().message);

  // SIGINT, SIGTERM, SIGHUP: stop between chunks (a second one kills; every chunk is atomic).
  batch::InterruptHandlers handlers;
  const auto started = std::chrono::steady_clock::now();
  const bool tty = ::isatty(2) == 1;
  Collected collected;
  {
    node::Progress progress(tty, total_bytes);
    const node::Lookuper lookuper(*home->store, *pepper);
    Result<Collected> c = CollectInput(o, fd, lookuper, progress);
    if (!c) return Fail(c.error());
    collected = std::move(*c);
  }
  if (collected.invalid > 0) {
    for (size_t i = 0; i < collected.problems.size(); ++i) {
      if (i == batch::kMaxInvalidLinesOnStderr) {
        std::fprintf(stderr, "duanka-admin: more invalid lines; only the first %zu are named\n",
                     batch::kMaxInvalidLinesOnStderr);
        break;
      }
      std::fprintf(stderr, "duanka-admin: line %llu: %s\n",
                   static_cast<unsigned long long>(collected.problems[i].first),
                   collected.problems[i].second.c_str());
    }
    return Fail(ErrorKind::kInvalidInput,
                std::string(Verb(o.mode)) + ": " + batch::Grouped(collected.invalid) + " of " +
                    batch::Grouped(collected.lines) +
                    " lines invalid (named above); nothing was written. Expected " +
                    std::string(kFormat) + " on every line; fix them and run again");
  }

  const node::AuditLog audit(home->config.audit_log, home->config.institution);
  Result<node::GradingPolicy> policy = node::HeldPolicy(*home->store);
  if (!policy) return Fail(policy.error());
  const int64_t started_at = node::SystemNow();
  ApplyCounts counts;
  uint64_t written = 0;
  Status applied = Ok();
  std::string listed;
  {
    node::Progress progress(tty, collected.pairs.size());
    Applier applier(o, *home, *pepper, *policy, audit, progress);
    applied = applier.Run(collected);
    counts = applier.counts();
    written = applier.written();
    listed = applier.ListedLines();
  }
  // The daemon then reads the filter instead of scanning the whole list before its next catch-up.
  if (applied.ok() && counts.changed > 0) {
    if (Status saved = home->store->SaveWatchFilter(); !saved) applied = std::move(saved);
  }
  if (!listed.empty() && (std::fwrite(listed.data(), 1, listed.size(), stdout) != listed.size() ||
                          std::fflush(stdout) != 0)) {
    applied = MakeError(ErrorKind::kIo, std::string("cannot write the listed lines to stdout: ") +
                                            std::strerror(errno));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const bool add = o.mode == Mode::kAdd;
  nlohmann::json event = {
      {"time", node::IsoTime(started_at)},
      {"program", kProgram},
      {"user", node::OsUserName()},
      {"action", add ? "watch-add-batch" : "watch-remove-batch"},
      {"input", InputName(o)},
      {"lines", counts.lines},
      {add ? "added" : "removed", counts.changed},
      {add ? "already_watched" : "not_watched", counts.unchanged},
      {"seconds", std::round(seconds * 1000) / 1000},
      {"completed", applied.ok()},
  };
  if (add) event["listed_now"] = counts.listed;
  if (!applied) event["error"] = applied.error().message;

  char took[32];
  std::snprintf(took, sizeof took, "%.2f s", seconds);
  std::string summary = std::string(Verb(o.mode)) + ": " + batch::Grouped(counts.changed) +
                        (add ? " added, " : " removed, ") + batch::Grouped(counts.unchanged) +
                        (add ? " already watched, " + batch::Grouped(counts.listed) + " listed now"
                             : " not watched") +
                        "; " + batch::Grouped(counts.lines) + " lines in " + took;
  if (seconds > 0 && counts.lines > 0) {
    summary += " (" +
               batch::Grouped(static_cast<uint64_t>(static_cast<double>(counts.lines) / seconds)) +
               " lines/s)";
  }
  std::fprintf(stderr, "duanka-admin: %s\n", summary.c_str());

  if (Status s = audit.Append(event.dump(), /*sync=*/true); !s) {
    return Fail(
        ErrorKind::kIo,
        std::string(Verb(o.mode)) + ": the watch list changed (" + batch::Grouped(counts.changed) +
            " pairs) but the batch's audit line could not be written: " + s.error().message);
  }
  if (!applied) {
    (void)Fail(applied.error());
    std::fprintf(stderr,
                 "duanka-admin: %s: %llu of %llu pairs are written; run the same command again "
                 "to finish (a pair already written is counted, not written twice)\n",
                 Verb(o.mode), static_cast<unsigned long long>(written),
                 static_cast<unsigned long long>(collected.pairs.size()));
    return kExitFailure;
  }
  return kExitOk;
}

int WatchCount(const std::optional<std::string>& home_flag) {
  Result<Home> home = OpenHome(home_flag);
  if (!home) return Fail(home.error());
  Result<uint64_t> count = home->store->WatchCount();
  if (!count) return Fail(count.error());
  std::cout << *count << "\n";
  return kExitOk;
}

}  // namespace

void AddWatchCommands(CLI::App& app, const std::optional<std::string>& home, int& code) {
  auto add = std::make_shared<WatchBatchOptions>();
  CLI::App* watch = app.add_subcommand(
      "watch",
      "the institution's own customers, re-screened as listings arrive: add TYPE,VALUE,REF lines "
      "to the watch list (and see which are listed now), remove them, count them");
  watch->add_option("--batch", add->input,
                    "FILE or - (stdin): one customer per line, TYPE,VALUE,REF");
  watch->footer(
      "Example: duanka-admin watch --batch customers.csv > listed-now.jsonl\n"
      "\n"
      "Input, one line per customer identifier: TYPE,VALUE,REF\n"
      "  phone,13800138000,cust#100234\n"
      "  qq,12345678,cust#100235\n"
      "TYPE and VALUE as for duanka lookup; REF is the institution's own customer reference, 1 to\n"
      "64 printable ASCII characters without a comma, returned in alerts. A REF that reads as an\n"
      "identifier of any type (e.g. C-10023, a valid WeChat ID) is refused. A first line starting\n"
      "with \"type,\" and blank lines are skipped. A file with an invalid line is refused whole:\n"
      "nothing is written, each bad line is named by number (never its content), exit 2.\n"
      "Only keyed hashes and refs are stored; the watch list never leaves this node. Adding a\n"
      "pair held already changes nothing, so a run can be repeated.\n"
      "Output on stdout: one JSON line per line listed now, as duanka lookup --batch --json\n"
      "prints a listed line, plus \"ref\". A summary goes to stderr; every pair added is audited\n"
      "(first 8 hex digits of its subject, and the ref).\n"
      "Exit 0: done; 2: invalid input, nothing written; 3: operational failure (what was\n"
      "written stays; run the same command again to finish).");

  auto remove = std::make_shared<WatchBatchOptions>();
  remove->mode = Mode::kRemove;
  CLI::App* remove_cmd =
      watch->add_subcommand("remove", "remove TYPE,VALUE,REF lines from the watch list");
  remove_cmd->add_option("--batch", remove->input, "FILE or - (stdin): TYPE,VALUE,REF lines")
      ->required();
  remove_cmd->footer(
      "Example: duanka-admin watch remove --batch closed-accounts.csv\n"
      "Lines as for watch --batch; a pair not watched is counted, not an error. Every pair removed "
      "is audited.");
  // The program falls through to a parent's options, so `watch count --batch F` would reach
  // watch's --batch: refused, before the subcommand does anything.
  const auto misplaced_batch = [&code, watch] {
    if (watch->count("--batch") == 0) return false;
    code = Fail(ErrorKind::kInvalidInput,
                "watch: --batch goes after remove (watch remove --batch FILE); count takes none");
    return true;
  };
  remove_cmd->callback([&code, &home, remove, misplaced_batch] {
    if (misplaced_batch()) return;
    remove->home = home;
    code = WatchBatch(*remove);
  });

  CLI::App* count_cmd =
      watch->add_subcommand("count", "print how many (identifier, ref) pairs are watched");
  count_cmd->footer("Example: duanka-admin watch count");
  count_cmd->callback([&code, &home, misplaced_batch] {
    if (misplaced_batch()) return;
    code = WatchCount(home);
  });

  // CLI11 runs a subcommand's callback before its parent's.
  watch->callback([&code, &home, add, remove_cmd, count_cmd] {
    if (remove_cmd->parsed() || count_cmd->parsed()) return;
    if (add->input.empty()) {
      code = Fail(ErrorKind::kInvalidInput,
                  "watch: --batch FILE (or - for stdin) is required, or one of remove, count; "
                  "see duanka-admin watch --help");
      return;
    }
    add->home = home;
    code = WatchBatch(*add);
  });
}

}  // namespace duanka::admin
