// Records: signing, verification, field ranges, authority and chains.
#include <capnp/any.h>
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <functional>

#include "protocol/record.h"
#include "protocol/schema/record.capnp.h"

namespace duanka::protocol {
namespace {

constexpr int64_t kNow = 1'790'000'000;  // 2026-09
constexpr int64_t kYear = 365 * 24 * 3600;

struct Institution {
  std::string code;
  crypto::SigningKey key = crypto::SigningKey::Generate();
  crypto::Role role = crypto::Role::kMember;

  Signer AsSigner() const {
    return Signer{code, role, key.public_key(), kNow - kYear, kNow + kYear};
  }
};

class RecordTest : public ::testing::Test {
 protected:
  RecordTest() {
    regulator_.role = crypto::Role::kRegulator;
    trust_.Add(bank_a_.AsSigner());
    trust_.Add(bank_b_.AsSigner());
    trust_.Add(regulator_.AsSigner());
  }

  Record Entry(const Institution& who, uint64_t seq, const Hash256& prev) {
    Record r;
    r.issuer = who.code;
    r.seq = seq;
    r.prev = prev;
    r.issued_at = kNow - 10;
    r.signer_key_id = KeyId(who.key.public_key());
    EntryBody e;
    e.subject = crypto::Sha256(crypto::AsBytes(std::to_string(seq)));
    e.id_type = IdType::kPhone;
    e.pepper_epoch = 1;
    e.category = Category::kRentedOut;
    e.basis = Basis::kPsbIdentified;
    e.expires_at = r.issued_at + 2 * kYear;
    e.case_ref = "(2024)京0105刑初123号";
    r.body = e;
    return r;
  }

  Record Revocation(const Institution& who, uint64_t seq, const Hash256& prev, EntryId target) {
    Record r = Entry(who, seq, prev);
    r.body = RevocationBody{std::move(target), RevocationReason::kAppealUpheld};
    return r;
  }

  SignedRecord Sign(const Record& r, const Institution& who) {
    Result<SignedRecord> s = SignRecord(r, who.key);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
    return s.ok() ? *s : SignedRecord{};
  }

  // A feed of n entries of `who`, properly chained.
  std::vector<SignedRecord> Feed(const Institution& who, int n) {
    std::vector<SignedRecord> out;
    Hash256 prev;
    for (int i = 1; i <= n; ++i) {
      out.push_back(Sign(Entry(who, i, prev), who));
      prev = RecordHash(out.back());
    }
    return out;
  }

  // Encodes whatever the callback builds (bypassing SignRecord's checks) and signs it.
  SignedRecord SignRaw(const std::function<void(wire::Record::Builder)>& build,
                       const Institution& who) {
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<wire::Record>();
    root.setVersion(kRecordVersion);
    root.setIssuer(who.code);
    root.setSeq(1);
    Hash256 zero;
    root.setPrev(kj::arrayPtr(zero.bytes.data(), 32));
    root.setIssuedAt(kNow);
    Hash256 key_id = KeyId(who.key.public_key());
    root.setSignerKeyId(kj::arrayPtr(key_id.bytes.data(), 32));
    auto e = root.getBody().initEntry();
    Hash256 subject = crypto::Sha256(crypto::AsBytes(std::string_view("s")));
    e.setSubject(kj::arrayPtr(subject.bytes.data(), 32));
    e.setIdType(wire::IdType::PHONE);
    e.setPepperEpoch(1);
    e.setCategory(wire::Category::SOLD);
    e.setBasis(wire::Basis::CONVICTED);
    e.setExpiresAt(kNow + kYear);
    build(root);
    kj::Array<capnp::word> words = capnp::canonicalize(root.asReader());
    SignedRecord out;
    out.bytes.assign(reinterpret_cast<const char*>(words.begin()), words.size() * 8);
    crypto::Signature sig = who.key.Sign(crypto::AsBytes(out.bytes));
    out.signature.assign(reinterpret_cast<const char*>(sig.bytes.data()), 64);
    return out;
  }

  Result<VerifiedRecord> Check(const SignedRecord& s) { return Verify(s, trust_, options_); }

  void ExpectRefused(const SignedRecord& s, ErrorKind kind, std::string_view words) {
    Result<VerifiedRecord> v = Check(s);
    ASSERT_FALSE(v.ok()) << "expected refusal mentioning: " << words;
    EXPECT_EQ(v.error().kind, kind) << v.error().message;
    EXPECT_NE(v.error().message.find(words), std::string::npos) << v.error().message;
    EXPECT_EQ(v.error().message.find('\n'), std::string::npos);
  }

