// The consortium PKI: keys as PEM, the CA, member certificates, CRLs and the trust store, checked
// against each other and against the stock `openssl` command.
#include "crypto/pki.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/read_file.h"

namespace duanka::crypto {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDay = 24 * 60 * 60;
constexpr const char* kConsortium = "Duanka Test Consortium";

int64_t Now() {
  return static_cast<int64_t>(std::time(nullptr));
}

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "duanka-pki-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

using testing::ReadAll;

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

fs::perms Mode(const fs::path& path) {
  return fs::status(path).permissions() & fs::perms::mask;
}

std::string Quote(const fs::path& path) {
  return "'" + path.string() + "'";
}

#ifndef DUANKA_OPENSSL_CLI
#error "pki_test runs the stock openssl command: configure with it installed"
#endif
// The exit code of `openssl ARGS`, its output discarded.
int RunOpenssl(const std::string& args) {
  std::string command = std::string(DUANKA_OPENSSL_CLI) + " " + args + " >/dev/null 2>&1";
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
// The standard output of `openssl ARGS`; empty if it failed.
std::string OpensslOutput(const std::string& args) {
  std::string command = std::string(DUANKA_OPENSSL_CLI) + " " + args + " 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  return ::pclose(pipe) == 0 ? output : std::string();
}

std::string OnlyDer(const std::string& pem) {
  auto ders = PemCertificatesToDer(pem);
  EXPECT_TRUE(ders.ok()) << ders.error().message;
  EXPECT_EQ(ders->size(), 1u);
  return ders->front();
}

// A consortium CA in a temp dir, its trust store, and helpers to issue member certificates.
class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_dir_ = temp_.path() / "ca";
    Status created = CreateCa(ca_dir_, CaOptions{.consortium = kConsortium});
    ASSERT_TRUE(created.ok()) << created.error().message;
    auto store = TrustStore::Load(ca_dir_ / "ca.pem", std::nullopt);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_.emplace(std::move(*store));
  }

  IssueOptions Options(std::string institution, CertKind kind, Role role = Role::kMember) {
    IssueOptions options;
    options.institution = std::move(institution);
    options.role = role;
    options.kind = kind;
    options.subject_key = SigningKey::Generate().public_key();
    if (kind == CertKind::kTls) options.hosts = {"node.banka.example", "10.1.2.3", "::1"};
    return options;
  }

  // Issues and returns the certificate's PEM, failing the test if issuing fails.
  std::string IssuePem(const IssueOptions& options, const fs::path& ca_dir = {}) {
    auto pem = IssueCertificate(ca_dir.empty() ? ca_dir_ : ca_dir, options);
    EXPECT_TRUE(pem.ok()) << pem.error().message;
    return pem.ok() ? *pem : std::string();
  }
  std::string IssueDer(const IssueOptions& options, const fs::path& ca_dir = {}) {
    return OnlyDer(IssuePem(options, ca_dir));
  }

  const TrustStore& store() const { return *store_; }

  TempDir temp_;
  fs::path ca_dir_;
  std::optional<TrustStore> store_;
};

// ---- Names and codes -----------------------------------------------------------------------

