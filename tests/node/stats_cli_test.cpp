// duanka-admin stats, the real binary, on stores filled by the real report, revoke, export and
// import commands of three institutions.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "node/common/audit.h"
#include "node/common/human_time.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

using testing::RunProgram;
using testing::RunResult;

const std::string kAdmin = DUANKA_ADMIN_BIN;
constexpr int64_t kDay = 24 * 3600;

// Raw identifiers and a case reference reported below: none may appear in any report.
const std::string kPhone = "13912345678";
const std::string kQq = "20240917";
const std::string kWechat = "Fraud_Ring-01";
const std::string kCard = "4111111111111111";
const std::string kEmail = "mule.account@example.com";
const std::string kCaseRef = "(2026)京01刑初7号";

// A text table's rows: the name (words before the figures) → its figures, for the section whose
// title line starts with `title`; the section ends at a blank line. Header lines have no figures.
std::map<std::string, std::vector<uint64_t>> Table(const std::string& text,
                                                   const std::string& title) {
  std::map<std::string, std::vector<uint64_t>> rows;
  std::vector<std::string> lines = testing::Lines(text);
  size_t i = 0;
  while (i < lines.size() && !lines[i].starts_with(title)) ++i;
  EXPECT_LT(i, lines.size()) << "no section " << title << " in\n" << text;
  for (++i; i < lines.size() && !lines[i].empty(); ++i) {
    std::istringstream words(lines[i]);
    std::vector<std::string> tokens;
    for (std::string w; words >> w;) tokens.push_back(w);
    std::vector<uint64_t> figures;
    auto is_figure = [](const std::string& t) {
      return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    while (!tokens.empty() && is_figure(tokens.back())) {
      figures.insert(figures.begin(), std::stoull(tokens.back()));
      tokens.pop_back();
    }
    if (figures.empty()) continue;
    std::string name;
    for (const std::string& t : tokens) name += (name.empty() ? "" : " ") + t;
    rows[name] = figures;
  }
  return rows;
}

std::vector<uint64_t> StateFigures(const nlohmann::json& row) {
  return {row["entries"], row["active"], row["revoked"], row["expired"], row["suspended"]};
}

class StatsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", Pepper()}).exit_code, 0);
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string Pepper() const { return (dir_ / "pepper.key").string(); }
  std::string Home(const std::string& code) const { return (dir_ / code).string(); }

  RunResult Admin(std::vector<std::string> args) {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args);
  }

  void Join(const std::string& code, const std::string& role = "member") {
    RunResult issue = Admin({"--home", Home(code), "pki", "issue", "--ca-dir", Ca(),
                             "--institution", code, "--role", role});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", Home(code), "--institution", code, "--ca",
                            Ca() + "/ca.pem", "--pepper", Pepper()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  void Report(const std::string& code, std::vector<std::string> args) {
    args.insert(args.begin(), {"--home", Home(code), "report"});
    RunResult r = Admin(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void Revoke(const std::string& code, const std::string& entry, const std::string& reason) {
    RunResult r = Admin({"--home", Home(code), "revoke", entry, "--reason", reason});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Gives `to` what `from` holds (of `issuer`, or everything), as a bundle.
  void Carry(const std::string& from, const std::string& to, const std::string& issuer = "") {
    const std::string bundle = (dir_ / (from + "-" + to + ".bundle")).string();
    std::vector<std::string> args = {"--home", Home(from), "export", "--out", bundle};
    if (!issuer.empty()) args.insert(args.end(), {"--issuer", issuer});
    RunResult out = Admin(args);
    ASSERT_EQ(out.exit_code, 0) << out.err;
    RunResult in = Admin({"--home", Home(to), "import", bundle});
    ASSERT_EQ(in.exit_code, 0) << in.err;
  }

  // The date `days` from now as --expires takes it (China Standard Time).
  static std::string DateIn(int64_t days) {
    return node::HumanDate(node::SystemNow() + days * kDay);
  }

  void ExpectInvalid(const RunResult& r, const std::string& words) {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(r.err.starts_with("duanka-admin: ")) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(testing::Lines(r.err).size(), 1u) << r.err;
  }

  testing::TempDir dir_;
};

TEST_F(StatsCliTest, FiguresAfterReportsRevocationsAndImports) {
  Join("BANKA");
  Join("BANKB");
  Join("PBOC", "regulator");
  const std::string month_before = node::HumanDate(node::SystemNow()).substr(0, 7);
  Report("BANKA", {"phone", kPhone, "--category", "rented-out", "--basis", "psb-identified",
                   "--case-ref", kCaseRef});
  Report("BANKA", {"qq", kQq, "--category", "sold", "--basis", "convicted"});
  Report("BANKA", {"wechat", kWechat, "--category", "broker", "--expires", DateIn(10)});
  Report("BANKA", {"bank-card", kCard, "--category", "lent", "--expires", DateIn(60)});
  Revoke("BANKA", "BANKA:2", "appeal-upheld");
  Report("BANKB", {"email", kEmail, "--category", "fraud-use", "--basis", "psb-identified"});
  // The regulator withdraws BANKB's entry; BANKA receives BANKB's feed and the regulator's.
  Carry("BANKB", "PBOC");
  Revoke("PBOC", "BANKB:1", "court-order");
  Carry("BANKB", "BANKA", "BANKB");
  Carry("PBOC", "BANKA", "PBOC");

  RunResult json_run = Admin({"--home", Home("BANKA"), "stats", "--json"});
  ASSERT_EQ(json_run.exit_code, 0) << json_run.err;
  const std::string month_after = node::HumanDate(node::SystemNow()).substr(0, 7);
  ASSERT_EQ(testing::Lines(json_run.out).size(), 1u) << json_run.out;
  const nlohmann::json j = nlohmann::json::parse(json_run.out);
  EXPECT_EQ(j["institution"], "BANKA");
  EXPECT_EQ(StateFigures(j["totals"]), (std::vector<uint64_t>{5, 3, 2, 0, 0}));
  EXPECT_EQ(j["totals"]["revocations"], 2);
  EXPECT_EQ(j["totals"]["pending_revocations"], 0);

  const nlohmann::json& issuers = j["by_issuer"];
  ASSERT_EQ(issuers.size(), 3u) << issuers.dump();
  EXPECT_EQ(StateFigures(issuers["BANKA"]), (std::vector<uint64_t>{4, 3, 1, 0, 0}));
  EXPECT_EQ(issuers["BANKA"]["revocations_issued"], 1);
  EXPECT_EQ(issuers["BANKA"]["appeals_upheld"], 1);
  EXPECT_EQ(StateFigures(issuers["BANKB"]), (std::vector<uint64_t>{1, 0, 1, 0, 0}));
  EXPECT_EQ(issuers["BANKB"]["revocations_issued"], 0);
  EXPECT_EQ(issuers["BANKB"]["appeals_upheld"], 0);
  EXPECT_EQ(StateFigures(issuers["PBOC"]), (std::vector<uint64_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(issuers["PBOC"]["revocations_issued"], 1);

  const nlohmann::json& types = j["by_type"];
  EXPECT_EQ(StateFigures(types["phone"]), (std::vector<uint64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(StateFigures(types["qq"]), (std::vector<uint64_t>{1, 0, 1, 0, 0}));
  EXPECT_EQ(StateFigures(types["wechat"]), (std::vector<uint64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(StateFigures(types["bank-card"]), (std::vector<uint64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(StateFigures(types["email"]), (std::vector<uint64_t>{1, 0, 1, 0, 0}));
  // Every type is present, counted or not, so the shape never depends on the data.
  EXPECT_EQ(types["cn-id"]["entries"], 0);
  EXPECT_FALSE(types.contains("unknown"));

  const nlohmann::json& categories = j["by_category"];
  EXPECT_EQ(categories.size(), 7u);
  EXPECT_EQ(StateFigures(categories["rented-out"]), (std::vector<uint64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(StateFigures(categories["sold"]), (std::vector<uint64_t>{1, 0, 1, 0, 0}));
  EXPECT_EQ(StateFigures(categories["broker"]), (std::vector<uint64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(StateFigures(categories["lent"]), (std::vector<uint64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(StateFigures(categories["fraud-use"]), (std::vector<uint64_t>{1, 0, 1, 0, 0}));
  EXPECT_EQ(categories["bought"]["entries"], 0);

  const nlohmann::json& bases = j["by_basis"];
  EXPECT_EQ(bases.size(), 3u);
  EXPECT_EQ(StateFigures(bases["psb-identified"]), (std::vector<uint64_t>{2, 1, 1, 0, 0}));
  EXPECT_EQ(StateFigures(bases["convicted"]), (std::vector<uint64_t>{1, 0, 1, 0, 0}));
  EXPECT_EQ(StateFigures(bases["institution"]), (std::vector<uint64_t>{2, 2, 0, 0, 0}));

  // Everything was issued and revoked just now: one month (two if the test ran over midnight at
  // the end of a month).
  uint64_t month_entries = 0, month_revocations = 0;
  for (const auto& [month, row] : j["by_month"].items()) {
    EXPECT_TRUE(month == month_before || month == month_after) << month;
    month_entries += row["entries"].get<uint64_t>();
    month_revocations += row["revocations"].get<uint64_t>();
  }
  EXPECT_EQ(month_entries, 5u);
  EXPECT_EQ(month_revocations, 2u);

  EXPECT_EQ(j["expiries_due"]["within_30_days"], 1);  // the wechat entry
  EXPECT_EQ(j["expiries_due"]["within_90_days"], 2);  // and the bank card
  EXPECT_EQ(j["expiries_due"]["expired"], 0);

  const nlohmann::json& reasons = j["revocation_reasons"];
  EXPECT_EQ(reasons.size(), 6u);
  EXPECT_EQ(reasons["appeal-upheld"], 1);
  EXPECT_EQ(reasons["court-order"], 1);
  EXPECT_EQ(reasons["issued-in-error"], 0);

  // The text says the same, table by table.
  RunResult text_run = Admin({"stats", "--home", Home("BANKA")});
  ASSERT_EQ(text_run.exit_code, 0) << text_run.err;
  const std::string& text = text_run.out;
  std::map<std::string, std::vector<uint64_t>> issuer_rows = Table(text, "Per issuer");
  ASSERT_EQ(issuer_rows.size(), issuers.size()) << text;
  for (const auto& [code, row] : issuers.items()) {
    std::vector<uint64_t> want = StateFigures(row);
    want.push_back(row["revocations_issued"]);
    want.push_back(row["appeals_upheld"]);
    EXPECT_EQ(issuer_rows[code], want) << code << "\n" << text;
  }
  for (const auto& [title, key] :
       std::vector<std::pair<std::string, std::string>>{{"Per identifier type", "by_type"},
                                                        {"Per category", "by_category"},
                                                        {"Per basis", "by_basis"}}) {
    std::map<std::string, std::vector<uint64_t>> rows = Table(text, title);
    ASSERT_EQ(rows.size(), j[key].size()) << title << "\n" << text;
    for (const auto& [name, row] : j[key].items()) {
      EXPECT_EQ(rows[name], StateFigures(row)) << title << " " << name;
    }
  }
  std::map<std::string, std::vector<uint64_t>> month_rows = Table(text, "Per month");
  ASSERT_EQ(month_rows.size(), j["by_month"].size()) << text;
  for (const auto& [month, row] : j["by_month"].items()) {
    EXPECT_EQ(month_rows[month], (std::vector<uint64_t>{row["entries"], row["revocations"]}));
  }
  std::map<std::string, std::vector<uint64_t>> due = Table(text, "Expiries due");
  EXPECT_EQ(due["within 30 days"], std::vector<uint64_t>{1});
  EXPECT_EQ(due["within 90 days"], std::vector<uint64_t>{2});
  EXPECT_EQ(due["already expired"], std::vector<uint64_t>{0});
  std::map<std::string, std::vector<uint64_t>> reason_rows = Table(text, "Revocations per reason");
  ASSERT_EQ(reason_rows.size(), reasons.size()) << text;
  for (const auto& [name, n] : reasons.items()) {
    EXPECT_EQ(reason_rows[name], std::vector<uint64_t>{n.get<uint64_t>()}) << name;
  }

  // Counts only: no identifier, in any spelling, and no case reference.
  for (const std::string& out : {json_run.out, text_run.out, json_run.err, text_run.err}) {
    for (const std::string& raw :
         {kPhone, kQq, kWechat, std::string("fraud_ring-01"), kCard, kEmail, kCaseRef}) {
      EXPECT_EQ(out.find(raw), std::string::npos) << raw;
    }
  }
}

TEST_F(StatsCliTest, EmptyStoreReportsZeros) {
  Join("BANKA");
  RunResult r = Admin({"--home", Home("BANKA"), "stats", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(StateFigures(j["totals"]), (std::vector<uint64_t>{0, 0, 0, 0, 0}));
  EXPECT_TRUE(j["by_issuer"].empty());
  EXPECT_TRUE(j["by_month"].empty());
  EXPECT_EQ(j["by_category"].size(), 7u);
  RunResult text = Admin({"--home", Home("BANKA"), "stats"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(Table(text.out, "Per issuer").empty()) << text.out;
}

TEST_F(StatsCliTest, BadFlagsExitTwoAndAMissingStoreThree) {
  Join("BANKA");
  const std::string h = Home("BANKA");
  ExpectInvalid(Admin({"--home", h, "stats", "--csv"}), "--csv");
  ExpectInvalid(Admin({"--home", h, "stats", "BANKA"}), "BANKA");
  ExpectInvalid(Admin({"--home", h, "statistics"}), "statistics");

  // The store is opened read-only: a missing one is reported, never created.
  std::filesystem::remove_all(dir_ / "BANKA" / "store");
  RunResult missing = Admin({"--home", h, "stats"});
  EXPECT_EQ(missing.exit_code, 3) << missing.out << missing.err;
  EXPECT_EQ(testing::Lines(missing.err).size(), 1u) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "BANKA" / "store" / "data.mdb"));
  RunResult no_home = Admin({"--home", (dir_ / "nowhere").string(), "stats", "--json"});
  EXPECT_EQ(no_home.exit_code, 3) << no_home.out << no_home.err;
  EXPECT_TRUE(no_home.out.empty()) << no_home.out;
}

}  // namespace
}  // namespace duanka
