// The daemon's HTTP API end to end: a real ApiServer on 127.0.0.1:0 over a real store in a temp
// dir, its io_context run by two threads, and a real HTTP client (Beast, synchronous).
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "node/daemon/api_clients.h"
#include "node/daemon/http_api.h"
#include "node/daemon/http_router.h"
#include "node/daemon/rate_limit.h"
#include "protocol/identifier.h"
#include "tests/api/api_record.h"
#include "tests/support/read_file.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::daemon {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;
using testing::kTestNow;
using testing::TestIssuer;

// Identifiers of the test store. Their raw spellings must never reach the audit log.
constexpr std::string_view kListedPhone = "13800138000";
constexpr std::string_view kListedPhoneOtherSpelling = "+86 138-0013-8000";
constexpr std::string_view kRevokedPhone = "13911112222";
constexpr std::string_view kUnknownPhone = "13700001111";
constexpr std::string_view kInvalidPhone = "12345";

constexpr int kShortRequestTimeoutMs = 300;
constexpr size_t kTestMaxBody = 4096;
constexpr size_t kTestMaxBatch = 5;

struct Response {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  std::string www_authenticate;
  std::string retry_after;
  bool keep_alive = true;
  json Json() const { return json::parse(body, nullptr, false); }
};

// For the API contract (tests/api/api_record.h). The fixture's /v1/status is a stub of its own,
// not the daemon's shape, so it is left out; the integration tests record the real one.
void RecordReply(std::string_view method, std::string_view target,
                 const http::response<http::string_body>& res) {
  if (target == "/v1/status") return;
  api_record::Record(method, target, res.result_int(), std::string(res[http::field::content_type]),
                     res.body());
}

// A synchronous keep-alive HTTP/1.1 client.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  // `host` "": no Host header at all.
  Response Send(http::verb method, std::string_view target, std::string body = "",
                std::optional<std::string> authorization = std::nullopt,
                std::string_view host = "127.0.0.1") {
    http::request<http::string_body> req{method, std::string(target), 11};
    if (!host.empty()) req.set(http::field::host, beast::string_view(host.data(), host.size()));
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    if (authorization) req.set(http::field::authorization, *authorization);
    req.body() = std::move(body);
    req.keep_alive(true);
    req.prepare_payload();
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    RecordReply(std::string(http::to_string(method)), target, res);
    return Response{res.result_int(),
                    res.body(),
                    std::string(res[http::field::content_type]),
                    std::string(res[http::field::www_authenticate]),
                    std::string(res[http::field::retry_after]),
                    res.keep_alive()};
  }

  tcp::socket& socket() { return socket_; }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

std::string LookupBody(std::string_view type, std::string_view value,
                       std::string_view purpose = "account-opening") {
  return json{{"type", type}, {"value", value}, {"purpose", purpose}}.dump();
}

using testing::ReadAll;

class HttpApiTest : public ::testing::Test {
 protected:
  HttpApiTest() : pepper_(crypto::Pepper::Generate(1)), work_(net::make_work_guard(io_)) {
    store::Options so;
    so.path = dir_ / "store";
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(so);
    if (!s) throw std::runtime_error(s.error().message);
    store_ = std::move(*s);
    protocol::Trust trust;
    trust.Add(bank_a_.signer());
    listed_subject_ = Subject(protocol::IdType::kPhone, kListedPhone);
    protocol::SignedRecord listed = bank_a_.Entry(listed_subject_);
    protocol::SignedRecord revoked =
        bank_a_.Entry(Subject(protocol::IdType::kPhone, kRevokedPhone));
    protocol::SignedRecord revocation = bank_a_.Revoke(protocol::EntryId{"BANKA", 2});
    std::vector<protocol::VerifiedRecord> records =
        testing::MustVerifyAll({listed, revoked, revocation}, trust);
    Result<store::AppendResult> appended = store_->Append(records, kTestNow);
    if (!appended || appended->appended != 3) throw std::runtime_error("cannot fill the store");
    lookuper_ = std::make_unique<node::Lookuper>(*store_, pepper_);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  ~HttpApiTest() override {
    servers_.clear();
    work_.reset();
    io_.stop();
    for (std::thread& t : threads_) t.join();
  }

  crypto::Hash256 Subject(protocol::IdType type, std::string_view raw) const {
    Result<std::string> canonical = protocol::Canonicalize(type, raw);
    if (!canonical) throw std::runtime_error(canonical.error().message);
    return pepper_.Subject(1, protocol::IdTypeName(type), *canonical);
  }

  ApiOptions TestOptions() const {
    ApiOptions o;
    o.listen = "127.0.0.1:0";
    o.max_body_bytes = kTestMaxBody;
    o.max_batch_items = kTestMaxBatch;
    o.request_timeout_ms = kShortRequestTimeoutMs;
    o.idle_timeout_ms = 2000;
    return o;
  }

  // Starts a server with `options` (TestOptions() by default) and `audit` (HOME/audit.log by
  // default); returns its port.
  uint16_t StartServer(std::optional<ApiOptions> options = std::nullopt,
                       const node::AuditLog* audit = nullptr) {
    servers_.push_back(
        std::make_unique<ApiServer>(io_, options.value_or(TestOptions()), Backend(audit)));
    Status started = servers_.back()->Start();
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().message);
    return servers_.back()->port();
  }

