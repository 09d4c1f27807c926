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
// Thread-safe.
class ProfileReader {
 public:
  explicit ProfileReader(const store::Store& store) : store_(store) {}

  // kIo from the store.
  Result<std::optional<IssuerProfile>> Latest(const std::string& issuer) const;
  // The profiles of those of `issuers` that have one.
  Result<IssuerProfiles> ForIssuers(const std::vector<std::string>& issuers) const;

 private:
  struct Scanned {
    uint64_t seq = 0;  // the head the scan reached
    crypto::Hash256 hash;
    std::optional<IssuerProfile> profile;
  };
  // The scan saved in the store for `issuer`, if it is readable and still names a profile.
  Result<std::optional<Scanned>> Saved(const std::string& issuer) const;
  friend Status SaveProfileScans(store::Store& store, const std::vector<std::string>& issuers);
  // The newest profile among seqs [low, high] of the feed, newest first.
  Result<std::optional<IssuerProfile>> Scan(const std::string& issuer, uint64_t low,
                                            uint64_t high) const;

  const store::Store& store_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Scanned> scanned_;
};

// Saves the scan of each of `issuers` (those whose feeds just grew) for later readers, when it
// has moved on by kProfileScanSaveEvery records or found a newer profile. For the writers of the
// store (duankad after an ingest, duanka-admin after it publishes or imports). kIo from the store.
Status SaveProfileScans(store::Store& store, const std::vector<std::string>& issuers);

// "BANKA (示例银行 / Example Bank)", or "BANKA" when it has published no profile. Control
// characters cannot occur: the record's checks refuse them.
std::string IssuerLabel(const std::string& issuer, const IssuerProfiles& profiles);

}  // namespace duanka::node
