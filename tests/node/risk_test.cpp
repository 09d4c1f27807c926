// node/common/risk.h: the summary of a subject's active entries and the tier a grading policy
// gives it, table-driven over each of a rule's conditions (min_entries, min_issuers, min_basis,
// categories, within_days), the order of rules, the local rules' max, the built-in default and
// the policy file's checks.
#include "node/common/risk.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "node/common/config.h"
#include "tests/support/temp_dir.h"

namespace duanka::node {
namespace {

using protocol::Basis;
using protocol::Category;

constexpr int64_t kNow = 1'790'000'000;
constexpr int64_t kDay = 86400;

store::Listing Entry(std::string issuer, Basis basis, Category category, int64_t age_days,
                     store::EntryState state = store::EntryState::kActive) {
  static uint64_t seq = 0;
  store::Listing l;
  l.id = protocol::EntryId{std::move(issuer), ++seq};
  l.basis = basis;
  l.category = category;
  l.issued_at = kNow - age_days * kDay;
  l.expires_at = kNow + 365 * kDay;
  l.state = state;
  return l;
}

// An entry issued at exactly `issued_at`, for the windows' boundaries to the second.
store::Listing EntryAt(std::string issuer, int64_t issued_at, Basis basis = Basis::kInstitution) {
  store::Listing l = Entry(std::move(issuer), basis, Category::kSold, 0);
  l.issued_at = issued_at;
  return l;
}

GradingRule MakeRule(std::string name, Tier tier, uint32_t min_entries, uint32_t min_issuers,
                     Basis min_basis, std::vector<Category> categories, uint32_t within_days) {
  return GradingRule{std::move(name), tier,       min_entries, min_issuers,
                     min_basis,       categories, within_days};
}

GradingPolicy OneRule(const GradingRule& rule, std::string purpose = "default") {
  return GradingPolicy{7, {{std::move(purpose), {rule}}}};
}

struct RuleCase {
  const char* what;
  GradingRule rule;
  std::vector<store::Listing> entries;
  bool matches;
};

TEST(RiskTest, EachConditionOfARuleDecidesWhetherItMatches) {
  const auto rule = [](uint32_t entries, uint32_t issuers, Basis basis,
                       std::vector<Category> categories, uint32_t within) {
    return MakeRule("r", Tier::kDeny, entries, issuers, basis, std::move(categories), within);
  };
  const Basis kInst = Basis::kInstitution, kPsb = Basis::kPsbIdentified, kConv = Basis::kConvicted;
  const Category kSold = Category::kSold, kLent = Category::kLent;
  const std::vector<RuleCase> cases = {
      {"any rule, one entry", rule(1, 1, kInst, {}, 0), {Entry("BANKA", kInst, kSold, 10)}, true},
      {"min_entries 2, one entry",
       rule(2, 1, kInst, {}, 0),
       {Entry("BANKA", kInst, kSold, 10)},
       false},
      {"min_entries 2, two entries of one issuer",
       rule(2, 1, kInst, {}, 0),
       {Entry("BANKA", kInst, kSold, 10), Entry("BANKA", kInst, kLent, 20)},
       true},
      {"min_issuers 2, two entries of one issuer",
       rule(1, 2, kInst, {}, 0),
       {Entry("BANKA", kInst, kSold, 10), Entry("BANKA", kInst, kLent, 20)},
       false},
      {"min_issuers 2, two issuers",
       rule(1, 2, kInst, {}, 0),
       {Entry("BANKA", kInst, kSold, 10), Entry("BANKB", kInst, kLent, 20)},
       true},
      {"min_basis psb, institution entry",
       rule(1, 1, kPsb, {}, 0),
       {Entry("BANKA", kInst, kSold, 10)},
       false},
      {"min_basis psb, psb entry",
       rule(1, 1, kPsb, {}, 0),
       {Entry("BANKA", kPsb, kSold, 10)},
       true},
      {"min_basis psb, convicted entry (stronger)",
       rule(1, 1, kPsb, {}, 0),
       {Entry("BANKA", kConv, kSold, 10)},
       true},
      {"min_basis convicted, psb entry",
       rule(1, 1, kConv, {}, 0),
       {Entry("BANKA", kPsb, kSold, 10)},
       false},
      {"categories sold, lent entry",
       rule(1, 1, kInst, {kSold}, 0),
       {Entry("BANKA", kInst, kLent, 10)},
       false},
      {"categories sold|lent, lent entry",
       rule(1, 1, kInst, {kSold, kLent}, 0),
       {Entry("BANKA", kInst, kLent, 10)},
       true},
      {"within 30 days, entry of 31 days",
       rule(1, 1, kInst, {}, 30),
       {Entry("BANKA", kInst, kSold, 31)},
       false},
      {"within 30 days, entry of 30 days",
       rule(1, 1, kInst, {}, 30),
       {Entry("BANKA", kInst, kSold, 30)},
       true},
      {"within 0 (any age), entry of 4000 days",
       rule(1, 1, kInst, {}, 0),
       {Entry("BANKA", kInst, kSold, 4000)},
       true},
      {"only active entries count: revoked",
       rule(1, 1, kInst, {}, 0),
       {Entry("BANKA", kInst, kSold, 10, store::EntryState::kRevoked)},
       false},
      {"only active entries count: held",
       rule(1, 1, kInst, {}, 0),
       {Entry("BANKA", kInst, kSold, 10, store::EntryState::kHeld)},
       false},
      {"conditions combine: 2 issuers among psb entries of 12 months",
       rule(2, 2, kPsb, {}, 365),
       {Entry("BANKA", kPsb, kSold, 10), Entry("BANKB", kInst, kSold, 10),
        Entry("BANKC", kPsb, kSold, 400)},
       false},
      {"conditions combine: satisfied",
       rule(2, 2, kPsb, {kSold}, 365),
       {Entry("BANKA", kPsb, kSold, 10), Entry("BANKB", kConv, kSold, 100),
        Entry("BANKC", kPsb, kLent, 10)},
       true},
  };
  for (const RuleCase& c : cases) {
    // Grade names the rule by a view into the list given: the list must outlive the answer.
    const std::vector<GradingRule> rules = {c.rule};
    std::pair<Tier, std::string_view> graded = Grade(c.entries, kNow, rules);
    EXPECT_EQ(graded.first, c.matches ? Tier::kDeny : Tier::kNone) << c.what;
    EXPECT_EQ(graded.second, c.matches ? "r" : "") << c.what;
  }
}

TEST(RiskTest, TheHighestTierWinsAndTheFirstRuleOfItNamesIt) {
  const std::vector<store::Listing> entries = {
      Entry("BANKA", Basis::kInstitution, Category::kSold, 10)};
  const GradingRule watch = MakeRule("w", Tier::kWatch, 1, 1, Basis::kInstitution, {}, 0);
  const GradingRule review1 = MakeRule("r1", Tier::kReview, 1, 1, Basis::kInstitution, {}, 0);
  const GradingRule review2 = MakeRule("r2", Tier::kReview, 1, 1, Basis::kInstitution, {}, 0);
  const GradingRule deny_no = MakeRule("d", Tier::kDeny, 2, 1, Basis::kInstitution, {}, 0);
  struct Case {
    std::vector<GradingRule> rules;
    Tier tier;
    std::string_view name;
  };
  for (const Case& c : std::vector<Case>{
           {{watch, review1, review2, deny_no}, Tier::kReview, "r1"},
           {{review2, review1, watch}, Tier::kReview, "r2"},
           {{deny_no, watch}, Tier::kWatch, "w"},
           {{deny_no}, Tier::kNone, ""},
           {{}, Tier::kNone, ""},
       }) {
    std::pair<Tier, std::string_view> graded = Grade(entries, kNow, c.rules);
    EXPECT_EQ(graded.first, c.tier);
    EXPECT_EQ(graded.second, c.name);
  }
}

TEST(RiskTest, PurposesUseTheirOwnRulesElseTheDefaultList) {
  const std::vector<store::Listing> entries = {
      Entry("BANKA", Basis::kInstitution, Category::kSold, 10)};
  GradingPolicy p{
      3,
      {{"account-opening", {MakeRule("ao", Tier::kDeny, 1, 1, Basis::kInstitution, {}, 0)}},
       {"default", {MakeRule("df", Tier::kReview, 1, 1, Basis::kInstitution, {}, 0)}}}};
  RiskSummary ao = Summarize(entries, kNow, p, nullptr, Purpose::kAccountOpening);
  EXPECT_EQ(ao.tier, Tier::kDeny);
  EXPECT_EQ(ao.rule, "ao");
  EXPECT_EQ(ao.rule_source, RuleSource::kConsortium);
  EXPECT_EQ(ao.policy, 3u);
  RiskSummary tr = Summarize(entries, kNow, p, nullptr, Purpose::kTransactionReview);
  EXPECT_EQ(tr.tier, Tier::kReview);
  EXPECT_EQ(tr.rule, "df");
  // Without a default list and a rule for the purpose, a listed subject is still watched.
  GradingPolicy only_ao{4, {p.purposes[0]}};
  RiskSummary floor = Summarize(entries, kNow, only_ao, nullptr, Purpose::kInvestigation);
  EXPECT_EQ(floor.tier, Tier::kWatch);
  EXPECT_EQ(floor.rule, kListedFloorRule);
  EXPECT_EQ(floor.rule_source, RuleSource::kConsortium);
  // Nor when local rules exist but none matches: the floor is every node's, not the local one's.
  const GradingPolicy local_none =
      OneRule(MakeRule("l-two", Tier::kDeny, 2, 1, Basis::kInstitution, {}, 0));
  RiskSummary floor_local = Summarize(entries, kNow, only_ao, &local_none, Purpose::kInvestigation);
  EXPECT_EQ(floor_local.rule, kListedFloorRule);
  EXPECT_EQ(floor_local.rule_source, RuleSource::kConsortium);
}

TEST(RiskTest, LocalRulesCanRaiseTheTierNeverLowerIt) {
  const std::vector<store::Listing> entries = {
      Entry("BANKA", Basis::kInstitution, Category::kSold, 10)};
  const GradingPolicy consortium =
      OneRule(MakeRule("c-review", Tier::kReview, 1, 1, Basis::kInstitution, {}, 0));
  const GradingPolicy stricter =
      OneRule(MakeRule("l-deny", Tier::kDeny, 1, 1, Basis::kInstitution, {Category::kSold}, 0));
  const GradingPolicy laxer =
      OneRule(MakeRule("l-watch", Tier::kWatch, 1, 1, Basis::kInstitution, {}, 0));
  const GradingPolicy equal =
      OneRule(MakeRule("l-review", Tier::kReview, 1, 1, Basis::kInstitution, {}, 0));
  // A local rule may carry a consortium rule's name: only rule_source tells them apart.
  const GradingPolicy same_name =
      OneRule(MakeRule("c-review", Tier::kDeny, 1, 1, Basis::kInstitution, {}, 0));
  struct Case {
    const GradingPolicy* local;
    Tier tier;
    std::string rule;
    RuleSource source;
    std::string line;
  };
  for (const Case& c : std::vector<Case>{
           {nullptr, Tier::kReview, "c-review", RuleSource::kConsortium,
            "Risk: REVIEW (rule c-review, policy 7)"},
           {&stricter, Tier::kDeny, "l-deny", RuleSource::kLocal,
            "Risk: DENY (local rule l-deny, policy 7)"},
           {&laxer, Tier::kReview, "c-review", RuleSource::kConsortium,
            "Risk: REVIEW (rule c-review, policy 7)"},
           {&equal, Tier::kReview, "c-review", RuleSource::kConsortium,
            "Risk: REVIEW (rule c-review, policy 7)"},
           {&same_name, Tier::kDeny, "c-review", RuleSource::kLocal,
            "Risk: DENY (local rule c-review, policy 7)"},
       }) {
    RiskSummary r = Summarize(entries, kNow, consortium, c.local, Purpose::kAccountOpening);
    EXPECT_EQ(r.tier, c.tier) << c.rule;
    EXPECT_EQ(r.rule, c.rule);
    EXPECT_EQ(r.rule_source, c.source) << c.rule;
    EXPECT_EQ(r.policy, 7u);  // the consortium's version, local rules or not
    EXPECT_EQ(RiskObject(r)["rule_source"], RuleSourceName(c.source)) << c.rule;
    EXPECT_EQ(RiskLine(r).rfind(c.line, 0), 0u) << RiskLine(r);
  }
}

TEST(RiskTest, TheSummaryCountsActiveEntriesOnly) {
  const std::vector<store::Listing> entries = {
      Entry("BANKA", Basis::kInstitution, Category::kSold, 10),
      Entry("BANKB", Basis::kPsbIdentified, Category::kLent, 200),
      Entry("BANKB", Basis::kInstitution, Category::kSold, 1000),
      Entry("BANKC", Basis::kConvicted, Category::kSold, 5, store::EntryState::kRevoked),
      Entry("BANKD", Basis::kConvicted, Category::kSold, 5, store::EntryState::kSuspended),
  };
  RiskSummary r = Summarize(entries, kNow, DefaultPolicy(), nullptr, Purpose::kAccountOpening);
  EXPECT_EQ(r.issuers, 2u);
  EXPECT_EQ(r.by_category[static_cast<size_t>(Category::kSold)], 2u);
  EXPECT_EQ(r.by_category[static_cast<size_t>(Category::kLent)], 1u);
  EXPECT_EQ(r.strongest_basis, Basis::kPsbIdentified);
  EXPECT_EQ(r.first_listed, kNow - 1000 * kDay);
  EXPECT_EQ(r.latest_listed, kNow - 10 * kDay);
  EXPECT_EQ(r.within_90d, 1u);
  EXPECT_EQ(r.within_12m, 2u);
  EXPECT_EQ(r.within_5y, 3u);
  EXPECT_EQ(r.tier, Tier::kDeny);
  EXPECT_EQ(r.rule, "strong-basis-5y");
  const nlohmann::json j = RiskObject(r);
  EXPECT_EQ(j["by_basis"], (nlohmann::json{{"institution", 2}, {"psb-identified", 1}}));
  EXPECT_EQ(j["within"], (nlohmann::json{{"90d", 1}, {"12m", 2}, {"5y", 3}}));
  EXPECT_EQ(j["tier"], "deny");
  EXPECT_EQ(j["rule"], "strong-basis-5y");
  EXPECT_EQ(j["rule_source"], "consortium");
  EXPECT_EQ(j["policy"], 0);

  RiskSummary none = Summarize({}, kNow, DefaultPolicy(), nullptr, Purpose::kAccountOpening);
  const nlohmann::json n = RiskObject(none);
  EXPECT_EQ(n["tier"], "none");
  EXPECT_TRUE(n["rule"].is_null());
  ASSERT_TRUE(n.contains("rule_source"));
  EXPECT_TRUE(n["rule_source"].is_null());
  EXPECT_FALSE(none.rule_source.has_value());
  // A tier of none whatever the local rules say: nothing active to grade.
  const GradingPolicy local_any =
      OneRule(MakeRule("l-any", Tier::kDeny, 1, 1, Basis::kInstitution, {}, 0));
  EXPECT_TRUE(RiskObject(Summarize(
      {Entry("BANKA", Basis::kInstitution, Category::kSold, 5, store::EntryState::kRevoked)}, kNow,
      DefaultPolicy(), &local_any, Purpose::kAccountOpening))["rule_source"]
                  .is_null());
  EXPECT_TRUE(n["strongest_basis"].is_null());
  EXPECT_TRUE(n["first_listed"].is_null());
  EXPECT_EQ(n["issuers"], 0);
}

TEST(RiskTest, TheDefaultPolicyDeniesAtAccountOpeningWhereTransactionReviewReviews) {
  struct Case {
    const char* what;
    std::vector<store::Listing> entries;
    Tier account_opening;
    Tier transaction_review;
  };
  const std::vector<Case> cases = {
      {"none", {}, Tier::kNone, Tier::kNone},
      {"one institution entry of a month",
       {Entry("BANKA", Basis::kInstitution, Category::kSold, 30)},
       Tier::kReview,
       Tier::kWatch},
      {"one institution entry of two years",
       {Entry("BANKA", Basis::kInstitution, Category::kSold, 730)},
       Tier::kWatch,
       Tier::kWatch},
      {"psb-identified of two years",
       {Entry("BANKA", Basis::kPsbIdentified, Category::kSold, 730)},
       Tier::kDeny,
       Tier::kReview},
      {"convicted of six years",
       {Entry("BANKA", Basis::kConvicted, Category::kSold, 6 * 365)},
       Tier::kWatch,
       Tier::kWatch},
      {"two issuers this year",
       {Entry("BANKA", Basis::kInstitution, Category::kSold, 30),
        Entry("BANKB", Basis::kInstitution, Category::kLent, 300)},
       Tier::kDeny,
       Tier::kReview},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Summarize(c.entries, kNow, DefaultPolicy(), nullptr, Purpose::kAccountOpening).tier,
              c.account_opening)
        << c.what;
    EXPECT_EQ(
        Summarize(c.entries, kNow, DefaultPolicy(), nullptr, Purpose::kTransactionReview).tier,
        c.transaction_review)
        << c.what;
  }
  EXPECT_TRUE(CheckPolicyNames(DefaultPolicy()).ok());
}

TEST(RiskTest, TheHumanLineNamesTierRuleAndPolicy) {
  const std::vector<store::Listing> entries = {
      Entry("BANKA", Basis::kInstitution, Category::kSold, 30),
      Entry("BANKB", Basis::kInstitution, Category::kSold, 60)};
  GradingPolicy p =
      OneRule(MakeRule("several-issuers", Tier::kReview, 1, 2, Basis::kInstitution, {}, 365));
  p.version = 3;
  EXPECT_EQ(RiskLine(Summarize(entries, kNow, p, nullptr, Purpose::kAccountOpening)),
            "Risk: REVIEW (rule several-issuers, policy 3): 2 issuers, strongest basis "
            "institution, 2 in 12 months");
}

// An entry exactly a window's length old is within it; one second older is not. A future-dated
// entry (an issuer's clock ahead of ours) is within every window: it is as recent as can be, and
// must not escape a rule by its date.
TEST(RiskTest, TheWindowsIncludeTheirLastSecondAndFutureDatedEntries) {
  struct Case {
    const char* what;
    int64_t age_seconds;
    bool in_90d, in_12m, in_5y;
  };
  const int64_t d90 = kWindow90dDays * kDay, d365 = kWindow12mDays * kDay,
                d1826 = kWindow5yDays * kDay;
  const std::vector<Case> cases = {
      {"issued now", 0, true, true, true},
      {"exactly 90 days", d90, true, true, true},
      {"90 days and a second", d90 + 1, false, true, true},
      {"exactly 365 days", d365, false, true, true},
      {"365 days and a second", d365 + 1, false, false, true},
      {"exactly 1826 days", d1826, false, false, true},
      {"1826 days and a second", d1826 + 1, false, false, false},
      {"a day in the future", -kDay, true, true, true},
  };
  const auto rule_within = [](uint32_t days) {
    return MakeRule("w" + std::to_string(days), Tier::kDeny, 1, 1, Basis::kInstitution, {}, days);
  };
  for (const Case& c : cases) {
    const std::vector<store::Listing> entries = {EntryAt("BANKA", kNow - c.age_seconds)};
    RiskSummary r = Summarize(entries, kNow, DefaultPolicy(), nullptr, Purpose::kAccountOpening);
    EXPECT_EQ(r.within_90d, c.in_90d ? 1u : 0u) << c.what;
    EXPECT_EQ(r.within_12m, c.in_12m ? 1u : 0u) << c.what;
    EXPECT_EQ(r.within_5y, c.in_5y ? 1u : 0u) << c.what;
    EXPECT_EQ(r.first_listed, kNow - c.age_seconds) << c.what;
    EXPECT_EQ(r.latest_listed, kNow - c.age_seconds) << c.what;
    // A rule's within_days draws the same line as the summary's windows.
    EXPECT_EQ(Grade(entries, kNow, {rule_within(kWindow90dDays)}).first,
              c.in_90d ? Tier::kDeny : Tier::kNone)
        << c.what;
    EXPECT_EQ(Grade(entries, kNow, {rule_within(kWindow12mDays)}).first,
              c.in_12m ? Tier::kDeny : Tier::kNone)
        << c.what;
    EXPECT_EQ(Grade(entries, kNow, {rule_within(kWindow5yDays)}).first,
              c.in_5y ? Tier::kDeny : Tier::kNone)
        << c.what;
    // The default policy reviews at opening within 12 months, else watches: the boundary holds.
    EXPECT_EQ(r.tier, c.in_12m ? Tier::kReview : Tier::kWatch) << c.what;
  }
}

// Distinct issuers are counted in a small inline array first, then in a spill-over list: past
// that array's size (16) they still count once each, repeats in either part included.
TEST(RiskTest, DistinctIssuersCountOncePastTheInlineSixteen) {
  struct Case {
    int distinct;
    int repeats;  // entries per issuer, interleaved: I0..In, I0..In, ...
  };
  for (const Case& c : std::vector<Case>{{15, 2}, {16, 2}, {17, 1}, {17, 3}, {40, 2}}) {
    std::vector<store::Listing> entries;
    for (int round = 0; round < c.repeats; ++round) {
      for (int i = 0; i < c.distinct; ++i) {
        entries.push_back(
            Entry("BANK" + std::to_string(i), Basis::kInstitution, Category::kSold, 10 + round));
      }
    }
    const std::string what = std::to_string(c.distinct) + " issuers x " + std::to_string(c.repeats);
    RiskSummary r = Summarize(entries, kNow, DefaultPolicy(), nullptr, Purpose::kAccountOpening);
    EXPECT_EQ(r.issuers, static_cast<uint32_t>(c.distinct)) << what;
    EXPECT_EQ(r.by_category[static_cast<size_t>(Category::kSold)],
              static_cast<uint32_t>(c.distinct * c.repeats))
        << what;
    const auto at_least = [&](int issuers) {
      return MakeRule("n", Tier::kDeny, 1, static_cast<uint32_t>(issuers), Basis::kInstitution, {},
                      0);
    };
    EXPECT_EQ(Grade(entries, kNow, {at_least(c.distinct)}).first, Tier::kDeny) << what;
    EXPECT_EQ(Grade(entries, kNow, {at_least(c.distinct + 1)}).first, Tier::kNone) << what;
  }
}

// The summary's count arrays are indexed by the enums' values: every named category and basis
// must fit, so a value added to protocol/record.h without raising kHighest* fails here.
TEST(RiskTest, EveryNamedCategoryAndBasisFitsTheCounts) {
  const auto names = [](const std::string& joined) {
    std::vector<std::string> out;
    for (size_t from = 0; from <= joined.size();) {
      const size_t comma = joined.find(", ", from);
      out.push_back(joined.substr(from, comma - from));
      if (comma == std::string::npos) break;
      from = comma + 2;
    }
    return out;
  };
  RiskSummary r;
  for (const std::string& name : names(protocol::AllCategoryNames())) {
    const std::optional<Category> c = protocol::ParseCategory(name);
    ASSERT_TRUE(c.has_value()) << name;
    EXPECT_LE(*c, kHighestCategory) << name;
    EXPECT_LT(static_cast<size_t>(*c), r.by_category.size()) << name;
  }
  for (const std::string& name : names(protocol::AllBasisNames())) {
    const std::optional<Basis> b = protocol::ParseBasis(name);
    ASSERT_TRUE(b.has_value()) << name;
    EXPECT_LE(*b, kHighestBasis) << name;
    EXPECT_LT(static_cast<size_t>(*b), r.by_basis.size()) << name;
  }
  // And the highest values are named: no count slot is left unreachable.
  EXPECT_NE(protocol::CategoryName(kHighestCategory), "unknown");
  EXPECT_NE(protocol::BasisName(kHighestBasis), "unknown");
}

class PolicyFileTest : public ::testing::Test {
 protected:
  Result<GradingPolicy> Load(const std::string& text) {
    const std::filesystem::path file = dir_ / ("policy-" + std::to_string(++n_) + ".toml");
    std::ofstream(file) << text;
    return LoadPolicyFile(file);
  }
  duanka::testing::TempDir dir_;
  int n_ = 0;
};

TEST_F(PolicyFileTest, AGoodFileLoadsInOrderAndBadNamesAreRefusedByName) {
  Result<GradingPolicy> good = Load(R"(version = 2
[[rules]]
purpose = "account-opening"
name = "sold-any"
tier = "deny"
categories = ["sold"]
[[rules]]
purpose = "default"
name = "two-banks"
tier = "review"
min_issuers = 2
within_days = 365
[[rules]]
purpose = "account-opening"
name = "any"
tier = "watch"
min_basis = "institution"
)");
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->version, 2u);
  ASSERT_EQ(good->purposes.size(), 2u);
  EXPECT_EQ(good->purposes[0].purpose, "account-opening");
  ASSERT_EQ(good->purposes[0].rules.size(), 2u);
  EXPECT_EQ(good->purposes[0].rules[1].name, "any");
  EXPECT_EQ(good->purposes[1].rules[0].min_issuers, 2u);

