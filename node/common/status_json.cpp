#include "node/common/status_json.h"

#include <map>

#include "node/common/audit.h"
#include "node/common/risk.h"
#include "protocol/record.h"

namespace duanka::node {

Result<StatusFacts> ReadStatusFacts(const store::Store& store, std::string institution,
                                    store::Stats stats, int64_t now) {
  StatusFacts facts;
  facts.institution = std::move(institution);
  facts.now = now;
  Result<std::vector<store::Head>> heads = store.Heads();
  if (!heads) return std::move(heads).error();
  facts.heads = std::move(*heads);
  if (stats.evidence > 0) {
    Result<std::vector<store::Evidence>> evidence = store.AllEvidence();
    if (!evidence) return std::move(evidence).error();
    for (const store::Evidence& e : *evidence) {
      // Evidence was verified when it was kept; a record that no longer decodes names no fork.
      if (Result<protocol::Record> r = protocol::DecodeRecord(e.held.bytes); r) {
        facts.forks.push_back(StatusFork{r->issuer, r->seq});
      }
    }
  }
  Result<GradingPolicy> policy = HeldPolicy(store);
  if (!policy) return std::move(policy).error();
  facts.policy_version = policy->version;
  facts.stats = std::move(stats);
  return facts;
}

nlohmann::json StatusJson(const StatusFacts& facts) {
  const store::Stats& stats = facts.stats;
  std::map<std::string_view, const store::Head*> heads;
  for (const store::Head& h : facts.heads) heads.emplace(h.issuer, &h);

  nlohmann::json feeds = nlohmann::json::array();
  uint64_t records = 0, entries = 0, active = 0, revoked = 0, expired = 0, revocations = 0;
  size_t frozen = 0;
  for (const store::IssuerStats& s : stats.issuers) {
    nlohmann::json f = {
        {"issuer", s.issuer},
        {"records", s.records},
        {"entries", s.entries},
        {"active", s.active_entries},
        {"revoked", s.revoked_entries},
        {"expired", s.expired_entries},
        {"revocations", s.revocations},
        {"frozen", s.frozen},
        {"last_grew_at", IsoTime(s.last_grew_at)},
    };
    if (auto it = heads.find(s.issuer); it != heads.end()) {
      f["seq"] = it->second->seq;
      f["head"] = it->second->hash.Hex();
      if (it->second->frozen) f["fork_seq"] = it->second->fork_seq;
    }
    feeds.push_back(std::move(f));
    records += s.records;
    entries += s.entries;
    active += s.active_entries;
    revoked += s.revoked_entries;
    expired += s.expired_entries;
    revocations += s.revocations;
    if (s.frozen) ++frozen;
  }
  nlohmann::json forks = nlohmann::json::array();
  for (const StatusFork& f : facts.forks) forks.push_back({{"issuer", f.issuer}, {"seq", f.seq}});
  return {
      {"institution", facts.institution},
      {"now", IsoTime(facts.now)},
      {"feeds", std::move(feeds)},
      {"grading", {{"policy", facts.policy_version}, {"local_rules", facts.local_rules}}},
      {"totals",
       {{"feeds", stats.issuers.size()},
        {"frozen_feeds", frozen},
        {"records", records},
        {"entries", entries},
        {"active", active},
        {"revoked", revoked},
        {"expired", expired},
        {"revocations", revocations}}},
      {"pending_revocations", stats.pending_revocations},
      {"evidence", stats.evidence},
      {"forks", std::move(forks)},
      {"store", {{"bytes_on_disk", stats.bytes_on_disk}, {"map_bytes", stats.map_bytes}}},
      {"store_bytes", stats.bytes_on_disk},
  };
}

}  // namespace duanka::node
