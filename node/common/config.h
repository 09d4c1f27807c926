// An institution's HOME directory and its duanka.toml: the one adapter from the file to the
// Options structs the components take. No component other than this one sees TOML.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/base/result.h"
#include "protocol/frame.h"
#include "protocol/notice.h"
#include "protocol/record.h"
#include "store/store.h"

namespace duanka::node {

inline constexpr const char* kDefaultHome = "/var/lib/duanka";
inline constexpr const char* kConfigFileName = "duanka.toml";
// Where the package installs the example with every key (what messages point operators to).
inline constexpr const char* kExampleConfigPath =
    "/usr/share/doc/duanka/examples/duanka.example.toml";
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
  // The default listing period for an entry of this basis, in seconds.
  int64_t LifetimeSeconds(protocol::Basis basis) const;
};

// [store]: the store's own defaults, in the units the file uses.
struct StoreSettings {
  uint64_t initial_map_mb = store::Options{}.initial_map_bytes >> 20;
  uint64_t max_map_gb = store::Options{}.max_map_bytes >> 30;
};

// [flood]: the flood guard (store::FloodLimits). An issuer's new entries beyond its limit for one
// issue day are stored and relayed but held at every node until released. The consortium's
// default, and per-issuer overrides under [flood.issuer_limits] (CODE = limit), each > 0.
inline constexpr uint64_t kDefaultDailyEntryLimit = 50'000;
struct FloodSettings {
  uint64_t daily_entry_limit = kDefaultDailyEntryLimit;
  std::map<std::string, uint64_t, std::less<>> issuer_limits;
};

// [alerts]: the webhook every alert is POSTed to (node/daemon/webhook.h); none while webhook_url
// is empty. The tools ignore it.
inline constexpr uint32_t kDefaultWebhookTimeoutMs = 5000;
inline constexpr uint32_t kDefaultWebhookMaxBackoffSeconds = 60;
// Below this no receiver gets a fair chance (a TLS handshake alone can take longer).
inline constexpr uint32_t kMinWebhookTimeoutMs = 100;
// Retries are never closer than a second apart, however many in a row fail.
inline constexpr uint32_t kMinWebhookMaxBackoffSeconds = 1;
struct AlertSettings {
  std::string webhook_url;  // http(s)://HOST[:PORT]/PATH, checked by ParseWebhookUrl
  // PEM bundle of the CAs the receiver's certificate must chain to; none: the system's.
  std::optional<std::filesystem::path> webhook_ca_file;
  uint32_t webhook_timeout_ms = kDefaultWebhookTimeoutMs;  // one POST: connect to response
  uint32_t webhook_max_backoff_s = kDefaultWebhookMaxBackoffSeconds;  // retries back off to this
};

// alerts.webhook_url, taken apart.
struct WebhookUrl {
  bool tls = false;    // https
  std::string host;    // a DNS name or an IP address (IPv6 without its brackets)
  uint16_t port = 0;   // the scheme's default when the URL names none
  std::string target;  // path and query, "/" at the least
};
// kInvalidInput, one line saying what is expected (the URL itself is not repeated).
Result<WebhookUrl> ParseWebhookUrl(const std::string& text);

// Daemon-only settings; the tools ignore them.
struct NetworkSettings {
  std::string listen;  // HOST:PORT for peers; empty: do not listen
  std::string api = "127.0.0.1:7480";
  std::vector<std::string> peers;  // CODE@HOST:PORT each (ParsePeerEntry)
  // Host header names the API answers besides loopback names and its own address (the DNS name
  // clients use, as in its certificate); any other Host is refused (DNS rebinding).
  std::vector<std::string> api_host_names;
  std::string api_tls_min_version = "1.2";  // "1.2" or "1.3"
};

