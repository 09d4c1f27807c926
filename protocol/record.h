// Records: what an institution says about a subject, signed by it, chained per issuer.
//
// Bytes are the truth. A SignedRecord carries a record's exact canonical Cap'n Proto bytes and the
// Ed25519 signature over them; they are signed, sent, stored and hashed as they are and never
// re-encoded. The byte format, signing rules and limits are written down in protocol/README.md.
//
// Verify() and VerifyChain() are the only ways to obtain a VerifiedRecord, and the store only
// ingests VerifiedRecords, so nothing unverified can be stored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/crypto.h"
#include "protocol/identifier.h"

namespace duanka::protocol {

using crypto::Hash256;

// ---- Vocabulary ----------------------------------------------------------------------------

enum class Category : uint8_t {
  kRentedOut = 1,
  kLent = 2,
  kSold = 3,
  kBought = 4,
  kBroker = 5,
  kImpersonation = 6,
  kFraudUse = 7,
};
enum class Basis : uint8_t { kPsbIdentified = 1, kConvicted = 2, kInstitution = 3 };
enum class RevocationReason : uint8_t {
  kAppealUpheld = 1,
  kIssuedInError = 2,
  kCourtOrder = 3,
  kSanctionLifted = 4,
  kRehashed = 5,
  kSuperseded = 6,
};
// What a profile says its issuer is: "bank", "payment-institution", "regulator".
enum class InstitutionKind : uint8_t { kBank = 1, kPaymentInstitution = 2, kRegulator = 3 };

// Names as on the command line and in JSON: "rented-out", "psb-identified", "appeal-upheld" …
std::string_view CategoryName(Category c);
std::string_view BasisName(Basis b);
std::string_view RevocationReasonName(RevocationReason r);
std::string_view InstitutionKindName(InstitutionKind k);
std::optional<Category> ParseCategory(std::string_view name);
std::optional<Basis> ParseBasis(std::string_view name);
std::optional<RevocationReason> ParseRevocationReason(std::string_view name);
std::optional<InstitutionKind> ParseInstitutionKind(std::string_view name);
// For usage messages: "rented-out, lent, …".
std::string AllCategoryNames();
std::string AllBasisNames();
std::string AllRevocationReasonNames();
std::string AllInstitutionKindNames();

// ---- Limits --------------------------------------------------------------------------------

inline constexpr uint16_t kRecordVersion = 1;
// Case references are decision or file numbers ("(2024) 京0105刑初123号"), not free text.
inline constexpr size_t kMaxCaseRefBytes = 64;
// A profile's fields. Legal names of Chinese institutions run to about 30 characters (3 bytes each
// in UTF-8); the sums stay well inside kMaxRecordBytes with the record's other fields.
inline constexpr size_t kMaxLegalNameZhBytes = 96;
inline constexpr size_t kMaxLegalNameEnBytes = 128;
inline constexpr size_t kMaxAppealPhoneBytes = 32;
inline constexpr size_t kMaxAppealAddressBytes = 192;
inline constexpr size_t kMaxAppealWebBytes = 192;
// A record encodes to about 200–260 bytes; the bound leaves room for added fields and refuses
// anything that could only be padding.
inline constexpr size_t kMaxRecordBytes = 1024;
// No law lists anyone for longer than three years; ten leaves room and refuses typing mistakes.
inline constexpr int64_t kMaxEntryLifetimeSeconds = 10LL * 366 * 24 * 3600;
// How far in the future a record's issue time may lie before it is refused as mis-dated.
inline constexpr int64_t kDefaultMaxClockSkewSeconds = 300;
// The longest run of stored records of which only the newest had its own signature checked (a run
// is verified as chains of at most this many records). A node serving a range ends it on a record
// whose own signature verifies, running past the asked count by fewer than this many records, so
// that no receiver is ever handed a record whose signature nobody checked as the end of a chain.
inline constexpr size_t kMaxUncheckedRun = 256;

// Issue times rise along a feed: a record may not be dated before the record it follows, so a
// thief holding a stolen key cannot date its records before the last honest one (and out of a
// key withdrawal's reach). Feeds written before the rule keep verifying: it binds only records
// that follow one issued at or after this time (2026-12-01T00:00:00Z).
inline constexpr int64_t kIssueTimesRiseFrom = 1796083200;

// ---- Records -------------------------------------------------------------------------------

// "ISSUER:SEQ", e.g. "BANKA:42".
struct EntryId {
  std::string issuer;
  uint64_t seq = 0;
  std::string ToString() const;
  auto operator<=>(const EntryId&) const = default;
};
// kInvalidInput naming what is expected ("ISSUER:SEQ, e.g. BANKA:42").
Result<EntryId> ParseEntryId(std::string_view text);

struct EntryBody {
  Hash256 subject;
  IdType id_type = IdType::kCnId;
  uint32_t pepper_epoch = 0;
  Category category = Category::kRentedOut;
  Basis basis = Basis::kInstitution;
  int64_t expires_at = 0;  // Unix seconds
  std::string case_ref;
};

struct RevocationBody {
  EntryId target;
  RevocationReason reason = RevocationReason::kIssuedInError;
};

// Who the issuer is and where a listed person appeals to it. Not indexed: the newest one in the
// issuer's own feed wins (node/common/profile.h reads it).
struct ProfileBody {
  std::string legal_name_zh;  // required
  std::string legal_name_en;  // required
  InstitutionKind kind = InstitutionKind::kBank;
  // At least one of the three is required; each may be empty.
  std::string appeal_phone;    // digits, spaces, + - ( ) only
  std::string appeal_address;  // free text, one line
  std::string appeal_web;      // http:// or https:// URL without spaces
};

struct Record {
  std::string issuer;
  uint64_t seq = 0;
  Hash256 prev;  // all zero for seq 1
  int64_t issued_at = 0;
  Hash256 signer_key_id;
  std::variant<EntryBody, RevocationBody, ProfileBody> body;

