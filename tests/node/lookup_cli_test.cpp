// duanka, the real lookup CLI binary, on temporary HOMEs built by fixture_tool: outputs, exit
// codes, error lines, batches, the audit log, and lookups while another process writes.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

using testing::Lines;
using testing::ReadAll;
using testing::RunProgram;
using testing::RunResult;

const std::string kDuanka = DUANKA_BIN;
const std::string kFixture = FIXTURE_TOOL_BIN;

// The identifiers the fixture lists, as entered, and other spellings of the same ones.
const std::string kPhone = "+86 139 1234 5678";
const std::string kPhoneCanonical = "+8613912345678";
const std::string kPhoneDigits = "13912345678";
const std::string kCnId = "11010519491231002X";
const std::string kWechatRevoked = "mule_acct-01";
const std::string kQqExpired = "123456789";
const std::string kCard = "4111 1111 1111 1111";
const std::string kCardDigits = "4111111111111111";
const std::string kUnlistedPhone = "13700137000";

// Everything a raw identifier could appear as in output or logs.
const std::vector<std::string> kSecrets = {kPhoneCanonical, kPhoneDigits,   "1234 5678",
                                           kCnId,           kWechatRevoked, kQqExpired,
                                           kCardDigits,     kUnlistedPhone};

void WriteFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

bool IsHex(const std::string& s, size_t length) {
  return s.size() == length && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// YYYY-MM-DD
bool IsDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// The first line of `text` that starts with `prefix`, or "".
std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  for (const std::string& line : Lines(text)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return {};
}

// Whitespace-separated words of a line.
std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// An error is exactly one line "duanka: …" on stderr.
void ExpectOneErrorLine(const RunResult& r) {
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.rfind("duanka: ", 0), 0U) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
}

void ExpectNoSecrets(const std::string& text, const std::string& what) {
  for (const std::string& s : kSecrets) {
    EXPECT_EQ(text.find(s), std::string::npos) << what << " contains an identifier: " << text;
  }
}

class LookupCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("DUANKA_HOME");
    WriteFile(dir_ / "a.entries", "phone," + kPhone + ",rented-out,psb-identified\n" + "cn-id," +
                                      kCnId + ",sold,convicted\n" + "wechat," + kWechatRevoked +
                                      ",lent,institution,revoked\n" + "qq," + kQqExpired +
                                      ",bought,,expired\n");
    RunResult a = Fixture({home(), "--entries", (dir_ / "a.entries").string()});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    // BANKA:1 phone, :2 cn-id, :3 wechat (revoked by :4), :5 qq (expired).
    ASSERT_EQ(Lines(a.out), (std::vector<std::string>{"BANKA:1", "BANKA:2", "BANKA:3", "BANKA:5"}));
    WriteFile(dir_ / "b.entries", "bank-card," + kCard + ",fraud-use,psb-identified\n");
    RunResult b =
        Fixture({home(), "--issuer", "BANKB", "--entries", (dir_ / "b.entries").string()});
    ASSERT_EQ(b.exit_code, 0) << b.err;
  }

  std::string home() const { return (dir_ / "home").string(); }
  std::filesystem::path audit_log() const { return dir_ / "home" / "audit.log"; }

  RunResult Fixture(std::vector<std::string> args) {
    args.insert(args.begin(), kFixture);
    return RunProgram(args);
  }

  // duanka --home HOME ARGS…
  RunResult Duanka(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {kDuanka, "--home", home()});
    RunResult r = RunProgram(args, input);
    EXPECT_FALSE(r.timed_out);
    ExpectNoSecrets(r.err, "stderr");
    return r;
  }

  // duanka ARGS… without --home.
  RunResult Bare(std::vector<std::string> args) {
    args.insert(args.begin(), kDuanka);
    return RunProgram(args);
  }

  std::vector<nlohmann::json> AuditLines() {
    std::vector<nlohmann::json> out;
    for (const std::string& line : Lines(ReadAll(audit_log()))) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  testing::TempDir dir_;
};

// ---- One identifier ---------------------------------------------------------------------------

