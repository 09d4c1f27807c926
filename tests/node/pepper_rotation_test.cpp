// Pepper rotation and secrets at rest (issue 12, sections 4 and 6), through the shipped binaries:
// duanka-admin pepper rotate / install / retire, lookups by `duanka` under two epochs, re-keying
// with report --batch, and every program refusing a key or pepper its group or others may read.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"
#include "node/common/config.h"
#include "tests/support/process.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

namespace fs = std::filesystem;
using testing::Lines;
using testing::ReadAll;
using testing::RunProgram;
using testing::RunResult;

const std::string kAdmin = DUANKA_ADMIN_BIN;
const std::string kLookup = DUANKA_BIN;
const std::string kDaemon = DUANKAD_BIN;

// A daemon that wrongly starts is killed after this; a refusal takes milliseconds.
constexpr int kDaemonRefusalTimeoutSeconds = 20;

constexpr int kExitInvalid = 2;
constexpr int kExitFailure = 3;

unsigned ModeOf(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

std::vector<uint32_t> EpochsOf(const fs::path& p) {
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(p);
  EXPECT_TRUE(pepper.ok()) << (pepper.ok() ? "" : pepper.error().message);
  return pepper.ok() ? pepper->epochs() : std::vector<uint32_t>{};
}

class PepperRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", Path("pepper.key")}).exit_code, 0);
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Home(const std::string& code) const { return (dir_ / code).string(); }
  fs::path HomePepper(const std::string& code) const { return dir_ / code / "pepper.key"; }

  RunResult Admin(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), kAdmin);
    return RunProgram(args, input);
  }
  RunResult Duanka(const std::string& code, std::vector<std::string> args) {
    args.insert(args.begin(), {kLookup, "--home", Home(code)});
    return RunProgram(args);
  }

  void Join(const std::string& code) {
    RunResult issue =
        Admin({"--home", Home(code), "pki", "issue", "--ca-dir", Ca(), "--institution", code});
    ASSERT_EQ(issue.exit_code, 0) << issue.err;
    RunResult init = Admin({"init", "--home", Home(code), "--institution", code, "--ca",
                            Ca() + "/ca.pem", "--pepper", Path("pepper.key")});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }

  // `duanka lookup TYPE VALUE --json --all`: the entries, every state.
  nlohmann::json LookupAll(const std::string& code, const std::string& type,
                           const std::string& value) {
    RunResult r = Duanka(code, {"lookup", type, value, "--json", "--all"});
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j.is_discarded() ? nlohmann::json::object() : j;
  }

  // The one-line refusal every command gives, on stderr, with `words` in it.
  static void ExpectOneLine(const RunResult& r, int exit_code, const std::string& prefix,
                            const std::string& words) {
    EXPECT_EQ(r.exit_code, exit_code) << r.out << r.err;
    EXPECT_TRUE(r.err.starts_with(prefix)) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  }

  testing::TempDir dir_;
};

// ---- pepper rotate ----------------------------------------------------------------------------