TEST(PkiNamesTest, RoleNamesRoundTripAndUnknownNamesAreRefused) {
  for (Role role : {Role::kMember, Role::kRegulator, Role::kReplica}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_STREQ(RoleName(Role::kMember), "member");
  EXPECT_STREQ(RoleName(Role::kRegulator), "regulator");
  EXPECT_STREQ(RoleName(Role::kReplica), "replica");
  EXPECT_FALSE(ParseRole("Member"));
  EXPECT_FALSE(ParseRole(""));
  EXPECT_FALSE(ParseRole("admin"));
}

TEST(PkiNamesTest, InstitutionCodeIsTwoToSixteenUppercaseLettersAndDigits) {
  EXPECT_TRUE(base::IsValidInstitutionCode("BANKA"));
  EXPECT_TRUE(base::IsValidInstitutionCode("B1"));
  EXPECT_TRUE(base::IsValidInstitutionCode("ABCDEFGHIJ123456"));
  for (const char* bad : {"", "A", "banka", "BANK-A", "BANK A", "ABCDEFGHIJ1234567", "BANKÄ"}) {
    EXPECT_FALSE(base::IsValidInstitutionCode(bad)) << bad;
  }
  EXPECT_FALSE(base::IsValidInstitutionCode(std::string_view("BANK\0A", 6)));
}

// ---- Keys ----------------------------------------------------------------------------------

TEST(PkiKeysTest, PrivateKeyPemParsesBackToTheSameKey) {
  SigningKey key = SigningKey::Generate();
  std::string pem = PrivateKeyPem(key);
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << pem;
  auto parsed = ParsePrivateKeyPem(pem);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->public_key(), key.public_key());
  EXPECT_EQ(PublicKeyPem(key.public_key()).rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
}

TEST(PkiKeysTest, SavedKeyLoadsWithTheSamePublicKeyAndMode0600) {
  TempDir temp;
  SigningKey key = SigningKey::Generate();
  fs::path path = temp.path() / "signing.key";
  Status saved = SavePrivateKey(path, key, /*overwrite=*/false);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  EXPECT_EQ(Mode(path), fs::perms::owner_read | fs::perms::owner_write);
  auto loaded = LoadPrivateKey(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->public_key(), key.public_key());
}

TEST(PkiKeysTest, ExistingKeyIsNotOverwrittenWithoutOverwrite) {
  TempDir temp;
  fs::path path = temp.path() / "signing.key";
  SigningKey first = SigningKey::Generate();
  SigningKey second = SigningKey::Generate();
  ASSERT_TRUE(SavePrivateKey(path, first, false).ok());
  Status refused = SavePrivateKey(path, second, /*overwrite=*/false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(LoadPrivateKey(path)->public_key(), first.public_key());
  ASSERT_TRUE(SavePrivateKey(path, second, /*overwrite=*/true).ok());
  EXPECT_EQ(LoadPrivateKey(path)->public_key(), second.public_key());
  EXPECT_EQ(Mode(path), fs::perms::owner_read | fs::perms::owner_write);
}

TEST(PkiKeysTest, MissingKeyFileIsIoErrorNamingThePath) {
  TempDir temp;
  auto loaded = LoadPrivateKey(temp.path() / "absent.key");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().kind, ErrorKind::kIo);
  EXPECT_NE(loaded.error().message.find("absent.key"), std::string::npos);
}

TEST(PkiKeysTest, GarbagePublicKeyAndEncryptedKeyAreNotPrivateKeys) {
  SigningKey key = SigningKey::Generate();
  std::string encrypted =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAc\n"
      "-----END ENCRYPTED PRIVATE KEY-----\n";
  std::string broken_base64 = "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n";
  for (const std::string& text :
       {std::string(), std::string("hello"), PublicKeyPem(key.public_key()), encrypted,
        broken_base64, PrivateKeyPem(key).substr(0, 60)}) {
    auto parsed = ParsePrivateKeyPem(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
  }
}

TEST(PkiKeysTest, StockOpensslReadsOurPrivateAndPublicKeys) {
  TempDir temp;
  SigningKey key = SigningKey::Generate();
  fs::path key_path = temp.path() / "signing.key";
  fs::path pub_path = temp.path() / "signing.pub";
  ASSERT_TRUE(SavePrivateKey(key_path, key, false).ok());
  WriteText(pub_path, PublicKeyPem(key.public_key()));
  EXPECT_EQ(RunOpenssl("pkey -in " + Quote(key_path) + " -noout"), 0);
  EXPECT_EQ(RunOpenssl("pkey -pubin -in " + Quote(pub_path) + " -noout"), 0);
  // OpenSSL derives the same public key from our PKCS#8 seed as libsodium does.
  EXPECT_EQ(OpensslOutput("pkey -in " + Quote(key_path) + " -pubout"),
            PublicKeyPem(key.public_key()));
}

TEST(PkiKeysTest, KeyFromOpensslGenpkeyIsRead) {
  TempDir temp;
  fs::path key_path = temp.path() / "openssl.key";
  ASSERT_EQ(RunOpenssl("genpkey -algorithm ed25519 -out " + Quote(key_path)), 0);
  auto key = LoadPrivateKey(key_path);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(PublicKeyPem(key->public_key()),
            OpensslOutput("pkey -in " + Quote(key_path) + " -pubout"));
  EXPECT_EQ(PrivateKeyPem(*key), ReadAll(key_path));
}

TEST(PkiKeysTest, EcKeyIsRefusedAsNotEd25519) {
  TempDir temp;
  fs::path key_path = temp.path() / "ec.key";
  ASSERT_EQ(
      RunOpenssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + Quote(key_path)),
      0);
  auto key = LoadPrivateKey(key_path);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(key.error().message.find("not Ed25519"), std::string::npos) << key.error().message;
}

// ---- The CA --------------------------------------------------------------------------------

TEST_F(PkiTest, CaDirectoryIsMode0700AndCaKeyMode0600) {
  EXPECT_EQ(Mode(ca_dir_), fs::perms::owner_all);
  EXPECT_EQ(Mode(ca_dir_ / "ca.key"), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(LoadPrivateKey(ca_dir_ / "ca.key").ok());
}

TEST_F(PkiTest, ConsortiumIsTheCaOrganizationAndTheStoreIsExposed) {
  EXPECT_EQ(store().consortium(), kConsortium);
  EXPECT_NE(store().x509_store(), nullptr);
}

TEST_F(PkiTest, SecondCaInTheSameDirectoryIsRefused) {
  std::string before = ReadAll(ca_dir_ / "ca.key");
  Status again = CreateCa(ca_dir_, CaOptions{.consortium = "Other"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);
  EXPECT_EQ(ReadAll(ca_dir_ / "ca.key"), before);
}

TEST(PkiCaTest, BadConsortiumNamesAreRefused) {
  TempDir temp;
  for (const std::string& name :
       {std::string(), std::string("Bad\nName"), std::string(" Padded"), std::string(62, 'X')}) {
    Status created = CreateCa(temp.path() / "ca", CaOptions{.consortium = name});
    ASSERT_FALSE(created.ok()) << name;
    EXPECT_EQ(created.error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(created.error().message.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(temp.path() / "ca" / "ca.key"));
}

TEST(PkiCaTest, ChineseConsortiumNameIsCarriedAsUtf8) {
  TempDir temp;
  const std::string name = "中国银行业反诈联盟";
  ASSERT_TRUE(CreateCa(temp.path() / "ca", CaOptions{.consortium = name}).ok());
  auto store = TrustStore::Load(temp.path() / "ca" / "ca.pem", std::nullopt);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(store->consortium(), name);
  IssueOptions options;
  options.institution = "BANKA";
  options.subject_key = SigningKey::Generate().public_key();
  auto pem = IssueCertificate(temp.path() / "ca", options);
  ASSERT_TRUE(pem.ok()) << pem.error().message;
  auto info = store->Verify(OnlyDer(*pem), CertKind::kSigning, Now());
  EXPECT_TRUE(info.ok()) << info.error().message;
}

// ---- Issuing and verifying ----------------------------------------------------------------

TEST_F(PkiTest, SigningAndTlsCertificatesVerifyWithTheirFields) {
  IssueOptions signing = Options("BANKA", CertKind::kSigning);
  std::string signing_der = IssueDer(signing);
  auto info = store().Verify(signing_der, CertKind::kSigning, Now());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->institution, "BANKA");
  EXPECT_EQ(info->role, Role::kMember);
  EXPECT_EQ(info->kind, CertKind::kSigning);
  EXPECT_EQ(info->public_key, signing.subject_key);
  EXPECT_EQ(info->der, signing_der);
  EXPECT_EQ(info->serial_hex.size(), 32u);
  EXPECT_NEAR(static_cast<double>(info->not_before), static_cast<double>(Now() - 60), 5);
  EXPECT_EQ(info->not_after - info->not_before, 730 * kDay);

  IssueOptions tls = Options("BANKA", CertKind::kTls);
  auto tls_info = store().Verify(IssueDer(tls), CertKind::kTls, Now());
  ASSERT_TRUE(tls_info.ok()) << tls_info.error().message;
  EXPECT_EQ(tls_info->institution, "BANKA");
  EXPECT_EQ(tls_info->kind, CertKind::kTls);
  EXPECT_EQ(tls_info->public_key, tls.subject_key);
  EXPECT_NE(tls_info->serial_hex, info->serial_hex);
}

TEST_F(PkiTest, RegulatorRoleIsExtracted) {
  auto info = store().Verify(IssueDer(Options("PBOC", CertKind::kSigning, Role::kRegulator)),
                             CertKind::kSigning, std::nullopt);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->institution, "PBOC");
  EXPECT_EQ(info->role, Role::kRegulator);
}

TEST_F(PkiTest, ReplicaGetsATlsCertificateOnly) {
  auto info = store().Verify(IssueDer(Options("BANKA", CertKind::kTls, Role::kReplica)),
                             CertKind::kTls, Now());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->institution, "BANKA");
  EXPECT_EQ(info->role, Role::kReplica);

  auto signing = IssueCertificate(ca_dir_, Options("BANKA", CertKind::kSigning, Role::kReplica));
  ASSERT_FALSE(signing.ok());
  EXPECT_EQ(signing.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(signing.error().message.find("TLS certificate only"), std::string::npos)
      << signing.error().message;
}

// A CA (or a stolen CA key) that signs a replica a signing certificate anyway vouches for no
// record with it: the role is checked beside the key usage.
TEST_F(PkiTest, SigningCertificateOfAReplicaIsRefused) {
  std::string member_der = IssueDer(Options("BANKA", CertKind::kSigning));
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(member_der.data());
  X509* cert = d2i_X509(nullptr, &cursor, static_cast<long>(member_der.size()));
  ASSERT_NE(cert, nullptr);
  X509_NAME* subject = X509_get_subject_name(cert);
  int ou = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, -1);
  ASSERT_GE(ou, 0);
  X509_NAME_ENTRY_free(X509_NAME_delete_entry(subject, ou));
  ASSERT_EQ(
      X509_NAME_add_entry_by_NID(subject, NID_organizationalUnitName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("replica"), -1, -1, 0),
      1);
  FILE* key_file = std::fopen((ca_dir_ / "ca.key").c_str(), "r");
  ASSERT_NE(key_file, nullptr);
  EVP_PKEY* ca_key = PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr);
  std::fclose(key_file);
  ASSERT_NE(ca_key, nullptr);
  ASSERT_GT(X509_sign(cert, ca_key, nullptr), 0);  // Ed25519 takes no digest
  unsigned char* der = nullptr;
  int length = i2d_X509(cert, &der);
  ASSERT_GT(length, 0);
  std::string forged(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  EVP_PKEY_free(ca_key);
  X509_free(cert);

  auto info = store().Verify(forged, CertKind::kSigning, std::nullopt);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(info.error().message.find("a replica's certificate"), std::string::npos)
      << info.error().message;
}

TEST_F(PkiTest, TlsCertificateNamesItsHostsAsDnsAndIpAltNames) {
  IssueOptions options = Options("BANKA", CertKind::kTls);
  options.hosts = {"Node.BankA.example", "10.1.2.3", "2001:db8::7", "localhost"};
  std::string der = IssueDer(options);
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509* cert = d2i_X509(nullptr, &cursor, static_cast<long>(der.size()));
  ASSERT_NE(cert, nullptr);
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  std::vector<std::string> dns;
  std::vector<size_t> ip_lengths;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                       static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_IPADD) {
      ip_lengths.push_back(static_cast<size_t>(ASN1_STRING_length(name->d.iPAddress)));
    }
  }
  GENERAL_NAMES_free(names);
  X509_free(cert);
  EXPECT_EQ(dns, (std::vector<std::string>{"node.banka.example", "localhost"}));
  EXPECT_EQ(ip_lengths, (std::vector<size_t>{4, 16}));
}