  // What a server answers from: this fixture's store, audit log (or `audit`) and metrics.
  ApiBackend Backend(const node::AuditLog* audit = nullptr) {
    ApiBackend b;
    b.lookuper = lookuper_.get();
    b.audit = audit != nullptr ? audit : &audit_;
    b.metrics = &metrics_;
    b.now = [] { return kTestNow; };
    b.status_json = [] { return std::string(R"({"institution":"BANKA","test":true})"); };
    b.metrics_text = [this] {
      Result<store::Stats> stats = store_->GetStats(kTestNow);
      return metrics_.Render(stats ? *stats : store::Stats{});
    };
    b.healthy = [] { return true; };
    b.heads = [this] {
      Result<std::vector<store::Head>> h = store_->Heads();
      return h ? *h : std::vector<store::Head>{};
    };
    b.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      logged_.push_back(line);
    };
    return b;
  }

  // What the servers logged so far.
  std::vector<std::string> Logged() {
    std::lock_guard<std::mutex> lock(log_mutex_);
    return logged_;
  }

  Response Post(uint16_t port, std::string_view target, std::string body,
                std::optional<std::string> authorization = std::nullopt) {
    return Client(port).Send(http::verb::post, target, std::move(body), std::move(authorization));
  }
  Response Get(uint16_t port, std::string_view target) {
    return Client(port).Send(http::verb::get, target);
  }

  testing::TempDir dir_;
  crypto::Pepper pepper_;
  TestIssuer bank_a_{"BANKA"};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<node::Lookuper> lookuper_;
  crypto::Hash256 listed_subject_;
  node::AuditLog audit_{dir_ / "audit.log", "BANKA"};
  Metrics metrics_;
  std::mutex log_mutex_;
  std::vector<std::string> logged_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<ApiServer>> servers_;
};

// ---- Lookups ----

TEST_F(HttpApiTest, ListedIdentifierAnswersListedWithItsEntry) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", LookupBody("phone", kListedPhone));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  json j = r.Json();
  EXPECT_EQ(j["listed"], true);
  EXPECT_EQ(j["type"], "phone");
  EXPECT_EQ(j["subject"], listed_subject_.Hex());
  ASSERT_EQ(j["entries"].size(), 1u);
  EXPECT_EQ(j["entries"][0]["entry"], "BANKA:1");
  EXPECT_EQ(j["entries"][0]["state"], "active");
  EXPECT_EQ(j["entries"][0]["case_ref"], "case-1");  // details, as in the CLI
  ASSERT_EQ(j["store"]["feeds"].size(), 1u);
  EXPECT_EQ(j["store"]["feeds"][0]["issuer"], "BANKA");
  EXPECT_EQ(j["store"]["feeds"][0]["seq"], 3);
}

TEST_F(HttpApiTest, UnknownIdentifierAnswersNotListedWith200) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", LookupBody("phone", kUnknownPhone, "periodic-review"));
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.Json();
  EXPECT_EQ(j["listed"], false);
  EXPECT_TRUE(j["entries"].empty());
}

TEST_F(HttpApiTest, RevokedEntryShownOnlyWithAll) {
  uint16_t port = StartServer();
  Response plain = Post(port, "/v1/lookup", LookupBody("phone", kRevokedPhone));
  ASSERT_EQ(plain.status, 200u);
  EXPECT_EQ(plain.Json()["listed"], false);
  EXPECT_TRUE(plain.Json()["entries"].empty());
  json body = json::parse(LookupBody("phone", kRevokedPhone));
  body["all"] = true;
  Response all = Post(port, "/v1/lookup", body.dump());
  ASSERT_EQ(all.status, 200u) << all.body;
  ASSERT_EQ(all.Json()["entries"].size(), 1u);
  EXPECT_EQ(all.Json()["entries"][0]["state"], "revoked");
  EXPECT_EQ(all.Json()["entries"][0]["revocation"]["by"], "BANKA:3");
}

TEST_F(HttpApiTest, EquivalentSpellingFindsTheSameEntry) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", LookupBody("phone", kListedPhoneOtherSpelling));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.Json()["listed"], true);
  EXPECT_EQ(r.Json()["subject"], listed_subject_.Hex());
}

TEST_F(HttpApiTest, InvalidValueIs400WithoutTheValue) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", LookupBody("phone", kInvalidPhone));
  EXPECT_EQ(r.status, 400u);
  json j = r.Json();
  ASSERT_TRUE(j.is_object()) << r.body;
  ASSERT_TRUE(j["error"].is_string());
  EXPECT_NE(j["error"].get<std::string>().find("phone"), std::string::npos);
  EXPECT_EQ(r.body.find(kInvalidPhone), std::string::npos);
  EXPECT_EQ(r.body.find('\n'), r.body.size() - 1);  // one line
}

TEST_F(HttpApiTest, UnknownTypeIs400NamingTheTypes) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", LookupBody("fax", kListedPhone));
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.Json()["error"].get<std::string>().find("cn-id"), std::string::npos);
}

TEST_F(HttpApiTest, MissingPurposeIs400) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", json{{"type", "phone"}, {"value", kListedPhone}}.dump());
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.Json()["error"].get<std::string>().find("purpose: expected one of"),
            std::string::npos);
  EXPECT_NE(r.Json()["error"].get<std::string>().find("account-opening"), std::string::npos);
}

TEST_F(HttpApiTest, UnknownPurposeIs400) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", LookupBody("phone", kListedPhone, "curiosity"));
  EXPECT_EQ(r.status, 400u);
  EXPECT_NE(r.Json()["error"].get<std::string>().find("purpose:"), std::string::npos);
}

TEST_F(HttpApiTest, MalformedJsonIs400WithoutEchoingIt) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup", "{\"type\":\"phone\",\"value\":\"13800138000\",");
  EXPECT_EQ(r.status, 400u);
  ASSERT_TRUE(r.Json()["error"].is_string()) << r.body;
  EXPECT_EQ(r.body.find(kListedPhone), std::string::npos);
}

TEST_F(HttpApiTest, NonObjectJsonIs400) {
  uint16_t port = StartServer();
  EXPECT_EQ(Post(port, "/v1/lookup", "[1,2,3]").status, 400u);
}

TEST_F(HttpApiTest, OversizeBodyIs413) {
  uint16_t port = StartServer();
  json body = json::parse(LookupBody("phone", kListedPhone));
  body["padding"] = std::string(kTestMaxBody * 2, 'x');
  Response r = Post(port, "/v1/lookup", body.dump());
  EXPECT_EQ(r.status, 413u);
  EXPECT_TRUE(r.Json()["error"].is_string()) << r.body;
}

