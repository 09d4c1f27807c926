// revoke --batch FILE|- and revoke --issuer I --from T1 --to T2: many revocations in few
// transactions. Outputs and exit codes are in node/admin/README.md.
//
// The targets are gathered first (the input's lines, or the issuer's active entries in the
// range), then cut into chunks of kLinesPerTransaction, as report --batch cuts its input. Each
// chunk is planned and signed as one chain outside any transaction, on the head the chunk
// before leaves, while the chunk before is being written: signing is the bulk of the work and
// gets a core of its own. Inside the write transaction the chunk is planned again from the
// store as it is then, and signed again there only when the head or the plan changed (another
// administrator wrote meanwhile), so the decision what to revoke is always taken in the
// transaction that revokes it: a run killed half-way and started again revokes the rest and
// nothing twice. The store is the only state.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "node/admin/batch_report_interrupt.h"
#include "node/admin/batch_report_limits.h"
#include "node/admin/batch_report_output.h"
#include "node/admin/bulk_revoke_plan.h"
#include "node/admin/context.h"
#include "node/admin/revoke_checks.h"
#include "node/common/human_time.h"
#include "node/common/line_reader.h"
#include "node/common/progress.h"

namespace duanka::admin {
namespace bulk {
namespace {

using batch::Grouped;
using batch::kLinesPerTransaction;
using batch::kMaxInvalidLinesOnStderr;

// Targets gathered before the first transaction: an entry id and a line number each (~48
// bytes), so ten million is ~0.5 GB. A larger withdrawal is split into files.
constexpr size_t kMaxTargets = 10'000'000;
// --note is a sentence for the audit log, not a document.
constexpr size_t kMaxNoteBytes = 512;

struct Counts {
  uint64_t revoked = 0;
  uint64_t already_revoked = 0;
  uint64_t invalid = 0;
  uint64_t done = 0;  // items reported so far
  std::optional<uint64_t> first_seq, last_seq;
};

std::string ProgressText(const Counts& c, uint64_t total, double seconds) {
  std::string text = Grouped(c.done) + "/" + Grouped(total) + ": " + Grouped(c.revoked) +
                     " revoked, " + Grouped(c.already_revoked) + " already revoked, " +
                     Grouped(c.invalid) + " invalid";
  if (seconds > 0) {
    text += ", " + Grouped(static_cast<uint64_t>(static_cast<double>(c.revoked) / seconds)) +
            " revocations/s";
  }
  return text;
}

// The input's lines as targets. A line is an entry id as `list` prints it, with spaces around
// it allowed; blank lines are skipped. Nothing of a bad line is echoed: it may hold an
// identifier pasted by mistake.
Result<std::vector<Item>> ReadTargets(const std::string& input, const std::string& me,
                                      const node::SigningIdentity& id) {
  int fd = 0;
  if (input != "-") {
    fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return MakeError(ErrorKind::kInvalidInput,
                       "--batch: cannot open " + input + ": " + std::strerror(errno));
    }
  }
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd > 0) ::close(fd);
    }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    return MakeError(ErrorKind::kInvalidInput, "--batch: " + input + " is a directory");
  }
  node::LineReader reader(fd);
  std::vector<Item> items;
  std::map<protocol::EntryId, uint64_t> first_line;  // target → the line that named it first
  uint64_t line = 0;
  for (;;) {
    std::string_view text;
    node::LineReader::Status s = reader.Next(text);
    if (s == node::LineReader::Status::kEnd) break;
    if (s == node::LineReader::Status::kError) {
      return MakeError(ErrorKind::kIo, "cannot read " + (input == "-" ? "stdin" : input) +
                                           " after line " + std::to_string(line) + ": " +
                                           std::strerror(reader.errno_value()));
    }
    ++line;
    Item item;
    item.line = line;
    if (s == node::LineReader::Status::kTooLong) {
      item.invalid = "line longer than " + std::to_string(node::kMaxBatchLineBytes) +
                     " bytes; expected an "
                     "entry id as ISSUER:SEQ";
    } else {
      const size_t begin = text.find_first_not_of(" \t");
      if (begin == std::string_view::npos) continue;
      text = text.substr(begin, text.find_last_not_of(" \t") + 1 - begin);
      Result<protocol::EntryId> target = protocol::ParseEntryId(text);
      if (!target) {
        item.invalid = target.error().message;
      } else if (Status may = MayRevoke(me, id, *target); !may) {
        item.target = *target;
        item.invalid = may.error().message;
      } else {
        item.target = *target;
        auto [it, added] = first_line.emplace(*target, line);
        if (!added) item.repeats = it->second;
      }
    }
    if (items.size() == kMaxTargets) {
      return MakeError(ErrorKind::kInvalidInput,
                       "--batch: more than " + Grouped(kMaxTargets) +
                           " lines; split the file (a run of each part revokes what is left)");
    }
    items.push_back(std::move(item));
  }
  return items;
}

