#include "node/common/profile.h"

#include <algorithm>
#include <charconv>

namespace duanka::node {

Status ProfileReader::Scan(const std::string& issuer, uint64_t low, uint64_t high,
                           Scanned& out) const {
  while (high >= low && high > 0) {
    const uint64_t from = high - low + 1 > kProfileScanChunk ? high - kProfileScanChunk + 1 : low;
    Result<std::vector<protocol::SignedRecord>> records =
        store_.Range(issuer, from, static_cast<size_t>(high - from + 1));
    if (!records) return std::move(records).error();
    for (auto it = records->rbegin(); it != records->rend(); ++it) {
      // Stored records were verified on the way in; one that no longer decodes is no profile.
      // Most records are entries: only a profile is worth decoding in full.
      if (!protocol::IsProfileRecord(it->bytes)) continue;
      Result<protocol::Record> r = protocol::DecodeRecord(it->bytes);
      if (!r || r->seq > high || r->profile() == nullptr) continue;
      Result<std::optional<int64_t>> since = store_.WithdrawnSince(r->signer_key_id);
      if (!since) return std::move(since).error();
      if (*since && r->issued_at >= **since) {
        out.skipped.push_back(Skipped{r->signer_key_id, **since});
        continue;
      }
      out.profile = IssuerProfile{r->id(), r->issued_at, *r->profile()};
      out.profile_key_id = r->signer_key_id;
      return Ok();
    }
    if (from == low) break;
    high = from - 1;
  }
  return Ok();
}

namespace {

bool ParseU64(std::string_view s, uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool ParseI64(std::string_view s, int64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool ParseHash(std::string_view hex, crypto::Hash256& out) {
  std::optional<crypto::Bytes> bytes = crypto::FromHex(hex);
  if (!bytes || bytes->size() != out.bytes.size()) return false;
  std::copy(bytes->begin(), bytes->end(), out.bytes.begin());
  return true;
}

std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    words.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return words;
}

std::string ScanObjectName(const std::string& issuer) {
  return std::string(kProfileScanObjectPrefix) + issuer;
}

}  // namespace

Result<std::optional<ProfileReader::Scanned>> ProfileReader::Saved(
    const std::string& issuer) const {
  Result<std::optional<std::string>> object = store_.GetObject(ScanObjectName(issuer));
  if (!object) return std::move(object).error();
  std::optional<Scanned> none;
  if (!*object) return none;
  // "SEQ HASH PROFILE_SEQ [KEY_ID:SINCE]..."; anything else is ignored (the scan is redone and
  // saved again).
  const std::vector<std::string_view> words = Words(**object);
  Scanned s;
  uint64_t profile_seq = 0;
  if (words.size() < 3 || !ParseU64(words[0], s.seq) || !ParseHash(words[1], s.hash) ||
      !ParseU64(words[2], profile_seq) || profile_seq > s.seq) {
    return none;
  }
  for (size_t i = 3; i < words.size(); ++i) {
    const size_t colon = words[i].find(':');
    Skipped k;
    if (colon == std::string_view::npos || !ParseHash(words[i].substr(0, colon), k.key_id) ||
        !ParseI64(words[i].substr(colon + 1), k.since)) {
      return none;
    }
    s.skipped.push_back(k);
  }
  if (profile_seq != 0) {
    Result<std::optional<protocol::SignedRecord>> held =
        store_.Get(protocol::EntryId{issuer, profile_seq});
    if (!held) return std::move(held).error();
    if (!*held) return none;
    Result<protocol::Record> r = protocol::DecodeRecord((*held)->bytes);
    if (!r || r->profile() == nullptr) return none;
    s.profile = IssuerProfile{r->id(), r->issued_at, *r->profile()};
    s.profile_key_id = r->signer_key_id;
  }
  return std::optional<Scanned>(std::move(s));
}

Result<bool> ProfileReader::StillHolds(const Scanned& s) const {
  if (s.profile) {
    Result<std::optional<int64_t>> since = store_.WithdrawnSince(s.profile_key_id);
    if (!since) return std::move(since).error();
    if (*since && s.profile->issued_at >= **since) return false;
  }
  for (const Skipped& k : s.skipped) {
    Result<std::optional<int64_t>> since = store_.WithdrawnSince(k.key_id);
    if (!since) return std::move(since).error();
    if (!*since || **since != k.since) return false;
  }
  return true;
}

Result<ProfileReader::Scanned> ProfileReader::Read(const std::string& issuer, const store::Head& h,
                                                   std::optional<Scanned> known) const {
  uint64_t low = 1;
  if (known && known->seq <= h.seq) {
    // What was scanned still holds if the record the scan reached is unchanged (a fork
    // resolution may have replaced it) and no withdrawal since touched its answer.
    bool unchanged = known->seq == h.seq && known->hash == h.hash;
    if (!unchanged && known->seq < h.seq) {
      Result<std::vector<protocol::SignedRecord>> reached = store_.Range(issuer, known->seq, 1);
      if (!reached) return std::move(reached).error();
      unchanged = reached->size() == 1 && protocol::RecordHash(reached->front()) == known->hash;
    }
    if (unchanged) {
      Result<bool> holds = StillHolds(*known);
      if (!holds) return std::move(holds).error();
      unchanged = *holds;
    }
    if (unchanged) {
      low = known->seq + 1;
    } else {
      known.reset();
    }
  } else {
    known.reset();
  }
  Scanned out;
  out.seq = h.seq;
  out.hash = h.hash;
  if (Status scan = Scan(issuer, low, h.seq, out); !scan) return std::move(scan).error();
  if (!out.profile && known) {
    // Nothing newer: the older answer stands, with what it passed over.
    out.profile = std::move(known->profile);
    out.profile_key_id = known->profile_key_id;
    out.skipped.insert(out.skipped.end(), known->skipped.begin(), known->skipped.end());
  }
  return out;
}

Result<std::optional<IssuerProfile>> ProfileReader::Latest(const std::string& issuer) const {
  Result<std::optional<store::Head>> head = store_.GetHead(issuer);
  if (!head) return std::move(head).error();
  if (!*head) return std::optional<IssuerProfile>();
  std::optional<Scanned> known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = scanned_.find(issuer); it != scanned_.end()) known = it->second;
  }
  if (!known) {
    Result<std::optional<Scanned>> saved = Saved(issuer);
    if (!saved) return std::move(saved).error();
    known = std::move(*saved);
  }
  Result<Scanned> read = Read(issuer, **head, std::move(known));
  if (!read) return std::move(read).error();
  std::optional<IssuerProfile> profile = read->profile;
  {
    // Two threads may have read at once: either answer was true when read.
    std::lock_guard<std::mutex> lock(mu_);
    scanned_[issuer] = std::move(*read);
  }
  return profile;
}