TEST_F(HttpApiTest, OversizeContentLengthGets413BeforeTheBodyIsSent) {
  uint16_t port = StartServer();
  Client c(port);
  net::write(
      c.socket(),
      net::buffer(std::string(
          "POST /v1/lookup HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n")));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(c.socket(), buffer, res);
  RecordReply("POST", "/v1/lookup", res);
  EXPECT_EQ(res.result_int(), 413u);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(HttpApiTest, ExpectContinueGetsTheGoAheadBeforeTheBody) {
  uint16_t port = StartServer();
  Client c(port);
  std::string body = LookupBody("phone", kListedPhone);
  net::write(c.socket(),
             net::buffer("POST /v1/lookup HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                         "Content-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n"));
  std::string interim(25, '\0');
  net::read(c.socket(), net::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  net::write(c.socket(), net::buffer(body));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(c.socket(), buffer, res);
  RecordReply("POST", "/v1/lookup", res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body())["listed"], true);
}

TEST_F(HttpApiTest, GarbageInsteadOfHttpIs400) {
  uint16_t port = StartServer();
  Client c(port);
  net::write(c.socket(), net::buffer(std::string_view("\x01\x02 not http at all\r\n\r\n")));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(c.socket(), buffer, res);
  RecordReply("", "", res);  // no method or target could be read
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_TRUE(json::parse(res.body())["error"].is_string());
}

// ---- Batch ----

TEST_F(HttpApiTest, BatchAnswersInOrderWithInvalidItemsInPlace) {
  uint16_t port = StartServer();
  json body = {{"purpose", "transaction-review"},
               {"items",
                {{{"type", "phone"}, {"value", kUnknownPhone}},
                 {{"type", "phone"}, {"value", kInvalidPhone}},
                 {{"type", "phone"}, {"value", kListedPhoneOtherSpelling}},
                 {{"type", "nonsense"}, {"value", "x"}},
                 "not an object"}}};
  Response r = Post(port, "/v1/lookup/batch", body.dump());
  ASSERT_EQ(r.status, 200u) << r.body;
  json j = r.Json();
  ASSERT_EQ(j["results"].size(), 5u);
  EXPECT_EQ(j["results"][0]["listed"], false);
  EXPECT_TRUE(j["results"][1]["error"].is_string());
  EXPECT_EQ(j["results"][2]["listed"], true);
  EXPECT_EQ(j["results"][2]["subject"], listed_subject_.Hex());
  EXPECT_TRUE(j["results"][3]["error"].is_string());
  EXPECT_TRUE(j["results"][4]["error"].is_string());
  EXPECT_EQ(j["store"]["feeds"][0]["issuer"], "BANKA");
  EXPECT_EQ(r.body.find(kInvalidPhone), std::string::npos);

  // One audit line for the listed item, then one with the batch's counts.
  std::string audit = ReadAll(dir_ / "audit.log");
  ASSERT_EQ(std::count(audit.begin(), audit.end(), '\n'), 2);
  json line = json::parse(audit.substr(audit.find('\n') + 1));
  EXPECT_EQ(line["action"], "lookup-batch");
  EXPECT_EQ(line["purpose"], "transaction-review");
  EXPECT_EQ(line["lines"], 5);
  EXPECT_EQ(line["listed"], 1);
  EXPECT_EQ(line["not_listed"], 1);
  EXPECT_EQ(line["invalid"], 3);
}

TEST_F(HttpApiTest, BatchLeavesOneAuditLineForEveryListedItemAsASingleLookupDoes) {
  ApiOptions o = TestOptions();
  o.max_batch_items = 10;
  uint16_t port = StartServer(o);
  json body = {{"purpose", "investigation"},
               {"items",
                {{{"type", "phone"}, {"value", kListedPhone}},
                 {{"type", "phone"}, {"value", kUnknownPhone}},
                 {{"type", "phone"}, {"value", kRevokedPhone}},  // revoked: not listed
                 {{"type", "phone"}, {"value", kInvalidPhone}},
                 {{"type", "phone"}, {"value", kListedPhoneOtherSpelling}},
                 {{"type", "phone"}, {"value", kUnknownPhone}}}}};
  Response r = Post(port, "/v1/lookup/batch", body.dump());
  ASSERT_EQ(r.status, 200u) << r.body;

  std::string audit = ReadAll(dir_ / "audit.log");
  std::istringstream text(audit);
  std::vector<json> lines;
  for (std::string line; std::getline(text, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << audit;
  const int listed_items[] = {1, 5};
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(lines[i]["action"], "lookup") << lines[i];
    EXPECT_EQ(lines[i]["batch_line"], listed_items[i]);
    EXPECT_EQ(lines[i]["program"], "duankad");
    EXPECT_EQ(lines[i]["user"], "127.0.0.1");
    EXPECT_EQ(lines[i]["purpose"], "investigation");
    EXPECT_EQ(lines[i]["type"], "phone");
    EXPECT_EQ(lines[i]["subject8"], listed_subject_.Hex().substr(0, 8));
    EXPECT_EQ(lines[i]["result"], "listed");
  }
  EXPECT_EQ(lines[2]["action"], "lookup-batch");
  EXPECT_EQ(lines[2]["lines"], 6);
  EXPECT_EQ(lines[2]["listed"], 2);
  EXPECT_EQ(lines[2]["not_listed"], 3);
  EXPECT_EQ(lines[2]["invalid"], 1);
  for (std::string_view raw :
       {kListedPhone, std::string_view("138-0013"), kRevokedPhone, kUnknownPhone, kInvalidPhone}) {
    EXPECT_EQ(audit.find(raw), std::string::npos) << raw;
  }
  EXPECT_EQ(audit.find(listed_subject_.Hex()), std::string::npos) << "only 8 hex digits";

  // The same fields as a single lookup's line, field for field, plus the item's place.
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kListedPhone, "investigation")).status,
            200u);
  std::string after = ReadAll(dir_ / "audit.log");
  json single = json::parse(after.substr(audit.size()));
  json item = lines[0];
  item.erase("batch_line");
  // The chain fields say where each line is in the log (audit_chain_test checks them).
  for (json* j : {&item, &single}) {
    j->erase("seq");
    j->erase("prev");
  }
  EXPECT_EQ(item, single);
}

TEST_F(HttpApiTest, BatchOverTheItemLimitIsRefused) {
  uint16_t port = StartServer();
  json items = json::array();
  for (size_t i = 0; i <= kTestMaxBatch; ++i)
    items.push_back({{"type", "phone"}, {"value", kUnknownPhone}});
  Response r =
      Post(port, "/v1/lookup/batch", json{{"purpose", "account-opening"}, {"items", items}}.dump());
  EXPECT_EQ(r.status, 413u);
  EXPECT_TRUE(r.Json()["error"].is_string());
}

TEST_F(HttpApiTest, BatchWithoutPurposeIs400) {
  uint16_t port = StartServer();
  Response r = Post(port, "/v1/lookup/batch", R"({"items":[]})");
  EXPECT_EQ(r.status, 400u);
}

// ---- Bearer token ----

TEST_F(HttpApiTest, BearerTokenRequiredAcceptedAndWrongOneRefused) {
  ApiOptions o = TestOptions();
  o.bearer_token = "s3cret-token";
  uint16_t port = StartServer(o);
  Response none = Post(port, "/v1/lookup", LookupBody("phone", kListedPhone));
  EXPECT_EQ(none.status, 401u);
  EXPECT_EQ(none.www_authenticate, "Bearer");
  EXPECT_TRUE(none.Json()["error"].is_string());
  EXPECT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kListedPhone), "Bearer wrong").status,
            401u);
  EXPECT_EQ(
      Post(port, "/v1/lookup", LookupBody("phone", kListedPhone), "Bearer s3cret-tokenX").status,
      401u);
  EXPECT_EQ(
      Post(port, "/v1/lookup", LookupBody("phone", kListedPhone), "Basic s3cret-token").status,
      401u);
  Response ok = Post(port, "/v1/lookup", LookupBody("phone", kListedPhone), "Bearer s3cret-token");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(ok.Json()["listed"], true);
  // With a token the audit log names the client "token".
  EXPECT_EQ(json::parse(ReadAll(dir_ / "audit.log"))["user"], "token");
  // GET endpoints need it too.
  EXPECT_EQ(Get(port, "/metrics").status, 401u);
}

