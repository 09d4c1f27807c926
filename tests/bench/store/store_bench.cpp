// Speed and size of the store at N entries, printed beside the raw LMDB floor.
//
// Figures only, no assertions (design.md section 8). The aims they are read against:
//   - Lookup of one subject within 1.3x a raw mdb_get of the same key in the same store's subjects
//     table (<= 1.5 us at 1M entries), hit and miss, on one thread and on two;
//   - Append of pre-verified records >= 200,000 records/s into a store of 1M entries, and catch-up
//     (VerifyChain on both cores feeding one appender) >= 150,000 records/s;
//   - <= 400 bytes on disk per entry after an ordered load.
//
//   build/tests/bench/store/store_bench                               # N = 100,000, under a minute
//   DUANKA_BENCH_ENTRIES=1000000 build/tests/bench/store/store_bench  # or --entries=1000000
//   store_bench --entries=1000000 --benchmark_filter=VerifyAndAppend --catch-up-commit=32000
//                                    # the catch-up's records per commit (default 1,000)
//
// The store is built once per process (N entries signed by N / 250,000 issuers in parallel, then
// loaded feed by feed in seq order, as a node catching up would) in a temporary directory removed
// at exit. Benchmarks run in registration order: lookups and size before the appends grow it.
#include <benchmark/benchmark.h>
#include <lmdb.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_feed.h"

namespace duanka::store {
namespace {

using duanka::testing::kTestNow;
using duanka::testing::TestIssuer;
using duanka::testing::TestSubject;
using protocol::SignedRecord;
using protocol::VerifiedRecord;

// Small enough that the whole binary runs in well under a minute on 2 cores.
constexpr uint64_t kDefaultEntries = 100'000;
// One feed's records must be signed in order (each holds the previous one's hash), so the fixture
// is split into feeds of this many entries and the feeds are signed in parallel.
constexpr uint64_t kEntriesPerFeed = 250'000;
// Records per Append during the fixture's load: the daemon's catch-up commits in large batches.
constexpr size_t kLoadBatch = 10'000;
// The Append benchmarks' batch, as the brief and a peer's `records` message have it.
constexpr size_t kAppendBatch = 1'000;
// Records appended by each append benchmark: enough for a steady rate, few enough to sign fast.
constexpr size_t kAppendFeedRecords = 100'000;
// Catch-up verifies on both cores while one thread appends.
constexpr int kVerifierThreads = 2;
// How many commits' worth of batches the verifiers may run ahead of the appender (bounds memory,
// as the daemon must).
constexpr size_t kVerifyWindowCommits = 8;
// Subjects probed by the lookup benchmarks, cycled; a power of two keeps the index a mask. Random
// over the whole store so that most probes miss the CPU caches, as real lookups do.
constexpr size_t kProbes = 1 << 16;
static_assert((kProbes & (kProbes - 1)) == 0, "kProbes must be a power of two");
// Fixed so that every run probes the same keys.
constexpr uint64_t kProbeSeed = 20'260'901;
// Subject numbers: entries use [0, N); misses and the append feeds use disjoint ranges above.
constexpr uint64_t kMissBase = 1ULL << 40;
constexpr uint64_t kAppendSubjectBase = 2ULL << 40;
constexpr uint64_t kCatchUpSubjectBase = 3ULL << 40;
// The store's table count (store/detail/layout.h), which LMDB needs before opening named tables.
constexpr unsigned kMaxTables = 20;

uint64_t EntriesFromEnvironment() {
  const char* env = std::getenv("DUANKA_BENCH_ENTRIES");
  if (env == nullptr || *env == '\0') return kDefaultEntries;
  return std::max<uint64_t>(1, std::strtoull(env, nullptr, 10));
}

uint64_t g_entries = 0;  // set in main() before any benchmark runs
// --catch-up-commit=N: records per commit in BM_VerifyAndAppendFeed (whole batches of 1,000), as
// a daemon's writer commits what arrived while it committed the last round (the daemon's
// limits.max_uncommitted_records lets that grow).
size_t g_catch_up_commit_batches = 1;
// --lmdb=default|nordahead|writemap|both: the store's LMDB flags (store::Options), to compare
// what each writes per record on this kernel. The store's own default is what Options says.
bool g_no_readahead = Options{}.no_readahead;
bool g_write_map = Options{}.write_map;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Bytes this process has caused to be written to disk so far (/proc/self/io), to show the write
// amplification of an append: LMDB rewrites every page a commit touches.
uint64_t DiskWriteBytes() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return 0;
  char line[128];
  unsigned long long value = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "write_bytes: %llu", &value) == 1) break;
  }
  std::fclose(f);
  return value;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "store_bench: %s\n", what.c_str());
  std::exit(1);
}

