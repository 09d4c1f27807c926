#include "node/common/lookup.h"

#include <array>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"
#include "node/common/human_time.h"
#include "node/common/risk.h"
#include "protocol/identifier.h"

namespace duanka::node {
namespace {

constexpr std::array<std::pair<Purpose, std::string_view>, 5> kPurposes{{
    {Purpose::kAccountOpening, "account-opening"},
    {Purpose::kPeriodicReview, "periodic-review"},
    {Purpose::kTransactionReview, "transaction-review"},
    {Purpose::kAppeal, "appeal"},
    {Purpose::kInvestigation, "investigation"},
}};

nlohmann::json ListingObject(const store::Listing& l, const IssuerProfiles* profiles) {
  nlohmann::json j = {
      {"entry", l.id.ToString()},
      {"issuer", l.id.issuer},
      {"seq", l.id.seq},
      {"state", store::EntryStateName(l.state)},
      {"type", protocol::IdTypeName(l.id_type)},
      {"category", protocol::CategoryName(l.category)},
      {"basis", protocol::BasisName(l.basis)},
      {"issued_at", IsoTime(l.issued_at)},
      {"expires_at", IsoTime(l.expires_at)},
  };
  if (profiles != nullptr) {
    auto it = profiles->find(l.id.issuer);
    j["issuer_name"] = it == profiles->end()
                           ? nlohmann::json(nullptr)
                           : nlohmann::json{{"zh", it->second.body.legal_name_zh},
                                            {"en", it->second.body.legal_name_en}};
  }
  if (!l.case_ref.empty()) j["case_ref"] = l.case_ref;
  if (l.pepper_epoch != 0) j["pepper_epoch"] = l.pepper_epoch;
  if (l.revocation) {
    j["revocation"] = {
        {"by", l.revocation->by.ToString()},
        {"reason", protocol::RevocationReasonName(l.revocation->reason)},
        {"at", IsoTime(l.revocation->revoked_at)},
    };
  }
  if (l.state == store::EntryState::kHeld) {
    j["hold"] = {
        {"reason", "issuer " + l.id.issuer +
                       " passed its daily limit of new entries that day; held until its day is "
                       "released by this node's operator or a regulator"},
        {"day", UtcDay(store::DayOf(l.issued_at))},
    };
  }
  if (l.suspended_since) {
    j["suspension"] = {
        {"reason", "signed by a key withdrawn since its compromise time"},
        {"since", IsoTime(*l.suspended_since)},
    };
  }
  return j;
}

}  // namespace

std::string_view PurposeName(Purpose p) {
  for (const auto& [v, name] : kPurposes) {
    if (v == p) return name;
  }
  return "unknown";
}

std::optional<Purpose> ParsePurpose(std::string_view name) {
  for (const auto& [v, n] : kPurposes) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::string AllPurposeNames() {
  std::string out;
  for (const auto& [v, name] : kPurposes) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

bool LookupAnswer::listed() const {
  for (const store::Listing& l : listings) {
    if (l.state == store::EntryState::kActive) return true;
  }
  return false;
}

bool LookupAnswer::held() const {
  if (listed()) return false;
  for (const store::Listing& l : listings) {
    if (l.state == store::EntryState::kHeld) return true;
  }
  return false;
}

std::string_view LookupAnswer::result() const {
  if (listed()) return "listed";
  return held() ? "held" : "not-listed";
}

std::vector<crypto::Hash256> Lookuper::Subjects(protocol::IdType type,
                                                std::string_view canonical) const {
  std::vector<crypto::Hash256> out;
  const auto add = [&](protocol::IdType t, std::string_view form) {
    const std::string_view tag = protocol::IdTypeName(t);
    out.push_back(pepper_.Subject(pepper_.current_epoch(), tag, form));
    for (uint32_t epoch : pepper_.epochs()) {
      if (epoch != pepper_.current_epoch()) out.push_back(pepper_.Subject(epoch, tag, form));
    }
  };
  add(type, canonical);
  // Entries listed before the type's successor existed (passports without their issuing state)
  // are stored under the old form; the person asked about may be theirs.
  if (const std::optional<protocol::LegacyForm> legacy = protocol::LegacyFormOf(type, canonical)) {
    add(legacy->type, legacy->canonical);
  }
  return out;
}

Result<LookupAnswer> Lookuper::Lookup(protocol::IdType type, std::string_view raw, int64_t now,
                                      bool details) const {
  Result<std::string> canonical = protocol::Canonicalize(type, raw);
  if (!canonical) return std::move(canonical).error();
  LookupAnswer answer;
  answer.type = type;
  std::vector<crypto::Hash256> subjects = Subjects(type, *canonical);
  answer.subject = subjects.front();
  Status read = store_.Lookup(subjects, store::LookupOptions{now, details}, answer.listings);
  if (!read) return std::move(read).error();
  std::vector<std::string> issuers;
  for (const store::Listing& l : answer.listings) issuers.push_back(l.id.issuer);
  Result<IssuerProfiles> profiles = profiles_->ForIssuers(issuers);
  if (!profiles) return std::move(profiles).error();
  answer.profiles = std::move(*profiles);
  return answer;
}

std::string ListingJson(const store::Listing& listing, const IssuerProfiles* profiles) {
  return ListingObject(listing, profiles).dump();
}

std::string AnswerJson(const LookupAnswer& answer, bool all, const std::vector<store::Head>* heads,
                       const RiskSummary* risk) {
  nlohmann::json entries = nlohmann::json::array();
  for (const store::Listing& l : answer.listings) {
    if (all || store::Stands(l.state)) entries.push_back(ListingObject(l, &answer.profiles));
  }
  nlohmann::json j = {
      {"type", protocol::IdTypeName(answer.type)},
      {"subject", answer.subject.Hex()},
      {"listed", answer.listed()},
      {"held", answer.held()},
      {"entries", std::move(entries)},
  };
  if (risk != nullptr) j["risk"] = RiskObject(*risk);
  if (heads != nullptr) {
    nlohmann::json feeds = nlohmann::json::array();
    for (const store::Head& h : *heads) {
      feeds.push_back({{"issuer", h.issuer},
                       {"seq", h.seq},
                       {"frozen", h.frozen},
                       {"last_grew_at", IsoTime(h.last_grew_at)}});
    }
    j["store"] = {{"feeds", std::move(feeds)}};
  }
  return j.dump();
}

std::string LookupAuditJson(int64_t now, std::string_view program, std::string_view user,
                            Purpose purpose, protocol::IdType type, const crypto::Hash256& subject,
                            std::string_view result, std::string_view action) {
  nlohmann::json j = {
      {"time", IsoTime(now)},
      {"program", program},
      {"user", user},
      {"action", action},
      {"purpose", PurposeName(purpose)},
      {"type", protocol::IdTypeName(type)},
      {"subject8", subject.Hex().substr(0, kAuditSubjectHexChars)},
      {"result", result},
  };
  return j.dump();
}

std::string BatchAuditJson(int64_t now, std::string_view program, std::string_view user,
                           Purpose purpose, const BatchAuditCounts& counts) {
  nlohmann::json j = {
      {"time", IsoTime(now)},
      {"program", program},
      {"user", user},
      {"action", "lookup-batch"},
      {"purpose", PurposeName(purpose)},
      {"first_line", counts.first_line},
      {"lines", counts.lines},
      {"listed", counts.listed},
      {"not_listed", counts.not_listed},
      {"invalid", counts.invalid},
      {"held", counts.held},
      {"result", counts.listed > 0 ? "listed" : (counts.held > 0 ? "held" : "not-listed")},
  };
  return j.dump();
}

}  // namespace duanka::node
