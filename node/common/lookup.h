// A lookup as the lookup CLI and the daemon's HTTP API both answer it: identifier → canonical form
// → subject under every pepper epoch → one read of the store → listings, rendered as one JSON
// object (so `duanka lookup --json` and `POST /v1/lookup` give the same answer) and audited.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"
#include "node/common/profile.h"
#include "store/store.h"

namespace duanka::node {

// Why someone looked: recorded in the audit log with every lookup (the HTTP API requires it).
enum class Purpose : uint8_t {
  kAccountOpening = 1,
  kPeriodicReview = 2,
  kTransactionReview = 3,
  kAppeal = 4,
  kInvestigation = 5,
};
std::string_view PurposeName(Purpose p);
std::optional<Purpose> ParsePurpose(std::string_view name);
std::string AllPurposeNames();

struct LookupAnswer {
  protocol::IdType type = protocol::IdType::kCnId;
  crypto::Hash256 subject;               // under the current epoch
  std::vector<store::Listing> listings;  // every state; `listed` counts active ones only
  IssuerProfiles profiles;               // of the listings' issuers, those that published one
  bool listed() const;
  // No active entry, but one held by the flood guard: not listed until released (the CLI exits
  // 1, as for not listed, with "held" in its answer for the caller to look closer).
  bool held() const;
  // "listed", "held" or "not-listed": the audit log's word for the answer.
  std::string_view result() const;
};

// Derives subjects with the pepper's prepared keys and reads the store. Both must outlive it.
class Lookuper {
 public:
  Lookuper(const store::Store& store, const crypto::Pepper& pepper)
      : store_(store), pepper_(pepper), profiles_(std::make_shared<ProfileReader>(store)) {}

  // kInvalidInput (naming the type and reason, never the value) for an invalid identifier;
  // kIo from the store.
  Result<LookupAnswer> Lookup(protocol::IdType type, std::string_view raw, int64_t now,
                              bool details) const;

  // The subject under every epoch the pepper holds, current first; then, for a type that
  // succeeded another (passport-icao), the same for the old type's form of the identifier.
  std::vector<crypto::Hash256> Subjects(protocol::IdType type, std::string_view canonical) const;

  // The issuers' profiles that name them in answers.
  const ProfileReader& profiles() const { return *profiles_; }

 private:
  const store::Store& store_;
  const crypto::Pepper& pepper_;
  std::shared_ptr<ProfileReader> profiles_;  // shared: its cache outlives copies
};

// {"type":…,"subject":…,"listed":…,"held":…,"entries":[…]}; entries are the active and held ones,
// `all` includes revoked, expired and suspended entries too.
// `heads` adds "store":{"feeds":[{"issuer","seq","last_grew_at"}…]} for freshness when non-null.
// `risk`, when non-null, adds "risk":{…} (node/common/risk.h RiskObject).
struct RiskSummary;
std::string AnswerJson(const LookupAnswer& answer, bool all, const std::vector<store::Head>* heads,
                       const RiskSummary* risk = nullptr);

// One entry as JSON, as in AnswerJson's "entries" and `duanka show --json`. With `profiles`, it
// names the issuer: "issuer_name":{"zh":…,"en":…}, or null when it has published no profile.
std::string ListingJson(const store::Listing& listing, const IssuerProfiles* profiles = nullptr);

// An audit-log line for one lookup: time, program, user (OS user or API client), action, purpose,
// type, the first kAuditSubjectHexChars of the subject, result. Never the identifier. `action` is
// "lookup", or "explain" when the person was given a notice (duanka explain, POST /v1/explain).
std::string LookupAuditJson(int64_t now, std::string_view program, std::string_view user,
                            Purpose purpose, protocol::IdType type, const crypto::Hash256& subject,
                            std::string_view result, std::string_view action = "lookup");

// Counts of a batch of lookups (or of one part of a long batch, starting at input line
// first_line), for its audit line.
struct BatchAuditCounts {
  uint64_t first_line = 1;
  uint64_t lines = 0;
  uint64_t listed = 0;
  uint64_t not_listed = 0;
  uint64_t invalid = 0;
  uint64_t held = 0;  // of not_listed, those with an entry held by the flood guard
};

// An audit-log line for a batch: time, program, user, purpose and the counts, with "result"
// "listed" when any line was. Neither identifiers nor subjects: a batch may hold millions.
std::string BatchAuditJson(int64_t now, std::string_view program, std::string_view user,
                           Purpose purpose, const BatchAuditCounts& counts);

}  // namespace duanka::node
