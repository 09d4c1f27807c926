// Graded answers (issue 16 §1) with real daemons in the 4-node line BANKA -- BANKB -- BANKC --
// PBOC (the regulator): an entry reported at BANKA is graded by the built-in default policy at
// every node (review at account opening, watch at transaction review); BANKC's own [grading] rule
// is stricter and denies it there alone (rule_source local); BANKB's own rule is laxer (watch)
// and changes nothing; the regulator's signed policy (version 1) reaches every node and makes it
// deny everywhere, BANKB included, named by its rule (rule_source consortium); a member cannot
// sign a policy, and an older or equal version is refused by name, by `policy set` and by any
// node importing it.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/consortium.h"

namespace duanka::integration {
namespace {

using testing::RunResult;

constexpr const char* kQq = "71900001";

// The regulator's policy: at account opening a sold account is denied.
std::string PolicyFile(uint32_t version, const std::string& rule) {
  return "version = " + std::to_string(version) +
         "\n"
         "[[rules]]\n"
         "purpose = \"account-opening\"\n"
         "name = \"" +
         rule +
         "\"\n"
         "tier = \"deny\"\n"
         "categories = [\"sold\"]\n"
         "within_days = 365\n"
         "[[rules]]\n"
         "purpose = \"default\"\n"
         "name = \"any-entry\"\n"
         "tier = \"watch\"\n";
}

class GradingPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    line_ = c_.Line({"BANKA", "BANKB", "BANKC", "PBOC"});
    // BANKC is stricter than the consortium: it denies a sold account at opening.
    c().extra_toml =
        "[[grading.rules]]\n"
        "purpose = \"account-opening\"\n"
        "name = \"local-sold\"\n"
        "tier = \"deny\"\n"
        "categories = [\"sold\"]\n";
    // BANKB is laxer: it would only watch a sold account at opening. Never laxer than the
    // consortium, it still reviews now and denies once the regulator's policy says so.
    b().extra_toml =
        "[[grading.rules]]\n"
        "purpose = \"account-opening\"\n"
        "name = \"local-watch-sold\"\n"
        "tier = \"watch\"\n"
        "categories = [\"sold\"]\n";
    RunResult role = c_.AdminTool({"--home", regulator().home.string(), "pki", "issue", "--ca-dir",
                                   c_.ca_dir().string(), "--institution", "PBOC", "--role",
                                   "regulator", "--host", "127.0.0.1", "--force"});
    ASSERT_EQ(role.exit_code, 0) << role.err;
    ASSERT_TRUE(c_.StartAll());
    ASSERT_EQ(c_.Report(a(), "qq", kQq, "sold"), "BANKA:1");
    ASSERT_TRUE(Eventually([&] { return c_.SameHeads(line_); }));
  }

  nlohmann::json Risk(const Node& n, const std::string& purpose = "account-opening") {
    RunResult r = c_.Duanka(n, {"lookup", "qq", kQq, "--json", "--purpose", purpose});
    EXPECT_EQ(r.exit_code, 0) << n.code << ": " << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("risk")) return nlohmann::json::object();
    return j["risk"];
  }

  int TierExit(const Node& n) {
    return c_.Duanka(n, {"lookup", "qq", kQq, "--tier-exit"}).exit_code;
  }

  std::filesystem::path WritePolicy(uint32_t version, const std::string& rule) {
    const std::filesystem::path file =
        c_.dir() / ("policy-" + std::to_string(version) + "-" + rule + ".toml");
    std::ofstream(file) << PolicyFile(version, rule);
    return file;
  }

  Node& a() { return *line_[0]; }
  Node& b() { return *line_[1]; }
  Node& c() { return *line_[2]; }
  Node& regulator() { return *line_[3]; }

  Consortium c_;
  std::vector<Node*> line_;
};

