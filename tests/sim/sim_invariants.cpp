// What must hold after every run, once faults have healed and the network has been quiet: checked
// on the honest nodes' stores and on what the run recorded as it went.
#include <set>
#include <sstream>

#include "tests/sim/sim_node.h"

namespace duanka::sim {
namespace {

// Details list at most this many instances of one broken invariant.
constexpr size_t kMaxInstances = 4;

class Findings {
 public:
  Findings(const char* invariant, std::vector<Violation>& out) : invariant_(invariant), out_(out) {}
  ~Findings() {
    if (count_ == 0) return;
    if (count_ > kMaxInstances) text_ << "; and " << (count_ - kMaxInstances) << " more";
    out_.push_back(Violation{invariant_, text_.str()});
  }
  void Add(const std::string& what) {
    if (count_++ < kMaxInstances) text_ << (count_ > 1 ? "; " : "") << what;
  }

 private:
  const char* invariant_;
  std::vector<Violation>& out_;
  std::ostringstream text_;
  size_t count_ = 0;
};

std::string HeadText(const std::optional<store::Head>& h) {
  if (!h) return "nothing";
  return "seq " + std::to_string(h->seq) + " (" + h->hash.Hex().substr(0, 8) + ")" +
         (h->frozen ? " frozen at " + std::to_string(h->fork_seq) : "");
}

// Every record an honest node stores is covered by a signature that verifies: each feed from
// seq 1 to its head verifies as one chain against the certified signers, and each evidence
// record verifies on its own.
void CheckRecordsVerify(World& w, std::vector<Violation>& out) {
  Findings found(kRecordsVerify, out);
  const protocol::VerifyOptions options{w.wall_now(), w.limits.max_clock_skew_seconds};
  std::set<crypto::Hash256> verified;  // digests of whole feeds that verified
  for (const auto& n : w.nodes) {
    if (!n->up()) continue;  // reported by heads-converge
    Result<std::vector<store::Head>> heads = n->store()->Heads();
    if (!heads) {
      found.Add(n->institution() + ": cannot read heads: " + heads.error().message);
      continue;
    }
    for (const store::Head& h : *heads) {
      if (h.seq == 0) continue;
      Result<std::vector<protocol::SignedRecord>> records = n->store()->Range(h.issuer, 1, h.seq);
      if (!records || records->size() != h.seq) {
        found.Add(n->institution() + " holds feed " + h.issuer + " at seq " +
                  std::to_string(h.seq) + " but not every record before it");
        continue;
      }
      // Most nodes hold the same bytes of a feed: verified once (bytes decide the verdict).
      std::string all;
      for (const protocol::SignedRecord& r : *records) all += r.bytes + r.signature;
      const crypto::Hash256 key = crypto::Sha256(crypto::AsBytes(all));
      if (verified.count(key)) continue;
      Result<std::vector<protocol::VerifiedRecord>> chain =
          protocol::VerifyChain(*records, w.trust, options);
      if (chain && chain->front().record().prev == crypto::Hash256{} &&
          chain->back().hash() == h.hash) {
        verified.insert(key);
      }
      if (!chain) {
        found.Add(n->institution() + " stores feed " + h.issuer +
                  " that does not verify: " + chain.error().message);
        continue;
      }
      if (chain->front().record().prev != crypto::Hash256{} || chain->back().hash() != h.hash) {
        found.Add(n->institution() + " stores feed " + h.issuer +
                  " whose chain does not run from seq 1 to its head");
      }
    }
    Result<std::vector<store::Evidence>> evidence = n->store()->AllEvidence();
    if (!evidence) continue;
    for (const store::Evidence& e : *evidence) {
      if (!protocol::Verify(e.held, w.trust, options) ||
          !protocol::Verify(e.other, w.trust, options)) {
        found.Add(n->institution() + " keeps fork evidence that does not verify");
      }
    }
  }
}

// Honest nodes converge to identical heads of honest feeds: every node holds each honest
// issuer's feed exactly as far as the issuer itself, unforked.
void CheckHeadsConverge(World& w, std::vector<Violation>& out) {
  Findings found(kHeadsConverge, out);
  for (const auto& n : w.nodes) {
    if (!n->up()) found.Add(n->institution() + " is down at the end of the run");
  }
  for (const auto& issuer : w.nodes) {
    if (!issuer->up()) continue;
    Result<std::optional<store::Head>> own = issuer->store()->GetHead(issuer->institution());
    if (!own) continue;
    for (const auto& n : w.nodes) {
      if (!n->up() || n == issuer) continue;
      Result<std::optional<store::Head>> held = n->store()->GetHead(issuer->institution());
      if (!held) continue;
      const bool same = held->has_value() == own->has_value() &&
                        (!*own || ((*held)->seq == (*own)->seq && (*held)->hash == (*own)->hash &&
                                   !(*held)->frozen));
      if (!same) {
        found.Add(n->institution() + " holds " + issuer->institution() + " at " + HeadText(*held) +
                  ", the issuer at " + HeadText(*own));
      }
    }
  }
}

// Every equivocation is found and its feed frozen at a fork (a seq where the two branches hold
// different records: any of them proves it), at every honest node.
void CheckEquivocationFrozen(World& w, std::vector<Violation>& out) {
  Findings found(kEquivocationFrozen, out);
  for (const World::Equivocation& fork : w.equivocations) {
    for (const auto& n : w.nodes) {
      if (!n->up()) continue;
      Result<std::optional<store::Head>> h = n->store()->GetHead(fork.issuer);
      if (!h || !*h || !(*h)->frozen || (*h)->fork_seq < fork.first || (*h)->fork_seq > fork.last) {
        found.Add(n->institution() + " holds " + fork.issuer + " (forked at seqs " +
                  std::to_string(fork.first) + ".." + std::to_string(fork.last) + ") at " +
                  (h ? HeadText(*h) : "an unreadable head"));
      }
    }
  }
}

// Every revocation made is held by every honest node, and withdraws its entry there.
void CheckRevocationsHeld(World& w, std::vector<Violation>& out) {
  Findings found(kRevocationsHeld, out);
  for (const auto& [revocation, target] : w.revocations) {
    for (const auto& n : w.nodes) {
      if (!n->up()) continue;
      Result<std::optional<store::Listing>> listing = n->store()->GetListing(target, w.wall_now());
      const bool held =
          listing && *listing && (*listing)->revocation && (*listing)->revocation->by == revocation;
      if (!held) {
        found.Add(n->institution() + " does not hold " + revocation.ToString() + " revoking " +
                  target.ToString());
      }
    }
  }
}

// No honest node penalises another honest node: relaying, being slow or being cut off is never
// misbehaviour.
void CheckNoHonestPenalty(World& w, std::vector<Violation>& out) {
  Findings found(kNoHonestPenalty, out);
  for (const PenaltyGiven& p : w.penalties) {
    if (!w.honest.count(p.who)) continue;
    std::ostringstream at;
    at.precision(3);
    at << std::fixed << double(p.at) / kSecond;
    found.Add(w.nodes[p.by]->institution() + " penalised " + p.who + " at " + at.str() +
              " s: " + p.why);
  }
}

}  // namespace

void CheckInvariants(World& w, std::vector<Violation>& out) {
  CheckRecordsVerify(w, out);
  CheckHeadsConverge(w, out);
  CheckEquivocationFrozen(w, out);
  CheckRevocationsHeld(w, out);
  CheckNoHonestPenalty(w, out);
  // Sampled during the run, after every frame and want check of every node.
  out.insert(out.end(), w.memory_violations.begin(), w.memory_violations.end());
}

}  // namespace duanka::sim
