// Issue 12, section 7, through the shipped binaries: passports with their issuing state (and the
// old country-less entries still found), and one time zone for duanka-admin and duanka.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

using testing::RunProgram;
using testing::RunResult;

const std::string kDuanka = DUANKA_BIN;
const std::string kAdmin = DUANKA_ADMIN_BIN;
const std::string kFixture = FIXTURE_TOOL_BIN;

// A passport number listed before issue 12, without its issuing state, and one listed since.
const std::string kOldPassportNumber = "E12345678";
const std::string kNewPassport = "USA:G87654321";

void WriteFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The first line of `text` that starts with `prefix`, or "".
std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  for (const std::string& line : testing::Lines(text)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

// ---- Lookups: a passport-icao lookup finds entries of its state and the old country-less ones

class PassportLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("DUANKA_HOME");
    // The fixture signs entries directly, as an older duanka-admin did for the passport type.
    WriteFile(dir_ / "entries", "passport," + kOldPassportNumber + ",rented-out\n" +
                                    "passport-icao," + kNewPassport + ",sold\n");
    RunResult r = RunProgram({kFixture, home(), "--entries", (dir_ / "entries").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(testing::Lines(r.out), (std::vector<std::string>{"BANKA:1", "BANKA:2"}));
  }

  std::string home() const { return (dir_ / "home").string(); }

  RunResult Duanka(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {kDuanka, "--home", home()});
    return RunProgram(args, input);
  }

  ::duanka::testing::TempDir dir_;
};

