#include "node/daemon/api_setup.h"

#include <sodium.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

#include "crypto/pki.h"
#include "node/common/host_port.h"
#include "node/daemon/api_tls.h"

namespace duanka::daemon {
namespace {

// A bearer token file holds one line; anything longer is not a token.
constexpr size_t kMaxTokenFileBytes = 4096;
// A CA certificate file (PEM), possibly a small bundle.
constexpr size_t kMaxCaFileBytes = 1 << 20;
constexpr const char* kRunbook = "see docs/operations.md, \"Opening the API to other hosts\"";

Error Invalid(const std::string& message) {
  return MakeError(ErrorKind::kInvalidInput, message);
}

// The DER certificates of a PEM file, or none if it cannot be read (the caller reports that).
std::vector<std::string> Certificates(const std::filesystem::path& pem) {
  Result<std::string> text = base::ReadFile(pem, kMaxCaFileBytes);
  if (!text) return {};
  Result<std::vector<std::string>> der = crypto::PemCertificatesToDer(*text);
  return der ? *der : std::vector<std::string>{};
}

Result<std::optional<std::string>> LegacyToken(const node::Config& config) {
  std::error_code ec;
  if (!std::filesystem::exists(config.api_token, ec)) return std::optional<std::string>();
  // A bearer token is a secret like a key: refused when others may read it (issue 12, section 6).
  Result<std::string> text = base::ReadSecretFile(config.api_token, kMaxTokenFileBytes);
  if (!text) return std::move(text).error();
  std::string t = *text;
  sodium_memzero(text->data(), text->size());
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return Invalid("files.api_token " + config.api_token.string() + " is empty");
  return std::optional<std::string>(std::move(t));
}

}  // namespace

bool IsLoopbackListen(const std::string& host_port) {
  Result<node::HostPort> hp = node::ParseHostPort(host_port, node::PortZero::kAllowed);
  if (!hp) return false;
  if (hp->host == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(hp->host, ec);
  return !ec && address.is_loopback();
}

Result<ApiClients> LoadConfiguredClients(const node::Config& config) {
  Result<ApiClients> clients = LoadApiClients(config.api_clients);
  if (!clients) {
    if (clients.error().kind == ErrorKind::kNotFound) return ApiClients{};
    return std::move(clients).error();
  }
  for (const ApiClient& c : clients->clients) {
    if (c.certificate && (!config.api_tls_cert || !config.api_client_ca)) {
      return Invalid("files.api_clients: client " + c.name +
                     " authenticates by certificate, which needs files.api_tls_cert and "
                     "files.api_client_ca (the CA of API client certificates); " +
                     kRunbook);
    }
  }
  return clients;
}

Result<ApiOptions> ApiOptionsFromConfig(const node::Config& config) {
  const node::DaemonLimits& limits = config.limits;
  ApiOptions o;
  o.listen = config.network.api;
  o.max_batch_items = limits.max_api_batch_items;
  o.max_connections = limits.max_api_connections;
  o.requests_per_second = limits.api_requests_per_second;
  o.request_burst = limits.api_request_burst;
  o.host_names = config.network.api_host_names;

  Result<std::optional<std::string>> token = LegacyToken(config);
  if (!token) return std::move(token).error();
  o.bearer_token = *token;

  if (config.api_client_ca && !config.api_tls_cert) {
    return Invalid(
        "files.api_client_ca is set but the API has no TLS: set files.api_tls_cert and "
        "files.api_tls_key too; " +
        std::string(kRunbook));
  }
  if (config.api_tls_cert) {
    ApiTlsOptions tls{*config.api_tls_cert, config.api_tls_key, config.api_client_ca,
                      config.network.api_tls_min_version == "1.3"};
    Result<std::shared_ptr<boost::asio::ssl::context>> context = CreateApiTlsContext(tls);
    if (!context) return std::move(context).error();
    o.tls = std::move(*context);
  }
  if (config.api_client_ca) {
    // Every member's node certificate is issued by the consortium CA: trusting it for API clients
    // would let any other bank's node query this one.
    const std::vector<std::string> consortium = Certificates(config.ca);
    for (const std::string& der : Certificates(*config.api_client_ca)) {
      if (std::find(consortium.begin(), consortium.end(), der) != consortium.end()) {
        return Invalid("files.api_client_ca " + config.api_client_ca->string() +
                       " holds the consortium CA, which would make every member's node an API "
                       "client; use a CA of this institution's own");
      }
    }
  }

  Result<ApiClients> clients = LoadConfiguredClients(config);
  if (!clients) return std::move(clients).error();
  o.clients = std::move(*clients);
  if (o.bearer_token && o.clients.Find(kLegacyTokenClient) != nullptr) {
    return Invalid("files.api_clients: a client is named \"" + std::string(kLegacyTokenClient) +
                   "\", the name of files.api_token's client; remove one of them");
  }

  if (!IsLoopbackListen(config.network.api)) {
    if (!o.tls) {
      return Invalid("network.api " + config.network.api +
                     " is not a loopback address: set files.api_tls_cert and files.api_tls_key "
                     "(the API's TLS certificate) first; " +
                     kRunbook);
    }
    if (o.clients.empty() && !o.bearer_token) {
      return Invalid("network.api " + config.network.api +
                     " is not a loopback address: add an API client first (duanka-admin "
                     "api-client add NAME, or NAME --certificate with files.api_client_ca); " +
                     kRunbook);
    }
  }
  return o;
}

}  // namespace duanka::daemon
