// GET /v1/alerts on a real duankad (issue 14): the alerts a watch and a report raise, resuming
// with `after`, a long poll woken by another process's commit, refused parameters, the audit
// line of each page handed out, the metrics and the status page's figures, the expiry sweep's
// `cleared` "expired" alert, and long polls ended by the daemon's stop.
#include <utility>  // Boost 1.74's asio headers need it first on GCC 12

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <ctime>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "node/common/alerts.h"
#include "tests/api/api_record.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;
using testing::RunResult;

constexpr const char* kPhone = "13800138055";
constexpr const char* kPhoneRef = "cust#1001";
constexpr const char* kQq = "730045199";
constexpr const char* kQqRef = "cust#1002";
constexpr const char* kLatePhone = "13911110077";
constexpr const char* kLateRef = "cust#1003";

// Long enough that a poll answered by its deadline, not by the alert, fails the test (its page
// is then empty); a socket timeout beyond it so that a daemon that never answers fails too.
constexpr int kLongPollSeconds = 60;
constexpr timeval kSocketTimeout{kLongPollSeconds + 30, 0};
// A wait longer than the API's request timeout (ApiOptions::request_timeout_ms, 10 s).
constexpr int kBeyondRequestTimeoutSeconds = 11;
// How long a test lets a long poll reach the daemon before making the change it waits for. Not
// an assertion: were the poll later, it would find the alert at once and pass just the same.
constexpr Millis kLetThePollArrive{300};
// How often the cap test looks whether a poll has returned (not an assertion).
constexpr Millis kPollStep{20};
// The expiry test's entry expires this many days ahead (a date means its midnight in China
// Standard Time, which may be today's afternoon in UTC), and its daemon's clock runs past that.
constexpr int64_t kExpiresInDays = 2;
constexpr int64_t kDaysAhead = 4;
constexpr int64_t kSecondsPerDay = 86400;

struct Reply {
  unsigned status = 0;  // 0: no answer (connection closed or timed out)
  std::string body;
  json Json() const { return json::parse(body, nullptr, false); }
};

// One GET on a fresh connection, recorded for the API contract.
Reply Get(uint16_t port, const std::string& target, http::verb verb = http::verb::get) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &kSocketTimeout,
               sizeof kSocketTimeout);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &kSocketTimeout,
               sizeof kSocketTimeout);
  http::request<http::empty_body> request{verb, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request, ec);
  if (ec) return {};
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, ec);
  if (ec) return {};
  api_record::Record(std::string(http::to_string(verb)), target, response.result_int(),
                     std::string(response[http::field::content_type]), response.body());
  return {response.result_int(), response.body()};
}

// UTC date `days` from today, YYYY-MM-DD.
std::string DateFromToday(int64_t days) {
  std::time_t t = std::time(nullptr) + static_cast<std::time_t>(days * kSecondsPerDay);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[16];
  std::strftime(out, sizeof out, "%Y-%m-%d", &tm);
  return out;
}

class AlertFeed : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = &c_.Add("BANKA");
    ASSERT_TRUE(c_.Start(*node_));
  }

  // duanka-admin watch --batch FILE with `lines` (TYPE,VALUE,REF each); the file is removed.
  void Watch(const std::string& lines) {
    const std::filesystem::path file = c_.dir() / "customers.csv";
    {
      std::ofstream out(file);
      out << lines;
    }
    RunResult r = c_.Admin(*node_, {"watch", "--batch", file.string()});
    std::filesystem::remove(file);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  Reply Alerts(const std::string& query = "") { return Get(node_->api_port, "/v1/alerts" + query); }

  Consortium c_;
  Node* node_ = nullptr;
};