// Every active entry of `issuer` issued in [from, to), in feed order.
Result<std::vector<Item>> RangeTargets(const store::Store& store, const std::string& issuer,
                                       int64_t from, int64_t to, int64_t now) {
  std::vector<Item> items;
  bool too_many = false;
  Status walked = store.ForEachListing(issuer, now, [&](const store::Listing& l) {
    if (!store::Stands(l.state) || l.issued_at < from || l.issued_at >= to) return;
    if (items.size() == kMaxTargets) {
      too_many = true;
      return;
    }
    items.push_back(Item{0, l.id, {}, 0});
  });
  if (!walked) return std::move(walked).error();
  if (too_many) {
    return MakeError(ErrorKind::kInvalidInput,
                     "more than " + Grouped(kMaxTargets) +
                         " active entries in the range; narrow --from/--to and run each part");
  }
  return items;
}

class Run {
 public:
  Run(const BulkRevokeOptions& o, Home& home, const node::SigningIdentity& id,
      protocol::RevocationReason reason, std::vector<Item> items)
      : o_(o),
        home_(home),
        me_(home.config.institution),
        id_(id),
        key_id_(protocol::KeyId(id.key.public_key())),
        reason_(reason),
        items_(std::move(items)),
        progress_(::isatty(2) == 1, items_.size()) {}

  // Runs to the end of the targets, an interruption or the first operational failure.
  void Go() {
    Result<std::optional<store::Head>> head = home_.store->GetHead(me_);
    if (!head) return Failed(std::move(head).error());
    store::Head expected = head->value_or(store::Head{});
    expected.issuer = me_;
    const size_t chunks = (items_.size() + kLinesPerTransaction - 1) / kLinesPerTransaction;
    if (chunks == 0) return;
    Result<Presigned> current = PlanChunk(0);
    if (current) current = SignChunk(std::move(*current), expected);
    for (size_t k = 0; k < chunks; ++k) {
      if (!current) return Failed(std::move(current).error());
      // The next chunk is planned here and signed on another thread, on the head this one
      // leaves, while this one is written: signing is sequential and the bulk of the work.
      std::future<Result<Presigned>> next;
      if (k + 1 < chunks) {
        Result<Presigned> planned = PlanChunk(k + 1);
        if (!planned) return Failed(std::move(planned).error());
        next = std::async(std::launch::async, [this, p = std::move(*planned),
                                               after = HeadAfter(current->signed_chunk)]() mutable {
          return SignChunk(std::move(p), after);
        });
      }
      Result<bool> resigned = Commit(*current);
      if (!resigned) {
        if (next.valid()) next.wait();
        return Failed(std::move(resigned).error());
      }
      const store::Head committed = HeadAfter(current->signed_chunk);
      if (!next.valid()) break;
      current = next.get();
      // Another administrator wrote meanwhile: the next chunk was signed on a stale head; sign
      // it again now, outside the transaction, rather than inside every following one.
      if (*resigned && current) current = SignChunk(std::move(*current), committed);
      if (batch::Interrupted()) {
        interrupted_ = true;
        break;
      }
    }
  }

  const Counts& counts() const { return counts_; }
  const std::optional<Error>& failure() const { return failure_; }
  bool interrupted() const { return interrupted_; }
  size_t resigned_chunks() const { return resigned_; }

 private:
  struct Presigned {
    size_t chunk = 0;
    std::span<const Item> items;
    std::vector<Decision> plan;
    Signed signed_chunk;
  };

  static store::Head HeadAfter(const Signed& s) {
    store::Head h = s.base;
    if (!s.records.empty()) {
      h.seq = s.base.seq + s.records.size();
      h.hash = protocol::RecordHash(s.records.back());
    }
    return h;
  }

  std::span<const Item> ChunkItems(size_t k) const {
    const size_t begin = k * kLinesPerTransaction;
    return std::span<const Item>(items_).subspan(
        begin, std::min(kLinesPerTransaction, items_.size() - begin));
  }

