#include "node/daemon/api_clients.h"

#include <sodium.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <sstream>

namespace duanka::daemon {
namespace {

Error Bad(const std::filesystem::path& path, const std::string& why) {
  return MakeError(ErrorKind::kInvalidInput, path.string() + ": " + why);
}

}  // namespace

bool IsValidApiClientName(std::string_view name) {
  if (name.empty() || name.size() > kMaxApiClientNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

const ApiClient* ApiClients::Find(std::string_view name) const {
  for (const ApiClient& c : clients) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<ApiClients> LoadApiClients(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return MakeError(ErrorKind::kNotFound, "no API clients file " + path.string());
  }
  Result<std::string> text = base::ReadFile(path, kMaxApiClientsFileBytes);
  if (!text) return std::move(text).error();
  toml::table root;
  try {
    root = toml::parse(*text, path.string());
  } catch (const toml::parse_error& e) {
    return Bad(path, "line " + std::to_string(e.source().begin.line) + ": " +
                         std::string(e.description()));
  }
  ApiClients out;
  for (const auto& [key, node] : root) {
    if (key.str() != "clients" || !node.is_table()) {
      return Bad(path, "unexpected \"" + std::string(key.str()) + "\"; expected [clients.NAME]");
    }
  }
  const toml::table* clients = root["clients"].as_table();
  if (clients == nullptr) return out;
  for (const auto& [key, node] : *clients) {
    const std::string name(key.str());
    if (!IsValidApiClientName(name)) {
      return Bad(path, "client name \"" + name.substr(0, kMaxApiClientNameBytes) +
                           "\": expected 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    const toml::table* fields = node.as_table();
    if (fields == nullptr) return Bad(path, "client " + name + ": expected a table");
    ApiClient c;
    c.name = name;
    for (const auto& [field, value] : *fields) {
      const std::string_view f = field.str();
      if (f == "token_sha256" && value.is_string()) {
        std::optional<crypto::Bytes> digest = crypto::FromHex(value.as_string()->get());
        if (!digest || digest->size() != crypto::Hash256{}.bytes.size()) {
          return Bad(path, "client " + name + ": token_sha256: expected 64 hex digits");
        }
        crypto::Hash256 h;
        std::copy(digest->begin(), digest->end(), h.bytes.begin());
        c.token_sha256 = h;
      } else if (f == "certificate" && value.is_boolean()) {
        c.certificate = value.as_boolean()->get();
      } else if (f == "added" && value.is_string()) {
        c.added = value.as_string()->get();
      } else {
        return Bad(path, "client " + name + ": unexpected " + std::string(f) +
                             " (expected token_sha256 = \"HEX\", certificate = true, added)");
      }
    }
    if (c.token_sha256.has_value() == c.certificate) {
      return Bad(path, "client " + name + ": expected exactly one of token_sha256 or certificate");
    }
    out.clients.push_back(std::move(c));
  }
  std::sort(out.clients.begin(), out.clients.end(),
            [](const ApiClient& a, const ApiClient& b) { return a.name < b.name; });
  return out;
}

Status SaveApiClients(const std::filesystem::path& path, const ApiClients& clients) {
  toml::table table;
  for (const ApiClient& c : clients.clients) {
    toml::table fields;
    if (c.token_sha256) fields.insert("token_sha256", c.token_sha256->Hex());
    if (c.certificate) fields.insert("certificate", true);
    if (!c.added.empty()) fields.insert("added", c.added);
    table.insert(c.name, std::move(fields));
  }
  std::ostringstream text;
  text << "# duankad's HTTP API clients: managed by `duanka-admin api-client add|remove|list`.\n"
          "# Tokens are stored only as their SHA-256; duankad reads this file at start and on "
          "SIGHUP.\n";
  text << toml::table{{"clients", std::move(table)}} << "\n";
  return base::WriteFileAtomic(path, text.str(), 0600, /*overwrite=*/true);
}

std::string NewApiToken() {
  crypto::EnsureInitialized();
  std::array<uint8_t, kApiTokenBytes> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::string token = std::string(kApiTokenPrefix) + crypto::ToHex(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  return token;
}

}  // namespace duanka::daemon