TEST_F(PassportLookupTest, NewTypeFindsTheOldCountrylessEntryAndSaysItLacksAState) {
  for (const std::string state : {"CHN", "chn", "USA", "D"}) {
    RunResult r = Duanka({"lookup", "passport-icao", state + ":" + kOldPassportNumber});
    EXPECT_EQ(r.exit_code, 0) << state << ": " << r.err;
    EXPECT_NE(LineStartingWith(r.out, "  BANKA:1 "), "") << r.out;
    EXPECT_NE(r.out.find("BANKA:1 was listed as passport, without an issuing state"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find(kOldPassportNumber), std::string::npos) << r.out;
  }
  RunResult json = Duanka({"lookup", "passport-icao", "CHN:" + kOldPassportNumber, "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["type"], "passport-icao");
  ASSERT_EQ(j["entries"].size(), 1u) << json.out;
  EXPECT_EQ(j["entries"][0]["entry"], "BANKA:1");
  EXPECT_EQ(j["entries"][0]["type"], "passport");
}

TEST_F(PassportLookupTest, OldTypeStillFindsItsEntries) {
  RunResult r = Duanka({"lookup", "passport", "e12345678"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(LineStartingWith(r.out, "  BANKA:1 "), "") << r.out;
  EXPECT_EQ(r.out.find("without an issuing state"), std::string::npos) << r.out;
}

TEST_F(PassportLookupTest, TheIssuingStateSeparatesTwoPassportsOfOneNumber) {
  EXPECT_EQ(Duanka({"lookup", "passport-icao", "usa:g87654321"}).exit_code, 0);
  RunResult other_state = Duanka({"lookup", "passport-icao", "CHN:G87654321"});
  EXPECT_EQ(other_state.exit_code, 1) << other_state.out << other_state.err;
  EXPECT_NE(other_state.out.find("NOT LISTED"), std::string::npos) << other_state.out;
  // The new entry is no country-less one: the number alone does not find it.
  EXPECT_EQ(Duanka({"lookup", "passport", "G87654321"}).exit_code, 1);
}

TEST_F(PassportLookupTest, BatchFindsBothFormsLineByLine) {
  RunResult r =
      Duanka({"lookup", "--batch", "-"}, "passport-icao,CHN:" + kOldPassportNumber +
                                             "\npassport-icao,CHN:G87654321\n"
                                             "passport-icao," +
                                             kNewPassport + "\npassport-icao,ZZZ:A12345\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = testing::Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0].rfind("1,passport-icao,listed,BANKA:1,rented-out,", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("2,passport-icao,not-listed,", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("3,passport-icao,listed,BANKA:2,sold,", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("4,passport-icao,invalid,", 0), 0u) << lines[3];
  EXPECT_NE(lines[3].find("issuing state is not an ICAO 9303 code"), std::string::npos);
}

TEST_F(PassportLookupTest, RefusalsNameTypeAndReasonNeverTheValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {kOldPassportNumber, "has no issuing state"},
      {"ZZZ:" + kOldPassportNumber, "issuing state is not an ICAO 9303 code"},
      {"GBN:" + kOldPassportNumber,
       "issuing state is a code ICAO 9303 uses only for nationalities"},
      {"CHN:E1", "number has the wrong length"},
  };
  for (const auto& [value, reason] : cases) {
    RunResult r = Duanka({"lookup", "passport-icao", value});
    EXPECT_EQ(r.exit_code, 2) << value;
    EXPECT_EQ(testing::Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find("passport-icao: " + reason), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(kOldPassportNumber), std::string::npos) << r.err;
  }
}

// ---- duanka-admin and duanka on one real HOME

class AdminAndLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("DUANKA_HOME");
    const std::string ca = (dir_ / "ca").string(), pepper = (dir_ / "pepper.key").string();
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", ca, "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", pepper}).exit_code, 0);
    RunResult issue =
        Admin({"--home", home(), "pki", "issue", "--ca-dir", ca, "--institution", "BANKA"});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", home(), "--institution", "BANKA", "--ca",
                            ca + "/ca.pem", "--pepper", pepper});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  std::string home() const { return (dir_ / "BANKA").string(); }

  RunResult Admin(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args, input);
  }
  RunResult Duanka(std::vector<std::string> args) {
    args.insert(args.begin(), {kDuanka, "--home", home()});
    return RunProgram(args);
  }

  ::duanka::testing::TempDir dir_;
};

TEST_F(AdminAndLookupTest, OldPassportTypeRefusedForNewReportsNewTypeAccepted) {
  RunResult old = Admin(
      {"--home", home(), "report", "passport", kOldPassportNumber, "--category", "rented-out"});
  EXPECT_EQ(old.exit_code, 2) << old.out;
  EXPECT_EQ(testing::Lines(old.err).size(), 1u) << old.err;
  EXPECT_NE(old.err.find("passport: new reports need the issuing state; report passport-icao"),
            std::string::npos)
      << old.err;
  EXPECT_EQ(old.err.find(kOldPassportNumber), std::string::npos) << old.err;
  EXPECT_EQ(Admin({"--home", home(), "list", "--json"}).out, "") << "the refusal wrote nothing";

  RunResult batch = Admin({"--home", home(), "report", "--batch", "-"},
                          "passport," + kOldPassportNumber + ",sold\n");
  EXPECT_EQ(batch.exit_code, 2) << batch.out << batch.err;
  EXPECT_NE(batch.err.find("line 1: passport: new reports need the issuing state"),
            std::string::npos)
      << batch.err;
  EXPECT_EQ(batch.err.find(kOldPassportNumber), std::string::npos) << batch.err;
  EXPECT_EQ(Admin({"--home", home(), "list", "--json"}).out, "") << "the refusals wrote nothing";

  RunResult added = Admin(
      {"--home", home(), "report", "passport-icao", "d:c01x00t47", "--category", "rented-out"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(testing::Lines(added.out).at(0), "BANKA:1");
  EXPECT_EQ(Duanka({"lookup", "passport-icao", "DEU:C01X00T47"}).exit_code, 0);
  EXPECT_EQ(Duanka({"lookup", "passport-icao", "AUT:C01X00T47"}).exit_code, 1);
  // The help lists the new type and no longer offers the old one for reports.
  RunResult help = Admin({"report", "--help"});
  EXPECT_NE(help.out.find("passport-icao"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("passport,"), std::string::npos) << help.out;
}

// An operator reads an entry's dates in duanka-admin list and in duanka: they must agree, and an
// --expires date typed in must read back as that date in both (before issue 12, list printed
// UTC: 2030-01-30 for --expires 2030-01-31).
TEST_F(AdminAndLookupTest, ListAndLookupPrintTheSameDatesInOneNamedZone) {
  RunResult added = Admin({"--home", home(), "report", "wechat", "Fraud_Ring-01", "--category",
                           "broker", "--expires", "2030-01-31"});
  ASSERT_EQ(added.exit_code, 0) << added.err;

  RunResult list = Admin({"--home", home(), "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  // ENTRY STATE TYPE CATEGORY BASIS ISSUED EXPIRES SUBJECT
  const std::vector<std::string> row = Words(LineStartingWith(list.out, "BANKA:1 "));
  ASSERT_EQ(row.size(), 8u) << list.out;
  EXPECT_NE(list.err.find("Dates are China Standard Time (UTC+8)."), std::string::npos) << list.err;

  RunResult lookup = Duanka({"lookup", "wechat", "fraud_ring-01"});
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  // ENTRY STATE CATEGORY BASIS ISSUED EXPIRES CASE
  const std::vector<std::string> entry = Words(LineStartingWith(lookup.out, "  BANKA:1 "));
  ASSERT_EQ(entry.size(), 7u) << lookup.out;
  EXPECT_NE(lookup.out.find("Dates are China Standard Time (UTC+8)."), std::string::npos);

  EXPECT_EQ(row[6], "2030-01-31");
  EXPECT_EQ(entry[5], "2030-01-31");
  EXPECT_EQ(row[5], entry[4]) << "issue dates differ";

  RunResult show = Duanka({"show", "BANKA:1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("Expires     2030-01-31 00:00 CST"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("Issued      " + entry[4] + " "), std::string::npos) << show.out;
}

}  // namespace
}  // namespace duanka