TEST_F(PkiTest, IssuedLedgerRecordsSerialAndInstitution) {
  std::string der = IssueDer(Options("BANKB", CertKind::kTls));
  auto info = store().Verify(der, CertKind::kTls, Now());
  ASSERT_TRUE(info.ok());
  std::string ledger = ReadAll(ca_dir_ / "issued.txt");
  EXPECT_NE(ledger.find(info->serial_hex + " BANKB member tls "), std::string::npos) << ledger;
}

TEST_F(PkiTest, SerialIsSpelledAsOpensslPrintsIt) {
  std::string pem = IssuePem(Options("BANKA", CertKind::kSigning));
  fs::path cert_path = temp_.path() / "cert.pem";
  WriteText(cert_path, pem);
  auto info = store().Verify(OnlyDer(pem), CertKind::kSigning, Now());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(OpensslOutput("x509 -noout -serial -in " + Quote(cert_path)),
            "serial=" + info->serial_hex + "\n");
}

TEST_F(PkiTest, StockOpensslVerifyAcceptsOurCertificates) {
  fs::path signing = temp_.path() / "signing.pem";
  fs::path tls = temp_.path() / "tls.pem";
  WriteText(signing, IssuePem(Options("BANKA", CertKind::kSigning)));
  WriteText(tls, IssuePem(Options("BANKA", CertKind::kTls)));
  std::string ca = " -CAfile " + Quote(ca_dir_ / "ca.pem") + " ";
  EXPECT_EQ(RunOpenssl("verify -x509_strict" + ca + Quote(signing)), 0);
  EXPECT_EQ(RunOpenssl("verify -x509_strict" + ca + Quote(tls)), 0);
  EXPECT_EQ(RunOpenssl("verify -purpose sslserver" + ca + Quote(tls)), 0);
  EXPECT_EQ(RunOpenssl("verify -purpose sslclient" + ca + Quote(tls)), 0);
}

