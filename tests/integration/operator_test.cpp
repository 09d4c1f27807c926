// The careless operator (issue 18, section 5), against real programs and daemons: --version,
// duankad --check-config, a HOME whose certificates name another institution, /healthz while
// lookups cannot be audited, config errors' exit code in duanka, and a prompt stop.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "node/common/config.h"
#include "node/common/exit_codes.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"
#include "tests/support/process.h"

namespace duanka::integration {
namespace {

using testing::RunProgram;
using testing::RunResult;

const std::string kDaemon = DUANKAD_BIN;
const std::string kAdmin = DUANKA_ADMIN_BIN;
const std::string kLookup = DUANKA_BIN;
const std::string kCurl = CURL_BIN;
// A refused start ends at once; this only bounds a daemon that wrongly starts and keeps running.
constexpr int kRefusalTimeoutSeconds = 30;
// The daemon's log line of an audit log that cannot be written, and of its recovery.
constexpr const char* kAuditFailingLine = "API lookups are refused (503) and /healthz fails";
constexpr const char* kAuditRecoveredLine = "the audit log can be written again";

RunResult Daemon(const Node& n, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kDaemon, "--home", n.home.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, "", kRefusalTimeoutSeconds);
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

size_t Lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// curl: the HTTP status, then the body after a newline.
struct Http {
  long status = 0;
  std::string body;
};
Http Curl(const Node& n, const std::string& path, const std::string& data = "") {
  std::vector<std::string> argv = {kCurl, "-s", "--max-time", "20", "-w", kCurlWriteOut};
  if (!data.empty()) {
    argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data", data});
  }
  argv.push_back("http://127.0.0.1:" + std::to_string(n.api_port) + path);
  RunResult r = RunProgram(argv);
  // Recorded for the API contract (tests/api).
  CurlReply reply = CurlReplyOf(data.empty() ? "GET" : "POST", path, r.out);
  return Http{reply.status, reply.body};
}

Http LookupQq(const Node& n) {
  return Curl(n, "/v1/lookup", R"({"type":"qq","value":"10001","purpose":"account-opening"})");
}

TEST(Operator, EveryProgramPrintsItsVersion) {
  for (const std::string& program : {kDaemon, kAdmin, kLookup}) {
    RunResult r = RunProgram({program, "--version"});
    const std::string name = std::filesystem::path(program).filename().string();
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.out, name + " " + DUANKA_VERSION + "\n");
  }
}

TEST(Operator, CheckConfigPassesAGoodHomeWithoutBindingOrCreatingTheStore) {
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB");
  ASSERT_TRUE(c.Start(a));
  // A running node holds both ports: a check that bound them would fail here.
  RunResult running = Daemon(a, {"--check-config"});
  EXPECT_EQ(running.exit_code, 0) << running.err;
  EXPECT_EQ(running.out,
            (a.home / node::kConfigFileName).string() + ": configuration OK (institution BANKA)\n");
  EXPECT_TRUE(c.Running(a));

  // A node never started: the check leaves its HOME as it found it (the start creates the store).
  const bool had_store = std::filesystem::exists(b.store_dir());
  RunResult fresh = Daemon(b, {"--check-config"});
  EXPECT_EQ(fresh.exit_code, 0) << fresh.err;
  EXPECT_EQ(std::filesystem::exists(b.store_dir()), had_store);
}

TEST(Operator, ConfigErrorsExitWithTheSharedCodesInDuankadAndDuanka) {
  Consortium c;
  Node& a = c.Add("BANKA");
  std::ofstream(a.home / node::kConfigFileName, std::ios::app) << "\nlisten_on = \"x\"\n";
  RunResult check = Daemon(a, {"--check-config"});
  EXPECT_EQ(check.exit_code, 2) << check.err;
  EXPECT_EQ(Lines(check.err), 1u) << check.err;
  EXPECT_NE(check.err.find("listen_on"), std::string::npos) << check.err;
  EXPECT_EQ(check.out, "");
  // duanka reads the same file: a wrongly written one is invalid input there too.
  RunResult lookup = c.Duanka(a, {"lookup", "qq", "10001"});
  EXPECT_EQ(lookup.exit_code, 2) << lookup.err;
  EXPECT_NE(lookup.err.find("listen_on"), std::string::npos) << lookup.err;

  // No duanka.toml at all: operational, 3, in both.
  std::filesystem::remove(a.home / node::kConfigFileName);
  RunResult missing = Daemon(a, {"--check-config"});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  RunResult missing_lookup = c.Duanka(a, {"lookup", "qq", "10001"});
  EXPECT_EQ(missing_lookup.exit_code, 3) << missing_lookup.err;
}

// A node set up with another member's certificates would present (or sign as) that member, and
// its peers would ban the genuine institution: refused at start, naming both codes.
TEST(Operator, RefusesToStartWithCertificatesOfAnotherInstitution) {
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB");
  const auto copy = [](const std::filesystem::path& from, const std::filesystem::path& to) {
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  };
  const std::filesystem::path saved = c.dir() / "banka-saved";
  std::filesystem::create_directories(saved);
  for (const char* f : {"tls.pem", "tls.key", "signing.pem"}) copy(a.home / f, saved / f);

  const auto expect_refused = [&](const std::string& file) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--check-config"}, std::vector<std::string>{}}) {
      RunResult r = Daemon(a, args);
      EXPECT_EQ(r.exit_code, 2) << file << " " << r.err;
      EXPECT_FALSE(r.timed_out) << file << ": the daemon started";
      EXPECT_EQ(Lines(r.err), 1u) << r.err;
      EXPECT_NE(r.err.find((a.home / file).string() + " is issued to institution BANKB"),
                std::string::npos)
          << r.err;
      EXPECT_NE(r.err.find("institution = \"BANKA\""), std::string::npos) << r.err;
    }
  };
  copy(b.home / "tls.pem", a.home / "tls.pem");
  copy(b.home / "tls.key", a.home / "tls.key");
  expect_refused("tls.pem");

  copy(saved / "tls.pem", a.home / "tls.pem");
  copy(saved / "tls.key", a.home / "tls.key");
  copy(b.home / "signing.pem", a.home / "signing.pem");
  expect_refused("signing.pem");

  // Its own certificates back: it starts.
  copy(saved / "signing.pem", a.home / "signing.pem");
  RunResult ok = Daemon(a, {"--check-config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(c.Start(a));
}

TEST(Operator, HealthzFailsWhileLookupsCannotBeAuditedAndTheDaemonSaysSoOnce) {
  Consortium c;
  Node& a = c.Add("BANKA");
  // A path no process can open for writing, root included.
  const std::filesystem::path audit = a.home / "audit.log";
  std::filesystem::remove(audit);
  std::filesystem::create_directory(audit);
  ASSERT_TRUE(c.Start(a));

  Http health = Curl(a, "/healthz");
  EXPECT_EQ(health.status, 503);
  EXPECT_NE(health.body.find(audit.string()), std::string::npos) << health.body;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(LookupQq(a).status, 503);
  EXPECT_EQ(Curl(a, "/healthz").status, 503);
  EXPECT_EQ(Count(c.LogText(a), kAuditFailingLine), 1u) << c.LogText(a);

  // Fixed: the next check opens it, lookups are served and the recovery is logged once.
  std::filesystem::remove(audit);
  EXPECT_EQ(Curl(a, "/healthz").status, 200);
  EXPECT_EQ(LookupQq(a).status, 200);
  EXPECT_EQ(Count(c.LogText(a), kAuditRecoveredLine), 1u) << c.LogText(a);

  // A link put in the log's place (as a rotation gone wrong, or the HOME's owner aiming the
  // daemon's writes at another file) is never written through: the reopen at SIGHUP refuses it
  // and the lines keep going to the file held open.
  const std::filesystem::path held = a.home / "audit.log.1";
  std::filesystem::rename(audit, held);
  const std::filesystem::path elsewhere = a.home / "elsewhere";
  { std::ofstream(elsewhere).flush(); }
  std::filesystem::create_symlink(elsewhere, audit);
  ASSERT_EQ(::kill(a.pid, SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] { return c.Logged(a, "SIGHUP: cannot open the audit log"); }))
      << c.LogText(a);
  const auto held_before = std::filesystem::file_size(held);
  EXPECT_EQ(LookupQq(a).status, 200);
  EXPECT_GT(std::filesystem::file_size(held), held_before);
  EXPECT_EQ(std::filesystem::file_size(elsewhere), 0u);
  EXPECT_EQ(Curl(a, "/healthz").status, 200);
}

