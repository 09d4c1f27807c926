// The daemon's two sync figures, on real `duankad` processes over loopback TLS (the integration
// suite's Consortium harness):
//
//   propagation  a line of 10 daemons; `duanka-admin report` at the first, then the last node's
//                store is read (as `duanka lookup` reads it) until the entry is there. p50 and
//                p99 over the reports, from the report's start and from its exit (its commit).
//                Aim: p50 <= 20 ms, p99 <= 100 ms over the 9 hops.
//   catch-up     a node holding N records (one feed, published by `report --batch`), and a fresh
//                node dialling it: records/s from the fresh daemon's start until its head is N.
//                Aim: >= 150,000 records/s at N = 1,000,000.
//
// Figures only, no assertions (design.md section 8).
//
//   build/release/tests/bench/sync/sync_bench                      # 50 reports, N = 100,000
//   build/release/tests/bench/sync/sync_bench --records 1000000    # the 1M catch-up (minutes)
//   build/release/tests/bench/sync/sync_bench --reports 200 --nodes 10 --skip-catch-up
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include "crypto/crypto.h"
#include "node/common/audit.h"
#include "node/common/lookup.h"
#include "tests/integration/consortium.h"

namespace duanka::integration {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  int nodes = 10;
  int reports = 50;
  uint64_t records = 100'000;
  bool propagation = true;
  bool catch_up = true;
  // The fresh node's [limits] for the catch-up, when given (0: the config's default).
  uint64_t wants_in_flight = 0;
  uint64_t records_per_want = 0;
  std::optional<uint64_t> max_uncommitted_records;
};

// How often the far end's store is re-read while waiting: far below the figures measured, so
// that polling adds little to them. A re-read is one lookup through a store kept open (a few µs
// of CPU): opening the store and loading the pepper for every poll, as Consortium::Listed does,
// kept a core busy a third of the time and delayed the daemons it measures.
constexpr std::chrono::microseconds kPropagationPoll{100};
constexpr std::chrono::milliseconds kCatchUpPoll{20};
// Per report: nothing on a healthy line comes near it.
constexpr std::chrono::seconds kPropagationDeadline{30};
// Catch-up deadline: a fixed allowance plus a floor rate far below any healthy one.
constexpr std::chrono::seconds kCatchUpAllowance{60};
constexpr uint64_t kCatchUpFloorPerSecond = 5'000;