  Institution bank_a_{"BANKA"};
  Institution bank_b_{"BANKB"};
  Institution regulator_{"PBOC"};
  Trust trust_;
  VerifyOptions options_{kNow};
};

TEST_F(RecordTest, SignVerifyRoundTrip) {
  Record r = Entry(bank_a_, 1, Hash256{});
  SignedRecord s = Sign(r, bank_a_);
  Result<VerifiedRecord> v = Check(s);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->signature_checked());
  EXPECT_EQ(v->hash(), RecordHash(s));
  EXPECT_EQ(v->record().issuer, "BANKA");
  ASSERT_NE(v->record().entry(), nullptr);
  EXPECT_EQ(v->record().entry()->subject, r.entry()->subject);
  EXPECT_EQ(v->record().entry()->case_ref, r.entry()->case_ref);
  EXPECT_EQ(v->record().entry()->expires_at, r.entry()->expires_at);
  EXPECT_EQ(v->record().entry()->category, Category::kRentedOut);
  EXPECT_EQ(v->record().entry()->basis, Basis::kPsbIdentified);
  EXPECT_EQ(v->signer_role(), crypto::Role::kMember);
}

TEST_F(RecordTest, EncodingIsDeterministicAndWordAligned) {
  Record r = Entry(bank_a_, 1, Hash256{});
  SignedRecord a = Sign(r, bank_a_);
  SignedRecord b = Sign(r, bank_a_);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.bytes.size() % 8, 0u);
  EXPECT_LE(a.bytes.size(), kMaxRecordBytes);
  EXPECT_EQ(RecordHash(a), RecordHash(b));
}