TEST_F(PkiTest, StockOpensslVerifyHonoursOurCrl) {
  std::string pem = IssuePem(Options("BANKA", CertKind::kSigning));
  fs::path cert_path = temp_.path() / "cert.pem";
  WriteText(cert_path, pem);
  auto info = store().Verify(OnlyDer(pem), CertKind::kSigning, Now());
  ASSERT_TRUE(info.ok());
  std::string args = "verify -crl_check -CAfile " + Quote(ca_dir_ / "ca.pem") + " -CRLfile " +
                     Quote(ca_dir_ / "crl.pem") + " " + Quote(cert_path);
  ASSERT_TRUE(CreateCrl(ca_dir_, {}).ok());
  EXPECT_EQ(RunOpenssl(args), 0);
  ASSERT_TRUE(CreateCrl(ca_dir_, {info->serial_hex}).ok());
  EXPECT_EQ(RunOpenssl(args), 2);
}

TEST_F(PkiTest, CertificateFromAnotherCaIsUnauthorized) {
  fs::path other_ca = temp_.path() / "other-ca";
  ASSERT_TRUE(CreateCa(other_ca, CaOptions{.consortium = kConsortium}).ok());
  auto info = store().Verify(IssueDer(Options("BANKA", CertKind::kSigning), other_ca),
                             CertKind::kSigning, Now());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(info.error().message.find("unable to get local issuer certificate"), std::string::npos)
      << info.error().message;
}

