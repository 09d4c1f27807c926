// Private to store/: the Store's state shared by its .cpp files.
#pragma once

#include <lmdb.h>

#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "store/detail/layout.h"
#include "store/detail/lmdb.h"
#include "store/store.h"

namespace duanka::store {

struct Store::Impl {
  Options options;
  MDB_env* env = nullptr;
  MDB_dbi meta = 0, heads = 0, issuer_ids = 0, records = 0, subjects = 0, revoked = 0, pending = 0,
          certs = 0, evidence = 0;
  // Second-wave tables; 0: absent (a read-only open of a store made before the table).
  MDB_dbi objects = 0, withdrawn = 0, resolved = 0, losing = 0, seen_heads = 0;
  MDB_dbi day_counts = 0, held = 0, released = 0;
  MDB_dbi watch = 0, alerts = 0, watched_listings = 0;

  // A Bloom filter of the watch table's subjects, so that appending an entry whose subject is not
  // watched (nearly every one) costs no descent of a table that may hold 10M subjects. Built from
  // the table when a process has probed it often (a catch-up, the daemon), never for a one-shot
  // report; valid while the table's generation (kWatchGenerationKey) is the one it was built at.
  // Used inside write transactions only, which LMDB serialises.
  struct WatchFilter {
    uint64_t generation = 0;
    std::vector<uint64_t> bits;  // a power of two of them
    bool MayHold(const Hash256& subject) const;
    void Add(const Hash256& subject);
  };
  std::optional<WatchFilter> watch_filter;
  uint64_t watch_filter_checked_txn = 0;  // the write txn whose generation was last compared
  bool watch_filter_valid = false;        // in that transaction
  uint64_t watch_probes_unfiltered = 0;   // since the filter was last valid

  // Whether `subject` may be watched: the filter's answer when it is valid, else a read.
  bool MaybeWatched(MDB_txn* txn, const Hash256& subject);
  WatchFilter BuildWatchFilter(MDB_txn* txn, uint64_t generation) const;
  std::optional<WatchFilter> SavedWatchFilter(MDB_txn* txn, uint64_t generation) const;

  // Read transactions are reset and renewed instead of created per read (MDB_NOTLS lets any
  // thread renew any of them). Growing the map needs no transaction of ours active, so readers
  // hold `resize` shared and the grower holds it exclusively.
  mutable std::shared_mutex resize;
  mutable std::mutex pool_mutex;
  mutable std::vector<MDB_txn*> reader_pool;

  // issuer id → code, filled from the issuer_ids table as ids are met.
  mutable std::mutex issuer_cache_mutex;
  mutable std::vector<std::string> issuer_codes;

  ~Impl();

  // A pooled read transaction, renewed on acquire and reset on release.
  class Reader {
   public:
    explicit Reader(const Impl& impl);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    MDB_txn* txn() const { return txn_; }

   private:
    const Impl& impl_;
    std::shared_lock<std::shared_mutex> lock_;
    MDB_txn* txn_ = nullptr;
  };

  // Issuer code for an id, reading the issuer_ids table in `txn` when not cached.
  std::string IssuerCode(MDB_txn* txn, uint32_t issuer_id) const;
  // Head of `issuer` as of `txn`.
  std::optional<detail::HeadValue> ReadHead(MDB_txn* txn, const std::string& issuer) const;
  std::optional<SignedRecord> ReadRecord(MDB_txn* txn, uint32_t issuer_id, uint64_t seq) const;
  // The compromise time of a withdrawn signing key, as of `txn`.
  std::optional<int64_t> WithdrawnSince(MDB_txn* txn, const Hash256& key_id) const;
  // Sets or clears `flag` on the subjects index value of entry (issuer id, seq) about `subject`.
  // Returns whether it changed; throws detail::LmdbError (MDB_CORRUPTED) if the entry is missing.
  // A flag that makes the entry stop being listed raises a kCleared alert when its subject is
  // watched, with `why` as the reason; one that makes it listed again raises kListed.
  bool SetSubjectFlag(MDB_txn* txn, const Hash256& subject, uint32_t issuer_id, uint64_t seq,
                      uint8_t flag, bool on, int64_t now, std::string_view why);

  // Re-screening (watch.cpp). Called by every write that changes an entry in the subjects index
  // (before: nullptr for a new entry; after: nullptr for one removed): when the entry becomes
  // listed and its subject is watched, appends a kListed alert and notes the listing; when a
  // noted listing stops being listed, appends a kCleared alert with `why` (or "expired").
  void NoteListingChange(MDB_txn* txn, const Hash256& subject, const detail::SubjectValue* before,
                         const detail::SubjectValue* after, int64_t now, std::string_view why);
  // `held`: the entry's record, when the caller decoded it already (else it is read again).
  Listing ToListing(MDB_txn* txn, const Hash256& subject, const detail::SubjectValue& v,
                    const LookupOptions& options, const protocol::Record* held = nullptr) const;

  // Runs body in a write transaction and commits; on MDB_MAP_FULL aborts, doubles the map and
  // runs body again from the start. Throws detail::LmdbError for other failures.
  // body returns false to abort instead of commit; Write returns what body returned.
  bool Write(const std::function<bool(MDB_txn*)>& body);
  void GrowMap();
  void AdoptMapSize() const;
  // Ends the pooled read transactions, which must not outlive a change of the map's size.
  // REQUIRES: `resize` held exclusively.
  void DropPooledReaders() const;
  // With MDB_WRITEMAP every mdb_env_set_mapsize of a writable process also ftruncates data.mdb to
  // that size. A sparse file would meet a full disk as SIGBUS in the middle of a transaction, and
  // one writer adopting a smaller size would cut the file under another writer's pages. So
  // writers change the map size only under an flock on the store's directory, never below the
  // file's size, and allocate the blocks before the size. -1 unless the map is writable.
  int map_lock_fd = -1;
  bool MapIsWritable() const { return options.write_map && !options.read_only; }
  // Sets the map to at least `at_least` bytes and at least the file's size (0: the size another
  // process committed), its blocks allocated first. Call with the map lock held.
  void ResizeMapLocked(uint64_t at_least) const;
};

namespace detail {

// Holds the map lock (Store::Impl::map_lock_fd) while alive; nothing when the map is read-only.
class MapSizeLock {
 public:
  explicit MapSizeLock(const Store::Impl& impl);
  ~MapSizeLock();
  MapSizeLock(const MapSizeLock&) = delete;
  MapSizeLock& operator=(const MapSizeLock&) = delete;

 private:
  int fd_;
};

// An LMDB failure as the store reports it: kIo naming the store, what it was doing, and why.
inline Error StoreIo(const LmdbError& e, const Store::Impl& impl) {
  return MakeError(ErrorKind::kIo, "store " + impl.options.path.string() + ": " + e.what + ": " +
                                       mdb_strerror(e.rc));
}

}  // namespace detail

}  // namespace duanka::store
