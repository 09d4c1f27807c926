#include "node/lookup/batch_format.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "node/common/audit.h"
#include "node/common/line_reader.h"
#include "node/common/lookup.h"
#include "node/lookup/text.h"

namespace duanka::lookup {
namespace {

constexpr std::string_view kExpectedLine = "expected TYPE,VALUE, e.g. phone,13800138000";

void AppendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void AppendHex(std::string& out, const crypto::Hash256& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[64];
  for (size_t i = 0; i < h.bytes.size(); ++i) {
    buf[2 * i] = kDigits[h.bytes[i] >> 4];
    buf[2 * i + 1] = kDigits[h.bytes[i] & 15];
  }
  out.append(buf, sizeof buf);
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
void AppendCsvField(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

bool IsActive(const store::Listing& l) {
  return l.state == store::EntryState::kActive;
}

// The entries a line's answer names: the active ones; when there are none, the held ones.
bool Shown(const store::Listing& l, bool listed) {
  return listed ? IsActive(l) : l.state == store::EntryState::kHeld;
}

void CsvValid(std::string& out, uint64_t number, const ChunkLine& line, const Chunk& chunk,
              size_t hits_begin, size_t hits_end, bool listed, bool held) {
  AppendNumber(out, number);
  out += ',';
  out += protocol::IdTypeName(line.type);
  out += listed ? ",listed," : held ? ",held," : ",not-listed,";
  // Four parallel lists of the entries shown (Shown), ';'-separated: ids, categories, bases,
  // expiries.
  for (int column = 0; column < 4; ++column) {
    bool first = true;
    for (size_t h = hits_begin; h < hits_end; ++h) {
      const store::Listing& l = chunk.listings[chunk.hits[h].second];
      if (!Shown(l, listed)) continue;
      if (!first) out += ';';
      first = false;
      switch (column) {
        case 0:
          out += l.id.ToString();
          break;
        case 1:
          out += protocol::CategoryName(l.category);
          break;
        case 2:
          out += protocol::BasisName(l.basis);
          break;
        case 3:
          out += node::IsoTime(l.expires_at);
          break;
      }
    }
    out += ',';
  }
  out += '\n';  // the error column is empty
}

void AppendRisk(std::string& out, const Chunk& chunk, size_t hits_begin, size_t hits_end,
                bool listed, const BatchGrading& grading) {
  out += ",\"risk\":";
  if (!listed) {
    out += grading.none_json;
    return;
  }
  // Listed lines are rare in a batch: a copy of their few entries costs nothing that matters.
  std::vector<store::Listing> entries;
  entries.reserve(hits_end - hits_begin);
  for (size_t h = hits_begin; h < hits_end; ++h) {
    entries.push_back(chunk.listings[chunk.hits[h].second]);
  }
  out += node::RiskObject(node::Summarize(entries, grading.now, grading.consortium, grading.local,
                                          grading.purpose))
             .dump();
}

void JsonValid(std::string& out, uint64_t number, const ChunkLine& line, const Chunk& chunk,
               size_t index, size_t hits_begin, size_t hits_end, bool listed, bool held,
               const BatchGrading* grading) {
  // The same object as node::AnswerJson (keys in its order), with "line" first.
  out += "{\"line\":";
  AppendNumber(out, number);
  out += ",\"entries\":[";
  bool first = true;
  for (size_t h = hits_begin; h < hits_end; ++h) {
    const store::Listing& l = chunk.listings[chunk.hits[h].second];
    if (!store::Stands(l.state)) continue;
    if (!first) out += ',';
    first = false;
    out += node::ListingJson(l, &chunk.profiles);
  }
  out += listed ? "],\"listed\":true,\"held\":false"
         : held ? "],\"listed\":false,\"held\":true"
                : "],\"listed\":false,\"held\":false";
  if (grading != nullptr) AppendRisk(out, chunk, hits_begin, hits_end, listed, *grading);
  out += ",\"subject\":\"";
  AppendHex(out, chunk.current[index]);
  out += "\",\"type\":\"";
  out += protocol::IdTypeName(line.type);
  out += "\"}\n";
}

void Invalid(std::string& out, uint64_t number, const ChunkLine& line, const std::string& message,
             bool json) {
  const bool typed = line.status == LineStatus::kInvalidValue;
  if (json) {
    out += "{\"line\":";
    AppendNumber(out, number);
    out += ",\"error\":";
    out += nlohmann::json(message).dump();
    out += ",\"listed\":false,\"held\":false,\"type\":";
    if (typed) {
      out += '"';
      out += protocol::IdTypeName(line.type);
      out += '"';
    } else {
      out += "null";
    }
    out += "}\n";
    return;
  }
  AppendNumber(out, number);
  out += ',';
  if (typed) out += protocol::IdTypeName(line.type);
  out += ",invalid,,,,,";
  AppendCsvField(out, message);
  out += '\n';
}

}  // namespace

BatchCounts& BatchCounts::operator+=(const BatchCounts& o) {
  lines += o.lines;
  listed += o.listed;
  not_listed += o.not_listed;
  invalid += o.invalid;
  held += o.held;
  return *this;
}

std::string InvalidLineMessage(const Chunk& chunk, size_t index, size_t* next_error) {
  const std::string expected(kExpectedLine);
  switch (chunk.lines[index].status) {
    case LineStatus::kTooLong:
      return "line: longer than " + std::to_string(node::kMaxBatchLineBytes) + " bytes; " +
             expected;
    case LineStatus::kEmpty:
      return "line: empty; " + expected;
    case LineStatus::kNoComma:
      return "line: no comma; " + expected;
    case LineStatus::kUnknownType:
      return "line: unknown identifier type; expected one of " + TypeNames();
    case LineStatus::kInvalidValue: {
      // errors are in line order, so one cursor walks them as lines are formatted.
      while (*next_error < chunk.errors.size() && chunk.errors[*next_error].first < index) {
        ++*next_error;
      }
      if (*next_error < chunk.errors.size() && chunk.errors[*next_error].first == index) {
        return chunk.errors[*next_error].second;
      }
      return "line: invalid identifier; " + expected;
    }
    default:
      return "line: not processed; " + expected;
  }
}

BatchGrading::BatchGrading(const node::GradingPolicy& consortium_policy,
                           const node::GradingPolicy* local_policy, node::Purpose lookup_purpose,
                           int64_t at)
    : consortium(consortium_policy),
      local(local_policy),
      purpose(lookup_purpose),
      now(at),
      none_json(
          node::RiskObject(node::Summarize({}, at, consortium_policy, local_policy, lookup_purpose))
              .dump()) {}

BatchCounts FormatChunk(const Chunk& chunk, bool json, std::string& out,
                        std::vector<FlaggedLine>* flagged, const BatchGrading* grading) {
  BatchCounts counts;
  counts.lines = chunk.lines.size();
  size_t h = 0, next_error = 0;
  for (size_t i = 0; i < chunk.lines.size(); ++i) {
    const ChunkLine& line = chunk.lines[i];
    const uint64_t number = chunk.first_line + i;
    if (line.status != LineStatus::kValid) {
      ++counts.invalid;
      Invalid(out, number, line, InvalidLineMessage(chunk, i, &next_error), json);
      continue;
    }
    while (h < chunk.hits.size() && chunk.hits[h].first < i) ++h;
    size_t end = h;
    bool listed = false, any_held = false;
    while (end < chunk.hits.size() && chunk.hits[end].first == i) {
      const store::Listing& l = chunk.listings[chunk.hits[end].second];
      listed = listed || IsActive(l);
      any_held = any_held || l.state == store::EntryState::kHeld;
      ++end;
    }
    const bool held = !listed && any_held;
    ++(listed ? counts.listed : counts.not_listed);
    if (held) ++counts.held;
    if ((listed || held) && flagged != nullptr) {
      flagged->push_back(FlaggedLine{static_cast<uint32_t>(i), held});
    }
    if (json) {
      JsonValid(out, number, line, chunk, i, h, end, listed, held, grading);
    } else {
      CsvValid(out, number, line, chunk, h, end, listed, held);
    }
    h = end;
  }
  return counts;
}

}  // namespace duanka::lookup
