// The TLS context of the peer protocol: TLS 1.3 only, mutual authentication against the CA.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto/detail/pki_internal.h"

namespace duanka::crypto {
namespace {

// Our chains are CA → member: depth 1. A little slack, no more.
constexpr int kMaxTlsChainDepth = 2;

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

}  // namespace

Result<ssl_ctx_st*> CreateTlsContext(const TrustStore& trust, const std::filesystem::path& cert_pem,
                                     const std::filesystem::path& key_pem) {
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) return detail::InternalError("cannot create a TLS context");
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
    return detail::InternalError("cannot restrict TLS to version 1.3");
  }
  // The store carries the CA and, when configured, the CRL with CRL checking on.
  SSL_CTX_set1_cert_store(ctx.get(), static_cast<X509_STORE*>(trust.x509_store()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_verify_depth(ctx.get(), kMaxTlsChainDepth);
  // No resumption: every connection proves its certificate afresh (and is checked against the
  // current CRL).
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_pem.c_str()) != 1) {
    // OpenSSL's queue holds the reason (the OS error for a missing or unreadable file).
    return MakeError(ErrorKind::kIo,
                     detail::OpenSslError("cannot load the TLS certificate " + cert_pem.string()));
  }
  // Not SSL_CTX_use_PrivateKey_file: the key file's mode is checked and its bytes wiped.
  if (Status key = UsePrivateKeyFile(ctx.get(), key_pem); !key.ok()) return key.error();
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return MakeError(ErrorKind::kInvalidInput,
                     detail::OpenSslError("the TLS key " + key_pem.string() + " does not match " +
                                          cert_pem.string()));
  }
  return ctx.release();
}

Result<CertificateInfo> VerifiedPeer(ssl_st* ssl, const TrustStore& trust, int64_t now) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return MakeError(ErrorKind::kUnauthorized, "the peer presented no certificate");
  }
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return detail::InternalError("cannot encode the peer's certificate");
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return trust.Verify(bytes, CertKind::kTls, now);
}

}  // namespace duanka::crypto