// "FEED0007": institution codes are [A-Z0-9]{2,16}.
std::string FeedCode(const char* prefix, uint64_t n) {
  std::string digits = std::to_string(n);
  return prefix + std::string(digits.size() < 4 ? 4 - digits.size() : 0, '0') + digits;
}

// Signs `count` entries of `issuer` about subjects base, base+1, … and verifies them as chains of
// `chunk` records (the newest signature of each), as a node does with a peer's batches.
std::vector<std::vector<VerifiedRecord>> SignFeed(TestIssuer& issuer, uint64_t subject_base,
                                                  uint64_t count, size_t chunk,
                                                  const protocol::Trust& trust) {
  std::vector<std::vector<VerifiedRecord>> out;
  std::vector<SignedRecord> signed_chunk;
  for (uint64_t i = 0; i < count; ++i) {
    signed_chunk.push_back(issuer.Entry(TestSubject(subject_base + i)));
    if (signed_chunk.size() == chunk || i + 1 == count) {
      Result<std::vector<VerifiedRecord>> v =
          protocol::VerifyChain(signed_chunk, trust, protocol::VerifyOptions{kTestNow});
      if (!v) Die("verify: " + v.error().message);
      out.push_back(std::move(v).value());
      signed_chunk.clear();
    }
  }
  return out;
}

// ---- The fixture --------------------------------------------------------------------------

struct Fixture {
  duanka::testing::TempDir dir;
  std::filesystem::path path;
  std::unique_ptr<Store> store;
  protocol::Trust trust;
  uint64_t entries = 0;
  std::vector<crypto::Hash256> hits, misses;
  // Measured right after the ordered load, before any benchmark appends.
  double bytes_per_entry = 0, records_bytes_per_entry = 0, subjects_bytes_per_entry = 0;
  double free_bytes_per_entry = 0;          // pages on LMDB's free list, counted in bytes_on_disk
  double compact_copy_bytes_per_entry = 0;  // the store copied with MDB_CP_COMPACT
  double record_bytes = 0;                  // a stored signed record's mean size
  // Feeds for the append benchmarks, signed up front.
  std::vector<VerifiedRecord> append_feed;
  std::vector<SignedRecord> catch_up_feed;

  // The raw floor: the same environment opened again, read-only with MDB_NOLOCK. LMDB forbids
  // opening one environment twice in a process with locking (the second open would take the lock
  // file as its own and reset the reader table under the Store), so this handle takes no locks.
  // Lookups run before any append, so no writer recycles pages under its readers meanwhile.
  MDB_env* raw_env = nullptr;
  MDB_dbi raw_subjects = 0;

  ~Fixture() {
    if (raw_env != nullptr) mdb_env_close(raw_env);
    store.reset();  // before `dir` removes the files
  }
};

