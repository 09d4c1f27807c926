// duanka-admin, the real binary, on temporary HOMEs of a test consortium.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/common/lookup.h"
#include "protocol/identifier.h"
#include "store/store.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

using testing::ReadAll;
using testing::RunProgram;
using testing::RunResult;

const std::string kAdmin = DUANKA_ADMIN_BIN;
const std::string kRawPhone = "+86 139-1234-5678";
const std::string kCanonicalPhone = "+8613912345678";

unsigned ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

class AdminCliTest : public ::testing::Test {
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

  // A member (or regulator) institution with keys, certificates and an initialised HOME.
  void Join(const std::string& code, const std::string& role = "member") {
    RunResult issue = Admin({"--home", Home(code), "pki", "issue", "--ca-dir", Ca(),
                             "--institution", code, "--role", role});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", Home(code), "--institution", code, "--ca",
                            Ca() + "/ca.pem", "--pepper", Pepper()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  std::string Report(const std::string& code, const std::string& type, const std::string& value,
                     std::vector<std::string> extra = {"--category", "rented-out"}) {
    std::vector<std::string> args = {"--home", Home(code), "report", type, value};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Admin(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.empty() ? "" : r.out.substr(0, r.out.find('\n'));
  }

  // Looks the identifier up in `code`'s store in-process, as the lookup CLI does.
  std::vector<store::Listing> Find(const std::string& code, protocol::IdType type,
                                   const std::string& value) {
    Result<node::Config> config = node::LoadConfig(Home(code));
    EXPECT_TRUE(config.ok());
    Result<crypto::Pepper> pepper = crypto::Pepper::Load(config->pepper);
    store::Options o;
    o.path = config->store;
    o.read_only = true;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    node::Lookuper lookuper(**s, *pepper);
    Result<node::LookupAnswer> a = lookuper.Lookup(type, value, node::SystemNow(), true);
    EXPECT_TRUE(a.ok());
    return a.ok() ? a->listings : std::vector<store::Listing>{};
  }

  void ExpectInvalid(const RunResult& r, const std::string& words) {
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_TRUE(r.err.starts_with("duanka-admin: ")) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(testing::Lines(r.err).size(), 1u) << r.err;
  }

  testing::TempDir dir_;
};

TEST_F(AdminCliTest, SetUpMakesPrivateKeysAndDirectories) {
  Join("BANKA");
  EXPECT_EQ(ModeOf(dir_ / "ca" / "ca.key"), 0600u);
  EXPECT_EQ(ModeOf(dir_ / "ca"), 0700u);
  EXPECT_EQ(ModeOf(dir_ / "pepper.key"), 0600u);
  EXPECT_EQ(ModeOf(dir_ / "BANKA"), 0700u);
  for (const char* key : {"signing.key", "tls.key", "pepper.key"}) {
    EXPECT_EQ(ModeOf(dir_ / "BANKA" / key), 0600u) << key;
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ / "BANKA" / "duanka.toml"));
  EXPECT_TRUE(std::filesystem::exists(dir_ / "BANKA" / "store" / "data.mdb"));
}

TEST_F(AdminCliTest, ExistingKeysAndConfigNotOverwrittenWithoutForce) {
  Join("BANKA");
  std::string key_before = ReadAll(dir_ / "BANKA" / "signing.key");
  RunResult again =
      Admin({"--home", Home("BANKA"), "pki", "issue", "--ca-dir", Ca(), "--institution", "BANKA"});
  ExpectInvalid(again, "--force");
  EXPECT_EQ(ReadAll(dir_ / "BANKA" / "signing.key"), key_before);
  ExpectInvalid(Admin({"init", "--home", Home("BANKA"), "--institution", "BANKA", "--ca",
                       Ca() + "/ca.pem", "--pepper", Pepper()}),
                "--force");
  ExpectInvalid(Admin({"pepper", "new", "--out", Pepper()}), "--force");
  ExpectInvalid(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "OTHER"}), "exists");
}

