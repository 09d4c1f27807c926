#include "node/admin/bulk_revoke_plan.h"

#include "node/admin/revoke_checks.h"

namespace duanka::admin::bulk {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kRevoked:
      return "revoked";
    case Outcome::kAlreadyRevoked:
      return "already-revoked";
    case Outcome::kInvalid:
      return "invalid";
  }
  return "invalid";
}

Result<std::vector<Decision>> Plan(const store::Store& store, std::span<const Item> items,
                                   int64_t now) {
  std::vector<Decision> plan(items.size());
  // The items the store is asked about, checked together in one read transaction.
  std::vector<size_t> asked;
  std::vector<protocol::EntryId> targets;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& item = items[i];
    if (!item.invalid.empty()) {
      plan[i] = Decision{Outcome::kInvalid, item.invalid};
    } else {
      // A repeat is asked about too: one not held is invalid as its first line is; one held is
      // revoked by its first line (in this run or before), never twice.
      asked.push_back(i);
      targets.push_back(item.target);
    }
  }
  Result<std::vector<Status>> checked = CheckRevocable(store, targets, now);
  if (!checked) return std::move(checked).error();
  for (size_t j = 0; j < asked.size(); ++j) {
    const Status& check = (*checked)[j];
    const Item& item = items[asked[j]];
    if (item.repeats != 0 && (check || check.error().kind == ErrorKind::kConflict)) {
      plan[asked[j]] =
          Decision{Outcome::kAlreadyRevoked, item.target.ToString() + " is named on line " +
                                                 std::to_string(item.repeats) + " too"};
      continue;
    }
    if (check) continue;  // kRevoked
    const Error& e = check.error();
    if (e.kind == ErrorKind::kConflict) {
      plan[asked[j]] = Decision{Outcome::kAlreadyRevoked, e.message};
    } else if (e.kind == ErrorKind::kNotFound) {
      plan[asked[j]] = Decision{Outcome::kInvalid, e.message};
    } else {
      return e;
    }
  }
  return plan;
}

Result<Signed> SignChain(std::span<const Item> items, const std::vector<Decision>& plan,
                         const store::Head& head, int64_t issued_at, const std::string& me,
                         protocol::RevocationReason reason, const node::SigningIdentity& id,
                         const crypto::Hash256& key_id) {
  Signed out;
  out.base = head;
  out.by.assign(items.size(), 0);
  protocol::Record r;
  r.issuer = me;
  r.issued_at = issued_at;
  r.signer_key_id = key_id;
  r.seq = head.seq;
  r.prev = head.hash;
  for (size_t i = 0; i < items.size(); ++i) {
    if (plan[i].outcome != Outcome::kRevoked) continue;
    r.seq += 1;
    r.body = protocol::RevocationBody{items[i].target, reason};
    Result<protocol::SignedRecord> signed_record = protocol::SignRecord(r, id.key);
    if (!signed_record) return std::move(signed_record).error();
    r.prev = protocol::RecordHash(*signed_record);
    out.by[i] = r.seq;
    out.records.push_back(std::move(*signed_record));
  }
  return out;
}

}  // namespace duanka::admin::bulk
