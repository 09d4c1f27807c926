// Raw LMDB, no duanka code: the floor under `duanka lookup --batch`. Opens a store's environment
// read-only as the CLI does (MDB_NORDAHEAD), then reads N random 32-byte keys, sorted as the
// batch sorts its subjects, through one cursor of the subjects index (MDB_SET), in a fresh process
// as the batch is. Random keys miss, as all but one line in a thousand of bench_cli.sh's batch do.
// Prints keys/s; asserts nothing (docs/performance.md, "`lookup --batch` against 10M entries").
//
//   lmdb_probe_floor --store DIR [--keys 1000000] [--passes 2]
//
// The first pass is the floor: each page of the index is mapped into the process on first touch.
// Later passes read the same keys again, with the pages mapped: what first touch costs shows as
// the difference.
#include <lmdb.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

// At least the store's table count (store/detail/layout.h); the subjects index is one of them.
constexpr unsigned kMaxTables = 32;
constexpr const char* kSubjectsTable = "subjects";
constexpr uint64_t kSeed = 7;

using Key = std::array<unsigned char, 32>;

[[noreturn]] void Die(const std::string& what, int rc = 0) {
  std::fprintf(stderr, "lmdb_probe_floor: %s%s%s\n", what.c_str(), rc ? ": " : "",
               rc ? mdb_strerror(rc) : "");
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::string store;
  uint64_t keys = 1'000'000, passes = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Die(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--store") {
      store = value();
    } else if (a == "--keys") {
      keys = std::strtoull(value(), nullptr, 10);
    } else if (a == "--passes") {
      passes = std::strtoull(value(), nullptr, 10);
    } else {
      Die("unknown argument " + std::string(a) + " (see the comment at the top)");
    }
  }
  if (store.empty() || keys == 0 || passes == 0) {
    Die("expected --store DIR (a duanka store), --keys and --passes above 0");
  }

  std::mt19937_64 rng(kSeed);
  std::vector<Key> probes(keys);
  for (Key& k : probes) {
    for (size_t i = 0; i < k.size(); i += 8) {
      const uint64_t r = rng();
      for (size_t j = 0; j < 8; ++j) k[i + j] = static_cast<unsigned char>(r >> (8 * j));
    }
  }
  std::sort(probes.begin(), probes.end());

  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env)) Die("mdb_env_create", rc);
  mdb_env_set_maxdbs(env, kMaxTables);
  if (int rc = mdb_env_open(env, store.c_str(), MDB_RDONLY | MDB_NORDAHEAD, 0600)) {
    Die("cannot open the store " + store, rc);
  }
  MDB_txn* txn = nullptr;
  MDB_dbi subjects = 0;
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn)) Die("mdb_txn_begin", rc);
  if (int rc = mdb_dbi_open(txn, kSubjectsTable, MDB_DUPSORT | MDB_DUPFIXED, &subjects)) {
    Die("no subjects index in " + store, rc);
  }
  if (int rc = mdb_cursor_open(txn, subjects, &cursor)) Die("mdb_cursor_open", rc);

  for (uint64_t pass = 1; pass <= passes; ++pass) {
    uint64_t found = 0;
    const auto start = std::chrono::steady_clock::now();
    for (Key& k : probes) {
      MDB_val key{k.size(), k.data()}, value;
      const int rc = mdb_cursor_get(cursor, &key, &value, MDB_SET);
      if (rc == 0) {
        ++found;
      } else if (rc != MDB_NOTFOUND) {
        Die("mdb_cursor_get", rc);
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = static_cast<double>(keys) / std::max(seconds, 1e-9);
    std::printf("pass %llu: %llu sorted random keys (%llu found) in %.3f s = %.0f keys/s%s\n",
                static_cast<unsigned long long>(pass), static_cast<unsigned long long>(keys),
                static_cast<unsigned long long>(found), seconds, rate,
                pass == 1 ? " (first touch of each page: the floor)" : " (pages mapped)");
    std::printf("figure\traw_probe_pass%llu_keys_per_s\t%.0f\tkeys/s\n",
                static_cast<unsigned long long>(pass), rate);
  }
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return 0;
}