TEST_F(AdminCliTest, ReportPrintsEntryIdAndEquivalentSpellingsShareASubject) {
  Join("BANKA");
  EXPECT_EQ(Report("BANKA", "phone", kRawPhone), "BANKA:1");
  EXPECT_EQ(Report("BANKA", "qq", "12345678", {"--category", "sold", "--basis", "convicted"}),
            "BANKA:2");
  for (const std::string& spelling :
       {kCanonicalPhone, std::string("13912345678"), std::string("0086 139 1234 5678"),
        std::string("１３９１２３４５６７８")}) {
    std::vector<store::Listing> found = Find("BANKA", protocol::IdType::kPhone, spelling);
    ASSERT_EQ(found.size(), 1u) << spelling;
    EXPECT_EQ(found[0].id.ToString(), "BANKA:1");
    EXPECT_EQ(found[0].state, store::EntryState::kActive);
  }
  std::vector<store::Listing> qq = Find("BANKA", protocol::IdType::kQq, "12345678");
  ASSERT_EQ(qq.size(), 1u);
  EXPECT_EQ(qq[0].basis, protocol::Basis::kConvicted);
  EXPECT_EQ(qq[0].category, protocol::Category::kSold);
  // Three years for a conviction, by default.
  EXPECT_NEAR(static_cast<double>(qq[0].expires_at - qq[0].issued_at), 1095.0 * 86400, 86400);
}

TEST_F(AdminCliTest, ReportJsonAndExplicitExpiry) {
  Join("BANKA");
  RunResult r =
      Admin({"--home", Home("BANKA"), "report", "wechat", "Fraud_Ring-01", "--category", "broker",
             "--expires", "2030-01-31", "--case-ref", "(2026)京01刑初7号", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["entry"], "BANKA:1");
  EXPECT_EQ(j["subject"].get<std::string>().size(), 64u);
  // The start of 2030-01-31 in China Standard Time.
  EXPECT_EQ(j["expires_at"], "2030-01-30T16:00:00Z");
  std::vector<store::Listing> found = Find("BANKA", protocol::IdType::kWechat, "fraud_ring-01");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].case_ref, "(2026)京01刑初7号");
}

TEST_F(AdminCliTest, EveryInvalidInputClassExitsTwoWithOneLine) {
  Join("BANKA");
  const std::string h = Home("BANKA");
  ExpectInvalid(Admin({"--home", h, "report", "iban", "X", "--category", "sold"}),
                "unknown identifier type");
  ExpectInvalid(Admin({"--home", h, "report", "cn-id", "11010519491231002Y", "--category", "sold"}),
                "cn-id");
  ExpectInvalid(
      Admin({"--home", h, "report", "bank-card", "4111111111111112", "--category", "sold"}),
      "bank-card");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "", "--category", "sold"}), "qq");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "12345", "--category", "stolen"}),
                "--category");
  ExpectInvalid(
      Admin({"--home", h, "report", "qq", "12345", "--category", "sold", "--basis", "rumour"}),
      "--basis");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "12345", "--category", "sold", "--case-ref",
                       std::string(65, 'x')}),
                "--case-ref");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "12345", "--category", "sold", "--expires",
                       "31/01/2030"}),
                "YYYY-MM-DD");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "12345", "--category", "sold", "--expires",
                       "2030-02-30"}),
                "no such day");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "12345", "--category", "sold", "--expires",
                       "2001-01-01"}),
                "passed");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "12345", "--category", "sold", "--expires",
                       "2099-01-01"}),
                "10 years");
  ExpectInvalid(Admin({"--home", h, "report", "qq", "12345"}), "--category");
  ExpectInvalid(Admin({"--home", h, "revoke", "BANKA-1", "--reason", "appeal-upheld"}),
                "ISSUER:SEQ");
  ExpectInvalid(Admin({"--home", h, "revoke", "BANKA:1", "--reason", "changed-mind"}), "--reason");
  ExpectInvalid(Admin({"--home", h, "frobnicate"}), "frobnicate");
  // A peer must name the institution expected at its address; nothing is written without one.
  ExpectInvalid(Admin({"init", "--home", Home("BANKP"), "--institution", "BANKP", "--ca",
                       Ca() + "/ca.pem", "--pepper", Pepper(), "--peer", "10.0.0.2:7400"}),
                "\"10.0.0.2:7400\" is not CODE@HOST:PORT");
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(Home("BANKP")) / "duanka.toml"));
  ExpectInvalid(Admin({"--home", h, "list", "--issuer", "bank a"}), "--issuer");
  ExpectInvalid(Admin({"--home", h, "export", "--out", (dir_ / "x").string(), "--from", "0"}),
                "--from");
  ExpectInvalid(
      Admin({"pki", "issue", "--ca-dir", Ca(), "--institution", "bank-a", "--home", Home("X")}),
      "--institution");
  ExpectInvalid(Admin({"pki", "issue", "--ca-dir", Ca(), "--institution", "BANKX", "--role",
                       "admin", "--home", Home("BANKX")}),
                "--role");
  // Nothing of the invalid reports was written.
  Result<node::Config> config = node::LoadConfig(h);
  store::Options o;
  o.path = config->store;
  o.read_only = true;
  auto s = store::Store::Open(o);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->Heads()->empty());
}

