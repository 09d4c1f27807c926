// duanka.toml → Config. Every key is known here; an unknown one is refused by name.
#include "node/common/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <string_view>

#include "crypto/crypto.h"
#include "node/common/host_port.h"
#include "node/common/risk.h"
#include "protocol/message.h"

namespace duanka::node {
namespace {

Error Bad(const std::filesystem::path& file, const std::string& key, const std::string& why) {
  return MakeError(ErrorKind::kInvalidInput, file.string() + ": " + key + ": " + why);
}

// A constant array, not a std::set: the lookup CLI reads duanka.toml at every start, and a set
// built there costs a hundred allocations for the handful of keys a file holds.
std::span<const std::string_view> KnownKeys() {
  static constexpr std::string_view keys[] = {
      "institution",
      "files.ca",
      "files.crl",
      "files.pepper",
      "files.tls_cert",
      "files.tls_key",
      "files.signing_cert",
      "files.signing_key",
      "files.store",
      "files.audit_log",
      "listing.psb_identified_days",
      "listing.convicted_days",
      "listing.institution_days",
      "store.initial_map_mb",
      "store.max_map_gb",
      "flood.daily_entry_limit",
      "alerts.webhook_url",
      "alerts.webhook_ca_file",
      "alerts.webhook_timeout_ms",
      "alerts.webhook_max_backoff_s",
      "grading.rules",
      "network.listen",
      "network.api",
      "network.peers",
      "files.api_token",
      "files.api_tls_cert",
      "files.api_tls_key",
      "files.api_client_ca",
      "files.api_clients",
      "network.api_host_names",
      "network.api_tls_min_version",
      // [limits]: each read into DaemonLimits in LoadConfig; a key read there but missing here
      // is refused as unknown.
      "limits.max_frame_bytes",
      "limits.records_per_want",
      "limits.wants_in_flight",
      "limits.max_uncommitted_records",
      "limits.handshake_timeout_ms",
      "limits.idle_timeout_ms",
      "limits.ping_interval_ms",
      "limits.want_hedge_ms",
      "limits.want_timeout_ms",
      "limits.heads_interval_ms",
      "limits.shutdown_timeout_ms",
      "limits.connections_per_peer",
      "limits.max_replicas",
      "limits.max_inbound_connections",
      "limits.max_handshaking_connections",
      "limits.handshakes_per_address",
      "limits.reconnect_min_ms",
      "limits.reconnect_max_ms",
      "limits.ban_base_seconds",
      "limits.ban_max_seconds",
      "limits.max_send_queue_bytes",
      "limits.verify_threads",
      "limits.api_threads",
      "limits.max_api_batch_items",
      "limits.max_api_connections",
      "limits.wants_per_peer",
      "limits.max_unknown_feeds_per_peer",
      "limits.max_unprocessed_bytes_per_peer",
      "limits.max_clock_skew_seconds",
      "limits.api_requests_per_second",
      "limits.api_request_burst",
  };
  return keys;
}

// Collects "table.key" names so that a misspelt key is reported instead of ignored.
void CollectKeys(const toml::table& table, const std::string& prefix,
                 std::vector<std::string>& out) {
  for (const auto& [key, node] : table) {
    std::string name =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      CollectKeys(*sub, name, out);
    } else {
      out.push_back(name);
    }
  }
}

// The node at a dotted key ("limits.api_threads"), or null. The keys read here are bare names
// joined by dots, so a walk down the tables does what toml::at_path does without parsing a path
// (which costs the lookup CLI about a thousand instructions per key, at every start).
const toml::node* AtKey(const toml::table& root, std::string_view key) {
  const toml::table* table = &root;
  for (;;) {
    const size_t dot = key.find('.');
    const toml::node* node = table->get(key.substr(0, dot));
    if (node == nullptr || dot == std::string_view::npos) return node;
    table = node->as_table();
    if (table == nullptr) return nullptr;
    key.remove_prefix(dot + 1);
  }
}

class Reader {
 public:
  Reader(const toml::table& root, std::filesystem::path file, std::filesystem::path home)
      : root_(root), file_(std::move(file)), home_(std::move(home)) {}

  Status String(const std::string& key, std::string& out) {
    const toml::node* node = AtKey(root_, key);
    if (node == nullptr) return Ok();
    if (!node->is_string()) return Bad(file_, key, "expected a string");
    out = node->as_string()->get();
    return Ok();
  }

