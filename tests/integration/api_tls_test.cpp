// The HTTP API off loopback (issue 12, item 5), end to end: a real duankad with TLS on its API,
// named clients made by the real `duanka-admin api-client`, and the real curl as the bank's
// client, with and without a client certificate of the institution's own CA (made by the openssl
// command line tool, as a bank's PKI would). And what the daemon refuses at start: an API off
// loopback without TLS or clients, and a TLS configuration that does not load, each in one line.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

using testing::RunProgram;
using testing::RunResult;

const std::string kCurl = CURL_BIN;
const std::string kOpenSsl = OPENSSL_BIN;
const std::string kDaemon = DUANKAD_BIN;
// curl gives up after this (seconds): far beyond a loopback request, short of the test timeout.
constexpr const char* kCurlMaxSeconds = "20";
// The identifier the tests look up, and the client names.
constexpr const char* kListedQq = "10001";
constexpr const char* kTokenClient = "crm";
constexpr const char* kCertificateClient = "teller.app";

// The institution's own PKI for API clients (not the consortium's): a CA and a client certificate
// CN=teller.app for TLS clients; and a stranger's CA with a certificate of the same CN.
void MakeClientPki(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const std::string script = R"(set -e
cd ")" + dir.string() + R"("
ossl() { ")" + kOpenSsl + R"(" "$@" 2>/dev/null; }
for ca in bank stranger; do
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout $ca-ca.key -out $ca-ca.pem -subj "/CN=$ca API clients CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $ca-client.key \
    -out $ca-client.csr -subj "/CN=teller.app"
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' > ext.cnf
  ossl x509 -req -in $ca-client.csr -CA $ca-ca.pem -CAkey $ca-ca.key -CAcreateserial -days 2 \
    -extfile ext.cnf -out $ca-client.pem
done
)";
  RunResult made = RunProgram({"/bin/sh", "-c", script});
  ASSERT_EQ(made.exit_code, 0) << made.err;
}

struct CurlResult {
  int exit_code = -1;  // curl's: 0 when an HTTP answer came, whatever its status
  unsigned status = 0;
  std::string body;
  std::string err;
};

// curl ARGS... URL, the status from -w. Never reads ~/.curlrc.
CurlResult Curl(std::vector<std::string> args) {
  const bool post = std::find(args.begin(), args.end(), "--data") != args.end();
  const std::string url = args.back();
  args.insert(args.begin(),
              {kCurl, "-q", "-sS", "--max-time", kCurlMaxSeconds, "-w", kCurlWriteOut});
  RunResult r = RunProgram(args);
  // Recorded for the API contract (tests/api).
  CurlReply reply = CurlReplyOf(post ? "POST" : "GET", url, r.out);
  CurlResult out;
  out.exit_code = r.exit_code;
  out.err = r.err;
  out.status = reply.status;
  out.body = reply.body;
  return out;
}

// The `user` of each lookup line duankad wrote to the node's audit log, in order.
std::vector<std::string> LookupUsers(const Node& n) {
  std::vector<std::string> users;
  std::istringstream lines(ReadAll(n.home / "audit.log"));
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("program", "") == "duankad") users.push_back(j.value("user", ""));
  }
  return users;
}