// With no peer connected there is nothing to wait for: the stop does not sit out
// shutdown_timeout_ms (20 s here; the harness kills a node still running after kStopDeadline).
TEST(Operator, AnIdleDaemonStopsWithoutWaitingForTheShutdownTimeout) {
  Consortium c;
  Node& a = c.Add("BANKA", {{"shutdown_timeout_ms", 20000}});
  ASSERT_TRUE(c.Start(a));
  const auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Stop(a), 0) << c.Log(a);
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(10));
  EXPECT_TRUE(c.Logged(a, "stopped"));
}

// With a peer connected, the stop still closes it politely first: the peer sees the close, not a
// dropped connection, and the stop still ends long before the timeout.
TEST(Operator, AStopClosesConnectedPeersAndEndsWhenTheyAreClosed) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB"});
  line[0]->limits["shutdown_timeout_ms"] = 20000;
  ASSERT_TRUE(c.StartAll());
  ASSERT_TRUE(Eventually([&] {
    Http h = Curl(*line[0], "/v1/status");
    return h.body.find("\"ready\":true") != std::string::npos;
  }));
  const auto began = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Stop(*line[0]), 0) << c.Log(*line[0]);
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(10));
  EXPECT_TRUE(Eventually([&] { return c.Logged(*line[1], "node shutting down"); }))
      << c.Log(*line[1]);
}

