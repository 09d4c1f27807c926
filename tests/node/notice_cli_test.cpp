// duanka-admin withdraw-key and reaffirm, the real binary, on temporary HOMEs of a test
// consortium: a refused notice leaves no --out file, and reaffirm re-signs each suspended
// subject and category once, never again after the new entry is revoked.
#include <gtest/gtest.h>

#include <ctime>

#include "crypto/pki.h"
#include "node/common/audit.h"
#include "node/common/config.h"
#include "protocol/notice.h"
#include "store/store.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

namespace fs = std::filesystem;
using testing::RunProgram;
using testing::RunResult;

const std::string kAdmin = DUANKA_ADMIN_BIN;
// A notice dated this far ahead is still within the receiver's clock skew (300 s).
constexpr int64_t kAheadSeconds = 120;

int64_t Now() {
  return static_cast<int64_t>(std::time(nullptr));
}

class NoticeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Admin({"pki", "init-ca", "--dir", Ca(), "--consortium", "TESTNET"}).exit_code, 0);
    ASSERT_EQ(Admin({"pepper", "new", "--out", Pepper()}).exit_code, 0);
  }

  std::string Ca() const { return (dir_ / "ca").string(); }
  std::string Pepper() const { return (dir_ / "pepper.key").string(); }
  std::string Home(const std::string& code) const { return (dir_ / code).string(); }
  std::string File(const std::string& name) const { return (dir_ / name).string(); }

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

  std::string Report(const std::string& code, const std::string& qq) {
    RunResult r = Admin({"--home", Home(code), "report", "qq", qq, "--category", "sold"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  }

  // `from`'s feed and certificate, imported at `to`.
  void Carry(const std::string& from, const std::string& to) {
    const std::string bundle = File(from + ".bundle");
    fs::remove(bundle);
    ASSERT_EQ(Admin({"--home", Home(from), "export", "--out", bundle}).exit_code, 0);
    RunResult imported = Admin({"--home", Home(to), "import", bundle});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }

  std::string SigningSerial(const std::string& code) {
    Result<std::vector<crypto::IssuedCertificate>> issued = crypto::IssuedCertificates(Ca());
    EXPECT_TRUE(issued.ok());
    std::string serial;  // the last issued, after a re-issue
    for (const auto& c : *issued) {
      if (c.institution == code && c.kind == "signing") serial = c.serial_hex;
    }
    EXPECT_FALSE(serial.empty()) << code;
    return serial;
  }

  std::unique_ptr<store::Store> OpenStore(const std::string& code) {
    Result<node::Config> config = node::LoadConfig(Home(code));
    EXPECT_TRUE(config.ok());
    store::Options o;
    o.path = config->store;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? std::move(*s) : nullptr;
  }

  // The key id of `code`'s current signing certificate.
  crypto::Hash256 SigningKeyId(const std::string& code) {
    Result<std::string> pem = base::ReadFile(dir_ / code / "signing.pem", 1 << 16);
    EXPECT_TRUE(pem.ok());
    Result<std::vector<std::string>> der = crypto::PemCertificatesToDer(*pem);
    EXPECT_TRUE(der.ok() && !der->empty());
    Result<crypto::CertificateInfo> info = crypto::InspectCertificate(der->front());
    EXPECT_TRUE(info.ok());
    return protocol::KeyId(info->public_key);
  }

  testing::TempDir dir_;
};

TEST_F(NoticeCliTest, ARefusedWithdrawalLeavesNoOutFile) {
  Join("PBOC", "regulator");
  Join("BANKA");
  Join("BANKB");
  Report("BANKA", "20001");
  Report("BANKB", "20002");
  Carry("BANKA", "PBOC");
  Carry("BANKB", "PBOC");
  const int64_t now = Now();

  // The CA's withdrawal of BANKA's key, dated after any the regulator signs now, held at PBOC.
  Result<crypto::SigningKey> ca_key = crypto::LoadPrivateKey(dir_ / "ca" / "ca.key");
  ASSERT_TRUE(ca_key.ok()) << ca_key.error().message;
  protocol::Notice newer{"TESTNET", now + kAheadSeconds, "",
                         protocol::KeyWithdrawal{"BANKA", SigningSerial("BANKA"), now - 3600}};
  Result<protocol::SignedNotice> signed_newer = protocol::SignNotice(newer, *ca_key);
  ASSERT_TRUE(signed_newer.ok()) << signed_newer.error().message;
  ASSERT_TRUE(base::WriteFileAtomic(File("newer.notice"), protocol::EncodeNoticeFile(*signed_newer),
                                    0644, false)
                  .ok());
  RunResult held = Admin({"--home", Home("PBOC"), "import", File("newer.notice")});
  ASSERT_EQ(held.exit_code, 0) << held.err;

  RunResult refused = Admin({"--home", Home("PBOC"), "withdraw-key", "--institution", "BANKA",
                             "--serial", SigningSerial("BANKA"), "--since", node::IsoTime(now - 60),
                             "--out", File("a.notice")});
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("not newer"), std::string::npos) << refused.err;
  EXPECT_EQ(testing::Lines(refused.err).size(), 1u) << refused.err;
  EXPECT_FALSE(fs::exists(File("a.notice")));

  // One admitted is written; an existing --out is refused before anything is signed.
  RunResult admitted = Admin({"--home", Home("PBOC"), "withdraw-key", "--institution", "BANKB",
                              "--serial", SigningSerial("BANKB"), "--since",
                              node::IsoTime(now - 60), "--out", File("b.notice")});
  ASSERT_EQ(admitted.exit_code, 0) << admitted.err;
  Result<std::string> written = base::ReadFile(File("b.notice"), protocol::kMaxNoticeBytes);
  ASSERT_TRUE(written.ok());
  Result<std::pair<protocol::SignedNotice, protocol::Notice>> decoded =
      protocol::DecodeNoticeFile(*written);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->second.withdrawal()->issuer, "BANKB");
  RunResult again = Admin({"--home", Home("PBOC"), "withdraw-key", "--institution", "BANKB",
                           "--serial", SigningSerial("BANKB"), "--since", node::IsoTime(now - 30),
                           "--out", File("b.notice")});
  EXPECT_EQ(again.exit_code, 2) << again.err;
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_EQ(base::ReadFile(File("b.notice"), protocol::kMaxNoticeBytes).value(), *written);
}