TEST_F(PepperRotationTest, RotateWritesAPrivateCopyWithOneMoreEpochAndLeavesTheOldAlone) {
  const std::string before = ReadAll(Path("pepper.key"));
  RunResult r = Admin({"pepper", "rotate", "--in", Path("pepper.key"), "--out", Path("p2.key")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("epochs 1, 2, current 2"), std::string::npos) << r.out;
  EXPECT_EQ(ModeOf(Path("p2.key")), 0600u);
  EXPECT_EQ(ReadAll(Path("pepper.key")), before);
  Result<crypto::Pepper> old = crypto::Pepper::Load(Path("pepper.key"));
  Result<crypto::Pepper> next = crypto::Pepper::Load(Path("p2.key"));
  ASSERT_TRUE(old.ok() && next.ok());
  EXPECT_EQ(next->epochs(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(next->NotExtending(*old), std::nullopt);
  // And again: epoch 3 on top of 1 and 2.
  ASSERT_EQ(Admin({"pepper", "rotate", "--in", Path("p2.key"), "--out", Path("p3.key")}).exit_code,
            0);
  EXPECT_EQ(EpochsOf(Path("p3.key")), (std::vector<uint32_t>{1, 2, 3}));
}

TEST_F(PepperRotationTest, RotateRefusesBadInputInOneLineAndWritesNothing) {
  const std::string out = Path("out.key");
  auto rotate = [&](const std::string& in) {
    return Admin({"pepper", "rotate", "--in", in, "--out", out});
  };
  // Unreadable.
  ExpectOneLine(rotate(Path("absent.key")), kExitFailure, "duanka-admin: ", "absent.key");
  EXPECT_FALSE(fs::exists(out));
  // Not a pepper file.
  ASSERT_TRUE(base::WriteFileAtomic(Path("junk.key"), "hello\n", 0600, false).ok());
  ExpectOneLine(rotate(Path("junk.key")), kExitInvalid, "duanka-admin: ", "pepper file line 1");
  EXPECT_FALSE(fs::exists(out));
  // Readable by its group.
  ASSERT_EQ(::chmod(Path("pepper.key").c_str(), 0640), 0);
  ExpectOneLine(rotate(Path("pepper.key")), kExitFailure,
                "duanka-admin: ", "run `chmod 600 " + Path("pepper.key") + "`");
  EXPECT_FALSE(fs::exists(out));
  ASSERT_EQ(::chmod(Path("pepper.key").c_str(), 0600), 0);
  // The last epoch a file can hold: no next one.
  ASSERT_TRUE(base::WriteFileAtomic(Path("last.key"),
                                    "duanka-pepper 1\nepoch 4294967295 " + std::string(64, 'a'),
                                    0600, false)
                  .ok());
  ExpectOneLine(rotate(Path("last.key")), kExitInvalid, "duanka-admin: ", "last");
  EXPECT_FALSE(fs::exists(out));
  // The output exists: never overwritten.
  ASSERT_TRUE(base::WriteFileAtomic(out, "keep me", 0600, false).ok());
  ExpectOneLine(rotate(Path("pepper.key")), kExitInvalid, "duanka-admin: ", "already exists");
  EXPECT_EQ(ReadAll(out), "keep me");
}

// ---- pepper install ---------------------------------------------------------------------------

TEST_F(PepperRotationTest, InstallTakesOnlyAFileThatFollowsTheInstalledOne) {
  Join("BANKA");
  const std::string installed = ReadAll(HomePepper("BANKA"));
  // Another consortium's pepper: epoch 1 under another key.
  ASSERT_EQ(Admin({"pepper", "new", "--out", Path("foreign.key")}).exit_code, 0);
  ExpectOneLine(Admin({"--home", Home("BANKA"), "pepper", "install", Path("foreign.key")}),
                kExitInvalid, "duanka-admin: ", "another key");
  EXPECT_EQ(ReadAll(HomePepper("BANKA")), installed);

  ASSERT_EQ(
      Admin({"pepper", "rotate", "--in", Path("pepper.key"), "--out", Path("p2.key")}).exit_code,
      0);
  RunResult r = Admin({"--home", Home("BANKA"), "pepper", "install", Path("p2.key")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restart duankad"), std::string::npos) << r.out;
  EXPECT_EQ(EpochsOf(HomePepper("BANKA")), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(ModeOf(HomePepper("BANKA")), 0600u);
  EXPECT_NE(ReadAll(dir_ / "BANKA" / "audit.log").find("\"pepper-install\""), std::string::npos);
  // Going back to epoch 1 alone is refused; the same file again changes nothing.
  ExpectOneLine(Admin({"--home", Home("BANKA"), "pepper", "install", Path("pepper.key")}),
                kExitInvalid, "duanka-admin: ", "older");
  EXPECT_EQ(EpochsOf(HomePepper("BANKA")), (std::vector<uint32_t>{1, 2}));
  RunResult again = Admin({"--home", Home("BANKA"), "pepper", "install", Path("p2.key")});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
}

// ---- Lookups under two epochs, re-keying, retiring ---------------------------------------------

TEST_F(PepperRotationTest, LookupsFindEntriesMadeUnderEitherEpoch) {
  Join("BANKA");
  RunResult first = Admin({"--home", Home("BANKA"), "report", "qq", "10001", "--category", "sold"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(
      Admin({"pepper", "rotate", "--in", Path("pepper.key"), "--out", Path("p2.key")}).exit_code,
      0);
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "pepper", "install", Path("p2.key")}).exit_code, 0);
  RunResult second =
      Admin({"--home", Home("BANKA"), "report", "qq", "10002", "--category", "sold"});
  ASSERT_EQ(second.exit_code, 0) << second.err;

  for (const auto& [value, epoch] : {std::pair{"10001", 1}, std::pair{"10002", 2}}) {
    nlohmann::json j = LookupAll("BANKA", "qq", value);
    EXPECT_EQ(j.value("listed", false), true) << value << " " << j.dump();
    ASSERT_EQ(j["entries"].size(), 1u) << j.dump();
    EXPECT_EQ(j["entries"][0]["pepper_epoch"], epoch) << j.dump();
  }
  // The batch lookup derives under both epochs too.
  RunResult batch = RunProgram(
      {kLookup, "--home", Home("BANKA"), "lookup", "--batch", "-", "--purpose", "periodic-review"},
      "qq,10001\nqq,10002\nqq,10003\n");
  EXPECT_EQ(batch.exit_code, 0) << batch.err;
  std::vector<std::string> lines = Lines(batch.out);
  ASSERT_GE(lines.size(), 3u) << batch.out;
  size_t listed = 0;
  for (const std::string& line : lines)
    listed +=
        line.find("not-listed") == std::string::npos && line.find("listed") != std::string::npos;
  EXPECT_EQ(listed, 2u) << batch.out;
}

TEST_F(PepperRotationTest, ReKeyingRepublishesUnderTheNewEpochKeepsWithdrawalsAndRetiresTheOld) {
  Join("BANKA");
  const std::string list = "qq,20001,sold\nqq,20002,sold\nqq,20003,sold\n";
  RunResult published = Admin({"--home", Home("BANKA"), "report", "--batch", "-"}, list);
  ASSERT_EQ(published.exit_code, 0) << published.err;
  EXPECT_EQ(published.out, "1,published,BANKA:1\n2,published,BANKA:2\n3,published,BANKA:3\n");
  // An appeal releases the third person.
  ASSERT_EQ(
      Admin({"--home", Home("BANKA"), "revoke", "BANKA:3", "--reason", "appeal-upheld"}).exit_code,
      0);

  // The pepper leaked: rotate, install.
  ASSERT_EQ(
      Admin({"pepper", "rotate", "--in", Path("pepper.key"), "--out", Path("p2.key")}).exit_code,
      0);
  ASSERT_EQ(Admin({"--home", Home("BANKA"), "pepper", "install", Path("p2.key")}).exit_code, 0);

  // Re-publishing the same case file: the active listings anew under epoch 2, not the withdrawn
  // one (its old entry is under epoch 1, where a current-epoch-only check would miss it).
  RunResult again = Admin({"--home", Home("BANKA"), "report", "--batch", "-"}, list);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "1,published,BANKA:5\n2,published,BANKA:6\n3,withdrawn,BANKA:3\n");
  // Idempotent: a third run publishes nothing.
  RunResult third = Admin({"--home", Home("BANKA"), "report", "--batch", "-"}, list);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(third.out, "1,already-listed,BANKA:5\n2,already-listed,BANKA:6\n3,withdrawn,BANKA:3\n");

  // Epoch 1 cannot go while entries use it.
  RunResult early = Admin({"--home", Home("BANKA"), "pepper", "retire", "--in", Path("p2.key"),
                           "--out", Path("p3.key"), "--epoch", "1"});
  ExpectOneLine(early, kExitInvalid, "duanka-admin: ", "2 active entries");
  EXPECT_FALSE(fs::exists(Path("p3.key")));

  // Revoke the old entries as superseded; the person stays listed through the new entries.
  for (const char* old : {"BANKA:1", "BANKA:2"}) {
    RunResult r = Admin({"--home", Home("BANKA"), "revoke", old, "--reason", "superseded"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  nlohmann::json j = LookupAll("BANKA", "qq", "20001");
  EXPECT_EQ(j.value("listed", false), true) << j.dump();
  size_t active = 0;
  for (const nlohmann::json& e : j["entries"]) {
    if (e["state"] == "active") {
      ++active;
      EXPECT_EQ(e["pepper_epoch"], 2) << j.dump();
    }
  }
  EXPECT_EQ(active, 1u) << j.dump();

  // Now epoch 1 retires; members install the smaller file; lookups still find the listing.
  RunResult retired = Admin({"--home", Home("BANKA"), "pepper", "retire", "--in", Path("p2.key"),
                             "--out", Path("p3.key"), "--epoch", "1"});
  ASSERT_EQ(retired.exit_code, 0) << retired.err;
  EXPECT_EQ(EpochsOf(Path("p3.key")), (std::vector<uint32_t>{2}));
  EXPECT_EQ(ModeOf(Path("p3.key")), 0600u);
  RunResult installed = Admin({"--home", Home("BANKA"), "pepper", "install", Path("p3.key")});
  ASSERT_EQ(installed.exit_code, 0) << installed.err;
  EXPECT_EQ(EpochsOf(HomePepper("BANKA")), (std::vector<uint32_t>{2}));
  EXPECT_EQ(LookupAll("BANKA", "qq", "20001").value("listed", false), true);
  EXPECT_EQ(LookupAll("BANKA", "qq", "20003").value("listed", true), false);
}

TEST_F(PepperRotationTest, RetireRefusesTheCurrentOrAnUnknownEpochAndAnExistingOutput) {
  Join("BANKA");
  ASSERT_EQ(
      Admin({"pepper", "rotate", "--in", Path("pepper.key"), "--out", Path("p2.key")}).exit_code,
      0);
  auto retire = [&](const std::string& epoch, const std::string& out) {
    return Admin({"--home", Home("BANKA"), "pepper", "retire", "--in", Path("p2.key"), "--out", out,
                  "--epoch", epoch});
  };
  ExpectOneLine(retire("2", Path("x.key")), kExitInvalid, "duanka-admin: ", "current");
  ExpectOneLine(retire("9", Path("x.key")), kExitInvalid, "duanka-admin: ", "no epoch 9");
  EXPECT_FALSE(fs::exists(Path("x.key")));
  ASSERT_TRUE(base::WriteFileAtomic(Path("x.key"), "keep me", 0600, false).ok());
  ExpectOneLine(retire("1", Path("x.key")), kExitInvalid, "duanka-admin: ", "already exists");
  EXPECT_EQ(ReadAll(Path("x.key")), "keep me");
  ExpectOneLine(
      Admin({"pepper", "retire", "--in", Path("p2.key"), "--out", Path("y.key"), "--epoch", "1"}),
      kExitInvalid, "duanka-admin: ", "--home is required");
  EXPECT_FALSE(fs::exists(Path("y.key")));
}

// ---- Secrets at rest: every program refuses a key or pepper open to its group or others -------

TEST_F(PepperRotationTest, DuankaAdminRefusesGroupReadableSigningKeyPepperAndCaKey) {
  Join("BANKA");
  const fs::path signing_key = dir_ / "BANKA" / "signing.key";
  ASSERT_EQ(::chmod(signing_key.c_str(), 0640), 0);
  RunResult r = Admin({"--home", Home("BANKA"), "report", "qq", "30001", "--category", "sold"});
  ExpectOneLine(r, kExitFailure, "duanka-admin: ", "run `chmod 600 " + signing_key.string() + "`");
  ASSERT_EQ(::chmod(signing_key.c_str(), 0600), 0);

  ASSERT_EQ(::chmod(HomePepper("BANKA").c_str(), 0644), 0);
  r = Admin({"--home", Home("BANKA"), "report", "qq", "30001", "--category", "sold"});
  ExpectOneLine(r, kExitFailure,
                "duanka-admin: ", "run `chmod 600 " + HomePepper("BANKA").string() + "`");
  r = Admin({"--home", Home("BANKA"), "report", "--batch", "-"}, "qq,30001,sold\n");
  ExpectOneLine(r, kExitFailure,
                "duanka-admin: ", "run `chmod 600 " + HomePepper("BANKA").string() + "`");
  ASSERT_EQ(::chmod(HomePepper("BANKA").c_str(), 0600), 0);
  EXPECT_EQ(
      Admin({"--home", Home("BANKA"), "report", "qq", "30001", "--category", "sold"}).exit_code, 0);

  // The CA key, when the operator issues certificates; and a pepper handed over too open.
  const fs::path ca_key = dir_ / "ca" / "ca.key";
  ASSERT_EQ(::chmod(ca_key.c_str(), 0604), 0);
  r = Admin({"--home", Home("BANKB"), "pki", "issue", "--ca-dir", Ca(), "--institution", "BANKB"});
  ExpectOneLine(r, kExitFailure, "duanka-admin: ", "run `chmod 600 " + ca_key.string() + "`");
  ASSERT_EQ(::chmod(Path("pepper.key").c_str(), 0640), 0);
  r = Admin({"init", "--home", Home("BANKC"), "--institution", "BANKC", "--ca", Ca() + "/ca.pem",
             "--pepper", Path("pepper.key")});
  ExpectOneLine(r, kExitFailure, "duanka-admin: ", "run `chmod 600 " + Path("pepper.key") + "`");
  EXPECT_FALSE(fs::exists(dir_ / "BANKC" / "duanka.toml"));
}

TEST_F(PepperRotationTest, DuankaRefusesAGroupReadablePepper) {
  Join("BANKA");
  ASSERT_EQ(::chmod(HomePepper("BANKA").c_str(), 0640), 0);
  RunResult r = Duanka("BANKA", {"lookup", "qq", "10001"});
  ExpectOneLine(r, kExitFailure,
                "duanka: ", "run `chmod 600 " + HomePepper("BANKA").string() + "`");
  ASSERT_EQ(::chmod(HomePepper("BANKA").c_str(), 0600), 0);
  EXPECT_EQ(Duanka("BANKA", {"lookup", "qq", "10001"}).exit_code, 1);  // not listed
}

TEST_F(PepperRotationTest, DuankadRefusesToStartWithAGroupReadableTlsKeyOrPepper) {
  Join("BANKA");
  for (const fs::path& secret : {dir_ / "BANKA" / "tls.key", HomePepper("BANKA")}) {
    ASSERT_EQ(::chmod(secret.c_str(), 0640), 0);
    RunResult r = RunProgram({kDaemon, "--home", Home("BANKA")}, "", kDaemonRefusalTimeoutSeconds);
    EXPECT_FALSE(r.timed_out) << secret << " was not refused: the daemon ran";
    EXPECT_EQ(r.exit_code, kExitFailure) << r.err;
    EXPECT_NE(r.err.find("run `chmod 600 " + secret.string() + "`"), std::string::npos) << r.err;
    ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  }
}

}  // namespace
}  // namespace duanka