  Status Path(const std::string& key, std::filesystem::path& out) {
    std::string text;
    if (Status s = String(key, text); !s) return s;
    if (text.empty()) return Ok();
    std::filesystem::path p(text);
    out = p.is_absolute() ? p : home_ / p;
    return Ok();
  }

  Status Int(const std::string& key, int64_t min, int64_t max, auto& out) {
    const toml::node* node = AtKey(root_, key);
    if (node == nullptr) return Ok();
    if (!node->is_integer()) return Bad(file_, key, "expected a whole number");
    int64_t v = node->as_integer()->get();
    if (v < min || v > max) {
      return Bad(file_, key,
                 "expected a number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    return Ok();
  }

  Status Strings(const std::string& key, std::vector<std::string>& out) {
    const toml::node* node = AtKey(root_, key);
    if (node == nullptr) return Ok();
    const toml::array* array = node->as_array();
    if (array == nullptr) return Bad(file_, key, "expected a list of strings");
    out.clear();
    for (const toml::node& item : *array) {
      if (!item.is_string()) return Bad(file_, key, "expected a list of strings");
      out.push_back(item.as_string()->get());
    }
    return Ok();
  }

 private:
  const toml::table& root_;
  std::filesystem::path file_;
  std::filesystem::path home_;
};

constexpr std::string_view kIssuerLimitsPrefix = "flood.issuer_limits.";
// Per-day limits above this are no limit at all, and likely a typo.
constexpr int64_t kMaxDailyEntryLimit = 100'000'000;

Status ReadFlood(const toml::table& root, Reader& r, const std::filesystem::path& file,
                 FloodSettings& flood) {
  if (Status s = r.Int("flood.daily_entry_limit", 1, kMaxDailyEntryLimit, flood.daily_entry_limit);
      !s) {
    return s;
  }
  const toml::node* node = root.at_path("flood.issuer_limits").node();
  if (node == nullptr) return Ok();
  const toml::table* table = node->as_table();
  const std::string key(kIssuerLimitsPrefix.substr(0, kIssuerLimitsPrefix.size() - 1));
  if (table == nullptr) return Bad(file, key, "expected a table of CODE = limit");
  for (const auto& [code, value] : *table) {
    std::string name = std::string(kIssuerLimitsPrefix) + std::string(code.str());
    if (!base::IsValidInstitutionCode(std::string(code.str()))) {
      return Bad(file, name, "expected an institution code ([A-Z0-9]{2,16}) as the key");
    }
    uint64_t limit = 0;
    if (Status s = r.Int(name, 1, kMaxDailyEntryLimit, limit); !s) return s;
    flood.issuer_limits[std::string(code.str())] = limit;
  }
  return Ok();
}

// A webhook URL is a line of config; anything far longer is a mistake.
constexpr size_t kMaxWebhookUrlBytes = 2048;
constexpr uint16_t kHttpPort = 80;
constexpr uint16_t kHttpsPort = 443;
// A POST that takes longer than this is no webhook; a backoff beyond it hides an outage.
constexpr int64_t kMaxWebhookTimeoutMs = 600'000;
constexpr int64_t kMaxWebhookBackoffSeconds = 86'400;

Status ReadAlerts(Reader& r, const std::filesystem::path& file, AlertSettings& alerts) {
  std::filesystem::path ca_file;
  for (Status s : {
           r.String("alerts.webhook_url", alerts.webhook_url),
           r.Path("alerts.webhook_ca_file", ca_file),
           r.Int("alerts.webhook_timeout_ms", kMinWebhookTimeoutMs, kMaxWebhookTimeoutMs,
                 alerts.webhook_timeout_ms),
           r.Int("alerts.webhook_max_backoff_s", kMinWebhookMaxBackoffSeconds,
                 kMaxWebhookBackoffSeconds, alerts.webhook_max_backoff_s),
       }) {
    if (!s) return s;
  }
  if (!ca_file.empty()) alerts.webhook_ca_file = ca_file;
  if (alerts.webhook_url.empty()) {
    if (alerts.webhook_ca_file) {
      return Bad(file, "alerts.webhook_ca_file", "set without alerts.webhook_url");
    }
    return Ok();
  }
  Result<WebhookUrl> url = ParseWebhookUrl(alerts.webhook_url);
  if (!url) return Bad(file, "alerts.webhook_url", url.error().message);
  if (alerts.webhook_ca_file && !url->tls) {
    return Bad(file, "alerts.webhook_ca_file",
               "set, but alerts.webhook_url is http://, which verifies no certificate (use "
               "https://)");
  }
  return Ok();
}

// TOML text, or kInvalidInput naming the file, the line and what is wrong.
Result<toml::table> ParseToml(const std::string& text, const std::filesystem::path& file) {
  try {
    return toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorKind::kInvalidInput, file.string() + ":" +
                                                   std::to_string(e.source().begin.line) + ": " +
                                                   std::string(e.description()));
  }
}

// A rule's min_entries and min_issuers: far above what any subject gathers, low enough that a typo
// of a few extra digits is caught.
constexpr int64_t kMaxRuleCount = 1'000'000;

// [[grading.rules]] in duanka.toml and [[rules]] in a policy file: tables of one shape, grouped
// by their purpose in order of first appearance. `key` names the array in messages.
Result<protocol::GradingPolicy> ReadGradingRules(const toml::table& root, const std::string& key,
                                                 const std::filesystem::path& file) {
  static const std::set<std::string, std::less<>> kRuleKeys = {
      "purpose",     "name",      "tier",       "min_entries",
      "min_issuers", "min_basis", "categories", "within_days"};
  protocol::GradingPolicy out;
  const toml::node* node = root.at_path(key).node();
  if (node == nullptr) return out;
  const toml::array* array = node->as_array();
  if (array == nullptr) return Bad(file, key, "expected [[" + key + "]] tables");
  size_t index = 0;
  for (const toml::node& item : *array) {
    const std::string where = key + " #" + std::to_string(++index);
    const toml::table* t = item.as_table();
    if (t == nullptr) return Bad(file, where, "expected a table of rule keys");
    for (const auto& [k, v] : *t) {
      if (!kRuleKeys.count(k.str())) {
        return Bad(file, where + "." + std::string(k.str()),
                   "unknown key; expected purpose, name, tier, min_entries, min_issuers, "
                   "min_basis, categories, within_days");
      }
    }
    const auto text = [&](const char* k) -> std::optional<std::string> {
      const toml::node* n = t->get(k);
      if (n == nullptr || !n->is_string()) return std::nullopt;
      return n->as_string()->get();
    };
    const auto count = [&](const char* k, int64_t min, int64_t max, uint32_t& value) -> Status {
      const toml::node* n = t->get(k);
      if (n == nullptr) return Ok();
      if (!n->is_integer() || n->as_integer()->get() < min || n->as_integer()->get() > max) {
        return Bad(
            file, where + "." + k,
            "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
      }
      value = static_cast<uint32_t>(n->as_integer()->get());
      return Ok();
    };
    std::optional<std::string> purpose = text("purpose");
    if (!purpose)
      return Bad(file, where + ".purpose", "missing; expected a purpose or \"default\"");
    protocol::GradingRule rule;
    std::optional<std::string> name = text("name");
    if (!name) return Bad(file, where + ".name", "missing; expected a rule name");
    rule.name = *name;
    std::optional<std::string> tier_name = text("tier");
    std::optional<protocol::GradeTier> tier = tier_name ? ParseTier(*tier_name) : std::nullopt;
    if (!tier || *tier == protocol::GradeTier::kNone) {
      return Bad(file, where + ".tier", "expected watch, review or deny");
    }
    rule.tier = *tier;
    if (const toml::node* n = t->get("min_basis")) {
      std::optional<protocol::Basis> basis =
          n->is_string() ? protocol::ParseBasis(n->as_string()->get()) : std::nullopt;
      if (!basis) {
        return Bad(file, where + ".min_basis", "expected one of " + protocol::AllBasisNames());
      }
      rule.min_basis = *basis;
    }
    if (const toml::node* n = t->get("categories")) {
      const toml::array* cats = n->as_array();
      if (cats == nullptr) return Bad(file, where + ".categories", "expected a list of categories");
      for (const toml::node& c : *cats) {
        std::optional<protocol::Category> category =
            c.is_string() ? protocol::ParseCategory(c.as_string()->get()) : std::nullopt;
        if (!category) {
          return Bad(file, where + ".categories",
                     "expected categories among " + protocol::AllCategoryNames());
        }
        rule.categories.push_back(*category);
      }
    }
    for (Status s : {count("min_entries", 1, kMaxRuleCount, rule.min_entries),
                     count("min_issuers", 1, kMaxRuleCount, rule.min_issuers),
                     count("within_days", 0, protocol::kMaxGradingWithinDays, rule.within_days)}) {
      if (!s) return std::move(s).error();
    }
    auto group =
        std::find_if(out.purposes.begin(), out.purposes.end(),
                     [&](const protocol::PurposeRules& pr) { return pr.purpose == *purpose; });
    if (group == out.purposes.end()) {
      out.purposes.push_back({*purpose, {}});
      group = out.purposes.end() - 1;
    }
    group->rules.push_back(std::move(rule));
  }
  if (Status s = CheckPolicyNames(out); !s) return Bad(file, key, s.error().message);
  return out;
}

bool IsHostPort(const std::string& s) {
  return ParseHostPort(s).ok();
}

std::string Quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

}  // namespace

int64_t ListingPolicy::LifetimeSeconds(protocol::Basis basis) const {
  static constexpr int64_t kDay = 24 * 3600;
  switch (basis) {
    case protocol::Basis::kPsbIdentified:
      return psb_identified_days * kDay;
    case protocol::Basis::kConvicted:
      return convicted_days * kDay;
    case protocol::Basis::kInstitution:
      return institution_days * kDay;
  }
  return institution_days * kDay;
}

std::filesystem::path ResolveHome(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  if (const char* env = std::getenv("DUANKA_HOME"); env != nullptr && *env != '\0') return env;
  return kDefaultHome;
}

Config Config::Defaults(const std::filesystem::path& home, std::string institution) {
  Config c;
  c.home = home;
  c.institution = std::move(institution);
  c.ca = home / "ca.pem";
  if (std::filesystem::exists(home / "crl.pem")) c.crl = home / "crl.pem";
  c.pepper = home / "pepper.key";
  c.tls_cert = home / "tls.pem";
  c.tls_key = home / "tls.key";
  c.signing_cert = home / "signing.pem";
  c.signing_key = home / "signing.key";
  c.store = home / "store";
  c.audit_log = home / "audit.log";
  c.api_token = home / "api.token";
  if (std::filesystem::exists(home / "api-tls.pem")) c.api_tls_cert = home / "api-tls.pem";
  c.api_tls_key = home / "api-tls.key";
  if (std::filesystem::exists(home / "api-client-ca.pem")) {
    c.api_client_ca = home / "api-client-ca.pem";
  }
  c.api_clients = home / "api-clients.toml";
  return c;
}

std::string Config::ToToml() const {
  std::string out =
      "# duanka node configuration. Relative paths are relative to this HOME directory.\n"
      "# Every key, its default and meaning: " +
      std::string(kExampleConfigPath) + "\n";
  out += "institution = " + Quote(institution) + "\n\n[network]\n";
  if (!network.listen.empty()) out += "listen = " + Quote(network.listen) + "\n";
  out += "api = " + Quote(network.api) + "\n";
  out += "peers = [";
  for (size_t i = 0; i < network.peers.size(); ++i) {
    out += (i ? ", " : "") + Quote(network.peers[i]);
  }
  out += "]\n";
  return out;
}

store::Options StoreOptionsFrom(const Config& config) {
  store::Options o;
  o.path = config.store;
  o.initial_map_bytes = config.store_settings.initial_map_mb << 20;
  o.max_map_bytes = config.store_settings.max_map_gb << 30;
  o.flood.daily_entries = config.flood.daily_entry_limit;
  o.flood.per_issuer = config.flood.issuer_limits;
  return o;
}

Result<PeerEntry> ParsePeerEntry(const std::string& text) {
  size_t at = text.find('@');
  if (at == std::string::npos || !base::IsValidInstitutionCode(text.substr(0, at)) ||
      !IsHostPort(text.substr(at + 1))) {
    return MakeError(ErrorKind::kInvalidInput,
                     "\"" + text +
                         "\" is not CODE@HOST:PORT, the institution expected there and its "
                         "address (e.g. BANKB@10.0.0.2:7400)");
  }
  return PeerEntry{text.substr(0, at), text.substr(at + 1)};
}

Result<WebhookUrl> ParseWebhookUrl(const std::string& text) {
  const std::string expected =
      "expected http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH (e.g. "
      "https://alerts.bank.example/duanka)";
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorKind::kInvalidInput, expected + ": " + why);
  };
  if (text.size() > kMaxWebhookUrlBytes) {
    return bad("longer than " + std::to_string(kMaxWebhookUrlBytes) + " characters");
  }
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (u <= ' ' || u >= 0x7f) return bad("spaces, control or non-ASCII characters");
  }
  WebhookUrl url;
  std::string_view rest = text;
  if (rest.starts_with("https://")) {
    url.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return bad("the scheme must be http or https");
  }
  if (rest.find('#') != std::string_view::npos) return bad("a fragment (#) is not sent");
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    return bad("user information (USER@) is not supported");
  }
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("an IPv6 address lacks its ]");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("expected :PORT after the IPv6 address");
      port = after.substr(1);
    }
    in6_addr parsed{};
    if (::inet_pton(AF_INET6, url.host.c_str(), &parsed) != 1) return bad("not an IPv6 address");
  } else {
    const size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    for (char ch : url.host) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '.') {
        return bad("the host must be a name or an address");
      }
    }
  }
  if (url.host.empty()) return bad("no host");
  url.port = url.tls ? kHttpsPort : kHttpPort;
  if (port.data() != nullptr) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
    url.port = static_cast<uint16_t>(value);
  }
  return url;
}

