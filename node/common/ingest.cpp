#include "node/common/ingest.h"

#include <algorithm>

#include "node/common/profile.h"

namespace duanka::node {
namespace {

// The record after `before` in its chain, or why not.
std::optional<Error> BreaksChain(const protocol::VerifiedRecord& before,
                                 const protocol::VerifiedRecord& next) {
  const protocol::Record& r = next.record();
  if (r.issuer == before.record().issuer && r.seq == before.record().seq + 1 &&
      r.prev == before.hash()) {
    return std::nullopt;
  }
  return MakeError(ErrorKind::kMalformed, "record " + r.id().ToString() + ": does not follow " +
                                              before.record().id().ToString() + " in its chain");
}

// Record by record, to find exactly where a segment that did not verify as a chain goes wrong;
// appends the good records before it to `out`.
void FindFirstBad(std::span<const protocol::SignedRecord> segment, const protocol::Trust& trust,
                  const protocol::VerifyOptions& options, Error chain_error, VerifiedRun& out) {
  for (const protocol::SignedRecord& s : segment) {
    Result<protocol::VerifiedRecord> v = protocol::Verify(s, trust, options);
    if (!v) {
      out.error = std::move(v).error();
      // Bytes that do not decode carry no id of their own: say where in the run they stood.
      if (!protocol::DecodeRecord(s.bytes).ok()) {
        if (out.records.empty()) {
          out.error->message = "the first record of the run: " + out.error->message;
        } else {
          const protocol::Record& last = out.records.back().record();
          out.error->message = protocol::EntryId{last.issuer, last.seq + 1}.ToString() +
                               " (the record after " + last.id().ToString() +
                               "): " + out.error->message;
        }
      }
      return;
    }
    if (!out.records.empty()) {
      if (std::optional<Error> broken = BreaksChain(out.records.back(), *v)) {
        out.error = std::move(broken);
        return;
      }
    }
    out.records.push_back(std::move(*v));
  }
  out.error = std::move(chain_error);  // unreachable in practice: every record verified
}

}  // namespace

VerifiedRun VerifyRun(std::span<const protocol::SignedRecord> run, const protocol::Trust& trust,
                      const protocol::VerifyOptions& options) {
  VerifiedRun out;
  out.records.reserve(run.size());
  // In segments, each vouched for by its own newest signature: a stored record is then never
  // more than kMaxUncheckedRun records before one whose own signature was checked, which is what
  // lets any node serve any range ending on a checked record (see protocol/README.md).
  for (size_t begin = 0; begin < run.size(); begin += protocol::kMaxUncheckedRun) {
    std::span<const protocol::SignedRecord> segment =
        run.subspan(begin, std::min(protocol::kMaxUncheckedRun, run.size() - begin));
    Result<std::vector<protocol::VerifiedRecord>> chain =
        protocol::VerifyChain(segment, trust, options);
    if (!chain) {
      FindFirstBad(segment, trust, options, std::move(chain).error(), out);
      return out;
    }
    if (!out.records.empty()) {
      if (std::optional<Error> broken = BreaksChain(out.records.back(), chain->front())) {
        out.error = std::move(broken);
        return out;
      }
    }
    for (protocol::VerifiedRecord& v : *chain) out.records.push_back(std::move(v));
  }
  return out;
}

std::optional<Error> RefusalOf(store::AppendStatus status, const protocol::Record& r) {
  switch (status) {
    case store::AppendStatus::kGap:
      return MakeError(ErrorKind::kGap, "record " + r.id().ToString() + ": earlier records of " +
                                            r.issuer + " are missing");
    case store::AppendStatus::kConflict:
      return MakeError(ErrorKind::kConflict, "record " + r.id().ToString() +
                                                 ": does not link to the head held for " +
                                                 r.issuer + " (the feed forked elsewhere)");
    case store::AppendStatus::kFrozen:
      return MakeError(ErrorKind::kFrozen, "record " + r.id().ToString() + ": feed " + r.issuer +
                                               " is frozen after a fork");
    case store::AppendStatus::kLosing:
      return MakeError(ErrorKind::kConflict, "record " + r.id().ToString() + ": on a branch of " +
                                                 r.issuer +
                                                 "'s feed discarded by a fork resolution");
    case store::AppendStatus::kMisdated:
      // VerifyChain refuses the same inside a run; this is the run's first record against the
      // head held. A record breaking the protocol's rule is its relay's doing, as any malformed.
      return MakeError(ErrorKind::kMalformed, "record " + r.id().ToString() +
                                                  " is dated before the record it follows "
                                                  "(issue times rise along a feed)");
    default:
      return std::nullopt;
  }
}

Result<IngestReport> IngestFeed(store::Store& store, const protocol::Trust& trust,
                                std::span<const protocol::SignedRecord> records, int64_t now) {
  IngestReport report;
  report.received = records.size();
  VerifiedRun verified = VerifyRun(records, trust, protocol::VerifyOptions{now});
  report.refused = std::move(verified.error);
  if (verified.records.empty()) return report;
  Result<store::AppendResult> appended = store.Append(verified.records, now);
  if (!appended) return std::move(appended).error();
  report.appended = appended->appended;
  report.forks = appended->forks;
  for (size_t i = 0; i < appended->statuses.size(); ++i) {
    store::AppendStatus status = appended->statuses[i];
    if (status == store::AppendStatus::kDuplicate) ++report.duplicates;
    if (!report.refused) report.refused = RefusalOf(status, verified.records[i].record());
  }
  std::vector<std::string> grown;
  for (size_t i = 0; i < appended->statuses.size(); ++i) {
    const std::string& issuer = verified.records[i].record().issuer;
    if (appended->statuses[i] == store::AppendStatus::kAppended &&
        std::find(grown.begin(), grown.end(), issuer) == grown.end()) {
      grown.push_back(issuer);
    }
  }
  // Only a start for the lookup CLI's profile reads (node/common/profile.h): if it cannot be
  // saved, readers read the feeds themselves, so the import has still succeeded.
  (void)SaveProfileScans(store, grown);
  return report;
}

}  // namespace duanka::node