TEST_F(RecordTest, AnyFlippedBitRefused) {
  SignedRecord s = Sign(Entry(bank_a_, 1, Hash256{}), bank_a_);
  for (size_t bit = 0; bit < s.bytes.size() * 8; ++bit) {
    SignedRecord bad = s;
    bad.bytes[bit / 8] = static_cast<char>(bad.bytes[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_FALSE(Check(bad).ok()) << "record bit " << bit;
  }
  for (size_t bit = 0; bit < s.signature.size() * 8; ++bit) {
    SignedRecord bad = s;
    bad.signature[bit / 8] = static_cast<char>(bad.signature[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_FALSE(Check(bad).ok()) << "signature bit " << bit;
  }
}

TEST_F(RecordTest, TruncatedOrPaddedBytesRefused) {
  SignedRecord s = Sign(Entry(bank_a_, 1, Hash256{}), bank_a_);
  SignedRecord truncated = s;
  truncated.bytes.resize(s.bytes.size() - 8);
  ExpectRefused(truncated, ErrorKind::kMalformed, "record");
  SignedRecord padded = s;
  padded.bytes.append(8, '\0');
  ExpectRefused(padded, ErrorKind::kMalformed, "canonical");
  SignedRecord odd = s;
  odd.bytes.push_back('\0');
  ExpectRefused(odd, ErrorKind::kMalformed, "8-byte words");
  SignedRecord empty{"", s.signature};
  ExpectRefused(empty, ErrorKind::kMalformed, "bytes");
  SignedRecord huge{std::string(kMaxRecordBytes + 8, '\0'), s.signature};
  ExpectRefused(huge, ErrorKind::kMalformed, "bytes");
  SignedRecord short_sig{s.bytes, s.signature.substr(0, 63)};
  ExpectRefused(short_sig, ErrorKind::kMalformed, "signature");
}

TEST_F(RecordTest, PackedBytesUnpackToExactlyTheSignedBytes) {
  for (const SignedRecord& s : Feed(bank_a_, 20)) {
    const std::string packed = PackRecordBytes(s.bytes);
    EXPECT_LT(packed.size(), s.bytes.size());  // a record has runs of zero bytes to code away
    std::optional<std::string> unpacked = UnpackRecordBytes(packed);
    ASSERT_TRUE(unpacked.has_value());
    EXPECT_EQ(*unpacked, s.bytes);
    EXPECT_TRUE(Check(SignedRecord{*unpacked, s.signature}).ok());
  }
  // Any word-aligned bytes round-trip, all-zero and incompressible alike.
  for (const std::string& words : {std::string(64, '\0'), std::string(64, '\xff')}) {
    EXPECT_EQ(UnpackRecordBytes(PackRecordBytes(words)), words);
  }
}

TEST_F(RecordTest, UnpackRefusesWhatPackDidNotWrite) {
  const SignedRecord s = Sign(Entry(bank_a_, 1, Hash256{}), bank_a_);
  const std::string packed = PackRecordBytes(s.bytes);
  EXPECT_FALSE(UnpackRecordBytes("").has_value());
  EXPECT_FALSE(UnpackRecordBytes(packed + packed).has_value()) << "bytes after the segment";
  EXPECT_FALSE(UnpackRecordBytes(packed.substr(0, packed.size() - 1)).has_value()) << "cut short";
  // A segment table announcing more than a record can be.
  EXPECT_FALSE(
      UnpackRecordBytes(PackRecordBytes(std::string(kMaxRecordBytes + 16, '\1'))).has_value());
  // Two segments.
  std::string two(16, '\0');
  two[0] = 1;  // segment count - 1
  two[4] = 1;  // first segment: one word
  two[8] = 1;  // second segment: one word
  two += std::string(16, '\7');
  std::string packed_two;
  for (size_t at = 0; at < two.size(); at += 8) {  // pack by hand: every word's bytes, tag 0xff
    packed_two += '\xff';
    packed_two += two.substr(at, 8);
    packed_two += '\0';  // no uncompressed words follow
  }
  EXPECT_FALSE(UnpackRecordBytes(packed_two).has_value());
  std::string garbage(64, '\xff');
  EXPECT_FALSE(UnpackRecordBytes(garbage).has_value());
}

TEST_F(RecordTest, GarbageBytesRefusedWithoutCrash) {
  std::string garbage(256, '\xff');
  ExpectRefused(SignedRecord{garbage, std::string(64, 'x')}, ErrorKind::kMalformed, "record");
  std::string zeros(256, '\0');
  ExpectRefused(SignedRecord{zeros, std::string(64, 'x')}, ErrorKind::kMalformed, "record");
}

TEST_F(RecordTest, NonCanonicalEncodingRefused) {
  // The same record as a normal (non-canonical) builder message: an unused far segment layout.
  capnp::MallocMessageBuilder builder(1);  // tiny first segment forces far pointers
  SignedRecord s = Sign(Entry(bank_a_, 1, Hash256{}), bank_a_);
  kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(s.bytes.data()),
                                        s.bytes.size() / 8);
  kj::ArrayPtr<const capnp::word> segs[1] = {words};
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segs, 1));
  builder.setRoot(reader.getRoot<wire::Record>());
  auto segments = builder.getSegmentsForOutput();
  ASSERT_GT(segments.size(), 1u);  // the copy spans segments, which canonical form never does
  std::string flat;
  for (auto seg : segments) flat.append(reinterpret_cast<const char*>(seg.begin()), seg.size() * 8);
  ExpectRefused(SignedRecord{flat, s.signature}, ErrorKind::kMalformed, "");
}

TEST_F(RecordTest, BytesOutsideTheKnownFieldsRefused) {
  SignedRecord s = Sign(Entry(bank_a_, 1, Hash256{}), bank_a_);
  // Set an unused bit of the root's data section and re-sign, keeping the message canonical.
  capnp::MallocMessageBuilder builder;
  kj::ArrayPtr<const capnp::word> words(reinterpret_cast<const capnp::word*>(s.bytes.data()),
                                        s.bytes.size() / 8);
  kj::ArrayPtr<const capnp::word> segs[1] = {words};
  capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segs, 1));
  builder.setRoot(reader.getRoot<wire::Record>());
  auto root = builder.getRoot<capnp::AnyStruct>();
  auto data = root.getDataSection();
  ASSERT_GE(data.size(), 8u);
  data[5] ^= 0x40;  // word 0 holds version (bytes 0-1) and the union tag (2-3); 4-7 are padding
  kj::Array<capnp::word> canonical =
      capnp::canonicalize(builder.getRoot<wire::Record>().asReader());
  SignedRecord odd;
  odd.bytes.assign(reinterpret_cast<const char*>(canonical.begin()), canonical.size() * 8);
  crypto::Signature sig = bank_a_.key.Sign(crypto::AsBytes(odd.bytes));
  odd.signature.assign(reinterpret_cast<const char*>(sig.bytes.data()), 64);
  ASSERT_NE(odd.bytes, s.bytes);
  ExpectRefused(odd, ErrorKind::kMalformed, "outside");
}

TEST_F(RecordTest, UnknownSignerRefused) {
  Institution outsider{"BANKA"};  // claims BANKA but its key was never certified
  ExpectRefused(Sign(Entry(outsider, 1, Hash256{}), outsider), ErrorKind::kUnauthorized,
                "no verified consortium certificate");
}