  Result<Presigned> PlanChunk(size_t k) const {
    Presigned p;
    p.chunk = k;
    p.items = ChunkItems(k);
    Result<std::vector<Decision>> plan = Plan(*home_.store, p.items, node::SystemNow());
    if (!plan) return std::move(plan).error();
    p.plan = std::move(*plan);
    return p;
  }

  Result<Presigned> SignChunk(Presigned p, const store::Head& head) const {
    Result<Signed> s =
        SignChain(p.items, p.plan, head, node::SystemNow(), me_, reason_, id_, key_id_);
    if (!s) return std::move(s).error();
    p.signed_chunk = std::move(*s);
    return p;
  }

  // Appends the chunk in one write transaction, deciding again there what to revoke; then
  // reports it. True when it had to be signed again inside the transaction.
  Result<bool> Commit(Presigned& p) {
    const int64_t now = node::SystemNow();
    bool resigned = false;
    Result<store::AppendResult> appended = AppendToOwnFeed(
        home_, o_.i_know,
        [&](const store::Head& head) -> Result<std::vector<protocol::VerifiedRecord>> {
          Result<std::vector<Decision>> plan = Plan(*home_.store, p.items, now);
          if (!plan) return std::move(plan).error();
          const store::Head& base = p.signed_chunk.base;
          if (head.seq != base.seq || head.hash != base.hash || *plan != p.plan) {
            p.plan = std::move(*plan);
            Result<Signed> s = SignChain(p.items, p.plan, head, now, me_, reason_, id_, key_id_);
            if (!s) return std::move(s).error();
            p.signed_chunk = std::move(*s);
            resigned = true;
          }
          // One signature check vouches for the whole chain.
          return protocol::VerifyChain(p.signed_chunk.records, home_.trust,
                                       protocol::VerifyOptions{now});
        },
        now);
    if (!appended) return std::move(appended).error();
    if (appended->appended != p.signed_chunk.records.size()) {
      return MakeError(ErrorKind::kInternal,
                       "the store took " + std::to_string(appended->appended) + " of " +
                           std::to_string(p.signed_chunk.records.size()) + " revocations of " +
                           me_ + " after " + std::to_string(p.signed_chunk.base.seq));
    }
    if (resigned) ++resigned_;
    Status shown = Emit(p);
    if (!shown) return std::move(shown).error();
    return resigned;
  }

  // The chunk's result lines, in item order, after its commit (so "revoked" is true).
  Status Emit(const Presigned& p) {
    std::string out;
    out.reserve(p.items.size() * 40);
    const bool lines = !o_.input.empty();
    for (size_t i = 0; i < p.items.size(); ++i) {
      const Item& item = p.items[i];
      const Decision& d = p.plan[i];
      std::optional<protocol::EntryId> by;
      if (p.signed_chunk.by[i] != 0) by = protocol::EntryId{me_, p.signed_chunk.by[i]};
      AppendLine(out, item, d, by, lines);
      switch (d.outcome) {
        case Outcome::kRevoked:
          ++counts_.revoked;
          if (!counts_.first_seq) counts_.first_seq = by->seq;
          counts_.last_seq = by->seq;
          break;
        case Outcome::kAlreadyRevoked:
          ++counts_.already_revoked;
          break;
        case Outcome::kInvalid:
          if (counts_.invalid < kMaxInvalidLinesOnStderr) {
            progress_.Clear();
            std::fprintf(stderr, "duanka-admin: line %llu: %s\n",
                         static_cast<unsigned long long>(item.line), d.reason.c_str());
          } else if (counts_.invalid == kMaxInvalidLinesOnStderr) {
            progress_.Clear();
            std::fprintf(stderr, "duanka-admin: more invalid lines; each is named on stdout\n");
          }
          ++counts_.invalid;
          break;
      }
      ++counts_.done;
    }
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
      return MakeError(ErrorKind::kIo, std::string("cannot write the results to stdout: ") +
                                           std::strerror(errno) + " (revoked through " +
                                           (lines ? "line " + std::to_string(p.items.back().line)
                                                  : p.items.back().target.ToString()) +
                                           ")");
    }
    progress_.Update(counts_.done, [this](double seconds) {
      return ProgressText(counts_, items_.size(), seconds);
    });
    return Ok();
  }

  // "LINE,RESULT,TARGET[,BY]" (--batch), "RESULT,TARGET,BY" (--issuer), or "LINE,invalid,REASON";
  // with --json one object per line.
  void AppendLine(std::string& out, const Item& item, const Decision& d,
                  const std::optional<protocol::EntryId>& by, bool lines) const {
    if (o_.json) {
      nlohmann::json j;
      if (lines) j["line"] = item.line;
      j["result"] = OutcomeName(d.outcome);
      if (!item.target.issuer.empty()) j["entry"] = item.target.ToString();
      if (by) j["by"] = by->ToString();
      if (!d.reason.empty()) j["reason"] = d.reason;
      out += j.dump();
      out += '\n';
      return;
    }
    if (lines) {
      out += std::to_string(item.line);
      out += ',';
    }
    out += OutcomeName(d.outcome);
    out += ',';
    if (d.outcome == Outcome::kInvalid) {
      // The reason last, quoted as CSV quotes a field: reasons hold commas.
      out += '"';
      for (char ch : d.reason) {
        if (ch == '"') out += '"';
        out += ch;
      }
      out += '"';
    } else {
      out += item.target.ToString();
      if (by) {
        out += ',';
        out += by->ToString();
      }
    }
    out += '\n';
  }

  void Failed(Error e) {
    if (!failure_) failure_ = std::move(e);
  }

  const BulkRevokeOptions& o_;
  Home& home_;
  const std::string me_;
  const node::SigningIdentity& id_;
  const crypto::Hash256 key_id_;
  const protocol::RevocationReason reason_;
  const std::vector<Item> items_;
  Counts counts_;
  node::Progress progress_;
  size_t resigned_ = 0;
  bool interrupted_ = false;
  std::optional<Error> failure_;
};

}  // namespace
}  // namespace bulk