// root running `duanka lookup` in a HOME that belongs to the daemon's user must not leave a
// root-owned audit log there (the daemon could no longer append to it: every API lookup refused).
TEST(Operator, ALookupByAnotherUserThanHomesOwnerIsRefusedAndCreatesNoFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run as another user than HOME's owner";
  // The conventional unprivileged id: no process of this test runs as it.
  constexpr uid_t kOtherUser = 65534;
  Consortium c;
  Node& a = c.Add("BANKA");
  ASSERT_TRUE(c.Start(a));  // creates the store
  ASSERT_EQ(c.Stop(a), 0) << c.Log(a);
  const std::filesystem::path audit = a.home / "audit.log";
  std::filesystem::remove(audit);
  ASSERT_EQ(::chown(a.home.c_str(), kOtherUser, kOtherUser), 0);

  RunResult r = c.Duanka(a, {"lookup", "qq", "10001"});
  EXPECT_EQ(r.exit_code, node::kExitFailure) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(audit.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run as its owner"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(audit));

  // A file already there, its owner's: not written through by root either.
  ASSERT_TRUE(std::ofstream(audit).good());
  ASSERT_EQ(::chown(audit.c_str(), kOtherUser, kOtherUser), 0);
  r = c.Duanka(a, {"lookup", "qq", "10001"});
  EXPECT_EQ(r.exit_code, node::kExitFailure) << r.err;
  EXPECT_EQ(std::filesystem::file_size(audit), 0u);

  // As HOME's owner again, the same lookup is answered and audited.
  ASSERT_EQ(::chown(a.home.c_str(), 0, 0), 0);
  std::filesystem::remove(audit);
  r = c.Duanka(a, {"lookup", "qq", "10001"});
  EXPECT_EQ(r.exit_code, node::kExitNotFound) << r.err;
  EXPECT_GT(std::filesystem::file_size(audit), 0u);
}

nlohmann::json ConfiguredPeer(const Node& n, const std::string& code) {
  Http h = Curl(n, "/v1/status");
  nlohmann::json j = nlohmann::json::parse(h.body, nullptr, false);
  if (!j.is_object() || !j.contains("configured_peers")) return nlohmann::json();
  for (const nlohmann::json& p : j["configured_peers"]) {
    if (p.value("institution", "") == code) return p;
  }
  return nlohmann::json();
}

std::optional<double> Metric(const Node& n, const std::string& sample) {
  return MetricValue(Curl(n, "/metrics").body, sample);
}

// /v1/status names every network.peers entry with its state, not only the connected ones; the
// peer metric counts institutions, not connections.
TEST(Operator, StatusListsEveryConfiguredPeerWithItsState) {
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& b = c.Add("BANKB");
  Node& down = c.Add("PAYC");  // configured, never started: nothing listens on its port
  c.Dial(a, b);
  c.Dial(b, a);  // two sessions between BANKA and BANKB, one each way
  c.Dial(a, down);
  ASSERT_TRUE(c.Start(a));
  ASSERT_TRUE(c.Start(b));

  ASSERT_TRUE(Eventually([&] { return ConfiguredPeer(a, "BANKB").value("state", "") == "ready"; }))
      << Curl(a, "/v1/status").body;
  nlohmann::json ready = ConfiguredPeer(a, "BANKB");
  EXPECT_EQ(ready["address"], b.address());

  // The dialer's backoff after a refused connection: refused, until when and why.
  nlohmann::json refused;
  ASSERT_TRUE(Eventually([&] {
    refused = ConfiguredPeer(a, "PAYC");
    return refused.value("state", "") == "refused";
  })) << Curl(a, "/v1/status").body;
  EXPECT_EQ(refused["address"], down.address());
  EXPECT_EQ(refused["connections"], 0);
  EXPECT_NE(refused.value("reason", "").find("cannot connect"), std::string::npos) << refused;
  EXPECT_TRUE(refused.contains("until") && refused["until"].is_string()) << refused;

  // Both sessions up: one institution reached over two connections.
  ASSERT_TRUE(Eventually([&] { return Metric(a, "duanka_peer_connections") == 2.0; }))
      << Curl(a, "/metrics").body;
  EXPECT_EQ(ConfiguredPeer(a, "BANKB")["connections"], 2);
  ASSERT_TRUE(Eventually([&] { return Metric(a, "duanka_peers_connected").has_value(); }));
  EXPECT_EQ(Metric(a, "duanka_peers_connected"), 1.0);

  // The "peers" list (open sessions) is kept as it was.
  nlohmann::json status = nlohmann::json::parse(Curl(a, "/v1/status").body, nullptr, false);
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["peers"].size(), 2u) << status;
  EXPECT_EQ(status["configured_peers"].size(), 2u) << status;
}

// A peer that stops says goodbye and closes TLS politely: the other side logs that at info, never
// as a warning or an error.
TEST(Operator, APeersCleanShutdownIsLoggedAsInformation) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB"});
  ASSERT_TRUE(c.StartAll());
  ASSERT_TRUE(Eventually([&] {
    return ConfiguredPeer(*line[0], "BANKB").value("state", "") == "ready";
  })) << Curl(*line[0], "/v1/status").body;
  ASSERT_EQ(c.Stop(*line[0]), 0) << c.Log(*line[0]);
  ASSERT_TRUE(Eventually([&] { return c.Logged(*line[1], "disconnected"); })) << c.Log(*line[1]);
  EXPECT_EQ(c.Stop(*line[1]), 0) << c.Log(*line[1]);
  std::istringstream log(c.LogText(*line[1]));
  for (std::string l; std::getline(log, l);) {
    if (l.find("BANKA") == std::string::npos) continue;
    EXPECT_EQ(l.find(" warning "), std::string::npos) << l;
    EXPECT_EQ(l.find(" error "), std::string::npos) << l;
  }
}

}  // namespace
}  // namespace duanka::integration