TEST_F(PkiTest, ExpiredCertificateRefusedAtNowAcceptedWithoutTimeCheck) {
  IssueOptions options = Options("BANKA", CertKind::kSigning);
  options.not_before_offset_seconds = -10 * kDay;
  options.validity_days = 1;
  std::string der = IssueDer(options);
  auto at_now = store().Verify(der, CertKind::kSigning, Now());
  ASSERT_FALSE(at_now.ok());
  EXPECT_EQ(at_now.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(at_now.error().message.find("certificate has expired"), std::string::npos)
      << at_now.error().message;
  auto untimed = store().Verify(der, CertKind::kSigning, std::nullopt);
  ASSERT_TRUE(untimed.ok()) << untimed.error().message;
  EXPECT_LT(untimed->not_after, Now());
}

TEST_F(PkiTest, NotYetValidCertificateRefused) {
  IssueOptions options = Options("BANKA", CertKind::kTls);
  options.not_before_offset_seconds = 10 * kDay;
  auto info = store().Verify(IssueDer(options), CertKind::kTls, Now());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(info.error().message.find("not yet valid"), std::string::npos) << info.error().message;
}

TEST_F(PkiTest, RevokedCertificateRefusedWithCrlAcceptedWithout) {
  std::string revoked_der = IssueDer(Options("BANKA", CertKind::kSigning));
  std::string kept_der = IssueDer(Options("BANKB", CertKind::kSigning));
  auto revoked = store().Verify(revoked_der, CertKind::kSigning, Now());
  ASSERT_TRUE(revoked.ok());
  // Lowercase works as well as the uppercase the ledger shows.
  std::string lower = revoked->serial_hex;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto crl = CreateCrl(ca_dir_, {lower});
  ASSERT_TRUE(crl.ok()) << crl.error().message;
  EXPECT_EQ(ReadAll(ca_dir_ / "crl.pem"), *crl);

  auto with_crl = TrustStore::Load(ca_dir_ / "ca.pem", ca_dir_ / "crl.pem");
  ASSERT_TRUE(with_crl.ok()) << with_crl.error().message;
  for (std::optional<int64_t> at : {std::optional<int64_t>(Now()), std::optional<int64_t>()}) {
    auto refused = with_crl->Verify(revoked_der, CertKind::kSigning, at);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().kind, ErrorKind::kUnauthorized);
    EXPECT_NE(refused.error().message.find("certificate revoked"), std::string::npos)
        << refused.error().message;
    EXPECT_TRUE(with_crl->Verify(kept_der, CertKind::kSigning, at).ok());
  }
  EXPECT_TRUE(store().Verify(revoked_der, CertKind::kSigning, Now()).ok());
}

TEST_F(PkiTest, PeerClockBehindBySecondsAcceptsFreshCertificateAndCrl) {
  std::string der = IssueDer(Options("BANKA", CertKind::kTls));
  ASSERT_TRUE(CreateCrl(ca_dir_, {}).ok());
  auto with_crl = TrustStore::Load(ca_dir_ / "ca.pem", ca_dir_ / "crl.pem");
  ASSERT_TRUE(with_crl.ok()) << with_crl.error().message;
  auto info = with_crl->Verify(der, CertKind::kTls, Now() - 30);
  EXPECT_TRUE(info.ok()) << info.error().message;
}

TEST_F(PkiTest, CrlPastItsNextUpdateRefusesEveryCertificateCheckedAtATime) {
  std::string der = IssueDer(Options("BANKA", CertKind::kSigning));
  ASSERT_TRUE(CreateCrl(ca_dir_, {}, /*next_update_days=*/1).ok());
  auto with_crl = TrustStore::Load(ca_dir_ / "ca.pem", ca_dir_ / "crl.pem");
  ASSERT_TRUE(with_crl.ok()) << with_crl.error().message;
  auto stale = with_crl->Verify(der, CertKind::kSigning, Now() + 2 * kDay);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(stale.error().message.find("CRL has expired"), std::string::npos)
      << stale.error().message;
  EXPECT_TRUE(with_crl->Verify(der, CertKind::kSigning, std::nullopt).ok());
}

