// ops/duanka.example.toml against the real parser (node::LoadConfig): the example holds exactly
// the keys the parser knows, each at its default and with the range the parser enforces in its
// comment; the parser refuses an unknown key, a wrong-typed value or one out of range by name.
#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "node/common/config.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"

namespace duanka {
namespace {

const std::filesystem::path kExample = DUANKA_EXAMPLE_CONFIG;
const std::filesystem::path kConfigSource = DUANKA_CONFIG_SOURCE;
// The institution the example names; it is the one key without a default.
const std::string kInstitution = "BANKA";

std::string ReadAll(const std::filesystem::path& p) {
  EXPECT_TRUE(std::ifstream(p).good()) << "cannot read " << p;
  return testing::ReadAll(p);
}

// "table.key" for every value in the file, as config.cpp names them.
std::set<std::string> LeafKeys(const toml::table& table, const std::string& prefix = "") {
  std::set<std::string> out;
  for (const auto& [key, node] : table) {
    std::string name = (prefix.empty() ? "" : prefix + ".") + std::string(key.str());
    if (const toml::table* sub = node.as_table()) {
      out.merge(LeafKeys(*sub, name));
    } else {
      out.insert(name);
    }
  }
  return out;
}

// Every quoted "table.key" (or "institution") in `text`.
std::set<std::string> QuotedKeys(const std::string& text) {
  static const std::regex key(
      R"re("(institution|(files|listing|store|flood|alerts|network|limits)\.[a-z_]+)")re");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), key); it != std::sregex_iterator();
       ++it) {
    out.insert((*it)[1].str());
  }
  return out;
}

// The keys of `a` that `b` lacks, space-separated.
std::string Missing(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::string out;
  for (const std::string& k : a) {
    if (!b.count(k)) out += (out.empty() ? "" : " ") + k;
  }
  return out;
}

// `table` with `key` ("section.leaf" or a top-level key) set to `value`, as TOML text.
template <typename T>
std::string WithValue(toml::table table, const std::string& key, T&& value) {
  size_t dot = key.rfind('.');
  toml::table* parent =
      dot == std::string::npos ? &table : table.at_path(key.substr(0, dot)).as_table();
  if (parent == nullptr) {
    ADD_FAILURE() << "no table for " << key;
    return "";
  }
  parent->insert_or_assign(dot == std::string::npos ? key : key.substr(dot + 1),
                           std::forward<T>(value));
  std::ostringstream text;
  text << table;
  return text.str();
}

// The comment lines directly above `key`'s line in the example's text.
std::string CommentAbove(const std::string& text, const std::string& key) {
  size_t dot = key.rfind('.');
  std::string section;  // appended, not "[" + ... + "]": GCC 12 -O3 misreports -Wrestrict there
  if (dot != std::string::npos) section.append("[").append(key, 0, dot).append("]");
  const std::string assignment = key.substr(dot + 1) + " = ";
  std::istringstream in(text);
  std::string line, current, comment;
  while (std::getline(in, line)) {
    if (line.starts_with("[")) current = line;
    if (current == section && line.starts_with(assignment)) return comment;
    comment = line.starts_with("#") ? comment + line + "\n" : "";
  }
  return "";
}

class ExampleConfigTest : public ::testing::Test {
 protected:
  // Writes `text` as HOME/duanka.toml and loads it with the real parser.
  Result<node::Config> Load(const std::string& text) {
    std::ofstream(home_ / node::kConfigFileName, std::ios::binary | std::ios::trunc) << text;
    return node::LoadConfig(home_.path());
  }

  // Expects `text` to be refused as invalid input with a message naming `key`.
  void ExpectRefused(const std::string& text, const std::string& key, const std::string& why) {
    Result<node::Config> c = Load(text);
    ASSERT_FALSE(c.ok()) << key << ": accepted";
    EXPECT_EQ(c.error().kind, ErrorKind::kInvalidInput) << c.error().message;
    EXPECT_NE(c.error().message.find(key + ": "), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find(why), std::string::npos) << c.error().message;
  }

  testing::TempDir home_;
  const std::string example_ = ReadAll(kExample);
};