class ApiTlsTest : public ::testing::Test {
 protected:
  // BANKA with a listed entry, its API on TLS with the node's own certificate (issued by the
  // consortium CA for 127.0.0.1), client certificates of the bank's own CA, a token client and a
  // certificate client. Not started.
  void SetUpBank(const std::map<std::string, int64_t>& limits = {}) {
    a_ = &c_.Add("BANKA", limits);
    ASSERT_FALSE(c_.Report(*a_, "qq", kListedQq).empty());
    pki_ = c_.dir() / "bank-pki";
    ASSERT_NO_FATAL_FAILURE(MakeClientPki(pki_));
    std::filesystem::copy_file(a_->home / "tls.pem", a_->home / "api-tls.pem");
    std::filesystem::copy_file(a_->home / "tls.key", a_->home / "api-tls.key");
    std::filesystem::copy_file(pki_ / "bank-ca.pem", a_->home / "api-client-ca.pem");
    RunResult added = c_.Admin(*a_, {"api-client", "add", kTokenClient});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    token_ = added.out.substr(0, added.out.find('\n'));
    ASSERT_TRUE(token_.starts_with("dka_")) << added.out;
    RunResult cert = c_.Admin(*a_, {"api-client", "add", kCertificateClient, "--certificate"});
    ASSERT_EQ(cert.exit_code, 0) << cert.err;
    EXPECT_TRUE(cert.out.empty()) << "a certificate client has no token to print";
    RunResult listed = c_.Admin(*a_, {"api-client", "list"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    EXPECT_NE(listed.out.find("crm\ttoken\t"), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("teller.app\tcertificate\t"), std::string::npos) << listed.out;
  }

  std::string Url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(a_->api_port) + path;
  }

  // POST /v1/lookup of kListedQq over HTTPS, trusting the consortium CA, plus `args`.
  CurlResult Lookup(std::vector<std::string> args) const {
    args.insert(
        args.end(),
        {"--cacert", c_.ca_pem().string(), "-H", "Content-Type: application/json", "--data",
         R"({"type":"qq","value":")" + std::string(kListedQq) + R"(","purpose":"account-opening"})",
         Url("/v1/lookup")});
    return Curl(args);
  }

  std::vector<std::string> ClientCert(const std::string& who) const {
    return {"--cert", (pki_ / (who + "-client.pem")).string(), "--key",
            (pki_ / (who + "-client.key")).string()};
  }

  Consortium c_;
  Node* a_ = nullptr;
  std::filesystem::path pki_;
  std::string token_;
};

TEST_F(ApiTlsTest, HttpsWithAndWithoutAClientCertificateEachClientNamedInTheAudit) {
  ASSERT_NO_FATAL_FAILURE(SetUpBank());
  ASSERT_TRUE(c_.Start(*a_));
  // The token printed once is the only copy: the clients file holds its hash, not it.
  EXPECT_EQ(ReadAll(a_->home / "api-clients.toml").find(token_.substr(4)), std::string::npos);

  // A client certificate of the bank's CA, CN=teller.app, a registered certificate client.
  CurlResult by_cert = Lookup(ClientCert("bank"));
  ASSERT_EQ(by_cert.exit_code, 0) << by_cert.err;
  EXPECT_EQ(by_cert.status, 200u) << by_cert.body;
  EXPECT_EQ(nlohmann::json::parse(by_cert.body, nullptr, false).value("listed", false), true)
      << by_cert.body;
  // No certificate, the token client's bearer token.
  CurlResult by_token = Lookup({"-H", "Authorization: Bearer " + token_});
  ASSERT_EQ(by_token.exit_code, 0) << by_token.err;
  EXPECT_EQ(by_token.status, 200u) << by_token.body;
  EXPECT_EQ(LookupUsers(*a_), (std::vector<std::string>{kCertificateClient, kTokenClient}));

  // Neither: 401, over TLS all the same.
  CurlResult neither = Lookup({});
  EXPECT_EQ(neither.exit_code, 0) << neither.err;
  EXPECT_EQ(neither.status, 401u);
  // A certificate of the same CN from a CA the bank does not trust: the handshake fails.
  CurlResult stranger = Lookup(ClientCert("stranger"));
  EXPECT_NE(stranger.exit_code, 0) << stranger.body;
  EXPECT_EQ(stranger.status, 0u);
  // Another member's node certificate (the consortium CA's): not an API client either.
  Node& b = c_.Add("BANKB");
  CurlResult member =
      Lookup({"--cert", (b.home / "tls.pem").string(), "--key", (b.home / "tls.key").string()});
  EXPECT_NE(member.exit_code, 0) << member.body;
  // TLS below 1.2 is not spoken; 1.2 is.
  EXPECT_NE(
      Lookup({"--tlsv1.1", "--tls-max", "1.1", "-H", "Authorization: Bearer " + token_}).exit_code,
      0);
  EXPECT_EQ(Lookup({"--tls-max", "1.2", "-H", "Authorization: Bearer " + token_}).status, 200u);
  // Plain HTTP on the TLS port gets no answer.
  CurlResult plain = Curl({"-H", "Authorization: Bearer " + token_,
                           "http://127.0.0.1:" + std::to_string(a_->api_port) + "/healthz"});
  EXPECT_NE(plain.status, 200u) << plain.body;
  // Nothing else was answered as a lookup.
  EXPECT_EQ(LookupUsers(*a_).size(), 3u);

  // Removing the token client and reloading (SIGHUP) shuts its token out at once.
  ASSERT_EQ(c_.Admin(*a_, {"api-client", "remove", kTokenClient}).exit_code, 0);
  ASSERT_EQ(::kill(a_->pid, SIGHUP), 0);
  ASSERT_TRUE(Eventually([&] { return c_.Logged(*a_, "SIGHUP: 1 API client(s)"); })) << c_.Log(*a_);
  EXPECT_EQ(Lookup({"-H", "Authorization: Bearer " + token_}).status, 401u);
  EXPECT_EQ(Lookup(ClientCert("bank")).status, 200u);
}

// DNS rebinding: the API on loopback answers no request whose Host is a foreign name.
TEST_F(ApiTlsTest, ForeignHostHeaderRefused) {
  ASSERT_NO_FATAL_FAILURE(SetUpBank());
  ASSERT_TRUE(c_.Start(*a_));
  CurlResult foreign = Lookup({"-H", "Host: evil.example:" + std::to_string(a_->api_port), "-H",
                               "Authorization: Bearer " + token_});
  ASSERT_EQ(foreign.exit_code, 0) << foreign.err;
  EXPECT_EQ(foreign.status, 421u) << foreign.body;
  EXPECT_NE(foreign.body.find("DNS rebinding"), std::string::npos) << foreign.body;
  EXPECT_TRUE(LookupUsers(*a_).empty());
  CurlResult own = Lookup({"-H", "Host: localhost:" + std::to_string(a_->api_port), "-H",
                           "Authorization: Bearer " + token_});
  EXPECT_EQ(own.status, 200u) << own.body;
}

// A client over [limits] api_requests_per_second and api_request_burst gets 429 with Retry-After,
// counted in the metrics under its name.
TEST_F(ApiTlsTest, ClientOverItsRateGets429WithRetryAfter) {
  // One a second with a burst of 2: six requests on one curl connection take far less than the
  // four seconds the bucket would need to serve them all.
  ASSERT_NO_FATAL_FAILURE(SetUpBank({{"api_requests_per_second", 1}, {"api_request_burst", 2}}));
  ASSERT_TRUE(c_.Start(*a_));
  const std::filesystem::path headers = c_.dir() / "headers.txt";
  std::vector<std::string> args = {
      "-D",
      headers.string(),
      "-o",
      "/dev/null",
      "--cacert",
      c_.ca_pem().string(),
      "-H",
      "Authorization: Bearer " + token_,
      "-H",
      "Content-Type: application/json",
      "--data",
      R"({"type":"qq","value":")" + std::string(kListedQq) + R"(","purpose":"account-opening"})"};
  // Lookups: monitoring (/metrics, /healthz, /v1/status) is never rate-limited.
  for (int i = 0; i < 6; ++i) args.push_back(Url("/v1/lookup"));
  args.insert(args.begin(), {kCurl, "-q", "-sS", "--max-time", kCurlMaxSeconds});
  RunResult r = RunProgram(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string dumped = ReadAll(headers);
  std::regex status(R"(HTTP/1\.1 (\d+))");
  unsigned ok = 0, limited = 0;
  for (auto it = std::sregex_iterator(dumped.begin(), dumped.end(), status);
       it != std::sregex_iterator(); ++it) {
    ((*it)[1] == "429" ? limited : ok) += 1;
  }
  EXPECT_EQ(ok + limited, 6u) << dumped;
  EXPECT_GE(ok, 2u) << dumped;
  ASSERT_GE(limited, 1u) << dumped;
  EXPECT_TRUE(std::regex_search(dumped, std::regex(R"(\n[Rr]etry-[Aa]fter: [1-9]\d*\r)")))
      << dumped;
  // Another client's budget is its own: the certificate client reads the counter at once.
  std::vector<std::string> as_teller = ClientCert("bank");
  as_teller.insert(as_teller.end(), {"--cacert", c_.ca_pem().string(), Url("/metrics")});
  CurlResult metrics = Curl(as_teller);
  ASSERT_EQ(metrics.status, 200u) << metrics.body;
  EXPECT_NE(metrics.body.find("duanka_api_rate_limited_total{client=\"crm\"} " +
                              std::to_string(limited) + "\n"),
            std::string::npos)
      << metrics.body;
}

// ---- Refused at start: one line naming the key, nothing listens ----

class ApiStartRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override { a_ = &c_.Add("BANKA"); }

  // duankad on the node's HOME with a duanka.toml of `api` and `files` lines (every file at its
  // default place otherwise). Must exit at once with `code`; returns its stderr.
  std::string RefusedWith(int code, const std::string& api, const std::string& files = "") {
    std::ofstream(a_->home / "duanka.toml", std::ios::trunc)
        << "institution = \"" << a_->code << "\"\n\n[network]\napi = \"" << api << "\"\n\n[files]\n"
        << files;
    RunResult r = RunProgram({kDaemon, "--home", a_->home.string()}, "", /*timeout_seconds=*/30);
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(testing::Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.find(" started: "), std::string::npos) << r.err;
    return r.err;
  }

  void WithTls() {
    std::filesystem::copy_file(a_->home / "tls.pem", a_->home / "api-tls.pem");
    std::filesystem::copy_file(a_->home / "tls.key", a_->home / "api-tls.key");
  }

  std::string Loopback() const { return "127.0.0.1:" + std::to_string(a_->api_port); }
  // Not loopback, and never bound: the daemon refuses before it listens.
  std::string Public() const { return "0.0.0.0:" + std::to_string(a_->api_port); }

  Consortium c_;
  Node* a_ = nullptr;
};

TEST_F(ApiStartRefusalTest, NonLoopbackApiWithoutTlsRefused) {
  // Even with the legacy token, which was enough before: lookups would cross the network in clear.
  ASSERT_TRUE(base::WriteFileAtomic(a_->home / "api.token", "legacy-token\n", 0600, true).ok());
  std::string err = RefusedWith(2, Public());
  EXPECT_NE(err.find("is not a loopback address: set files.api_tls_cert"), std::string::npos)
      << err;
}

TEST_F(ApiStartRefusalTest, TokenFileOthersMayReadRefusedNamingTheChmod) {
  ASSERT_TRUE(base::WriteFileAtomic(a_->home / "api.token", "legacy-token\n", 0640, true).ok());
  std::string err = RefusedWith(3, Loopback());
  EXPECT_NE(err.find((a_->home / "api.token").string()), std::string::npos) << err;
  EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
}

TEST_F(ApiStartRefusalTest, NonLoopbackApiWithoutClientsRefused) {
  WithTls();
  std::string err = RefusedWith(2, Public());
  EXPECT_NE(err.find("add an API client first (duanka-admin api-client add NAME"),
            std::string::npos)
      << err;
}

TEST_F(ApiStartRefusalTest, MissingCertificateFileRefused) {
  std::string err = RefusedWith(3, Loopback(), "api_tls_cert = \"missing.pem\"\n");
  EXPECT_NE(
      err.find("files.api_tls_cert " + (a_->home / "missing.pem").string() + ": no such file"),
      std::string::npos)
      << err;
}

TEST_F(ApiStartRefusalTest, UnreadableOrInvalidKeyRefused) {
  std::filesystem::copy_file(a_->home / "tls.pem", a_->home / "api-tls.pem");
  // A directory where the key should be: the read fails, whoever the tests run as.
  std::filesystem::create_directory(a_->home / "api-tls.key");
  std::string err = RefusedWith(3, Loopback());
  EXPECT_NE(
      err.find("files.api_tls_key " + (a_->home / "api-tls.key").string() + ": cannot be read"),
      std::string::npos)
      << err;

  std::filesystem::remove(a_->home / "api-tls.key");
  std::ofstream(a_->home / "api-tls.key") << "not a key\n";
  err = RefusedWith(2, Loopback());
  EXPECT_NE(err.find("files.api_tls_key " + (a_->home / "api-tls.key").string() +
                     ": not a PEM private key"),
            std::string::npos)
      << err;

  // Another key than the certificate's.
  std::filesystem::copy_file(a_->home / "signing.key", a_->home / "api-tls.key",
                             std::filesystem::copy_options::overwrite_existing);
  err = RefusedWith(2, Loopback());
  EXPECT_NE(err.find("does not match the certificate"), std::string::npos) << err;
}

TEST_F(ApiStartRefusalTest, ConsortiumCaAsClientCaRefused) {
  WithTls();
  std::string err = RefusedWith(2, Loopback(), "api_client_ca = \"ca.pem\"\n");
  EXPECT_NE(err.find("files.api_client_ca"), std::string::npos) << err;
  EXPECT_NE(err.find("holds the consortium CA"), std::string::npos) << err;
}

TEST_F(ApiStartRefusalTest, CertificateClientWithoutClientCaRefused) {
  WithTls();
  ASSERT_EQ(c_.Admin(*a_, {"api-client", "add", "teller.app", "--certificate"}).exit_code, 0);
  std::string err = RefusedWith(2, Loopback());
  EXPECT_NE(err.find("client teller.app authenticates by certificate"), std::string::npos) << err;
}

}  // namespace
}  // namespace duanka::integration
