// Evidence files (protocol/evidence_file.h): what `duanka-admin evidence export` writes and
// `evidence verify` reads. A file round-trips exactly; anything else, and anything over a limit, is
// refused in one line that names the problem, never echoing the file; Encode never writes what
// Decode would refuse.
#include <gtest/gtest.h>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "protocol/evidence_file.h"
#include "protocol/schema/record.capnp.h"

namespace duanka::protocol {
namespace {

SignedRecord Fake(char fill, size_t size = 240) {
  return SignedRecord{std::string(size, fill), std::string(crypto::kSignatureSize, 's')};
}

EvidenceFile Sample(size_t pairs, size_t losing = 2) {
  EvidenceFile f;
  f.consortium = "TESTNET";
  f.certificates = {std::string(600, '\x30'), std::string(500, '\x31')};
  for (size_t i = 0; i < pairs; ++i) {
    f.pairs.push_back(EvidencePair{Fake(static_cast<char>('a' + i % 26)),
                                   Fake(static_cast<char>('A' + i % 26), 250)});
  }
  for (size_t i = 0; i < losing; ++i) f.losing.push_back(Fake(static_cast<char>('0' + i % 10)));
  return f;
}

bool SameRecord(const SignedRecord& a, const SignedRecord& b) {
  return a.bytes == b.bytes && a.signature == b.signature;
}

void ExpectSame(const EvidenceFile& a, const EvidenceFile& b) {
  EXPECT_EQ(a.consortium, b.consortium);
  EXPECT_EQ(a.certificates, b.certificates);
  ASSERT_EQ(a.pairs.size(), b.pairs.size());
  for (size_t i = 0; i < a.pairs.size(); ++i) {
    EXPECT_TRUE(SameRecord(a.pairs[i].a, b.pairs[i].a)) << i;
    EXPECT_TRUE(SameRecord(a.pairs[i].b, b.pairs[i].b)) << i;
  }
  ASSERT_EQ(a.losing.size(), b.losing.size());
  for (size_t i = 0; i < a.losing.size(); ++i) EXPECT_TRUE(SameRecord(a.losing[i], b.losing[i]));
}

std::string MustEncode(const EvidenceFile& f) {
  Result<std::string> bytes = EncodeEvidenceFile(f);
  if (!bytes) ADD_FAILURE() << bytes.error().message;
  return bytes ? *bytes : std::string();
}

void ExpectRefused(std::string_view file, std::string_view words) {
  Result<EvidenceFile> f = DecodeEvidenceFile(file);
  ASSERT_FALSE(f.ok()) << "expected a refusal mentioning: " << words;
  EXPECT_EQ(f.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(f.error().message.find(words), std::string::npos) << f.error().message;
  EXPECT_EQ(f.error().message.find('\n'), std::string::npos) << f.error().message;
}

// A file built directly from the schema, for what Encode would never write.
std::string RawFile(size_t pairs, size_t certificates, size_t losing, size_t record_bytes = 200) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::EvidenceFile>();
  root.setVersion(1);
  root.setConsortium("TESTNET");
  const std::string record(record_bytes, 'r');
  const std::string signature(crypto::kSignatureSize, 's');
  auto bytes = [](const std::string& s) {
    return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
  };
  auto certs = root.initCertificates(static_cast<unsigned>(certificates));
  for (unsigned i = 0; i < certificates; ++i) certs.set(i, bytes(std::string(8, 'c')));
  auto ps = root.initPairs(static_cast<unsigned>(pairs));
  for (unsigned i = 0; i < pairs; ++i) {
    for (auto r : {ps[i].initA(), ps[i].initB()}) {
      r.setRecord(bytes(record));
      r.setSignature(bytes(signature));
    }
  }
  auto ls = root.initLosing(static_cast<unsigned>(losing));
  for (unsigned i = 0; i < losing; ++i) {
    ls[i].setRecord(bytes(record));
    ls[i].setSignature(bytes(signature));
  }
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  return std::string(kEvidenceFileMagic) +
         std::string(reinterpret_cast<const char*>(flat.begin()), flat.size() * 8);
}

TEST(EvidenceFileTest, RoundTripsExactly) {
  const EvidenceFile f = Sample(3);
  const std::string file = MustEncode(f);
  EXPECT_EQ(file.substr(0, kEvidenceFileMagic.size()), kEvidenceFileMagic);
  Result<EvidenceFile> back = DecodeEvidenceFile(file);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(*back, f);
}

TEST(EvidenceFileTest, NoLosingRecordsRoundTrips) {
  const EvidenceFile f = Sample(1, 0);
  Result<EvidenceFile> back = DecodeEvidenceFile(MustEncode(f));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(*back, f);
  EXPECT_TRUE(back->losing.empty());
}

TEST(EvidenceFileTest, AFileAtEveryCountLimitRoundTrips) {
  const std::string raw = RawFile(kMaxEvidenceFilePairs, 2, 16);
  Result<EvidenceFile> back = DecodeEvidenceFile(raw);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->pairs.size(), kMaxEvidenceFilePairs);
  Result<std::string> again = EncodeEvidenceFile(*back);
  ASSERT_TRUE(again.ok()) << again.error().message;
  Result<EvidenceFile> twice = DecodeEvidenceFile(*again);
  ASSERT_TRUE(twice.ok()) << twice.error().message;
  ExpectSame(*twice, *back);
}

TEST(EvidenceFileTest, ForeignTruncatedOrPaddedFilesAreRefusedInOneLine) {
  const std::string file = MustEncode(Sample(3));
  ExpectRefused("", "not a duanka evidence file");
  ExpectRefused("duanka-bundle-1\n", "not a duanka evidence file");
  ExpectRefused("-----BEGIN X509 CRL-----\n", "not a duanka evidence file");
  ExpectRefused(std::string(kEvidenceFileMagic), "truncated");
  for (size_t cut :
       {kEvidenceFileMagic.size() + 1, kEvidenceFileMagic.size() + 5, kEvidenceFileMagic.size() + 8,
        file.size() / 2, file.size() - 8, file.size() - 1}) {
    SCOPED_TRACE(cut);
    ExpectRefused(std::string_view(file).substr(0, cut), "truncated");
  }
  Result<EvidenceFile> padded = DecodeEvidenceFile(file + "garbage!");
  ASSERT_FALSE(padded.ok());
  EXPECT_NE(padded.error().message.find("8 bytes after the end"), std::string::npos)
      << padded.error().message;
  EXPECT_EQ(padded.error().message.find("garbage"), std::string::npos) << padded.error().message;
}

TEST(EvidenceFileTest, WrongMagicOrVersionRefused) {
  std::string file = MustEncode(Sample(1));
  std::string other_version = file;
  other_version[kEvidenceFileMagic.size() - 2] = '2';  // "duanka-evidence-2\n"
  ExpectRefused(other_version, "not a duanka evidence file");
  // Version 2 inside a well-formed message.
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::EvidenceFile>();
  root.setVersion(2);
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  ExpectRefused(std::string(kEvidenceFileMagic) +
                    std::string(reinterpret_cast<const char*>(flat.begin()), flat.size() * 8),
                "version 2");
}

TEST(EvidenceFileTest, AConsortiumNameWithAControlCharacterIsRefusedBothWays) {
  // Found by fuzz_evidence_file: a NUL in the name did not survive re-encoding.
  for (std::string name : {std::string("TEST\0NET", 8), std::string("TEST\nNET")}) {
    capnp::MallocMessageBuilder builder;
    auto root = builder.initRoot<wire::EvidenceFile>();
    root.setVersion(1);
    root.setConsortium(capnp::Text::Reader(name.data(), name.size()));
    kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
    ExpectRefused(std::string(kEvidenceFileMagic) +
                      std::string(reinterpret_cast<const char*>(flat.begin()), flat.size() * 8),
                  "control character");
    EvidenceFile f = Sample(1);
    f.consortium = name;
    Result<std::string> refused = EncodeEvidenceFile(f);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().message.find("control character"), std::string::npos);
  }
}

