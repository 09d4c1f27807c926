// Fuzz target: signed records as they arrive from a peer or a bundle.
//
// Input layout: record bytes ‖ signature, where the signature is the last 64 bytes (all of the
// input when it is shorter, leaving the record empty). The record bytes go to DecodeRecord, and
// the pair to Verify and VerifyChain against a Trust holding one fixed signer. Nothing may crash,
// leak or trip a sanitizer, and these properties must hold (abort otherwise):
//   - decoding does not depend on where the bytes sit in memory (aligned or not);
//   - Verify and a one-record VerifyChain agree, and accept only what DecodeRecord accepts;
//   - packing: word-aligned bytes unpack to themselves, and what unpacks packs back (CheckPacking);
//   - every record DecodeRecord accepts survives SignRecord with the fixed key (signer key id set
//     to it): the new bytes decode to the same Record, and verify when the issuer's signer is
//     trusted and the issue time is not in the future.
// (Byte-for-byte identity of that re-encoding is not required yet; see kRequireUniqueEncoding.)
//
// Built with -DDUANKA_FUZZ_SEED_MAIN instead, this file is the generator of its seed corpus:
//   fuzz_record_seeds tests/fuzz/corpus/record
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/record.h"

namespace duanka::protocol {
namespace {

// Everything is fixed so that a crash found once reproduces from its input file alone.
constexpr std::string_view kSignerSeed = "duanka fuzz record signer seed!!";
static_assert(kSignerSeed.size() == crypto::kSeedSize);
constexpr std::string_view kSignerInstitution = "FUZZBANK";
constexpr int64_t kNow = 1'790'000'000;  // 2026-09
// The regulator role lets revocations of any issuer's entries through, so the fuzzer can reach
// every branch of Verify past the authority check.
constexpr crypto::Role kSignerRole = crypto::Role::kRegulator;

const crypto::SigningKey& FixedKey() {
  static const crypto::SigningKey key =
      crypto::SigningKey::FromSeed(crypto::AsBytes(kSignerSeed)).value();
  return key;
}

Signer FixedSigner(std::string institution) {
  return Signer{std::move(institution), kSignerRole, FixedKey().public_key(), 0,
                std::numeric_limits<int64_t>::max()};
}

const Trust& FixedTrust() {
  static const Trust trust = [] {
    Trust t;
    t.Add(FixedSigner(std::string(kSignerInstitution)));
    return t;
  }();
  return trust;
}

constexpr VerifyOptions kOptions{.now = kNow};

// A broken property: report it on stderr (libFuzzer saves the input) and abort.
[[noreturn]] void Fail(const char* what, const Error* error = nullptr) {
  std::fprintf(stderr, "fuzz_record: %s%s%s\n", what, error ? ": " : "",
               error ? error->message.c_str() : "");
  std::abort();
}

bool SameEntry(const EntryBody& a, const EntryBody& b) {
  return a.subject == b.subject && a.id_type == b.id_type && a.pepper_epoch == b.pepper_epoch &&
         a.category == b.category && a.basis == b.basis && a.expires_at == b.expires_at &&
         a.case_ref == b.case_ref;
}

bool SameRecord(const Record& a, const Record& b) {
  if (a.issuer != b.issuer || a.seq != b.seq || a.prev != b.prev || a.issued_at != b.issued_at ||
      a.signer_key_id != b.signer_key_id || a.body.index() != b.body.index()) {
    return false;
  }
  if (a.entry() != nullptr) return SameEntry(*a.entry(), *b.entry());
  if (a.profile() != nullptr) {
    const ProfileBody &p = *a.profile(), &q = *b.profile();
    return p.legal_name_zh == q.legal_name_zh && p.legal_name_en == q.legal_name_en &&
           p.kind == q.kind && p.appeal_phone == q.appeal_phone &&
           p.appeal_address == q.appeal_address && p.appeal_web == q.appeal_web;
  }
  return a.revocation()->target == b.revocation()->target &&
         a.revocation()->reason == b.revocation()->reason;
}

// DecodeRecord refuses bits outside the version-1 fields, so a record has one encoding.
constexpr bool kRequireUniqueEncoding = true;

void CheckRoundTrip(Record record, std::string_view original_bytes) {
  const bool same_signer = record.signer_key_id == KeyId(FixedKey().public_key());
  record.signer_key_id = KeyId(FixedKey().public_key());
  Result<SignedRecord> resigned = SignRecord(record, FixedKey());
  if (!resigned) Fail("a decoded record does not re-encode", &resigned.error());
  if (kRequireUniqueEncoding && same_signer && resigned->bytes != original_bytes) {
    Fail("a decoded record re-encodes to different bytes");
  }
  Result<Record> again = DecodeRecord(resigned->bytes);
  if (!again) Fail("a re-encoded record does not decode", &again.error());
  if (!SameRecord(record, *again)) Fail("a re-encoded record decodes to a different record");

  Trust trust;
  trust.Add(FixedSigner(record.issuer));
  Result<VerifiedRecord> verified = Verify(*resigned, trust, kOptions);
  const bool in_time = record.issued_at <= kNow + kOptions.max_clock_skew_seconds;
  if (verified.ok() != in_time) {
    Fail(in_time ? "a re-signed record by a trusted signer does not verify"
                 : "a record issued in the future verifies",
         verified.ok() ? nullptr : &verified.error());
  }
}

// The store keeps records packed: whatever word-aligned bytes are packed unpack to exactly
// themselves, and unpacking arbitrary bytes (a damaged store) gives bytes that pack back to them.
void CheckPacking(std::string_view bytes) {
  const std::string_view words = bytes.substr(0, bytes.size() - bytes.size() % 8);
  if (words.size() <= kMaxRecordBytes) {
    std::optional<std::string> unpacked = UnpackRecordBytes(PackRecordBytes(words));
    if (words.empty() ? unpacked.has_value() : unpacked != words) {
      Fail("packed bytes do not unpack to themselves");
    }
  }
  if (std::optional<std::string> unpacked = UnpackRecordBytes(bytes)) {
    if (unpacked->empty() || unpacked->size() % 8 != 0 || unpacked->size() > kMaxRecordBytes) {
      Fail("unpacking gave what no record can be");
    }
    if (UnpackRecordBytes(PackRecordBytes(*unpacked)) != unpacked) {
      Fail("unpacked bytes do not survive packing again");
    }
  }
}

void FuzzOne(std::span<const uint8_t> input) {
  const size_t signature_size = std::min(input.size(), crypto::kSignatureSize);
  const std::string_view all(reinterpret_cast<const char*>(input.data()), input.size());
  SignedRecord in{std::string(all.substr(0, input.size() - signature_size)),
                  std::string(all.substr(input.size() - signature_size))};

  // libFuzzer's buffer is aligned; one byte into a copy is not, which takes DecodeRecord's
  // copying path.
  Result<Record> decoded = DecodeRecord(all.substr(0, in.bytes.size()));
  std::string shifted = " " + in.bytes;
  Result<Record> decoded_unaligned = DecodeRecord(std::string_view(shifted).substr(1));
  if (decoded.ok() != decoded_unaligned.ok()) Fail("decoding depends on alignment");
  if (decoded && !SameRecord(*decoded, *decoded_unaligned)) {
    Fail("aligned and unaligned decoding disagree");
  }

  Result<VerifiedRecord> verified = Verify(in, FixedTrust(), kOptions);
  Result<std::vector<VerifiedRecord>> chain =
      VerifyChain(std::span<const SignedRecord>(&in, 1), FixedTrust(), kOptions);
  if (verified.ok() != chain.ok()) Fail("Verify and a one-record VerifyChain disagree");
  if (verified) {
    if (!decoded) Fail("Verify accepts what DecodeRecord refuses");
    if (!SameRecord(verified->record(), *decoded)) Fail("Verify and DecodeRecord disagree");
    if (verified->hash() != RecordHash(in)) Fail("verified record's hash is not its RecordHash");
  }

  if (decoded) CheckRoundTrip(std::move(*decoded), in.bytes);
  CheckPacking(in.bytes);
}

}  // namespace
}  // namespace duanka::protocol