TEST_F(AlertFeed, WatchedListingsAreServedInOrderAndAfterResumes) {
  Watch(std::string("phone,") + kPhone + "," + kPhoneRef + "\nqq," + kQq + "," + kQqRef + "\n");
  Reply none = Alerts();
  ASSERT_EQ(none.status, 200u) << none.body;
  EXPECT_EQ(none.Json(), json::parse(R"({"alerts":[],"last_id":0})"));

  const std::string phone_entry = c_.Report(*node_, "phone", kPhone);
  const std::string qq_entry = c_.Report(*node_, "qq", kQq, "sold");
  ASSERT_FALSE(phone_entry.empty());
  ASSERT_FALSE(qq_entry.empty());

  Reply all = Alerts();
  ASSERT_EQ(all.status, 200u) << all.body;
  json page = all.Json();
  ASSERT_EQ(page["alerts"].size(), 2u) << all.body;
  EXPECT_EQ(page["last_id"], 2);
  EXPECT_EQ(page["alerts"][0]["id"], 1);
  EXPECT_EQ(page["alerts"][0]["kind"], "listed");
  EXPECT_EQ(page["alerts"][0]["entry"], phone_entry);
  EXPECT_EQ(page["alerts"][0]["type"], "phone");
  EXPECT_EQ(page["alerts"][0]["refs"], json::array({kPhoneRef}));
  EXPECT_TRUE(page["alerts"][0]["reason"].is_null());
  EXPECT_EQ(page["alerts"][1]["id"], 2);
  EXPECT_EQ(page["alerts"][1]["entry"], qq_entry);
  EXPECT_EQ(page["alerts"][1]["category"], "sold");
  EXPECT_EQ(page["alerts"][1]["refs"], json::array({kQqRef}));

  // Resuming after the first alert gives the second alone; after the last, an empty page that
  // still says where the log stands.
  Reply rest = Alerts("?after=1");
  ASSERT_EQ(rest.status, 200u) << rest.body;
  ASSERT_EQ(rest.Json()["alerts"].size(), 1u) << rest.body;
  EXPECT_EQ(rest.Json()["alerts"][0]["id"], 2);
  Reply done = Alerts("?after=2&wait=0");
  ASSERT_EQ(done.status, 200u) << done.body;
  EXPECT_EQ(done.Json(), json::parse(R"({"alerts":[],"last_id":2})"));

  // Every page handed out with alerts is audited: who, which ids; never a ref (the watch
  // command's own lines name the refs it added) nor a raw value.
  const std::string audit = ReadAll(node_->home / "audit.log");
  size_t reads = 0;
  const std::vector<std::pair<int, int>> pages = {{1, 2}, {2, 2}};  // first and last ids
  std::istringstream lines(audit);
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("action", "") != "alerts-read") continue;
    if (reads < pages.size()) {
      EXPECT_EQ(j["first_id"], pages[reads].first) << line;
      EXPECT_EQ(j["last_id"], pages[reads].second) << line;
    }
    ++reads;
    EXPECT_EQ(j["user"], "127.0.0.1") << line;
    EXPECT_EQ(j["program"], "duankad") << line;
    EXPECT_EQ(line.find("cust#"), std::string::npos) << line;
  }
  EXPECT_EQ(reads, 2u) << "one line per page with alerts, none for the empty pages";
  for (const char* secret : {kPhone, kQq}) {
    EXPECT_EQ(audit.find(secret), std::string::npos) << "the audit log holds a watched value";
  }

  // Metrics and the status page count the same store.
  std::optional<std::string> metrics = HttpGet(node_->api_port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(MetricValue(*metrics, "duanka_alerts_raised_total"), 2.0);
  EXPECT_EQ(MetricValue(*metrics, "duanka_watch_list_entries"), 2.0);
  std::optional<std::string> status_page = HttpGet(node_->api_port, "/");
  ASSERT_TRUE(status_page);
  EXPECT_NE(status_page->find("id=\"watch-entries\" class=\"figure\" data-value=\"2\""),
            std::string::npos);
  EXPECT_NE(status_page->find("id=\"alerts-raised\" class=\"figure\" data-value=\"2\""),
            std::string::npos);
}

TEST_F(AlertFeed, LongPollIsAnsweredByAnotherProcesssCommit) {
  Watch(std::string("phone,") + kLatePhone + "," + kLateRef + "\n");
  std::future<Reply> poll = std::async(std::launch::async, [&] {
    return Alerts("?after=0&wait=" + std::to_string(kLongPollSeconds));
  });
  std::this_thread::sleep_for(kLetThePollArrive);
  const std::string entry = c_.Report(*node_, "phone", kLatePhone);
  ASSERT_FALSE(entry.empty());
  Reply r = poll.get();
  ASSERT_EQ(r.status, 200u) << r.body << c_.Log(*node_);
  json page = r.Json();
  ASSERT_EQ(page["alerts"].size(), 1u) << "answered by its deadline, not by the alert: " << r.body;
  EXPECT_EQ(page["alerts"][0]["entry"], entry);
  EXPECT_EQ(page["alerts"][0]["refs"], json::array({kLateRef}));
}

TEST_F(AlertFeed, LongPollWithNothingRaisedEndsWithAnEmptyPageEvenBeyondTheRequestTimeout) {
  // The API drops a request not read or answered within its request timeout (10 s, ApiOptions);
  // a long poll waits longer than that and is still answered.
  Reply r = Alerts("?wait=" + std::to_string(kBeyondRequestTimeoutSeconds));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.Json(), json::parse(R"({"alerts":[],"last_id":0})"));
}