TEST_F(PkiTest, CrlSignedByAnotherCaRefusedAtCreate) {
  fs::path other_ca = temp_.path() / "other-ca";
  ASSERT_TRUE(CreateCa(other_ca, CaOptions{.consortium = kConsortium}).ok());
  auto foreign_crl = CreateCrl(other_ca, {});
  ASSERT_TRUE(foreign_crl.ok()) << foreign_crl.error().message;
  auto refused = TrustStore::Create(ReadAll(ca_dir_ / "ca.pem"), *foreign_crl);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(refused.error().message.find("not signed by the consortium CA"), std::string::npos);
}

TEST_F(PkiTest, CrlOfUnknownOrMalformedSerialIsRefused) {
  IssueDer(Options("BANKA", CertKind::kSigning));
  for (const std::string& serial : {std::string("ABCDEF0123"), std::string("XYZ"), std::string(),
                                    std::string("-1F"), std::string(41, 'A')}) {
    auto crl = CreateCrl(ca_dir_, {serial});
    ASSERT_FALSE(crl.ok()) << serial;
    EXPECT_EQ(crl.error().kind, ErrorKind::kInvalidInput);
  }
  EXPECT_FALSE(fs::exists(ca_dir_ / "crl.pem"));
  EXPECT_FALSE(CreateCrl(ca_dir_, {}, 0).ok());
}

TEST_F(PkiTest, GarbageCrlIsRefusedAtCreate) {
  std::string ca_pem = ReadAll(ca_dir_ / "ca.pem");
  auto refused = TrustStore::Create(ca_pem, std::string_view("not a CRL"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidInput);
}

TEST_F(PkiTest, SigningCertificatePresentedAsTlsIsRefused) {
  auto info = store().Verify(IssueDer(Options("BANKA", CertKind::kSigning)), CertKind::kTls, Now());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(info.error().message.find("not a TLS certificate"), std::string::npos)
      << info.error().message;
}

TEST_F(PkiTest, TlsCertificatePresentedAsSigningIsRefused) {
  auto info = store().Verify(IssueDer(Options("BANKA", CertKind::kTls)), CertKind::kSigning, Now());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(info.error().message.find("not a signing certificate"), std::string::npos)
      << info.error().message;
}

TEST_F(PkiTest, CaCertificatePresentedAsMemberIsRefused) {
  std::string ca_der = OnlyDer(ReadAll(ca_dir_ / "ca.pem"));
  for (CertKind kind : {CertKind::kSigning, CertKind::kTls}) {
    auto info = store().Verify(ca_der, kind, Now());
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.error().kind, ErrorKind::kUnauthorized);
  }
}

