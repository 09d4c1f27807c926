// The HTTP API over a store of N phone-number entries, for a loopback load generator
// (http_bench.sh runs wrk against it). Everything is real: LMDB store, pepper, audit log with one
// line per lookup, metrics. Prints one line when ready and, on SIGINT/SIGTERM, the lookup counts.
//
//   http_bench_server [--entries N] [--port P] [--threads T] [--dir DIR]
//
// Entry i is about phone 13800000000 + i, so a client that asks for 13800000000 + k with k in
// [0, 2N) finds half of its lookups listed.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "node/daemon/http_api.h"
#include "protocol/identifier.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace {

using duanka::testing::kTestNow;

constexpr uint64_t kFirstPhone = 13800000000;
// Records per store transaction while filling: large enough that commits do not dominate.
constexpr size_t kFillBatch = 10000;

struct Args {
  uint64_t entries = 100000;
  uint16_t port = 7481;
  int threads = 2;
  std::string dir;  // a temp dir when empty
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: http_bench_server [--entries N] [--port P] [--threads T] [--dir DIR]\n");
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Usage();
    std::string value = argv[++i];
    if (flag == "--entries") {
      a.entries = std::stoull(value);
    } else if (flag == "--port") {
      a.port = static_cast<uint16_t>(std::stoul(value));
    } else if (flag == "--threads") {
      a.threads = std::stoi(value);
    } else if (flag == "--dir") {
      a.dir = value;
    } else {
      Usage();
    }
  }
  return a;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "http_bench_server: %s\n", what.c_str());
  std::exit(1);
}

void Fill(duanka::store::Store& store, const duanka::crypto::Pepper& pepper, uint64_t entries) {
  duanka::testing::TestIssuer issuer("BENCH");
  duanka::protocol::Trust trust;
  trust.Add(issuer.signer());
  std::vector<duanka::protocol::SignedRecord> batch;
  for (uint64_t i = 0; i < entries; ++i) {
    std::string phone = std::to_string(kFirstPhone + i);
    duanka::Result<std::string> canonical =
        duanka::protocol::Canonicalize(duanka::protocol::IdType::kPhone, phone);
    if (!canonical) Die(canonical.error().message);
    batch.push_back(issuer.Entry(pepper.Subject(1, "phone", *canonical)));
    if (batch.size() == kFillBatch || i + 1 == entries) {
      auto verified = duanka::testing::MustVerifyAll(batch, trust);
      duanka::Result<duanka::store::AppendResult> r = store.Append(verified, kTestNow);
      if (!r) Die(r.error().message);
      batch.clear();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace daemon = duanka::daemon;
  Args args = ParseArgs(argc, argv);
  duanka::testing::TempDir temp;
  std::filesystem::path dir = args.dir.empty() ? temp.path() : std::filesystem::path(args.dir);

  duanka::store::Options so;
  so.path = dir / "store";
  auto opened = duanka::store::Store::Open(so);
  if (!opened) Die(opened.error().message);
  std::unique_ptr<duanka::store::Store> store = std::move(*opened);
  duanka::crypto::Pepper pepper = duanka::crypto::Pepper::Generate(1);
  Fill(*store, pepper, args.entries);

  duanka::node::Lookuper lookuper(*store, pepper);
  duanka::node::AuditLog audit(dir / "audit.log", "BANKA");
  daemon::Metrics metrics;
  daemon::ApiBackend backend;
  backend.lookuper = &lookuper;
  backend.audit = &audit;
  backend.metrics = &metrics;
  backend.now = [] { return kTestNow; };
  backend.status_json = [] { return std::string("{}"); };
  backend.metrics_text = [&] {
    auto stats = store->GetStats(kTestNow);
    return metrics.Render(stats ? *stats : duanka::store::Stats{});
  };
  backend.healthy = [] { return true; };
  // As the daemon would: the heads read per answer (one short read transaction).
  backend.heads = [&] {
    auto heads = store->Heads();
    return heads ? *heads : std::vector<duanka::store::Head>{};
  };

  boost::asio::io_context io(args.threads);
  daemon::ApiOptions options;
  options.listen = "127.0.0.1:" + std::to_string(args.port);
  daemon::ApiServer server(io, options, std::move(backend));
  if (duanka::Status s = server.Start(); !s) Die(s.error().message);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  std::printf("http_bench_server: listening on 127.0.0.1:%u, %llu entries, %d threads, audit %s\n",
              server.port(), static_cast<unsigned long long>(args.entries), args.threads,
              (dir / "audit.log").c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (int i = 1; i < args.threads; ++i) threads.emplace_back([&] { io.run(); });
  io.run();
  for (std::thread& t : threads) t.join();

  std::string text = metrics.Render(duanka::store::Stats{});
  for (size_t pos = 0; (pos = text.find("duanka_lookups_total{", pos)) != std::string::npos;) {
    size_t end = text.find('\n', pos);
    std::printf("http_bench_server: %s\n", text.substr(pos, end - pos).c_str());
    pos = end;
  }
  return 0;
}
