// An institution's HOME directory and its duanka.toml: the one adapter from the file to the
// Options structs the components take. No component other than this one sees TOML.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "crypto/result.h"

namespace duanka::node {

inline constexpr const char* kDefaultHome = "/var/lib/duanka";
inline constexpr const char* kConfigFileName = "duanka.toml";
// A duanka.toml is a few dozen lines; anything far larger is a mistake, not a config.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// --home, else $DUANKA_HOME, else /var/lib/duanka.
std::filesystem::path ResolveHome(const std::optional<std::string>& flag);

// Days an entry is listed when the reporter gives no --expires: a consortium setting, defaulting to
// the December 2024 measures (two years for PSB-identified, three for convicted) and one year for
// an institution's own finding.
struct ListingPolicy {
  int psb_identified_days = 730;
  int convicted_days = 1095;
  int institution_days = 365;
};

struct StoreSettings {
  uint64_t initial_map_mb = 64;
  uint64_t max_map_gb = 1024;
};

// Daemon-only settings; the tools ignore them.
struct NetworkSettings {
  std::string listen;  // HOST:PORT for peers; empty: do not listen
  std::string api = "127.0.0.1:7480";
  std::vector<std::string> peers;  // HOST:PORT each
};

struct Config {
  std::filesystem::path home;
  std::string institution;  // [A-Z0-9]{2,16}
  // Files, absolute after loading (relative paths in the file are relative to HOME).
  std::filesystem::path ca;
  std::optional<std::filesystem::path> crl;
  std::filesystem::path pepper;
  std::filesystem::path tls_cert;
  std::filesystem::path tls_key;
  std::filesystem::path signing_cert;
  std::filesystem::path signing_key;
  std::filesystem::path store;
  std::filesystem::path audit_log;
  ListingPolicy listing;
  StoreSettings store_settings;
  NetworkSettings network;

  // The defaults for a HOME: every file at its standard name inside it.
  static Config Defaults(const std::filesystem::path& home, std::string institution);
  // duanka.toml text with every key this Config differs from the defaults in, plus comments.
  std::string ToToml() const;
};

// Reads HOME/duanka.toml. kNotFound if HOME or the file is missing (the message says to run
// `duanka-admin init`), kInvalidInput naming the key and the reason for a bad value or an unknown
// key (a typo must not silently fall back to a default).
Result<Config> LoadConfig(const std::filesystem::path& home);

}  // namespace duanka::node