TEST_F(HttpApiTest, UnauthorizedAnswerClosesTheConnection) {
  ApiOptions o = TestOptions();
  o.bearer_token = "s3cret-token";
  o.idle_timeout_ms = 60000;  // a connection kept alive would outlast the wait below by far
  uint16_t port = StartServer(o);

  // With the token, one connection serves request after request.
  Client authorized(port);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(authorized.Send(http::verb::get, "/healthz", "", "Bearer s3cret-token").status, 200u);
  }

  Client c(port);
  http::request<http::string_body> req{http::verb::get, "/healthz", 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(true);
  http::write(c.socket(), req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(c.socket(), buffer, res);
  RecordReply("GET", "/healthz", res);
  EXPECT_EQ(res.result_int(), 401u);
  EXPECT_FALSE(res.keep_alive()) << "a 401 must say Connection: close";
  // The server closes its side: the next read ends, well before the idle timeout.
  constexpr int kCloseWaitMs = 5000;
  pollfd readable{c.socket().native_handle(), POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, kCloseWaitMs), 1) << "the connection was kept open";
  char byte;
  ssize_t n = ::recv(c.socket().native_handle(), &byte, 1, 0);
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n;
}

// ---- Named clients, Host, rate limit (issue 12, item 5) ----

ApiClient TokenClient(const std::string& name, const std::string& token) {
  ApiClient c;
  c.name = name;
  c.token_sha256 = crypto::Sha256(crypto::AsBytes(token));
  return c;
}

ApiClient CertificateClient(const std::string& name) {
  ApiClient c;
  c.name = name;
  c.certificate = true;
  return c;
}

// The `user` of every audit line so far, in order.
std::vector<std::string> AuditUsers(const std::filesystem::path& log) {
  std::vector<std::string> users;
  std::istringstream lines(ReadAll(log));
  for (std::string line; std::getline(lines, line);) {
    users.push_back(json::parse(line)["user"].get<std::string>());
  }
  return users;
}

// Each client its own token, and the name of the one presented is the audit log's user; the
// legacy single token is the client "token" beside them. A token of no client is refused.
TEST_F(HttpApiTest, EachNamedTokenClientIsTheAuditUserOfItsLookups) {
  ApiOptions o = TestOptions();
  o.bearer_token = "legacy-token";
  o.clients.clients = {TokenClient("crm", "dka_crm_secret"),
                       TokenClient("teller-app", "dka_teller_secret")};
  uint16_t port = StartServer(o);
  const std::string body = LookupBody("phone", kListedPhone);
  EXPECT_EQ(Post(port, "/v1/lookup", body, "Bearer dka_crm_secret").status, 200u);
  EXPECT_EQ(Post(port, "/v1/lookup", body, "Bearer dka_teller_secret").status, 200u);
  EXPECT_EQ(Post(port, "/v1/lookup", body, "Bearer legacy-token").status, 200u);
  Response wrong = Post(port, "/v1/lookup", body, "Bearer dka_crm_secreX");
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_FALSE(wrong.keep_alive);
  EXPECT_EQ(Post(port, "/v1/lookup", body).status, 401u);
  EXPECT_EQ(AuditUsers(dir_ / "audit.log"),
            (std::vector<std::string>{"crm", "teller-app", "token"}));
}

