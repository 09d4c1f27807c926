// Raw LMDB, no duanka code: how full the pages of a table keyed issuer id ‖ seq stay when several
// feeds grow side by side, in one table or in a table per feed. Prints bytes per record; asserts
// nothing. The floor under the store's records table (docs/performance.md, "Bytes on disk").
//
//   lmdb_layout_bench [--feeds 4] [--value-bytes 280] [--batch 1000] [--per-feed 25000]
//                     [--table-per-feed]
//
// Each feed in turn appends --batch records in one transaction, until each has --per-feed. In one
// table, only the last feed's keys are past the table's end (MDB_APPEND); the others insert inside
// it. With --table-per-feed every feed appends at its own table's end.
#include <lmdb.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/temp_dir.h"

namespace {

constexpr size_t kMapBytes = size_t{8} << 30;
constexpr unsigned kMaxTables = 64;

[[noreturn]] void Die(const std::string& what, int rc = 0) {
  std::fprintf(stderr, "lmdb_layout_bench: %s%s%s\n", what.c_str(), rc ? ": " : "",
               rc ? mdb_strerror(rc) : "");
  std::exit(1);
}

std::array<char, 12> Key(uint32_t feed, uint64_t seq) {
  std::array<char, 12> k{};
  for (int i = 0; i < 4; ++i) k[i] = static_cast<char>(feed >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) k[4 + i] = static_cast<char>(seq >> (56 - 8 * i));
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t feeds = 4;
  size_t value_bytes = 280, batch = 1000;
  uint64_t per_feed = 25'000;
  bool table_per_feed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto number = [&]() -> uint64_t {
      if (i + 1 >= argc) Die(std::string(a) + " needs a number");
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (a == "--feeds") {
      feeds = static_cast<uint32_t>(number());
    } else if (a == "--value-bytes") {
      value_bytes = number();
    } else if (a == "--batch") {
      batch = number();
    } else if (a == "--per-feed") {
      per_feed = number();
    } else if (a == "--table-per-feed") {
      table_per_feed = true;
    } else {
      Die("unknown argument " + std::string(a) + " (see the comment at the top)");
    }
  }
  if (feeds == 0 || feeds + 1 > kMaxTables || value_bytes == 0 || value_bytes > 1024 ||
      batch == 0 || per_feed == 0) {
    Die("expected --feeds 1 to 63, --value-bytes 1 to 1024, --batch and --per-feed above 0");
  }
  duanka::testing::TempDir dir;
  MDB_env* env = nullptr;
  if (int rc = mdb_env_create(&env)) Die("mdb_env_create", rc);
  mdb_env_set_mapsize(env, kMapBytes);
  mdb_env_set_maxdbs(env, kMaxTables);
  // Durability does not change page layout; MDB_NOSYNC keeps the run short.
  if (int rc = mdb_env_open(env, dir.path().c_str(), MDB_NOSYNC, 0600)) Die("mdb_env_open", rc);
  std::vector<MDB_dbi> tables(feeds);
  MDB_txn* txn = nullptr;
  mdb_txn_begin(env, nullptr, 0, &txn);
  for (uint32_t f = 0; f < feeds; ++f) {
    const std::string name = table_per_feed ? "records" + std::to_string(f) : "records";
    if (int rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &tables[f])) Die("open", rc);
  }
  mdb_txn_commit(txn);
  const std::string value(value_bytes, '\x07');
  for (uint64_t from = 1; from <= per_feed; from += batch) {
    for (uint32_t f = 0; f < feeds; ++f) {
      if (int rc = mdb_txn_begin(env, nullptr, 0, &txn)) Die("txn", rc);
      const bool at_end = table_per_feed || f + 1 == feeds;
      for (uint64_t seq = from; seq < from + batch && seq <= per_feed; ++seq) {
        std::array<char, 12> k = Key(f + 1, seq);
        MDB_val key{k.size(), k.data()}, val{value.size(), const_cast<char*>(value.data())};
        if (int rc = mdb_put(txn, tables[f], &key, &val, at_end ? MDB_APPEND : MDB_NOOVERWRITE))
          Die("put", rc);
      }
      if (int rc = mdb_txn_commit(txn)) Die("commit", rc);
    }
  }
  mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  uint64_t pages = 0, entries = 0;
  for (uint32_t f = 0; f < (table_per_feed ? feeds : 1); ++f) {
    MDB_stat st{};
    mdb_stat(txn, tables[f], &st);
    pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    entries += st.ms_entries;
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
  std::printf(
      "%u feed(s), %s, values of %zu B, %zu records per transaction: %llu records in "
      "%llu pages, %.0f B per record\n",
      feeds, table_per_feed ? "a table each" : "one table", value_bytes, batch,
      static_cast<unsigned long long>(entries), static_cast<unsigned long long>(pages),
      4096.0 * static_cast<double>(pages) / static_cast<double>(entries));
  return 0;
}
