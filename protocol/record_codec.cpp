// Record <-> canonical Cap'n Proto bytes. Decoding checks every field's range; this is the one
// place that knows the wire layout of a record.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "protocol/detail/record_codec.h"
#include "protocol/detail/text.h"
#include "protocol/detail/words.h"
#include "protocol/schema/record.capnp.h"
#include "protocol/text.h"

namespace duanka::protocol {
namespace {

// A canonical record is at most kMaxRecordBytes; reading it cannot legitimately visit more words
// than it has, so twice that bounds any amplification by crafted pointers.
constexpr uint64_t kRecordTraversalLimitWords = 2 * kMaxRecordBytes / sizeof(capnp::word);
// Record → body → Entry → Data: three levels; a little slack for future fields.
constexpr int kRecordNestingLimit = 8;

constexpr uint16_t kHighestIdType = static_cast<uint16_t>(IdType::kPassportIcao);
constexpr uint16_t kHighestCategory = static_cast<uint16_t>(Category::kFraudUse);
constexpr uint16_t kHighestBasis = static_cast<uint16_t>(Basis::kInstitution);
constexpr uint16_t kHighestReason = static_cast<uint16_t>(RevocationReason::kSuperseded);
constexpr uint16_t kHighestKind = static_cast<uint16_t>(InstitutionKind::kRegulator);

Error Malformed(std::string what) {
  return MakeError(ErrorKind::kMalformed, std::move(what));
}

kj::ArrayPtr<const kj::byte> Blob(const Hash256& h) {
  return kj::arrayPtr(h.bytes.data(), 32);
}

bool ToHash(capnp::Data::Reader data, Hash256& out) {
  if (data.size() != out.bytes.size()) return false;
  std::memcpy(out.bytes.data(), data.begin(), data.size());
  return true;
}

Status CheckEntry(const Record& r, const EntryBody& e) {
  if (e.pepper_epoch == 0) return Malformed("entry's pepper epoch is 0; epochs start at 1");
  if (e.expires_at <= r.issued_at) return Malformed("entry expires before it is issued");
  if (e.expires_at - r.issued_at > kMaxEntryLifetimeSeconds) {
    return Malformed("entry's lifetime exceeds the 10-year limit");
  }
  if (e.case_ref.size() > kMaxCaseRefBytes) {
    return Malformed("case reference is longer than 64 bytes");
  }
  if (!detail::IsCleanUtf8Text(e.case_ref)) {
    return Malformed("case reference is not UTF-8 text without control characters");
  }
  return Ok();
}

Status CheckRevocation(const Record& r, const RevocationBody& v) {
  if (!base::IsValidInstitutionCode(v.target.issuer)) {
    return Malformed("revocation's target issuer is not an institution code");
  }
  if (v.target.seq == 0) return Malformed("revocation's target sequence number is 0");
  if (v.target.issuer == r.issuer && v.target.seq >= r.seq) {
    return Malformed("revocation targets an entry its issuer has not yet issued");
  }
  return Ok();
}

Status CheckProfileText(std::string_view what, const std::string& value, size_t max) {
  if (value.size() > max) {
    return Malformed("profile's " + std::string(what) + " is longer than " + std::to_string(max) +
                     " bytes");
  }
  if (!detail::IsCleanUtf8Text(value)) {
    return Malformed("profile's " + std::string(what) +
                     " is not UTF-8 text without control characters");
  }
  // Shown to the person as where to appeal: nothing in it may reorder or hide what it reads.
  if (std::optional<FormatCharacter> f = FirstFormatCharacter(value)) {
    return Malformed("profile's " + std::string(what) + " holds " + Describe(*f) +
                     "; expected plain text");
  }
  return Ok();
}

bool IsPhoneText(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == ' ' || c == '+' || c == '-' || c == '(' || c == ')')) {
      return false;
    }
  }
  return true;
}

bool IsWebAddress(std::string_view s) {
  constexpr std::string_view kHttps = "https://", kHttp = "http://";
  const size_t scheme = s.starts_with(kHttps)  ? kHttps.size()
                        : s.starts_with(kHttp) ? kHttp.size()
                                               : 0;
  if (scheme == 0 || s.size() == scheme) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return false;
    }
  }
  return true;
}

