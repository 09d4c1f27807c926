// Opening the environment, the reader pool, map growth and the write loop.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "store/detail/store_impl.h"

namespace duanka::store {

using detail::Check;
using detail::Found;
using detail::LmdbError;
using detail::Val;
using detail::View;

namespace {

// Rounds of beginning a transaction again while other processes grow the map or commit under it;
// each round is short, and past this many something is wrong, so the error is reported.
constexpr int kMaxReadAttempts = 64;

Error LmdbFailure(const LmdbError& e, const std::filesystem::path& path) {
  return MakeError(ErrorKind::kIo, std::string("store ") + path.string() + ": " + e.what + ": " +
                                       mdb_strerror(e.rc));
}

}  // namespace

const char* EntryStateName(EntryState state) {
  switch (state) {
    case EntryState::kActive:
      return "active";
    case EntryState::kRevoked:
      return "revoked";
    case EntryState::kExpired:
      return "expired";
    case EntryState::kSuspended:
      return "suspended";
    case EntryState::kHeld:
      return "held";
  }
  return "unknown";
}

const char* AppendStatusName(AppendStatus status) {
  switch (status) {
    case AppendStatus::kAppended:
      return "appended";
    case AppendStatus::kDuplicate:
      return "duplicate";
    case AppendStatus::kGap:
      return "gap";
    case AppendStatus::kConflict:
      return "conflict";
    case AppendStatus::kForked:
      return "forked";
    case AppendStatus::kFrozen:
      return "frozen";
    case AppendStatus::kLosing:
      return "losing";
    case AppendStatus::kMisdated:
      return "misdated";
  }
  return "unknown";
}

Store::Impl::~Impl() {
  for (MDB_txn* txn : reader_pool) mdb_txn_abort(txn);
  if (env != nullptr) mdb_env_close(env);
  if (map_lock_fd >= 0) ::close(map_lock_fd);
}

detail::MapSizeLock::MapSizeLock(const Store::Impl& impl) : fd_(impl.map_lock_fd) {
  if (fd_ < 0) return;
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) throw LmdbError{errno, "cannot lock the store's map size"};
  }
}

detail::MapSizeLock::~MapSizeLock() {
  if (fd_ >= 0) ::flock(fd_, LOCK_UN);
}

namespace {

uint64_t FileBytes(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw LmdbError{errno, "cannot read the store's file size"};
  return static_cast<uint64_t>(st.st_size);
}

// Allocates data.mdb's blocks up to `end` without changing its size (an empty new file must stay
// empty for LMDB to initialise it). fallocate(2) itself, not posix_fallocate: glibc's fallback
// for file systems without it writes zeros into blocks that other processes may be committing.
void ReserveFileBytes(int fd, uint64_t end) {
  int rc;
  do {
    rc = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(end));
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return;
  if (errno == EOPNOTSUPP) {
    throw LmdbError{errno,
                    "cannot reserve disk space for the store's map (its file system has no "
                    "fallocate; the store needs ext4, xfs or tmpfs)"};
  }
  throw LmdbError{errno, "cannot reserve disk space for the store's map"};
}

int DataFd(MDB_env* env) {
  mdb_filehandle_t fd;
  Check(mdb_env_get_fd(env, &fd), "cannot reach the store's file");
  return fd;
}

}  // namespace

void Store::Impl::ResizeMapLocked(uint64_t at_least) const {
  if (!MapIsWritable()) {
    Check(mdb_env_set_mapsize(env, at_least), "cannot set the map size");
    return;
  }
  MDB_envinfo info;
  Check(mdb_env_info(env, &info), "cannot read the map size");
  const int fd = DataFd(env);
  // Every writer sizes the file to its map, so the file is at least any size another committed;
  // never below it, or the ftruncate in mdb_env_set_mapsize would cut another writer's pages.
  const uint64_t size = std::max({at_least, FileBytes(fd), uint64_t{info.me_mapsize}});
  // Blocks first, then the size: bytes below the file's size are always allocated, so no page of
  // the map is a hole, and a full disk fails here with nothing changed.
  ReserveFileBytes(fd, size);
  Check(mdb_env_set_mapsize(env, size), "cannot set the map size");
}