void LoadFixture(Fixture& f) {
  const uint64_t feeds = (f.entries + kEntriesPerFeed - 1) / kEntriesPerFeed;
  std::vector<std::unique_ptr<TestIssuer>> issuers;
  for (uint64_t i = 0; i < feeds; ++i) {
    issuers.push_back(std::make_unique<TestIssuer>(FeedCode("FEED", i)));
    f.trust.Add(issuers.back()->signer());
  }
  TestIssuer append_issuer("APPEND"), catch_up_issuer("CATCHUP");
  f.trust.Add(append_issuer.signer());
  f.trust.Add(catch_up_issuer.signer());

  // Workers sign feeds w, w + T, …; the loader appends feed 0's batches as they come, then feed
  // 1's, and so on, so that the load is in (issuer, seq) order.
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::deque<std::vector<VerifiedRecord>>> ready(feeds);
  std::vector<bool> done(feeds, false);
  std::mutex mutex;
  std::condition_variable cv;
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      for (uint64_t feed = w; feed < feeds; feed += threads) {
        const uint64_t first = feed * kEntriesPerFeed;
        const uint64_t count = std::min(kEntriesPerFeed, f.entries - first);
        for (uint64_t i = 0; i < count; i += kLoadBatch) {
          const uint64_t n = std::min<uint64_t>(kLoadBatch, count - i);
          std::vector<std::vector<VerifiedRecord>> part =
              SignFeed(*issuers[feed], first + i, n, kLoadBatch, f.trust);
          std::lock_guard<std::mutex> lock(mutex);
          ready[feed].push_back(std::move(part.front()));
          cv.notify_all();
        }
        std::lock_guard<std::mutex> lock(mutex);
        done[feed] = true;
        cv.notify_all();
      }
    });
  }
  double append_seconds = 0;
  const uint64_t written_before = DiskWriteBytes();
  for (uint64_t feed = 0; feed < feeds; ++feed) {
    for (;;) {
      std::vector<VerifiedRecord> batch;
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return !ready[feed].empty() || done[feed]; });
        if (ready[feed].empty()) break;
        batch = std::move(ready[feed].front());
        ready[feed].pop_front();
      }
      auto t = std::chrono::steady_clock::now();
      Result<AppendResult> r = f.store->Append(batch, kTestNow);
      append_seconds += Seconds(t);
      if (!r || r->appended != batch.size()) Die("fixture load: append failed");
    }
  }
  for (std::thread& t : workers) t.join();
  const double load_seconds = Seconds(started);
  const double load_written = static_cast<double>(DiskWriteBytes() - written_before);

  // The append benchmarks' feeds, signed now so that they measure the store alone.
  started = std::chrono::steady_clock::now();
  std::thread catch_up_signer([&] {
    f.catch_up_feed.reserve(kAppendFeedRecords);
    for (uint64_t i = 0; i < kAppendFeedRecords; ++i) {
      f.catch_up_feed.push_back(catch_up_issuer.Entry(TestSubject(kCatchUpSubjectBase + i)));
    }
  });
  for (auto& chunk :
       SignFeed(append_issuer, kAppendSubjectBase, kAppendFeedRecords, kAppendBatch, f.trust)) {
    for (VerifiedRecord& v : chunk) f.append_feed.push_back(std::move(v));
  }
  catch_up_signer.join();
  std::fprintf(stderr,
               "fixture: %llu entries in %llu feeds, signed on %u threads and loaded in %.1f s "
               "(the Appends alone %.1f s, %.0f records/s, %.0f bytes written per record); "
               "append feeds signed in %.1f s\n",
               static_cast<unsigned long long>(f.entries), static_cast<unsigned long long>(feeds),
               threads, load_seconds, append_seconds,
               static_cast<double>(f.entries) / append_seconds,
               load_written / static_cast<double>(f.entries), Seconds(started));
}

// Pages on LMDB's free list (table 0: txn id → a page-number list whose first word is its length),
// as `mdb_stat -f` counts them: the file's high-water mark holds them until later commits reuse
// them.
double FreePages(MDB_txn* txn) {
  MDB_cursor* cursor = nullptr;
  if (mdb_cursor_open(txn, 0, &cursor) != 0) Die("free list cursor");
  MDB_val key, value;
  double pages = 0;
  for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    size_t count = 0;
    std::memcpy(&count, value.mv_data, sizeof count);
    pages += static_cast<double>(count);
  }
  mdb_cursor_close(cursor);
  return pages;
}