int RevokeBulk(const BulkRevokeOptions& o) {
  using bulk::Grouped;
  const bool by_batch = !o.input.empty();
  if (by_batch == !o.issuer.empty()) {
    return Fail(ErrorKind::kInvalidInput,
                "revoke: give either --batch FILE or --issuer CODE --from T1 --to T2");
  }
  std::optional<protocol::RevocationReason> reason = protocol::ParseRevocationReason(o.reason);
  if (!reason) {
    return Fail(ErrorKind::kInvalidInput,
                "--reason: expected one of " + protocol::AllRevocationReasonNames());
  }
  if (o.note.size() > bulk::kMaxNoteBytes || std::any_of(o.note.begin(), o.note.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20;
      })) {
    return Fail(ErrorKind::kInvalidInput,
                "--note: one line of at most " + std::to_string(bulk::kMaxNoteBytes) + " bytes");
  }
  int64_t from = 0, to = 0;
  if (!by_batch) {
    if (!base::IsValidInstitutionCode(o.issuer)) {
      return Fail(ErrorKind::kInvalidInput, "--issuer: expected an institution code, e.g. BANKA");
    }
    if (o.from.empty() || o.to.empty()) {
      return Fail(ErrorKind::kInvalidInput,
                  "--issuer needs --from and --to: the entries issued in [--from, --to)");
    }
    Result<int64_t> f = node::ParseMoment("--from", o.from);
    if (!f) return Fail(f.error());
    Result<int64_t> t = node::ParseMoment("--to", o.to);
    if (!t) return Fail(t.error());
    if (*f >= *t) {
      return Fail(ErrorKind::kInvalidInput, "--from " + node::HumanMinute(*f) +
                                                " is not before --to " + node::HumanMinute(*t) +
                                                "; the range is [--from, --to)");
    }
    from = *f;
    to = *t;
  } else if (!o.from.empty() || !o.to.empty()) {
    return Fail(ErrorKind::kInvalidInput, "--from and --to go with --issuer, not --batch");
  }

  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<node::SigningIdentity> id = LoadIdentity(*home);
  if (!id) return Fail(id.error());
  const std::string& me = home->config.institution;
  const int64_t started_at = node::SystemNow();

  Result<std::vector<bulk::Item>> items = MakeError(ErrorKind::kInternal, "no targets");
  if (by_batch) {
    items = bulk::ReadTargets(o.input, me, *id);
  } else {
    Result<std::optional<store::Head>> head = home->store->GetHead(o.issuer);
    if (!head) return Fail(head.error());
    if (!*head) {
      return Fail(ErrorKind::kInvalidInput, "--issuer: no feed of " + o.issuer +
                                                " is held here (duanka status lists the feeds)");
    }
    if (!MayRevoke(me, *id, protocol::EntryId{o.issuer, 1})) {
      return Fail(ErrorKind::kUnauthorized,
                  me + " may revoke only its own entries; the feed of " + o.issuer +
                      " is another institution's (only it or the regulator may revoke them)");
    }
    items = bulk::RangeTargets(*home->store, o.issuer, from, to, started_at);
  }
  if (!items) return Fail(items.error());

  const size_t targets = items->size();
  // Written (and synced) before the first commit, so that a run killed part way (SIGKILL, power)
  // still leaves who started it, on what and why; the closing line below gives the outcome.
  nlohmann::json opening = {
      {"time", node::IsoTime(started_at)},
      {"program", "duanka-admin"},
      {"user", node::OsUserName()},
      {"action", by_batch ? "revoke-batch-started" : "revoke-range-started"},
      {"reason", protocol::RevocationReasonName(*reason)},
      {"targets", targets},
  };
  if (by_batch) {
    opening["input"] = o.input == "-" ? "stdin" : o.input;
  } else {
    opening["issuer"] = o.issuer;
    opening["from"] = node::IsoTime(from);
    opening["to"] = node::IsoTime(to);
  }
  if (Status s = Audit(*home, opening.dump()); !s) {
    return Fail(ErrorKind::kIo, "nothing revoked: cannot audit the run: " + s.error().message);
  }

  batch::InterruptHandlers handlers;
  auto started = std::chrono::steady_clock::now();
  bulk::Run run(o, *home, *id, *reason, std::move(*items));
  run.Go();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const bulk::Counts& c = run.counts();
  std::optional<Error> failure = run.failure();
  if (!failure && run.interrupted()) {
    failure =
        MakeError(ErrorKind::kIo, "interrupted after " + Grouped(c.done) + " of " +
                                      Grouped(targets) + "; run the same command again to finish");
  }

  const std::string what = by_batch ? "revoke --batch" : "revoke --issuer";
  nlohmann::json event = {
      {"time", node::IsoTime(started_at)},
      {"program", "duanka-admin"},
      {"user", node::OsUserName()},
      {"action", by_batch ? "revoke-batch" : "revoke-range"},
      {"reason", protocol::RevocationReasonName(*reason)},
      {"targets", targets},
      {"revoked", c.revoked},
      {"already_revoked", c.already_revoked},
      {"invalid", c.invalid},
      {"seconds", std::round(seconds * 1000) / 1000},
      {"completed", !failure.has_value()},
  };
  if (by_batch) {
    event["input"] = o.input == "-" ? "stdin" : o.input;
  } else {
    event["issuer"] = o.issuer;
    event["from"] = node::IsoTime(from);
    event["to"] = node::IsoTime(to);
  }
  if (!o.note.empty()) event["note"] = o.note;
  if (o.i_know) event["i_know"] = true;
  std::string summary = what + ": " + Grouped(c.revoked) + " revoked, " +
                        Grouped(c.already_revoked) + " already revoked, " + Grouped(c.invalid) +
                        " invalid, of " + Grouped(targets);
  char rate[64];
  std::snprintf(rate, sizeof rate, " in %.2f s", seconds);
  summary += rate;
  if (seconds > 0 && c.revoked > 0) {
    summary += " (" + Grouped(static_cast<uint64_t>(static_cast<double>(c.revoked) / seconds)) +
               " revocations/s)";
  }
  if (c.first_seq) {
    const std::string first = protocol::EntryId{me, *c.first_seq}.ToString();
    const std::string last = protocol::EntryId{me, *c.last_seq}.ToString();
    event["first_revocation"] = first;
    event["last_revocation"] = last;
    summary += "; revocations " + first + " to " + last;
  }
  if (run.resigned_chunks() > 0) {
    summary += "; " + std::to_string(run.resigned_chunks()) +
               " transaction(s) signed again after another administrator wrote";
  }
  if (failure) event["error"] = failure->message;
  std::fprintf(stderr, "duanka-admin: %s\n", summary.c_str());

  if (Status s = Audit(*home, event.dump()); !s) {
    return Fail(ErrorKind::kIo, "revoked " + Grouped(c.revoked) +
                                    " entries but could not audit the run: " + s.error().message);
  }
  if (failure) {
    // Whatever the error's kind, a run that did not finish is an operational failure: the
    // next run completes it.
    (void)Fail(*failure);
    return kExitFailure;
  }
  return c.invalid > 0 ? kExitInvalid : kExitOk;
}

}  // namespace duanka::admin
