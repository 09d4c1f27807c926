// duanka status: what this node holds and how fresh it is.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"
#include "node/lookup/cli.h"
#include "node/lookup/home.h"
#include "node/lookup/human.h"
#include "node/lookup/text.h"

namespace duanka::lookup {
namespace {

struct Fork {
  std::string issuer;
  uint64_t seq = 0;
};

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

std::string StatusJson(const Home& home, const store::Stats& stats,
                       const std::map<std::string, store::Head>& heads,
                       const std::vector<Fork>& forks, int64_t now) {
  nlohmann::json feeds = nlohmann::json::array();
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
        {"last_grew_at", node::IsoTime(s.last_grew_at)},
    };
    if (auto it = heads.find(s.issuer); it != heads.end()) {
      f["seq"] = it->second.seq;
      f["head"] = it->second.hash.Hex();
      if (it->second.frozen) f["fork_seq"] = it->second.fork_seq;
    }
    feeds.push_back(std::move(f));
  }
  nlohmann::json fork_list = nlohmann::json::array();
  for (const Fork& f : forks) fork_list.push_back({{"issuer", f.issuer}, {"seq", f.seq}});
  const Totals t = Sum(stats);
  nlohmann::json j = {
      {"institution", home.config.institution},
      {"home", home.config.home.string()},
      {"now", node::IsoTime(now)},
      {"store",
       {{"path", home.config.store.string()},
        {"bytes_on_disk", stats.bytes_on_disk},
        {"map_bytes", stats.map_bytes}}},
      {"feeds", std::move(feeds)},
      {"totals",
       {{"feeds", stats.issuers.size()},
        {"frozen_feeds", t.frozen},
        {"records", t.records},
        {"entries", t.entries},
        {"active", t.active},
        {"revoked", t.revoked},
        {"expired", t.expired},
        {"revocations", t.revocations}}},
      {"pending_revocations", stats.pending_revocations},
      {"evidence", stats.evidence},
      {"forks", std::move(fork_list)},
  };
  return j.dump() + "\n";
}

std::string StatusText(const Home& home, const store::Stats& stats,
                       const std::map<std::string, store::Head>& heads,
                       const std::vector<Fork>& forks, int64_t now) {
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
      seq = it->second.seq;
      head = it->second.hash.Hex().substr(0, 16);
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
  line("Evidence     %llu fork(s) held\n", static_cast<unsigned long long>(stats.evidence));
  for (const Fork& f : forks) {
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
  Result<std::vector<store::Head>> head_list = home->store->Heads();
  if (!head_list) return Fail(head_list.error());
  std::map<std::string, store::Head> heads;
  for (store::Head& h : *head_list) heads.emplace(h.issuer, std::move(h));
  std::vector<Fork> forks;
  if (stats->evidence > 0) {
    Result<std::vector<store::Evidence>> evidence = home->store->AllEvidence();
    if (!evidence) return Fail(evidence.error());
    for (const store::Evidence& e : *evidence) {
      if (Result<protocol::Record> r = protocol::DecodeRecord(e.held.bytes); r) {
        forks.push_back(Fork{r->issuer, r->seq});
      }
    }
  }
  std::string out = o.json ? StatusJson(*home, *stats, heads, forks, now)
                           : StatusText(*home, *stats, heads, forks, now);
  if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write to stdout");
  return kExitListed;
}

}  // namespace duanka::lookup