void MeasureSize(Fixture& f) {
  Result<Stats> stats = f.store->GetStats(kTestNow);
  if (!stats) Die("stats: " + stats.error().message);
  const double n = static_cast<double>(f.entries);
  f.bytes_per_entry = static_cast<double>(stats->bytes_on_disk) / n;
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(f.raw_env, nullptr, MDB_RDONLY, &txn) != 0) Die("raw txn");
  auto table_bytes = [&](const char* name) {
    MDB_dbi dbi;
    MDB_stat st;
    if (mdb_dbi_open(txn, name, 0, &dbi) != 0 || mdb_stat(txn, dbi, &st) != 0) Die(name);
    return static_cast<double>(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
           st.ms_psize;
  };
  f.records_bytes_per_entry = table_bytes("records") / n;
  f.subjects_bytes_per_entry = table_bytes("subjects") / n;
  MDB_stat env_stat;
  if (mdb_env_stat(f.raw_env, &env_stat) != 0) Die("env stat");
  f.free_bytes_per_entry = FreePages(txn) * env_stat.ms_psize / n;
  mdb_txn_abort(txn);
  // What the operations guide's backup (`mdb_copy -c`) writes: the live pages, renumbered.
  duanka::testing::TempDir copy;
  if (int rc = mdb_env_copy2(f.raw_env, copy.path().c_str(), MDB_CP_COMPACT); rc != 0) {
    Die(std::string("compact copy: ") + mdb_strerror(rc));
  }
  f.compact_copy_bytes_per_entry =
      static_cast<double>(std::filesystem::file_size(copy.path() / "data.mdb")) / n;
  Result<std::vector<SignedRecord>> sample = f.store->Range(FeedCode("FEED", 0), 1, 1000);
  if (!sample || sample->empty()) Die("range");
  double total = 0;
  for (const SignedRecord& r : *sample) total += static_cast<double>(r.bytes.size() + 64);
  f.record_bytes = total / static_cast<double>(sample->size());
}

Fixture& GetFixture() {
  // Built by the first benchmark that runs, kept until exit (then the directory is removed).
  static std::unique_ptr<Fixture> fixture = [] {
    auto f = std::make_unique<Fixture>();
    f->entries = g_entries;
    f->path = f->dir / "store";
    Options o;
    o.path = f->path;
    o.no_readahead = g_no_readahead;
    o.write_map = g_write_map;
    // Sized up front as a node that expects this many entries would be; growth is tested apart.
    o.initial_map_bytes = std::max<uint64_t>(64ULL << 20, f->entries * 1024);
    Result<std::unique_ptr<Store>> s = Store::Open(o);
    if (!s) Die("open: " + s.error().message);
    f->store = std::move(s).value();
    LoadFixture(*f);

    if (mdb_env_create(&f->raw_env) != 0) Die("mdb_env_create");
    mdb_env_set_maxdbs(f->raw_env, kMaxTables);
    if (int rc = mdb_env_open(
            f->raw_env, f->path.c_str(),
            MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS | (g_no_readahead ? MDB_NORDAHEAD : 0), 0600)) {
      Die(std::string("raw open: ") + mdb_strerror(rc));
    }
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(f->raw_env, nullptr, MDB_RDONLY, &txn) != 0 ||
        mdb_dbi_open(txn, "subjects", 0, &f->raw_subjects) != 0 || mdb_txn_commit(txn) != 0) {
      Die("raw subjects table");
    }
    MeasureSize(*f);

    std::mt19937_64 rng(kProbeSeed);
    for (size_t i = 0; i < kProbes; ++i) {
      f->hits.push_back(TestSubject(rng() % f->entries));
      f->misses.push_back(TestSubject(kMissBase + i));
    }
    return f;
  }();
  return *fixture;
}

// ---- Lookups ------------------------------------------------------------------------------

// Each thread starts at its own place in the probes, so two threads do not read the same keys.
size_t ProbeStart(const benchmark::State& state) {
  return static_cast<size_t>(state.thread_index()) * (kProbes / 2);
}

