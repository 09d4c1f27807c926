// The alert webhook (issue 14) with real daemons and a real receiver (webhook_receiver.py, a
// Python http.server on loopback, over HTTPS with its own CA or plain HTTP): BANKA -- BANKB, BANKB
// watches its customers and POSTs their alerts. Each alert arrives with its id as Idempotency-Key;
// a receiver that fails is retried until it accepts; a SIGKILL between the alert's commit and its
// delivery loses nothing (the cursor moves only after a 2xx); a caught-up webhook has saved its
// cursor, so a restart repeats nothing; an alert whose delivery cannot be audited is sent again
// until it can be; a receiver that never answers slows neither lookups nor sync; bad [alerts]
// settings are refused by name at the start.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "node/common/alerts.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

using testing::RunProgram;
using testing::RunResult;

const std::string kPython = PYTHON3_BIN;
const std::string kReceiverScript = WEBHOOK_RECEIVER;
const std::string kOpenSsl = OPENSSL_BIN;
const std::string kCurl = CURL_BIN;
const std::string kDaemon = DUANKAD_BIN;
// Customers BANKB watches, with its own references; BANKA lists them.
constexpr uint64_t kFirstQq = 730'100'001;
constexpr const char* kRefPrefix = "bankb-cust#";
// A webhook that never answers is given this long: far beyond the test, so that it hangs
// throughout.
constexpr int64_t kHangingTimeoutMs = 600'000;
// Failures before the receiver accepts, in the retry test.
constexpr int kFailFirst = 3;
// Always failing (until the receiver is replaced).
constexpr int kAlwaysFail = 1'000'000;

std::string Qq(int i) {
  return std::to_string(kFirstQq + static_cast<uint64_t>(i));
}
std::string Ref(int i) {
  return kRefPrefix + std::to_string(i);
}

// The receiver as a child process, killed when it goes.
class Receiver {
 public:
  struct Options {
    int fail_first = 0;
    bool hang = false;
    std::optional<std::filesystem::path> cert, key;
  };
  static Options Failing(int first) {
    Options o;
    o.fail_first = first;
    return o;
  }
  static Options Hanging() {
    Options o;
    o.hang = true;
    return o;
  }
  static Options Tls(const std::filesystem::path& cert, const std::filesystem::path& key) {
    Options o;
    o.cert = cert;
    o.key = key;
    return o;
  }
  Receiver(std::filesystem::path dir, uint16_t port) : dir_(std::move(dir)), port_(port) {}
  ~Receiver() { Stop(); }

