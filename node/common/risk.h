// A lookup's graded answer (issue 16 §1): a summary of the subject's active entries (issuers,
// counts by category and basis, the strongest basis, first and latest listing, counts within
// 90 days, 12 months and 5 years) and a tier (none < watch < review < deny) that a grading policy
// gives it for the lookup's purpose. The consortium's policy is a regulator-signed notice
// (protocol/notice.h GradingPolicy, kept under "notice:policy"); until one is held every node
// uses DefaultPolicy() (version 0). A node's own [grading] rules are evaluated beside the
// consortium's and the higher tier wins, so a node can be stricter, never laxer.
// Pure functions: listings + now + policies + purpose -> RiskSummary. Format in
// docs/operations.md ("Graded answers").
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/common/lookup.h"
#include "protocol/notice.h"
#include "store/store.h"

namespace duanka::node {

using Tier = protocol::GradeTier;
using GradingPolicy = protocol::GradingPolicy;
using GradingRule = protocol::GradingRule;

// "none", "watch", "review", "deny".
std::string_view TierName(Tier t);
std::optional<Tier> ParseTier(std::string_view name);

// The purpose name whose rules apply to purposes without their own list.
inline constexpr std::string_view kDefaultPurposeRules = "default";
// The rule name of the floor every active entry gets when no rule of a policy matches it: a
// listed subject is never graded "none".
inline constexpr std::string_view kListedFloorRule = "listed";

// The summary's windows, in days: 90 days, 12 months (365 days), 5 years (5 × 365 + 1).
inline constexpr uint32_t kWindow90dDays = 90;
inline constexpr uint32_t kWindow12mDays = 365;
inline constexpr uint32_t kWindow5yDays = 1826;

// Strength of a basis: institution 1 < psb-identified 2 < convicted 3.
int BasisStrength(protocol::Basis basis);

// The built-in policy (version 0) every node grades with until a consortium policy is held; see
// docs/operations.md for its rules.
const GradingPolicy& DefaultPolicy();

// Checks a policy as `duanka-admin policy set` and [grading] take it: the protocol's range
// checks (protocol::CheckGradingPolicy), and every purpose a lookup purpose's name or "default".
// kInvalidInput naming what is wrong.
Status CheckPolicyNames(const GradingPolicy& policy);

// The rules a policy gives `purpose`: its own list, else "default"'s, else none.
const std::vector<GradingRule>& RulesFor(const GradingPolicy& policy, Purpose purpose);

// The highest value of protocol::Category and protocol::Basis: RiskSummary's counts are indexed
// by the enums' values, so a value added to either must raise these (risk_test checks that every
// named category and basis fits).
inline constexpr protocol::Category kHighestCategory = protocol::Category::kFraudUse;
inline constexpr protocol::Basis kHighestBasis = protocol::Basis::kInstitution;

// Which policy's rule gave a tier: the consortium's (also for the kListedFloorRule floor, which
// is every node's) or the node's own [grading] rules.
enum class RuleSource : uint8_t { kConsortium, kLocal };
// "consortium", "local".
std::string_view RuleSourceName(RuleSource source);

struct RiskSummary {
  uint32_t issuers = 0;
  // Indexed by the enum's value (1-based; 0 unused): counts of active entries.
  std::array<uint32_t, static_cast<size_t>(kHighestCategory) + 1> by_category{};
  std::array<uint32_t, static_cast<size_t>(kHighestBasis) + 1> by_basis{};
  std::optional<protocol::Basis> strongest_basis;
  std::optional<int64_t> first_listed;
  std::optional<int64_t> latest_listed;
  uint32_t within_90d = 0;
  uint32_t within_12m = 0;
  uint32_t within_5y = 0;
  Tier tier = Tier::kNone;
  std::string rule;                       // empty for kNone
  std::optional<RuleSource> rule_source;  // nullopt for kNone
  uint32_t policy = 0;
};
// Every enumerator known here fits its count array.
static_assert([] {
  using protocol::Category;
  for (Category c : {Category::kRentedOut, Category::kLent, Category::kSold, Category::kBought,
                     Category::kBroker, Category::kImpersonation, Category::kFraudUse}) {
    if (c > kHighestCategory) return false;
  }
  return true;
}());
static_assert(protocol::Basis::kPsbIdentified <= kHighestBasis &&
              protocol::Basis::kConvicted <= kHighestBasis);

// The tier `rules` give the active ones of `listings` at `now`, and the rule that gave it (the
// first, in list order, of those matching with the highest tier; a view into `rules`, which must
// outlive it). kNone and "" when none matches.
std::pair<Tier, std::string_view> Grade(const std::vector<store::Listing>& listings, int64_t now,
                                        const std::vector<GradingRule>& rules);

// The summary of `listings`' active entries at `now`, graded for `purpose` by the consortium's
// policy and, when non-null, the node's local rules (the higher tier wins; of equal tiers the
// consortium's rule names it), with the source of the rule that gave the tier. An active entry
// that no rule matches is graded watch under kListedFloorRule, from the consortium.
RiskSummary Summarize(const std::vector<store::Listing>& listings, int64_t now,
                      const GradingPolicy& consortium, const GradingPolicy* local, Purpose purpose);

// {"issuers","by_category","by_basis","strongest_basis","first_listed","latest_listed",
//  "within":{"90d","12m","5y"},"tier","rule","rule_source","policy"}; rule and rule_source null
// for tier none.
nlohmann::json RiskObject(const RiskSummary& risk);

// "Risk: REVIEW (rule several-issuers, policy 3): 2 issuers, strongest basis institution,
// 2 in 12 months" (no newline); "local rule NAME" when the node's own rule gave the tier.
std::string RiskLine(const RiskSummary& risk);

// The consortium policy held in the store (the "notice:policy" object), else DefaultPolicy().
// The store holds only notices this node verified, so it is decoded, not verified again.
// kIo when the store cannot be read.
Result<GradingPolicy> HeldPolicy(const store::Store& store);

// The held policy for a long-lived process (the daemon's API threads): the store's object read at
// every Get (one read transaction), decoded again only when its bytes changed. Thread-safe.
class PolicyCache {
 public:
  explicit PolicyCache(const store::Store& store) : store_(store) {}
  Result<std::shared_ptr<const GradingPolicy>> Get() const;

 private:
  const store::Store& store_;
  mutable std::mutex mu_;
  mutable std::optional<std::string> bytes_;  // nullopt: nothing read yet
  mutable std::shared_ptr<const GradingPolicy> policy_;
};

// A policy as JSON ({"version","purposes":{PURPOSE:[{rule}…]}}), for `policy show --json`.
nlohmann::json PolicyObject(const GradingPolicy& policy);

}  // namespace duanka::node
