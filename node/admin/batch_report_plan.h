// report --batch: chunks of parsed lines, the plan of what each line becomes (decided from the
// store and the chunks in flight), and the chunk's new entries signed as a chain.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "crypto/base/result.h"
#include "node/admin/batch_report_parse.h"
#include "node/common/config.h"
#include "node/common/identity.h"
#include "store/store.h"

namespace duanka::admin::batch {

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

inline Key KeyOf(const Pending& p) {
  return Key{p.entry.subject, p.entry.category};
}

// Entries of one chunk that is signed but perhaps not yet committed: key → seq, sorted by key.
using InFlight = std::vector<std::pair<Key, uint64_t>>;

// Decides each pending line: already listed (an active entry of `me` with the same subject and
// category is held, or is being published by a chunk in `in_flight`, or by an earlier line of
// the chunk), withdrawn (the same listing of `me` was revoked as wrong: a re-run of an old file
// must not list again whom an appeal or a court released), or to be published.
Result<std::vector<Decision>> Plan(const store::Store& store, const std::string& me,
                                   std::span<const Pending> pending,
                                   const std::deque<InFlight>* in_flight, int64_t now);

// Signs the chunk's new entries as a chain on `head`, filling records and results. A line whose
// record fails the protocol's own range checks (say, a case reference that is not UTF-8) becomes
// invalid, and the next line with its key is published in its place.
void SignChain(Chunk& c, const store::Head& head, int64_t issued_at, const std::string& me,
               const node::SigningIdentity& id, const node::ListingPolicy& policy,
               const crypto::Hash256& key_id);

}  // namespace duanka::admin::batch