TEST_F(NoticeCliTest, ReaffirmSignsEachSubjectAndCategoryOnceAndNeverAgain) {
  Join("BANKA");
  const int64_t since = Now() - 5;
  ASSERT_EQ(Report("BANKA", "51001"), "BANKA:1");
  ASSERT_EQ(Report("BANKA", "51001"), "BANKA:2");  // the same subject and category again
  ASSERT_EQ(Report("BANKA", "51002"), "BANKA:3");
  {
    std::unique_ptr<store::Store> s = OpenStore("BANKA");
    ASSERT_TRUE(s);
    Result<uint64_t> suspended = s->WithdrawKey(SigningKeyId("BANKA"), "BANKA", since, since);
    ASSERT_TRUE(suspended.ok()) << suspended.error().message;
    ASSERT_EQ(*suspended, 3u);
  }
  RunResult reissued = Admin({"--home", Home("BANKA"), "pki", "issue", "--ca-dir", Ca(),
                              "--institution", "BANKA", "--force"});
  ASSERT_EQ(reissued.exit_code, 0) << reissued.err;

  const std::vector<std::string> reaffirm = {"--home", Home("BANKA"), "reaffirm", "--since",
                                             node::IsoTime(since)};
  RunResult first = Admin(reaffirm);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // The latest of the two about 51001, and 51002's.
  EXPECT_EQ(first.out, "BANKA:2,BANKA:4\nBANKA:3,BANKA:5\n");

  RunResult second = Admin(reaffirm);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, "");

  // The re-affirmed entry revoked: its suspended originals stay as they are.
  RunResult revoked =
      Admin({"--home", Home("BANKA"), "revoke", "BANKA:4", "--reason", "issued-in-error"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  RunResult dry =
      Admin({"--home", Home("BANKA"), "reaffirm", "--since", node::IsoTime(since), "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out, "");
  RunResult third = Admin(reaffirm);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(third.out, "");
  std::unique_ptr<store::Store> s = OpenStore("BANKA");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->GetHead("BANKA").value()->seq, 6u);  // 3 reports, 2 re-affirmed, 1 revocation
}

}  // namespace
}  // namespace duanka