TEST_F(AdminCliTest, MissingHomeOrKeysIsOperationalFailure) {
  RunResult r = Admin({"--home", Home("NOWHERE"), "list"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("duanka.toml"), std::string::npos);
  Join("BANKA");
  std::filesystem::remove(dir_ / "BANKA" / "signing.key");
  RunResult report =
      Admin({"--home", Home("BANKA"), "report", "qq", "12345", "--category", "sold"});
  EXPECT_EQ(report.exit_code, 3) << report.err;
  EXPECT_NE(report.err.find("signing.key"), std::string::npos) << report.err;
  std::filesystem::remove(dir_ / "BANKA" / "pepper.key");
  report = Admin({"--home", Home("BANKA"), "report", "qq", "12345", "--category", "sold"});
  EXPECT_EQ(report.exit_code, 3) << report.err;
  EXPECT_NE(report.err.find("pepper.key"), std::string::npos) << report.err;
}

TEST_F(AdminCliTest, HomeFromEnvironmentAndAfterSubcommand) {
  Join("BANKA");
  EXPECT_EQ(Report("BANKA", "qq", "10001"), "BANKA:1");
  RunResult after = RunProgram({kAdmin, "list", "--home", Home("BANKA")});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_NE(after.out.find("BANKA:1"), std::string::npos);
  RunResult env = RunProgram({"/usr/bin/env", "DUANKA_HOME=" + Home("BANKA"), kAdmin, "list"});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_NE(env.out.find("BANKA:1"), std::string::npos);
}

TEST_F(AdminCliTest, ReportRevokeCycleAndStates) {
  Join("BANKA");
  Report("BANKA", "phone", kRawPhone);
  RunResult revoke =
      Admin({"--home", Home("BANKA"), "revoke", "BANKA:1", "--reason", "issued-in-error"});
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_NE(revoke.out.find("BANKA:2 revokes BANKA:1"), std::string::npos);
  std::vector<store::Listing> found = Find("BANKA", protocol::IdType::kPhone, kRawPhone);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].state, store::EntryState::kRevoked);
  // Again: refused, nothing written.
  ExpectInvalid(Admin({"--home", Home("BANKA"), "revoke", "BANKA:1", "--reason", "appeal-upheld"}),
                "already revoked by BANKA:2");
  ExpectInvalid(Admin({"--home", Home("BANKA"), "revoke", "BANKA:9", "--reason", "appeal-upheld"}),
                "no entry BANKA:9");
  // list hides the revoked entry unless --all.
  RunResult list = Admin({"--home", Home("BANKA"), "list"});
  EXPECT_EQ(list.out.find("BANKA:1"), std::string::npos) << list.out;
  RunResult all = Admin({"--home", Home("BANKA"), "list", "--all", "--json"});
  ASSERT_EQ(all.exit_code, 0);
  nlohmann::json j = nlohmann::json::parse(testing::Lines(all.out).at(0));
  EXPECT_EQ(j["entry"], "BANKA:1");
  EXPECT_EQ(j["state"], "revoked");
  EXPECT_EQ(j["revocation"]["by"], "BANKA:2");
}

