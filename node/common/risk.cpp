#include "node/common/risk.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"

namespace duanka::node {
namespace {

constexpr int64_t kDaySeconds = 24 * 3600;
// The store's name of the consortium policy: consortium_objects.h's kNoticeObjectPrefix and the
// policy notice's Subject(); node_common cannot include that header (it links the PKI).
constexpr std::string_view kPolicyObject = "notice:policy";
// A subject's entries come from a handful of issuers: counting distinct ones in a small array
// avoids any allocation for the usual case.
constexpr size_t kInlineIssuers = 16;

constexpr std::array<std::string_view, 4> kTierNames = {"none", "watch", "review", "deny"};
constexpr std::array<std::string_view, 2> kRuleSourceNames = {"consortium", "local"};

bool Within(int64_t issued_at, int64_t now, uint32_t days) {
  return days == 0 || now - issued_at <= static_cast<int64_t>(days) * kDaySeconds;
}

// Distinct issuers among what `add` is given, without allocating for a few.
class IssuerSet {
 public:
  void Add(std::string_view issuer) {
    for (size_t i = 0; i < inline_count_; ++i) {
      if (inline_[i] == issuer) return;
    }
    if (std::find(more_.begin(), more_.end(), issuer) != more_.end()) return;
    if (inline_count_ < kInlineIssuers) {
      inline_[inline_count_++] = issuer;
    } else {
      more_.push_back(issuer);
    }
  }
  uint32_t size() const { return static_cast<uint32_t>(inline_count_ + more_.size()); }

 private:
  std::array<std::string_view, kInlineIssuers> inline_{};
  size_t inline_count_ = 0;
  std::vector<std::string_view> more_;
};

bool Matches(const std::vector<store::Listing>& listings, int64_t now, const GradingRule& rule) {
  const int min_strength = BasisStrength(rule.min_basis);
  uint32_t entries = 0;
  IssuerSet issuers;
  for (const store::Listing& l : listings) {
    if (l.state != store::EntryState::kActive) continue;
    if (BasisStrength(l.basis) < min_strength) continue;
    if (!rule.categories.empty() && std::find(rule.categories.begin(), rule.categories.end(),
                                              l.category) == rule.categories.end()) {
      continue;
    }
    if (!Within(l.issued_at, now, rule.within_days)) continue;
    ++entries;
    issuers.Add(l.id.issuer);
  }
  return entries >= rule.min_entries && issuers.size() >= rule.min_issuers;
}

GradingRule Rule(std::string name, Tier tier, protocol::Basis min_basis, uint32_t within_days,
                 uint32_t min_issuers = 1) {
  GradingRule r;
  r.name = std::move(name);
  r.tier = tier;
  r.min_basis = min_basis;
  r.within_days = within_days;
  r.min_issuers = min_issuers;
  return r;
}

GradingPolicy MakeDefaultPolicy() {
  using protocol::Basis;
  GradingPolicy p;
  p.version = 0;
  p.purposes.push_back(
      {"account-opening",
       {
           Rule("strong-basis-5y", Tier::kDeny, Basis::kPsbIdentified, kWindow5yDays),
           Rule("several-issuers-12m", Tier::kDeny, Basis::kInstitution, kWindow12mDays, 2),
           Rule("recent-12m", Tier::kReview, Basis::kInstitution, kWindow12mDays),
           Rule("any-entry", Tier::kWatch, Basis::kInstitution, 0),
       }});
  const std::vector<GradingRule> milder = {
      Rule("strong-basis-5y", Tier::kReview, Basis::kPsbIdentified, kWindow5yDays),
      Rule("several-issuers-12m", Tier::kReview, Basis::kInstitution, kWindow12mDays, 2),
      Rule("any-entry", Tier::kWatch, Basis::kInstitution, 0),
  };
  p.purposes.push_back({"transaction-review", milder});
  p.purposes.push_back({std::string(kDefaultPurposeRules), milder});
  return p;
}

nlohmann::json CountsObject(const auto& counts, auto name_of) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 1; i < counts.size(); ++i) {
    if (counts[i] != 0) j[std::string(name_of(i))] = counts[i];
  }
  return j;
}

