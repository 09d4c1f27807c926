// A CRL put in force while a node runs (TrustStore::UpdateCrl): only a newer CRL of the
// consortium CA is taken, and from then on every verification refuses what it revokes.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "crypto/crypto.h"
#include "crypto/pki.h"
#include "tests/support/temp_dir.h"

namespace duanka::crypto {
namespace {

namespace fs = std::filesystem;

class CrlUpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_dir_ = temp_.path() / "ca";
    ASSERT_TRUE(CreateCa(ca_dir_, CaOptions{.consortium = "TESTNET"}).ok());
    Result<TrustStore> store = TrustStore::Load(ca_dir_ / "ca.pem", std::nullopt);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_.emplace(std::move(*store));
  }

  std::string IssueDer(const std::string& institution) {
    IssueOptions o;
    o.institution = institution;
    o.kind = CertKind::kSigning;
    o.subject_key = SigningKey::Generate().public_key();
    Result<std::string> pem = IssueCertificate(ca_dir_, o);
    EXPECT_TRUE(pem.ok());
    Result<std::vector<std::string>> der = PemCertificatesToDer(*pem);
    return der.ok() ? der->front() : std::string();
  }

  // A CRL revoking these serials whose number is later than every CRL made before.
  std::string NewCrl(const std::vector<std::string>& serials) {
    // CRL numbers are issue seconds: wait for the next one.
    const int64_t start = static_cast<int64_t>(std::time(nullptr));
    while (static_cast<int64_t>(std::time(nullptr)) <= last_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    last_ = std::max(start, static_cast<int64_t>(std::time(nullptr)));
    Result<std::string> crl = CreateCrl(ca_dir_, serials);
    EXPECT_TRUE(crl.ok()) << crl.error().message;
    return crl.ok() ? *crl : std::string();
  }

  testing::TempDir temp_;
  fs::path ca_dir_;
  std::optional<TrustStore> store_;
  int64_t last_ = 0;
};

TEST_F(CrlUpdateTest, NewerCrlRevokesAtOnceOlderAndForeignAreRefused) {
  const std::string x = IssueDer("BANKX");
  const std::string y = IssueDer("BANKY");
  Result<CertificateInfo> xi = store_->Verify(x, CertKind::kSigning, std::nullopt);
  Result<CertificateInfo> yi = store_->Verify(y, CertKind::kSigning, std::nullopt);
  ASSERT_TRUE(xi.ok() && yi.ok());
  EXPECT_FALSE(store_->crl().has_value());

  const std::string first = NewCrl({xi->serial_hex});
  Result<CrlInfo> applied = store_->UpdateCrl(first);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(applied->revoked_serials, std::vector<std::string>{xi->serial_hex});
  EXPECT_GT(applied->next_update, applied->this_update);
  EXPECT_FALSE(store_->Verify(x, CertKind::kSigning, std::nullopt).ok());
  EXPECT_TRUE(store_->Verify(y, CertKind::kSigning, std::nullopt).ok());

  const std::string second = NewCrl({xi->serial_hex, yi->serial_hex});
  ASSERT_TRUE(store_->UpdateCrl(second).ok());
  EXPECT_FALSE(store_->Verify(y, CertKind::kSigning, std::nullopt).ok());
  ASSERT_TRUE(store_->crl().has_value());
  EXPECT_EQ(store_->crl()->revoked_serials.size(), 2u);

  // The first again is older: refused, nothing changes (BANKY stays revoked).
  Result<CrlInfo> older = store_->UpdateCrl(first);
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.error().kind, ErrorKind::kConflict);
  EXPECT_NE(older.error().message.find("not newer"), std::string::npos);
  EXPECT_FALSE(store_->Verify(y, CertKind::kSigning, std::nullopt).ok());

  // Another CA with the same name.
  const fs::path other = temp_.path() / "other";
  ASSERT_TRUE(CreateCa(other, CaOptions{.consortium = "TESTNET"}).ok());
  Result<std::string> foreign = CreateCrl(other, {});
  ASSERT_TRUE(foreign.ok());
  Result<CrlInfo> refused = store_->UpdateCrl(*foreign);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(store_->crl()->revoked_serials.size(), 2u);
}

TEST_F(CrlUpdateTest, IssuedCertificatesListsTheLedger) {
  IssueDer("BANKA");
  IssueDer("BANKB");
  Result<std::vector<IssuedCertificate>> issued = IssuedCertificates(ca_dir_);
  ASSERT_TRUE(issued.ok());
  ASSERT_EQ(issued->size(), 2u);
  EXPECT_EQ((*issued)[0].institution, "BANKA");
  EXPECT_EQ((*issued)[1].institution, "BANKB");
  EXPECT_EQ((*issued)[0].kind, "signing");
  EXPECT_FALSE((*issued)[0].serial_hex.empty());
}

}  // namespace
}  // namespace duanka::crypto