namespace {

bool SameSkipped(const auto& a, const auto& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](auto& x, auto& y) {
           return x.key_id == y.key_id && x.since == y.since;
         });
}

}  // namespace

Status SaveProfileScans(store::Store& store, const std::vector<std::string>& issuers) {
  const ProfileReader reader(store);
  return SaveProfileScans(store, reader, issuers);
}

Status SaveProfileScans(store::Store& store, const ProfileReader& reader,
                        const std::vector<std::string>& issuers) {
  for (const std::string& issuer : issuers) {
    Result<std::optional<store::Head>> head = store.GetHead(issuer);
    if (!head) return std::move(head).error();
    if (!*head) continue;  // no feed
    Result<std::optional<ProfileReader::Scanned>> saved = reader.Saved(issuer);
    if (!saved) return std::move(saved).error();
    // From this reader's own last scan when it reached further than the saved one (Read checks
    // that the record it reached is unchanged and its answer still holds), else from the saved
    // scan.
    std::optional<ProfileReader::Scanned> start = *saved;
    {
      std::lock_guard<std::mutex> lock(reader.mu_);
      auto it = reader.scanned_.find(issuer);
      if (it != reader.scanned_.end() && (!start || it->second.seq > start->seq)) {
        start = it->second;
      }
    }
    Result<ProfileReader::Scanned> read = reader.Read(issuer, **head, std::move(start));
    if (!read) return std::move(read).error();
    {
      std::lock_guard<std::mutex> lock(reader.mu_);
      reader.scanned_[issuer] = *read;
    }
    const ProfileReader::Scanned& now = *read;
    const uint64_t profile_seq = now.profile ? now.profile->id.seq : 0;
    const bool same_answer = *saved &&
                             ((*saved)->profile ? (*saved)->profile->id.seq : 0) == profile_seq &&
                             SameSkipped((*saved)->skipped, now.skipped);
    if (same_answer && now.seq >= (*saved)->seq &&
        now.seq - (*saved)->seq < kProfileScanSaveEvery) {
      // Still a good start only if the record it reached is unchanged (not set aside by a fork
      // resolution): else readers would scan the whole feed until it is saved again.
      Result<std::vector<protocol::SignedRecord>> reached = store.Range(issuer, (*saved)->seq, 1);
      if (!reached) return std::move(reached).error();
      if (reached->size() == 1 && protocol::RecordHash(reached->front()) == (*saved)->hash) {
        continue;
      }
    }
    std::string text =
        std::to_string(now.seq) + " " + now.hash.Hex() + " " + std::to_string(profile_seq);
    for (const ProfileReader::Skipped& k : now.skipped) {
      text += " " + k.key_id.Hex() + ":" + std::to_string(k.since);
    }
    if (Status put = store.PutObject(ScanObjectName(issuer), text); !put) return put;
  }
  return Ok();
}

Result<IssuerProfiles> ProfileReader::ForIssuers(const std::vector<std::string>& issuers) const {
  IssuerProfiles out;
  for (const std::string& issuer : issuers) {
    if (out.count(issuer)) continue;
    Result<std::optional<IssuerProfile>> p = Latest(issuer);
    if (!p) return std::move(p).error();
    if (*p) out.emplace(issuer, std::move(**p));
  }
  return out;
}

std::string IssuerLabel(const std::string& issuer, const IssuerProfiles& profiles) {
  auto it = profiles.find(issuer);
  if (it == profiles.end()) return issuer;
  return issuer + " (" + it->second.body.legal_name_zh + " / " + it->second.body.legal_name_en +
         ")";
}

}  // namespace duanka::node