double Ms(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string Code(int i) {
  return std::string("BANK") + static_cast<char>('A' + i / 26) + static_cast<char>('A' + i % 26);
}

int Propagation(const Options& o) {
  Consortium c;
  std::vector<std::string> codes;
  for (int i = 0; i < o.nodes; ++i) codes.push_back(Code(i));
  std::vector<Node*> line = c.Line(codes);
  if (!c.StartAll()) return 1;
  Node& first = *line.front();
  Node& last = *line.back();
  // One report first: every link is up and every certificate has travelled when it arrives.
  if (c.Report(first, "qq", "70000000").empty()) return 1;
  if (!Eventually([&] { return c.Listed(last, protocol::IdType::kQq, "70000000"); },
                  std::chrono::duration_cast<Millis>(kPropagationDeadline))) {
    std::fprintf(stderr, "the warm-up report did not reach the far end\n%s\n", c.Log(last).c_str());
    return 1;
  }
  // The far end's store and pepper, opened once for all the polls below.
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(last.home / "pepper.key");
  store::Options so;
  so.path = last.store_dir();
  so.read_only = true;
  so.create_if_missing = false;
  Result<std::unique_ptr<store::Store>> far_store = store::Store::Open(so);
  if (!pepper || !far_store) {
    std::fprintf(stderr, "cannot open the far end's store or pepper\n");
    return 1;
  }
  node::Lookuper far_end(**far_store, *pepper);
  auto listed_at_far_end = [&](const std::string& value) {
    Result<node::LookupAnswer> a =
        far_end.Lookup(protocol::IdType::kQq, value, node::SystemNow(), true);
    return a && std::any_of(a->listings.begin(), a->listings.end(), [](const store::Listing& l) {
             return l.state == store::EntryState::kActive;
           });
  };
  std::vector<double> from_start, from_commit;
  for (int i = 1; i <= o.reports; ++i) {
    const std::string value = std::to_string(70000000 + i);
    auto start = SteadyClock::now();
    if (c.Report(first, "qq", value).empty()) return 1;
    auto committed = SteadyClock::now();
    bool found = false;
    while (SteadyClock::now() - committed < kPropagationDeadline) {
      if ((found = listed_at_far_end(value))) break;
      std::this_thread::sleep_for(kPropagationPoll);
    }
    auto arrived = SteadyClock::now();
    if (!found) {
      std::fprintf(stderr, "report %d did not reach the far end within %lld s\n", i,
                   static_cast<long long>(kPropagationDeadline.count()));
      return 1;
    }
    from_start.push_back(Ms(arrived - start));
    from_commit.push_back(Ms(arrived - committed));
  }
  // The real lookup CLI agrees with the store reads above.
  testing::RunResult lookup = c.Duanka(
      last, {"lookup", "qq", std::to_string(70000000 + o.reports), "--purpose", "investigation"});
  std::printf("propagation over %d daemons in a line (%d hops), %d reports:\n", o.nodes,
              o.nodes - 1, o.reports);
  std::printf("  from report start:  p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n",
              Percentile(from_start, 0.5), Percentile(from_start, 0.99),
              Percentile(from_start, 1.0));
  std::printf("  from report commit: p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n",
              Percentile(from_commit, 0.5), Percentile(from_commit, 0.99),
              Percentile(from_commit, 1.0));
  std::printf("  per hop (commit, p50): %.2f ms; duanka lookup at the far end exits %d\n",
              Percentile(from_commit, 0.5) / (o.nodes - 1), lookup.exit_code);
  // Machine-readable copies for ops/bench (key<TAB>value<TAB>unit), beside the text above.
  std::printf("figure\tpropagation_nodes\t%d\tdaemons\n", o.nodes);
  std::printf("figure\tpropagation_commit_p50_ms\t%.3f\tms\n", Percentile(from_commit, 0.5));
  std::printf("figure\tpropagation_commit_p99_ms\t%.3f\tms\n", Percentile(from_commit, 0.99));
  std::printf("figure\tpropagation_hop_p50_ms\t%.3f\tms\n",
              Percentile(from_commit, 0.5) / (o.nodes - 1));
  return 0;
}

int CatchUp(const Options& o) {
  Consortium c;
  Node& source = c.Add("BANKA");
  std::string list = "type,value,category\n";
  list.reserve(o.records * 24);
  for (uint64_t i = 0; i < o.records; ++i) {
    list += "qq," + std::to_string(10'000'000 + i) + ",rented-out\n";
  }
  const std::filesystem::path file = c.dir() / "list.csv";
  std::ofstream(file, std::ios::binary) << list;
  auto publish_start = SteadyClock::now();
  testing::RunResult published =
      c.Admin(source, {"report", "--batch", file.string(), "--threads", "2"});
  if (published.exit_code != 0) {
    std::fprintf(stderr, "report --batch failed: %s\n", published.err.c_str());
    return 1;
  }
  double publish_s = Ms(SteadyClock::now() - publish_start) / 1000;
  uint64_t held = c.HeadSeq(source, "BANKA");

  std::map<std::string, int64_t> limits;
  if (o.wants_in_flight != 0) limits["wants_in_flight"] = static_cast<int64_t>(o.wants_in_flight);
  if (o.records_per_want != 0) {
    limits["records_per_want"] = static_cast<int64_t>(o.records_per_want);
  }
  if (o.max_uncommitted_records) {
    limits["max_uncommitted_records"] = static_cast<int64_t>(*o.max_uncommitted_records);
  }
  Node& fresh = c.Add("BANKB", limits);
  c.Dial(fresh, source);
  if (!c.Start(source)) return 1;
  auto start = SteadyClock::now();
  if (!c.Start(fresh)) return 1;
  auto deadline = kCatchUpAllowance + std::chrono::seconds(held / kCatchUpFloorPerSecond);
  uint64_t got = 0;
  while (SteadyClock::now() - start < deadline) {
    if ((got = c.HeadSeq(fresh, "BANKA")) >= held) break;
    std::this_thread::sleep_for(kCatchUpPoll);
  }
  double seconds = Ms(SteadyClock::now() - start) / 1000;
  // The fresh daemon's own memory right after its catch-up (the store is a mapping: not counted).
  const std::optional<uint64_t> rss = ResidentBytes(fresh.pid);
  if (got < held) {
    std::fprintf(stderr, "catch-up stopped at %llu of %llu records\n%s\n",
                 static_cast<unsigned long long>(got), static_cast<unsigned long long>(held),
                 c.Log(fresh).c_str());
    return 1;
  }
  std::printf("catch-up of %llu records (published in %.1f s by report --batch):\n",
              static_cast<unsigned long long>(held), publish_s);
  std::printf("  %.2f s from the fresh daemon's start = %.0f records/s\n", seconds,
              static_cast<double>(held) / seconds);
  if (rss) std::printf("  the fresh daemon's RssAnon after it: %.1f MiB\n", *rss / 1048576.0);
  // A store's pages in use (those the last commits freed included: LMDB keeps them for the next
  // ones), and the disk its file takes: the map, allocated in full (store/store.h, write_map).
  struct Disk {
    double in_use = 0, allocated = 0;  // bytes per record
  };
  auto disk = [&](const Node& n) -> std::optional<Disk> {
    store::Options so;
    so.path = n.store_dir();
    so.read_only = true;
    so.create_if_missing = false;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(so);
    if (!s) return std::nullopt;
    Result<store::Stats> stats = (*s)->GetStats(0);
    struct stat st {};
    if (!stats || ::stat((n.store_dir() / "data.mdb").c_str(), &st) != 0) return std::nullopt;
    const double records = static_cast<double>(held);
    return Disk{static_cast<double>(stats->bytes_on_disk) / records,
                static_cast<double>(st.st_blocks) * 512 / records};
  };
  const std::optional<Disk> fresh_disk = disk(fresh), source_disk = disk(source);
  if (fresh_disk && source_disk) {
    std::printf(
        "  per record: the fresh store's pages in use %.0f B, its file %.0f B on disk; "
        "the source's (report --batch) %.0f B and %.0f B\n",
        fresh_disk->in_use, fresh_disk->allocated, source_disk->in_use, source_disk->allocated);
  }
  std::printf("figure\tcatch_up_records\t%llu\trecords\n", static_cast<unsigned long long>(held));
  std::printf("figure\tcatch_up_records_per_s\t%.0f\trecords/s\n",
              static_cast<double>(held) / seconds);
  if (fresh_disk && source_disk) {
    std::printf("figure\tcatch_up_fresh_in_use_B_per_record\t%.0f\tB\n", fresh_disk->in_use);
    std::printf("figure\tcatch_up_fresh_file_B_per_record\t%.0f\tB\n", fresh_disk->allocated);
    std::printf("figure\tcatch_up_source_in_use_B_per_record\t%.0f\tB\n", source_disk->in_use);
  }
  if (rss) {
    std::printf("figure\tcatch_up_daemon_rss_anon_kib\t%llu\tKiB\n",
                static_cast<unsigned long long>(*rss / 1024));
  }
  return 0;
}

}  // namespace
}  // namespace duanka::integration