  const EntryBody* entry() const { return std::get_if<EntryBody>(&body); }
  const RevocationBody* revocation() const { return std::get_if<RevocationBody>(&body); }
  const ProfileBody* profile() const { return std::get_if<ProfileBody>(&body); }
  EntryId id() const { return EntryId{issuer, seq}; }
};

// False when `next` (the record after `prev` in its feed) breaks the rule of kIssueTimesRiseFrom.
bool IssueTimeFollows(int64_t prev_issued_at, int64_t next_issued_at);

struct SignedRecord {
  std::string bytes;      // canonical Cap'n Proto encoding of a Record
  std::string signature;  // Ed25519 over `bytes`, 64 bytes
};

// SHA-256(bytes ‖ signature): what the issuer's next record carries as `prev`.
Hash256 RecordHash(const SignedRecord& record);
// SHA-256 of the raw 32-byte Ed25519 public key.
Hash256 KeyId(const crypto::PublicKey& key);

// Checks the fields' ranges (the same checks Verify applies), encodes canonically and signs.
// REQUIRES: record.signer_key_id == KeyId(key.public_key()), else kInvalidInput.
Result<SignedRecord> SignRecord(const Record& record, const crypto::SigningKey& key);

// A record's canonical bytes in Cap'n Proto's packed form (zero bytes run-length coded), for
// storage: UnpackRecordBytes gives back exactly the bytes packed, so hashes and signatures over
// them are untouched. REQUIRES: canonical.size() is a multiple of 8 (canonical bytes always are).
std::string PackRecordBytes(std::string_view canonical);
// nullopt when `packed` is not one packed segment of at most kMaxRecordBytes and nothing more.
std::optional<std::string> UnpackRecordBytes(std::string_view packed);

// Decodes and range-checks without checking the signature: for display of stored records only.
// kMalformed names the problem.
Result<Record> DecodeRecord(std::string_view bytes);
// Whether a record's bytes carry a profile body, read without any of DecodeRecord's checks
// (canonical form, ranges, re-encoding), about a tenth of its cost: for records verified on the
// way in, such as stored ones, when only profiles matter. False for bytes that do not read.
bool IsProfileRecord(std::string_view bytes);

// ---- Trust and verification ----------------------------------------------------------------

// An institution's signing key whose certificate has been verified against the consortium CA.
struct Signer {
  std::string institution;
  crypto::Role role = crypto::Role::kMember;
  crypto::PublicKey key;
  int64_t not_before = 0;  // certificate validity, Unix seconds
  int64_t not_after = 0;
};

// The signers a node knows, by key id. Not thread-safe for writes; share const after building.
class Trust {
 public:
  void Add(const Signer& signer);
  const Signer* Find(const Hash256& key_id) const;
  size_t size() const { return signers_.size(); }
  // Every signer's key id.
  std::vector<Hash256> KeyIds() const;

 private:
  std::map<Hash256, Signer> signers_;
};

struct VerifyOptions {
  int64_t now = 0;  // Unix seconds, from the injected clock
  int64_t max_clock_skew_seconds = kDefaultMaxClockSkewSeconds;
};

// A record whose bytes decoded canonically, whose fields are in range, whose signer is a known
// consortium member entitled to say it, and whose signature (or, inside a chain, its successor's
// chained signature) is valid.
class VerifiedRecord {
 public:
  const Record& record() const { return record_; }
  const SignedRecord& signed_record() const { return signed_; }
  const Hash256& hash() const { return hash_; }
  crypto::Role signer_role() const { return signer_role_; }
  // True when this record's own signature was checked (false for the inner records of a chain,
  // whose bytes are vouched for by the newest record's signature through the hash links).
  bool signature_checked() const { return signature_checked_; }

 private:
  friend Result<VerifiedRecord> Verify(const SignedRecord&, const Trust&, const VerifyOptions&);
  friend Result<std::vector<VerifiedRecord>> VerifyChain(std::span<const SignedRecord>,
                                                         const Trust&, const VerifyOptions&);
  VerifiedRecord() = default;
  Record record_;
  SignedRecord signed_;
  Hash256 hash_;
  crypto::Role signer_role_ = crypto::Role::kMember;
  bool signature_checked_ = false;
};

// Verifies one record on its own. kMalformed for bytes that do not decode canonically or fields out
// of range; kUnauthorized for an unknown signer, a signer of another institution, a certificate
// not valid at the issue time, a member revoking another's entry, or a bad signature.
Result<VerifiedRecord> Verify(const SignedRecord& record, const Trust& trust,
                              const VerifyOptions& options);

// Verifies a contiguous run of one issuer's records (seq ascending by one): every record's fields
// and signer as Verify does, every prev link inside the run, and the newest record's signature,
// which through the links vouches for the exact bytes of every record before it. Whether the
// first record links to the feed's head is the store's check. The error names the first bad record.
Result<std::vector<VerifiedRecord>> VerifyChain(std::span<const SignedRecord> records,
                                                const Trust& trust, const VerifyOptions& options);

}  // namespace duanka::protocol
