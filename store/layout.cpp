// Byte layouts of the store's tables (store/README.md).
#include <cstring>

#include "store/detail/layout.h"
#include "store/detail/lmdb.h"

namespace duanka::store::detail {

void PutU32(char* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}
void PutU64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

std::string HeadValue::Encode() const {
  std::string out(kSize, '\0');
  char* p = out.data();
  PutU32(p, issuer_id);
  PutU64(p + 4, seq);
  std::memcpy(p + 12, hash.bytes.data(), 32);
  p[44] = frozen ? 1 : 0;
  PutU64(p + 45, fork_seq);
  PutU64(p + 53, static_cast<uint64_t>(last_grew_at));
  PutU64(p + 61, records);
  PutU64(p + 69, entries);
  PutU64(p + 77, revocations);
  PutU64(p + 85, revoked_entries);
  return out;
}

std::optional<HeadValue> HeadValue::Decode(std::string_view bytes) {
  if (bytes.size() < kSize) return std::nullopt;
  const char* p = bytes.data();
  HeadValue h;
  h.issuer_id = GetU32(p);
  h.seq = GetU64(p + 4);
  std::memcpy(h.hash.bytes.data(), p + 12, 32);
  h.frozen = p[44] != 0;
  h.fork_seq = GetU64(p + 45);
  h.last_grew_at = static_cast<int64_t>(GetU64(p + 53));
  h.records = GetU64(p + 61);
  h.entries = GetU64(p + 69);
  h.revocations = GetU64(p + 77);
  h.revoked_entries = GetU64(p + 85);
  return h;
}

std::array<char, SubjectValue::kSize> SubjectValue::Encode() const {
  std::array<char, kSize> out{};
  char* p = out.data();
  PutU32(p, issuer_id);
  PutU64(p + 4, seq);
  p[12] = static_cast<char>(id_type);
  p[13] = static_cast<char>(category);
  p[14] = static_cast<char>(basis);
  p[15] = static_cast<char>(flags);
  PutU64(p + 16, static_cast<uint64_t>(expires_at));
  PutU64(p + 24, static_cast<uint64_t>(issued_at));
  return out;
}

SubjectValue SubjectValue::Decode(const char* p) {
  SubjectValue v;
  v.issuer_id = GetU32(p);
  v.seq = GetU64(p + 4);
  v.id_type = static_cast<uint8_t>(p[12]);
  v.category = static_cast<uint8_t>(p[13]);
  v.basis = static_cast<uint8_t>(p[14]);
  v.flags = static_cast<uint8_t>(p[15]);
  v.expires_at = static_cast<int64_t>(GetU64(p + 16));
  v.issued_at = static_cast<int64_t>(GetU64(p + 24));
  return v;
}

std::string RevokedValue::Encode() const {
  std::string out(17, '\0');
  PutU64(out.data(), by_seq);
  out[8] = static_cast<char>(reason);
  PutU64(out.data() + 9, static_cast<uint64_t>(revoked_at));
  out += by_issuer;
  return out;
}

std::optional<RevokedValue> RevokedValue::Decode(std::string_view bytes) {
  if (bytes.size() < 17) return std::nullopt;
  RevokedValue v;
  v.by_seq = GetU64(bytes.data());
  v.reason = static_cast<uint8_t>(bytes[8]);
  v.revoked_at = static_cast<int64_t>(GetU64(bytes.data() + 9));
  v.by_issuer = std::string(bytes.substr(17));
  return v;
}

std::string ResolvedValue::Encode() const {
  std::string out(kSize, '\0');
  PutU64(out.data(), seq);
  std::memcpy(out.data() + 8, kept.bytes.data(), kept.bytes.size());
  return out;
}

std::optional<ResolvedValue> ResolvedValue::Decode(std::string_view bytes) {
  if (bytes.size() < kSize) return std::nullopt;
  ResolvedValue v;
  v.seq = GetU64(bytes.data());
  std::memcpy(v.kept.bytes.data(), bytes.data() + 8, v.kept.bytes.size());
  return v;
}

std::array<char, 12> RecordKey(uint32_t issuer_id, uint64_t seq) {
  std::array<char, 12> key{};
  PutU32(key.data(), issuer_id);
  PutU64(key.data() + 4, seq);
  return key;
}

std::string DayKey(const std::string& issuer, uint32_t day) {
  std::string key = issuer;
  key.push_back('\0');
  char d[4];
  PutU32(d, day);
  key.append(d, sizeof d);
  return key;
}

std::string HeldKey(const std::string& issuer, uint32_t day, uint64_t seq) {
  std::string key = DayKey(issuer, day);
  char s[8];
  PutU64(s, seq);
  key.append(s, sizeof s);
  return key;
}

std::string EntryKey(const std::string& issuer, uint64_t seq) {
  std::string key = issuer;
  key.push_back('\0');
  key.resize(key.size() + 8);
  PutU64(key.data() + key.size() - 8, seq);
  return key;
}

std::string EncodeSignedRecord(const SignedRecord& record) {
  // Only verified records are stored, and canonical bytes are whole words; packing anything else
  // would not give it back.
  if (record.bytes.empty() || record.bytes.size() % 8 != 0) {
    throw LmdbError{MDB_BAD_VALSIZE, "a record to store is not whole 8-byte words"};
  }
  std::string out(1, static_cast<char>(kPackedRecordTag));
  out += protocol::PackRecordBytes(record.bytes);
  out += record.signature;
  return out;
}

std::optional<SignedRecord> DecodeSignedRecord(std::string_view bytes) {
  if (bytes.size() <= crypto::kSignatureSize) return std::nullopt;
  const size_t split = bytes.size() - crypto::kSignatureSize;
  std::string signature(bytes.substr(split));
  const std::string_view body = bytes.substr(0, split);
  switch (static_cast<uint8_t>(body.front())) {
    case kRawRecordTag:  // schema 1: the canonical bytes as they are
      return SignedRecord{std::string(body), std::move(signature)};
    case kPackedRecordTag:
      if (std::optional<std::string> unpacked = protocol::UnpackRecordBytes(body.substr(1))) {
        return SignedRecord{std::move(*unpacked), std::move(signature)};
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::string EncodeEvidence(const SignedRecord& first, const SignedRecord& second) {
  std::string a = EncodeSignedRecord(first);
  std::string out(4, '\0');
  PutU32(out.data(), static_cast<uint32_t>(a.size()));
  return out + a + EncodeSignedRecord(second);
}

std::optional<Evidence> DecodeEvidence(std::string_view bytes) {
  if (bytes.size() < 4) return std::nullopt;
  uint32_t first_size = GetU32(bytes.data());
  if (bytes.size() - 4 < first_size) return std::nullopt;
  std::optional<SignedRecord> held = DecodeSignedRecord(bytes.substr(4, first_size));
  std::optional<SignedRecord> other = DecodeSignedRecord(bytes.substr(4 + first_size));
  if (!held || !other) return std::nullopt;
  return Evidence{std::move(*held), std::move(*other)};
}

}  // namespace duanka::store::detail