TEST_F(LookupCliTest, ListedPhoneExitsZeroNamingIssuerCategoryBasisDatesAndFreshness) {
  RunResult r = Duanka({"lookup", "phone", kPhone});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("LISTED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BANKA:1"), std::string::npos);
  EXPECT_NE(r.out.find("rented-out"), std::string::npos);
  EXPECT_NE(r.out.find("psb-identified"), std::string::npos);
  EXPECT_NE(r.out.find("CASE-1"), std::string::npos);
  // Issue and expiry dates: ENTRY STATE CATEGORY BASIS ISSUED EXPIRES CASE.
  std::vector<std::string> entry = Words(LineStartingWith(r.out, "  BANKA:1 "));
  ASSERT_EQ(entry.size(), 7U) << r.out;
  EXPECT_TRUE(IsDate(entry[4])) << entry[4];
  EXPECT_TRUE(IsDate(entry[5])) << entry[5];
  EXPECT_LT(entry[4], entry[5]);
  // When each feed last grew: ISSUER seq N DATE TIME CST (AGO).
  EXPECT_NE(r.out.find("Store freshness"), std::string::npos);
  std::vector<std::string> feed = Words(LineStartingWith(r.out, "  BANKA "));
  ASSERT_GE(feed.size(), 7U) << r.out;
  EXPECT_EQ(feed[1] + " " + feed[2], "seq 5");
  EXPECT_TRUE(IsDate(feed[3])) << feed[3];
  EXPECT_EQ(feed[5], "CST");
  EXPECT_TRUE(feed[6] == "(just" || feed.back() == "ago)") << r.out;
  EXPECT_EQ(Words(LineStartingWith(r.out, "  BANKB ")).at(2), "1") << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  ExpectNoSecrets(r.out, "stdout");
}

TEST_F(LookupCliTest, NotListedExitsOne) {
  RunResult r = Duanka({"lookup", "phone", kUnlistedPhone});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("NOT LISTED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Store freshness"), std::string::npos);
  ExpectNoSecrets(r.out, "stdout");
}

TEST_F(LookupCliTest, EquivalentSpellingsAreFound) {
  for (const std::string& spelling :
       {std::string("13912345678"), std::string("+8613912345678"),
        std::string("0086 139 1234 5678"), std::string("86-139-1234-5678"),
        std::string("  139 1234 5678 "),
        std::string(
            "\xEF\xBC\x91\xEF\xBC\x93\xEF\xBC\x99\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93"
            "\xEF\xBC\x94\xEF\xBC\x95\xEF\xBC\x96\xEF\xBC\x97\xEF\xBC\x98")}) {  // full-width
    RunResult r = Duanka({"lookup", "phone", spelling});
    EXPECT_EQ(r.exit_code, 0) << "spelling #" << spelling.size() << ": " << r.err;
  }
  EXPECT_EQ(Duanka({"lookup", "cn-id", "11010519491231002x"}).exit_code, 0);  // lowercase x
  EXPECT_EQ(Duanka({"lookup", "bank-card", "4111-1111-1111-1111"}).exit_code, 0);
  EXPECT_EQ(Duanka({"lookup", "bank-card", kCardDigits}).exit_code, 0);
}

TEST_F(LookupCliTest, EveryInvalidInputClassExitsTwoWithOneLineNotContainingTheValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"phone", "12345"},
      {"phone", "+0 123 456"},
      {"phone", "1391234567a"},
      {"cn-id", "110105194912310021"},    // wrong check character
      {"cn-id", "11010519491331002X"},    // no such month
      {"bank-card", "4111111111111112"},  // Luhn
      {"bank-account", "12"},
      {"wechat", "1abcdefg"},
      {"alipay", "not an alipay id"},
      {"qq", "0123456"},
      {"uscc", "91350100M000100Y4X"},
      {"email", "no-at-sign.example"},
      {"passport", "E1"},
      {"ecny-wallet", "12345"},
      {"phone", ""},
      {"phone", std::string("139\x01"
                            "12345678")},
      {"phone", std::string("\xFF\xFE\xFD garbage")},
      {"email", std::string(300, 'a') + "@example.com"},
  };
  for (const auto& [type, value] : cases) {
    RunResult r = Duanka({"lookup", type, value});
    EXPECT_EQ(r.exit_code, 2) << type << ": " << r.err;
    ExpectOneErrorLine(r);
    EXPECT_TRUE(r.out.empty()) << r.out;
    if (value.size() >= 3) {
      EXPECT_EQ(r.err.find(value), std::string::npos) << r.err;
    }
    EXPECT_NE(r.err.find(type), std::string::npos) << "the message names the type: " << r.err;
  }
  // An unknown type is not echoed: the user may have swapped TYPE and VALUE.
  RunResult swapped = Duanka({"lookup", kUnlistedPhone, "phone"});
  EXPECT_EQ(swapped.exit_code, 2);
  ExpectOneErrorLine(swapped);
  EXPECT_NE(swapped.err.find("expected one of cn-id, phone"), std::string::npos) << swapped.err;
  // Nothing was looked up, so nothing was audited.
  EXPECT_FALSE(std::filesystem::exists(audit_log()));
}

TEST_F(LookupCliTest, UnknownPurposeExitsTwoNamingThePurposes) {
  RunResult r = Duanka({"lookup", "phone", kPhone, "--purpose", "curiosity"});
  EXPECT_EQ(r.exit_code, 2);
  ExpectOneErrorLine(r);
  EXPECT_NE(
      r.err.find("account-opening, periodic-review, transaction-review, appeal, investigation"),
      std::string::npos)
      << r.err;
}