TEST_F(AdminCliTest, MemberRevokesOnlyOwnEntriesRegulatorAny) {
  Join("BANKA");
  Join("BANKB");
  Join("PBOC", "regulator");
  Report("BANKA", "qq", "20002");
  // Give BANKB and PBOC BANKA's feed.
  ASSERT_EQ(
      Admin({"--home", Home("BANKA"), "export", "--out", (dir_ / "a.bundle").string()}).exit_code,
      0);
  ASSERT_EQ(Admin({"--home", Home("BANKB"), "import", (dir_ / "a.bundle").string()}).exit_code, 0);
  ASSERT_EQ(Admin({"--home", Home("PBOC"), "import", (dir_ / "a.bundle").string()}).exit_code, 0);
  ExpectInvalid(Admin({"--home", Home("BANKB"), "revoke", "BANKA:1", "--reason", "appeal-upheld"}),
                "only its own");
  RunResult regulator =
      Admin({"--home", Home("PBOC"), "revoke", "BANKA:1", "--reason", "court-order"});
  ASSERT_EQ(regulator.exit_code, 0) << regulator.err;
  EXPECT_EQ(Find("PBOC", protocol::IdType::kQq, "20002")[0].state, store::EntryState::kRevoked);
  // The regulator's revocation travels to BANKA and applies there.
  ASSERT_EQ(Admin({"--home", Home("PBOC"), "export", "--out", (dir_ / "p.bundle").string(),
                   "--issuer", "PBOC"})
                .exit_code,
            0);
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "import", (dir_ / "p.bundle").string()}).exit_code, 0);
  std::vector<store::Listing> at_a = Find("BANKA", protocol::IdType::kQq, "20002");
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(at_a[0].state, store::EntryState::kRevoked);
  EXPECT_EQ(at_a[0].revocation->by.ToString(), "PBOC:1");
}

TEST_F(AdminCliTest, ExportImportAtSecondInstitutionIsIdempotent) {
  Join("BANKA");
  Join("BANKB");
  for (int i = 0; i < 20; ++i) Report("BANKA", "qq", std::to_string(300000 + i));
  const std::string bundle = (dir_ / "a.bundle").string();
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "export", "--out", bundle}).exit_code, 0);
  RunResult first = Admin({"--home", Home("BANKB"), "import", bundle});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("BANKA: 20 imported, 0 already held"), std::string::npos) << first.out;
  RunResult again = Admin({"--home", Home("BANKB"), "import", bundle});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("BANKA: 0 imported, 20 already held"), std::string::npos) << again.out;
  EXPECT_EQ(Find("BANKB", protocol::IdType::kQq, "300007").size(), 1u);
  // --from exports only the tail; importing it where the head is held adds nothing.
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "export", "--out", bundle, "--issuer", "BANKA",
                   "--from", "15"})
                .exit_code,
            0);
  RunResult tail = Admin({"--home", Home("BANKB"), "import", bundle});
  EXPECT_NE(tail.out.find("BANKA: 0 imported, 6 already held"), std::string::npos) << tail.out;
}

