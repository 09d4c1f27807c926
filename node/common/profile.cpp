#include "node/common/profile.h"

#include <algorithm>
#include <charconv>

namespace duanka::node {

Result<std::optional<IssuerProfile>> ProfileReader::Scan(const std::string& issuer, uint64_t low,
                                                         uint64_t high) const {
  while (high >= low && high > 0) {
    const uint64_t from = high - low + 1 > kProfileScanChunk ? high - kProfileScanChunk + 1 : low;
    Result<std::vector<protocol::SignedRecord>> records =
        store_.Range(issuer, from, static_cast<size_t>(high - from + 1));
    if (!records) return std::move(records).error();
    for (auto it = records->rbegin(); it != records->rend(); ++it) {
      // Stored records were verified on the way in; one that no longer decodes is no profile.
      Result<protocol::Record> r = protocol::DecodeRecord(it->bytes);
      if (!r || r->seq > high || r->profile() == nullptr) continue;
      return std::optional<IssuerProfile>(IssuerProfile{r->id(), r->issued_at, *r->profile()});
    }
    if (from == low) break;
    high = from - 1;
  }
  return std::optional<IssuerProfile>();
}

namespace {

bool ParseU64(std::string_view s, uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
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
  // "SEQ HASH PROFILE_SEQ"; anything else is ignored (the scan is redone and saved again).
  const std::string& text = **object;
  const size_t a = text.find(' '), b = text.rfind(' ');
  if (a == std::string::npos || b == a) return none;
  Scanned s;
  uint64_t profile_seq = 0;
  std::optional<crypto::Bytes> hash =
      crypto::FromHex(std::string_view(text).substr(a + 1, b - a - 1));
  if (!ParseU64(std::string_view(text).substr(0, a), s.seq) ||
      !ParseU64(std::string_view(text).substr(b + 1), profile_seq) || !hash ||
      hash->size() != s.hash.bytes.size() || profile_seq > s.seq) {
    return none;
  }
  std::copy(hash->begin(), hash->end(), s.hash.bytes.begin());
  if (profile_seq != 0) {
    Result<std::optional<protocol::SignedRecord>> held =
        store_.Get(protocol::EntryId{issuer, profile_seq});
    if (!held) return std::move(held).error();
    if (!*held) return none;
    Result<protocol::Record> r = protocol::DecodeRecord((*held)->bytes);
    if (!r || r->profile() == nullptr) return none;
    s.profile = IssuerProfile{r->id(), r->issued_at, *r->profile()};
  }
  return std::optional<Scanned>(std::move(s));
}

Result<std::optional<IssuerProfile>> ProfileReader::Latest(const std::string& issuer) const {
  Result<std::optional<store::Head>> head = store_.GetHead(issuer);
  if (!head) return std::move(head).error();
  if (!*head) return std::optional<IssuerProfile>();
  const store::Head& h = **head;
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<Scanned> known;
  if (auto it = scanned_.find(issuer); it != scanned_.end()) {
    known = it->second;
  } else {
    Result<std::optional<Scanned>> saved = Saved(issuer);
    if (!saved) return std::move(saved).error();
    known = std::move(*saved);
  }
  uint64_t low = 1;
  std::optional<IssuerProfile> older;
  if (known && known->seq <= h.seq) {
    // What was scanned still holds if the record the scan reached is unchanged (a fork
    // resolution may have replaced it).
    bool unchanged = known->seq == h.seq && known->hash == h.hash;
    if (!unchanged && known->seq < h.seq) {
      Result<std::vector<protocol::SignedRecord>> reached = store_.Range(issuer, known->seq, 1);
      if (!reached) return std::move(reached).error();
      unchanged = reached->size() == 1 && protocol::RecordHash(reached->front()) == known->hash;
    }
    if (unchanged) {
      low = known->seq + 1;
      older = known->profile;
    }
  }
  Result<std::optional<IssuerProfile>> newest = Scan(issuer, low, h.seq);
  if (!newest) return newest;
  Scanned s{h.seq, h.hash, *newest ? *newest : older};
  scanned_[issuer] = s;
  return s.profile;
}

Status SaveProfileScans(store::Store& store, const std::vector<std::string>& issuers) {
  const ProfileReader reader(store);
  for (const std::string& issuer : issuers) {
    Result<std::optional<ProfileReader::Scanned>> saved = reader.Saved(issuer);
    if (!saved) return std::move(saved).error();
    Result<std::optional<IssuerProfile>> latest = reader.Latest(issuer);
    if (!latest) return std::move(latest).error();
    auto it = reader.scanned_.find(issuer);
    if (it == reader.scanned_.end()) continue;  // no feed
    const ProfileReader::Scanned& now = it->second;
    const uint64_t profile_seq = now.profile ? now.profile->id.seq : 0;
    const bool same_profile =
        *saved && ((*saved)->profile ? (*saved)->profile->id.seq : 0) == profile_seq;
    if (*saved && same_profile && now.seq >= (*saved)->seq &&
        now.seq - (*saved)->seq < kProfileScanSaveEvery) {
      // Still a good start only if the record it reached is unchanged (not set aside by a fork
      // resolution): else readers would scan the whole feed until it is saved again.
      Result<std::vector<protocol::SignedRecord>> reached = store.Range(issuer, (*saved)->seq, 1);
      if (!reached) return std::move(reached).error();
      if (reached->size() == 1 && protocol::RecordHash(reached->front()) == (*saved)->hash) {
        continue;
      }
    }
    Status put =
        store.PutObject(ScanObjectName(issuer), std::to_string(now.seq) + " " + now.hash.Hex() +
                                                    " " + std::to_string(profile_seq));
    if (!put) return put;
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