void LookupBench(benchmark::State& state, bool hit) {
  Fixture& f = GetFixture();
  const std::vector<crypto::Hash256>& probes = hit ? f.hits : f.misses;
  std::vector<Listing> out;
  out.reserve(8);
  size_t i = ProbeStart(state), found = 0;
  for (auto _ : state) {
    out.clear();
    Status s = f.store->Lookup(std::span<const crypto::Hash256>(&probes[i & (kProbes - 1)], 1),
                               LookupOptions{kTestNow, false}, out);
    if (!s) Die("lookup: " + s.error().message);
    found += out.size();
    benchmark::DoNotOptimize(out.data());
    ++i;
  }
  state.counters["found_per_lookup"] =
      benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
}

void RawGetBench(benchmark::State& state, bool hit) {
  Fixture& f = GetFixture();
  const std::vector<crypto::Hash256>& probes = hit ? f.hits : f.misses;
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(f.raw_env, nullptr, MDB_RDONLY, &txn) != 0) Die("raw txn");
  mdb_txn_reset(txn);
  size_t i = ProbeStart(state), found = 0;
  for (auto _ : state) {
    const crypto::Hash256& subject = probes[i & (kProbes - 1)];
    if (mdb_txn_renew(txn) != 0) Die("raw renew");
    MDB_val k{subject.bytes.size(), const_cast<uint8_t*>(subject.bytes.data())}, v;
    found += mdb_get(txn, f.raw_subjects, &k, &v) == 0;
    benchmark::DoNotOptimize(v.mv_data);
    mdb_txn_reset(txn);
    ++i;
  }
  mdb_txn_abort(txn);
  state.counters["found_per_lookup"] =
      benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
}

void BM_LookupHit(benchmark::State& state) {
  LookupBench(state, true);
}
void BM_LookupMiss(benchmark::State& state) {
  LookupBench(state, false);
}
void BM_RawMdbGetHit(benchmark::State& state) {
  RawGetBench(state, true);
}
void BM_RawMdbGetMiss(benchmark::State& state) {
  RawGetBench(state, false);
}
// Real time: with two threads, per-thread CPU time would hide contention.
BENCHMARK(BM_RawMdbGetHit)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_LookupHit)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_RawMdbGetMiss)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_LookupMiss)->Threads(1)->Threads(2)->UseRealTime();

// ---- Size ---------------------------------------------------------------------------------

void BM_BytesOnDisk(benchmark::State& state) {
  Fixture& f = GetFixture();
  for (auto _ : state) benchmark::DoNotOptimize(f.bytes_per_entry);
  state.counters["entries"] = static_cast<double>(f.entries);
  state.counters["bytes_per_entry"] = f.bytes_per_entry;
  state.counters["records_table_B_per_entry"] = f.records_bytes_per_entry;
  state.counters["subjects_table_B_per_entry"] = f.subjects_bytes_per_entry;
  state.counters["free_pages_B_per_entry"] = f.free_bytes_per_entry;
  state.counters["compact_copy_B_per_entry"] = f.compact_copy_bytes_per_entry;
  state.counters["signed_record_B"] = f.record_bytes;
}
BENCHMARK(BM_BytesOnDisk)->Iterations(1);

// The records table when feeds grow side by side, as a catch-up from many peers has them: kFeeds
// feeds of N / kFeeds entries (at most kInterleavedEntries in all), appended in turn, 1,000 records
// of one feed per commit, into a store of their own. Only the feed with the highest issuer id
// appends at the table's end; the others insert inside it. BM_BytesOnDisk's fixture, loaded feed
// after feed, is the in-order case to read it beside.
constexpr uint64_t kInterleavedFeeds = 4;
constexpr uint64_t kInterleavedEntries = 200'000;