TEST_F(ExampleConfigTest, ExampleLoadsWithEveryValueAtItsDefault) {
  Result<node::Config> loaded = Load(example_);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const node::Config& c = *loaded;
  const node::Config d = node::Config::Defaults(home_.path(), kInstitution);

  EXPECT_EQ(c.home, d.home);
  EXPECT_EQ(c.institution, kInstitution);
  // [files]
  EXPECT_EQ(c.ca, d.ca);
  EXPECT_EQ(c.crl, d.crl);  // no crl.pem in HOME: none
  EXPECT_FALSE(c.crl.has_value());
  EXPECT_EQ(c.pepper, d.pepper);
  EXPECT_EQ(c.tls_cert, d.tls_cert);
  EXPECT_EQ(c.tls_key, d.tls_key);
  EXPECT_EQ(c.signing_cert, d.signing_cert);
  EXPECT_EQ(c.signing_key, d.signing_key);
  EXPECT_EQ(c.store, d.store);
  EXPECT_EQ(c.audit_log, d.audit_log);
  EXPECT_EQ(c.api_token, d.api_token);
  EXPECT_EQ(c.api_tls_cert, d.api_tls_cert);  // no api-tls.pem in HOME: no TLS
  EXPECT_FALSE(c.api_tls_cert.has_value());
  EXPECT_EQ(c.api_tls_key, d.api_tls_key);
  EXPECT_EQ(c.api_client_ca, d.api_client_ca);
  EXPECT_FALSE(c.api_client_ca.has_value());
  EXPECT_EQ(c.api_clients, d.api_clients);
  // [listing]
  EXPECT_EQ(c.listing.psb_identified_days, d.listing.psb_identified_days);
  EXPECT_EQ(c.listing.convicted_days, d.listing.convicted_days);
  EXPECT_EQ(c.listing.institution_days, d.listing.institution_days);
  // [store]
  EXPECT_EQ(c.store_settings.initial_map_mb, d.store_settings.initial_map_mb);
  EXPECT_EQ(c.store_settings.max_map_gb, d.store_settings.max_map_gb);
  // [flood]
  EXPECT_EQ(c.flood.daily_entry_limit, d.flood.daily_entry_limit);
  EXPECT_TRUE(c.flood.issuer_limits.empty());
  // [alerts]
  EXPECT_EQ(c.alerts.webhook_url, d.alerts.webhook_url);
  EXPECT_FALSE(c.alerts.webhook_ca_file.has_value());
  EXPECT_EQ(c.alerts.webhook_timeout_ms, d.alerts.webhook_timeout_ms);
  EXPECT_EQ(c.alerts.webhook_max_backoff_s, d.alerts.webhook_max_backoff_s);
  // [network]
  EXPECT_EQ(c.network.listen, d.network.listen);
  EXPECT_EQ(c.network.api, d.network.api);
  EXPECT_EQ(c.network.peers, d.network.peers);
  EXPECT_EQ(c.network.api_host_names, d.network.api_host_names);
  EXPECT_EQ(c.network.api_tls_min_version, d.network.api_tls_min_version);
  // [limits]: every DaemonLimits field.
  const node::DaemonLimits& l = c.limits;
  const node::DaemonLimits& dl = d.limits;
  EXPECT_EQ(l.max_frame_bytes, dl.max_frame_bytes);
  EXPECT_EQ(l.records_per_want, dl.records_per_want);
  EXPECT_EQ(l.wants_in_flight, dl.wants_in_flight);
  EXPECT_EQ(l.max_uncommitted_records, dl.max_uncommitted_records);
  EXPECT_EQ(l.handshake_timeout_ms, dl.handshake_timeout_ms);
  EXPECT_EQ(l.idle_timeout_ms, dl.idle_timeout_ms);
  EXPECT_EQ(l.ping_interval_ms, dl.ping_interval_ms);
  EXPECT_EQ(l.want_hedge_ms, dl.want_hedge_ms);
  EXPECT_EQ(l.want_timeout_ms, dl.want_timeout_ms);
  EXPECT_EQ(l.heads_interval_ms, dl.heads_interval_ms);
  EXPECT_EQ(l.shutdown_timeout_ms, dl.shutdown_timeout_ms);
  EXPECT_EQ(l.connections_per_peer, dl.connections_per_peer);
  EXPECT_EQ(l.max_replicas, dl.max_replicas);
  EXPECT_EQ(l.max_inbound_connections, dl.max_inbound_connections);
  EXPECT_EQ(l.max_handshaking_connections, dl.max_handshaking_connections);
  EXPECT_EQ(l.handshakes_per_address, dl.handshakes_per_address);
  EXPECT_EQ(l.reconnect_min_ms, dl.reconnect_min_ms);
  EXPECT_EQ(l.reconnect_max_ms, dl.reconnect_max_ms);
  EXPECT_EQ(l.ban_base_seconds, dl.ban_base_seconds);
  EXPECT_EQ(l.ban_max_seconds, dl.ban_max_seconds);
  EXPECT_EQ(l.max_send_queue_bytes, dl.max_send_queue_bytes);
  EXPECT_EQ(l.verify_threads, dl.verify_threads);
  EXPECT_EQ(l.api_threads, dl.api_threads);
  EXPECT_EQ(l.max_api_batch_items, dl.max_api_batch_items);
  EXPECT_EQ(l.max_api_connections, dl.max_api_connections);
  EXPECT_EQ(l.wants_per_peer, dl.wants_per_peer);
  EXPECT_EQ(l.max_unknown_feeds_per_peer, dl.max_unknown_feeds_per_peer);
  EXPECT_EQ(l.max_unprocessed_bytes_per_peer, dl.max_unprocessed_bytes_per_peer);
  EXPECT_EQ(l.max_clock_skew_seconds, dl.max_clock_skew_seconds);
  EXPECT_EQ(l.api_requests_per_second, dl.api_requests_per_second);
  EXPECT_EQ(l.api_request_burst, dl.api_request_burst);
}

