// Institution profiles: who an issuer is and where a listed person appeals to it. A profile is a
// record in the issuer's own feed (protocol::ProfileBody); the newest one wins. The store knows
// nothing of profiles beyond holding their records, so they are read here, from the feeds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/record.h"
#include "store/store.h"

namespace duanka::node {

struct IssuerProfile {
  protocol::EntryId id;  // the profile record
  int64_t issued_at = 0;
  protocol::ProfileBody body;
};

// By issuer code; an issuer that has published no profile is absent.
using IssuerProfiles = std::map<std::string, IssuerProfile>;

// Records read per store call while scanning a feed backwards for its newest profile.
inline constexpr size_t kProfileScanChunk = 256;

// Where a scan is kept between processes: one object per issuer in the store's objects table,
// "SEQ HASH PROFILE_SEQ" (the head the scan reached, its hash, the newest profile's seq or 0).
// Local to the node: bundles and peers carry only the consortium's objects (CRL, notices).
inline constexpr std::string_view kProfileScanObjectPrefix = "local-profile-scan:";
// SaveProfileScans writes an issuer's scan again once its feed has grown by this many records
// since the saved one (or its newest profile changed): a lookup CLI process, which cannot write,
// then reads at most about this many records to find a profile, and a growing feed costs the
// daemon one small write per this many records.
inline constexpr uint64_t kProfileScanSaveEvery = 512;

// Reads each issuer's newest profile by scanning its feed backwards from the head, starting from
// the scan saved in the store (SaveProfileScans) when there is one, and remembers the answer per
// (issuer, head) for the life of the process: a feed that has grown is scanned only over its new
// records; one whose scanned head was replaced (a fork resolution) is scanned again whole.
// A profile signed at or after its key's compromise time (a key withdrawal, design section 9) is
// no profile: a thief holding a member's key must not redirect that member's appeals. A remembered
// answer is checked against the withdrawals in force at every read, so a withdrawal that arrives
// later takes effect at once. Thread-safe; the store is read without the cache's lock held.
class ProfileReader {
 public:
  explicit ProfileReader(const store::Store& store) : store_(store) {}

  // kIo from the store.
  Result<std::optional<IssuerProfile>> Latest(const std::string& issuer) const;
  // The profiles of those of `issuers` that have one.
  Result<IssuerProfiles> ForIssuers(const std::vector<std::string>& issuers) const;

 private:
  // A profile passed over because its key was withdrawn since before it was signed: the answer
  // holds while that key's compromise time is unchanged.
  struct Skipped {
    crypto::Hash256 key_id;
    int64_t since = 0;
  };
  struct Scanned {
    uint64_t seq = 0;  // the head the scan reached
    crypto::Hash256 hash;
    std::optional<IssuerProfile> profile;
    crypto::Hash256 profile_key_id;  // the profile's signing key, when there is a profile
    std::vector<Skipped> skipped;    // newer than `profile`
  };
  // The scan saved in the store for `issuer`, if it is readable and still names a profile whose
  // key is not withdrawn.
  Result<std::optional<Scanned>> Saved(const std::string& issuer) const;
  friend Status SaveProfileScans(store::Store& store, const ProfileReader& reader,
                                 const std::vector<std::string>& issuers);
  // The newest usable profile among seqs [low, high] of the feed, newest first, into `out`
  // (profile, key and the withdrawn ones passed over).
  Status Scan(const std::string& issuer, uint64_t low, uint64_t high, Scanned& out) const;
  // Whether a remembered answer still holds under the withdrawals in force now.
  Result<bool> StillHolds(const Scanned& s) const;
  Result<Scanned> Read(const std::string& issuer, const store::Head& head,
                       std::optional<Scanned> known) const;

  const store::Store& store_;
  mutable std::mutex mu_;  // guards scanned_ only
  mutable std::map<std::string, Scanned> scanned_;
};

// Saves the scan of each of `issuers` (those whose feeds just grew) for later readers, when it
// has moved on by kProfileScanSaveEvery records or found another answer. The saved scan names the
// withdrawn keys whose profiles it passed over, with their compromise times, so a reader scans
// again when any of them changes. Also for a key withdrawal's issuer, once it is in force. For the
// writers of the store (duankad after an ingest, duanka-admin after it publishes or imports). kIo
// from the store.
Status SaveProfileScans(store::Store& store, const std::vector<std::string>& issuers);
// The same through a reader kept by the caller (over the same store) across calls: each feed is
// scanned from where this reader's last scan of it reached, when that is past the saved scan, so
// a writer that saves after every commit (duankad's ingest) reads only what each commit added
// instead of everything since the last save (up to kProfileScanSaveEvery records per commit).
Status SaveProfileScans(store::Store& store, const ProfileReader& reader,
                        const std::vector<std::string>& issuers);

// "BANKA (示例银行 / Example Bank)", or "BANKA" when it has published no profile. Control
// characters cannot occur: the record's checks refuse them.
std::string IssuerLabel(const std::string& issuer, const IssuerProfiles& profiles);

}  // namespace duanka::node
