// stats: the transparency report a regulator asks for (issue 17, section 2), counted from the
// node's own store in one read transaction. Counts only: no identifier, subject or case
// reference is ever printed.
#include <array>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "node/admin/context.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/common/human_time.h"

namespace duanka::admin {
namespace {

constexpr int64_t kDaySeconds = 24 * 3600;
// The two horizons of "expiries due": the month ahead and the quarter ahead.
constexpr int64_t kDueSoonDays = 30;
constexpr int64_t kDueLaterDays = 90;
// Enum values travel as one byte; counting by byte needs no map per entry.
constexpr size_t kByteValues = 256;

struct StateCounts {
  uint64_t entries = 0;
  uint64_t active = 0;
  uint64_t revoked = 0;
  uint64_t expired = 0;
  uint64_t suspended = 0;
  uint64_t held = 0;

  void Add(store::EntryState state) {
    ++entries;
    switch (state) {
      case store::EntryState::kActive:
        ++active;
        break;
      case store::EntryState::kRevoked:
        ++revoked;
        break;
      case store::EntryState::kExpired:
        ++expired;
        break;
      case store::EntryState::kHeld:
        ++held;
        break;
      case store::EntryState::kSuspended:
        ++suspended;
        break;
    }
  }
};

struct IssuerCounts {
  StateCounts states;
  uint64_t revocations_issued = 0;  // by this issuer, applied or pending
  uint64_t appeals_upheld = 0;      // its entries withdrawn with reason appeal-upheld
};

struct MonthCounts {
  uint64_t entries = 0;      // issued that month
  uint64_t revocations = 0;  // made that month
};

struct Tally {
  StateCounts totals;
  uint64_t revocations = 0;
  uint64_t pending_revocations = 0;
  std::map<std::string, IssuerCounts> issuers;
  std::array<StateCounts, kByteValues> types{};
  std::array<StateCounts, kByteValues> categories{};
  std::array<StateCounts, kByteValues> bases{};
  std::array<uint64_t, kByteValues> reasons{};
  std::map<int, MonthCounts> months;  // yyyymm, China Standard Time
  uint64_t expired = 0;
  uint64_t due_soon = 0;   // listed, ending within kDueSoonDays
  uint64_t due_later = 0;  // listed, ending within kDueLaterDays (includes due_soon)
};

// 202611 for an instant in November 2026, China Standard Time: the months people file by.
int MonthOf(int64_t unix_seconds) {
  int64_t local = unix_seconds + node::kChinaStandardTimeOffsetSeconds;
  int64_t days = local / kDaySeconds - (local % kDaySeconds < 0 ? 1 : 0);
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  return static_cast<int>(ymd.year()) * 100 + static_cast<int>(static_cast<unsigned>(ymd.month()));
}

std::string MonthName(int yyyymm) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d", yyyymm / 100, yyyymm % 100);
  return text;
}

// The names of a vocabulary in protocol order, from its "a, b, …" list, so that a name added to
// the protocol shows up here with no change.
template <typename E>
std::vector<std::pair<uint8_t, std::string>> Vocabulary(
    const std::string& joined, std::optional<E> (*parse)(std::string_view)) {
  std::vector<std::pair<uint8_t, std::string>> out;
  size_t from = 0;
  while (from < joined.size()) {
    size_t comma = joined.find(", ", from);
    if (comma == std::string::npos) comma = joined.size();
    const std::string name = joined.substr(from, comma - from);
    if (std::optional<E> value = parse(name)) out.emplace_back(static_cast<uint8_t>(*value), name);
    from = comma + 2;
  }
  return out;
}

std::vector<std::pair<uint8_t, std::string>> IdTypes() {
  std::vector<std::pair<uint8_t, std::string>> out;
  for (protocol::IdType t : protocol::AllIdTypes()) {
    out.emplace_back(static_cast<uint8_t>(t), std::string(protocol::IdTypeName(t)));
  }
  return out;
}

nlohmann::json StateJson(const StateCounts& c) {
  return {{"entries", c.entries}, {"active", c.active},       {"revoked", c.revoked},
          {"expired", c.expired}, {"suspended", c.suspended}, {"held", c.held}};
}

// Every name of the vocabulary, zero or not, so that the shape never depends on the data; a byte
// outside it (a record from a newer protocol) is counted under "unknown".
template <typename Counts, typename ToJson>
nlohmann::json VocabularyJson(const std::array<Counts, kByteValues>& counts,
                              const std::vector<std::pair<uint8_t, std::string>>& names,
                              ToJson to_json) {
  nlohmann::json out = nlohmann::json::object();
  std::array<bool, kByteValues> named{};
  for (const auto& [value, name] : names) {
    out[name] = to_json(counts[value]);
    named[value] = true;
  }
  Counts unknown{};
  bool any_unknown = false;
  for (size_t v = 0; v < kByteValues; ++v) {
    if (named[v]) continue;
    if constexpr (std::is_same_v<Counts, StateCounts>) {
      if (counts[v].entries == 0) continue;
      unknown.entries += counts[v].entries;
      unknown.active += counts[v].active;
      unknown.revoked += counts[v].revoked;
      unknown.expired += counts[v].expired;
      unknown.suspended += counts[v].suspended;
      unknown.held += counts[v].held;
    } else {
      if (counts[v] == 0) continue;
      unknown += counts[v];
    }
    any_unknown = true;
  }
  if (any_unknown) out["unknown"] = to_json(unknown);
  return out;
}

struct Vocabularies {
  std::vector<std::pair<uint8_t, std::string>> types = IdTypes();
  std::vector<std::pair<uint8_t, std::string>> categories =
      Vocabulary<protocol::Category>(protocol::AllCategoryNames(), protocol::ParseCategory);
  std::vector<std::pair<uint8_t, std::string>> bases =
      Vocabulary<protocol::Basis>(protocol::AllBasisNames(), protocol::ParseBasis);
  std::vector<std::pair<uint8_t, std::string>> reasons = Vocabulary<protocol::RevocationReason>(
      protocol::AllRevocationReasonNames(), protocol::ParseRevocationReason);
};

nlohmann::json ReportJson(const Tally& r, const Vocabularies& v, const std::string& institution,
                          int64_t now) {
  nlohmann::json totals = StateJson(r.totals);
  totals["revocations"] = r.revocations;
  totals["pending_revocations"] = r.pending_revocations;
  nlohmann::json issuers = nlohmann::json::object();
  for (const auto& [code, c] : r.issuers) {
    nlohmann::json row = StateJson(c.states);
    row["revocations_issued"] = c.revocations_issued;
    row["appeals_upheld"] = c.appeals_upheld;
    issuers[code] = std::move(row);
  }
  nlohmann::json months = nlohmann::json::object();
  for (const auto& [month, c] : r.months) {
    months[MonthName(month)] = {{"entries", c.entries}, {"revocations", c.revocations}};
  }
  auto count = [](uint64_t n) { return nlohmann::json(n); };
  return {
      {"institution", institution},
      {"generated_at", node::IsoTime(now)},
      {"totals", std::move(totals)},
      {"by_issuer", std::move(issuers)},
      {"by_type", VocabularyJson(r.types, v.types, StateJson)},
      {"by_category", VocabularyJson(r.categories, v.categories, StateJson)},
      {"by_basis", VocabularyJson(r.bases, v.bases, StateJson)},
      {"by_month", std::move(months)},
      {"expiries_due",
       {{"expired", r.expired}, {"within_30_days", r.due_soon}, {"within_90_days", r.due_later}}},
      {"revocation_reasons", VocabularyJson(r.reasons, v.reasons, count)}};
}

constexpr const char* kStateHeader = "%-18s %10s %10s %10s %10s %10s";

// The text form is printed from the JSON form, so that the two can never disagree. Vocabulary
// tables follow protocol order, not the JSON object's alphabetical order.
void PrintText(const nlohmann::json& j, const Vocabularies& v, int64_t now) {
  auto ordered = [](const nlohmann::json& rows,
                    const std::vector<std::pair<uint8_t, std::string>>& names) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [value, name] : names) out.push_back({name, rows.at(name)});
    if (rows.contains("unknown")) out.push_back({"unknown", rows.at("unknown")});
    return out;
  };
  auto print_ordered = [&](const char* title, const char* column, const nlohmann::json& rows,
                           const std::vector<std::pair<uint8_t, std::string>>& names) {
    std::printf("\n%s\n", title);
    std::printf(kStateHeader, column, "ENTRIES", "ACTIVE", "REVOKED", "EXPIRED", "SUSPENDED");
    std::printf("\n");
    for (const nlohmann::json& pair : ordered(rows, names)) {
      const nlohmann::json& row = pair[1];
      std::printf("%-18s %10llu %10llu %10llu %10llu %10llu\n", pair[0].get<std::string>().c_str(),
                  row["entries"].get<unsigned long long>(), row["active"].get<unsigned long long>(),
                  row["revoked"].get<unsigned long long>(),
                  row["expired"].get<unsigned long long>(),
                  row["suspended"].get<unsigned long long>());
    }
  };
  const nlohmann::json& t = j["totals"];
  std::printf("Transparency report of node %s, %s\n", j["institution"].get<std::string>().c_str(),
              node::HumanMinute(now).c_str());
  std::printf(
      "Entries %llu: active %llu, revoked %llu, expired %llu, suspended %llu, held by the flood "
      "guard %llu. Revocations %llu (%llu waiting for their entry).\n",
      t["entries"].get<unsigned long long>(), t["active"].get<unsigned long long>(),
      t["revoked"].get<unsigned long long>(), t["expired"].get<unsigned long long>(),
      t["suspended"].get<unsigned long long>(), t["held"].get<unsigned long long>(),
      t["revocations"].get<unsigned long long>(),
      t["pending_revocations"].get<unsigned long long>());

  std::printf(
      "\nPer issuer (REVOCATIONS: made by the issuer; APPEALS-UPHELD: its entries "
      "withdrawn on appeal)\n");
  std::printf(kStateHeader, "ISSUER", "ENTRIES", "ACTIVE", "REVOKED", "EXPIRED", "SUSPENDED");
  std::printf(" %11s %14s\n", "REVOCATIONS", "APPEALS-UPHELD");
  for (const auto& [code, row] : j["by_issuer"].items()) {
    std::printf("%-18s %10llu %10llu %10llu %10llu %10llu %11llu %14llu\n", code.c_str(),
                row["entries"].get<unsigned long long>(), row["active"].get<unsigned long long>(),
                row["revoked"].get<unsigned long long>(), row["expired"].get<unsigned long long>(),
                row["suspended"].get<unsigned long long>(),
                row["revocations_issued"].get<unsigned long long>(),
                row["appeals_upheld"].get<unsigned long long>());
  }
  print_ordered("Per identifier type", "TYPE", j["by_type"], v.types);
  print_ordered("Per category", "CATEGORY", j["by_category"], v.categories);
  print_ordered("Per basis", "BASIS", j["by_basis"], v.bases);

  std::printf("\nPer month (entries by month of issue, revocations by month made)\n");
  std::printf("%-18s %10s %11s\n", "MONTH", "ENTRIES", "REVOCATIONS");
  for (const auto& [month, row] : j["by_month"].items()) {
    std::printf("%-18s %10llu %11llu\n", month.c_str(), row["entries"].get<unsigned long long>(),
                row["revocations"].get<unsigned long long>());
  }

  const nlohmann::json& due = j["expiries_due"];
  std::printf("\nExpiries due (listed entries whose listing ends)\n");
  std::printf("%-18s %10llu\n", "within 30 days", due["within_30_days"].get<unsigned long long>());
  std::printf("%-18s %10llu\n", "within 90 days", due["within_90_days"].get<unsigned long long>());
  std::printf("%-18s %10llu\n", "already expired", due["expired"].get<unsigned long long>());

  std::printf("\nRevocations per reason\n");
  std::printf("%-18s %11s\n", "REASON", "REVOCATIONS");
  nlohmann::json reasons = j["revocation_reasons"];
  for (const auto& [value, name] : v.reasons) {
    std::printf("%-18s %11llu\n", name.c_str(), reasons[name].get<unsigned long long>());
  }
  if (reasons.contains("unknown")) {
    std::printf("%-18s %11llu\n", "unknown", reasons["unknown"].get<unsigned long long>());
  }
  std::printf("\n%s\n", std::string(node::kHumanTimeZoneNote).c_str());
}

}  // namespace