TEST_F(RecordTest, KeyOfAnotherInstitutionRefused) {
  Record r = Entry(bank_a_, 1, Hash256{});
  r.issuer = "BANKB";  // BANKA's key signing for BANKB
  ExpectRefused(Sign(r, bank_a_), ErrorKind::kUnauthorized, "certified for BANKA");
}

TEST_F(RecordTest, IssuedOutsideCertificateValidityRefused) {
  Record before = Entry(bank_a_, 1, Hash256{});
  before.issued_at = kNow - 2 * kYear;
  std::get<EntryBody>(before.body).expires_at = before.issued_at + kYear;
  ExpectRefused(Sign(before, bank_a_), ErrorKind::kUnauthorized, "validity");
  Institution expired{"BANKC"};
  trust_.Add(Signer{"BANKC", crypto::Role::kMember, expired.key.public_key(), kNow - 2 * kYear,
                    kNow - kYear});
  ExpectRefused(Sign(Entry(expired, 1, Hash256{}), expired), ErrorKind::kUnauthorized, "validity");
}

// Not yet, rather than unauthorized: the receiver's clock may be the slow one, so the record is
// held back and its relay never penalised.
TEST_F(RecordTest, IssuedInTheFutureRefusedAsNotYet) {
  Record r = Entry(bank_a_, 1, Hash256{});
  r.issued_at = kNow + kDefaultMaxClockSkewSeconds + 1;
  std::get<EntryBody>(r.body).expires_at = r.issued_at + kYear;
  ExpectRefused(Sign(r, bank_a_), ErrorKind::kNotYet, "ahead of this node's clock");
  r.issued_at = kNow + kDefaultMaxClockSkewSeconds;
  EXPECT_TRUE(Check(Sign(r, bank_a_)).ok());
}

TEST_F(RecordTest, RevocationByOtherMemberRefused) {
  SignedRecord s = Sign(Revocation(bank_b_, 1, Hash256{}, EntryId{"BANKA", 1}), bank_b_);
  ExpectRefused(s, ErrorKind::kUnauthorized, "only its own");
}

TEST_F(RecordTest, RevocationOfOwnEntryAccepted) {
  std::vector<SignedRecord> feed = Feed(bank_a_, 1);
  SignedRecord s = Sign(Revocation(bank_a_, 2, RecordHash(feed[0]), EntryId{"BANKA", 1}), bank_a_);
  Result<VerifiedRecord> v = Check(s);
  ASSERT_TRUE(v.ok()) << v.error().message;
  ASSERT_NE(v->record().revocation(), nullptr);
  EXPECT_EQ(v->record().revocation()->target, (EntryId{"BANKA", 1}));
  EXPECT_EQ(v->record().revocation()->reason, RevocationReason::kAppealUpheld);
}

TEST_F(RecordTest, RevocationByRegulatorOfAnyEntryAccepted) {
  SignedRecord s = Sign(Revocation(regulator_, 1, Hash256{}, EntryId{"BANKA", 7}), regulator_);
  Result<VerifiedRecord> v = Check(s);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->signer_role(), crypto::Role::kRegulator);
}

TEST_F(RecordTest, RevocationOfOwnFutureEntryRefusedAtSigning) {
  Record r = Revocation(bank_a_, 1, Hash256{}, EntryId{"BANKA", 1});
  Result<SignedRecord> s = SignRecord(r, bank_a_.key);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kInvalidInput);
}