Status CheckProfile(const ProfileBody& p) {
  const std::pair<std::string_view, std::pair<const std::string*, size_t>> fields[] = {
      {"Chinese legal name", {&p.legal_name_zh, kMaxLegalNameZhBytes}},
      {"English legal name", {&p.legal_name_en, kMaxLegalNameEnBytes}},
      {"appeal phone", {&p.appeal_phone, kMaxAppealPhoneBytes}},
      {"appeal address", {&p.appeal_address, kMaxAppealAddressBytes}},
      {"appeal web address", {&p.appeal_web, kMaxAppealWebBytes}},
  };
  for (const auto& [what, field] : fields) {
    Status ok = CheckProfileText(what, *field.first, field.second);
    if (!ok) return ok;
  }
  if (p.legal_name_zh.empty() || p.legal_name_en.empty()) {
    return Malformed("profile lacks a legal name; both the Chinese and the English are required");
  }
  if (p.appeal_phone.empty() && p.appeal_address.empty() && p.appeal_web.empty()) {
    return Malformed("profile gives no appeal contact; expected a phone, an address or a web page");
  }
  if (!IsPhoneText(p.appeal_phone)) {
    return Malformed("profile's appeal phone holds characters other than digits, spaces, + - ( )");
  }
  if (!p.appeal_web.empty() && !IsWebAddress(p.appeal_web)) {
    return Malformed(
        "profile's appeal web address is not an http:// or https:// URL without spaces");
  }
  return Ok();
}

Status CheckRecord(const Record& r) {
  if (!base::IsValidInstitutionCode(r.issuer)) {
    return Malformed("issuer is not an institution code [A-Z0-9]{2,16}");
  }
  if (r.seq == 0) return Malformed("sequence number is 0; feeds start at 1");
  if (r.seq == 1 && r.prev != Hash256{}) return Malformed("first record's prev is not zero");
  if (r.issued_at <= 0) return Malformed("issue time is not after 1970");
  if (const EntryBody* e = r.entry()) return CheckEntry(r, *e);
  if (const ProfileBody* p = r.profile()) return CheckProfile(*p);
  return CheckRevocation(r, *r.revocation());
}

Result<Record> ReadRecord(wire::Record::Reader in) {
  if (in.getVersion() != kRecordVersion) {
    return Malformed("record version " + std::to_string(in.getVersion()) +
                     " is not the version 1 this node understands");
  }
  Record r;
  r.issuer = std::string(in.getIssuer().cStr(), in.getIssuer().size());
  r.seq = in.getSeq();
  r.issued_at = in.getIssuedAt();
  if (!ToHash(in.getPrev(), r.prev)) return Malformed("prev is not 32 bytes");
  if (!ToHash(in.getSignerKeyId(), r.signer_key_id))
    return Malformed("signer key id is not 32 bytes");
  auto body = in.getBody();
  switch (body.which()) {
    case wire::Record::Body::ENTRY: {
      auto e = body.getEntry();
      EntryBody out;
      if (!ToHash(e.getSubject(), out.subject)) return Malformed("subject is not 32 bytes");
      auto id_type = static_cast<uint16_t>(e.getIdType());
      auto category = static_cast<uint16_t>(e.getCategory());
      auto basis = static_cast<uint16_t>(e.getBasis());
      if (id_type == 0 || id_type > kHighestIdType) return Malformed("identifier type is unknown");
      if (category == 0 || category > kHighestCategory) return Malformed("category is unknown");
      if (basis == 0 || basis > kHighestBasis) return Malformed("legal basis is unknown");
      out.id_type = static_cast<IdType>(id_type);
      out.category = static_cast<Category>(category);
      out.basis = static_cast<Basis>(basis);
      out.pepper_epoch = e.getPepperEpoch();
      out.expires_at = e.getExpiresAt();
      out.case_ref = std::string(e.getCaseRef().cStr(), e.getCaseRef().size());
      r.body = std::move(out);
      break;
    }
    case wire::Record::Body::REVOCATION: {
      auto v = body.getRevocation();
      RevocationBody out;
      out.target.issuer = std::string(v.getIssuer().cStr(), v.getIssuer().size());
      out.target.seq = v.getSeq();
      auto reason = static_cast<uint16_t>(v.getReason());
      if (reason == 0 || reason > kHighestReason) return Malformed("revocation reason is unknown");
      out.reason = static_cast<RevocationReason>(reason);
      r.body = std::move(out);
      break;
    }
    case wire::Record::Body::PROFILE: {
      auto p = body.getProfile();
      ProfileBody out;
      const auto text = [](capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); };
      out.legal_name_zh = text(p.getLegalNameZh());
      out.legal_name_en = text(p.getLegalNameEn());
      auto kind = static_cast<uint16_t>(p.getKind());
      if (kind == 0 || kind > kHighestKind)
        return Malformed("profile's institution kind is unknown");
      out.kind = static_cast<InstitutionKind>(kind);
      out.appeal_phone = text(p.getAppealPhone());
      out.appeal_address = text(p.getAppealAddress());
      out.appeal_web = text(p.getAppealWeb());
      r.body = std::move(out);
      break;
    }
    default:
      return Malformed("record body is not an entry, a revocation or a profile");
  }
  Status checked = CheckRecord(r);
  if (!checked) return std::move(checked).error();
  return r;
}

