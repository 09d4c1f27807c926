// The status of a node's store as JSON: the part `GET /v1/status` (duankad) and
// `duanka status --json` share, so that each shared key has one name and one meaning in both.
// Each program adds its own keys beside these: duankad its live state (consortium, peers, pepper,
// crl), duanka where it looked (home, store.path).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crypto/base/result.h"
#include "store/store.h"

namespace duanka::node {

// A fork held as evidence: the feed and the sequence number at which it split.
struct StatusFork {
  std::string issuer;
  uint64_t seq = 0;
};

struct StatusFacts {
  std::string institution;
  int64_t now = 0;  // Unix seconds, when the facts were read
  store::Stats stats;
  std::vector<store::Head> heads;
  std::vector<StatusFork> forks;
  uint32_t policy_version = 0;  // the consortium grading policy held (0: the built-in default)
  size_t local_rules = 0;       // [grading] rules of this node, set by the caller
};

// Reads the heads and the forks held beside `stats`, which the caller computes (duankad caches
// them: counting expired entries is a pass over the subjects index). The evidence is read only
// when stats.evidence says some is held.
Result<StatusFacts> ReadStatusFacts(const store::Store& store, std::string institution,
                                    store::Stats stats, int64_t now);

// {"institution", "now", "feeds": [{"issuer", "records", "entries", "active", "revoked",
// "expired", "revocations", "frozen", "last_grew_at", and when a head is held "seq", "head",
// "fork_seq" (frozen only)}], "totals": {...}, "pending_revocations", "evidence",
// "forks": [{"issuer", "seq"}], "grading": {"policy", "local_rules"}, "store": {"bytes_on_disk",
// "map_bytes"}, "store_bytes"}. "store_bytes" is duankad's earlier name for store.bytes_on_disk,
// kept for existing monitoring.
nlohmann::json StatusJson(const StatusFacts& facts);

}  // namespace duanka::node