// SetClients (SIGHUP) takes effect for the next request: a removed client's token no longer opens
// the API, an added one does.
TEST_F(HttpApiTest, ReplacedClientsTakeEffectAtOnce) {
  ApiOptions o = TestOptions();
  o.clients.clients = {TokenClient("crm", "dka_crm_secret")};
  uint16_t port = StartServer(o);
  EXPECT_EQ(Client(port).Send(http::verb::get, "/healthz", "", "Bearer dka_crm_secret").status,
            200u);
  ApiClients replaced;
  replaced.clients = {TokenClient("teller-app", "dka_teller_secret")};
  servers_.back()->SetClients(replaced);
  EXPECT_EQ(Client(port).Send(http::verb::get, "/healthz", "", "Bearer dka_crm_secret").status,
            401u);
  EXPECT_EQ(Client(port).Send(http::verb::get, "/healthz", "", "Bearer dka_teller_secret").status,
            200u);
}

// The certificate's CN (set by the TLS session) names the client only when it is registered as a
// certificate client: a CN equal to a token client's name, or to nobody's, is 403.
TEST_F(HttpApiTest, ClientCertificateNamesOnlyARegisteredCertificateClient) {
  ApiOptions o = TestOptions();
  o.clients.clients = {TokenClient("crm", "dka_crm_secret"), CertificateClient("teller.app")};
  ApiRouter router(o, Backend());
  const std::string body = LookupBody("phone", kListedPhone);
  auto request = [&](std::string_view cn) {
    return ApiRequest{"POST", "/v1/lookup", "", body, "10.0.0.9", "127.0.0.1:7480", cn};
  };
  EXPECT_EQ(router.Handle(request("teller.app")).status, 200u);
  EXPECT_EQ(router.Handle(request("crm")).status, 403u);
  EXPECT_EQ(router.Handle(request("stranger")).status, 403u);
  EXPECT_EQ(router.Handle(request("")).status, 401u);
  EXPECT_EQ(AuditUsers(dir_ / "audit.log"), (std::vector<std::string>{"teller.app"}));
}

// DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 makes the browser
// send "Host: evil.example". Only loopback names and addresses (any port), the listen address and
// the configured names are served; the refusal closes the connection.
TEST_F(HttpApiTest, ForeignHostIsRefusedAndLoopbackNamesServed) {
  ApiOptions o = TestOptions();
  o.host_names = {"duanka.bank.example"};
  uint16_t port = StartServer(o);
  auto get = [&](std::string_view host) {
    return Client(port).Send(http::verb::get, "/healthz", "", std::nullopt, host);
  };
  for (std::string_view host :
       {"evil.example", "evil.example:7480", "localhost.evil.example", "127.0.0.1.evil.example",
        "10.0.0.5", "[::1", "duanka.bank.example.evil"}) {
    SCOPED_TRACE(host);
    Response r = get(host);
    EXPECT_EQ(r.status, 421u);
    EXPECT_NE(r.Json()["error"].get<std::string>().find("DNS rebinding"), std::string::npos);
    EXPECT_FALSE(r.keep_alive);
  }
  EXPECT_EQ(get("").status, 400u);
  for (std::string_view host :
       {"localhost", "LOCALHOST:7480", "localhost.", "127.0.0.1", "127.0.0.1:9999", "127.1.2.3",
        "[::1]:7480", "[::1]", "duanka.bank.example:443", "Duanka.Bank.Example"}) {
    SCOPED_TRACE(host);
    EXPECT_EQ(get(host).status, 200u);
  }
  EXPECT_NE(
      Get(port, "/metrics").body.find("duanka_api_requests_refused_total{reason=\"host\"} 8\n"),
      std::string::npos);
}

// A client over its budget gets 429 with Retry-After and its refusals are counted per client;
// another client's budget is its own.
TEST_F(HttpApiTest, ClientOverItsRateGets429WithRetryAfter) {
  ApiOptions o = TestOptions();
  o.clients.clients = {TokenClient("crm", "dka_crm_secret"),
                       TokenClient("teller-app", "dka_teller_secret")};
  // One request a second with a burst of 2: 6 requests on one connection take far less than the
  // 4 s in which the bucket could refill enough to serve them all.
  o.requests_per_second = 1;
  o.request_burst = 2;
  uint16_t port = StartServer(o);
  Client crm(port);
  unsigned limited = 0;
  Response last;
  for (int i = 0; i < 6; ++i) {
    // A lookup: monitoring (/metrics, /healthz, /v1/status) is never rate-limited.
    Response r = crm.Send(http::verb::post, "/v1/lookup", LookupBody("phone", kListedPhone),
                          "Bearer dka_crm_secret");
    if (r.status == 429u) {
      ++limited;
      last = r;
    } else {
      EXPECT_EQ(r.status, 200u);
    }
  }
  ASSERT_GE(limited, 1u);
  EXPECT_GE(std::stoi(last.retry_after), 1);
  EXPECT_NE(last.Json()["error"].get<std::string>().find("too many requests"), std::string::npos);
  EXPECT_TRUE(last.keep_alive) << "a 429 need not end the connection";
  // Monitoring answers the limited client all the same.
  EXPECT_EQ(crm.Send(http::verb::get, "/healthz", "", "Bearer dka_crm_secret").status, 200u);
  Response teller = Client(port).Send(http::verb::get, "/metrics", "", "Bearer dka_teller_secret");
  ASSERT_EQ(teller.status, 200u);
  EXPECT_NE(teller.body.find("duanka_api_rate_limited_total{client=\"crm\"} " +
                             std::to_string(limited) + "\n"),
            std::string::npos)
      << teller.body;
  EXPECT_EQ(teller.body.find("duanka_api_rate_limited_total{client=\"teller-app\"}"),
            std::string::npos);
}