TEST_F(LookupCliTest, MissingHomeConfigStoreOrPepperExitsThree) {
  RunResult no_home = Bare({"--home", (dir_ / "nowhere").string(), "lookup", "phone", kPhone});
  EXPECT_EQ(no_home.exit_code, 3);
  ExpectOneErrorLine(no_home);
  EXPECT_NE(no_home.err.find("duanka.toml"), std::string::npos) << no_home.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "nowhere"));

  std::filesystem::rename(dir_ / "home" / "pepper.key", dir_ / "pepper.away");
  RunResult no_pepper = Duanka({"lookup", "phone", kPhone});
  EXPECT_EQ(no_pepper.exit_code, 3);
  ExpectOneErrorLine(no_pepper);
  EXPECT_NE(no_pepper.err.find("pepper"), std::string::npos) << no_pepper.err;
  std::filesystem::rename(dir_ / "pepper.away", dir_ / "home" / "pepper.key");

  std::filesystem::rename(dir_ / "home" / "store", dir_ / "store.away");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"lookup", "phone", kPhone},
        std::vector<std::string>{"lookup", "--batch", "-"}, std::vector<std::string>{"status"},
        std::vector<std::string>{"show", "BANKA:1"}}) {
    RunResult no_store = Duanka(args, "phone,13912345678\n");
    EXPECT_EQ(no_store.exit_code, 3) << args[0];
    ExpectOneErrorLine(no_store);
    EXPECT_NE(no_store.err.find("store"), std::string::npos) << no_store.err;
    EXPECT_TRUE(no_store.out.empty());
  }
  // Read-only: a lookup never creates a store.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "home" / "store"));
  // A store directory that is not an LMDB store is unreadable, not empty.
  std::filesystem::create_directories(dir_ / "home" / "store");
  WriteFile(dir_ / "home" / "store" / "data.mdb", "not an lmdb file");
  RunResult garbage = Duanka({"lookup", "phone", kPhone});
  EXPECT_EQ(garbage.exit_code, 3);
  ExpectOneErrorLine(garbage);
}

TEST_F(LookupCliTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"lookup", "phone", kPhone, "--frobnicate"},
      {"lookup", "phone"},
      {"lookup"},
      {"lookup", "phone", "139", "1234", "5678"},  // an unquoted identifier with spaces
      {"lookup", "phone", kPhone, "--purpose"},
      {"hash", "phone"},
      {"show"},
      {"status", "extra"},
      {"lookup", "--batch", "-", "phone", kPhone},
      {"lookup", "--batch", "-", "--all"},
  };
  for (const auto& args : cases) {
    RunResult r = Duanka(args);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "(none)" : args[0]) << ": " << r.err;
    ExpectOneErrorLine(r);
    EXPECT_EQ(r.err.find("1234"), std::string::npos) << r.err;
  }
  RunResult unknown_option = Duanka({"lookup", "phone", kPhone, "--jsn"});
  EXPECT_NE(unknown_option.err.find("--jsn"), std::string::npos) << unknown_option.err;
  RunResult unknown_command = Duanka({"frobnicate"});
  EXPECT_NE(unknown_command.err.find("lookup, hash, show, status"), std::string::npos);
}

TEST_F(LookupCliTest, HelpOnEveryCommandHasAnExample) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"},
                                               {"lookup", "--help"},
                                               {"hash", "--help"},
                                               {"show", "--help"},
                                               {"status", "--help"}}) {
    RunResult r = Bare(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("Example"), std::string::npos) << r.out;
  }
  RunResult lookup = Bare({"lookup", "--help"});
  EXPECT_NE(lookup.out.find("audit log cannot be written"), std::string::npos) << lookup.out;
  EXPECT_NE(lookup.out.find("--batch"), std::string::npos);
}

TEST_F(LookupCliTest, HomeIsTakenBeforeOrAfterTheCommandOrFromTheEnvironment) {
  EXPECT_EQ(Bare({"--home", home(), "lookup", "phone", kPhone}).exit_code, 0);
  EXPECT_EQ(Bare({"lookup", "phone", kPhone, "--home", home()}).exit_code, 0);
  EXPECT_EQ(Bare({"lookup", "--home", home(), "phone", kPhone}).exit_code, 0);
  EXPECT_EQ(Bare({"status", "--home", home()}).exit_code, 0);
  ::setenv("DUANKA_HOME", home().c_str(), 1);
  EXPECT_EQ(Bare({"lookup", "phone", kPhone}).exit_code, 0);
  // --home wins over the environment.
  EXPECT_EQ(Bare({"lookup", "phone", kPhone, "--home", (dir_ / "nowhere").string()}).exit_code, 3);
  ::unsetenv("DUANKA_HOME");
}