TEST_F(PkiTest, InvalidInstitutionCodesAreRefusedAtIssue) {
  for (const std::string& code : {std::string("banka"), std::string("A"), std::string(17, 'B'),
                                  std::string("BANK-A"), std::string()}) {
    auto pem = IssueCertificate(ca_dir_, Options(code, CertKind::kSigning));
    ASSERT_FALSE(pem.ok()) << code;
    EXPECT_EQ(pem.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(pem.error().message.find("institution code"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(ca_dir_ / "issued.txt"));
}

TEST_F(PkiTest, HostsOnSigningCertificateAndBadHostsAreRefusedAtIssue) {
  IssueOptions signing = Options("BANKA", CertKind::kSigning);
  signing.hosts = {"node.banka.example"};
  std::vector<IssueOptions> refused = {signing};
  for (const char* host : {"", "bad host", "a,DNS:evil.example", "-lead.example", "10.0.0.300",
                           "x..example", "node.example.", "*.banka.example"}) {
    IssueOptions tls = Options("BANKA", CertKind::kTls);
    tls.hosts = {host};
    refused.push_back(tls);
  }
  IssueOptions bad_role = Options("BANKA", CertKind::kSigning);
  bad_role.role = static_cast<Role>(7);
  refused.push_back(bad_role);
  IssueOptions bad_kind = Options("BANKA", CertKind::kSigning);
  bad_kind.kind = static_cast<CertKind>(7);
  refused.push_back(bad_kind);
  IssueOptions no_validity = Options("BANKA", CertKind::kSigning);
  no_validity.validity_days = 0;
  refused.push_back(no_validity);
  for (const IssueOptions& options : refused) {
    auto pem = IssueCertificate(ca_dir_, options);
    ASSERT_FALSE(pem.ok()) << (options.hosts.empty() ? "" : options.hosts.front());
    EXPECT_EQ(pem.error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(pem.error().message.find('\n'), std::string::npos);
  }
}

TEST_F(PkiTest, IssuingWithoutACaIsAnIoError) {
  auto pem = IssueCertificate(temp_.path() / "no-ca", Options("BANKA", CertKind::kSigning));
  ASSERT_FALSE(pem.ok());
  EXPECT_EQ(pem.error().kind, ErrorKind::kIo);
}

TEST_F(PkiTest, EveryTruncationOfACertificateIsMalformed) {
  std::string der = IssueDer(Options("BANKA", CertKind::kTls));
  for (size_t length = 0; length < der.size(); ++length) {
    auto info = store().Verify(der.substr(0, length), CertKind::kTls, Now());
    ASSERT_FALSE(info.ok()) << length;
    EXPECT_EQ(info.error().kind, ErrorKind::kMalformed) << length;
    EXPECT_EQ(info.error().message.find('\n'), std::string::npos);
  }
  auto trailing = store().Verify(der + '\0', CertKind::kTls, Now());
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.error().kind, ErrorKind::kMalformed);
}

TEST_F(PkiTest, GarbageAndOversizeDerAreMalformed) {
  std::mt19937 random(20240601);
  for (int round = 0; round < 200; ++round) {
    std::string garbage(1 + random() % 2000, '\0');
    for (char& c : garbage) c = static_cast<char>(random());
    if (round % 2 == 0) garbage[0] = 0x30;  // an ASN.1 SEQUENCE tag, to get past the first byte
    auto info = store().Verify(garbage, CertKind::kSigning, std::nullopt);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.error().kind, ErrorKind::kMalformed);
  }
  auto huge = store().Verify(std::string(64 * 1024, '\x30'), CertKind::kSigning, std::nullopt);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().kind, ErrorKind::kMalformed);
}

TEST_F(PkiTest, FlippedSignatureByteIsUnauthorized) {
  std::string der = IssueDer(Options("BANKA", CertKind::kSigning));
  der[der.size() - 1] ^= 0x01;  // the last byte of the Ed25519 signature
  auto info = store().Verify(der, CertKind::kSigning, Now());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(info.error().message.find("signature"), std::string::npos) << info.error().message;
}

TEST_F(PkiTest, EveryFlippedByteIsRefused) {
  const std::string der = IssueDer(Options("BANKA", CertKind::kSigning));
  for (size_t i = 0; i < der.size(); ++i) {
    std::string flipped = der;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    auto info = store().Verify(flipped, CertKind::kSigning, std::nullopt);
    ASSERT_FALSE(info.ok()) << "byte " << i;
    EXPECT_TRUE(info.error().kind == ErrorKind::kMalformed ||
                info.error().kind == ErrorKind::kUnauthorized)
        << "byte " << i << ": " << info.error().message;
  }
}

// ---- PEM and trust store inputs -----------------------------------------------------------

TEST_F(PkiTest, PemCertificatesToDerReadsEveryCertificateInOrder) {
  std::string first = IssuePem(Options("BANKA", CertKind::kSigning));
  std::string second = IssuePem(Options("BANKB", CertKind::kTls));
  std::string bundle = "leading text\n" + first + PrivateKeyPem(SigningKey::Generate()) + second;
  auto ders = PemCertificatesToDer(bundle);
  ASSERT_TRUE(ders.ok()) << ders.error().message;
  ASSERT_EQ(ders->size(), 2u);
  EXPECT_EQ(DerCertificateToPem((*ders)[0]), first);
  EXPECT_EQ(DerCertificateToPem((*ders)[1]), second);
}

TEST(PkiPemTest, PemWithoutCertificatesIsInvalidInput) {
  std::string broken = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  for (const std::string& text : {std::string(), std::string("garbage"),
                                  PublicKeyPem(SigningKey::Generate().public_key()), broken}) {
    auto ders = PemCertificatesToDer(text);
    ASSERT_FALSE(ders.ok()) << text;
    EXPECT_EQ(ders.error().kind, ErrorKind::kInvalidInput);
    EXPECT_EQ(ders.error().message.find('\n'), std::string::npos) << ders.error().message;
  }
}

TEST_F(PkiTest, TrustStoreRefusesMemberCertificateAndGarbageAsCa) {
  std::string member = IssuePem(Options("BANKA", CertKind::kSigning));
  std::string ca = ReadAll(ca_dir_ / "ca.pem");
  for (const std::string& text : {member, std::string("garbage"), ca + ca}) {
    auto refused = TrustStore::Create(text, std::nullopt);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().kind, ErrorKind::kInvalidInput);
  }
  auto missing = TrustStore::Load(temp_.path() / "absent.pem", std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::kIo);
}