TEST(RateLimiterTest, BucketRefillsAtTheRateUpToTheBurstPerClient) {
  auto now = std::chrono::steady_clock::time_point{};
  RateLimiter limiter(2, 3, [&] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("a").has_value()) << i;
  std::optional<uint32_t> wait = limiter.Take("a");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, 1u);  // half a second to the next token, rounded up to whole seconds
  EXPECT_FALSE(limiter.Take("b").has_value());  // b's bucket is its own
  now += std::chrono::milliseconds(500);        // one token at 2 per second
  EXPECT_FALSE(limiter.Take("a").has_value());
  EXPECT_TRUE(limiter.Take("a").has_value());
  now += std::chrono::hours(1);  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("a").has_value()) << i;
  EXPECT_TRUE(limiter.Take("a").has_value());
  EXPECT_EQ(limiter.Refused().at("a"), 3u);
  EXPECT_EQ(limiter.Refused().count("b"), 0u);
  RateLimiter off(0, 1, [&] { return now; });
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.Take("a").has_value());
}

TEST(RateLimiterTest, BucketsStayBoundedUnderManyClients) {
  auto now = std::chrono::steady_clock::time_point{};
  RateLimiter limiter(1, 1, [&] { return now; });
  for (size_t i = 0; i < kMaxRateBuckets * 2; ++i) (void)limiter.Take(std::to_string(i));
  // Still answers, and the newest client's bucket is the one just used.
  EXPECT_TRUE(limiter.Take(std::to_string(kMaxRateBuckets * 2 - 1)).has_value());
}

TEST(ApiClientsFileTest, SavedClientsLoadBackAndNoTokenIsStored) {
  testing::TempDir dir;
  const std::string token = NewApiToken();
  EXPECT_TRUE(token.starts_with(kApiTokenPrefix));
  EXPECT_EQ(token.size(), kApiTokenPrefix.size() + 2 * kApiTokenBytes);
  EXPECT_NE(token, NewApiToken());
  ApiClients clients;
  clients.clients = {TokenClient("crm", token), CertificateClient("teller.app")};
  clients.clients[0].added = "2026-12-06T12:00:00Z";
  ASSERT_TRUE(SaveApiClients(dir / "api-clients.toml", clients).ok());
  EXPECT_EQ(std::filesystem::status(dir / "api-clients.toml").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string text = ReadAll(dir / "api-clients.toml");
  EXPECT_EQ(text.find(token.substr(kApiTokenPrefix.size())), std::string::npos) << text;
  Result<ApiClients> loaded = LoadApiClients(dir / "api-clients.toml");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->clients.size(), 2u);
  EXPECT_EQ(loaded->clients[0].name, "crm");
  EXPECT_EQ(loaded->clients[0].token_sha256, clients.clients[0].token_sha256);
  EXPECT_EQ(loaded->clients[0].added, "2026-12-06T12:00:00Z");
  EXPECT_EQ(loaded->clients[1].name, "teller.app");
  EXPECT_TRUE(loaded->clients[1].certificate);
  EXPECT_EQ(LoadApiClients(dir / "none.toml").error().kind, ErrorKind::kNotFound);
}

