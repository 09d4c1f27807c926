// Private to store/: the byte layout of keys and values in each table (store/README.md). Integers
// are big-endian so that LMDB's bytewise order is numeric order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace duanka::store::detail {

// Table names, as LMDB named databases.
inline constexpr const char* kMetaTable = "meta";
inline constexpr const char* kHeadsTable = "heads";           // issuer code → HeadValue
inline constexpr const char* kIssuerIdsTable = "issuer_ids";  // u32 id → issuer code
inline constexpr const char* kRecordsTable = "records";       // id ‖ seq → bytes ‖ signature
inline constexpr const char* kSubjectsTable = "subjects";     // subject → SubjectValue (dups)
inline constexpr const char* kRevokedTable = "revoked";       // code ‖ 0 ‖ seq → RevokedValue
inline constexpr const char* kPendingTable = "pending";  // code ‖ 0 ‖ seq → RevokedValue (dups)
inline constexpr const char* kCertsTable = "certs";      // key id → DER
inline constexpr const char* kEvidenceTable = "evidence";  // id ‖ seq → bytes ‖ signature
// Consortium-signed objects (the CRL, …), as the node layer verified them: name → bytes.
inline constexpr const char* kObjectsTable = "objects";
// Signing keys withdrawn since a compromise time: key id → i64 since ‖ issuer code.
inline constexpr const char* kWithdrawnTable = "withdrawn";
// Fork resolutions applied, one per resolved fork: code ‖ 0 ‖ u64 seq → u64 seq ‖ 32-byte kept
// hash.
inline constexpr const char* kResolvedTable = "resolved";
// Records of a losing fork branch, set aside as evidence only: id ‖ seq → bytes ‖ signature.
inline constexpr const char* kLosingTable = "losing";
// The highest head of a feed that a peer has claimed (own feed only): code → u64 seq ‖ i64 at.
inline constexpr const char* kSeenHeadsTable = "seen_heads";
// The flood guard (store/hold.cpp): entries taken per issuer and issue day, code ‖ 0 ‖ u32 day →
// u64 count; the entries held, code ‖ 0 ‖ u32 day ‖ u64 seq → 32-byte subject; the days released,
// code ‖ 0 ‖ u32 day → i64 released at.
inline constexpr const char* kDayCountsTable = "day_counts";
inline constexpr const char* kHeldTable = "held";
inline constexpr const char* kReleasedTable = "released";
// Re-screening (store/watch.cpp): the watch list, subject → ref (dups, sorted); the alert log,
// u64 alert id → AlertValue (store/watch.cpp); and the listings a watched subject has been
// alerted (or screened) as listed and not yet cleared, keyed for the expiry sweep:
// i64 expires_at ‖ u32 issuer id ‖ u64 seq → 32-byte subject.
inline constexpr const char* kWatchTable = "watch";
inline constexpr const char* kAlertsTable = "alerts";
inline constexpr const char* kWatchedListingsTable = "watched_listings";
inline constexpr unsigned kTableCount = 20;

inline constexpr std::string_view kSchemaKey = "schema";
inline constexpr std::string_view kNextIssuerIdKey = "next_issuer_id";
inline constexpr std::string_view kWatchPairsKey = "watch_pairs";  // u64
// Bumped by every write to the watch table, so that a process's in-memory filter of it
// (Store::Impl::WatchFilter) knows when it is stale, whichever process wrote.
inline constexpr std::string_view kWatchGenerationKey = "watch_generation";  // u64
// The watch filter as the last writer of the list saved it (Store::SaveWatchFilter): u64
// generation ‖ u64 words ‖ the bits (host order: it is a cache, read on the machine that wrote it).
inline constexpr std::string_view kWatchFilterKey = "watch_filter";
inline constexpr std::string_view kAlertCursorKeyPrefix = "alert_cursor:";  // ‖ name → u64