void BM_BytesOnDiskInterleaved(benchmark::State& state) {
  const uint64_t per_feed = std::max<uint64_t>(
      kAppendBatch, std::min(g_entries, kInterleavedEntries) / kInterleavedFeeds);
  duanka::testing::TempDir dir;
  protocol::Trust trust;
  std::vector<std::unique_ptr<TestIssuer>> issuers;
  for (uint64_t i = 0; i < kInterleavedFeeds; ++i) {
    issuers.push_back(std::make_unique<TestIssuer>(FeedCode("SIDE", i)));
    trust.Add(issuers.back()->signer());
  }
  // One feed per thread: a feed signs in sequence.
  std::vector<std::vector<std::vector<VerifiedRecord>>> feeds(kInterleavedFeeds);
  std::vector<std::thread> signers;
  for (uint64_t i = 0; i < kInterleavedFeeds; ++i) {
    signers.emplace_back([&, i] {
      feeds[i] = SignFeed(*issuers[i], (4ULL << 40) + i * per_feed, per_feed, kAppendBatch, trust);
    });
  }
  for (std::thread& t : signers) t.join();
  Options o;
  o.path = dir.path() / "store";
  o.no_readahead = g_no_readahead;
  o.write_map = g_write_map;
  double records_bytes = 0, bytes_on_disk = 0;
  for (auto _ : state) {
    Result<std::unique_ptr<Store>> s = Store::Open(o);
    if (!s) Die("open: " + s.error().message);
    for (size_t batch = 0; batch < feeds[0].size(); ++batch) {
      for (uint64_t i = 0; i < kInterleavedFeeds; ++i) {
        Result<AppendResult> r = (*s)->Append(feeds[i][batch], kTestNow);
        if (!r || r->appended != feeds[i][batch].size()) Die("interleaved append failed");
      }
    }
    Result<Stats> stats = (*s)->GetStats(kTestNow);
    if (!stats) Die("stats: " + stats.error().message);
    bytes_on_disk = static_cast<double>(stats->bytes_on_disk);
    s->reset();
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    MDB_dbi dbi = 0;
    MDB_stat st{};
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, kMaxTables) != 0 ||
        mdb_env_open(env, o.path.c_str(), MDB_RDONLY, 0600) != 0 ||
        mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0 ||
        mdb_dbi_open(txn, "records", 0, &dbi) != 0 || mdb_stat(txn, dbi, &st) != 0) {
      Die("interleaved: cannot read the records table's size");
    }
    records_bytes =
        static_cast<double>(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
        st.ms_psize;
    mdb_txn_abort(txn);
    mdb_env_close(env);
  }
  const double n = static_cast<double>(per_feed * kInterleavedFeeds);
  state.counters["entries"] = n;
  state.counters["feeds"] = static_cast<double>(kInterleavedFeeds);
  state.counters["bytes_per_entry"] = bytes_on_disk / n;
  state.counters["records_table_B_per_entry"] = records_bytes / n;
}
BENCHMARK(BM_BytesOnDiskInterleaved)->Iterations(1)->Unit(benchmark::kSecond);

// ---- Appends ------------------------------------------------------------------------------

// The append feed continues where an earlier append benchmark stopped.
size_t g_append_next = 0;

// One record per durable commit, as a node relays a single new listing: the store's part of a
// propagation hop.
void BM_CommitOneRecord(benchmark::State& state) {
  Fixture& f = GetFixture();
  size_t& next = g_append_next;
  for (auto _ : state) {
    if (next + 1 > f.append_feed.size()) {
      state.SkipWithError("the pre-signed append feed is used up");
      break;
    }
    Result<AppendResult> r =
        f.store->Append(std::span<const VerifiedRecord>(f.append_feed).subspan(next, 1), kTestNow);
    if (!r || r->appended != 1) Die("append failed");
    ++next;
  }
  state.SetItemsProcessed(state.iterations());
}
// Before the batch appends, which need the feed's rest in whole batches.
BENCHMARK(BM_CommitOneRecord)
    ->Iterations(kAppendBatch)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Pre-verified records in batches of 1,000 into the N-entry store, one durable commit each.