TEST_F(RecordTest, FieldsOutOfRangeRefused) {
  struct Case {
    const char* what;
    std::function<void(wire::Record::Builder)> build;
    const char* words;
  };
  std::vector<Case> cases = {
      {"newer version", [](auto r) { r.setVersion(2); }, "version"},
      {"lowercase issuer", [](auto r) { r.setIssuer("banka"); }, "issuer"},
      {"seq 0", [](auto r) { r.setSeq(0); }, "sequence"},
      {"short prev", [](auto r) { r.setPrev(kj::heapArray<kj::byte>(31)); }, "prev"},
      {"nonzero prev at seq 1",
       [](auto r) {
         auto p = kj::heapArray<kj::byte>(32);
         p[0] = 1;
         r.setPrev(p);
       },
       "prev"},
      {"short key id", [](auto r) { r.setSignerKeyId(kj::heapArray<kj::byte>(16)); }, "key id"},
      {"long subject",
       [](auto r) { r.getBody().getEntry().setSubject(kj::heapArray<kj::byte>(33)); }, "subject"},
      {"unspecified id type",
       [](auto r) { r.getBody().getEntry().setIdType(wire::IdType::UNSPECIFIED); }, "type"},
      {"unknown id type",
       [](auto r) { r.getBody().getEntry().setIdType(static_cast<wire::IdType>(99)); }, "type"},
      {"unknown category",
       [](auto r) { r.getBody().getEntry().setCategory(static_cast<wire::Category>(8)); },
       "category"},
      {"unspecified basis",
       [](auto r) { r.getBody().getEntry().setBasis(wire::Basis::UNSPECIFIED); }, "basis"},
      {"epoch 0", [](auto r) { r.getBody().getEntry().setPepperEpoch(0); }, "epoch"},
      {"expires before issue", [](auto r) { r.getBody().getEntry().setExpiresAt(kNow - 1); },
       "expires"},
      {"expires in 11 years",
       [](auto r) { r.getBody().getEntry().setExpiresAt(kNow + 11 * kYear); }, "lifetime"},
      {"long case ref", [](auto r) { r.getBody().getEntry().setCaseRef(std::string(65, 'x')); },
       "64 bytes"},
      {"case ref with newline",
       [](auto r) { r.getBody().getEntry().setCaseRef("a\nforged log line"); }, "control"},
      {"case ref invalid utf-8", [](auto r) { r.getBody().getEntry().setCaseRef("\xc3\x28"); },
       "UTF-8"},
      {"unknown revocation reason",
       [](auto r) {
         auto v = r.getBody().initRevocation();
         v.setIssuer("BANKB");
         v.setSeq(1);
       },
       "reason"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ExpectRefused(SignRaw(c.build, bank_a_), ErrorKind::kMalformed, c.words);
  }
}

TEST_F(RecordTest, SignRecordRefusesOutOfRangeFields) {
  Record r = Entry(bank_a_, 1, Hash256{});
  std::get<EntryBody>(r.body).case_ref = std::string(65, 'x');
  Result<SignedRecord> s = SignRecord(r, bank_a_.key);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kInvalidInput);
  Record wrong_key = Entry(bank_a_, 1, Hash256{});
  EXPECT_FALSE(SignRecord(wrong_key, bank_b_.key).ok());
}

// ---- Profiles ----

ProfileBody SampleProfile() {
  return ProfileBody{"示例银行股份有限公司",    "Example Bank Co., Ltd.",
                     InstitutionKind::kBank,    "+86 (10) 9555-8888",
                     "北京市西城区金融大街1号", "https://bank.example/appeal"};
}

TEST_F(RecordTest, ProfileRoundTrips) {
  Record r = Entry(bank_a_, 3, crypto::Sha256(crypto::AsBytes(std::string_view("p"))));
  r.body = SampleProfile();
  SignedRecord s = Sign(r, bank_a_);
  Result<VerifiedRecord> v = Check(s);
  ASSERT_TRUE(v.ok()) << v.error().message;
  const ProfileBody* p = v->record().profile();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(v->record().entry(), nullptr);
  EXPECT_EQ(v->record().revocation(), nullptr);
  const ProfileBody want = SampleProfile();
  EXPECT_EQ(p->legal_name_zh, want.legal_name_zh);
  EXPECT_EQ(p->legal_name_en, want.legal_name_en);
  EXPECT_EQ(p->kind, InstitutionKind::kBank);
  EXPECT_EQ(p->appeal_phone, want.appeal_phone);
  EXPECT_EQ(p->appeal_address, want.appeal_address);
  EXPECT_EQ(p->appeal_web, want.appeal_web);
  // Same record, same bytes: one hash.
  EXPECT_EQ(Sign(r, bank_a_).bytes, s.bytes);
}

TEST_F(RecordTest, ProfileOfLongestFieldsFitsARecord) {
  Record r = Entry(bank_a_, 1, Hash256{});
  r.body = ProfileBody{std::string(kMaxLegalNameZhBytes, 'z'),
                       std::string(kMaxLegalNameEnBytes, 'e'),
                       InstitutionKind::kPaymentInstitution,
                       std::string(kMaxAppealPhoneBytes, '9'),
                       std::string(kMaxAppealAddressBytes, 'a'),
                       "https://" + std::string(kMaxAppealWebBytes - 8, 'w')};
  EXPECT_TRUE(Check(Sign(r, bank_a_)).ok());
}

