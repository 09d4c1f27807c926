// Batch results as text: one CSV or JSON line per input line, in input order (formats in
// node/lookup/README.md, "Batch output"). Never the identifier itself: lines are matched to the
// input by their number.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/lookup/batch_chunk.h"

namespace duanka::lookup {

struct BatchCounts {
  uint64_t lines = 0;
  uint64_t listed = 0;
  uint64_t not_listed = 0;
  uint64_t invalid = 0;
  uint64_t held = 0;  // of not_listed, lines with an entry held by the flood guard
  BatchCounts& operator+=(const BatchCounts& o);
};

// A line that leaves its own audit line: listed, or held by the flood guard.
struct FlaggedLine {
  uint32_t index = 0;  // in the chunk
  bool held = false;
};

// Appends the resolved chunk's result lines to `out` and returns their counts. With `flagged`, the
// listed and held lines are appended to it (each must leave its own audit line).
BatchCounts FormatChunk(const Chunk& chunk, bool json, std::string& out,
                        std::vector<FlaggedLine>* flagged = nullptr);

// The message for an invalid line (never containing the line).
std::string InvalidLineMessage(const Chunk& chunk, size_t index, size_t* next_error);

}  // namespace duanka::lookup
