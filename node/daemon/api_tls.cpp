#include "node/daemon/api_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/error.hpp>

#include "crypto/crypto.h"

namespace duanka::daemon {
namespace {

// PEM files of a certificate chain or a key are a few KiB; a CA bundle a few hundred.
constexpr size_t kMaxPemBytes = 1 << 20;
// Server chain and client chains: leaf, intermediates, root.
constexpr int kMaxClientChainDepth = 4;
// TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only (no CBC, no RC4, no 3DES), no
// anonymous or static-key exchange. TLS 1.3's own suites are all of that already.
constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL";

Error Refused(ErrorKind kind, const char* key, const std::filesystem::path& path,
              const std::string& why) {
  return MakeError(kind, std::string(key) + " " + path.string() + ": " + why);
}

// The newest OpenSSL reason, or `fallback`.
std::string OpenSslReason(const std::string& fallback) {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : fallback;
}

// The file's text, or one line naming the key, the file and the OS reason.
Result<std::string> ReadPem(const char* key, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Refused(ErrorKind::kIo, key, path, "no such file");
  }
  Result<std::string> text = base::ReadFile(path, kMaxPemBytes);
  if (!text) return Refused(ErrorKind::kIo, key, path, "cannot be read: " + text.error().message);
  return text;
}

}  // namespace

Result<std::shared_ptr<boost::asio::ssl::context>> CreateApiTlsContext(
    const ApiTlsOptions& options) {
  namespace ssl = boost::asio::ssl;
  Result<std::string> cert = ReadPem("files.api_tls_cert", options.cert);
  if (!cert) return std::move(cert).error();
  Result<std::string> key = ReadPem("files.api_tls_key", options.key);
  if (!key) return std::move(key).error();

  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX_set_options(native,
                      SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
  const int min_version = options.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(native, min_version) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return MakeError(ErrorKind::kInternal,
                     "cannot restrict the API's TLS: " + OpenSslReason("OpenSSL refused"));
  }
  // No resumption: every connection proves its client certificate afresh.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);

  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(*cert), ec);
  if (ec) {
    return Refused(ErrorKind::kInvalidInput, "files.api_tls_cert", options.cert,
                   "not a PEM certificate chain (" + OpenSslReason(ec.message()) + ")");
  }
  ctx->use_private_key(boost::asio::buffer(*key), ssl::context::pem, ec);
  sodium_memzero(key->data(), key->size());
  // OpenSSL checks the key against the certificate as it loads it; Asio hands its error code on.
  if (ec && ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
    ERR_clear_error();
    return Refused(ErrorKind::kInvalidInput, "files.api_tls_key", options.key,
                   "does not match the certificate " + options.cert.string());
  }
  if (ec) {
    return Refused(ErrorKind::kInvalidInput, "files.api_tls_key", options.key,
                   "not a PEM private key (" + OpenSslReason(ec.message()) + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return Refused(ErrorKind::kInvalidInput, "files.api_tls_key", options.key,
                   "does not match the certificate " + options.cert.string());
  }
  if (X509* leaf = SSL_CTX_get0_certificate(native);
      leaf != nullptr && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    return Refused(ErrorKind::kInvalidInput, "files.api_tls_cert", options.cert,
                   "the certificate has expired; install a renewed one");
  }

  if (options.client_ca) {
    Result<std::string> ca = ReadPem("files.api_client_ca", *options.client_ca);
    if (!ca) return std::move(ca).error();
    ctx->add_certificate_authority(boost::asio::buffer(*ca), ec);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca->c_str());
    if (ec || names == nullptr) {
      ERR_clear_error();
      return Refused(ErrorKind::kInvalidInput, "files.api_client_ca", *options.client_ca,
                     "not a PEM CA certificate");
    }
    // Sent in the CertificateRequest, so that a client holding several certificates picks ours.
    SSL_CTX_set_client_CA_list(native, names);
    // Asked for, not required: token clients have none. A certificate that is sent must verify
    // (the handshake fails otherwise) and be meant for TLS clients.
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_verify_depth(native, kMaxClientChainDepth);
    SSL_CTX_set_purpose(native, X509_PURPOSE_SSL_CLIENT);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

std::string ClientCertificateName(ssl_st* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "";
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return "";
  std::string name(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return name;
}

}  // namespace duanka::daemon