  bool Start(const Options& options) {
    Stop();
    const std::filesystem::path ready = dir_ / "receiver.ready";
    std::filesystem::remove(ready);
    std::vector<std::string> argv = {kPython,        kReceiverScript,
                                     "--port",       std::to_string(port_),
                                     "--record",     record().string(),
                                     "--ready",      ready.string(),
                                     "--fail-first", std::to_string(options.fail_first)};
    if (options.hang) argv.push_back("--hang");
    if (options.cert) argv.insert(argv.end(), {"--cert", options.cert->string()});
    if (options.key) argv.insert(argv.end(), {"--key", options.key->string()});
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    return Eventually([&] { return std::filesystem::exists(ready); });
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::filesystem::path record() const { return dir_ / "received.jsonl"; }
  // Every POST received so far, in order.
  std::vector<nlohmann::json> Received() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(ReadAll(record()));
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  // The Idempotency-Keys answered 2xx.
  std::set<std::string> Accepted() const {
    std::set<std::string> out;
    for (const nlohmann::json& r : Received()) {
      if (r["status"] == 200) out.insert(r["key"].get<std::string>());
    }
    return out;
  }

 private:
  std::filesystem::path dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

class AlertWebhook : public ::testing::Test {
 protected:
  void SetUp() override {
    line_ = c_.Line({"BANKA", "BANKB"});
    receiver_port_ = FreeLoopbackPort();
    receiver_.emplace(c_.dir(), receiver_port_);
  }

  void UseWebhook(const std::string& url, const std::string& more = "") {
    b().extra_toml = "[alerts]\nwebhook_url = \"" + url + "\"\nwebhook_max_backoff_s = 1\n" + more;
  }
  std::string HttpUrl() const {
    return "http://127.0.0.1:" + std::to_string(receiver_port_) + "/hooks/duanka";
  }

  // BANKB watches qq customers [0, n): "qq,VALUE,REF" lines through duanka-admin watch --batch.
  void Watch(int n) {
    const std::filesystem::path file = c_.dir() / "customers.csv";
    {
      std::ofstream out(file);
      for (int i = 0; i < n; ++i) out << "qq," << Qq(i) << "," << Ref(i) << "\n";
    }
    RunResult watched = c_.Admin(b(), {"watch", "--batch", file.string()});
    ASSERT_EQ(watched.exit_code, 0) << watched.err;
    std::filesystem::remove(file);
  }

  uint64_t LastAlertId(const Node& n) {
    uint64_t last = 0;
    c_.WithStore(n, [&](const store::Store& s) {
      Result<uint64_t> id = s.LastAlertId();
      if (id) last = *id;
    });
    return last;
  }
  uint64_t WebhookCursor(const Node& n) {
    uint64_t cursor = 0;
    c_.WithStore(n, [&](const store::Store& s) {
      Result<uint64_t> id = s.AlertCursor(node::kWebhookCursor);
      if (id) cursor = *id;
    });
    return cursor;
  }
  std::optional<double> Metric(const Node& n, const std::string& sample) {
    std::optional<std::string> metrics = HttpGet(n.api_port, "/metrics");
    if (!metrics) return std::nullopt;
    return MetricValue(*metrics, sample);
  }

  // The receiver's own CA, a server certificate for localhost and 127.0.0.1 (server.pem) and one
  // for another name (elsewhere.pem), in `dir`.
  void MakeReceiverPki(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    const std::string script = R"(set -e
cd ")" + dir.string() + R"("
ossl() { ")" + kOpenSsl + R"(" "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout ca.key -out ca.pem -subj "/CN=receiver test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
  -out server.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile ext.cnf -out server.pem
printf 'subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n' > other.cnf
ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile other.cnf -out elsewhere.pem
)";
    RunResult made = RunProgram({"/bin/sh", "-c", script});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }

  Node& a() { return *line_[0]; }
  Node& b() { return *line_[1]; }

  Consortium c_;
  std::vector<Node*> line_;
  uint16_t receiver_port_ = 0;
  std::optional<Receiver> receiver_;
};

TEST_F(AlertWebhook, AWatchedCustomerListedElsewhereIsPostedOverHttpsWithItsIdAsIdempotencyKey) {
  const std::filesystem::path pki = c_.dir() / "receiver-pki";
  MakeReceiverPki(pki);
  ASSERT_TRUE(receiver_->Start(Receiver::Tls(pki / "server.pem", pki / "server.key")));
  // By name, so that SNI and the host name check are exercised.
  UseWebhook("https://localhost:" + std::to_string(receiver_port_) + "/hooks/duanka",
             "webhook_ca_file = \"" + (pki / "ca.pem").string() + "\"\n");
  ASSERT_TRUE(c_.StartAll());
  Watch(2);

  const std::string entry = c_.Report(a(), "qq", Qq(0));
  ASSERT_FALSE(entry.empty());
  ASSERT_TRUE(Eventually([&] { return !receiver_->Accepted().empty(); })) << c_.Log(b());
  // Once, unless a POST outlived webhook_timeout_ms on a loaded machine: then again, the same.
  std::vector<nlohmann::json> received = receiver_->Received();
  ASSERT_GE(received.size(), 1u);
  for (const nlohmann::json& r : received) EXPECT_EQ(r["body"], received[0]["body"]);
  EXPECT_EQ(received[0]["content_type"], "application/json");
  nlohmann::json alert =
      nlohmann::json::parse(received[0]["body"].get<std::string>(), nullptr, false);
  ASSERT_FALSE(alert.is_discarded()) << received[0];
  EXPECT_EQ(received[0]["key"], std::to_string(alert["id"].get<uint64_t>()));
  EXPECT_EQ(alert["kind"], "listed");
  EXPECT_EQ(alert["entry"], entry);
  EXPECT_EQ(alert["refs"], nlohmann::json::array({Ref(0)}));
  EXPECT_EQ(received[0]["body"].get<std::string>().find(Qq(0)), std::string::npos)
      << "the raw identifier never leaves the node";

  // The cursor moved past it, the delivery is audited, and the metrics say nothing is pending.
  EXPECT_TRUE(Eventually([&] { return WebhookCursor(b()) == alert["id"].get<uint64_t>(); }));
  const std::string audit = ReadAll(b().home / "audit.log");
  EXPECT_NE(audit.find("\"action\":\"alerts-delivered\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("\"user\":\"webhook\""), std::string::npos);
  EXPECT_TRUE(Eventually([&] { return Metric(b(), "duanka_alerts_delivered_total") == 1.0; }));
  EXPECT_EQ(Metric(b(), "duanka_alerts_pending"), 0.0);
  EXPECT_EQ(Metric(b(), "duanka_alerts_oldest_pending_age_seconds"), 0.0);
  // A node without a webhook has none of its families.
  std::optional<std::string> plain = HttpGet(a().api_port, "/metrics");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->find("duanka_alerts_pending"), std::string::npos);
}

TEST_F(AlertWebhook, AReceiverWithACertificateForAnotherNameGetsNothing) {
  const std::filesystem::path pki = c_.dir() / "receiver-pki";
  MakeReceiverPki(pki);
  ASSERT_TRUE(receiver_->Start(Receiver::Tls(pki / "elsewhere.pem", pki / "server.key")));
  UseWebhook("https://localhost:" + std::to_string(receiver_port_) + "/hooks/duanka",
             "webhook_ca_file = \"" + (pki / "ca.pem").string() + "\"\n");
  ASSERT_TRUE(c_.StartAll());
  Watch(1);
  ASSERT_FALSE(c_.Report(a(), "qq", Qq(0)).empty());
  ASSERT_TRUE(Eventually([&] {
    std::optional<double> failures = Metric(b(), "duanka_alert_webhook_failures_total");
    return failures && *failures >= 2;
  })) << c_.Log(b());
  EXPECT_TRUE(receiver_->Received().empty()) << "no request is sent to an unverified receiver";
  EXPECT_TRUE(c_.Logged(b(), "TLS handshake failed")) << c_.LogText(b());
  EXPECT_EQ(WebhookCursor(b()), 0u);
  EXPECT_EQ(Metric(b(), "duanka_alerts_pending"), 1.0);
}

TEST_F(AlertWebhook, AReceiverThatFailsIsRetriedUntilItAcceptsAndTheFailuresAreCounted) {
  ASSERT_TRUE(receiver_->Start(Receiver::Failing(kFailFirst)));
  UseWebhook(HttpUrl());
  ASSERT_TRUE(c_.StartAll());
  Watch(1);
  ASSERT_FALSE(c_.Report(a(), "qq", Qq(0)).empty());

  ASSERT_TRUE(Eventually([&] { return !receiver_->Accepted().empty(); })) << c_.Log(b());
  std::vector<nlohmann::json> received = receiver_->Received();
  ASSERT_GE(received.size(), static_cast<size_t>(kFailFirst + 1));
  int refused = 0;
  for (const nlohmann::json& r : received) {
    EXPECT_EQ(r["key"], received.back()["key"]) << "a retry carries the same Idempotency-Key";
    EXPECT_EQ(r["body"], received.back()["body"]);
    if (r["status"] == 500) ++refused;
  }
  EXPECT_EQ(refused, kFailFirst);
  std::optional<double> failures = Metric(b(), "duanka_alert_webhook_failures_total");
  ASSERT_TRUE(failures);
  EXPECT_GE(*failures, kFailFirst);
  EXPECT_TRUE(Eventually([&] { return Metric(b(), "duanka_alerts_delivered_total") == 1.0; }));
  EXPECT_TRUE(c_.Logged(b(), "alert webhook 127.0.0.1: alert 1 not delivered")) << c_.LogText(b());
}

TEST_F(AlertWebhook, ASigkillBetweenCommitAndDeliveryLosesNoAlert) {
  constexpr int kCustomers = 3;
  ASSERT_TRUE(receiver_->Start(Receiver::Failing(kAlwaysFail)));
  UseWebhook(HttpUrl());
  ASSERT_TRUE(c_.StartAll());
  Watch(kCustomers);
  for (int i = 0; i < kCustomers; ++i) ASSERT_FALSE(c_.Report(a(), "qq", Qq(i)).empty());
  // Every alert committed at BANKB, and the webhook trying (and failing) to deliver.
  ASSERT_TRUE(Eventually([&] { return LastAlertId(b()) == kCustomers; })) << c_.Log(b());
  ASSERT_TRUE(Eventually([&] { return !receiver_->Received().empty(); }));
  EXPECT_EQ(Metric(b(), "duanka_alerts_pending"), kCustomers);
  EXPECT_EQ(WebhookCursor(b()), 0u);

  c_.Kill(b());
  ASSERT_TRUE(receiver_->Start(Receiver::Options()));
  ASSERT_TRUE(c_.Start(b()));
  const std::set<std::string> every = {"1", "2", "3"};
  ASSERT_TRUE(Eventually([&] { return receiver_->Accepted() == every; })) << c_.Log(b());
  // Each POST, refused or accepted, before or after the crash, is one of the alerts, under its own
  // id.
  for (const nlohmann::json& r : receiver_->Received()) {
    nlohmann::json alert = nlohmann::json::parse(r["body"].get<std::string>(), nullptr, false);
    ASSERT_FALSE(alert.is_discarded()) << r;
    EXPECT_EQ(r["key"], std::to_string(alert["id"].get<uint64_t>()));
    EXPECT_TRUE(every.count(r["key"].get<std::string>())) << r;
  }
  EXPECT_TRUE(Eventually([&] { return WebhookCursor(b()) == kCustomers; }));
  EXPECT_TRUE(Eventually([&] { return Metric(b(), "duanka_alerts_pending") == 0.0; }));
}

TEST_F(AlertWebhook, ACaughtUpWebhookHasSavedItsCursorAndARestartSendsNothingAgain) {
  constexpr int kBefore = 3;
  ASSERT_TRUE(receiver_->Start(Receiver::Options()));
  UseWebhook(HttpUrl());
  ASSERT_TRUE(c_.StartAll());
  Watch(kBefore + 1);
  for (int i = 0; i < kBefore; ++i) ASSERT_FALSE(c_.Report(a(), "qq", Qq(i)).empty());
  const std::set<std::string> before = {"1", "2", "3"};
  ASSERT_TRUE(Eventually([&] { return receiver_->Accepted() == before; })) << c_.Log(b());
  // Far fewer than kWebhookCursorEveryAlerts: saved because it caught up, not by the count.
  EXPECT_TRUE(Eventually([&] { return WebhookCursor(b()) == kBefore; })) << c_.Log(b());

  ASSERT_EQ(c_.Stop(b()), 0) << c_.Log(b());
  ASSERT_TRUE(c_.Start(b()));
  ASSERT_FALSE(c_.Report(a(), "qq", Qq(kBefore)).empty());
  // In id order: once alert 4 is in, a repeat of 1..3 would have come before it.
  ASSERT_TRUE(Eventually([&] { return receiver_->Accepted().count("4") == 1; })) << c_.Log(b());
  std::vector<std::string> keys;
  for (const nlohmann::json& r : receiver_->Received()) keys.push_back(r["key"]);
  EXPECT_EQ(keys, (std::vector<std::string>{"1", "2", "3", "4"}));
}

TEST_F(AlertWebhook, AnAlertWhoseDeliveryCannotBeAuditedIsSentAgainUntilItCanBe) {
  ASSERT_TRUE(receiver_->Start(Receiver::Options()));
  UseWebhook(HttpUrl());
  ASSERT_TRUE(c_.StartAll());
  Watch(1);
  // BANKB's audit log a path no process can open for writing, root included.
  ASSERT_EQ(c_.Stop(b()), 0) << c_.Log(b());
  const std::filesystem::path audit = b().home / "audit.log";
  const std::filesystem::path kept = b().home / "audit.log.kept";
  std::filesystem::rename(audit, kept);
  std::filesystem::create_directory(audit);
  ASSERT_TRUE(c_.Start(b()));
  ASSERT_FALSE(c_.Report(a(), "qq", Qq(0)).empty());

  // Answered 2xx, yet not delivered: it goes again, the cursor stays, nothing is counted.
  ASSERT_TRUE(Eventually([&] { return receiver_->Received().size() >= 2; })) << c_.Log(b());
  for (const nlohmann::json& r : receiver_->Received()) EXPECT_EQ(r["key"], "1");
  EXPECT_EQ(WebhookCursor(b()), 0u);
  EXPECT_EQ(Metric(b(), "duanka_alerts_delivered_total"), 0.0);
  EXPECT_TRUE(c_.Logged(b(), "answered, but the audit log cannot be written")) << c_.LogText(b());
  EXPECT_EQ(c_.LogText(b()).find(Ref(0)), std::string::npos);

  // The audit log back: the next try is audited, counted and moves the cursor.
  std::filesystem::remove(audit);
  std::filesystem::rename(kept, audit);
  ASSERT_TRUE(Eventually([&] {
    HttpGet(b().api_port, "/healthz");  // reopens the audit log
    return WebhookCursor(b()) == 1;
  })) << c_.Log(b());
  EXPECT_TRUE(Eventually([&] { return Metric(b(), "duanka_alerts_delivered_total") == 1.0; }));
  EXPECT_NE(ReadAll(audit).find("\"alerts-delivered\""), std::string::npos);
}

// The store takes any bytes as a reference: rendering one that is not UTF-8 must not throw (in the
// webhook's loop that would stop the delivery) and gives valid JSON with U+FFFD in its place.
TEST(AlertRendering, ARefThatIsNotUtf8IsRenderedWithAReplacementCharacter) {
  store::Alert alert;
  alert.id = 7;
  alert.entry.issuer = "BANKA";
  alert.entry.seq = 1;
  alert.refs = {std::string("cust\xff#1")};
  std::string one, page;
  ASSERT_NO_THROW(one = node::AlertJson(alert));
  ASSERT_NO_THROW(page = node::AlertPageJson({alert}, alert.id));
  nlohmann::json parsed = nlohmann::json::parse(one, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << one;
  EXPECT_EQ(parsed["refs"][0], "cust\xef\xbf\xbd#1");
  EXPECT_FALSE(nlohmann::json::parse(page, nullptr, false).is_discarded()) << page;
}

TEST_F(AlertWebhook, AReceiverThatNeverAnswersSlowsNeitherLookupsNorSync) {
  ASSERT_TRUE(receiver_->Start(Receiver::Hanging()));
  UseWebhook(HttpUrl(), "webhook_timeout_ms = " + std::to_string(kHangingTimeoutMs) + "\n");
  ASSERT_TRUE(c_.StartAll());
  Watch(1);
  ASSERT_FALSE(c_.Report(a(), "qq", Qq(0)).empty());
  ASSERT_TRUE(Eventually([&] { return !receiver_->Received().empty(); })) << c_.Log(b());

  // With the webhook's POST hanging: a new record from the peer arrives, and lookups answer
  // through the HTTP API and the CLI.
  ASSERT_FALSE(c_.Report(a(), "qq", Qq(1)).empty());
  EXPECT_TRUE(Eventually([&] { return c_.Listed(b(), protocol::IdType::kQq, Qq(1)); }))
      << c_.Log(b());
  RunResult looked = RunProgram(
      {kCurl, "-q", "-sS", "--max-time", "20", "-H", "Content-Type: application/json", "--data",
       R"({"type":"qq","value":")" + Qq(1) + R"(","purpose":"account-opening"})",
       "http://127.0.0.1:" + std::to_string(b().api_port) + "/v1/lookup"});
  ASSERT_EQ(looked.exit_code, 0) << looked.err;
  nlohmann::json answer = nlohmann::json::parse(looked.out, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << looked.out;
  EXPECT_EQ(answer["listed"], true) << looked.out;
  RunResult cli = c_.Duanka(b(), {"lookup", "qq", Qq(0), "--json"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_EQ(Metric(b(), "duanka_alerts_pending"), 1.0);
  EXPECT_TRUE(receiver_->Accepted().empty());
  // And the daemon stops cleanly, the hanging POST cut off.
  EXPECT_EQ(c_.Stop(b()), 0) << c_.Log(b());
  EXPECT_EQ(WebhookCursor(b()), 0u) << "an alert never acknowledged stays behind the cursor";
}

TEST_F(AlertWebhook, BadAlertsSettingsAreRefusedByNameAtTheStart) {
  const std::filesystem::path config = b().home / "duanka.toml";
  const std::string base = ReadAll(config);
  ASSERT_FALSE(base.empty());
  struct Case {
    std::string alerts;  // the [alerts] table's lines
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"webhook_url = \"ftp://alerts.bank.example/x\"",
       "alerts.webhook_url: expected http://HOST[:PORT]/PATH or https://HOST[:PORT]/PATH"},
      {"webhook_url = \"https://user:secret@alerts.bank.example/x\"",
       "alerts.webhook_url: expected"},
      {"webhook_url = \"http://alerts.bank.example:99999/x\"", "the port must be a number"},
      {"webhook_url = \"http://127.0.0.1:9/x\"\nwebhook_timeout_ms = 0",
       "alerts.webhook_timeout_ms: expected a number from 100 to"},
      {"webhook_url = \"http://127.0.0.1:9/x\"\nwebhook_max_backoff_s = \"soon\"",
       "alerts.webhook_max_backoff_s: expected a whole number"},
      {"webhook_url = \"http://127.0.0.1:9/x\"\nwebhook_ca_file = \"ca.pem\"",
       "alerts.webhook_ca_file: set, but alerts.webhook_url is http://"},
      {"webhook_url = \"https://127.0.0.1:9/x\"\nwebhook_ca_file = \"no-such-ca.pem\"",
       "alerts.webhook_ca_file"},
      {"webhook_ur = \"http://127.0.0.1:9/x\"", "alerts.webhook_ur: unknown key"},
  };
  for (const Case& k : cases) {
    std::ofstream(config, std::ios::trunc) << base << "\n[alerts]\n" << k.alerts << "\n";
    RunResult started = RunProgram({kDaemon, "--home", b().home.string()});
    EXPECT_NE(started.exit_code, 0) << k.alerts;
    EXPECT_NE(started.err.find(k.expected), std::string::npos) << k.alerts << "\n" << started.err;
    EXPECT_EQ(started.err.find("secret"), std::string::npos) << started.err;
  }
}

}  // namespace
}  // namespace duanka::integration
