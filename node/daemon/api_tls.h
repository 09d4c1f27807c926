// TLS for the HTTP API listener: a server certificate of the consortium CA or the institution's
// own PKI, TLS 1.2 or newer with forward-secret AEAD ciphers only, and optionally client
// certificates of an institution CA (files.api_client_ca) naming the API client in their CN.
//
// Unlike the peer protocol (crypto/pki.h: TLS 1.3 only, consortium CA only), API clients are
// ordinary HTTPS clients of the bank (curl, Java, .NET), some of which still lack TLS 1.3; and a
// client certificate is asked for but not required, since token clients connect without one.
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "crypto/base/result.h"

struct ssl_st;

namespace duanka::daemon {

struct ApiTlsOptions {
  std::filesystem::path cert;  // PEM: the server certificate, then any intermediates
  std::filesystem::path key;   // PEM private key
  // PEM: the CA(s) whose certificates identify API clients; none: no client certificates.
  std::optional<std::filesystem::path> client_ca;
  bool tls13_only = false;  // else TLS 1.2 and 1.3 (1.3 preferred: OpenSSL picks the highest)
};

// The server context. kIo or kInvalidInput with one line naming the duanka.toml key
// (files.api_tls_cert, files.api_tls_key, files.api_client_ca), the file and the reason.
Result<std::shared_ptr<boost::asio::ssl::context>> CreateApiTlsContext(
    const ApiTlsOptions& options);

// After a handshake: the CN of the client certificate the handshake verified, or "" when the
// client sent none.
std::string ClientCertificateName(ssl_st* ssl);

}  // namespace duanka::daemon
