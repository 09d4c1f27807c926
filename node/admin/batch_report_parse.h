// report --batch: one input line, TYPE,VALUE,CATEGORY[,BASIS[,CASE_REF[,EXPIRES]]], parsed,
// canonicalised and turned into the subjects it lists; and the result each line gets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/record.h"

namespace duanka::admin::batch {

// A valid line, waiting to be published.
struct Pending {
  uint64_t line = 0;
  protocol::EntryBody entry;  // expires_at == 0: the basis's default, from the issue time
  // The subject under each older epoch the pepper still holds (none before a first rotation), so
  // that a listing withdrawn under an old epoch stays withdrawn when the list is re-published
  // under the new one.
  std::vector<crypto::Hash256> earlier_subjects;
};

enum class Outcome : uint8_t { kPublished, kAlreadyListed, kWithdrawn, kInvalid };

// The word on the result line: "published", "already-listed", "withdrawn", "invalid".
const char* OutcomeName(Outcome o);

struct LineResult {
  uint64_t line = 0;
  Outcome outcome = Outcome::kInvalid;
  protocol::EntryId entry;  // published: the new entry; already listed / withdrawn: the held one
  std::string reason;       // invalid: why (never the value)
};

class LineParser {
 public:
  LineParser(const crypto::Pepper& pepper, int64_t now);

  // Fills `pending` (true) or `invalid` (false, with the reason); nullopt for a line that is
  // not data (blank, or the header).
  std::optional<bool> Parse(uint64_t number, std::string_view line, Pending& pending,
                            LineResult& invalid);

 private:
  const crypto::Pepper& pepper_;
  int64_t now_;
  std::vector<uint32_t> earlier_epochs_;
  std::vector<std::string> fields_;
};

}  // namespace duanka::admin::batch
