// Re-screening's end-to-end figure (issue 14), on real `duankad` processes over loopback TLS (the
// integration suite's Consortium harness): the line BANKA -- BANKB -- BANKC -- PAYC, PAYC watching
// R phone numbers and posting its alerts to a webhook receiver in this process. For each report at
// BANKA: the time from the report's commit (`duanka-admin report` exited) to the alert's arrival at
// the receiver, beside the floor measured in the same run: the time until the entry is in PAYC's
// store (propagation alone). Aim: webhook receipt p50 <= 100 ms.
//
// Figures only, no assertions (design.md section 8).
//
//   build/release/tests/bench/watch/alert_latency_bench               # 30 reports
//   build/release/tests/bench/watch/alert_latency_bench --reports 100
#include <utility>  // Boost 1.74's asio headers need it first on GCC 12

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/consortium.h"

namespace duanka::integration {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using SteadyClock = std::chrono::steady_clock;

constexpr int kDefaultReports = 30;
constexpr std::chrono::microseconds kPoll{200};
constexpr std::chrono::seconds kDeadline{30};
constexpr uint64_t kFirstPhone = 13'900'000'000ULL;

double Ms(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// An HTTP/1.1 receiver on loopback: records when each alert's entry arrived (by the body's
// "entry" field) and answers 204, keeping connections alive as a real receiver would.
class Receiver {
 public:
  Receiver() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    stopping_ = true;
    boost::system::error_code ignored;
    {
      // A blocked accept() is not woken by closing the acceptor from another thread: connect.
      boost::asio::io_context io;
      boost::asio::ip::tcp::socket wake(io);
      wake.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ignored);
      thread_.join();
    }
    acceptor_.close(
        ignored);  // the accept loop ends with the acceptor; then nothing adds a connection
    for (auto& s : sockets_) s->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    for (std::thread& t : workers_) t.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::optional<SteadyClock::time_point> ArrivedAt(const std::string& entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = arrived_.find(entry);
    if (it == arrived_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void Serve() {
    for (;;) {
      auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) return;
      sockets_.push_back(socket);
      workers_.emplace_back([this, socket] { Connection(*socket); });
    }
  }
  void Connection(boost::asio::ip::tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      const auto at = SteadyClock::now();
      const std::string& body = request.body();
      const size_t field = body.find("\"entry\":\"");
      if (field != std::string::npos) {
        const size_t start = field + std::strlen("\"entry\":\"");
        std::lock_guard<std::mutex> lock(mutex_);
        arrived_.emplace(body.substr(start, body.find('"', start) - start), at);
      }
      http::response<http::empty_body> response{http::status::no_content, request.version()};
      response.keep_alive(request.keep_alive());
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::map<std::string, SteadyClock::time_point> arrived_;
};

int Run(int reports) {
  Receiver receiver;
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC", "PAYC"});
  Node& first = *line.front();
  Node& payc = *line.back();
  payc.extra_toml =
      "[alerts]\nwebhook_url = \"http://127.0.0.1:" + std::to_string(receiver.port()) +
      "/alerts\"\n";
  if (!c.StartAll()) return 1;
  const std::filesystem::path customers = c.dir() / "customers.csv";
  {
    std::ofstream out(customers);
    for (int i = 0; i <= reports; ++i) {
      out << "phone," << kFirstPhone + static_cast<uint64_t>(i) << ",CUST#" << i << "\n";
    }
  }
  testing::RunResult watched = c.Admin(payc, {"watch", "--batch", customers.string()});
  if (watched.exit_code != 0) {
    std::fprintf(stderr, "watch --batch failed: %s\n", watched.err.c_str());
    return 1;
  }
  std::vector<double> to_store, to_webhook;
  // Report 0 warms the line up (links, certificates) and is not counted.
  for (int i = 0; i <= reports; ++i) {
    const std::string phone = std::to_string(kFirstPhone + static_cast<uint64_t>(i));
    const std::string entry = c.Report(first, "phone", phone);
    if (entry.empty()) return 1;
    const auto committed = SteadyClock::now();
    std::optional<SteadyClock::time_point> stored, hooked;
    while (SteadyClock::now() - committed < kDeadline && !(stored && hooked)) {
      if (!stored && c.Listed(payc, protocol::IdType::kPhone, phone)) stored = SteadyClock::now();
      if (!hooked) hooked = receiver.ArrivedAt(entry);
      std::this_thread::sleep_for(kPoll);
    }
    if (!stored || !hooked) {
      std::fprintf(stderr, "report %d (%s) %s within %lld s\n%s\n", i, entry.c_str(),
                   stored ? "reached PAYC but no alert arrived" : "did not reach PAYC",
                   static_cast<long long>(kDeadline.count()), c.Log(payc).c_str());
      return 1;
    }
    if (i == 0) continue;
    to_store.push_back(Ms(*stored - committed));
    to_webhook.push_back(Ms(*hooked - committed));
  }
  std::printf(
      "| figure | ours | floor, same run | ratio | aim |\n| --- | --- | --- | --- | --- |\n");
  std::printf(
      "| listing at BANKA -> PAYC's webhook receipt, 3 hops, %d reports | p50 %.2f ms, p99 "
      "%.2f ms | in PAYC's store p50 %.2f ms, p99 %.2f ms | %.2f | p50 <= 100 ms |\n",
      reports, Percentile(to_webhook, 0.5), Percentile(to_webhook, 0.99), Percentile(to_store, 0.5),
      Percentile(to_store, 0.99), Percentile(to_webhook, 0.5) / Percentile(to_store, 0.5));
  return 0;
}

}  // namespace
}  // namespace duanka::integration

int main(int argc, char** argv) {
  int reports = duanka::integration::kDefaultReports;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reports") == 0 && i + 1 < argc) {
      reports = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: alert_latency_bench [--reports N]\n");
      return 2;
    }
  }
  if (reports < 1) {
    std::fprintf(stderr, "alert_latency_bench: --reports takes a positive number\n");
    return 2;
  }
  return duanka::integration::Run(reports);
}