void BM_AppendPreVerified(benchmark::State& state) {
  Fixture& f = GetFixture();
  size_t& next = g_append_next;
  const uint64_t written_before = DiskWriteBytes();
  for (auto _ : state) {
    if (next + kAppendBatch > f.append_feed.size()) {
      state.SkipWithError("the pre-signed append feed is used up");
      break;
    }
    Result<AppendResult> r = f.store->Append(
        std::span<const VerifiedRecord>(f.append_feed).subspan(next, kAppendBatch), kTestNow);
    if (!r || r->appended != kAppendBatch) Die("append failed");
    next += kAppendBatch;
  }
  const double records = static_cast<double>(state.iterations() * kAppendBatch);
  state.counters["disk_write_B_per_record"] =
      static_cast<double>(DiskWriteBytes() - written_before) / records;
  state.SetItemsProcessed(state.iterations() * kAppendBatch);
}
BENCHMARK(BM_AppendPreVerified)
    ->Iterations(kAppendFeedRecords / kAppendBatch - 1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The floor of a durable random-key append: one LMDB table of N random 32-byte keys (as many as
// the store's entries, with the store's flags), 1,000 more per commit. A store append touches the
// subjects index at random like this, plus the records table at its tail.
void BM_RawRandomPutFloor(benchmark::State& state) {
  Fixture& f = GetFixture();
  constexpr size_t kKeyBytes = 32;
  constexpr size_t kValueBytes = 8;
  constexpr size_t kLoadTxnKeys = 100'000;
  const std::filesystem::path path = f.dir / "floor";
  std::filesystem::create_directories(path);
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  if (mdb_env_create(&env) != 0 ||
      mdb_env_set_mapsize(env, std::max<uint64_t>(64ULL << 20, f.entries * 512)) != 0)
    Die("floor env");
  const unsigned flags =
      MDB_NOTLS | (g_no_readahead ? MDB_NORDAHEAD : 0) | (g_write_map ? MDB_WRITEMAP : 0);
  if (int rc = mdb_env_open(env, path.c_str(), flags, 0600))
    Die(std::string("floor open: ") + mdb_strerror(rc));
  std::mt19937_64 rng(kProbeSeed);
  auto put_random = [&](MDB_txn* txn) {
    uint64_t key[kKeyBytes / 8];
    for (uint64_t& word : key) word = rng();
    uint64_t value = rng();
    MDB_val k{kKeyBytes, key}, v{kValueBytes, &value};
    if (mdb_put(txn, dbi, &k, &v, 0) != 0) Die("floor put");
  };
  for (uint64_t done = 0; done < f.entries;) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env, nullptr, 0, &txn) != 0 || mdb_dbi_open(txn, nullptr, 0, &dbi) != 0)
      Die("floor txn");
    for (size_t i = 0; i < kLoadTxnKeys && done < f.entries; ++i, ++done) put_random(txn);
    if (mdb_txn_commit(txn) != 0) Die("floor load commit");
  }
  const uint64_t written_before = DiskWriteBytes();
  for (auto _ : state) {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env, nullptr, 0, &txn) != 0) Die("floor txn");
    for (size_t i = 0; i < kAppendBatch; ++i) put_random(txn);
    if (mdb_txn_commit(txn) != 0) Die("floor commit");
  }
  const double records = static_cast<double>(state.iterations() * kAppendBatch);
  state.counters["disk_write_B_per_record"] =
      static_cast<double>(DiskWriteBytes() - written_before) / records;
  state.SetItemsProcessed(state.iterations() * kAppendBatch);
  mdb_env_close(env);
  std::filesystem::remove_all(path);
}
BENCHMARK(BM_RawRandomPutFloor)
    ->Iterations(kAppendFeedRecords / kAppendBatch)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Catch-up of a whole feed: two verifier threads run VerifyChain over batches of 1,000 (each
// batch's newest signature vouches for the rest through the hash links) while this thread appends
// the verified batches in order, --catch-up-commit records per commit. Items are records.
void BM_VerifyAndAppendFeed(benchmark::State& state) {
  Fixture& f = GetFixture();
  const std::vector<SignedRecord>& feed = f.catch_up_feed;
  const size_t batches = feed.size() / kAppendBatch;
  const size_t per_commit = g_catch_up_commit_batches;
  const size_t window = kVerifyWindowCommits * per_commit;
  const uint64_t written_before = DiskWriteBytes();
  for (auto _ : state) {
    std::vector<std::optional<std::vector<VerifiedRecord>>> verified(batches);
    std::mutex mutex;
    std::condition_variable cv;
    size_t next = 0, appended = 0;
    bool failed = false;
    auto verify = [&] {
      for (;;) {
        size_t b;
        {
          std::unique_lock<std::mutex> lock(mutex);
          cv.wait(lock, [&] { return next >= batches || next < appended + window; });
          if (next >= batches) return;
          b = next++;
        }
        Result<std::vector<VerifiedRecord>> v = protocol::VerifyChain(
            std::span<const SignedRecord>(feed).subspan(b * kAppendBatch, kAppendBatch), f.trust,
            protocol::VerifyOptions{kTestNow});
        std::lock_guard<std::mutex> lock(mutex);
        if (!v) failed = true;
        verified[b] = v ? std::move(v).value() : std::vector<VerifiedRecord>{};
        cv.notify_all();
      }
    };
    std::vector<std::thread> verifiers;
    for (int t = 0; t < kVerifierThreads; ++t) verifiers.emplace_back(verify);
    for (size_t first = 0; first < batches; first += per_commit) {
      const size_t end = std::min(batches, first + per_commit);
      std::vector<VerifiedRecord> commit;
      for (size_t b = first; b < end; ++b) {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return verified[b].has_value(); });
        if (failed) Die("catch-up: a batch did not verify");
        for (VerifiedRecord& v : *verified[b]) commit.push_back(std::move(v));
        verified[b]->clear();
      }
      Result<AppendResult> r = f.store->Append(commit, kTestNow);
      if (!r || r->appended != commit.size()) Die("catch-up: append failed");
      std::lock_guard<std::mutex> lock(mutex);
      appended = end;
      cv.notify_all();
    }
    for (std::thread& t : verifiers) t.join();
  }
  const double records = static_cast<double>(state.iterations() * batches * kAppendBatch);
  state.counters["disk_write_B_per_record"] =
      static_cast<double>(DiskWriteBytes() - written_before) / records;
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batches * kAppendBatch));
}
// Once: the feed can be appended only once.
BENCHMARK(BM_VerifyAndAppendFeed)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace duanka::store

