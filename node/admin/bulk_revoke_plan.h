// revoke --batch / --issuer: what each target becomes (decided from the store), and a chunk's
// revocations signed as one chain on a head. bulk_revoke.cpp runs these on chunks of targets.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "crypto/base/result.h"
#include "node/common/identity.h"
#include "store/store.h"

namespace duanka::admin::bulk {

// One target of the run: an input line (--batch) or an entry found by --issuer.
struct Item {
  uint64_t line = 0;  // the input line; 0 for --issuer
  protocol::EntryId target;
  // Refused before the store is asked: a malformed line, another issuer's entry for a member,
  // or an entry named on an earlier line (then `repeats` is that line and this is empty).
  std::string invalid;
  uint64_t repeats = 0;
};

enum class Outcome : uint8_t { kRevoked, kAlreadyRevoked, kInvalid };
const char* OutcomeName(Outcome o);  // "revoked", "already-revoked", "invalid"

struct Decision {
  Outcome outcome = Outcome::kRevoked;
  std::string reason;  // kAlreadyRevoked / kInvalid: why, for people (entry ids, never subjects)
  bool operator==(const Decision&) const = default;
};

// What each item is to become at `now`, by the rules the single revoke applies
// (RevocableListing): revoke it, already revoked (skipped), or invalid (not held here). The
// store is asked about all of them in one read transaction (CheckRevocable), so the plan is
// of one state of the store.
Result<std::vector<Decision>> Plan(const store::Store& store, std::span<const Item> items,
                                   int64_t now);

// A chunk's revocations, signed as a chain on `base`.
struct Signed {
  store::Head base;
  std::vector<protocol::SignedRecord> records;
  std::vector<uint64_t> by;  // per item: the seq of its revocation, 0 when none
};

// Signs one revocation per kRevoked decision, in item order, extending `head`.
Result<Signed> SignChain(std::span<const Item> items, const std::vector<Decision>& plan,
                         const store::Head& head, int64_t issued_at, const std::string& me,
                         protocol::RevocationReason reason, const node::SigningIdentity& id,
                         const crypto::Hash256& key_id);

}  // namespace duanka::admin::bulk