nlohmann::json TimeOrNull(const std::optional<int64_t>& t) {
  return t ? nlohmann::json(IsoTime(*t)) : nlohmann::json(nullptr);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view TierName(Tier t) {
  const auto i = static_cast<size_t>(t);
  return i < kTierNames.size() ? kTierNames[i] : "unknown";
}

std::string_view RuleSourceName(RuleSource source) {
  const auto i = static_cast<size_t>(source);
  return i < kRuleSourceNames.size() ? kRuleSourceNames[i] : "unknown";
}

std::optional<Tier> ParseTier(std::string_view name) {
  for (size_t i = 0; i < kTierNames.size(); ++i) {
    if (kTierNames[i] == name) return static_cast<Tier>(i);
  }
  return std::nullopt;
}

int BasisStrength(protocol::Basis basis) {
  switch (basis) {
    case protocol::Basis::kInstitution:
      return 1;
    case protocol::Basis::kPsbIdentified:
      return 2;
    case protocol::Basis::kConvicted:
      return 3;
  }
  return 0;
}

const GradingPolicy& DefaultPolicy() {
  static const GradingPolicy policy = MakeDefaultPolicy();
  return policy;
}

Status CheckPolicyNames(const GradingPolicy& policy) {
  if (Status s = protocol::CheckGradingPolicy(policy); !s) return s;
  for (const protocol::PurposeRules& pr : policy.purposes) {
    if (pr.purpose != kDefaultPurposeRules && !ParsePurpose(pr.purpose)) {
      return MakeError(ErrorKind::kInvalidInput, "policy: purpose " + pr.purpose +
                                                     " is unknown; expected one of " +
                                                     AllPurposeNames() + ", default");
    }
  }
  return Ok();
}

const std::vector<GradingRule>& RulesFor(const GradingPolicy& policy, Purpose purpose) {
  static const std::vector<GradingRule> kNoRules;
  const std::string_view name = PurposeName(purpose);
  const std::vector<GradingRule>* fallback = &kNoRules;
  for (const protocol::PurposeRules& pr : policy.purposes) {
    if (pr.purpose == name) return pr.rules;
    if (pr.purpose == kDefaultPurposeRules) fallback = &pr.rules;
  }
  return *fallback;
}

std::pair<Tier, std::string_view> Grade(const std::vector<store::Listing>& listings, int64_t now,
                                        const std::vector<GradingRule>& rules) {
  std::pair<Tier, std::string_view> best{Tier::kNone, ""};
  for (const GradingRule& rule : rules) {
    // A rule that cannot raise the tier need not be counted.
    if (rule.tier <= best.first) continue;
    if (Matches(listings, now, rule)) best = {rule.tier, rule.name};
  }
  return best;
}

RiskSummary Summarize(const std::vector<store::Listing>& listings, int64_t now,
                      const GradingPolicy& consortium, const GradingPolicy* local,
                      Purpose purpose) {
  RiskSummary out;
  out.policy = consortium.version;
  IssuerSet issuers;
  bool any = false;
  for (const store::Listing& l : listings) {
    if (l.state != store::EntryState::kActive) continue;
    any = true;
    issuers.Add(l.id.issuer);
    const auto c = static_cast<size_t>(l.category);
    if (c < out.by_category.size()) ++out.by_category[c];
    const auto b = static_cast<size_t>(l.basis);
    if (b < out.by_basis.size()) ++out.by_basis[b];
    if (!out.strongest_basis || BasisStrength(l.basis) > BasisStrength(*out.strongest_basis)) {
      out.strongest_basis = l.basis;
    }
    if (!out.first_listed || l.issued_at < *out.first_listed) out.first_listed = l.issued_at;
    if (!out.latest_listed || l.issued_at > *out.latest_listed) out.latest_listed = l.issued_at;
    if (Within(l.issued_at, now, kWindow90dDays)) ++out.within_90d;
    if (Within(l.issued_at, now, kWindow12mDays)) ++out.within_12m;
    if (Within(l.issued_at, now, kWindow5yDays)) ++out.within_5y;
  }
  out.issuers = issuers.size();
  if (!any) return out;  // no active entry: none, whatever the rules say
  std::pair<Tier, std::string_view> graded = Grade(listings, now, RulesFor(consortium, purpose));
  RuleSource source = RuleSource::kConsortium;
  if (local != nullptr) {
    std::pair<Tier, std::string_view> stricter = Grade(listings, now, RulesFor(*local, purpose));
    if (stricter.first > graded.first) {
      graded = stricter;
      source = RuleSource::kLocal;
    }
  }
  if (graded.first == Tier::kNone) graded = {Tier::kWatch, kListedFloorRule};
  out.tier = graded.first;
  out.rule = std::string(graded.second);
  out.rule_source = source;
  return out;
}

// Built key by key rather than from an initializer list: nlohmann builds every {"key", value}
// pair of such a list as a two-element array first (two more allocations a key), which made this
// object cost as much as the rest of a one-entry answer (tests/bench/store/risk_bench.cpp).
nlohmann::json RiskObject(const RiskSummary& risk) {
  nlohmann::json j = nlohmann::json::object();
  j["issuers"] = risk.issuers;
  j["by_category"] = CountsObject(risk.by_category, [](size_t i) {
    return protocol::CategoryName(static_cast<protocol::Category>(i));
  });
  j["by_basis"] = CountsObject(
      risk.by_basis, [](size_t i) { return protocol::BasisName(static_cast<protocol::Basis>(i)); });
  j["strongest_basis"] = risk.strongest_basis
                             ? nlohmann::json(protocol::BasisName(*risk.strongest_basis))
                             : nlohmann::json(nullptr);
  j["first_listed"] = TimeOrNull(risk.first_listed);
  j["latest_listed"] = TimeOrNull(risk.latest_listed);
  nlohmann::json& within = j["within"];
  within["90d"] = risk.within_90d;
  within["12m"] = risk.within_12m;
  within["5y"] = risk.within_5y;
  j["tier"] = TierName(risk.tier);
  j["rule"] = risk.rule.empty() ? nlohmann::json(nullptr) : nlohmann::json(risk.rule);
  j["rule_source"] = risk.rule_source ? nlohmann::json(RuleSourceName(*risk.rule_source))
                                      : nlohmann::json(nullptr);
  j["policy"] = risk.policy;
  return j;
}

std::string RiskLine(const RiskSummary& risk) {
  std::string out = "Risk: " + Upper(TierName(risk.tier));
  if (risk.tier == Tier::kNone) {
    return out + " (policy " + std::to_string(risk.policy) + "): no active entry";
  }
  const bool local = risk.rule_source == RuleSource::kLocal;
  out += std::string(local ? " (local rule " : " (rule ") + risk.rule + ", policy " +
         std::to_string(risk.policy) + "): ";
  out += std::to_string(risk.issuers) + (risk.issuers == 1 ? " issuer" : " issuers");
  if (risk.strongest_basis) {
    out += ", strongest basis " + std::string(protocol::BasisName(*risk.strongest_basis));
  }
  out += ", " + std::to_string(risk.within_12m) + " in 12 months";
  return out;
}

Result<GradingPolicy> HeldPolicy(const store::Store& store) {
  Result<std::optional<std::string>> held = store.GetObject(kPolicyObject);
  if (!held) return std::move(held).error();
  if (!*held) return DefaultPolicy();
  Result<std::pair<protocol::SignedNotice, protocol::Notice>> decoded =
      protocol::DecodeSignedNotice(**held);
  if (!decoded || decoded->second.policy() == nullptr) {
    return MakeError(ErrorKind::kIo, "the store's grading policy does not decode");
  }
  return *decoded->second.policy();
}

Result<std::shared_ptr<const GradingPolicy>> PolicyCache::Get() const {
  Result<std::optional<std::string>> held = store_.GetObject(kPolicyObject);
  if (!held) return std::move(held).error();
  const std::string bytes = held->value_or("");
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes_ && *bytes_ == bytes) return policy_;
  if (bytes.empty()) {
    policy_ = std::make_shared<const GradingPolicy>(DefaultPolicy());
  } else {
    Result<std::pair<protocol::SignedNotice, protocol::Notice>> decoded =
        protocol::DecodeSignedNotice(bytes);
    if (!decoded || decoded->second.policy() == nullptr) {
      return MakeError(ErrorKind::kIo, "the store's grading policy does not decode");
    }
    policy_ = std::make_shared<const GradingPolicy>(*decoded->second.policy());
  }
  bytes_ = bytes;
  return policy_;
}

nlohmann::json PolicyObject(const GradingPolicy& policy) {
  nlohmann::json purposes = nlohmann::json::object();
  for (const protocol::PurposeRules& pr : policy.purposes) {
    nlohmann::json rules = nlohmann::json::array();
    for (const GradingRule& r : pr.rules) {
      nlohmann::json categories = nlohmann::json::array();
      for (protocol::Category c : r.categories) categories.push_back(protocol::CategoryName(c));
      rules.push_back({{"name", r.name},
                       {"tier", TierName(r.tier)},
                       {"min_entries", r.min_entries},
                       {"min_issuers", r.min_issuers},
                       {"min_basis", protocol::BasisName(r.min_basis)},
                       {"categories", std::move(categories)},
                       {"within_days", r.within_days}});
    }
    purposes[pr.purpose] = std::move(rules);
  }
  return {{"version", policy.version}, {"purposes", std::move(purposes)}};
}

}  // namespace duanka::node
