#include "node/lookup/batch_chunk.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <thread>

namespace duanka::lookup {
namespace {

// Marks a derived slot whose line turned out invalid; removed before sorting.
constexpr uint32_t kNoLine = std::numeric_limits<uint32_t>::max();

bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Subjects are HMAC outputs, uniform over their first eight bytes, so comparing those as one
// big-endian number decides nearly every comparison; the rest is compared only on a tie.
uint64_t Prefix(const crypto::Hash256& h) {
  uint64_t v;
  std::memcpy(&v, h.bytes.data(), sizeof v);
  return __builtin_bswap64(v);
}

bool SubjectLess(const crypto::Hash256& a, const crypto::Hash256& b) {
  const uint64_t pa = Prefix(a), pb = Prefix(b);
  if (pa != pb) return pa < pb;
  return std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) < 0;
}

}  // namespace

void Chunk::Clear() {
  text.clear();
  lines.clear();
  errors.clear();
  // `current` keeps its size: Derive() overwrites what it needs, and clearing would zero it again.
  listings.clear();
  hits.clear();
  profiles.clear();
}

void Chunk::Add(std::string_view line) {
  ChunkLine l;
  l.offset = static_cast<uint32_t>(text.size());
  l.length = static_cast<uint32_t>(line.size());
  text.append(line);
  lines.push_back(l);
}

void Chunk::AddTooLong() {
  ChunkLine l;
  l.offset = static_cast<uint32_t>(text.size());
  l.status = LineStatus::kTooLong;
  lines.push_back(l);
}

Deriver::Deriver(const crypto::Pepper& pepper, bool keep_current, unsigned threads)
    : pepper_(pepper), keep_current_(keep_current), threads_(threads) {
  epochs_.push_back(pepper.current_epoch());
  for (uint32_t e : pepper.epochs()) {
    if (e != pepper.current_epoch()) epochs_.push_back(e);
  }
}

void Deriver::DeriveRange(Chunk& chunk, size_t begin, size_t end,
                          std::vector<std::pair<uint32_t, std::string>>& errors,
                          std::vector<Keyed>& legacy) {
  const size_t per_line = epochs_.size();
  for (size_t i = begin; i < end; ++i) {
    ChunkLine& l = chunk.lines[i];
    Keyed* out = &keyed_[i * per_line];
    out[0].line = kNoLine;
    for (size_t e = 1; e < per_line; ++e) out[e].line = kNoLine;
    if (l.status != LineStatus::kPending) continue;
    const std::string_view text(chunk.text.data() + l.offset, l.length);
    if (Trim(text).empty()) {
      l.status = LineStatus::kEmpty;
      continue;
    }
    const size_t comma = text.find(',');
    if (comma == std::string_view::npos) {
      l.status = LineStatus::kNoComma;
      continue;
    }
    const std::optional<protocol::IdType> type = protocol::ParseIdType(Trim(text.substr(0, comma)));
    if (!type) {
      l.status = LineStatus::kUnknownType;
      continue;
    }
    l.type = *type;
    Result<std::string> canonical = protocol::Canonicalize(*type, text.substr(comma + 1));
    if (!canonical) {
      l.status = LineStatus::kInvalidValue;
      errors.emplace_back(static_cast<uint32_t>(i), std::move(canonical).error().message);
      continue;
    }
    const std::string_view tag = protocol::IdTypeName(*type);
    for (size_t e = 0; e < per_line; ++e) {
      out[e].subject = pepper_.Subject(epochs_[e], tag, *canonical);
      out[e].line = static_cast<uint32_t>(i);
    }
    if (keep_current_) chunk.current[i] = out[0].subject;
    // As node::Lookuper::Subjects: entries listed under the old form of a succeeded type.
    if (const std::optional<protocol::LegacyForm> old = protocol::LegacyFormOf(*type, *canonical)) {
      const std::string_view old_tag = protocol::IdTypeName(old->type);
      for (uint32_t epoch : epochs_) {
        legacy.push_back(
            {pepper_.Subject(epoch, old_tag, old->canonical), static_cast<uint32_t>(i)});
      }
    }
    l.status = LineStatus::kValid;
  }
}

