// The flood guard (issue 17, section 1) with real daemons in the 4-node line BANKA -- BANKB --
// BANKC -- PBOC (the regulator), every node's [flood] limit 3 a day: BANKA reports 5 entries, the
// last 2 are held at every node (answered held, the CLI exits 1 with "held" in its JSON, the far
// daemons log the crossing and count it); the regulator's signed release lists them everywhere;
// an operator's release lists them at that node alone; a release of what is not held is refused.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

using protocol::IdType;
using testing::RunResult;

constexpr int kLimit = 3;
constexpr int kReported = 5;
constexpr uint64_t kFirstQq = 71'000'001;

std::string Qq(int i) {
  return std::to_string(kFirstQq + static_cast<uint64_t>(i));
}

class FloodGuard : public ::testing::Test {
 protected:
  void SetUp() override {
    line_ = c_.Line({"BANKA", "BANKB", "BANKC", "PBOC"});
    for (Node* n : line_) {
      n->extra_toml = "[flood]\ndaily_entry_limit = " + std::to_string(kLimit) + "\n";
    }
    RunResult role = c_.AdminTool({"--home", regulator().home.string(), "pki", "issue", "--ca-dir",
                                   c_.ca_dir().string(), "--institution", "PBOC", "--role",
                                   "regulator", "--host", "127.0.0.1", "--force"});
    ASSERT_EQ(role.exit_code, 0) << role.err;
    ASSERT_TRUE(c_.StartAll());

    const std::filesystem::path batch = c_.dir() / "flood.csv";
    {
      std::ofstream out(batch);
      for (int i = 0; i < kReported; ++i) out << "qq," << Qq(i) << ",sold\n";
    }
    RunResult reported = c_.Admin(a(), {"report", "--batch", batch.string()});
    ASSERT_EQ(reported.exit_code, 0) << reported.err;
    EXPECT_NE(reported.err.find("BANKA passed its daily limit of 3 new entries"), std::string::npos)
        << "the reporting operator is told at once: " << reported.err;
    ASSERT_TRUE(Eventually([&] { return c_.SameHeads(line_); }));
  }

  store::EntryState State(const Node& n, int i) {
    std::vector<store::Listing> found = c_.Find(n, IdType::kQq, Qq(i));
    return found.size() == 1 ? found[0].state : store::EntryState::kRevoked;
  }
  bool AllIn(const Node& n, int from, int to, store::EntryState state) {
    for (int i = from; i < to; ++i) {
      if (State(n, i) != state) return false;
    }
    return true;
  }
  // The held day, as `hold list --json` names it at `n`.
  std::string HeldDay(const Node& n) {
    RunResult list = c_.Admin(n, {"hold", "list", "--json"});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    nlohmann::json j = nlohmann::json::parse(list.out, nullptr, false);
    if (j.is_discarded() || j["days"].empty()) return "";
    return j["days"][0]["day"].get<std::string>();
  }

  Node& a() { return *line_[0]; }
  Node& c() { return *line_[2]; }
  Node& regulator() { return *line_[3]; }

  Consortium c_;
  std::vector<Node*> line_;
};