void PutU32(char* p, uint32_t v);
void PutU64(char* p, uint64_t v);
uint32_t GetU32(const char* p);
uint64_t GetU64(const char* p);

// A feed's state. Fixed size; unknown trailing bytes are kept for forward compatibility.
struct HeadValue {
  uint32_t issuer_id = 0;
  uint64_t seq = 0;
  Hash256 hash;
  bool frozen = false;
  uint64_t fork_seq = 0;
  int64_t last_grew_at = 0;
  uint64_t records = 0;
  uint64_t entries = 0;
  uint64_t revocations = 0;
  uint64_t revoked_entries = 0;

  static constexpr size_t kSize = 4 + 8 + 32 + 1 + 8 + 8 + 8 + 8 + 8 + 8;
  std::string Encode() const;
  static std::optional<HeadValue> Decode(std::string_view bytes);
};

// One entry about a subject: 32 bytes, so that every subject's duplicates are DUPFIXED and a
// lookup reads them from the leaf it lands on. Sorted by (issuer id, seq).
struct SubjectValue {
  uint32_t issuer_id = 0;
  uint64_t seq = 0;
  uint8_t id_type = 0;
  uint8_t category = 0;
  uint8_t basis = 0;
  uint8_t flags = 0;  // kRevokedFlag | kSuspendedFlag | kHeldFlag
  int64_t expires_at = 0;
  int64_t issued_at = 0;

  static constexpr uint8_t kRevokedFlag = 1;
  static constexpr uint8_t kSuspendedFlag = 2;  // signed by a withdrawn key since its compromise
  static constexpr uint8_t kHeldFlag = 4;       // beyond its issuer's daily limit, not released
  static constexpr size_t kSize = 32;
  std::array<char, kSize> Encode() const;
  static SubjectValue Decode(const char* p);  // REQUIRES: kSize bytes
};

// A revocation applied to (or waiting for) an entry.
struct RevokedValue {
  std::string by_issuer;
  uint64_t by_seq = 0;
  uint8_t reason = 0;
  int64_t revoked_at = 0;

  std::string Encode() const;
  static std::optional<RevokedValue> Decode(std::string_view bytes);
};

// A fork resolution applied to a feed: the fork's seq and the hash of the record kept there.
struct ResolvedValue {
  uint64_t seq = 0;
  Hash256 kept;

  static constexpr size_t kSize = 8 + 32;
  std::string Encode() const;
  static std::optional<ResolvedValue> Decode(std::string_view bytes);
};

// id ‖ seq: the records and evidence tables' key.
std::array<char, 12> RecordKey(uint32_t issuer_id, uint64_t seq);
// code ‖ 0x00 ‖ seq: keys of entries that may not be held yet (their issuer may have no id).
std::string EntryKey(const std::string& issuer, uint64_t seq);
// code ‖ 0x00 ‖ u32 day: the flood guard's per-day keys; HeldKey appends u64 seq.
std::string DayKey(const std::string& issuer, uint32_t day);
std::string HeldKey(const std::string& issuer, uint32_t day, uint64_t seq);

// A stored signed record (records, losing, evidence): kPackedRecordTag ‖ the canonical bytes
// packed (protocol::PackRecordBytes) ‖ 64-byte signature. Schema 1 stored the canonical bytes as
// they are; those begin with a zero byte (the root pointer's offset is 0 in canonical form), and
// DecodeSignedRecord reads both.
inline constexpr uint8_t kRawRecordTag = 0x00;
inline constexpr uint8_t kPackedRecordTag = 0x01;
std::string EncodeSignedRecord(const SignedRecord& record);
std::optional<SignedRecord> DecodeSignedRecord(std::string_view bytes);

// The evidence table's value: u32 length of the first encoded record, then both records.
std::string EncodeEvidence(const SignedRecord& first, const SignedRecord& second);
std::optional<Evidence> DecodeEvidence(std::string_view bytes);

}  // namespace duanka::store::detail