  struct Bad {
    std::string text;
    std::string says;
  };
  const std::string head = "version = 1\n[[rules]]\nname = \"x\"\n";
  for (const Bad& b : std::vector<Bad>{
           {head + "purpose = \"onboarding\"\ntier = \"deny\"\n", "purpose onboarding is unknown"},
           {head + "purpose = \"default\"\ntier = \"block\"\n", "tier"},
           {head + "purpose = \"default\"\ntier = \"deny\"\nmin_basis = \"rumour\"\n", "min_basis"},
           {head + "purpose = \"default\"\ntier = \"deny\"\ncategories = [\"stolen\"]\n",
            "categories"},
           {head + "purpose = \"default\"\ntier = \"deny\"\nmin_entries = 0\n", "min_entries"},
           {head + "purpose = \"default\"\ntier = \"deny\"\nmin_issuers = 0\n", "min_issuers"},
           {head + "purpose = \"default\"\ntier = \"deny\"\nlimit = 3\n", "rules #1.limit"},
           {"version = 0\n", "version"},
           {"[[rules]]\n", "version"},
       }) {
    Result<GradingPolicy> p = Load(b.text);
    ASSERT_FALSE(p.ok()) << b.says;
    EXPECT_EQ(p.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(p.error().message.find(b.says), std::string::npos) << p.error().message;
  }
}

// The example shipped for regulators loads, and grades as documented there.
TEST(PolicyExampleTest, TheShippedExampleLoadsAndDeniesASoldAccountAtOpening) {
  Result<GradingPolicy> p = LoadPolicyFile(DUANKA_POLICY_EXAMPLE);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->version, 1u);
  const std::vector<store::Listing> sold = {
      Entry("BANKA", Basis::kInstitution, Category::kSold, 400)};
  RiskSummary r = Summarize(sold, kNow, *p, nullptr, Purpose::kAccountOpening);
  EXPECT_EQ(r.tier, Tier::kDeny);
  EXPECT_EQ(r.rule, "trafficked-account-2y");
  EXPECT_EQ(Summarize(sold, kNow, *p, nullptr, Purpose::kPeriodicReview).tier, Tier::kWatch);
}

}  // namespace
}  // namespace duanka::node