int main(int argc, char** argv) {
  duanka::store::g_entries = duanka::store::EntriesFromEnvironment();
  // --entries=N, taken out before Google Benchmark sees the flags.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.rfind("--lmdb=", 0) == 0) {
      const std::string_view mode = a.substr(std::strlen("--lmdb="));
      if (mode != "default" && mode != "nordahead" && mode != "writemap" && mode != "both") {
        std::fprintf(stderr, "store_bench: --lmdb takes default, nordahead, writemap or both\n");
        return 2;
      }
      duanka::store::g_no_readahead = mode == "nordahead" || mode == "both";
      duanka::store::g_write_map = mode == "writemap" || mode == "both";
    } else if (a.rfind("--catch-up-commit=", 0) == 0) {
      const uint64_t records =
          std::strtoull(argv[i] + std::strlen("--catch-up-commit="), nullptr, 10);
      if (records < duanka::store::kAppendBatch || records % duanka::store::kAppendBatch != 0 ||
          records > duanka::store::kAppendFeedRecords) {
        std::fprintf(stderr,
                     "store_bench: --catch-up-commit takes a multiple of %zu records up to %zu\n",
                     duanka::store::kAppendBatch, duanka::store::kAppendFeedRecords);
        return 2;
      }
      duanka::store::g_catch_up_commit_batches = records / duanka::store::kAppendBatch;
    } else if (a.rfind("--entries=", 0) == 0) {
      duanka::store::g_entries =
          std::max<uint64_t>(1, std::strtoull(argv[i] + std::strlen("--entries="), nullptr, 10));
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  duanka::crypto::EnsureInitialized();
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