TEST_F(PkiTest, ErrorMessagesAreOneLine) {
  fs::path other_ca = temp_.path() / "other-ca";
  ASSERT_TRUE(CreateCa(other_ca, CaOptions{.consortium = kConsortium}).ok());
  IssueOptions expired = Options("BANKA", CertKind::kSigning);
  expired.not_before_offset_seconds = -10 * kDay;
  expired.validity_days = 1;
  std::vector<Error> errors;
  auto collect = [&errors](const auto& result) {
    if (!result.ok()) errors.push_back(result.error());
  };
  collect(store().Verify(IssueDer(Options("BANKA", CertKind::kSigning), other_ca),
                         CertKind::kSigning, Now()));
  collect(store().Verify(IssueDer(expired), CertKind::kSigning, Now()));
  collect(store().Verify("\x30\x82\x01", CertKind::kSigning, Now()));
  collect(store().Verify(IssueDer(Options("BANKA", CertKind::kTls)), CertKind::kSigning, Now()));
  collect(TrustStore::Create("-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n",
                             std::nullopt));
  collect(TrustStore::Create(ReadAll(ca_dir_ / "ca.pem"), std::string_view("x")));
  collect(ParsePrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  collect(IssueCertificate(ca_dir_, Options("bank\na", CertKind::kSigning)));
  collect(CreateCrl(ca_dir_, {"12\n34"}));
  collect(CreateCa(ca_dir_, CaOptions{.consortium = kConsortium}));
  ASSERT_EQ(errors.size(), 10u);
  for (const Error& error : errors) {
    EXPECT_FALSE(error.message.empty());
    EXPECT_EQ(error.message.find('\n'), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find('\r'), std::string::npos) << error.message;
  }
}

// ---- Secrets at rest (issue 12, section 6) -------------------------------------------------

// The one line every loader gives for a key file its group or others may access.
void ExpectTooOpen(const Error& e, const fs::path& path) {
  EXPECT_EQ(e.kind, ErrorKind::kIo) << e.message;
  EXPECT_NE(e.message.find(path.string()), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("run `chmod 600 " + path.string() + "`"), std::string::npos)
      << e.message;
  EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
}

TEST_F(PkiTest, SigningAndCaKeysOpenToGroupOrOthersAreRefused) {
  const fs::path key_path = temp_.path() / "signing.key";
  ASSERT_TRUE(SavePrivateKey(key_path, SigningKey::Generate(), false).ok());
  fs::permissions(key_path, fs::perms::group_read, fs::perm_options::add);
  auto key = LoadPrivateKey(key_path);
  ASSERT_FALSE(key.ok());
  ExpectTooOpen(key.error(), key_path);

  // The CA key, read by every command that issues or signs with it.
  const fs::path ca_key = ca_dir_ / "ca.key";
  fs::permissions(ca_key, fs::perms::others_read, fs::perm_options::add);
  auto issued = IssueCertificate(ca_dir_, Options("BANKA", CertKind::kSigning));
  ASSERT_FALSE(issued.ok());
  ExpectTooOpen(issued.error(), ca_key);
  fs::permissions(ca_key, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(IssueCertificate(ca_dir_, Options("BANKA", CertKind::kSigning)).ok());
}

TEST_F(PkiTest, TlsKeyOpenToGroupIsRefusedByTheTlsContext) {
  SigningKey tls_key = SigningKey::Generate();
  IssueOptions options = Options("BANKA", CertKind::kTls);
  options.subject_key = tls_key.public_key();
  const fs::path cert_path = temp_.path() / "tls.pem";
  const fs::path key_path = temp_.path() / "tls.key";
  ASSERT_TRUE(base::WriteFileAtomic(cert_path, IssuePem(options), 0644, false).ok());
  ASSERT_TRUE(SavePrivateKey(key_path, tls_key, false).ok());
  auto good = CreateTlsContext(store(), cert_path, key_path);
  ASSERT_TRUE(good.ok()) << good.error().message;
  SSL_CTX_free(*good);
  fs::permissions(key_path, fs::perms::group_read, fs::perm_options::add);
  auto refused = CreateTlsContext(store(), cert_path, key_path);
  ASSERT_FALSE(refused.ok());
  ExpectTooOpen(refused.error(), key_path);
}

TEST(PkiKeysTest, UsePrivateKeyFileTakesAnyKeyTypeOpensslReads) {
  // An HTTPS key from an institution's own PKI need not be Ed25519.
  TempDir temp;
  fs::path key_path = temp.path() / "ec.key";
  ASSERT_EQ(
      RunOpenssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + Quote(key_path)),
      0);
  fs::permissions(key_path, fs::perms::owner_read | fs::perms::owner_write);
  SSL_CTX* ctx = SSL_CTX_new(TLS_method());
  ASSERT_NE(ctx, nullptr);
  Status used = UsePrivateKeyFile(ctx, key_path);
  EXPECT_TRUE(used.ok()) << used.error().message;
  WriteText(temp.path() / "junk.key", "not a key");
  fs::permissions(temp.path() / "junk.key", fs::perms::owner_read | fs::perms::owner_write);
  Status junk = UsePrivateKeyFile(ctx, temp.path() / "junk.key");
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error().kind, ErrorKind::kInvalidInput);
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace duanka::crypto