#ifndef DUANKA_FUZZ_SEED_MAIN

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duanka::protocol::FuzzOne(std::span<const uint8_t>(data, size));
  return 0;
}

#else  // The seed corpus generator.

namespace duanka::protocol {
namespace {

constexpr int64_t kYear = 365 * 24 * 3600;

Record Base(uint64_t seq, const Hash256& prev) {
  Record r;
  r.issuer = kSignerInstitution;
  r.seq = seq;
  r.prev = prev;
  r.issued_at = kNow - 3600;
  r.signer_key_id = KeyId(FixedKey().public_key());
  return r;
}

EntryBody Entry(IdType type, Category category, Basis basis, int64_t lifetime,
                std::string case_ref) {
  EntryBody e;
  e.subject = crypto::Sha256(crypto::AsBytes(case_ref + std::string(IdTypeName(type))));
  e.id_type = type;
  e.pepper_epoch = 1;
  e.category = category;
  e.basis = basis;
  e.expires_at = kNow - 3600 + lifetime;
  e.case_ref = std::move(case_ref);
  return e;
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    return false;
  }
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  return std::fclose(f) == 0 && ok;
}

int WriteSeeds(const char* dir) {
  // A short feed, so the seeds carry both a zero prev and real links.
  Hash256 prev;
  SignedRecord last;
  // Writes one seed after checking that it passes the fuzz target and verifies as expected.
  const auto add = [&](const char* name, Record r, bool verifies = true) -> bool {
    Result<SignedRecord> s = SignRecord(r, FixedKey());
    if (!s) {
      std::fprintf(stderr, "%s: %s\n", name, s.error().message.c_str());
      return false;
    }
    if (Verify(*s, FixedTrust(), kOptions).ok() != verifies) {
      std::fprintf(stderr, "%s: expected it %s verify\n", name, verifies ? "to" : "not to");
      return false;
    }
    FuzzOne(crypto::AsBytes(s->bytes + s->signature));
    prev = RecordHash(*s);
    last = *s;
    std::printf("%s: %zu + %zu bytes\n", name, s->bytes.size(), s->signature.size());
    return WriteFile(std::string(dir) + "/" + name, s->bytes + s->signature);
  };

  Record r = Base(1, prev);
  r.body = Entry(IdType::kPhone, Category::kRentedOut, Basis::kPsbIdentified, 2 * kYear, "");
  if (!add("entry-seq1-phone", r)) return 1;
  r = Base(2, prev);
  r.body =
      Entry(IdType::kCnId, Category::kSold, Basis::kConvicted, 3 * kYear, "(2024)京0105刑初123号");
  if (!add("entry-cn-id-cjk-case-ref", r)) return 1;
  r = Base(3, prev);
  r.body = Entry(IdType::kWechat, Category::kFraudUse, Basis::kInstitution, kYear,
                 std::string(kMaxCaseRefBytes, 'A'));
  if (!add("entry-longest-case-ref", r)) return 1;
  r = Base(4, prev);
  r.body =
      RevocationBody{EntryId{std::string(kSignerInstitution), 2}, RevocationReason::kAppealUpheld};
  if (!add("revocation-own-entry", r)) return 1;
  r = Base(5, prev);
  r.body = RevocationBody{EntryId{"BANKB", 77}, RevocationReason::kCourtOrder};
  if (!add("revocation-by-regulator", r)) return 1;
  r = Base(6, prev);
  r.body =
      ProfileBody{"示例银行股份有限公司", "Example Bank Co., Ltd.",  InstitutionKind::kBank,
                  "+86 10 9555 8888",     "北京市西城区金融大街1号", "https://bank.example/appeal"};
  if (!add("profile", r)) return 1;
  r = Base(7, prev);
  r.body = Entry(IdType::kEcnyWallet, Category::kBroker, Basis::kPsbIdentified, 2 * kYear,
                 "PSB-2025-000123");
  r.issued_at = kNow + 10 * 24 * 3600;  // refused as issued in the future
  std::get<EntryBody>(r.body).expires_at = r.issued_at + kYear;
  if (!add("entry-issued-in-future", r, /*verifies=*/false)) return 1;
  // One word over the limit: refused by size alone. Its length also tells libFuzzer to try
  // inputs this long (it starts from the longest seed).
  std::string oversize = last.bytes;
  oversize.resize(kMaxRecordBytes + 8, '\0');
  std::printf("record-over-size-limit: %zu + %zu bytes\n", oversize.size(), last.signature.size());
  FuzzOne(crypto::AsBytes(oversize + last.signature));
  if (!WriteFile(std::string(dir) + "/record-over-size-limit", oversize + last.signature)) return 1;
  return 0;
}

}  // namespace
}  // namespace duanka::protocol

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  return duanka::protocol::WriteSeeds(argv[1]);
}

#endif  // DUANKA_FUZZ_SEED_MAIN
