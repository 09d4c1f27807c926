// How records from outside (a peer, an imported bundle) enter the store: verified exactly as
// protocol/ says (VerifyRun), appended, and each refusal named one way (RefusalOf).
// `duanka-admin import` calls IngestFeed; the daemon's pipeline calls VerifyRun and RefusalOf
// itself, since it groups several peers' batches into one commit. So the two verify alike.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/store.h"

namespace duanka::node {

struct IngestReport {
  size_t received = 0;
  size_t appended = 0;
  size_t duplicates = 0;
  size_t forks = 0;
  // The first record refused (verification, gap, conflict or frozen feed), with its reason; the
  // rest of that feed in the input was not taken. kMalformed/kUnauthorized mean the sender sent
  // invalid data; kGap means records are missing before these.
  std::optional<Error> refused;
};

// The verified prefix of a run and the error that ended it (if any): the run verified as one chain
// (one signature) when it is sound, record by record to find the first bad one when it is not.
struct VerifiedRun {
  std::vector<protocol::VerifiedRecord> records;
  std::optional<Error> error;
};
VerifiedRun VerifyRun(std::span<const protocol::SignedRecord> run, const protocol::Trust& trust,
                      const protocol::VerifyOptions& options);

// Why the store did not take a record, as an error naming it: kGap, kConflict or kFrozen; nullopt
// for a record appended, already held or kept as fork evidence. The one mapping the daemon's
// pipeline and `import` share.
std::optional<Error> RefusalOf(store::AppendStatus status, const protocol::Record& record);

// Verifies and appends one issuer's records (seq ascending, contiguous). The run is verified as
// one chain (one signature); if that fails, record by record, so that the good records before
// the first bad one are kept and the bad one is named. Fails only with kIo from the store.
Result<IngestReport> IngestFeed(store::Store& store, const protocol::Trust& trust,
                                std::span<const protocol::SignedRecord> records, int64_t now);

}  // namespace duanka::node