TEST_F(AlertFeed, BadParametersAre400NamingTheParameter) {
  struct Case {
    const char* query;
    const char* message_starts;
  };
  for (const Case& c : {Case{"?after=abc", "after: expected an alert id"},
                        Case{"?after=-1", "after: expected an alert id"},
                        Case{"?after=", "after: expected an alert id"},
                        Case{"?after=99999999999999999999999", "after: expected an alert id"},
                        Case{"?wait=61", "wait: expected whole seconds from 0 to 60"},
                        Case{"?wait=1.5", "wait: expected whole seconds from 0 to 60"},
                        Case{"?after=1&after=2", "after: given more than once"},
                        Case{"?customer=13800138000", "query: an unknown parameter"}}) {
    Reply r = Alerts(c.query);
    EXPECT_EQ(r.status, 400u) << c.query;
    json j = r.Json();
    ASSERT_TRUE(j.is_object() && j["error"].is_string()) << c.query << ": " << r.body;
    const std::string message = j["error"];
    EXPECT_EQ(message.rfind(c.message_starts, 0), 0u) << c.query << ": " << message;
    EXPECT_EQ(message.find("13800138000"), std::string::npos) << "echoed: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  EXPECT_EQ(Get(node_->api_port, "/v1/alerts", http::verb::post).status, 405u);
}

TEST_F(AlertFeed, TheSweepRaisesClearedExpiredForAWatchedEntryThatExpired) {
  Watch(std::string("phone,") + kPhone + "," + kPhoneRef + "\n");
  RunResult reported = c_.Admin(*node_, {"report", "phone", kPhone, "--category", "rented-out",
                                         "--expires", DateFromToday(kExpiresInDays)});
  ASSERT_EQ(reported.exit_code, 0) << reported.err;
  ASSERT_EQ(c_.Stop(*node_), 0) << c_.Log(*node_);
  // Days later: the sweep at the start finds the entry expired.
  node_->env = FakeClock(kDaysAhead * kSecondsPerDay);
  ASSERT_TRUE(c_.Start(*node_));
  json cleared;
  ASSERT_TRUE(Eventually([&] {
    Reply r = Alerts("?after=1");
    if (r.status != 200) return false;
    json page = r.Json();
    if (page["alerts"].empty()) return false;
    cleared = page["alerts"][0];
    return true;
  })) << c_.Log(*node_);
  EXPECT_EQ(cleared["id"], 2);
  EXPECT_EQ(cleared["kind"], "cleared");
  EXPECT_EQ(cleared["reason"], "expired");
  EXPECT_EQ(cleared["refs"], json::array({kPhoneRef}));
  EXPECT_TRUE(c_.Logged(*node_, "alert expiry sweep: 1 cleared alert(s) raised")) << c_.Log(*node_);
  EXPECT_EQ(c_.LogText(*node_).find(kPhone), std::string::npos);
  // Swept once: a later sweep finds nothing new to clear.
  Reply again = Alerts("?after=2");
  ASSERT_EQ(again.status, 200u);
  EXPECT_EQ(again.Json()["last_id"], 2);
}

TEST_F(AlertFeed, StoppingTheDaemonEndsAPendingLongPoll) {
  std::future<Reply> poll = std::async(
      std::launch::async, [&] { return Alerts("?wait=" + std::to_string(kLongPollSeconds)); });
  std::this_thread::sleep_for(kLetThePollArrive);
  EXPECT_EQ(c_.Stop(*node_), 0) << c_.Log(*node_);
  // Ended by the stop (the daemon is gone, so the wait cannot be running), and answered: the
  // daemon stops serving only once the reply is written.
  Reply r = poll.get();
  ASSERT_EQ(r.status, 200u) << r.body << c_.Log(*node_);
  EXPECT_EQ(r.Json(), json::parse(R"({"alerts":[],"last_id":0})"));
}

TEST_F(AlertFeed, APollBeyondTheWaiterCapIsAnsweredAtOnceWhileTheOthersWait) {
  // Nothing is raised: a poll can end before its 60 s only by the cap.
  std::vector<std::future<Reply>> polls;
  for (size_t i = 0; i < node::kMaxAlertWaiters + 1; ++i) {
    polls.push_back(std::async(
        std::launch::async, [&] { return Alerts("?wait=" + std::to_string(kLongPollSeconds)); }));
  }
  auto ready = [](std::future<Reply>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  };
  size_t answered = polls.size();
  while (answered == polls.size()) {
    for (size_t i = 0; i < polls.size() && answered == polls.size(); ++i) {
      if (ready(polls[i])) answered = i;
    }
    if (answered == polls.size()) std::this_thread::sleep_for(kPollStep);
  }
  Reply extra = polls[answered].get();
  ASSERT_EQ(extra.status, 200u) << extra.body;
  EXPECT_EQ(extra.Json(), json::parse(R"({"alerts":[],"last_id":0})"));
  for (size_t i = 0; i < polls.size(); ++i) {
    if (i != answered) {
      EXPECT_FALSE(ready(polls[i])) << "poll " << i << " did not wait";
    }
  }
  // The stop answers the ones that wait.
  EXPECT_EQ(c_.Stop(*node_), 0) << c_.Log(*node_);
  for (size_t i = 0; i < polls.size(); ++i) {
    if (i == answered) continue;
    Reply r = polls[i].get();
    EXPECT_EQ(r.status, 200u) << "poll " << i << ": " << r.body;
  }
}

}  // namespace
}  // namespace duanka::integration