TEST(ApiClientsFileTest, MalformedFileRefusedNamingTheClient) {
  testing::TempDir dir;
  auto load = [&](const std::string& text) {
    std::ofstream(dir / "c.toml", std::ios::trunc) << text;
    return LoadApiClients(dir / "c.toml");
  };
  struct Case {
    std::string text;
    const char* why;
  };
  for (const Case& c : {
           Case{"[clients.crm]\ntoken_sha256 = \"abc\"\n", "client crm: token_sha256"},
           Case{"[clients.crm]\ncertificate = true\ntoken_sha256 = \"" + std::string(64, 'a') +
                    "\"\n",
                "exactly one of"},
           Case{"[clients.crm]\n", "exactly one of"},
           Case{"[clients.\"a b\"]\ncertificate = true\n", "client name"},
           Case{"[clients.crm]\ntoken = \"dka_x\"\n", "client crm: unexpected token"},
           Case{"[other]\n", "unexpected \"other\""},
           Case{"[clients\n", "line 1"},
       }) {
    SCOPED_TRACE(c.text);
    Result<ApiClients> r = load(c.text);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(r.error().message.find(c.why), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

// ---- Descriptor limit ----

// Lowers this process's soft RLIMIT_NOFILE for a scope, restoring it after.
class DescriptorLimit {
 public:
  explicit DescriptorLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered{soft, saved_.rlim_max};
    ok_ = ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  ~DescriptorLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

// Polls `condition` until it holds or a generous deadline passes (the machine is shared).
bool Eventually(const std::function<bool()>& condition) {
  constexpr auto kDeadline = std::chrono::seconds(10);
  constexpr auto kPoll = std::chrono::milliseconds(20);
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

size_t OpenDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

std::vector<std::string> AcceptFailures(const std::vector<std::string>& logged) {
  std::vector<std::string> out;
  for (const std::string& line : logged) {
    if (line.find("cannot accept") != std::string::npos) out.push_back(line);
  }
  return out;
}

TEST_F(HttpApiTest, AtTheDescriptorLimitOpenConnectionsAreServedAndAcceptBacksOff) {
  ApiOptions o = TestOptions();
  o.idle_timeout_ms = 60000;
  o.request_timeout_ms = 60000;
  uint16_t port = StartServer(o);
  Client keep(port);
  ASSERT_EQ(keep.Send(http::verb::post, "/v1/lookup", LookupBody("phone", kListedPhone)).status,
            200u);
  const tcp::endpoint server(net::ip::make_address("127.0.0.1"), port);
  net::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> attackers;
  {
    // This process (test and server alike) may hold only a few more descriptors. The attacker's
    // sockets take them all first, then connect: the server cannot accept any of them.
    constexpr size_t kHeadroom = 16;
    DescriptorLimit limit(OpenDescriptors() + kHeadroom);
    ASSERT_TRUE(limit.ok());
    for (size_t i = 0; i < 4 * kHeadroom; ++i) {
      auto s = std::make_unique<tcp::socket>(io);
      beast::error_code ec;
      s->open(tcp::v4(), ec);
      if (ec) {
        EXPECT_EQ(ec, net::error::no_descriptors) << ec.message();
        break;
      }
      attackers.push_back(std::move(s));
    }
    ASSERT_GE(attackers.size(), kHeadroom / 2);
    for (auto& s : attackers) s->connect(server);  // completes in the kernel's backlog

    // The server has noticed (one log line), and goes on serving the open connection: its audit
    // log is held open, so a lookup needs no new descriptor.
    ASSERT_TRUE(Eventually([&] { return !AcceptFailures(Logged()).empty(); }));
    for (int i = 0; i < 5; ++i) {
      Response r = keep.Send(http::verb::post, "/v1/lookup", LookupBody("phone", kListedPhone));
      ASSERT_EQ(r.status, 200u) << r.body;
      EXPECT_EQ(r.Json()["listed"], true);
    }
    // Several retries later (100 ms doubling to 1 s), still one line for the episode.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    EXPECT_EQ(AcceptFailures(Logged()).size(), 1u);

    // The attacker goes; the backlog is accepted and new connections are served again.
    attackers.clear();
  }
  ASSERT_TRUE(Eventually([&] {
    for (const std::string& line : Logged()) {
      if (line.find("accepting connections again") != std::string::npos) return true;
    }
    return false;
  }));
  EXPECT_EQ(Get(port, "/healthz").status, 200u);
  EXPECT_EQ(AcceptFailures(Logged()).size(), 1u);
}

// ---- Other endpoints ----

TEST_F(HttpApiTest, MetricsNameEveryFamilyAndCountLookups) {
  uint16_t port = StartServer();
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kListedPhone)).status, 200u);
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kUnknownPhone)).status, 200u);
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kUnknownPhone)).status, 200u);
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kInvalidPhone)).status, 400u);
  Response r = Get(port, "/metrics");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  for (const char* name :
       {"duanka_records", "duanka_entries", "duanka_feed_frozen",
        "duanka_feed_last_grew_timestamp_seconds", "duanka_pending_revocations", "duanka_evidence",
        "duanka_store_bytes", "duanka_lookups_total", "duanka_lookup_duration_seconds",
        "duanka_peers_connected", "duanka_peer_connections", "duanka_records_received_total",
        "duanka_records_appended_total", "duanka_records_uncommitted",
        "duanka_records_rejected_total", "duanka_sync_lag_records", "duanka_forks_total",
        "duanka_audit_write_failures_total", "duanka_peers_refused_total"}) {
    EXPECT_NE(r.body.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(r.body.find("duanka_lookups_total{result=\"listed\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("duanka_lookups_total{result=\"not_listed\"} 2\n"), std::string::npos);
  EXPECT_NE(r.body.find("duanka_lookups_total{result=\"invalid\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("duanka_lookup_duration_seconds_count 4\n"), std::string::npos);
  EXPECT_NE(r.body.find("duanka_lookup_duration_seconds_bucket{le=\"+Inf\"} 4\n"),
            std::string::npos);
  EXPECT_NE(r.body.find("duanka_records{issuer=\"BANKA\"} 3\n"), std::string::npos);
  EXPECT_NE(r.body.find("duanka_entries{issuer=\"BANKA\",state=\"revoked\"} 1\n"),
            std::string::npos);
}

TEST_F(HttpApiTest, HealthzIsOk) {
  uint16_t port = StartServer();
  Response r = Get(port, "/healthz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(HttpApiTest, StatusComesFromTheBackend) {
  uint16_t port = StartServer();
  Response r = Get(port, "/v1/status");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.Json()["institution"], "BANKA");
  EXPECT_EQ(r.Json()["test"], true);
}

TEST_F(HttpApiTest, UnknownPathIs404AndWrongMethodIs405) {
  uint16_t port = StartServer();
  Response missing = Get(port, "/v2/anything");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_TRUE(missing.Json()["error"].is_string());
  Response wrong = Get(port, "/v1/lookup");
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_TRUE(wrong.Json()["error"].is_string());
  EXPECT_EQ(Post(port, "/metrics", "{}").status, 405u);
}

// ---- Connections ----

TEST_F(HttpApiTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  uint16_t port = StartServer();
  Client c(port);
  for (int i = 0; i < 20; ++i) {
    Response r = c.Send(http::verb::post, "/v1/lookup", LookupBody("phone", kListedPhone));
    ASSERT_EQ(r.status, 200u);
  }
  EXPECT_EQ(c.Send(http::verb::get, "/healthz").status, 200u);
}

TEST_F(HttpApiTest, PipelinedRequestsAreAnsweredInOrder) {
  uint16_t port = StartServer();
  Client c(port);
  std::string listed = LookupBody("phone", kListedPhone);
  std::string unknown = LookupBody("phone", kUnknownPhone);
  std::string both;
  for (const std::string* body : {&listed, &unknown}) {
    both += "POST /v1/lookup HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
            std::to_string(body->size()) + "\r\n\r\n" + *body;
  }
  net::write(c.socket(), net::buffer(both));
  beast::flat_buffer buffer;
  for (bool expected : {true, false}) {
    http::response<http::string_body> res;
    http::read(c.socket(), buffer, res);
    RecordReply("POST", "/v1/lookup", res);
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_EQ(json::parse(res.body())["listed"], expected);
  }
}

TEST_F(HttpApiTest, RequestSplitAcrossWritesIsReadWhole) {
  uint16_t port = StartServer();
  Client c(port);
  std::string body = LookupBody("phone", kListedPhone);
  std::string request = "POST /v1/lookup HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  for (size_t at : {size_t{10}, size_t{40}, request.size() - 5, request.size()}) {
    net::write(c.socket(), net::buffer(request.substr(sent, at - sent)));
    sent = at;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(c.socket(), buffer, res);
  RecordReply("POST", "/v1/lookup", res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(json::parse(res.body())["listed"], true);
}

TEST_F(HttpApiTest, SilentClientIsClosedAfterTheRequestTimeout) {
  uint16_t port = StartServer();
  Client c(port);
  auto start = std::chrono::steady_clock::now();
  char byte;
  beast::error_code ec;
  size_t n = c.socket().read_some(net::buffer(&byte, 1), ec);  // blocks until the server closes
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_GE(waited, std::chrono::milliseconds(kShortRequestTimeoutMs - 50));
  EXPECT_LT(waited, std::chrono::milliseconds(kShortRequestTimeoutMs * 10));
}

TEST_F(HttpApiTest, SlowPartialRequestIsClosedAfterTheRequestTimeout) {
  uint16_t port = StartServer();
  Client c(port);
  net::write(c.socket(),
             net::buffer(std::string_view("POST /v1/lookup HTTP/1.1\r\nHost: localhost\r\n")));
  char byte;
  beast::error_code ec;
  auto start = std::chrono::steady_clock::now();
  c.socket().read_some(net::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(kShortRequestTimeoutMs * 10));
}

TEST_F(HttpApiTest, ConnectionsBeyondTheLimitAreRefused) {
  ApiOptions o = TestOptions();
  o.max_connections = 1;
  o.request_timeout_ms = 5000;
  uint16_t port = StartServer(o);
  Client first(port);
  ASSERT_EQ(first.Send(http::verb::get, "/healthz").status, 200u);  // surely accepted by now
  Client second(port);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(second.socket(), buffer, res, ec);
  if (!ec) {
    RecordReply("", "", res);  // refused before any request was read
    EXPECT_EQ(res.result_int(), 503u);
  } else {
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  }
  EXPECT_EQ(first.Send(http::verb::get, "/healthz").status, 200u);
}

TEST_F(HttpApiTest, StopClosesIdleKeepAliveConnections) {
  uint16_t port = StartServer();
  Client c(port);
  ASSERT_EQ(c.Send(http::verb::get, "/healthz").status, 200u);
  servers_.back()->Stop();
  char byte;
  beast::error_code ec;
  c.socket().read_some(net::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
}

// ---- Audit ----

TEST_F(HttpApiTest, AuditLinesHavePurposeAndSubject8AndNeverTheValue) {
  uint16_t port = StartServer();
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kListedPhone, "appeal")).status, 200u);
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kListedPhoneOtherSpelling)).status, 200u);
  ASSERT_EQ(Post(port, "/v1/lookup", LookupBody("phone", kUnknownPhone)).status, 200u);
  std::string audit = ReadAll(dir_ / "audit.log");
  EXPECT_EQ(audit.find(kListedPhone), std::string::npos);
  EXPECT_EQ(audit.find("138-0013"), std::string::npos);
  EXPECT_EQ(audit.find(kUnknownPhone), std::string::npos);
  std::istringstream lines(audit);
  std::vector<json> parsed;
  for (std::string line; std::getline(lines, line);) parsed.push_back(json::parse(line));
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0]["program"], "duankad");
  EXPECT_EQ(parsed[0]["user"], "127.0.0.1");
  EXPECT_EQ(parsed[0]["purpose"], "appeal");
  EXPECT_EQ(parsed[0]["type"], "phone");
  EXPECT_EQ(parsed[0]["subject8"], listed_subject_.Hex().substr(0, 8));
  EXPECT_EQ(parsed[0]["result"], "listed");
  EXPECT_EQ(parsed[1]["purpose"], "account-opening");
  EXPECT_EQ(parsed[1]["subject8"], listed_subject_.Hex().substr(0, 8));
  EXPECT_EQ(parsed[2]["result"], "not-listed");
}