TEST_F(GradingPolicy, TheRegulatorsPolicyReachesEveryNodeAndALocalRuleIsStricter) {
  // The built-in default: a recent institution entry is reviewed at opening, watched elsewhere.
  for (Node* n : {&a(), &b(), &regulator()}) {
    nlohmann::json risk = Risk(*n);
    EXPECT_EQ(risk["tier"], "review") << n->code << ": " << risk.dump();
    EXPECT_EQ(risk["rule"], "recent-12m") << n->code;
    EXPECT_EQ(risk["rule_source"], "consortium") << n->code;
    EXPECT_EQ(risk["policy"], 0) << n->code;
    EXPECT_EQ(risk["issuers"], 1);
    EXPECT_EQ(risk["by_category"], (nlohmann::json{{"sold", 1}}));
    EXPECT_EQ(risk["within"]["90d"], 1);
    EXPECT_EQ(Risk(*n, "transaction-review")["tier"], "watch") << n->code;
    EXPECT_EQ(TierExit(*n), 4) << n->code;
  }
  // BANKC's local rule denies where the others review.
  nlohmann::json strict = Risk(c());
  EXPECT_EQ(strict["tier"], "deny") << strict.dump();
  EXPECT_EQ(strict["rule"], "local-sold");
  EXPECT_EQ(strict["rule_source"], "local");
  EXPECT_EQ(strict["policy"], 0);
  EXPECT_EQ(TierExit(c()), 0);
  RunResult strict_human = c_.Duanka(c(), {"lookup", "qq", kQq});
  EXPECT_NE(strict_human.out.find("Risk: DENY (local rule local-sold, policy 0): 1 issuer"),
            std::string::npos)
      << strict_human.out;
  // Without --tier-exit the exit codes keep grep's meaning: listed is 0.
  EXPECT_EQ(c_.Duanka(b(), {"lookup", "qq", kQq}).exit_code, 0);
  RunResult human = c_.Duanka(b(), {"lookup", "qq", kQq});
  EXPECT_NE(human.out.find("Risk: REVIEW (rule recent-12m, policy 0): 1 issuer"), std::string::npos)
      << human.out;

  // A member's node signs no policy.
  RunResult member = c_.Admin(a(), {"policy", "set", WritePolicy(1, "sold-deny").string()});
  EXPECT_EQ(member.exit_code, 2);
  EXPECT_NE(member.err.find("only a regulator's node signs notices"), std::string::npos)
      << member.err;

  const std::filesystem::path v1_notice = c_.dir() / "policy-1.notice";
  RunResult set = c_.Admin(regulator(), {"policy", "set", WritePolicy(1, "sold-deny").string(),
                                         "--out", v1_notice.string()});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  for (Node* n : line_) {
    EXPECT_TRUE(Eventually([&] {
      nlohmann::json risk = Risk(*n);
      return risk["tier"] == "deny" && risk["rule"] == "sold-deny" && risk["policy"] == 1;
    })) << n->code
        << " does not grade by policy 1: " << Risk(*n).dump() << c_.LogText(*n);
    // BANKC's local deny ties with the consortium's, which names it; BANKB's local watch is
    // laxer and loses.
    EXPECT_EQ(Risk(*n)["rule_source"], "consortium") << n->code;
    EXPECT_EQ(TierExit(*n), 0) << n->code;
    RunResult status = c_.Duanka(*n, {"status", "--json"});
    ASSERT_EQ(status.exit_code, 0) << status.err;
    nlohmann::json s = nlohmann::json::parse(status.out, nullptr, false);
    ASSERT_FALSE(s.is_discarded());
    EXPECT_EQ(s["grading"]["policy"], 1) << n->code;
    EXPECT_EQ(s["grading"]["local_rules"], n == &b() || n == &c() ? 1 : 0) << n->code;
  }
  EXPECT_TRUE(Eventually([&] { return c_.Logged(a(), "grading policy version 1"); }))
      << c_.LogText(a());
  RunResult show = c_.Admin(b(), {"policy", "show", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  nlohmann::json shown = nlohmann::json::parse(show.out, nullptr, false);
  ASSERT_FALSE(shown.is_discarded()) << show.out;
  EXPECT_EQ(shown["consortium"]["version"], 1);
  EXPECT_EQ(shown["consortium"]["purposes"]["account-opening"][0]["name"], "sold-deny");

  // Version 1 again, and any lower, is refused by name at the regulator's node.
  RunResult again = c_.Admin(regulator(), {"policy", "set", WritePolicy(1, "other").string()});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("version 1 is not newer than version 1 in force"), std::string::npos)
      << again.err;

  // Version 2 replaces it everywhere; the old notice, imported anywhere, is refused by name.
  ASSERT_EQ(
      c_.Admin(regulator(), {"policy", "set", WritePolicy(2, "sold-deny-2").string()}).exit_code,
      0);
  EXPECT_TRUE(Eventually([&] { return Risk(b())["policy"] == 2; })) << Risk(b()).dump();
  RunResult old = c_.Admin(b(), {"import", v1_notice.string()});
  EXPECT_EQ(old.exit_code, 2);
  EXPECT_NE(old.err.find("grading policy version 1 is older than version 2"), std::string::npos)
      << old.err;
  EXPECT_EQ(Risk(b())["rule"], "sold-deny-2");
}

}  // namespace
}  // namespace duanka::integration