TEST(EvidenceFileTest, OverLimitFilesAreRefusedAndNeverWritten) {
  ExpectRefused(RawFile(kMaxEvidenceFilePairs + 1, 1, 0), "pairs; at most");
  ExpectRefused(RawFile(1, kMaxEvidenceFileCertificates + 1, 0), "certificates; at most");
  ExpectRefused(RawFile(1, 1, kMaxEvidenceFileLosingRecords + 1), "losing-branch records");
  ExpectRefused(RawFile(1, 1, 0, kMaxRecordBytes + 1), "a record is");
  std::string huge(kEvidenceFileMagic);
  huge.resize(kMaxEvidenceFileBytes + 1, '\0');
  ExpectRefused(huge, "at most");

  EvidenceFile f = Sample(1);
  f.pairs.resize(kMaxEvidenceFilePairs + 1, f.pairs[0]);
  Result<std::string> too_many = EncodeEvidenceFile(f);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(too_many.error().message.find("pairs"), std::string::npos);

  EvidenceFile long_record = Sample(1);
  long_record.losing.push_back(Fake('x', kMaxRecordBytes + 1));
  EXPECT_FALSE(EncodeEvidenceFile(long_record).ok());
  EvidenceFile short_signature = Sample(1);
  short_signature.pairs[0].b.signature.pop_back();
  Result<std::string> refused = EncodeEvidenceFile(short_signature);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("signature is 63 bytes"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace duanka::protocol