TEST_F(RecordTest, ProfileFieldsOutOfRangeRefused) {
  struct Case {
    const char* what;
    std::function<void(ProfileBody&)> change;
    const char* words;
  };
  const std::vector<Case> cases = {
      {"no Chinese name", [](ProfileBody& p) { p.legal_name_zh.clear(); }, "legal name"},
      {"no English name", [](ProfileBody& p) { p.legal_name_en.clear(); }, "legal name"},
      {"long Chinese name",
       [](ProfileBody& p) { p.legal_name_zh = std::string(kMaxLegalNameZhBytes + 1, 'z'); },
       "Chinese legal name is longer than 96"},
      {"long English name",
       [](ProfileBody& p) { p.legal_name_en = std::string(kMaxLegalNameEnBytes + 1, 'e'); },
       "English legal name is longer than 128"},
      {"long phone",
       [](ProfileBody& p) { p.appeal_phone = std::string(kMaxAppealPhoneBytes + 1, '1'); },
       "appeal phone is longer"},
      {"letters in phone", [](ProfileBody& p) { p.appeal_phone = "call 95588"; }, "digits"},
      {"long address",
       [](ProfileBody& p) { p.appeal_address = std::string(kMaxAppealAddressBytes + 1, 'a'); },
       "appeal address is longer"},
      {"address with newline", [](ProfileBody& p) { p.appeal_address = "a\nforged"; }, "control"},
      {"web not a URL", [](ProfileBody& p) { p.appeal_web = "bank.example"; }, "URL"},
      {"web with space", [](ProfileBody& p) { p.appeal_web = "https://bank.example/a b"; }, "URL"},
      {"web scheme only", [](ProfileBody& p) { p.appeal_web = "https://"; }, "URL"},
      {"long web",
       [](ProfileBody& p) { p.appeal_web = "https://" + std::string(kMaxAppealWebBytes, 'w'); },
       "web address is longer"},
      {"no appeal contact",
       [](ProfileBody& p) {
         p.appeal_phone.clear();
         p.appeal_address.clear();
         p.appeal_web.clear();
       },
       "no appeal contact"},
      {"name invalid utf-8", [](ProfileBody& p) { p.legal_name_zh = "\xc3\x28"; }, "UTF-8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Record r = Entry(bank_a_, 1, Hash256{});
    ProfileBody p = SampleProfile();
    c.change(p);
    r.body = p;
    Result<SignedRecord> s = SignRecord(r, bank_a_.key);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(s.error().message.find(c.words), std::string::npos) << s.error().message;
    // The same fields on the wire, bypassing SignRecord's checks, are refused as malformed.
    SignedRecord raw = SignRaw(
        [&](wire::Record::Builder b) {
          auto w = b.getBody().initProfile();
          w.setLegalNameZh(p.legal_name_zh);
          w.setLegalNameEn(p.legal_name_en);
          w.setKind(wire::InstitutionKind::BANK);
          w.setAppealPhone(p.appeal_phone);
          w.setAppealAddress(p.appeal_address);
          w.setAppealWeb(p.appeal_web);
        },
        bank_a_);
    ExpectRefused(raw, ErrorKind::kMalformed, c.words);
  }
}

// The UTF-8 spelling of code point `cp`.
std::string Utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

// Bidi controls, zero-width and other format characters (Cf) and the line and paragraph
// separators (Zl, Zp) would let a profile show its appeal contact reordered, two names alike, or
// break the one-line answer: refused in every field, when signing and on the wire.
TEST_F(RecordTest, ProfileFormatCharactersRefused) {
  struct Char {
    uint32_t cp;
    const char* words;
  };
  const std::vector<Char> chars = {
      // Both ends of each range the review names, then the rest of Cf by example.
      {0x202a, "U+202A (a bidi control)"},
      {0x202e, "U+202E (a bidi control)"},
      {0x2066, "U+2066 (a bidi control)"},
      {0x2069, "U+2069 (a bidi control)"},
      {0x200e, "U+200E (a bidi control)"},
      {0x200f, "U+200F (a bidi control)"},
      {0x061c, "U+061C (a bidi control)"},
      {0x200b, "U+200B (a zero-width character)"},
      {0x200d, "U+200D (a zero-width character)"},
      {0x2060, "U+2060 (a zero-width character)"},
      {0xfeff, "U+FEFF (a zero-width character)"},
      {0x2028, "U+2028 (a line separator)"},
      {0x2029, "U+2029 (a paragraph separator)"},
      {0x00ad, "U+00AD (a soft hyphen)"},
      {0x206a, "U+206A (an invisible format character)"},
      {0xe0041, "U+E0041 (an invisible format character)"},
  };
  const std::vector<std::pair<const char*, std::function<void(ProfileBody&, const std::string&)>>>
      fields = {
          {"Chinese legal name",
           [](ProfileBody& p, const std::string& c) { p.legal_name_zh += c; }},
          {"English legal name",
           [](ProfileBody& p, const std::string& c) { p.legal_name_en = "Example" + c + "Bank"; }},
          {"appeal phone", [](ProfileBody& p, const std::string& c) { p.appeal_phone += c; }},
          {"appeal address",
           [](ProfileBody& p, const std::string& c) { p.appeal_address = c + p.appeal_address; }},
          {"appeal web address",
           [](ProfileBody& p, const std::string& c) {
             p.appeal_web = "https://" + c + "x.example";
           }},
      };
  for (const Char& ch : chars) {
    for (const auto& [field, put] : fields) {
      SCOPED_TRACE(std::string(ch.words) + " in " + field);
      ProfileBody p = SampleProfile();
      put(p, Utf8(ch.cp));
      Record r = Entry(bank_a_, 1, Hash256{});
      r.body = p;
      const std::string want = std::string(field) + " holds " + ch.words + "; expected plain text";
      Result<SignedRecord> s = SignRecord(r, bank_a_.key);
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(s.error().kind, ErrorKind::kInvalidInput);
      EXPECT_NE(s.error().message.find(want), std::string::npos) << s.error().message;
      SignedRecord raw = SignRaw(
          [&](wire::Record::Builder b) {
            auto w = b.getBody().initProfile();
            w.setLegalNameZh(p.legal_name_zh);
            w.setLegalNameEn(p.legal_name_en);
            w.setKind(wire::InstitutionKind::BANK);
            w.setAppealPhone(p.appeal_phone);
            w.setAppealAddress(p.appeal_address);
            w.setAppealWeb(p.appeal_web);
          },
          bank_a_);
      ExpectRefused(raw, ErrorKind::kMalformed, want);
    }
  }
}

// Neighbours of the refused ranges that are ordinary visible text (or spaces, Zs) stay allowed:
// the check is no wider than Cf, Zl and Zp.
TEST_F(RecordTest, ProfileVisibleNeighboursOfFormatCharactersAccepted) {
  Record r = Entry(bank_a_, 1, Hash256{});
  ProfileBody p = SampleProfile();
  // U+00B7 middle dot (in transliterated names), U+2010 hyphen, U+2027 hyphenation point,
  // U+202F narrow no-break space, U+205F medium mathematical space, U+3000 ideographic space,
  // U+1F3E6 bank (4 bytes).
  p.legal_name_zh = "示例" + Utf8(0x00b7) + "银行" + Utf8(0x3000) + Utf8(0x1f3e6);
  p.legal_name_en = "Example" + Utf8(0x2010) + "Bank" + Utf8(0x2027) + Utf8(0x202f) + "Co.";
  p.appeal_address = "北京市" + Utf8(0x205f) + "金融大街1号";
  r.body = p;
  Result<VerifiedRecord> v = Check(Sign(r, bank_a_));
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->record().profile()->legal_name_zh, p.legal_name_zh);
}

