#include "node/admin/batch_report_plan.h"

#include <algorithm>
#include <optional>

namespace duanka::admin::batch {
namespace {

// Revocations that do not mean "this listing was wrong": after them the same listing may be
// published again.
bool AllowsRelisting(protocol::RevocationReason reason) {
  return reason == protocol::RevocationReason::kSuperseded ||
         reason == protocol::RevocationReason::kRehashed;
}

}  // namespace

// Sorted vectors rather than hash maps: this runs twice per line, and allocating a node per key
// costs more than the lookup itself.
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
    if (store::Stands(l.state)) {
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

}  // namespace duanka::admin::batch
