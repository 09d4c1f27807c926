// duanka-admin evidence export / verify, the real binary, on temporary HOMEs of a test consortium.
// The fork is a real one: a second HOME holding BANKA's signing key signs another BANKA:1, and
// BANKA imports it.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/pki.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "protocol/evidence_file.h"
#include "store/store.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::RunProgram;
using testing::RunResult;

const std::string kAdmin = DUANKA_ADMIN_BIN;

void WriteAll(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

class EvidenceCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", Pepper()}).exit_code, 0);
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string CaPem() const { return (dir_ / "ca" / "ca.pem").string(); }
  std::string Pepper() const { return (dir_ / "pepper.key").string(); }
  std::string Home(const std::string& name) const { return (dir_ / name).string(); }
  std::string File(const std::string& name) const { return (dir_ / name).string(); }

  RunResult Admin(std::vector<std::string> args) {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args);
  }

  void Join(const std::string& code) {
    RunResult issue =
        Admin({"--home", Home(code), "pki", "issue", "--ca-dir", Ca(), "--institution", code});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", Home(code), "--institution", code, "--ca", CaPem(),
                            "--pepper", Pepper()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  void Report(const std::string& home, const std::string& qq) {
    RunResult r = Admin({"--home", Home(home), "report", "qq", qq, "--category", "sold"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // BANKA signs BANKA:1 at home and, with the same key in TWIN, another BANKA:1; BANKA imports
  // TWIN's and so holds evidence of its own fork.
  // `later` more records of BANKA's own after its BANKA:1, on the branch of the held record.
  void MakeFork(int later = 0) {
    Join("BANKA");
    fs::create_directory(Home("TWIN"));
    fs::permissions(Home("TWIN"), fs::perms::owner_all);
    for (const char* f : {"signing.key", "signing.pem", "tls.key", "tls.pem"}) {
      fs::copy_file(dir_ / "BANKA" / f, dir_ / "TWIN" / f);
    }
    RunResult init = Admin({"init", "--home", Home("TWIN"), "--institution", "BANKA", "--ca",
                            CaPem(), "--pepper", Pepper()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    Report("BANKA", "111111");
    for (int i = 0; i < later; ++i) Report("BANKA", std::to_string(555555 + i));
    Report("TWIN", "222222");
    RunResult exported = Admin({"--home", Home("TWIN"), "export", "--out", File("twin.bundle")});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    RunResult imported = Admin({"--home", Home("BANKA"), "import", File("twin.bundle")});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    ASSERT_NE(imported.out.find("1 FORKS"), std::string::npos) << imported.out;
  }

  std::unique_ptr<store::Store> OpenStore(const std::string& home) {
    Result<node::Config> config = node::LoadConfig(Home(home));
    EXPECT_TRUE(config.ok());
    store::Options o;
    o.path = config->store;
    o.read_only = true;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(*s) : nullptr;
  }

  store::Evidence HeldEvidence() {
    auto s = OpenStore("BANKA");
    Result<std::vector<store::Evidence>> all = s->AllEvidence();
    EXPECT_TRUE(all.ok());
    EXPECT_EQ(all->size(), 1u);
    return all->at(0);
  }

  // The serial of BANKA's signing certificate, as the CA recorded it.
  std::string SigningSerial() {
    Result<std::vector<crypto::IssuedCertificate>> issued = crypto::IssuedCertificates(Ca());
    EXPECT_TRUE(issued.ok());
    for (const auto& c : *issued) {
      if (c.institution == "BANKA" && c.kind == "signing") return c.serial_hex;
    }
    ADD_FAILURE() << "no signing certificate of BANKA in issued.txt";
    return "";
  }

  // Writes an evidence file of these pairs and losing records with BANKA's certificates.
  std::string Craft(const std::string& name, std::vector<protocol::EvidencePair> pairs,
                    std::vector<protocol::SignedRecord> losing = {}) {
    protocol::EvidenceFile f;
    f.consortium = "TESTNET";
    f.certificates = *OpenStore("BANKA")->Certificates();
    f.pairs = std::move(pairs);
    f.losing = std::move(losing);
    Result<std::string> bytes = protocol::EncodeEvidenceFile(f);
    EXPECT_TRUE(bytes.ok());
    WriteAll(File(name), *bytes);
    return File(name);
  }

  // Copies an evidence file under another consortium's name.
  std::string Relabel(const std::string& from, const std::string& name,
                      const std::string& consortium) {
    Result<protocol::EvidenceFile> f = protocol::DecodeEvidenceFile(ReadAll(from));
    EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
    f->consortium = consortium;
    Result<std::string> bytes = protocol::EncodeEvidenceFile(*f);
    EXPECT_TRUE(bytes.ok());
    WriteAll(File(name), *bytes);
    return File(name);
  }

  void ExpectOneLine(const RunResult& r, int code, const std::vector<std::string>& words) {
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_TRUE(r.err.starts_with("duanka-admin: ")) << r.err;
    EXPECT_EQ(testing::Lines(r.err).size(), 1u) << r.err;
    for (const std::string& w : words) EXPECT_NE(r.err.find(w), std::string::npos) << w << r.err;
  }

  testing::TempDir dir_;
};

TEST_F(EvidenceCliTest, ExportedForkVerifiesOfflineWithTheConsortiumCa) {
  MakeFork();
  RunResult exported = Admin({"--home", Home("BANKA"), "evidence", "export", File("fork.ev")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(
      exported.out.find(
          "exported 1 evidence pair(s) of BANKA, 0 losing-branch record(s) and 1 certificate(s)"),
      std::string::npos)
      << exported.out;
  EXPECT_TRUE(ReadAll(File("fork.ev")).starts_with(protocol::kEvidenceFileMagic));

  const store::Evidence e = HeldEvidence();
  const std::string expected =
      "pair 1: fork of BANKA at seq 1: records " + protocol::RecordHash(e.held).Hex() + " and " +
      protocol::RecordHash(e.other).Hex() + ", both signed by BANKA's key (certificate serial " +
      SigningSerial() + ")";
  // Anyone with ca.pem alone, with no HOME at all.
  RunResult verified =
      Admin({"--home", Home("NOWHERE"), "evidence", "verify", File("fork.ev"), "--ca", CaPem()});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_EQ(testing::Lines(verified.out), std::vector<std::string>{expected}) << verified.out;
  EXPECT_TRUE(verified.err.empty()) << verified.err;

  // A node's own CA when --ca is left out.
  RunResult from_home = Admin({"--home", Home("BANKA"), "evidence", "verify", File("fork.ev")});
  EXPECT_EQ(from_home.exit_code, 0) << from_home.err;
  EXPECT_EQ(from_home.out, verified.out);

  RunResult json = Admin({"evidence", "verify", File("fork.ev"), "--ca", CaPem(), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["proven"], true);
  EXPECT_EQ(j["consortium"], "TESTNET");
  ASSERT_EQ(j["pairs"].size(), 1u);
  EXPECT_EQ(j["pairs"][0]["issuer"], "BANKA");
  EXPECT_EQ(j["pairs"][0]["seq"], 1);
  EXPECT_EQ(j["pairs"][0]["records"][0], protocol::RecordHash(e.held).Hex());
  EXPECT_EQ(j["pairs"][0]["records"][1], protocol::RecordHash(e.other).Hex());
  EXPECT_EQ(j["pairs"][0]["certificate_serials"][0], SigningSerial());

  // --issuer: the fork is BANKA's.
  RunResult only_a =
      Admin({"--home", Home("BANKA"), "evidence", "export", File("a.ev"), "--issuer", "BANKA"});
  EXPECT_EQ(only_a.exit_code, 0) << only_a.err;
  EXPECT_EQ(ReadAll(File("a.ev")).size(), ReadAll(File("fork.ev")).size());

  // The export is in the audit log.
  std::vector<std::string> audit = testing::Lines(ReadAll(dir_ / "BANKA" / "audit.log"));
  ASSERT_FALSE(audit.empty());
  nlohmann::json last = nlohmann::json::parse(audit.back());
  EXPECT_EQ(last["action"], "evidence-export");
  EXPECT_EQ(last["pairs"], 1);
}

TEST_F(EvidenceCliTest, AnotherConsortiumsCaRefusesNamingTheCertificate) {
  MakeFork();
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "evidence", "export", File("fork.ev")}).exit_code, 0);
  testing::TempDir other;
  ASSERT_EQ(RunProgram({kAdmin, "pki", "init-ca", "--dir", (other / "ca").string(), "--consortium",
                        "ELSEWHERE"})
                .exit_code,
            0);
  // Named as of ELSEWHERE, so that the certificates are what the other CA refuses.
  const std::string relabelled = Relabel(File("fork.ev"), "elsewhere.ev", "ELSEWHERE");
  for (bool json : {false, true}) {
    std::vector<std::string> args = {"evidence", "verify", relabelled, "--ca",
                                     (other / "ca" / "ca.pem").string()};
    if (json) args.push_back("--json");
    RunResult r = Admin(args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    if (json) {
      nlohmann::json j = nlohmann::json::parse(r.out);
      EXPECT_EQ(j["proven"], false);
      EXPECT_EQ(j["pairs"][0]["proven"], false);
      ASSERT_EQ(j["refused_certificates"].size(), 1u);
      EXPECT_NE(j["refused_certificates"][0].get<std::string>().find(
                    "certificate CN=BANKA serial=" + SigningSerial()),
                std::string::npos)
          << j;
      continue;
    }
    EXPECT_TRUE(r.out.empty()) << r.out;
    ExpectOneLine(
        r, 2,
        {"elsewhere.ev: pair 1 (BANKA at seq 1), record a:", "no verified consortium certificate",
         "certificate CN=BANKA serial=" + SigningSerial()});
  }
}

TEST_F(EvidenceCliTest, AFileOfAnotherConsortiumIsRefusedNamingBoth) {
  MakeFork();
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "evidence", "export", File("fork.ev")}).exit_code, 0);
  // Its certificates chain to this CA; only the consortium it claims differs.
  const std::string claimed = Relabel(File("fork.ev"), "claimed.ev", "ELSEWHERE");
  RunResult r = Admin({"evidence", "verify", claimed, "--ca", CaPem()});
  EXPECT_TRUE(r.out.empty()) << r.out;
  ExpectOneLine(r, 2, {"claimed.ev: ", "consortium ELSEWHERE", "consortium TESTNET"});
  RunResult json = Admin({"evidence", "verify", claimed, "--ca", CaPem(), "--json"});
  EXPECT_EQ(json.exit_code, 2) << json.err;
  nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["proven"], false);
  EXPECT_EQ(j["consortium"], "ELSEWHERE");
  EXPECT_NE(j["consortium_failure"].get<std::string>().find("consortium TESTNET"),
            std::string::npos)
      << j;
  // The same file under its own name still verifies.
  EXPECT_EQ(Admin({"evidence", "verify", File("fork.ev"), "--ca", CaPem()}).exit_code, 0);
  // And against another consortium's CA, the names are what is reported first.
  testing::TempDir other;
  ASSERT_EQ(RunProgram({kAdmin, "pki", "init-ca", "--dir", (other / "ca").string(), "--consortium",
                        "ELSEWHERE"})
                .exit_code,
            0);
  ExpectOneLine(
      Admin({"evidence", "verify", File("fork.ev"), "--ca", (other / "ca" / "ca.pem").string()}), 2,
      {"fork.ev: ", "consortium TESTNET", "consortium ELSEWHERE"});
}

TEST_F(EvidenceCliTest, ACrlThatRevokesTheSigningCertificateIsHonoured) {
  MakeFork();
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "evidence", "export", File("fork.ev")}).exit_code, 0);
  RunResult revoked = Admin({"pki", "revoke", "--ca-dir", Ca(), "--serial", SigningSerial(),
                             "--reason", "key-compromise"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  const std::string crl = (dir_ / "ca" / "crl.pem").string();
  RunResult r = Admin({"evidence", "verify", File("fork.ev"), "--ca", CaPem(), "--crl", crl});
  ExpectOneLine(r, 2,
                {"pair 1 (BANKA at seq 1), record a:", "serial=" + SigningSerial(), "revoked"});
  EXPECT_EQ(Admin({"evidence", "verify", File("fork.ev"), "--ca", CaPem()}).exit_code, 0);
  ExpectOneLine(
      Admin({"--home", Home("BANKA"), "evidence", "verify", File("fork.ev"), "--crl", crl}), 2,
      {"--crl goes with --ca"});
}

TEST_F(EvidenceCliTest, OneFlippedSignatureByteFailsNamingThePair) {
  MakeFork();
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "evidence", "export", File("fork.ev")}).exit_code, 0);
  std::string bytes = ReadAll(File("fork.ev"));
  const store::Evidence e = HeldEvidence();
  size_t at = bytes.find(e.other.signature);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] ^= 0x01;
  WriteAll(File("flipped.ev"), bytes);
  RunResult r = Admin({"evidence", "verify", File("flipped.ev"), "--ca", CaPem()});
  EXPECT_TRUE(r.out.empty()) << r.out;
  ExpectOneLine(r, 2, {"flipped.ev: pair 1 (BANKA at seq 1), record b: signature does not verify"});
}