int main(int argc, char** argv) {
  duanka::integration::Options o;
  for (int i = 1; i < argc; ++i) {
    auto value = [&] { return i + 1 < argc ? std::strtoull(argv[++i], nullptr, 10) : 0ULL; };
    if (std::strcmp(argv[i], "--records") == 0) {
      o.records = value();
    } else if (std::strcmp(argv[i], "--reports") == 0) {
      o.reports = static_cast<int>(value());
    } else if (std::strcmp(argv[i], "--nodes") == 0) {
      o.nodes = static_cast<int>(value());
    } else if (std::strcmp(argv[i], "--wants-in-flight") == 0) {
      o.wants_in_flight = value();
    } else if (std::strcmp(argv[i], "--records-per-want") == 0) {
      o.records_per_want = value();
    } else if (std::strcmp(argv[i], "--max-uncommitted-records") == 0) {
      o.max_uncommitted_records = value();
    } else if (std::strcmp(argv[i], "--skip-catch-up") == 0) {
      o.catch_up = false;
    } else if (std::strcmp(argv[i], "--skip-propagation") == 0) {
      o.propagation = false;
    } else {
      std::fprintf(stderr,
                   "usage: sync_bench [--nodes N] [--reports N] [--records N] "
                   "[--wants-in-flight N] [--records-per-want N] "
                   "[--max-uncommitted-records N] [--skip-propagation] [--skip-catch-up]\n");
      return 2;
    }
  }
  if (o.nodes < 2 || o.nodes > 26 * 26 || o.reports < 1 || o.records < 1) {
    std::fprintf(stderr, "sync_bench: expected --nodes 2..676, --reports >= 1, --records >= 1\n");
    return 2;
  }
  int rc = 0;
  if (o.propagation) rc |= duanka::integration::Propagation(o);
  if (o.catch_up) rc |= duanka::integration::CatchUp(o);
  return rc;
}