void Deriver::Derive(Chunk& chunk) {
  const size_t n = chunk.lines.size();
  keyed_.resize(n * epochs_.size());
  legacy_.clear();
  if (keep_current_) chunk.current.resize(n);
  chunk.errors.clear();
  if (threads_ >= 2 && n >= kMinLinesForTwoThreads) {
    // Two halves on two threads; each writes only its own lines' slots.
    const size_t mid = n / 2;
    std::vector<std::pair<uint32_t, std::string>> second_errors;
    std::vector<Keyed> second_legacy;
    std::thread second([&] { DeriveRange(chunk, mid, n, second_errors, second_legacy); });
    DeriveRange(chunk, 0, mid, chunk.errors, legacy_);
    second.join();
    for (auto& e : second_errors) chunk.errors.push_back(std::move(e));
    legacy_.insert(legacy_.end(), second_legacy.begin(), second_legacy.end());
  } else {
    DeriveRange(chunk, 0, n, chunk.errors, legacy_);
  }
  // Resolve maps every slot back to its line, so the extra slots need no place of their own.
  keyed_.insert(keyed_.end(), legacy_.begin(), legacy_.end());
}

void Resolver::Sort(std::vector<Deriver::Keyed>& keyed) {
  // Subjects are uniform, so one counting pass on their first 16 bits leaves buckets of a few
  // keys each (kBatchChunkLines / 65536 on average), finished by insertion sort: about half the
  // time std::sort takes on a chunk. Slots of invalid lines (kNoLine) are dropped here.
  constexpr size_t kBuckets = size_t{1} << 16;
  auto bucket = [](const Deriver::Keyed& k) {
    return (size_t{k.subject.bytes[0]} << 8) | k.subject.bytes[1];
  };
  starts_.assign(kBuckets + 1, 0);
  for (const Deriver::Keyed& k : keyed) {
    if (k.line != kNoLine) ++starts_[bucket(k) + 1];
  }
  for (size_t b = 0; b < kBuckets; ++b) starts_[b + 1] += starts_[b];
  sorted_.resize(starts_[kBuckets]);
  next_.assign(starts_.begin(), starts_.end() - 1);
  for (const Deriver::Keyed& k : keyed) {
    if (k.line != kNoLine) sorted_[next_[bucket(k)]++] = k;
  }
  // Buckets are tiny unless someone chose identifiers by their subjects (that takes the
  // pepper): then std::sort keeps the worst case at n log n.
  constexpr ptrdiff_t kInsertionSortMax = 32;
  const auto less = [](const Deriver::Keyed& a, const Deriver::Keyed& b) {
    return SubjectLess(a.subject, b.subject);
  };
  for (size_t b = 0; b < kBuckets; ++b) {
    auto first = sorted_.begin() + starts_[b], last = sorted_.begin() + starts_[b + 1];
    if (last - first > kInsertionSortMax) {
      std::sort(first, last, less);
      continue;
    }
    for (auto i = first + (first != last ? 1 : 0); i < last; ++i) {
      Deriver::Keyed moving = *i;
      auto j = i;
      for (; j > first && less(moving, *(j - 1)); --j) *j = *(j - 1);
      *j = moving;
    }
  }
  keyed.swap(sorted_);
}

duanka::Status Resolver::Resolve(const store::Store& store, int64_t now,
                                 std::vector<Deriver::Keyed>& keyed, Chunk& chunk) {
  Sort(keyed);
  // Lines with equal identifiers share one read.
  subjects_.clear();
  for (const Deriver::Keyed& k : keyed) {
    if (subjects_.empty() || subjects_.back() != k.subject) subjects_.push_back(k.subject);
  }
  chunk.listings.clear();
  duanka::Status read = store.Lookup(subjects_, store::LookupOptions{now, false}, chunk.listings);
  if (!read) return read;
  // Listings come in the order of the subjects asked for, which is the order of `keyed`.
  chunk.hits.clear();
  size_t i = 0;
  for (size_t li = 0; li < chunk.listings.size(); ++li) {
    const crypto::Hash256& s = chunk.listings[li].subject;
    while (i < keyed.size() && SubjectLess(keyed[i].subject, s)) ++i;
    for (size_t j = i; j < keyed.size() && keyed[j].subject == s; ++j) {
      chunk.hits.emplace_back(keyed[j].line, static_cast<uint32_t>(li));
    }
  }
  std::sort(chunk.hits.begin(), chunk.hits.end());
  return Ok();
}

}  // namespace duanka::lookup
