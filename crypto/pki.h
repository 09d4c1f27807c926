// The consortium's PKI on OpenSSL 3: Ed25519 keys as standard PEM, a consortium CA, member
// certificates, and verification of a certificate against the CA (and its CRL).
//
// This is the only header of duanka whose implementation includes OpenSSL. The lookup CLI does not
// link it. A member institution holds two certificates issued by the consortium CA:
//   - a signing certificate (key usage digitalSignature + nonRepudiation, no extended key usage)
//     for the Ed25519 key that signs its records;
//   - a TLS certificate (extended key usage serverAuth + clientAuth, subject alternative names)
//     for its node.
// Both carry CN = institution code ([A-Z0-9]{2,16}) and OU = role ("member" or "regulator"). A
// read replica of a member holds a TLS certificate only, with the member's CN and OU "replica".
// The CA certificate carries O = consortium name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"

// OpenSSL's TLS types, declared here so that this header does not include OpenSSL.
struct ssl_ctx_st;
struct ssl_st;

namespace duanka::crypto {

// Role, RoleName and ParseRole are declared in crypto/crypto.h, IsValidInstitutionCode in
// crypto/base/base.h: the protocol checks them without linking OpenSSL.

enum class CertKind : uint8_t { kSigning = 1, kTls = 2 };

// ---- Keys as PEM ---------------------------------------------------------------------------

// PKCS#8 "PRIVATE KEY" PEM of an Ed25519 key, as `openssl genpkey -algorithm ed25519` writes.
std::string PrivateKeyPem(const SigningKey& key);
// SubjectPublicKeyInfo "PUBLIC KEY" PEM.
std::string PublicKeyPem(const PublicKey& key);
Result<SigningKey> ParsePrivateKeyPem(std::string_view pem);
// Reads a PKCS#8 Ed25519 key file. kIo if unreadable or open to its group or others (the message
// names the file and the `chmod 600` to run), kInvalidInput if not an Ed25519 key.
Result<SigningKey> LoadPrivateKey(const std::filesystem::path& path);
// A PEM private key file of any type OpenSSL reads (the peer protocol's TLS key is Ed25519; an
// HTTPS server key from an institution's own PKI may be RSA or ECDSA) made the key of `ctx`. Like
// LoadPrivateKey, it refuses a file its group or others may access and wipes what it read.
// kIo if unreadable or too open, kInvalidInput if no unencrypted private key is found.
Status UsePrivateKeyFile(ssl_ctx_st* ctx, const std::filesystem::path& path);
// Mode 0600; refuses (kConflict) to replace an existing file unless overwrite.
Status SavePrivateKey(const std::filesystem::path& path, const SigningKey& key, bool overwrite);

// ---- Certificates --------------------------------------------------------------------------

struct CertificateInfo {
  std::string institution;  // CN
  Role role = Role::kMember;
  CertKind kind = CertKind::kSigning;
  PublicKey public_key;    // the certified Ed25519 key
  int64_t not_before = 0;  // Unix seconds
  int64_t not_after = 0;   // Unix seconds
  std::string serial_hex;
  std::string der;  // the certificate's exact DER bytes
};

// What a DER certificate says (institution, role, key, validity, serial), its trust NOT checked:
// for certificates this node verified when it took them (the store's), e.g. to find the key a
// withdrawal notice names by serial. kMalformed / kUnauthorized name what does not parse.
Result<CertificateInfo> InspectCertificate(std::string_view der);

// PEM text with one or more certificates → their DER bytes, in order. kInvalidInput if none.
Result<std::vector<std::string>> PemCertificatesToDer(std::string_view pem);
std::string DerCertificateToPem(std::string_view der);

struct CaOptions {
  std::string consortium;    // the CA's O and CN ("<consortium> CA")
  int validity_days = 3650;  // a CA outlives many member certificates
};
// Creates CA_DIR (0700) with ca.pem and ca.key (0600). Refuses (kConflict) if ca.key exists.
Status CreateCa(const std::filesystem::path& ca_dir, const CaOptions& options);

struct IssueOptions {
  std::string institution;
  Role role = Role::kMember;
  CertKind kind = CertKind::kSigning;
  PublicKey subject_key;           // Ed25519 key being certified
  std::vector<std::string> hosts;  // TLS only: DNS names or IP addresses for subjectAltName
  int validity_days = 730;
  // Tests only: shift the validity window, e.g. to make an already-expired certificate.
  int64_t not_before_offset_seconds = 0;
};
// Signs a certificate with the CA in ca_dir and records its serial in ca_dir/issued.txt.
Result<std::string> IssueCertificate(const std::filesystem::path& ca_dir,
                                     const IssueOptions& options);  // PEM

// One line of ca_dir/issued.txt: a certificate the CA issued.
struct IssuedCertificate {
  std::string serial_hex;  // uppercase, as `openssl x509 -serial` spells it
  std::string institution;
  std::string role;  // member, regulator, replica
  std::string kind;  // signing, tls
};
// Every certificate the CA in ca_dir issued, oldest first (empty before the first).
Result<std::vector<IssuedCertificate>> IssuedCertificates(const std::filesystem::path& ca_dir);

// Writes ca_dir/crl.pem listing the given serials (hex) as revoked, valid for next_update_days.
Result<std::string> CreateCrl(const std::filesystem::path& ca_dir,
                              const std::vector<std::string>& revoked_serials_hex,
                              int next_update_days = 30);  // PEM

// What a CRL of the consortium CA says.
struct CrlInfo {
  int64_t number = 0;       // the CRL number (grows with each CRL the CA issues)
  int64_t this_update = 0;  // Unix seconds
  int64_t next_update = 0;  // Unix seconds; past it the CRL (and so every check) is refused
  std::vector<std::string> revoked_serials;  // uppercase hex, as issued.txt spells them
  std::string pem;                           // the CRL itself
};

// The trust anchor of a node: the consortium CA and, when configured, its CRL.
class TrustStore {
 public:
  // kInvalidInput if the CA or CRL does not parse; the CRL must be signed by the CA.
  static Result<TrustStore> Create(std::string_view ca_pem,
                                   std::optional<std::string_view> crl_pem);
  static Result<TrustStore> Load(const std::filesystem::path& ca_pem,
                                 const std::optional<std::filesystem::path>& crl_pem);
  TrustStore(TrustStore&&) noexcept;
  TrustStore& operator=(TrustStore&&) noexcept;
  ~TrustStore();