// The daemon's limits and timeouts, each a config key under [limits] with this default.
struct DaemonLimits {
  // A frame over this ends the connection.
  size_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
  uint32_t records_per_want = 2048;  // records asked for in one `want`
  uint32_t wants_in_flight = 4;      // per feed, across peers: bounds memory in catch-up
  // Received and not yet committed, all feeds together: beyond a feed's share of wants_in_flight
  // (answered or not), further wants are sent only within this. Bounds a catch-up's memory
  // (about 1.2 KiB per record) and lets its commits grow to what the store's pace needs.
  uint32_t max_uncommitted_records = 65536;
  uint32_t handshake_timeout_ms = 10000;   // TCP connect + TLS handshake + hello
  uint32_t idle_timeout_ms = 45000;        // nothing received for this long: the peer is gone
  uint32_t ping_interval_ms = 15000;       // keepalive, well inside idle_timeout_ms
  uint32_t want_hedge_ms = 500;            // a `want` unanswered this long is also asked elsewhere
  uint32_t want_timeout_ms = 30000;        // a `want` unanswered this long: the peer is refused
  uint32_t heads_interval_ms = 30000;      // heads re-sent to repair anything missed
  uint32_t shutdown_timeout_ms = 3000;     // TLS close_notify; a silent peer is then cut off
  uint32_t connections_per_peer = 2;       // per institution (one each way)
  uint32_t max_replicas = 8;               // read replicas of this node served at once (0: none)
  uint32_t max_inbound_connections = 256;  // established (TLS done) inbound peer links
  // Inbound connections still in the TLS handshake (strangers until it ends): their own budget, so
  // that they never take an established link's place; when full, the oldest handshake of the
  // source holding the most is dropped for a newcomer from a source holding fewer.
  uint32_t max_handshaking_connections = 64;
  uint32_t handshakes_per_address = 8;  // of those, from one source IP address
  uint32_t reconnect_min_ms = 250;      // backoff doubles from here, with jitter
  uint32_t reconnect_max_ms = 60000;
  uint32_t ban_base_seconds = 30;  // a misbehaving peer is refused for this, doubling
  uint32_t ban_max_seconds = 3600;
  size_t max_send_queue_bytes = 64 << 20;  // a peer that does not read this much is dropped
  uint32_t verify_threads = 2;             // signature and chain verification workers
  uint32_t api_threads = 2;                // HTTP API and peer I/O threads
  uint32_t max_api_batch_items = 10000;    // items in one POST /v1/lookup/batch
  // HTTP API connections served at once; beyond it one is closed at once (with a 503). Lowered
  // at start, like max_inbound_connections, if they do not fit the descriptor limit.
  uint32_t max_api_connections = 256;
  // Hostile peers (sync layer): a peer's claims and per-peer state are bounded.
  uint32_t wants_per_peer = 8;               // wants one connection may have outstanding
  uint32_t max_unknown_feeds_per_peer = 64;  // heads of uncertified issuers before a penalty
  size_t max_unprocessed_bytes_per_peer = 16 << 20;  // frames waiting: the reader pauses beyond
  // Records dated further ahead wait; peers whose clock differs more are flagged.
  uint32_t max_clock_skew_seconds = protocol::kDefaultMaxClockSkewSeconds;
  // HTTP API, per client (its name, or its address without clients): requests per second, 0 for
  // no limit, and the burst allowed above it; beyond, 429 with Retry-After.
  uint32_t api_requests_per_second = 100;
  uint32_t api_request_burst = 200;
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
  FloodSettings flood;
  AlertSettings alerts;
  NetworkSettings network;
  DaemonLimits limits;
  // [[grading.rules]]: the node's own grading rules (node/common/risk.h), evaluated beside the
  // consortium's policy; the higher tier wins. Version 0, no purposes when none.
  protocol::GradingPolicy local_grading;
  // Optional bearer token for the HTTP API (required when api is not a loopback address).
  std::filesystem::path api_token;
  // TLS on the HTTP API: files.api_tls_cert, else HOME/api-tls.pem when that exists, else none.
  std::optional<std::filesystem::path> api_tls_cert;
  std::filesystem::path api_tls_key;
  // CA of API client certificates: files.api_client_ca, else HOME/api-client-ca.pem if present.
  std::optional<std::filesystem::path> api_client_ca;
  // Named API clients (duanka-admin api-client), used when the file exists.
  std::filesystem::path api_clients;

  // The defaults for a HOME: every file at its standard name inside it.
  static Config Defaults(const std::filesystem::path& home, std::string institution);
  // The duanka.toml that `duanka-admin init` writes: the institution and the [network] keys
  // (listen when set, api, peers), with a pointer to the example listing every other key.
  std::string ToToml() const;
};

// The store's options from [store] and files.store: one adapter for the three programs.
store::Options StoreOptionsFrom(const Config& config);

// A `network.peers` entry: the institution expected at an address, "CODE@HOST:PORT" (e.g.
// "BANKB@10.0.0.2:7400"). The daemon dialling it refuses any other member that answers there.
struct PeerEntry {
  std::string institution;
  std::string address;  // HOST:PORT
};
// kInvalidInput, one line naming the entry and the form expected.
Result<PeerEntry> ParsePeerEntry(const std::string& text);

// Reads HOME/duanka.toml. kNotFound if HOME or the file is missing (the message says to run
// `duanka-admin init`), kInvalidInput naming the key and the reason for a bad value or an unknown
// key (a typo must not silently fall back to a default).
Result<Config> LoadConfig(const std::filesystem::path& home);

// A grading policy file for `duanka-admin policy set`: TOML with `version = N` (>= 1) and
// [[rules]] tables of the shape [[grading.rules]] takes (purpose, name, tier, min_entries,
// min_issuers, min_basis, categories, within_days). kInvalidInput naming the key at fault.
Result<protocol::GradingPolicy> LoadPolicyFile(const std::filesystem::path& file);

}  // namespace duanka::node