Result<Config> LoadConfig(const std::filesystem::path& home) {
  const std::filesystem::path file = home / kConfigFileName;
  std::error_code ec;
  const bool present = std::filesystem::exists(file, ec);
  // exists() clears ec for a missing file: what is left (EACCES on HOME, most often) says that
  // whether the file is there cannot be told, and "no duanka.toml" would send the operator astray.
  const std::string owner_hint =
      " (run as the owner of " + home.string() + ", e.g. runuser -u duanka -- COMMAND)";
  if (ec) {
    return MakeError(ErrorKind::kIo,
                     "cannot read " + file.string() + ": " + ec.message() +
                         (ec == std::errc::permission_denied ? owner_hint : std::string()));
  }
  if (!present) {
    return MakeError(ErrorKind::kNotFound, "no " + file.string() +
                                               " (set --home or DUANKA_HOME, or run duanka-admin "
                                               "init to create one)");
  }
  Result<std::string> text = base::ReadFile(file, kMaxConfigBytes);
  if (!text) {
    Error e = std::move(text).error();
    if (::access(file.c_str(), R_OK) != 0 && errno == EACCES) e.message += owner_hint;
    return e;
  }
  Result<toml::table> parsed = ParseToml(*text, file);
  if (!parsed) return std::move(parsed).error();
  const toml::table& root = *parsed;
  std::vector<std::string> keys;
  CollectKeys(root, "", keys);
  for (const std::string& key : keys) {
    // Read, and checked, by ReadFlood.
    if (key.starts_with(kIssuerLimitsPrefix) || key == "flood.issuer_limits") continue;
    if (std::ranges::find(KnownKeys(), key) == KnownKeys().end()) {
      return Bad(
          file, key,
          "unknown key (see " + std::string(kExampleConfigPath) + " for the keys there are)");
    }
  }
  Config c = Config::Defaults(home, "");
  Reader r(root, file, home);
  std::filesystem::path crl;
  std::filesystem::path api_tls_cert, api_client_ca;
  for (Status s : {
           r.String("institution", c.institution),
           r.Path("files.ca", c.ca),
           r.Path("files.crl", crl),
           r.Path("files.pepper", c.pepper),
           r.Path("files.tls_cert", c.tls_cert),
           r.Path("files.tls_key", c.tls_key),
           r.Path("files.signing_cert", c.signing_cert),
           r.Path("files.signing_key", c.signing_key),
           r.Path("files.store", c.store),
           r.Path("files.audit_log", c.audit_log),
           r.Int("listing.psb_identified_days", 1, 3660, c.listing.psb_identified_days),
           r.Int("listing.convicted_days", 1, 3660, c.listing.convicted_days),
           r.Int("listing.institution_days", 1, 3660, c.listing.institution_days),
           r.Int("store.initial_map_mb", 1, 1 << 20, c.store_settings.initial_map_mb),
           r.Int("store.max_map_gb", 1, 1 << 20, c.store_settings.max_map_gb),
           r.String("network.listen", c.network.listen),
           r.String("network.api", c.network.api),
           r.Strings("network.peers", c.network.peers),
           r.Path("files.api_token", c.api_token),
           r.Path("files.api_tls_cert", api_tls_cert),
           r.Path("files.api_tls_key", c.api_tls_key),
           r.Path("files.api_client_ca", api_client_ca),
           r.Path("files.api_clients", c.api_clients),
           r.Strings("network.api_host_names", c.network.api_host_names),
           r.String("network.api_tls_min_version", c.network.api_tls_min_version),
       }) {
    if (!s) return std::move(s).error();
  }
  if (Status s = ReadFlood(root, r, file, c.flood); !s) return std::move(s).error();
  if (Status s = ReadAlerts(r, file, c.alerts); !s) return std::move(s).error();
  Result<protocol::GradingPolicy> grading = ReadGradingRules(root, "grading.rules", file);
  if (!grading) return std::move(grading).error();
  c.local_grading = std::move(*grading);
  DaemonLimits& l = c.limits;
  constexpr int64_t kMs = 1, kDayMs = 24LL * 3600 * 1000;
  // About 1.2 GiB of records in memory at the measured 1.2 KiB each: what a typo may cost at most.
  constexpr int64_t kMaxUncommittedRecords = 1 << 20;
  for (Status s : {
           // Below the default, a full `records` answer of honest peers would not fit.
           r.Int("limits.max_frame_bytes", 8LL << 20, 256LL << 20, l.max_frame_bytes),
           // Peers refuse a want for more than one `records` message carries.
           r.Int("limits.records_per_want", 1, protocol::MessageLimits{}.max_want_count,
                 l.records_per_want),
           r.Int("limits.wants_in_flight", 1, 64, l.wants_in_flight),
           r.Int("limits.max_uncommitted_records", 0, kMaxUncommittedRecords,
                 l.max_uncommitted_records),
           r.Int("limits.handshake_timeout_ms", 100 * kMs, kDayMs, l.handshake_timeout_ms),
           r.Int("limits.idle_timeout_ms", 100 * kMs, kDayMs, l.idle_timeout_ms),
           r.Int("limits.ping_interval_ms", 50 * kMs, kDayMs, l.ping_interval_ms),
           r.Int("limits.want_hedge_ms", 10 * kMs, kDayMs, l.want_hedge_ms),
           r.Int("limits.want_timeout_ms", 100 * kMs, kDayMs, l.want_timeout_ms),
           r.Int("limits.heads_interval_ms", 100 * kMs, kDayMs, l.heads_interval_ms),
           r.Int("limits.shutdown_timeout_ms", 10 * kMs, kDayMs, l.shutdown_timeout_ms),
           r.Int("limits.connections_per_peer", 1, 16, l.connections_per_peer),
           r.Int("limits.max_replicas", 0, 256, l.max_replicas),
           r.Int("limits.max_inbound_connections", 1, 65536, l.max_inbound_connections),
           r.Int("limits.max_handshaking_connections", 1, 65536, l.max_handshaking_connections),
           r.Int("limits.handshakes_per_address", 1, 65536, l.handshakes_per_address),
           r.Int("limits.reconnect_min_ms", 10 * kMs, kDayMs, l.reconnect_min_ms),
           r.Int("limits.reconnect_max_ms", 10 * kMs, kDayMs, l.reconnect_max_ms),
           r.Int("limits.ban_base_seconds", 1, 86400, l.ban_base_seconds),
           r.Int("limits.ban_max_seconds", 1, 30LL * 86400, l.ban_max_seconds),
           r.Int("limits.max_send_queue_bytes", 1LL << 20, 4LL << 30, l.max_send_queue_bytes),
           r.Int("limits.verify_threads", 1, 64, l.verify_threads),
           r.Int("limits.api_threads", 1, 64, l.api_threads),
           r.Int("limits.max_api_batch_items", 1, 1000000, l.max_api_batch_items),
           r.Int("limits.max_api_connections", 1, 65536, l.max_api_connections),
           r.Int("limits.wants_per_peer", 1, 256, l.wants_per_peer),
           r.Int("limits.max_unknown_feeds_per_peer", 0, 1000000, l.max_unknown_feeds_per_peer),
           // At least one whole frame must fit, or a peer's largest message would stall it.
           r.Int("limits.max_unprocessed_bytes_per_peer", 8LL << 20, 4LL << 30,
                 l.max_unprocessed_bytes_per_peer),
           r.Int("limits.max_clock_skew_seconds", 1, 86400, l.max_clock_skew_seconds),
           r.Int("limits.api_requests_per_second", 0, 1000000, l.api_requests_per_second),
           r.Int("limits.api_request_burst", 1, 1000000, l.api_request_burst),
       }) {
    if (!s) return std::move(s).error();
  }
  if (l.ping_interval_ms >= l.idle_timeout_ms) {
    return Bad(file, "limits.ping_interval_ms",
               "must be below limits.idle_timeout_ms, or live "
               "peers would be dropped as idle");
  }
  if (l.want_hedge_ms >= l.want_timeout_ms) {
    return Bad(file, "limits.want_hedge_ms",
               "must be below limits.want_timeout_ms, or a silent peer would be refused before "
               "anyone else is asked");
  }
  if (l.max_unprocessed_bytes_per_peer < l.max_frame_bytes) {
    return Bad(file, "limits.max_unprocessed_bytes_per_peer",
               "must be at least limits.max_frame_bytes, or one whole frame could never be read");
  }
  if (l.reconnect_min_ms > l.reconnect_max_ms) {
    return Bad(file, "limits.reconnect_min_ms", "must not exceed limits.reconnect_max_ms");
  }
  if (!crl.empty()) c.crl = crl;
  if (!api_tls_cert.empty()) c.api_tls_cert = api_tls_cert;
  if (!api_client_ca.empty()) c.api_client_ca = api_client_ca;
  if (c.network.api_tls_min_version != "1.2" && c.network.api_tls_min_version != "1.3") {
    return Bad(file, "network.api_tls_min_version", "expected \"1.2\" or \"1.3\"");
  }
  for (const std::string& name : c.network.api_host_names) {
    if (name.empty() || name.find_first_of(":/[] ") != std::string::npos) {
      return Bad(file, "network.api_host_names",
                 "\"" + name + "\" is not a host name (no port, e.g. \"duanka.bank.example\")");
    }
  }
  if (!base::IsValidInstitutionCode(c.institution)) {
    return Bad(file, "institution",
               "expected an institution code of 2 to 16 capital letters and "
               "digits, e.g. BANKA");
  }
  if (!c.network.listen.empty() && !IsHostPort(c.network.listen)) {
    return Bad(file, "network.listen", "expected HOST:PORT, e.g. 0.0.0.0:7400");
  }
  if (!IsHostPort(c.network.api))
    return Bad(file, "network.api", "expected HOST:PORT, e.g. 127.0.0.1:7480");
  for (const std::string& peer : c.network.peers) {
    if (Result<PeerEntry> entry = ParsePeerEntry(peer); !entry) {
      return Bad(file, "network.peers", entry.error().message);
    }
  }
  return c;
}

Result<protocol::GradingPolicy> LoadPolicyFile(const std::filesystem::path& file) {
  Result<std::string> text = base::ReadFile(file, kMaxConfigBytes);
  if (!text) return std::move(text).error();
  Result<toml::table> parsed = ParseToml(*text, file);
  if (!parsed) return std::move(parsed).error();
  const toml::table& root = *parsed;
  for (const auto& [k, v] : root) {
    if (k.str() != "version" && k.str() != "rules") {
      return Bad(file, std::string(k.str()), "unknown key; expected version and [[rules]]");
    }
  }
  const toml::node* version = root.get("version");
  if (version == nullptr || !version->is_integer() || version->as_integer()->get() < 1 ||
      version->as_integer()->get() > std::numeric_limits<uint32_t>::max()) {
    return Bad(file, "version", "expected a whole number from 1 to 4294967295");
  }
  Result<protocol::GradingPolicy> policy = ReadGradingRules(root, "rules", file);
  if (!policy) return policy;
  policy->version = static_cast<uint32_t>(version->as_integer()->get());
  return policy;
}

}  // namespace duanka::node
