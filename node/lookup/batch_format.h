// Batch results as text: one CSV or JSON line per input line, in input order (formats in
// node/lookup/README.md, "Batch output"). Never the identifier itself: lines are matched to the
// input by their number.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/common/risk.h"
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

// What grades a batch's JSON lines ("risk", node/common/risk.h): one policy for the whole batch.
struct BatchGrading {
  BatchGrading(const node::GradingPolicy& consortium, const node::GradingPolicy* local,
               node::Purpose purpose, int64_t now);
  const node::GradingPolicy& consortium;
  const node::GradingPolicy* local;
  node::Purpose purpose;
  int64_t now;
  // The "risk" object of a line without an active entry, the usual one: rendered once.
  std::string none_json;
};

// Appends the resolved chunk's result lines to `out` and returns their counts. With `flagged`, the
// listed and held lines are appended to it (each must leave its own audit line).
// JSON lines carry "risk" when `grading` is given.
BatchCounts FormatChunk(const Chunk& chunk, bool json, std::string& out,
                        std::vector<FlaggedLine>* flagged = nullptr,
                        const BatchGrading* grading = nullptr);

// The message for an invalid line (never containing the line).
std::string InvalidLineMessage(const Chunk& chunk, size_t index, size_t* next_error);

}  // namespace duanka::lookup