Store::Impl::Reader::Reader(const Impl& impl) : impl_(impl), lock_(impl.resize) {
  {
    std::lock_guard<std::mutex> guard(impl.pool_mutex);
    if (!impl.reader_pool.empty()) {
      txn_ = impl.reader_pool.back();
      impl.reader_pool.pop_back();
    }
  }
  for (int attempt = 0;; ++attempt) {
    int rc =
        txn_ != nullptr ? mdb_txn_renew(txn_) : mdb_txn_begin(impl.env, nullptr, MDB_RDONLY, &txn_);
    if (rc == MDB_MAP_RESIZED && attempt < kMaxReadAttempts) {
      // Another process grew the map; adopt its size (needs no transaction of ours active). It
      // may grow again before we begin, hence the loop.
      if (txn_ != nullptr) mdb_txn_abort(txn_);
      txn_ = nullptr;
      lock_.unlock();
      impl.AdoptMapSize();
      lock_.lock();
      continue;
    }
    if (rc != MDB_SUCCESS) {
      if (txn_ != nullptr) mdb_txn_abort(txn_);
      txn_ = nullptr;
      throw LmdbError{rc, "cannot begin a read transaction"};
    }
    // LMDB 0.9 race: a reader that read the published txnid R and was then delayed can find meta
    // page R&1 already rewritten by commit R+2 (in flight, not yet published), and read that
    // newer snapshot; its next transaction then sees R+1, older: a head seen would vanish. When
    // the newest meta is 2 or more ahead of our txnid, our page may be that newer one: begin again.
    MDB_envinfo info;
    if (attempt < kMaxReadAttempts && mdb_env_info(impl.env, &info) == MDB_SUCCESS &&
        info.me_last_txnid > mdb_txn_id(txn_) + 1) {
      mdb_txn_reset(txn_);
      continue;
    }
    return;
  }
}

Store::Impl::Reader::~Reader() {
  if (txn_ == nullptr) return;
  mdb_txn_reset(txn_);
  std::lock_guard<std::mutex> guard(impl_.pool_mutex);
  impl_.reader_pool.push_back(txn_);
}

void Store::Impl::DropPooledReaders() const {
  std::lock_guard<std::mutex> guard(pool_mutex);
  for (MDB_txn* txn : reader_pool) mdb_txn_abort(txn);
  reader_pool.clear();
}

void Store::Impl::AdoptMapSize() const {
  std::unique_lock<std::shared_mutex> exclusive(resize);
  DropPooledReaders();
  detail::MapSizeLock map_lock(*this);
  ResizeMapLocked(0);
}

void Store::Impl::GrowMap() {
  std::unique_lock<std::shared_mutex> exclusive(resize);
  DropPooledReaders();
  detail::MapSizeLock map_lock(*this);
  MDB_envinfo info;
  Check(mdb_env_info(env, &info), "cannot read the map size");
  uint64_t grown = std::max<uint64_t>(info.me_mapsize * 2, options.initial_map_bytes);
  if (info.me_mapsize >= options.max_map_bytes) {
    throw LmdbError{MDB_MAP_FULL, "the store reached its configured maximum size"};
  }
  // A full disk throws before the map changes; the caller's transaction fails whole.
  ResizeMapLocked(std::min(grown, options.max_map_bytes));
}

bool Store::Impl::Write(const std::function<bool(MDB_txn*)>& body) {
  for (;;) {
    try {
      std::shared_lock<std::shared_mutex> shared(resize);
      MDB_txn* raw = nullptr;
      int rc = mdb_txn_begin(env, nullptr, 0, &raw);
      if (rc == MDB_MAP_RESIZED) {
        shared.unlock();
        AdoptMapSize();
        continue;
      }
      Check(rc, "cannot begin a write transaction");
      detail::WriteTxn txn(raw);
      if (!body(txn.get())) return false;
      Check(txn.Commit(), "cannot commit");
      return true;
    } catch (const LmdbError& e) {
      if (e.rc != MDB_MAP_FULL) throw;
      // The aborted batch is retried whole in a larger map: nothing is lost, nothing half-done.
      GrowMap();
    }
  }
}

std::string Store::Impl::IssuerCode(MDB_txn* txn, uint32_t issuer_id) const {
  {
    std::lock_guard<std::mutex> guard(issuer_cache_mutex);
    if (issuer_id < issuer_codes.size() && !issuer_codes[issuer_id].empty()) {
      return issuer_codes[issuer_id];
    }
  }
  char key[4];
  detail::PutU32(key, issuer_id);
  MDB_val k = Val(key, sizeof key), v;
  if (!Found(mdb_get(txn, issuer_ids, &k, &v), "cannot read issuer ids")) return "?";
  std::string code(View(v));
  std::lock_guard<std::mutex> guard(issuer_cache_mutex);
  if (issuer_codes.size() <= issuer_id) issuer_codes.resize(issuer_id + 1);
  issuer_codes[issuer_id] = code;
  return code;
}

std::optional<detail::HeadValue> Store::Impl::ReadHead(MDB_txn* txn,
                                                       const std::string& issuer) const {
  MDB_val k = Val(issuer), v;
  if (!Found(mdb_get(txn, heads, &k, &v), "cannot read a feed head")) return std::nullopt;
  std::optional<detail::HeadValue> head = detail::HeadValue::Decode(View(v));
  if (!head) throw LmdbError{MDB_CORRUPTED, "a feed head is truncated"};
  return head;
}

