// report --batch: what it writes. One result line per input line on stdout (text or JSON), the
// counts, and the progress bar's text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "node/admin/batch_report_parse.h"
#include "protocol/record.h"

namespace duanka::admin::batch {

// Appends the result line of `r` (ending in '\n') to `out`: "LINE,RESULT,ENTRY|REASON" or, with
// `json`, {"line":…,"result":…,"entry"|"reason":…}.
void AppendResult(std::string& out, const LineResult& r, bool json);

// 1234567 → "1,234,567".
std::string Grouped(uint64_t n);

struct Counts {
  uint64_t lines = 0;
  uint64_t published = 0;
  uint64_t already_listed = 0;
  uint64_t withdrawn = 0;
  uint64_t invalid = 0;
  std::optional<protocol::EntryId> first, last;
};

// The progress bar's text after `seconds` of the run: lines, outcomes and entries per second.
std::string ProgressText(const Counts& c, double seconds);

}  // namespace duanka::admin::batch