TEST_F(RecordTest, ProfileOfUnknownKindRefused) {
  for (uint16_t kind : {uint16_t{0}, uint16_t{4}}) {
    SignedRecord raw = SignRaw(
        [&](wire::Record::Builder b) {
          auto w = b.getBody().initProfile();
          w.setLegalNameZh("示例银行");
          w.setLegalNameEn("Example Bank");
          w.setKind(static_cast<wire::InstitutionKind>(kind));
          w.setAppealPhone("95588");
        },
        bank_a_);
    ExpectRefused(raw, ErrorKind::kMalformed, "institution kind");
  }
}

TEST_F(RecordTest, OnlyARegulatorsProfileSaysRegulator) {
  Record r = Entry(bank_a_, 1, Hash256{});
  ProfileBody p = SampleProfile();
  p.kind = InstitutionKind::kRegulator;
  r.body = p;
  ExpectRefused(Sign(r, bank_a_), ErrorKind::kUnauthorized, "regulator");
  Record by_regulator = Entry(regulator_, 1, Hash256{});
  by_regulator.body = p;
  EXPECT_TRUE(Check(Sign(by_regulator, regulator_)).ok());
}

TEST_F(RecordTest, ChainVerifiesWithOneSignature) {
  std::vector<SignedRecord> feed = Feed(bank_a_, 50);
  Result<std::vector<VerifiedRecord>> v = VerifyChain(feed, trust_, options_);
  ASSERT_TRUE(v.ok()) << v.error().message;
  ASSERT_EQ(v->size(), 50u);
  EXPECT_FALSE(v->front().signature_checked());
  EXPECT_TRUE(v->back().signature_checked());
  for (size_t i = 0; i < feed.size(); ++i) EXPECT_EQ((*v)[i].hash(), RecordHash(feed[i]));
}