TEST_F(EvidenceCliTest, PairsThatProveNoForkFailEachOnItsOwnLine) {
  MakeFork();
  Report("TWIN", "333333");  // TWIN's BANKA:2, a validly signed record of another seq
  const store::Evidence e = HeldEvidence();
  Result<std::vector<protocol::SignedRecord>> twin_two = OpenStore("TWIN")->Range("BANKA", 2, 1);
  ASSERT_TRUE(twin_two.ok());
  ASSERT_EQ(twin_two->size(), 1u);

  RunResult same =
      Admin({"evidence", "verify", Craft("same.ev", {{e.held, e.held}}), "--ca", CaPem()});
  ExpectOneLine(same, 2, {"pair 1 (BANKA at seq 1): both are the same record"});

  RunResult seqs =
      Admin({"evidence", "verify", Craft("seqs.ev", {{e.held, (*twin_two)[0]}}), "--ca", CaPem()});
  ExpectOneLine(seqs, 2, {"pair 1: records BANKA:1 and BANKA:2 are not of one issuer and seq"});

  // One good pair and one bad: the good one is still shown, the bad one named, exit 2.
  RunResult mixed =
      Admin({"evidence", "verify", Craft("mixed.ev", {{e.held, e.other}, {e.other, e.other}}),
             "--ca", CaPem()});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_TRUE(mixed.out.starts_with("pair 1: fork of BANKA at seq 1")) << mixed.out;
  ExpectOneLine(mixed, 2, {"pair 2 (BANKA at seq 1): both are the same record"});

  // Losing-branch records are checked too.
  RunResult losing =
      Admin({"evidence", "verify", Craft("losing.ev", {{e.held, e.other}}, {(*twin_two)[0]}),
             "--ca", CaPem()});
  EXPECT_EQ(losing.exit_code, 0) << losing.err;
  EXPECT_NE(losing.out.find("1 record(s) of a losing branch, each validly signed"),
            std::string::npos)
      << losing.out;
  protocol::SignedRecord tampered = (*twin_two)[0];
  tampered.signature[0] ^= 0x01;
  RunResult bad_losing =
      Admin({"evidence", "verify", Craft("bad-losing.ev", {{e.held, e.other}}, {tampered}), "--ca",
             CaPem()});
  ExpectOneLine(bad_losing, 2, {"losing record 1 (BANKA:2): signature does not verify"});

  RunResult empty = Admin({"evidence", "verify", Craft("empty.ev", {}), "--ca", CaPem()});
  ExpectOneLine(empty, 2, {"holds no evidence pair"});
}