TEST_F(AdminCliTest, TamperedBundleImportsOnlyRecordsBeforeTheBadOne) {
  Join("BANKA");
  Join("BANKB");
  for (int i = 0; i < 6; ++i) Report("BANKA", "qq", std::to_string(400000 + i));
  const std::filesystem::path bundle = dir_ / "a.bundle";
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "export", "--out", bundle.string()}).exit_code, 0);
  // Change one byte inside the 4th record, found by its exact bytes in the file.
  std::string bytes = ReadAll(bundle);
  Result<node::Config> config = node::LoadConfig(Home("BANKA"));
  store::Options o;
  o.path = config->store;
  o.read_only = true;
  auto s = store::Store::Open(o);
  ASSERT_TRUE(s.ok());
  auto fourth = (*s)->Range("BANKA", 4, 1);
  ASSERT_TRUE(fourth.ok());
  size_t at = bytes.find((*fourth)[0].bytes);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 40] ^= 0x01;
  std::ofstream(bundle, std::ios::binary) << bytes;
  RunResult r = Admin({"--home", Home("BANKB"), "import", bundle.string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("BANKA: 3 imported"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("BANKA:4"), std::string::npos) << r.err;
  EXPECT_EQ(Find("BANKB", protocol::IdType::kQq, "400002").size(), 1u);
  EXPECT_TRUE(Find("BANKB", protocol::IdType::kQq, "400003").empty());
  EXPECT_TRUE(Find("BANKB", protocol::IdType::kQq, "400005").empty());
}

TEST_F(AdminCliTest, TruncatedForeignAndOtherConsortiumBundlesRefused) {
  Join("BANKA");
  Join("BANKB");
  Report("BANKA", "qq", "500001");
  const std::filesystem::path bundle = dir_ / "a.bundle";
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "export", "--out", bundle.string()}).exit_code, 0);
  std::string bytes = ReadAll(bundle);
  std::ofstream(dir_ / "truncated", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  ExpectInvalid(Admin({"--home", Home("BANKB"), "import", (dir_ / "truncated").string()}),
                "truncated");
  std::ofstream(dir_ / "foreign", std::ios::binary) << "PK\x03\x04 a zip file";
  ExpectInvalid(Admin({"--home", Home("BANKB"), "import", (dir_ / "foreign").string()}),
                "not a duanka bundle");
  ExpectInvalid(Admin({"--home", Home("BANKB"), "import", (dir_ / "empty-missing").string()}),
                "empty-missing");
  // A bundle of another consortium: a second CA and institution.
  testing::TempDir other;
  ASSERT_EQ(RunProgram({kAdmin, "pki", "init-ca", "--dir", (other / "ca").string(), "--consortium",
                        "ELSEWHERE"})
                .exit_code,
            0);
  ASSERT_EQ(RunProgram({kAdmin, "pepper", "new", "--out", (other / "p").string()}).exit_code, 0);
  ASSERT_EQ(RunProgram({kAdmin, "--home", (other / "X").string(), "pki", "issue", "--ca-dir",
                        (other / "ca").string(), "--institution", "BANKA"})
                .exit_code,
            0);
  ASSERT_EQ(
      RunProgram({kAdmin, "init", "--home", (other / "X").string(), "--institution", "BANKA",
                  "--ca", (other / "ca" / "ca.pem").string(), "--pepper", (other / "p").string()})
          .exit_code,
      0);
  ASSERT_EQ(RunProgram({kAdmin, "--home", (other / "X").string(), "report", "qq", "600001",
                        "--category", "sold"})
                .exit_code,
            0);
  ASSERT_EQ(RunProgram({kAdmin, "--home", (other / "X").string(), "export", "--out",
                        (other / "x.bundle").string()})
                .exit_code,
            0);
  ExpectInvalid(Admin({"--home", Home("BANKB"), "import", (other / "x.bundle").string()}),
                "consortium");
  EXPECT_TRUE(Find("BANKB", protocol::IdType::kQq, "600001").empty());
}

TEST_F(AdminCliTest, AuditLogRecordsActionsButNoRawIdentifier) {
  Join("BANKA");
  Report("BANKA", "phone", kRawPhone);
  Report("BANKA", "cn-id", "11010519491231002X");
  Admin({"--home", Home("BANKA"), "revoke", "BANKA:1", "--reason", "appeal-upheld"});
  std::string log = ReadAll(dir_ / "BANKA" / "audit.log");
  std::vector<std::string> lines = testing::Lines(log);
  ASSERT_GE(lines.size(), 4u);  // init, two reports, a revocation
  std::vector<std::string> actions;
  for (const std::string& line : lines) {
    nlohmann::json j = nlohmann::json::parse(line);
    actions.push_back(j["action"]);
    EXPECT_TRUE(j.contains("time") && j.contains("user") && j.contains("program"));
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"init", "report", "report", "revoke"}));
  for (const std::string& raw :
       {kRawPhone, kCanonicalPhone, std::string("13912345678"), std::string("11010519491231002X"),
        std::string("110105194912310")}) {
    EXPECT_EQ(log.find(raw), std::string::npos) << raw;
  }
  // Nor anywhere in the store's files.
  std::string store_bytes = ReadAll(dir_ / "BANKA" / "store" / "data.mdb");
  EXPECT_EQ(store_bytes.find(kCanonicalPhone), std::string::npos);
  EXPECT_EQ(store_bytes.find("11010519491231002X"), std::string::npos);
}

TEST_F(AdminCliTest, HelpOnEveryCommandHasAnExample) {
  for (std::vector<std::string> cmd :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"pki", "init-ca", "--help"},
                                             {"pki", "issue", "--help"},
                                             {"pepper", "new", "--help"},
                                             {"init", "--help"},
                                             {"report", "--help"},
                                             {"revoke", "--help"},
                                             {"list", "--help"},
                                             {"export", "--help"},
                                             {"import", "--help"}}) {
    RunResult r = Admin(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0];
    EXPECT_NE(r.out.find("Example: duanka-admin"), std::string::npos) << cmd[0] << "\n" << r.out;
  }
}

}  // namespace
}  // namespace duanka