TEST_F(RecordTest, ChainWithBrokenLinkRefused) {
  std::vector<SignedRecord> feed = Feed(bank_a_, 5);
  Hash256 wrong = crypto::Sha256(crypto::AsBytes(std::string_view("not the prev")));
  feed[3] = Sign(Entry(bank_a_, 4, wrong), bank_a_);
  Result<std::vector<VerifiedRecord>> v = VerifyChain(feed, trust_, options_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("BANKA:4"), std::string::npos) << v.error().message;
}

TEST_F(RecordTest, ChainWithTamperedMiddleRecordRefused) {
  std::vector<SignedRecord> feed = Feed(bank_a_, 5);
  // Re-signed by its issuer, but different bytes than the next record's prev vouches for.
  Record changed = Entry(bank_a_, 3, RecordHash(feed[1]));
  std::get<EntryBody>(changed.body).category = Category::kSold;
  feed[2] = Sign(changed, bank_a_);
  Result<std::vector<VerifiedRecord>> v = VerifyChain(feed, trust_, options_);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("BANKA:4"), std::string::npos) << v.error().message;
  // A signature flipped in the middle is not caught by the chain check alone — by design the
  // newest signature vouches for the bytes — but a flipped *byte* is.
  std::vector<SignedRecord> feed2 = Feed(bank_a_, 5);
  feed2[2].bytes[feed2[2].bytes.size() - 9] ^= 1;
  EXPECT_FALSE(VerifyChain(feed2, trust_, options_).ok());
}

TEST_F(RecordTest, ChainWithBadLastSignatureRefused) {
  std::vector<SignedRecord> feed = Feed(bank_a_, 5);
  feed[4].signature[0] ^= 1;
  Result<std::vector<VerifiedRecord>> v = VerifyChain(feed, trust_, options_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::kUnauthorized);
  EXPECT_NE(v.error().message.find("BANKA:5"), std::string::npos);
}

TEST_F(RecordTest, ChainWithGapOrMixedIssuersRefused) {
  std::vector<SignedRecord> feed = Feed(bank_a_, 5);
  std::vector<SignedRecord> gap = {feed[0], feed[2]};
  EXPECT_FALSE(VerifyChain(gap, trust_, options_).ok());
  std::vector<SignedRecord> mixed = {feed[0], Feed(bank_b_, 2)[1]};
  EXPECT_FALSE(VerifyChain(mixed, trust_, options_).ok());
}

TEST_F(RecordTest, EmptyChainIsEmpty) {
  Result<std::vector<VerifiedRecord>> v = VerifyChain({}, trust_, options_);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->empty());
}

TEST(EntryId, PrintsAndParses) {
  EXPECT_EQ((EntryId{"BANKA", 42}).ToString(), "BANKA:42");
  Result<EntryId> id = ParseEntryId("BANKA:42");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->issuer, "BANKA");
  EXPECT_EQ(id->seq, 42u);
  for (std::string_view bad : {"", "BANKA", "BANKA:", ":1", "banka:1", "BANKA:0", "BANKA:-1",
                               "BANKA:01", "BANKA:1x", "BANKA:99999999999999999999", "B:1"}) {
    Result<EntryId> r = ParseEntryId(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(r.error().message.find("ISSUER:SEQ"), std::string::npos);
  }
}

TEST(Vocabulary, NamesRoundTrip) {
  for (int i = 1; i <= 7; ++i) {
    auto c = static_cast<Category>(i);
    EXPECT_EQ(ParseCategory(CategoryName(c)), c);
  }
  for (int i = 1; i <= 3; ++i) {
    auto b = static_cast<Basis>(i);
    EXPECT_EQ(ParseBasis(BasisName(b)), b);
  }
  for (int i = 1; i <= 6; ++i) {
    auto r = static_cast<RevocationReason>(i);
    EXPECT_EQ(ParseRevocationReason(RevocationReasonName(r)), r);
  }
  for (int i = 1; i <= 3; ++i) {
    auto k = static_cast<InstitutionKind>(i);
    EXPECT_EQ(ParseInstitutionKind(InstitutionKindName(k)), k);
  }
  EXPECT_EQ(ParseInstitutionKind("payment_institution"), std::nullopt);
  EXPECT_EQ(ParseCategory("rented_out"), std::nullopt);
  EXPECT_NE(AllCategoryNames().find("fraud-use"), std::string::npos);
}

}  // namespace
}  // namespace duanka::protocol