TEST_F(ExampleConfigTest, EmptyCrlMeansCrlPemWhenPresent) {
  std::ofstream(home_ / "crl.pem") << "";
  Result<node::Config> c = Load(example_);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->crl, home_ / "crl.pem");
}

// config.cpp exposes no list of its keys, so its source is read: the keys it accepts (KnownKeys)
// and the keys LoadConfig reads must both be exactly the keys of the example. A key added to the
// parser without the example (or the other way round) fails here.
TEST_F(ExampleConfigTest, ExampleHoldsExactlyTheKeysTheParserKnows) {
  const std::set<std::string> example = LeafKeys(toml::parse(example_, kExample.string()));
  const std::string source = ReadAll(kConfigSource);

  size_t known_begin = source.find("KnownKeys() {");
  size_t known_end = source.find("};", known_begin);
  ASSERT_NE(known_begin, std::string::npos) << "KnownKeys() not found in " << kConfigSource;
  ASSERT_NE(known_end, std::string::npos);
  const std::set<std::string> known =
      QuotedKeys(source.substr(known_begin, known_end - known_begin));

  std::set<std::string> read;
  static const std::regex call(R"re(r\.(String|Path|Int|Strings)\("([^"]+)")re");
  for (auto it = std::sregex_iterator(source.begin(), source.end(), call);
       it != std::sregex_iterator(); ++it) {
    read.insert((*it)[2].str());
  }

  EXPECT_GE(known.size(), 39u) << "the scan of " << kConfigSource << " found too few keys";
  EXPECT_EQ(Missing(known, example), "") << "in KnownKeys() (config.cpp), not in the example";
  EXPECT_EQ(Missing(example, known), "") << "in the example, not in KnownKeys() (config.cpp)";
  EXPECT_EQ(Missing(read, example), "") << "read by LoadConfig (config.cpp), not in the example";
  EXPECT_EQ(Missing(example, read), "") << "in the example, never read by LoadConfig (config.cpp)";
}

TEST_F(ExampleConfigTest, UnknownKeyRefusedByName) {
  const std::string typo_in_limits =
      std::regex_replace(example_, std::regex(R"(\nmax_frame_bytes = )"), "\nmax_frame_byte = ");
  ASSERT_TRUE(typo_in_limits != example_) << "no max_frame_bytes line in " << kExample;
  ExpectRefused(typo_in_limits, "limits.max_frame_byte", "unknown key");

  ExpectRefused("wat = 1\n" + example_, "wat", "unknown key");
  ExpectRefused(example_ + "\n[limit]\nverify_threads = 2\n", "limit.verify_threads",
                "unknown key");
}

// Limits that are each in range but wrong together: a hedge no sooner than the timeout would
// refuse a silent peer before anyone else is asked; pings as slow as the idle timeout would drop
// live peers.
TEST_F(ExampleConfigTest, LimitsInTheWrongRelationRefusedByName) {
  auto with = [&](const std::string& key, const std::string& value) {
    std::string text = std::regex_replace(example_, std::regex("\n" + key + " = [0-9]+"),
                                          "\n" + key + " = " + value);
    EXPECT_NE(text, example_) << "no " << key << " line in " << kExample;
    return text;
  };
  ExpectRefused(with("want_hedge_ms", std::to_string(node::DaemonLimits{}.want_timeout_ms)),
                "limits.want_hedge_ms", "must be below limits.want_timeout_ms");
  ExpectRefused(with("ping_interval_ms", std::to_string(node::DaemonLimits{}.idle_timeout_ms)),
                "limits.ping_interval_ms", "must be below limits.idle_timeout_ms");
}

// A peer entry names the institution expected at the address; a bare address is refused at load,
// naming the entry and the form expected, and so is a malformed code or address.
TEST_F(ExampleConfigTest, PeerWithoutTheExpectedInstitutionRefusedNamingTheEntry) {
  auto with_peers = [&](const std::string& peers) {
    std::string text =
        std::regex_replace(example_, std::regex("\npeers = \\[\\]"), "\npeers = " + peers);
    EXPECT_NE(text, example_) << "no peers line in " << kExample;
    return text;
  };
  Result<node::Config> good =
      Load(with_peers(R"(["BANKB@10.0.0.2:7400", "BANKC@[fd00::3]:7400"])"));
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->network.peers,
            (std::vector<std::string>{"BANKB@10.0.0.2:7400", "BANKC@[fd00::3]:7400"}));
  ExpectRefused(with_peers(R"(["BANKB@10.0.0.2:7400", "10.0.0.3:7400"])"), "network.peers",
                "\"10.0.0.3:7400\" is not CODE@HOST:PORT");
  ExpectRefused(with_peers(R"(["bank b@10.0.0.2:7400"])"), "network.peers", "bank b@10.0.0.2:7400");
  ExpectRefused(with_peers(R"(["BANKB@10.0.0.2"])"), "network.peers", "CODE@HOST:PORT");
}

// Each key of the example in turn given a value of another type: a number for a string or list,
// a string for a number. Every one is refused, naming the key.
TEST_F(ExampleConfigTest, WrongTypedValueRefusedByName) {
  const toml::table original = toml::parse(example_, kExample.string());
  const std::set<std::string> keys = LeafKeys(original);
  ASSERT_FALSE(keys.empty());
  for (const std::string& key : keys) {
    SCOPED_TRACE(key);
    const toml::node* node = original.at_path(key).node();
    ASSERT_NE(node, nullptr);
    if (node->is_integer()) {
      ExpectRefused(WithValue(original, key, std::to_string(node->as_integer()->get())), key,
                    "expected a whole number");
    } else {
      ExpectRefused(WithValue(original, key, 7), key, "expected ");
    }
  }
}

// Every whole-number key's comment gives its range as "(MIN to MAX"; one past either end is
// refused with exactly that range, so the example cannot drift from the parser's bounds.
TEST_F(ExampleConfigTest, DocumentedRangesAreTheParsersRanges) {
  const toml::table original = toml::parse(example_, kExample.string());
  static const std::regex range(R"(\((\d+) to (\d+)\b)");
  size_t checked = 0;
  for (const std::string& key : LeafKeys(original)) {
    if (!original.at_path(key).is_integer()) continue;
    SCOPED_TRACE(key);
    const std::string comment = CommentAbove(example_, key);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(comment, m, range))
        << "no \"(MIN to MAX)\" in the comment above " << key << ": " << comment;
    const int64_t min = std::stoll(m[1].str()), max = std::stoll(m[2].str());
    const std::string why = "expected a number from " + m[1].str() + " to " + m[2].str();
    ExpectRefused(WithValue(original, key, max + 1), key, why);
    ExpectRefused(WithValue(original, key, min - 1), key, why);
    ++checked;
  }
  EXPECT_GE(checked, 25u);
}