TEST_F(EvidenceCliTest, ALosingBranchSetAsideByAResolutionTravelsAndVerifies) {
  MakeFork(/*later=*/1);  // BANKA:1 and BANKA:2 at BANKA; TWIN's BANKA:1 is another
  const store::Evidence e = HeldEvidence();
  {
    Result<node::Config> config = node::LoadConfig(Home("BANKA"));
    ASSERT_TRUE(config.ok());
    store::Options o;
    o.path = config->store;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    ASSERT_TRUE(s.ok());
    // The regulator's resolution keeps TWIN's branch: BANKA's own seq 1 and 2 are set aside.
    Result<store::ResolveOutcome> resolved =
        (*s)->ResolveFork("BANKA", 1, protocol::RecordHash(e.other), node::SystemNow());
    ASSERT_TRUE(resolved.ok()) << resolved.error().message;
    ASSERT_EQ(resolved->set_aside, 2u);
  }
  RunResult exported = Admin({"--home", Home("BANKA"), "evidence", "export", File("fork.ev")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("2 losing-branch record(s)"), std::string::npos) << exported.out;
  Result<std::string> bytes = base::ReadFile(File("fork.ev"), protocol::kMaxEvidenceFileBytes);
  ASSERT_TRUE(bytes.ok());
  Result<protocol::EvidenceFile> file = protocol::DecodeEvidenceFile(*bytes);
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_EQ(file->losing.size(), 2u);
  EXPECT_EQ(protocol::RecordHash(file->losing[0]), protocol::RecordHash(e.held));
  RunResult verified = Admin({"evidence", "verify", File("fork.ev"), "--ca", CaPem()});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_NE(verified.out.find("2 record(s) of a losing branch, each validly signed"),
            std::string::npos)
      << verified.out;
}

TEST_F(EvidenceCliTest, ExportWithNoEvidenceIsItsOwnExitCode) {
  Join("BANKB");
  Report("BANKB", "444444");
  RunResult none = Admin({"--home", Home("BANKB"), "evidence", "export", File("none.ev")});
  ExpectOneLine(none, 1, {"no evidence held"});
  EXPECT_FALSE(fs::exists(File("none.ev")));

  MakeFork();
  RunResult other_issuer =
      Admin({"--home", Home("BANKA"), "evidence", "export", File("none.ev"), "--issuer", "BANKB"});
  ExpectOneLine(other_issuer, 1, {"no evidence held of BANKB"});
  EXPECT_FALSE(fs::exists(File("none.ev")));
}

TEST_F(EvidenceCliTest, ExistingFileIsReplacedOnlyWithForce) {
  MakeFork();
  WriteAll(File("kept"), "an operator's file\n");
  RunResult refused = Admin({"--home", Home("BANKA"), "evidence", "export", File("kept")});
  ExpectOneLine(refused, 2, {"kept already exists", "--force"});
  EXPECT_EQ(ReadAll(File("kept")), "an operator's file\n");
  RunResult forced =
      Admin({"--home", Home("BANKA"), "evidence", "export", File("kept"), "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(Admin({"evidence", "verify", File("kept"), "--ca", CaPem()}).exit_code, 0);
}

TEST_F(EvidenceCliTest, EveryDiskAndInputErrorIsOneLine) {
  MakeFork();
  const std::string h = Home("BANKA");
  // Unwritable destinations (the tests may run as root, so no permission bits): under a regular
  // file, in a directory that does not exist, and a directory in FILE's place.
  WriteAll(File("plain"), "x");
  ExpectOneLine(Admin({"--home", h, "evidence", "export", File("plain") + "/fork.ev"}), 3,
                {"fork.ev"});
  ExpectOneLine(Admin({"--home", h, "evidence", "export", File("no-such-dir") + "/fork.ev"}), 3,
                {"no-such-dir"});
  fs::create_directory(File("a-dir"));
  ExpectOneLine(Admin({"--home", h, "evidence", "export", File("a-dir"), "--force"}), 3, {"a-dir"});
  // An audit log that cannot be appended to fails the export.
  fs::rename(dir_ / "BANKA" / "audit.log", dir_ / "audit.log.moved");
  fs::create_directory(dir_ / "BANKA" / "audit.log");
  ExpectOneLine(Admin({"--home", h, "evidence", "export", File("audit-fails.ev")}), 3, {"audit"});
  // A HOME that does not exist.
  ExpectOneLine(Admin({"--home", Home("NOWHERE"), "evidence", "export", File("x.ev")}), 3,
                {"duanka.toml"});
  ExpectOneLine(Admin({"--home", h, "evidence", "export", File("x.ev"), "--issuer", "bank a"}), 2,
                {"--issuer"});

  // verify: missing, unreadable, foreign and truncated files; a missing or bad CA; no CA at all.
  ExpectOneLine(Admin({"evidence", "verify", File("missing.ev"), "--ca", CaPem()}), 2,
                {"missing.ev"});
  ExpectOneLine(Admin({"evidence", "verify", File("a-dir"), "--ca", CaPem()}), 2, {"a-dir"});
  WriteAll(File("foreign.ev"), "PK\x03\x04 a zip file");
  ExpectOneLine(Admin({"evidence", "verify", File("foreign.ev"), "--ca", CaPem()}), 2,
                {"foreign.ev", "not a duanka evidence file"});
  ASSERT_EQ(Admin({"--home", h, "evidence", "export", File("fork.ev"), "--force"}).exit_code, 3)
      << "the audit log is still a directory";
  fs::remove(dir_ / "BANKA" / "audit.log");
  fs::rename(dir_ / "audit.log.moved", dir_ / "BANKA" / "audit.log");
  ASSERT_EQ(Admin({"--home", h, "evidence", "export", File("fork.ev"), "--force"}).exit_code, 0);
  const std::string whole = ReadAll(File("fork.ev"));
  WriteAll(File("truncated.ev"), whole.substr(0, whole.size() / 2));
  ExpectOneLine(Admin({"evidence", "verify", File("truncated.ev"), "--ca", CaPem()}), 2,
                {"truncated.ev", "truncated"});
  ExpectOneLine(Admin({"evidence", "verify", File("fork.ev"), "--ca", File("missing-ca.pem")}), 2,
                {"missing-ca.pem"});
  ExpectOneLine(Admin({"evidence", "verify", File("fork.ev"), "--ca", File("plain")}), 2,
                {"plain"});
  ExpectOneLine(Admin({"--home", Home("NOWHERE"), "evidence", "verify", File("fork.ev")}), 2,
                {"--ca CA_PEM is required"});
}

TEST_F(EvidenceCliTest, HelpHasExamples) {
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{
           {"evidence", "export", "--help"}, {"evidence", "verify", "--help"}}) {
    RunResult r = Admin(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[1];
    EXPECT_NE(r.out.find("Example: duanka-admin evidence " + cmd[1]), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace duanka