TEST_F(HttpApiTest, AuditFailureRefusesTheLookupWith503) {
  node::AuditLog broken(dir_ / "no-such-dir" / "audit.log", "BANKA");
  uint16_t port = StartServer(std::nullopt, &broken);
  Response r = Post(port, "/v1/lookup", LookupBody("phone", kListedPhone));
  EXPECT_EQ(r.status, 503u);
  ASSERT_TRUE(r.Json()["error"].is_string()) << r.body;
  EXPECT_EQ(r.body.find("\"listed\""), std::string::npos);
  Response batch =
      Post(port, "/v1/lookup/batch",
           json{{"purpose", "appeal"}, {"items", {{{"type", "phone"}, {"value", kListedPhone}}}}}
               .dump());
  EXPECT_EQ(batch.status, 503u);
  EXPECT_NE(Get(port, "/metrics").body.find("duanka_audit_write_failures_total 2\n"),
            std::string::npos);
}

// ---- Metrics rendering ----

TEST(MetricsTest, LabelValuesAreEscapedAndBucketsCumulative) {
  Metrics m;
  m.SetSyncLag("BANK\"B\\\n", 7);
  m.CountLookup(true, false, 0.000003);  // first bucket
  m.CountLookup(false, false, 0.00002);  // 0.000025 bucket
  m.CountLookup(false, false, 5.0);      // +Inf only
  m.CountRejected(RejectReason::kChainBreak, 3);
  std::string text = m.Render(store::Stats{});
  EXPECT_NE(text.find("duanka_sync_lag_records{peer=\"BANK\\\"B\\\\\\n\"} 7\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("duanka_lookup_duration_seconds_bucket{le=\"0.000005\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("duanka_lookup_duration_seconds_bucket{le=\"0.00001\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("duanka_lookup_duration_seconds_bucket{le=\"0.000025\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("duanka_lookup_duration_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("duanka_lookup_duration_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("duanka_lookup_duration_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("duanka_records_rejected_total{reason=\"chain_break\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("# HELP duanka_forks_total "), std::string::npos);
}

TEST_F(HttpApiTest, PortInUseRefusedWithTheReason) {
  uint16_t taken = StartServer();
  ApiOptions options = TestOptions();
  options.listen = "127.0.0.1:" + std::to_string(taken);
  ApiServer second(io_, options, Backend());
  Status started = second.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().kind, ErrorKind::kIo) << started.error().message;
  EXPECT_NE(started.error().message.find("in use"), std::string::npos) << started.error().message;
}

}  // namespace
}  // namespace duanka::daemon