TEST_F(LookupCliTest, JsonAnswerParsesAndHasTheFields) {
  RunResult r = Duanka({"lookup", "phone", kPhone, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Lines(r.out).size(), 1U);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "phone");
  EXPECT_EQ(j["listed"], true);
  EXPECT_TRUE(IsHex(j["subject"].get<std::string>(), 64));
  ASSERT_EQ(j["entries"].size(), 1U);
  const nlohmann::json& e = j["entries"][0];
  EXPECT_EQ(e["entry"], "BANKA:1");
  EXPECT_EQ(e["issuer"], "BANKA");
  EXPECT_EQ(e["seq"], 1);
  EXPECT_EQ(e["state"], "active");
  EXPECT_EQ(e["category"], "rented-out");
  EXPECT_EQ(e["basis"], "psb-identified");
  EXPECT_EQ(e["case_ref"], "CASE-1");
  EXPECT_TRUE(e.contains("issued_at"));
  EXPECT_TRUE(e.contains("expires_at"));
  ASSERT_EQ(j["store"]["feeds"].size(), 2U);
  EXPECT_EQ(j["store"]["feeds"][0]["issuer"], "BANKA");
  EXPECT_EQ(j["store"]["feeds"][0]["seq"], 5);
  EXPECT_TRUE(j["store"]["feeds"][0].contains("last_grew_at"));

  RunResult miss = Duanka({"lookup", "phone", kUnlistedPhone, "--json"});
  EXPECT_EQ(miss.exit_code, 1);
  nlohmann::json m = nlohmann::json::parse(miss.out);
  EXPECT_EQ(m["listed"], false);
  EXPECT_TRUE(m["entries"].empty());
  ExpectNoSecrets(r.out + miss.out, "JSON");
}

TEST_F(LookupCliTest, AllShowsRevokedAndExpiredEntriesThatTheDefaultHides) {
  RunResult revoked = Duanka({"lookup", "wechat", kWechatRevoked});
  EXPECT_EQ(revoked.exit_code, 1);
  EXPECT_EQ(revoked.out.find("BANKA:3"), std::string::npos) << revoked.out;
  EXPECT_NE(revoked.out.find("--all"), std::string::npos) << "says something is hidden";
  RunResult revoked_all = Duanka({"lookup", "wechat", kWechatRevoked, "--all"});
  EXPECT_EQ(revoked_all.exit_code, 1) << "a revoked entry never counts as listed";
  EXPECT_NE(revoked_all.out.find("BANKA:3"), std::string::npos) << revoked_all.out;
  EXPECT_NE(revoked_all.out.find("revoked"), std::string::npos);
  EXPECT_NE(revoked_all.out.find("appeal-upheld"), std::string::npos);

  RunResult expired_json = Duanka({"lookup", "qq", kQqExpired, "--json"});
  EXPECT_EQ(expired_json.exit_code, 1);
  EXPECT_TRUE(nlohmann::json::parse(expired_json.out)["entries"].empty());
  RunResult expired_all = Duanka({"lookup", "qq", kQqExpired, "--json", "--all"});
  nlohmann::json j = nlohmann::json::parse(expired_all.out);
  ASSERT_EQ(j["entries"].size(), 1U);
  EXPECT_EQ(j["entries"][0]["state"], "expired");
  EXPECT_EQ(j["listed"], false);
}