void WriteRecord(const Record& r, wire::Record::Builder out) {
  out.setVersion(kRecordVersion);
  out.setIssuer(r.issuer);
  out.setSeq(r.seq);
  out.setPrev(Blob(r.prev));
  out.setIssuedAt(r.issued_at);
  out.setSignerKeyId(Blob(r.signer_key_id));
  if (const EntryBody* e = r.entry()) {
    auto entry = out.getBody().initEntry();
    entry.setSubject(Blob(e->subject));
    entry.setIdType(static_cast<wire::IdType>(e->id_type));
    entry.setPepperEpoch(e->pepper_epoch);
    entry.setCategory(static_cast<wire::Category>(e->category));
    entry.setBasis(static_cast<wire::Basis>(e->basis));
    entry.setExpiresAt(e->expires_at);
    entry.setCaseRef(e->case_ref);
  } else if (const ProfileBody* p = r.profile()) {
    auto profile = out.getBody().initProfile();
    profile.setLegalNameZh(p->legal_name_zh);
    profile.setLegalNameEn(p->legal_name_en);
    profile.setKind(static_cast<wire::InstitutionKind>(p->kind));
    profile.setAppealPhone(p->appeal_phone);
    profile.setAppealAddress(p->appeal_address);
    profile.setAppealWeb(p->appeal_web);
  } else {
    const RevocationBody& v = *r.revocation();
    auto revocation = out.getBody().initRevocation();
    revocation.setIssuer(v.target.issuer);
    revocation.setSeq(v.target.seq);
    revocation.setReason(static_cast<wire::RevocationReason>(v.reason));
  }
}

// Runs body(reader) over `bytes` read in place as one segment under the record limits.
// REQUIRES: bytes.size() is a whole number of words. kj::Exception from a malformed message.
template <typename Body>
auto WithRecordMessage(std::string_view bytes, Body&& body) {
  kj::Array<capnp::word> aligned;
  kj::ArrayPtr<const capnp::word> segments[1] = {detail::AlignedWords(bytes, aligned)};
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kRecordTraversalLimitWords;
  options.nestingLimit = kRecordNestingLimit;
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
  return body(reader);
}

}  // namespace

bool IsProfileRecord(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxRecordBytes || bytes.size() % sizeof(capnp::word) != 0) {
    return false;
  }
  try {
    return WithRecordMessage(bytes, [](capnp::MessageReader& reader) {
      return reader.getRoot<wire::Record>().getBody().which() == wire::Record::Body::PROFILE;
    });
  } catch (const kj::Exception&) {
    return false;
  }
}

Result<Record> DecodeRecord(std::string_view bytes) {
  if (bytes.empty() || bytes.size() > kMaxRecordBytes) {
    return Malformed("record is " + std::to_string(bytes.size()) + " bytes; expected 1 to " +
                     std::to_string(kMaxRecordBytes));
  }
  if (bytes.size() % sizeof(capnp::word) != 0) {
    return Malformed("record is not a whole number of 8-byte words");
  }
  try {
    return WithRecordMessage(bytes, [&](capnp::MessageReader& reader) -> Result<Record> {
      // Only the canonical encoding is accepted, so that one record has exactly one byte string
      // and so one hash: no padding, no reordered pointers, no far pointers.
      if (!reader.isCanonical()) return Malformed("record is not in canonical Cap'n Proto form");
      Result<Record> record = ReadRecord(reader.getRoot<wire::Record>());
      if (!record) return record;
      // Canonical form does not cover bits version 1 does not use (padding inside a used word,
      // words past the known fields): an issuer could give one record many byte strings and so
      // many hashes. Only the exact encoding of the fields read is accepted.
      Result<std::string> again = EncodeRecord(*record);
      if (!again || *again != bytes) {
        return Malformed("record carries bytes outside its version-1 fields");
      }
      return record;
    });
  } catch (const kj::Exception& e) {
    return Malformed("record does not decode: " + detail::OneLine(e.getDescription().cStr()));
  }
}

Result<std::string> EncodeRecord(const Record& record) {
  Status checked = CheckRecord(record);
  if (!checked) {
    return MakeError(ErrorKind::kInvalidInput, std::move(checked).error().message);
  }
  try {
    capnp::MallocMessageBuilder builder;
    WriteRecord(record, builder.initRoot<wire::Record>());
    kj::Array<capnp::word> canonical =
        capnp::canonicalize(builder.getRoot<wire::Record>().asReader());
    std::string bytes(reinterpret_cast<const char*>(canonical.begin()),
                      canonical.size() * sizeof(capnp::word));
    if (bytes.size() > kMaxRecordBytes) {
      return MakeError(ErrorKind::kInvalidInput, "record encodes to more than 1024 bytes");
    }
    return bytes;
  } catch (const kj::Exception& e) {
    return MakeError(ErrorKind::kInternal,
                     std::string("record does not encode: ") + e.getDescription().cStr());
  }
}

}  // namespace duanka::protocol
