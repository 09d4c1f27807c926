// duanka status: what this node holds and how fresh it is.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"
#include "node/common/status_json.h"
#include "node/lookup/cli.h"
#include "node/lookup/daemon_status.h"
#include "node/lookup/home.h"
#include "node/lookup/human.h"
#include "node/lookup/text.h"

namespace duanka::lookup {
namespace {

struct Totals {
  uint64_t records = 0, entries = 0, active = 0, revoked = 0, expired = 0, revocations = 0;
  size_t frozen = 0;
};

Totals Sum(const store::Stats& stats) {
  Totals t;
  for (const store::IssuerStats& s : stats.issuers) {
    t.records += s.records;
    t.entries += s.entries;
    t.active += s.active_entries;
    t.revoked += s.revoked_entries;
    t.expired += s.expired_entries;
    t.revocations += s.revocations;
    if (s.frozen) ++t.frozen;
  }
  return t;
}

std::string Mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// The shape GET /v1/status shares (node/common/status_json.h), where this command looked, and
// the daemon's configured peers when it answered.
std::string StatusJson(const Home& home, const node::StatusFacts& facts,
                       const Result<nlohmann::json>& daemon) {
  nlohmann::json j = node::StatusJson(facts);
  j["home"] = home.config.home.string();
  j["store"]["path"] = home.config.store.string();
  j["daemon"] = {{"api", DaemonApiAddress(home.config)}, {"answered", daemon.ok()}};
  if (daemon && daemon->contains("configured_peers")) {
    j["configured_peers"] = (*daemon)["configured_peers"];
  } else if (!daemon) {
    j["daemon"]["error"] = daemon.error().message;
  }
  return j.dump() + "\n";
}

// Every network.peers entry with its state as the daemon sees it, or why that is not known.
std::string PeersText(const Home& home, const Result<nlohmann::json>& daemon) {
  if (!daemon) return "Peers        not known: " + daemon.error().message + "\n";
  const nlohmann::json peers = daemon->value("configured_peers", nlohmann::json::array());
  if (!peers.is_array() || peers.empty()) {
    return "Peers        none configured (network.peers); others may dial in\n";
  }
  std::string out = "Peers        as duankad on " + DaemonApiAddress(home.config) + " sees them:\n";
  for (const nlohmann::json& p : peers) {
    if (!p.is_object()) continue;
    std::string state = p.value("state", "?");
    if (p.contains("until")) state += " until " + p.value("until", "");
    std::string why = p.value("reason", p.value("last_error", ""));
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-16s %-24s ", p.value("institution", "?").c_str(),
                  p.value("address", "?").c_str());
    out += buf + state + (why.empty() ? "" : ": " + why) + "\n";
  }
  return out;
}

std::string StatusText(const Home& home, const node::StatusFacts& facts) {
  const store::Stats& stats = facts.stats;
  const int64_t now = facts.now;
  std::map<std::string, const store::Head*> heads;
  for (const store::Head& h : facts.heads) heads.emplace(h.issuer, &h);
  const Totals t = Sum(stats);
  std::string out;
  char buf[512];
  auto line = [&](const char* format, auto... args) {
    std::snprintf(buf, sizeof buf, format, args...);
    out += buf;
  };
  line("Institution  %s\n", home.config.institution.c_str());
  line("HOME         %s\n", home.config.home.c_str());
  line("Store        %s  (%s on disk, map %s)\n", home.config.store.c_str(),
       Mib(stats.bytes_on_disk).c_str(), Mib(stats.map_bytes).c_str());
  line("Entries      %llu: %llu active, %llu revoked, %llu expired\n",
       static_cast<unsigned long long>(t.entries), static_cast<unsigned long long>(t.active),
       static_cast<unsigned long long>(t.revoked), static_cast<unsigned long long>(t.expired));
  line("Feeds        %zu (%zu frozen)\n", stats.issuers.size(), t.frozen);
  if (!stats.issuers.empty()) {
    line("  %-16s %10s %-16s %-22s %-14s %9s %9s %9s %9s %9s %11s\n", "ISSUER", "SEQ", "HEAD",
         "LAST GREW", "", "RECORDS", "ENTRIES", "ACTIVE", "REVOKED", "EXPIRED", "REVOCATIONS");
  }
  for (const store::IssuerStats& s : stats.issuers) {
    uint64_t seq = 0;
    std::string head = "-";
    if (auto it = heads.find(s.issuer); it != heads.end()) {
      seq = it->second->seq;
      head = it->second->hash.Hex().substr(0, 16);
    }
    line("  %-16s %10llu %-16s %-22s %-14s %9llu %9llu %9llu %9llu %9llu %11llu%s\n",
         s.issuer.c_str(), static_cast<unsigned long long>(seq), head.c_str(),
         CstMinute(s.last_grew_at).c_str(), Ago(now - s.last_grew_at).c_str(),
         static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(s.entries),
         static_cast<unsigned long long>(s.active_entries),
         static_cast<unsigned long long>(s.revoked_entries),
         static_cast<unsigned long long>(s.expired_entries),
         static_cast<unsigned long long>(s.revocations), s.frozen ? "  FROZEN" : "");
  }
  line("Pending      %llu revocation(s) waiting for their entry\n",
       static_cast<unsigned long long>(stats.pending_revocations));
  line("Grading      policy version %u%s, %zu local rule(s)\n", facts.policy_version,
       facts.policy_version == 0 ? " (the built-in default)" : "", facts.local_rules);
  line("Evidence     %llu fork(s) held\n", static_cast<unsigned long long>(stats.evidence));
  for (const node::StatusFork& f : facts.forks) {
    line("  %s forked at seq %llu: feed frozen, evidence kept\n", f.issuer.c_str(),
         static_cast<unsigned long long>(f.seq));
  }
  return out;
}

}  // namespace

int RunStatus(const StatusOptions& o) {
  Result<Home> home = OpenHome(o.home, kNeedStore);
  if (!home) return Fail(home.error());
  const int64_t now = node::SystemNow();
  Result<store::Stats> stats = home->store->GetStats(now);
  if (!stats) return Fail(stats.error());
  Result<node::StatusFacts> facts =
      node::ReadStatusFacts(*home->store, home->config.institution, std::move(*stats), now);
  if (!facts) return Fail(facts.error());
  for (const protocol::PurposeRules& pr : home->config.local_grading.purposes) {
    facts->local_rules += pr.rules.size();
  }
  const Result<nlohmann::json> daemon = AskDaemonStatus(home->config);
  std::string out = o.json ? StatusJson(*home, *facts, daemon)
                           : StatusText(*home, *facts) + PeersText(*home, daemon);
  if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write to stdout");
  return kExitListed;
}

}  // namespace duanka::lookup