std::optional<SignedRecord> Store::Impl::ReadRecord(MDB_txn* txn, uint32_t issuer_id,
                                                    uint64_t seq) const {
  auto key = detail::RecordKey(issuer_id, seq);
  MDB_val k = Val(key.data(), key.size()), v;
  if (!Found(mdb_get(txn, records, &k, &v), "cannot read a record")) return std::nullopt;
  std::optional<SignedRecord> record = detail::DecodeSignedRecord(View(v));
  if (!record) throw LmdbError{MDB_CORRUPTED, "a stored record does not decode"};
  return record;
}

namespace {

Status OpenEnvironment(Store::Impl& impl) {
  const Options& o = impl.options;
  std::error_code ec;
  bool exists = std::filesystem::exists(o.path / "data.mdb", ec);
  if (!exists) {
    if (!o.create_if_missing || o.read_only) {
      return MakeError(ErrorKind::kNotFound,
                       "no store at " + o.path.string() + " (run duanka-admin init first)");
    }
    std::filesystem::create_directories(o.path, ec);
    if (ec) {
      return MakeError(ErrorKind::kIo, "cannot create the store directory " + o.path.string() +
                                           ": " + ec.message());
    }
    ::chmod(o.path.c_str(), 0700);
  }
  Check(mdb_env_create(&impl.env), "cannot create an LMDB environment");
  Check(mdb_env_set_maxdbs(impl.env, detail::kTableCount), "cannot set the table count");
  Check(mdb_env_set_maxreaders(impl.env, o.max_readers), "cannot set the reader slots");
  uint64_t map_bytes = o.initial_map_bytes;
  if (impl.MapIsWritable()) {
    // The map lock is an flock on the store's directory (data.mdb may not exist yet, and a
    // second descriptor on lock.mdb would drop LMDB's own fcntl locks when closed). Held until
    // the environment is open and its map reserved.
    impl.map_lock_fd = ::open(o.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (impl.map_lock_fd < 0) {
      return MakeError(ErrorKind::kIo, "cannot open the store directory " + o.path.string() + ": " +
                                           std::strerror(errno));
    }
  }
  detail::MapSizeLock map_lock(impl);
  if (impl.MapIsWritable() && exists) {
    // mdb_env_open ftruncates data.mdb to the map's size: reserve the blocks before it does.
    const int data = ::open((o.path / "data.mdb").c_str(), O_RDWR | O_CLOEXEC);
    if (data < 0) {
      return MakeError(ErrorKind::kIo, "cannot open " + (o.path / "data.mdb").string() + ": " +
                                           std::strerror(errno));
    }
    try {
      map_bytes = std::max(map_bytes, FileBytes(data));
      ReserveFileBytes(data, map_bytes);
    } catch (const LmdbError&) {
      ::close(data);
      throw;
    }
    ::close(data);
  }
  Check(mdb_env_set_mapsize(impl.env, map_bytes), "cannot set the map size");
  // MDB_NOTLS: read transactions are pooled and renewed from any thread. Never MDB_NOSYNC,
  // MDB_NOMETASYNC or MDB_MAPASYNC: a commit is on disk when it returns.
  unsigned flags = MDB_NOTLS | (o.read_only ? MDB_RDONLY : 0);
  if (o.no_readahead) flags |= MDB_NORDAHEAD;
  if (impl.MapIsWritable()) flags |= MDB_WRITEMAP;
  Check(mdb_env_open(impl.env, o.path.c_str(), flags, 0600), "cannot open");
  // A new store's file was created by mdb_env_open at the map's size, sparse: reserve it before
  // any transaction writes into it. (An existing one was reserved above; this finds it done.)
  if (impl.MapIsWritable()) impl.ResizeMapLocked(0);
  // A process that died holding a reader slot would otherwise pin old pages forever, and killed
  // lookup CLIs would fill the reader table.
  int dead = 0;
  mdb_reader_check(impl.env, &dead);
  return Ok();
}

void OpenTables(Store::Impl& impl, MDB_txn* txn, unsigned create) {
  struct Table {
    const char* name;
    MDB_dbi* dbi;
    unsigned flags;
  };
  const Table tables[] = {
      {detail::kMetaTable, &impl.meta, 0},
      {detail::kHeadsTable, &impl.heads, 0},
      {detail::kIssuerIdsTable, &impl.issuer_ids, 0},
      {detail::kRecordsTable, &impl.records, 0},
      {detail::kSubjectsTable, &impl.subjects, MDB_DUPSORT | MDB_DUPFIXED},
      {detail::kRevokedTable, &impl.revoked, 0},
      {detail::kPendingTable, &impl.pending, MDB_DUPSORT},
      {detail::kCertsTable, &impl.certs, 0},
      {detail::kEvidenceTable, &impl.evidence, 0},
  };
  for (const Table& t : tables) {
    Check(mdb_dbi_open(txn, t.name, t.flags | create, t.dbi), "cannot open a table");
  }
  // Added in the second wave without a schema change: a store made before them gets these
  // tables at its next writable open; until then a read-only open sees them as empty (dbi 0).
  const Table second_wave[] = {
      {detail::kObjectsTable, &impl.objects, 0},
      {detail::kWithdrawnTable, &impl.withdrawn, 0},
      {detail::kResolvedTable, &impl.resolved, 0},
      {detail::kLosingTable, &impl.losing, 0},
      {detail::kSeenHeadsTable, &impl.seen_heads, 0},
      {detail::kDayCountsTable, &impl.day_counts, 0},
      {detail::kHeldTable, &impl.held, 0},
      {detail::kReleasedTable, &impl.released, 0},
      {detail::kWatchTable, &impl.watch, MDB_DUPSORT},
      {detail::kAlertsTable, &impl.alerts, 0},
      {detail::kWatchedListingsTable, &impl.watched_listings, 0},
  };
  for (const Table& t : second_wave) {
    int rc = mdb_dbi_open(txn, t.name, t.flags | create, t.dbi);
    if (rc == MDB_NOTFOUND && create == 0) {
      *t.dbi = 0;
    } else {
      Check(rc, "cannot open a table");
    }
  }
}

// New stores get the current schema; existing ones must have it.
Status CheckOrWriteSchema(Store::Impl& impl, MDB_txn* txn, bool writable) {
  MDB_val k = Val(detail::kSchemaKey), v;
  if (!Found(mdb_get(txn, impl.meta, &k, &v), "cannot read the schema version")) {
    if (!writable) {
      return MakeError(ErrorKind::kIo, "store " + impl.options.path.string() +
                                           " has no schema version; it is not a duanka store");
    }
    char version[4];
    detail::PutU32(version, kSchemaVersion);
    MDB_val vv = Val(version, sizeof version);
    Check(mdb_put(txn, impl.meta, &k, &vv, 0), "cannot write the schema version");
    return Ok();
  }
  uint32_t version = v.mv_size == 4 ? detail::GetU32(static_cast<const char*>(v.mv_data)) : 0;
  if (version < kOldestReadableSchemaVersion || version > kSchemaVersion) {
    return MakeError(ErrorKind::kIo,
                     "store " + impl.options.path.string() + " has schema version " +
                         std::to_string(version) + "; this duanka reads versions " +
                         std::to_string(kOldestReadableSchemaVersion) + " to " +
                         std::to_string(kSchemaVersion) +
                         (version > kSchemaVersion ? " (upgrade duanka)" : " (unknown layout)"));
  }
  if (version < kSchemaVersion && writable) {
    // Before anything of the newer layout is written: an older duanka then refuses the store
    // rather than misread it.
    char current[4];
    detail::PutU32(current, kSchemaVersion);
    MDB_val vv = Val(current, sizeof current);
    Check(mdb_put(txn, impl.meta, &k, &vv, 0), "cannot write the schema version");
  }
  return Ok();
}

}  // namespace

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  try {
    Status env = OpenEnvironment(*impl);
    if (!env) return std::move(env).error();
    MDB_txn* raw = nullptr;
    int rc = mdb_txn_begin(impl->env, nullptr, options.read_only ? MDB_RDONLY : 0, &raw);
    for (int attempt = 0; rc == MDB_MAP_RESIZED && attempt < kMaxReadAttempts; ++attempt) {
      // Another process grew the map since mdb_env_open mapped it: adopt its size.
      {
        detail::MapSizeLock map_lock(*impl);
        impl->ResizeMapLocked(0);
      }
      rc = mdb_txn_begin(impl->env, nullptr, options.read_only ? MDB_RDONLY : 0, &raw);
    }
    Check(rc, "cannot begin the opening transaction");
    detail::WriteTxn txn(raw);
    OpenTables(*impl, txn.get(), options.read_only ? 0 : MDB_CREATE);
    Status schema = CheckOrWriteSchema(*impl, txn.get(), !options.read_only);
    if (!schema) return std::move(schema).error();
    Check(txn.Commit(), "cannot commit the opening transaction");
  } catch (const LmdbError& e) {
    if (e.rc == MDB_NOTFOUND && options.read_only) {
      return MakeError(ErrorKind::kIo, "store " + options.path.string() +
                                           " is missing its tables; it is not a duanka store");
    }
    return LmdbFailure(e, options.path);
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<int> Store::ReclaimStaleReaders() {
  int dead = 0;
  int rc = mdb_reader_check(impl_->env, &dead);
  if (rc != MDB_SUCCESS)
    return LmdbFailure(LmdbError{rc, "cannot check readers"}, impl_->options.path);
  return dead;
}

}  // namespace duanka::store