TEST_F(FloodGuard, EntriesPastTheLimitAreHeldAtEveryNodeUntilTheRegulatorReleasesThem) {
  for (Node* n : line_) {
    EXPECT_TRUE(AllIn(*n, 0, kLimit, store::EntryState::kActive)) << n->code;
    EXPECT_TRUE(AllIn(*n, kLimit, kReported, store::EntryState::kHeld)) << n->code;
  }
  // The CLI: held, not listed (exit 1, as for not listed), and "held" in its JSON.
  RunResult held = c_.Duanka(regulator(), {"lookup", "qq", Qq(kReported - 1), "--json"});
  EXPECT_EQ(held.exit_code, 1) << held.err;
  nlohmann::json answer = nlohmann::json::parse(held.out, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << held.out;
  EXPECT_EQ(answer["listed"], false);
  EXPECT_EQ(answer["held"], true);
  ASSERT_EQ(answer["entries"].size(), 1u);
  EXPECT_EQ(answer["entries"][0]["state"], "held");
  EXPECT_NE(answer["entries"][0]["hold"]["reason"].get<std::string>().find("daily limit"),
            std::string::npos);
  RunResult human = c_.Duanka(c(), {"lookup", "qq", Qq(kReported - 1)});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_EQ(human.out.rfind("HELD:", 0), 0u) << human.out;
  RunResult listed = c_.Duanka(c(), {"lookup", "qq", Qq(0), "--json"});
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_NE(listed.out.find("\"held\":false"), std::string::npos) << listed.out;

  // Raised at the far end the moment the limit was crossed: an alert in the log, and metrics.
  EXPECT_TRUE(Eventually([&] { return c_.Logged(regulator(), "passed its daily limit of 3"); }))
      << c_.LogText(regulator());
  std::optional<std::string> metrics = HttpGet(regulator().api_port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->find("duanka_held_entries{issuer=\"BANKA\"} 2"), std::string::npos)
      << *metrics;
  EXPECT_NE(metrics->find("duanka_flood_limit_crossings_total 1"), std::string::npos);

  const std::string day = HeldDay(regulator());
  ASSERT_FALSE(day.empty());
  RunResult released =
      c_.Admin(regulator(), {"hold", "release", "BANKA", "--day", day, "--everywhere"});
  ASSERT_EQ(released.exit_code, 0) << released.err;
  for (Node* n : line_) {
    EXPECT_TRUE(Eventually([&] { return AllIn(*n, 0, kReported, store::EntryState::kActive); }))
        << n->code << " still holds BANKA's entries: " << c_.LogText(*n);
  }
  // A released day holds nothing more: BANKA's sixth entry of the day is listed at once.
  ASSERT_EQ(c_.Report(a(), "qq", Qq(kReported), "sold"), "BANKA:" + std::to_string(kReported + 1));
  ASSERT_TRUE(Eventually([&] { return c_.SameHeads(line_); }));
  for (Node* n : line_) EXPECT_EQ(State(*n, kReported), store::EntryState::kActive) << n->code;
}

TEST_F(FloodGuard, AnOperatorsReleaseListsTheEntriesAtItsOwnNodeAlone) {
  const std::string day = HeldDay(c());
  ASSERT_FALSE(day.empty());
  RunResult released = c_.Admin(c(), {"hold", "release", "BANKA", "--day", day});
  ASSERT_EQ(released.exit_code, 0) << released.err;
  EXPECT_NE(released.out.find("released 2 held entries"), std::string::npos) << released.out;
  EXPECT_TRUE(AllIn(c(), 0, kReported, store::EntryState::kActive));
  EXPECT_NE(ReadAll(c().home / "audit.log").find("\"action\":\"hold-release\""), std::string::npos);
  for (Node* n : {&a(), line_[1], &regulator()}) {
    EXPECT_TRUE(AllIn(*n, kLimit, kReported, store::EntryState::kHeld)) << n->code;
  }
}

TEST_F(FloodGuard, AReleaseOfWhatIsNotHeldOrByAMemberEverywhereIsRefusedByName) {
  RunResult none = c_.Admin(c(), {"hold", "release", "BANKB"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("no entries of BANKB are held here"), std::string::npos) << none.err;

  RunResult bad_day = c_.Admin(c(), {"hold", "release", "BANKA", "--day", "2026-13-01"});
  EXPECT_EQ(bad_day.exit_code, 2);
  EXPECT_NE(bad_day.err.find("--day: expected a day as 2026-12-06"), std::string::npos)
      << bad_day.err;

  const std::string day = HeldDay(c());
  RunResult member = c_.Admin(c(), {"hold", "release", "BANKA", "--day", day, "--everywhere"});
  EXPECT_NE(member.exit_code, 0);
  EXPECT_NE(member.err.find("only a regulator's node signs notices"), std::string::npos)
      << member.err;
  EXPECT_TRUE(AllIn(c(), kLimit, kReported, store::EntryState::kHeld));
}

}  // namespace
}  // namespace duanka::integration