int Stats(const StatsOptions& o) {
  Result<node::Config> config = node::LoadConfig(node::ResolveHome(o.home));
  // HOME is the operator's, not the command line's: whatever is wrong with it is operational.
  if (!config) return Fail(ErrorKind::kIo, config.error().message);
  store::Options options = node::StoreOptionsFrom(*config);
  // Read-only: a report never changes the store, and runs beside the daemon and other tools.
  options.read_only = true;
  options.create_if_missing = false;
  Result<std::unique_ptr<store::Store>> opened = store::Store::Open(options);
  if (!opened) return Fail(ErrorKind::kIo, opened.error().message);
  const store::Store& st = **opened;

  const int64_t now = node::SystemNow();
  const int64_t due_soon_until = now + kDueSoonDays * kDaySeconds;
  const int64_t due_later_until = now + kDueLaterDays * kDaySeconds;
  Tally r;
  Status scanned = st.ScanIndex(
      now,
      [&](const store::Listing& l) {
        r.totals.Add(l.state);
        r.issuers[l.id.issuer].states.Add(l.state);
        r.types[static_cast<uint8_t>(l.id_type)].Add(l.state);
        r.categories[static_cast<uint8_t>(l.category)].Add(l.state);
        r.bases[static_cast<uint8_t>(l.basis)].Add(l.state);
        ++r.months[MonthOf(l.issued_at)].entries;
        if (l.state == store::EntryState::kExpired) ++r.expired;
        if (l.state == store::EntryState::kActive) {
          if (l.expires_at <= due_soon_until) ++r.due_soon;
          if (l.expires_at <= due_later_until) ++r.due_later;
        }
      },
      [&](const protocol::EntryId& target, const store::RevocationInfo& info, bool pending) {
        ++r.revocations;
        if (pending) ++r.pending_revocations;
        ++r.issuers[info.by.issuer].revocations_issued;
        ++r.reasons[static_cast<uint8_t>(info.reason)];
        ++r.months[MonthOf(info.revoked_at)].revocations;
        if (!pending && info.reason == protocol::RevocationReason::kAppealUpheld) {
          ++r.issuers[target.issuer].appeals_upheld;
        }
      });
  if (!scanned) return Fail(scanned.error());

  const Vocabularies vocabularies;
  const nlohmann::json j = ReportJson(r, vocabularies, config->institution, now);
  if (o.json) {
    std::cout << j.dump() << "\n";
  } else {
    PrintText(j, vocabularies, now);
  }
  std::cout.flush();
  return kExitOk;
}

}  // namespace duanka::admin
