#include "node/common/ingest.h"

namespace duanka::node {
VerifiedRun VerifyRun(std::span<const protocol::SignedRecord> run, const protocol::Trust& trust,
                      const protocol::VerifyOptions& options) {
  Result<std::vector<protocol::VerifiedRecord>> chain = protocol::VerifyChain(run, trust, options);
  if (chain) return VerifiedRun{std::move(*chain), std::nullopt};
  // Find exactly where the run goes wrong: each record on its own, and each link.
  VerifiedRun out;
  for (const protocol::SignedRecord& s : run) {
    Result<protocol::VerifiedRecord> v = protocol::Verify(s, trust, options);
    if (!v) {
      out.error = std::move(v).error();
      // Undecodable bytes carry no id of their own: say where in the run they stood.
      if (!out.error->message.starts_with("record ") ||
          out.error->message.starts_with("record does") ||
          out.error->message.starts_with("record is")) {
        if (out.records.empty()) {
          out.error->message = "the first record of the run: " + out.error->message;
        } else {
          const protocol::Record& last = out.records.back().record();
          out.error->message = protocol::EntryId{last.issuer, last.seq + 1}.ToString() +
                               " (the record after " + last.id().ToString() +
                               "): " + out.error->message;
        }
      }
      return out;
    }
    if (!out.records.empty()) {
      const protocol::VerifiedRecord& before = out.records.back();
      const protocol::Record& r = v->record();
      if (r.issuer != before.record().issuer || r.seq != before.record().seq + 1 ||
          r.prev != before.hash()) {
        out.error =
            MakeError(ErrorKind::kMalformed, "record " + r.id().ToString() + ": does not follow " +
                                                 before.record().id().ToString() + " in its chain");
        return out;
      }
    }
    out.records.push_back(std::move(*v));
  }
  out.error = std::move(chain).error();  // unreachable in practice: every record verified
  return out;
}

namespace {

Error Refusal(store::AppendStatus status, const protocol::Record& r) {
  switch (status) {
    case store::AppendStatus::kGap:
      return MakeError(ErrorKind::kGap, "record " + r.id().ToString() + ": earlier records of " +
                                            r.issuer + " are missing");
    case store::AppendStatus::kConflict:
      return MakeError(ErrorKind::kConflict, "record " + r.id().ToString() +
                                                 ": does not link to the head held for " +
                                                 r.issuer + " (the feed forked elsewhere)");
    default:
      return MakeError(ErrorKind::kFrozen, "record " + r.id().ToString() + ": feed " + r.issuer +
                                               " is frozen after a fork");
  }
}

}  // namespace

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
    bool refused = status == store::AppendStatus::kGap ||
                   status == store::AppendStatus::kConflict ||
                   status == store::AppendStatus::kFrozen;
    if (refused && !report.refused) report.refused = Refusal(status, verified.records[i].record());
  }
  return report;
}

}  // namespace duanka::node
