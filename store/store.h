// The store: every feed a node holds, in one LMDB environment (HOME/store/), and the subjects index
// that makes a lookup one B-tree descent.
//
// Several processes open the same store at once (the daemon, the lookup CLI, the admin tool):
// readers never block and never see half a batch; LMDB's own lock makes writers take turns. All
// writes are durable when Append returns (no MDB_NOSYNC, no MDB_WRITEMAP), and nothing is
// acknowledged before its commit. The store knows records and feeds, never sockets or files other
// than its own. Its on-disk layout is written down in store/README.md.
//
// Threads: a Store may be used from any number of threads at once. Read methods take a pooled
// read transaction each; write methods serialise on LMDB's writer lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "protocol/record.h"

namespace duanka::store {

using crypto::Hash256;
using protocol::EntryId;
using protocol::SignedRecord;
using protocol::VerifiedRecord;

// 2: signed records are stored packed (store/README.md). A writable open of a schema 1 store
// marks it 2 (its records stay as they are and read as before); a read-only open leaves it.
inline constexpr uint32_t kSchemaVersion = 2;
inline constexpr uint32_t kOldestReadableSchemaVersion = 1;
// Fork evidence pairs kept per feed (the earliest forks): one proves the equivocation; a cap keeps
// an issuer that forks at every seq from filling the store and every peer's evidence exchange.
inline constexpr size_t kMaxEvidencePerFeed = 4;

// The flood guard: an issuer's new entries beyond its limit for one day (the entry's issue day,
// UTC, so that every node counts the same entries in the same order) are stored and relayed as
// usual but held: a lookup answers them kHeld until the day is released. Every program that
// writes a node's store must pass the node's limits (node::StoreOptionsFrom does).
struct FloodLimits {
  uint64_t daily_entries = 0;  // the consortium default; 0: no limit (a store opened for reading)
  std::map<std::string, uint64_t, std::less<>> per_issuer;  // overrides, each > 0
  uint64_t For(std::string_view issuer) const;
};

// Days since 1970-01-01 UTC: the flood guard's unit.
uint32_t DayOf(int64_t unix_seconds);

struct Options {
  std::filesystem::path path;  // the environment's directory; created (0700) if missing
  // Initial map size. The map grows by doubling when full, so this only saves early regrowths.
  uint64_t initial_map_bytes = 64ULL << 20;
  // Upper bound for growth: a runaway peer must not fill the disk without an operator noticing.
  uint64_t max_map_bytes = 1ULL << 40;
  // Reader slots, shared by every process that opens the store (daemon threads, CLIs, tools).
  unsigned max_readers = 1022;
  // Open without write access (the lookup CLI). Append and friends then fail with kIo.
  bool read_only = false;
  // Creates the store if it does not exist. When false, a missing store is kNotFound.
  bool create_if_missing = true;
  // LMDB's MDB_NORDAHEAD: lookups and appends touch random pages, and readahead turns each page
  // fault into a large folio of the file (Linux 6.x on ext4) that a commit then writes back
  // whole. See docs/performance.md for what each choice writes per record.
  bool no_readahead = true;
  // LMDB's MDB_WRITEMAP: a transaction writes its pages in the map and the commit msyncs them,
  // instead of writing malloc'd copies with pwrite. With readahead off, a commit then writes
  // little more than the pages it changed. The store's map is allocated on disk in full (a
  // sparse map would meet a full disk as SIGBUS). Writers of one store must agree; all three
  // programs use this default.
  bool write_map = true;
  FloodLimits flood;
};

// One issuer's feed: the newest record held, and whether it is frozen after a fork.
struct Head {
  std::string issuer;
  uint64_t seq = 0;
  Hash256 hash;
  bool frozen = false;
  uint64_t fork_seq = 0;     // when frozen: the seq at which two records were seen
  int64_t last_grew_at = 0;  // Unix seconds of the last append to this feed
};

// kSuspended: signed at or after the compromise time of a withdrawn key (a key-withdrawal
// notice). Like kRevoked it is never answered as listed; unlike it the issuer may re-affirm the
// entry with its new key (a new entry), and a later notice may lift it.
// kHeld: beyond its issuer's daily limit (FloodLimits) and not released; answered as held, never
// as listed, until a release.
enum class EntryState : uint8_t {
  kActive = 1,
  kRevoked = 2,
  kExpired = 3,
  kSuspended = 4,
  kHeld = 5
};
const char* EntryStateName(EntryState state);
// Whether an entry stands (not withdrawn, expired or suspended): active, or held by the flood
// guard. What an issuer's own checks count (a duplicate report, a bulk revocation); a lookup
// answers listed for kActive alone.
inline bool Stands(EntryState state) {
  return state == EntryState::kActive || state == EntryState::kHeld;
}

struct RevocationInfo {
  EntryId by;  // the revocation record
  protocol::RevocationReason reason = protocol::RevocationReason::kIssuedInError;
  int64_t revoked_at = 0;  // the revocation record's issue time
};

// One entry about a subject, as a lookup reports it.
struct Listing {
  Hash256 subject;
  EntryId id;
  protocol::IdType id_type = protocol::IdType::kCnId;
  protocol::Category category = protocol::Category::kRentedOut;
  protocol::Basis basis = protocol::Basis::kInstitution;
  uint32_t pepper_epoch = 0;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  EntryState state = EntryState::kActive;
  // Filled when LookupOptions::details is set:
  std::string case_ref;
  std::optional<RevocationInfo> revocation;
  std::optional<int64_t> suspended_since;  // kSuspended: the withdrawn key's compromise time
};

struct LookupOptions {
  int64_t now = 0;       // Unix seconds, from the injected clock: decides kExpired
  bool details = false;  // also read case references and revocations (a second read per hit)
};

// What Append did with each record of a batch, in batch order.
enum class AppendStatus : uint8_t {
  kAppended = 1,   // extended its feed
  kDuplicate = 2,  // held already (same hash): nothing changed
  kGap = 3,        // seq > head + 1: fetch the missing records first; not written
  kConflict = 4,   // seq == head + 1 but prev is not the head's hash: the feed has forked
                   // elsewhere; not written
  kForked = 5,     // a different record at a held seq: kept as evidence, feed frozen
  kFrozen = 6,     // the feed is frozen; not written
  kLosing = 7,     // a record of a branch a fork resolution discarded: not written, not
                   // evidence; the sender lacks the resolution
  kMisdated = 8,   // issued before the record it follows (the rule of kIssueTimesRiseFrom); not
                   // written
};
const char* AppendStatusName(AppendStatus status);

// An issuer's entries of one day passed its limit in this batch (reported once per day, by the
// append that took the first held entry).
struct LimitCrossing {
  std::string issuer;
  uint32_t day = 0;
  uint64_t limit = 0;
};

struct AppendResult {
  std::vector<AppendStatus> statuses;  // one per input record
  size_t appended = 0;
  size_t forks = 0;
  size_t held = 0;  // entries appended held by the flood guard
  std::vector<LimitCrossing> crossings;
};

// One issuer's day under the flood guard, as HeldDays reports it.
struct HeldDay {
  std::string issuer;
  uint32_t day = 0;
  uint64_t entries = 0;  // entries of that issue day this store took
  uint64_t held = 0;     // of those, held now
  bool released = false;
};

// Re-screening (store/watch.cpp): the institution's own customers, as subjects, each with its
// opaque references. Local to this store: nothing of it is ever in a record, a peer message or a
// bundle. `subjects` are the identifier's subjects under every pepper epoch the node holds,
// current first (node::Lookuper::Subjects); the first one counts the pair for WatchCount.
struct WatchItem {
  std::vector<Hash256> subjects;
  std::string ref;  // at most kMaxWatchRefBytes printable characters; the caller checks them
};
inline constexpr size_t kMaxWatchRefBytes = 64;
// References one watched identifier may carry (an alert carries them all): far above a family
// sharing a phone number, far below what would make an alert unwieldy.
inline constexpr size_t kMaxRefsPerSubject = 256;

// What Watch or Unwatch did: pairs (subject, ref) added or removed, and those already so; and,
// in item order, whether each item changed under any of its subjects (what an audit line records).
struct WatchChange {
  uint64_t changed = 0;
  uint64_t unchanged = 0;
  std::vector<bool> item_changed;
};

// An alert: a watched subject's entry became listed here (appended active, released from a
// hold, its revocation or suspension undone) or stopped being listed (revoked, expired, its key
// withdrawn, set aside by a fork resolution). Appended to the store's alert log in the
// transaction that made the change, numbered from 1 without gaps.
enum class AlertKind : uint8_t { kListed = 1, kCleared = 2 };
const char* AlertKindName(AlertKind kind);

struct Alert {
  uint64_t id = 0;
  AlertKind kind = AlertKind::kListed;
  int64_t at = 0;  // the committing transaction's time (Unix seconds)
  Hash256 subject;
  EntryId entry;
  protocol::IdType id_type = protocol::IdType::kCnId;
  protocol::Category category = protocol::Category::kRentedOut;
  protocol::Basis basis = protocol::Basis::kInstitution;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  // kCleared: why: a revocation reason's name ("appeal-upheld", …), "expired", "key-withdrawn"
  // or "fork-resolved". Empty for kListed.
  std::string reason;
  std::vector<std::string> refs;  // the watch list's references for the subject, sorted
};

struct IssuerStats {
  std::string issuer;
  uint64_t records = 0;
  uint64_t entries = 0;
  uint64_t revocations = 0;      // revocation records issued by this issuer
  uint64_t revoked_entries = 0;  // entries of this issuer withdrawn (by anyone)
  uint64_t expired_entries = 0;  // not revoked, expired at `now`
  uint64_t active_entries = 0;   // neither revoked, expired nor held
  bool frozen = false;
  int64_t last_grew_at = 0;
  uint64_t held_entries = 0;  // by the flood guard, not revoked or expired
};

struct Stats {
  std::vector<IssuerStats> issuers;
  uint64_t pending_revocations = 0;  // revocations whose entry has not arrived yet
  uint64_t evidence = 0;             // forks held
  uint64_t bytes_on_disk = 0;        // pages in use × page size
  uint64_t map_bytes = 0;
};

// Two validly signed records with one (issuer, seq): proof that the issuer equivocated.
struct Evidence {
  SignedRecord held;   // the one in the feed
  SignedRecord other;  // the one that arrived later
};

// What Store::ResolveFork did to the feed.
struct ResolveOutcome {
  uint64_t set_aside = 0;      // records of the losing branch moved out of the feed
  bool kept_appended = false;  // the kept record at seq came from the evidence into the feed
  bool unfrozen = false;       // the feed was frozen and no longer is
};

class Store {
 public:
  // kIo for an unreadable store or a newer/unknown schema (the message says which and what to
  // do), kNotFound when missing and !create_if_missing.
  static Result<std::unique_ptr<Store>> Open(const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- Writing ----

  // Appends a batch (any issuers, each issuer's records in seq order) in one write transaction,
  // durable on return. Revocations update the subjects index in the same transaction; one whose
  // entry has not arrived is kept pending and applied when it does. Per-record outcomes are in
  // the result; only an I/O failure (kIo) fails the call, and then nothing was written.
  Result<AppendResult> Append(std::span<const VerifiedRecord> batch, int64_t now);

  // For an institution's own new records: inside one write transaction (so two admin processes
  // can never both sign seq N+1), calls make(head) with the issuer's current head (seq 0 when
  // the feed is empty) and appends whatever records it returns, which must extend the feed.
  // An error from make() aborts the transaction and is returned as is; a record the store
  // refuses as dated before the feed's last one (this clock stepped back) is kConflict.
  using MakeRecords = std::function<Result<std::vector<VerifiedRecord>>(const Head& head)>;
  Result<AppendResult> AppendOwn(const std::string& issuer, const MakeRecords& make, int64_t now);

  // Keeps two validly signed records of one (issuer, seq) as evidence of equivocation and freezes
  // that feed at seq (records before it are still taken), whether or not either is held, e.g.
  // when the evidence arrives from a peer. Returns false if evidence for that seq was held already.
  // kMalformed unless the two are different records of one issuer and seq.
  Result<bool> AddEvidence(const VerifiedRecord& a, const VerifiedRecord& b, int64_t now);

  // Applies a fork resolution: `kept` is the hash of the record at `seq` whose branch stays. A
  // held record at seq with another hash is set aside with every record after it (their entries
  // and revocations undone, the head moved back to seq - 1), the kept record is appended from the
  // evidence when it extends the feed, and a feed frozen by this fork is unfrozen (one frozen by a
  // later fork on the kept branch stays frozen). Kept beside the issuer's resolutions of other
  // forks (one per seq; one at the same seq is replaced); the caller verified the notice and
  // decided it is the newest. One write transaction.
  // kInvalidInput for seq 0, kIo for an LMDB failure (nothing written).
  Result<ResolveOutcome> ResolveFork(const std::string& issuer, uint64_t seq, const Hash256& kept,
                                     int64_t now);
  // The resolutions applied to `issuer`'s feed, one per resolved fork: (seq, kept hash), in seq
  // order.
  Result<std::vector<std::pair<uint64_t, Hash256>>> Resolutions(const std::string& issuer) const;
  // Records of `issuer` set aside from a losing branch, in seq order (evidence only).
  Result<std::vector<SignedRecord>> LosingRecords(const std::string& issuer) const;

  // Keeps a consortium-signed object (the CRL, …) under its name, replacing what was there. The
  // store knows nothing of its meaning: the caller verified it and decided it is the newest.
  Status PutObject(std::string_view name, std::string_view bytes);
  // The object of that name, or nullopt.
  Result<std::optional<std::string>> GetObject(std::string_view name) const;

  // The highest head of a feed that a peer has claimed (the daemon keeps it for its own feed):
  // a store restored from a backup is then known to be behind, and the admin tool refuses to
  // sign a second record at a seq the network already holds (a fork). Keeps the larger seq
  // (with its time, Unix seconds); a smaller or equal one changes nothing.
  Status NoteSeenHead(const std::string& issuer, uint64_t seq, int64_t now);
  // (seq, noted at), or nullopt when none is held (or the store predates the table).
  Result<std::optional<std::pair<uint64_t, int64_t>>> SeenHead(const std::string& issuer) const;
  // Forgets it: the claim was found false (its peer did not serve what it claimed).
  Status ClearSeenHead(const std::string& issuer);

  // A signing key withdrawn since a compromise time (a key-withdrawal notice the caller
  // verified and found newest): every entry of `issuer` that key signed at or after `since` is
  // suspended, now and as such records arrive; entries it signed before stay as they were. A
  // second call for the key replaces `since`, so entries between the two times are suspended or
  // lifted to match. Returns how many entries are suspended under this key afterwards. `now`
  // dates the alerts it raises (watch.cpp).
  Result<uint64_t> WithdrawKey(const Hash256& key_id, const std::string& issuer, int64_t since,
                               int64_t now);
  // The compromise time in force for a key, or nullopt when it is not withdrawn.
  Result<std::optional<int64_t>> WithdrawnSince(const Hash256& key_id) const;
  // Every object whose name starts with `prefix`, in name order: (name, bytes).
  Result<std::vector<std::pair<std::string, std::string>>> ObjectsWithPrefix(
      std::string_view prefix) const;

  // Releases the flood guard's hold on `issuer`'s entries of `day` (every held day when nullopt):
  // they are answered as listed from now on, and later entries of a released day are not held.
  // One write transaction. Returns how many entries it released (0 is not an error: a release
  // may arrive before the entries it covers). kIo (LMDB).
  Result<uint64_t> ReleaseHeld(const std::string& issuer, std::optional<uint32_t> day, int64_t now);
  // Every (issuer, day) with entries held now or released, in (issuer, day) order.
  Result<std::vector<HeldDay>> HeldDays() const;

  // ---- Re-screening (watch.cpp) ----

  // Adds (subject, ref) pairs to the watch list in one write transaction; a pair held already
  // is unchanged. Entries listed now about a newly watched subject are noted, so that their
  // expiry later raises a kCleared alert (screening them is a Lookup after this). kIo (LMDB).
  // kInvalidInput (nothing written) when an identifier would carry more than kMaxRefsPerSubject.
  // `before_commit`, when given, is called inside the transaction with what it is about to
  // commit: an error aborts it (nothing written) and is returned. duanka-admin audits there, so
  // a change is never committed unaudited (a transaction retried after growing the map calls it
  // again; an audit line may then be written for a change made once).
  using BeforeWatchCommit = std::function<Status(const WatchChange&)>;
  Result<WatchChange> Watch(std::span<const WatchItem> items, int64_t now,
                            const BeforeWatchCommit& before_commit = {});
  // Removes pairs; one not held is unchanged. kIo.
  Result<WatchChange> Unwatch(std::span<const WatchItem> items,
                              const BeforeWatchCommit& before_commit = {});
  // Saves a filter of the watch list as it is now, for every process that appends to read
  // instead of scanning the list (seconds at 10M subjects) before its first catch-up. A later
  // change to the list makes it stale (a scan again) until saved anew: duanka-admin watch saves it
  // after each run. kIo.
  Status SaveWatchFilter();
  // Pairs (identifier, ref) watched, whichever epochs' subjects they are held under. kIo.
  Result<uint64_t> WatchCount() const;
  // Raises a kCleared "expired" alert for each watched entry listed here whose expiry is at or
  // before `now` (entries do not change when they expire, so the daemon calls this on a timer).
  // Returns how many it raised. kIo.
  Result<uint64_t> SweepExpiredAlerts(int64_t now);
  // Up to `max` alerts with ids after `after`, in id order. kIo.
  Result<std::vector<Alert>> Alerts(uint64_t after, size_t max) const;
  // The newest alert's id (0: none yet). kIo.
  Result<uint64_t> LastAlertId() const;
  // A delivery's cursor (the webhook's, …): the last alert id it delivered, 0 when none. A
  // cursor only moves forward: SetAlertCursor keeps the larger id. kIo.
  Result<uint64_t> AlertCursor(std::string_view name) const;
  Status SetAlertCursor(std::string_view name, uint64_t delivered);

  // Keeps a signing certificate (DER) under its key id. Idempotent.
  Status PutCertificate(const Hash256& key_id, std::string_view der);

  // Reclaims reader slots of processes that died. Returns how many were cleared.
  Result<int> ReclaimStaleReaders();

  // ---- Reading ----

  // Appends to `out` every entry about each subject, in one read transaction (one descent per
  // subject; sort subjects first for the fastest batch).
  Status Lookup(std::span<const Hash256> subjects, const LookupOptions& options,
                std::vector<Listing>& out) const;

  // Read methods fail only with kIo (the message names the store and the LMDB reason).
  Result<std::vector<Head>> Heads() const;
  Result<std::optional<Head>> GetHead(const std::string& issuer) const;
  // Up to `count` records of `issuer` from seq `from` on, in order.
  Result<std::vector<SignedRecord>> Range(const std::string& issuer, uint64_t from,
                                          size_t count) const;
  Result<std::optional<SignedRecord>> Get(const EntryId& id) const;
  // The entry's current listing (state at `now`), or nullopt if no such entry is held.
  Result<std::optional<Listing>> GetListing(const EntryId& id, int64_t now) const;
  // GetListing for many entries in one read transaction (each record decoded once), in `ids`
  // order: what a caller checking a batch of entries needs to see one state of the store.
  Result<std::vector<std::optional<Listing>>> GetListings(std::span<const EntryId> ids,
                                                          int64_t now) const;
  // Every entry of `issuer` (or all issuers when empty), in feed order.
  Status ForEachListing(const std::string& issuer, int64_t now,
                        const std::function<void(const Listing&)>& visit) const;
  Result<std::vector<std::string>> Certificates() const;  // DER
  Result<std::vector<Evidence>> AllEvidence() const;
  // Counts per issuer; expired entries are counted by one pass over the subjects index.
  Result<Stats> GetStats(int64_t now) const;

  // For reports that count (duanka-admin stats), in one read transaction so that the figures
  // agree with each other: calls `entry` for every entry held, in subjects-index order (not feed
  // order), with its state at `now` (only the index is read: case_ref, pepper_epoch, revocation
  // and suspended_since stay empty); then `revocation` for every revocation applied (one per
  // entry withdrawn; `pending` false) and every one waiting for its entry (`pending` true).
  // One cursor pass over each of the three tables; no record is decoded. Visitors must not call
  // back into the store.
  using RevocationVisit =
      std::function<void(const EntryId& target, const RevocationInfo& info, bool pending)>;
  Status ScanIndex(int64_t now, const std::function<void(const Listing&)>& entry,
                   const RevocationVisit& revocation) const;

  // Opaque; defined in store/detail/store_impl.h.
  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace duanka::store
