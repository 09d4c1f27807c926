// The HTTP API's named clients (HOME/api-clients.toml, files.api_clients): who may call the API
// and by what proof, a bearer token or a client certificate. The name is the `user` of the
// client's audit lines and the key of its rate limit.
//
// Only the SHA-256 of a token is stored: the file tells a reader who the clients are, never how
// to be one. A token is 256 random bits, so a plain hash is as strong as a slow one would be.
// `duanka-admin api-client` writes the file; duankad reads it at start and on SIGHUP.
//
//   [clients.crm]
//   token_sha256 = "9f86d0…"            # 64 hex digits
//   added = "2026-12-06T12:00:00Z"
//   [clients."teller.app"]
//   certificate = true                  # a client certificate whose CN is "teller.app"
//   added = "2026-12-06T12:00:00Z"
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/base/result.h"
#include "crypto/crypto.h"

namespace duanka::daemon {

// A name: 1 to 64 of A-Z a-z 0-9 . _ - (it appears in audit lines, metrics labels and logs).
inline constexpr size_t kMaxApiClientNameBytes = 64;
// The client the single legacy token file (files.api_token) stands for.
inline constexpr std::string_view kLegacyTokenClient = "token";
// The file is a few lines per client; anything far larger is not one.
inline constexpr size_t kMaxApiClientsFileBytes = 1 << 20;
// Random bytes in a new token (hex-encoded after kApiTokenPrefix).
inline constexpr size_t kApiTokenBytes = 32;
// Marks a duanka API token, so that secret scanners and people recognise a leaked one.
inline constexpr std::string_view kApiTokenPrefix = "dka_";

bool IsValidApiClientName(std::string_view name);

struct ApiClient {
  std::string name;
  std::optional<crypto::Hash256> token_sha256;  // authenticates by bearer token
  bool certificate = false;                     // authenticates by a client certificate (CN)
  std::string added;                            // ISO time, for `api-client list`
};

struct ApiClients {
  std::vector<ApiClient> clients;  // in name order, names unique
  const ApiClient* Find(std::string_view name) const;
  bool empty() const { return clients.empty(); }
};

// Reads the file. kNotFound if it does not exist; kInvalidInput, one line naming the file and
// the client, for anything malformed.
Result<ApiClients> LoadApiClients(const std::filesystem::path& path);
// Writes it atomically, mode 0600 (it holds no secret, but who the clients are is the
// institution's business).
Status SaveApiClients(const std::filesystem::path& path, const ApiClients& clients);

// A new random token, kApiTokenPrefix + 64 hex digits.
std::string NewApiToken();

}  // namespace duanka::daemon