TEST_F(LookupCliTest, OldPepperEpochEntriesAreFoundAfterRotation) {
  ASSERT_EQ(Fixture({home(), "--rotate-pepper"}).exit_code, 0);
  RunResult r = Duanka({"lookup", "phone", kPhone, "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  RunResult h = Duanka({"hash", "phone", kPhone, "--json"});
  ASSERT_EQ(h.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(h.out)["epoch"], 2);
}

// ---- hash, show, status -----------------------------------------------------------------------

TEST_F(LookupCliTest, HashPrintsTheCanonicalFormAndTheSubjectALookupUses) {
  RunResult h = Duanka({"hash", "phone", kPhone, "--json"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  nlohmann::json j = nlohmann::json::parse(h.out);
  EXPECT_EQ(j["canonical"], kPhoneCanonical);
  EXPECT_EQ(j["type"], "phone");
  EXPECT_EQ(j["epoch"], 1);
  RunResult l = Duanka({"lookup", "phone", kPhoneDigits, "--json"});
  EXPECT_EQ(j["subject"], nlohmann::json::parse(l.out)["subject"]);
  RunResult text = Duanka({"hash", "phone", kPhone});
  EXPECT_NE(text.out.find("canonical  " + kPhoneCanonical), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(j["subject"].get<std::string>()), std::string::npos);
  RunResult bad = Duanka({"hash", "phone", "12345"});
  EXPECT_EQ(bad.exit_code, 2);
  ExpectOneErrorLine(bad);
  // hash reads no store and is not a lookup: no audit line.
  EXPECT_EQ(AuditLines().size(), 1U);
}

TEST_F(LookupCliTest, ShowPrintsAnEntryOrARevocation) {
  RunResult text = Duanka({"show", "BANKA:1"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("rented-out"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("CASE-1"), std::string::npos);
  RunResult json = Duanka({"show", "BANKA:3", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["state"], "revoked");
  EXPECT_EQ(j["revocation"]["by"], "BANKA:4");
  RunResult revocation = Duanka({"show", "BANKA:4", "--json"});
  ASSERT_EQ(revocation.exit_code, 0) << revocation.err;
  EXPECT_EQ(nlohmann::json::parse(revocation.out)["revokes"], "BANKA:3");
  RunResult missing = Duanka({"show", "BANKA:99"});
  EXPECT_EQ(missing.exit_code, 1);
  ExpectOneErrorLine(missing);
  RunResult invalid = Duanka({"show", "banka-one"});
  EXPECT_EQ(invalid.exit_code, 2);
  ExpectOneErrorLine(invalid);
}

TEST_F(LookupCliTest, StatusCountsFeedsEntriesAndStates) {
  RunResult r = Duanka({"status", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["institution"], "BANKA");
  ASSERT_EQ(j["feeds"].size(), 2U);
  const nlohmann::json& a = j["feeds"][0];
  EXPECT_EQ(a["issuer"], "BANKA");
  EXPECT_EQ(a["seq"], 5);
  EXPECT_EQ(a["entries"], 4);
  EXPECT_EQ(a["active"], 2);
  EXPECT_EQ(a["revoked"], 1);
  EXPECT_EQ(a["expired"], 1);
  EXPECT_EQ(a["revocations"], 1);
  EXPECT_EQ(a["frozen"], false);
  EXPECT_TRUE(a.contains("last_grew_at"));
  EXPECT_EQ(j["totals"]["entries"], 5);
  EXPECT_EQ(j["evidence"], 0);
  EXPECT_GT(j["store"]["bytes_on_disk"].get<uint64_t>(), 0U);
  RunResult text = Duanka({"status"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("BANKB"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Institution  BANKA"), std::string::npos);
}

// ---- Batches ----------------------------------------------------------------------------------

TEST_F(LookupCliTest, BatchAnswersEveryLineInOrderAndCountsInvalidOnes) {
  const std::string input = "phone," + kPhone + "\n" +                        // 1 listed
                            "phone," + kUnlistedPhone + "\n" +                // 2 not listed
                            "phone,12345\n" +                                 // 3 invalid value
                            "fax,0101234567\n" +                              // 4 unknown type
                            "no comma here\n" +                               // 5
                            "\n" +                                            // 6 empty
                            std::string("\xFF\xFE\x00\x01garbage\r\n", 13) +  // 7 binary
                            "cn-id," + kCnId + "\r\n" +                       // 8 listed, CRLF
                            "wechat," + kWechatRevoked + "\n" +  // 9 revoked: not listed
                            " bank-card , " + kCard + "\n" +     // 10 listed (BANKB)
                            "phone," + kPhoneDigits;             // 11 listed, no final newline
  RunResult r = Duanka({"lookup", "--batch", "-"}, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 11U) << r.out;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind(std::to_string(i + 1) + ",", 0), 0U) << lines[i];
  }
  EXPECT_EQ(lines[0].rfind("1,phone,listed,BANKA:1,rented-out,psb-identified,20", 0), 0U)
      << lines[0];
  EXPECT_EQ(lines[1], "2,phone,not-listed,,,,,");
  EXPECT_EQ(lines[2].rfind("3,phone,invalid,,,,,", 0), 0U) << lines[2];
  EXPECT_EQ(lines[3].rfind("4,,invalid,,,,,", 0), 0U) << lines[3];
  EXPECT_NE(lines[3].find("unknown identifier type"), std::string::npos);
  EXPECT_NE(lines[4].find("no comma"), std::string::npos);
  EXPECT_NE(lines[5].find("empty"), std::string::npos);
  EXPECT_NE(lines[6].find("invalid"), std::string::npos);
  EXPECT_EQ(lines[7].rfind("8,cn-id,listed,BANKA:2,sold,convicted,", 0), 0U) << lines[7];
  EXPECT_EQ(lines[8], "9,wechat,not-listed,,,,,");
  EXPECT_EQ(lines[9].rfind("10,bank-card,listed,BANKB:1,fraud-use,", 0), 0U) << lines[9];
  EXPECT_EQ(lines[10].rfind("11,phone,listed,BANKA:1,", 0), 0U) << lines[10];
  // The summary is one line on stderr.
  EXPECT_EQ(r.err.rfind("duanka lookup --batch: 11 lines: 4 listed, 2 not listed, 5 invalid", 0),
            0U)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  ExpectNoSecrets(r.out, "batch output");

  // Nothing listed: exit 1.
  RunResult none = Duanka({"lookup", "--batch", "-"}, "phone," + kUnlistedPhone + "\nqq,x\n");
  EXPECT_EQ(none.exit_code, 1) << none.err;
  EXPECT_EQ(Lines(none.out).size(), 2U);
}

TEST_F(LookupCliTest, BatchJsonLinesMatchTheSingleLookupAnswer) {
  const std::string input = "phone," + kPhone + "\nphone," + kUnlistedPhone + "\nphone,1\n";
  RunResult r = Duanka({"lookup", "--batch", "-", "--json"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3U);
  for (size_t i = 0; i < 2; ++i) {
    nlohmann::json batch = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(batch["line"], i + 1);
    batch.erase("line");
    RunResult single = Duanka({"lookup", "phone", i == 0 ? kPhone : kUnlistedPhone, "--json"});
    nlohmann::json one = nlohmann::json::parse(single.out);
    one.erase("store");
    // Single lookups read case references and revocations; a batch reads the index only.
    for (auto& e : one["entries"]) {
      e.erase("case_ref");
      e.erase("pepper_epoch");
    }
    EXPECT_EQ(batch, one) << lines[i] << "\n" << single.out;
  }
  nlohmann::json invalid = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(invalid["line"], 3);
  EXPECT_EQ(invalid["listed"], false);
  EXPECT_EQ(invalid["type"], "phone");
  EXPECT_TRUE(invalid.contains("error"));
}

TEST_F(LookupCliTest, BatchFromAFileWithHugeAndBinaryLinesNeverHangs) {
  // A 100 MB line between two good ones, and binary garbage.
  {
    std::ofstream f(dir_ / "batch.csv", std::ios::binary);
    f << "phone," << kPhone << "\n";
    std::string block(1 << 20, '7');
    for (int i = 0; i < 100; ++i) f << block;
    f << "\n";
    std::string garbage;
    for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 7919) & 0xFF);
    f << garbage << "\n";
    f << "phone," << kUnlistedPhone << "\n";
  }
  RunResult r = Duanka({"lookup", "--batch", (dir_ / "batch.csv").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_GE(lines.size(), 4U);
  EXPECT_EQ(lines.front().rfind("1,phone,listed", 0), 0U);
  EXPECT_EQ(lines[1].rfind("2,,invalid", 0), 0U) << lines[1].substr(0, 200);
  EXPECT_NE(lines[1].find("longer than 1024 bytes"), std::string::npos);
  EXPECT_EQ(lines.back(), std::to_string(lines.size()) + ",phone,not-listed,,,,,");
  EXPECT_LT(r.out.size(), 100000U) << "no line is echoed";
}

TEST_F(LookupCliTest, BatchWithClosedOrEmptyStdinAnswersNothingAndExitsOne) {
  RunResult empty = Duanka({"lookup", "--batch", "-"});
  EXPECT_EQ(empty.exit_code, 1) << empty.err;
  EXPECT_TRUE(empty.out.empty());
  EXPECT_NE(empty.err.find("0 lines"), std::string::npos) << empty.err;
  // stdin closed altogether (not even /dev/null).
  RunResult closed = RunProgram(
      {"/bin/sh", "-c", "exec \"$0\" --home \"$1\" lookup --batch - <&-", kDuanka, home()}, "", 20);
  EXPECT_FALSE(closed.timed_out);
  EXPECT_EQ(closed.exit_code, 1) << closed.err;
  EXPECT_NE(closed.err.find("0 lines"), std::string::npos) << closed.err;
}

TEST_F(LookupCliTest, BatchInputProblemsAreUsageErrors) {
  RunResult missing = Duanka({"lookup", "--batch", (dir_ / "no-such-file.csv").string()});
  EXPECT_EQ(missing.exit_code, 2);
  ExpectOneErrorLine(missing);
  EXPECT_EQ(missing.err.find("no-such-file"), std::string::npos) << "file names are not echoed";
  RunResult directory = Duanka({"lookup", "--batch", dir_.path().string()});
  EXPECT_EQ(directory.exit_code, 2);
  ExpectOneErrorLine(directory);
}

// ---- Audit log --------------------------------------------------------------------------------

TEST_F(LookupCliTest, EveryLookupIsAuditedWithPurposeUserAndSubjectPrefixNeverTheValue) {
  ASSERT_EQ(Duanka({"lookup", "phone", kPhone}).exit_code, 0);
  ASSERT_EQ(Duanka({"lookup", "phone", kUnlistedPhone, "--purpose", "appeal"}).exit_code, 1);
  RunResult single = Duanka({"lookup", "cn-id", kCnId, "--json", "--purpose", "investigation"});
  ASSERT_EQ(single.exit_code, 0);
  ASSERT_EQ(Duanka({"lookup", "--batch", "-", "--purpose", "periodic-review"},
                   "phone," + kPhone + "\nphone," + kUnlistedPhone + "\nphone,1\n")
                .exit_code,
            0);
  std::vector<nlohmann::json> lines = AuditLines();
  ASSERT_EQ(lines.size(), 5U);  // the batch: its one listed line, then its counts
  EXPECT_EQ(lines[0]["action"], "lookup");
  EXPECT_EQ(lines[0]["program"], "duanka");
  EXPECT_EQ(lines[0]["purpose"], "account-opening");
  EXPECT_EQ(lines[0]["type"], "phone");
  EXPECT_EQ(lines[0]["result"], "listed");
  EXPECT_FALSE(lines[0]["user"].get<std::string>().empty());
  EXPECT_TRUE(IsHex(lines[0]["subject8"].get<std::string>(), 8));
  EXPECT_EQ(lines[1]["purpose"], "appeal");
  EXPECT_EQ(lines[1]["result"], "not-listed");
  EXPECT_EQ(lines[2]["purpose"], "investigation");
  EXPECT_EQ(lines[2]["subject8"],
            nlohmann::json::parse(single.out)["subject"].get<std::string>().substr(0, 8));
  EXPECT_EQ(lines[3]["action"], "lookup");
  EXPECT_EQ(lines[3]["batch_line"], 1);
  EXPECT_EQ(lines[3]["purpose"], "periodic-review");
  EXPECT_EQ(lines[3]["subject8"], lines[0]["subject8"]);
  EXPECT_EQ(lines[3]["result"], "listed");
  EXPECT_EQ(lines[4]["action"], "lookup-batch");
  EXPECT_EQ(lines[4]["purpose"], "periodic-review");
  EXPECT_EQ(lines[4]["lines"], 3);
  EXPECT_EQ(lines[4]["listed"], 1);
  EXPECT_EQ(lines[4]["not_listed"], 1);
  EXPECT_EQ(lines[4]["invalid"], 1);
  EXPECT_EQ(lines[4]["result"], "listed");
  const std::string log = ReadAll(audit_log());
  ExpectNoSecrets(log, "audit log");
  EXPECT_EQ(log.find(nlohmann::json::parse(single.out)["subject"].get<std::string>()),
            std::string::npos)
      << "only 8 hex digits of a subject";
}

TEST_F(LookupCliTest, BatchLeavesOneAuditLineForEveryListedLineAsASingleLookupDoes) {
  // Listed: lines 1, 3, 6 and 8 (8 is line 1 spelt otherwise); 4 is revoked and 7 expired, so
  // not listed, as in a single lookup.
  const std::string input = "phone," + kPhone + "\n" + "phone," + kUnlistedPhone + "\n" + "cn-id," +
                            kCnId + "\n" + "wechat," + kWechatRevoked + "\n" + "phone,12345\n" +
                            "bank-card," + kCard + "\n" + "qq," + kQqExpired + "\n" + "phone," +
                            kPhoneDigits + "\n";
  RunResult r = Duanka({"lookup", "--batch", "-", "--json", "--purpose", "investigation"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> results = Lines(r.out);
  ASSERT_EQ(results.size(), 8U);

  std::vector<nlohmann::json> lines = AuditLines();
  ASSERT_EQ(lines.size(), 5U) << ReadAll(audit_log());
  const std::vector<int> listed = {1, 3, 6, 8};
  const std::vector<std::string> types = {"phone", "cn-id", "bank-card", "phone"};
  for (size_t i = 0; i < listed.size(); ++i) {
    const nlohmann::json& a = lines[i];
    const nlohmann::json answer = nlohmann::json::parse(results[listed[i] - 1]);
    ASSERT_EQ(answer["listed"], true) << results[listed[i] - 1];
    EXPECT_EQ(a["action"], "lookup") << a;
    EXPECT_EQ(a["batch_line"], listed[i]) << a;
    EXPECT_EQ(a["program"], "duanka");
    EXPECT_EQ(a["purpose"], "investigation");
    EXPECT_EQ(a["type"], types[i]);
    EXPECT_EQ(a["subject8"], answer["subject"].get<std::string>().substr(0, 8)) << a;
    EXPECT_EQ(a["result"], "listed");
    EXPECT_FALSE(a["user"].get<std::string>().empty());
    EXPECT_TRUE(a["time"].is_string());
  }
  EXPECT_EQ(lines[4]["action"], "lookup-batch");
  EXPECT_EQ(lines[4]["lines"], 8);
  EXPECT_EQ(lines[4]["listed"], 4);
  EXPECT_EQ(lines[4]["not_listed"], 3);
  EXPECT_EQ(lines[4]["invalid"], 1);

  // A listed batch line is audited with exactly the fields of a single lookup of it (and its
  // place in the batch).
  ASSERT_EQ(Duanka({"lookup", "cn-id", kCnId, "--purpose", "investigation"}).exit_code, 0);
  nlohmann::json single = AuditLines().back();
  nlohmann::json item = lines[1];
  item.erase("batch_line");
  item.erase("time");
  single.erase("time");
  // The chain fields say where each line is in the log (audit_chain_test checks them).
  for (nlohmann::json* j : {&item, &single}) {
    j->erase("seq");
    j->erase("prev");
  }
  EXPECT_EQ(item, single);

  const std::string log = ReadAll(audit_log());
  ExpectNoSecrets(log, "audit log");
  for (const std::string& result : results) {
    const nlohmann::json answer = nlohmann::json::parse(result);
    if (answer.contains("subject")) {
      EXPECT_EQ(log.find(answer["subject"].get<std::string>()), std::string::npos)
          << "only 8 hex digits of a subject";
    }
  }
}

TEST_F(LookupCliTest, BatchWithManyListedLinesAuditsEachOnAWholeLine) {
  // Several writes' worth of audit lines (node::kAuditMaxWriteBytes each): each piece must end
  // at a line's end.
  constexpr int kLines = 20000;
  std::string input;
  for (int i = 0; i < kLines; ++i) input += i % 2 == 0 ? "phone," + kPhone + "\n" : "qq,10001\n";
  RunResult r = Duanka({"lookup", "--batch", "-"}, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> lines = AuditLines();  // each line parses, or this throws
  ASSERT_EQ(lines.size(), static_cast<size_t>(kLines / 2 + 1));
  for (int i = 0; i < kLines / 2; ++i) {
    ASSERT_EQ(lines[i]["batch_line"], 2 * i + 1) << lines[i];
    ASSERT_EQ(lines[i]["result"], "listed");
  }
  EXPECT_EQ(lines.back()["listed"], kLines / 2);
  EXPECT_EQ(lines.back()["not_listed"], kLines / 2);
}

TEST_F(LookupCliTest, UnwritableAuditLogFailsTheLookupWithExitThreeAndNoAnswer) {
  // A directory where the log should be: no process, root or not, can append to it.
  std::filesystem::create_directories(audit_log());
  for (const auto& [args, input] :
       {std::pair<std::vector<std::string>, std::string>{{"lookup", "phone", kPhone}, ""},
        {{"lookup", "phone", kUnlistedPhone, "--json"}, ""},
        {{"lookup", "--batch", "-"}, "phone," + kPhone + "\n"}}) {
    RunResult r = Duanka(args, input);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    ExpectOneErrorLine(r);
    EXPECT_NE(r.err.find("audit log"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << "no answer without an audit line: " << r.out;
  }
}

// ---- Concurrency ------------------------------------------------------------------------------

TEST_F(LookupCliTest, LookupsSucceedWhileAnotherProcessWrites) {
  // Another issuer's feed grows in 200 small transactions while lookups run.
  std::atomic<bool> done{false};
  RunResult writer;
  std::thread t([&] {
    writer = Fixture(
        {home(), "--issuer", "BANKC", "--random", "4000", "--batch-size", "20", "--pause-ms", "2"});
    done = true;
  });
  int lookups = 0;
  while (!done || lookups < 10) {
    RunResult listed = Duanka({"lookup", "phone", kPhone, "--json"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    RunResult missing = Duanka({"lookup", "phone", kUnlistedPhone});
    ASSERT_EQ(missing.exit_code, 1) << missing.err;
    RunResult batch =
        Duanka({"lookup", "--batch", "-"}, "phone," + kPhone + "\ncn-id," + kCnId + "\nqq,10001\n");
    ASSERT_EQ(batch.exit_code, 0) << batch.err;
    ASSERT_EQ(Lines(batch.out).size(), 3U);
    ++lookups;
  }
  t.join();
  ASSERT_EQ(writer.exit_code, 0) << writer.err;
  nlohmann::json status = nlohmann::json::parse(Duanka({"status", "--json"}).out);
  EXPECT_EQ(status["totals"]["entries"], 5 + 4000);
  // Per round: two single lookups, and the batch's two listed lines and its counts.
  EXPECT_EQ(AuditLines().size(), static_cast<size_t>(5 * lookups));
}

}  // namespace
}  // namespace duanka