// [[grading.rules]] (commented out in the example, like [flood.issuer_limits]): read in order, and
// a rule naming an unknown purpose or tier refused by name at start.
TEST_F(ExampleConfigTest, GradingRulesAreReadAndABadOneRefusedByName) {
  const std::string rule =
      "\n[[grading.rules]]\npurpose = \"account-opening\"\nname = \"local-sold\"\ntier = "
      "\"deny\"\ncategories = [\"sold\"]\n";
  Result<node::Config> good = Load(example_ + rule);
  ASSERT_TRUE(good.ok()) << good.error().message;
  ASSERT_EQ(good->local_grading.purposes.size(), 1u);
  EXPECT_EQ(good->local_grading.purposes[0].rules[0].name, "local-sold");
  EXPECT_TRUE(Load(example_).value().local_grading.purposes.empty());
  Result<node::Config> purpose =
      Load(example_ +
           "\n[[grading.rules]]\npurpose = \"onboarding\"\nname = \"x\"\ntier = "
           "\"deny\"\n");
  ASSERT_FALSE(purpose.ok());
  EXPECT_NE(purpose.error().message.find("purpose onboarding is unknown"), std::string::npos)
      << purpose.error().message;
  ExpectRefused(example_ +
                    "\n[[grading.rules]]\npurpose = \"default\"\nname = \"x\"\ntier = "
                    "\"lenient\"\n",
                "grading.rules #1.tier", "expected watch, review or deny");
}

