// One chunk of a batch lookup: up to kBatchChunkLines input lines, their subjects derived (on two
// threads), sorted and read from the store in key order in one read transaction, and the
// listings found mapped back to the lines. Formatting is batch_format.h's job.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"
#include "node/common/profile.h"
#include "protocol/identifier.h"
#include "store/store.h"

namespace duanka::lookup {

// Lines per chunk: each chunk is one read transaction and holds ~150 bytes per line in memory
// (text, subjects, sort keys), so this bounds memory to about 40 MiB however long the input is,
// while keeping enough keys per transaction for sorted reads to share B-tree pages.
inline constexpr size_t kBatchChunkLines = size_t{1} << 18;

// Below this many lines a second derivation thread costs more to start than it saves.
inline constexpr size_t kMinLinesForTwoThreads = 8192;

enum class LineStatus : uint8_t {
  kPending,       // read, not yet derived
  kValid,         // subjects derived
  kTooLong,       // longer than node::kMaxBatchLineBytes
  kEmpty,         // nothing (or only spaces) on the line
  kNoComma,       // not TYPE,VALUE
  kUnknownType,   // TYPE is not an identifier type
  kInvalidValue,  // VALUE refused by the canonical-form rules (message kept)
};

struct ChunkLine {
  uint32_t offset = 0;  // into Chunk::text
  uint32_t length = 0;
  LineStatus status = LineStatus::kPending;
  protocol::IdType type = protocol::IdType::kCnId;  // when kValid or kInvalidValue
};

struct Chunk {
  uint64_t first_line = 1;  // 1-based number of lines[0] in the whole input
  std::string text;         // the lines' bytes, back to back
  std::vector<ChunkLine> lines;

  // Filled by Derive():
  std::vector<std::pair<uint32_t, std::string>> errors;  // line index → message, ascending
  std::vector<crypto::Hash256> current;                  // per line, when keep_current

  // Filled by Resolve():
  std::vector<store::Listing> listings;
  std::vector<std::pair<uint32_t, uint32_t>> hits;  // (line index, listing index), ascending
  // For JSON output: the profiles of the listings' issuers that have one (node/common/profile.h).
  node::IssuerProfiles profiles;

  void Clear();
  void Add(std::string_view line);
  void AddTooLong();
};

// Parses every pending line as TYPE,VALUE, canonicalises it and derives its subject under every
// pepper epoch (`threads` ≤ 2 threads). With keep_current, Chunk::current gets each valid line's
// subject under the current epoch (for JSON output, and for the audit lines of listed lines).
class Deriver {
 public:
  Deriver(const crypto::Pepper& pepper, bool keep_current, unsigned threads);
  void Derive(Chunk& chunk);

  // The subjects of the last Derive, as (subject, line index), E slots per line (E epochs);
  // slots of invalid lines hold a line index of UINT32_MAX. After them, E more for each line whose
  // type succeeded another (passport-icao): its old form's subjects. Resolve sorts them in place.
  struct Keyed {
    crypto::Hash256 subject;
    uint32_t line;
  };
  std::vector<Keyed>& keyed() { return keyed_; }

 private:
  void DeriveRange(Chunk& chunk, size_t begin, size_t end,
                   std::vector<std::pair<uint32_t, std::string>>& errors,
                   std::vector<Keyed>& legacy);

  const crypto::Pepper& pepper_;
  std::vector<uint32_t> epochs_;  // current first, as node::Lookuper::Subjects orders them
  bool keep_current_;
  unsigned threads_;
  std::vector<Keyed> keyed_;
  std::vector<Keyed> legacy_;  // the old-form slots, appended to keyed_ after deriving
};

// Sorts the derived subjects, reads them in key order in one read transaction and fills
// chunk.listings and chunk.hits. Keeps its buffers between chunks.
class Resolver {
 public:
  // kIo from the store.
  duanka::Status Resolve(const store::Store& store, int64_t now, std::vector<Deriver::Keyed>& keyed,
                         Chunk& chunk);

 private:
  // Sorts by subject (bytewise, as LMDB orders keys).
  void Sort(std::vector<Deriver::Keyed>& keyed);

  std::vector<crypto::Hash256> subjects_;  // sorted, unique
  std::vector<Deriver::Keyed> sorted_;     // Sort's output buffer, swapped with its input
  std::vector<uint32_t> starts_;           // bucket boundaries
  std::vector<uint32_t> next_;             // scatter positions
};

}  // namespace duanka::lookup