  // The consortium name (the CA's O).
  const std::string& consortium() const;
  // The CA's own Ed25519 key: it signs consortium notices as well as certificates and CRLs.
  // nullopt for a CA whose key is not Ed25519 (such a CA cannot sign notices).
  std::optional<PublicKey> ca_key() const;

  // Checks that the DER certificate chains to the CA, is of `kind`, carries a valid institution
  // code and role, is not on the CRL, and (when check_time_at is set) is within its validity at
  // that Unix time. Record signatures are checked against validity at the record's issue time,
  // so callers verifying signing certificates pass nullopt and check the window themselves.
  // kUnauthorized names the reason (unknown CA, expired, revoked, wrong kind).
  Result<CertificateInfo> Verify(std::string_view der, CertKind kind,
                                 std::optional<int64_t> check_time_at) const;

  // Reads a CRL (PEM) and checks that this CA signed it. kInvalidInput names what is wrong.
  Result<CrlInfo> InspectCrl(std::string_view crl_pem) const;
  // The CRL in force, if any.
  std::optional<CrlInfo> crl() const;
  // Puts a newer CRL of this CA in force at once, for every later check here and in the TLS
  // layer's handshakes (OpenSSL takes the newest CRL of an issuer). Thread-safe. kInvalidInput
  // for a CRL that does not parse or is not this CA's, kConflict for one not newer (by number)
  // than the CRL in force.
  Result<CrlInfo> UpdateCrl(std::string_view crl_pem);

  // For the TLS layer: the CA (and CRL) as an X509_STORE*, owned by this object.
  // The store checks the chain, validity and CRL only. The TLS layer must still check the
  // peer's kind with Verify(der, CertKind::kTls, now): OpenSSL's own sslserver/sslclient
  // purposes accept a signing certificate too, since it has no extended key usage.
  void* x509_store() const;

 private:
  struct Impl;
  explicit TrustStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---- TLS -----------------------------------------------------------------------------------

// An SSL_CTX for the peer protocol: TLS 1.3 only, this node's TLS certificate and key, and mutual
// authentication against the consortium CA (and its CRL) of `trust`: a peer without a
// certificate, or with one the CA did not issue, fails the handshake. Both ends use the same
// context (servers require a client certificate). The caller owns the result (SSL_CTX_free, or
// hand it to boost::asio::ssl::context, which takes ownership).
Result<ssl_ctx_st*> CreateTlsContext(const TrustStore& trust, const std::filesystem::path& cert_pem,
                                     const std::filesystem::path& key_pem);

// After a handshake: the peer's certificate, verified again as a TLS certificate of the consortium
// valid now (CN = its institution). kUnauthorized when there is none or it does not verify.
Result<CertificateInfo> VerifiedPeer(ssl_st* ssl, const TrustStore& trust, int64_t now);

}  // namespace duanka::crypto