// [flood.issuer_limits]: each key an institution code, each limit a positive number; the store
// options every program opens with carry them.
TEST_F(ExampleConfigTest, FloodIssuerLimitsAreReadAndABadOneRefusedByName) {
  Result<node::Config> good = Load(example_ + "\n[flood.issuer_limits]\nBANKX = 200000\n");
  ASSERT_TRUE(good.ok()) << good.error().message;
  const store::FloodLimits limits = node::StoreOptionsFrom(*good).flood;
  EXPECT_EQ(limits.For("BANKX"), 200000u);
  EXPECT_EQ(limits.For("BANKY"), node::kDefaultDailyEntryLimit);

  ExpectRefused(example_ + "\n[flood.issuer_limits]\nBANKX = 0\n", "flood.issuer_limits.BANKX",
                "expected a number from 1 to 100000000");
  ExpectRefused(example_ + "\n[flood.issuer_limits]\nBANKX = -5\n", "flood.issuer_limits.BANKX",
                "expected a number from 1");
  ExpectRefused(example_ + "\n[flood.issuer_limits]\nBANKX = \"lots\"\n",
                "flood.issuer_limits.BANKX", "expected a whole number");
  ExpectRefused(example_ + "\n[flood.issuer_limits]\nbankx = 10\n", "flood.issuer_limits.bankx",
                "expected an institution code");
  ExpectRefused(WithValue(toml::parse(example_, kExample.string()), "flood.issuer_limits", 5),
                "flood.issuer_limits", "expected a table");
}

// [alerts]: the webhook's URL taken apart (the scheme's port by default, "/" for no path), and a
// URL or CA file the webhook could not use refused by name without repeating the URL.
TEST_F(ExampleConfigTest, AlertsWebhookUrlIsParsedAndABadOneRefusedByName) {
  auto with_url = [&](const std::string& url) {
    std::string text = std::regex_replace(example_, std::regex("\nwebhook_url = \"\""),
                                          "\nwebhook_url = \"" + url + "\"");
    EXPECT_NE(text, example_) << "no webhook_url line in " << kExample;
    return text;
  };
  Result<node::Config> good = Load(with_url("https://core.bank.example/duanka/alerts?v=1"));
  ASSERT_TRUE(good.ok()) << good.error().message;
  Result<node::WebhookUrl> url = node::ParseWebhookUrl(good->alerts.webhook_url);
  ASSERT_TRUE(url.ok());
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "core.bank.example");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->target, "/duanka/alerts?v=1");
  url = node::ParseWebhookUrl("http://[fd00::7]:8080");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->host, "fd00::7");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->target, "/");

  ExpectRefused(with_url("ftp://core.bank.example/"), "alerts.webhook_url",
                "the scheme must be http or https");
  ExpectRefused(with_url("https://ops:hunter2@core.bank.example/"), "alerts.webhook_url",
                "user information");
  ExpectRefused(with_url("https://core.bank.example:0/"), "alerts.webhook_url", "the port");
  ExpectRefused(with_url("https:///x"), "alerts.webhook_url", "no host");
  ExpectRefused(with_url("https://core bank/"), "alerts.webhook_url", "spaces");
  Result<node::Config> secret = Load(with_url("https://ops:hunter2@core.bank.example/"));
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.error().message.find("hunter2"), std::string::npos) << secret.error().message;
  ExpectRefused(
      std::regex_replace(with_url("http://core.bank.example/"),
                         std::regex("\nwebhook_ca_file = \"\""), "\nwebhook_ca_file = \"ca.pem\""),
      "alerts.webhook_ca_file", "http://");
}

TEST_F(ExampleConfigTest, OutOfRangeValueRefusedByName) {
  const std::string zero_threads =
      std::regex_replace(example_, std::regex(R"(\nverify_threads = 2)"), "\nverify_threads = 0");
  ASSERT_TRUE(zero_threads != example_) << "no verify_threads = 2 line in " << kExample;
  ExpectRefused(zero_threads, "limits.verify_threads", "expected a number from 1 to 64");
  for (const char* value : {"-1", "1048577"}) {
    const std::string budget =
        std::regex_replace(example_, std::regex(R"(\nmax_uncommitted_records = 65536)"),
                           std::string("\nmax_uncommitted_records = ") + value);
    ASSERT_TRUE(budget != example_) << "no max_uncommitted_records = 65536 line in " << kExample;
    ExpectRefused(budget, "limits.max_uncommitted_records", "expected a number from 0 to 1048576");
  }
}

}  // namespace
}  // namespace duanka
