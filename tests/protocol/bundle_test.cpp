// Bundles (protocol/bundle.h): what `duanka-admin export` writes and `import` reads. A bundle
// round-trips exactly, spans several messages when large, and anything else is refused in one
// line that names the problem, never echoing the file.
#include <gtest/gtest.h>

#include "protocol/bundle.h"
#include "protocol/message.h"

namespace duanka::protocol {
namespace {

SignedRecord Fake(char fill, size_t size = 240) {
  return SignedRecord{std::string(size, fill), std::string(crypto::kSignatureSize, 's')};
}

Bundle Sample(size_t records) {
  Bundle b;
  b.consortium = "TESTNET";
  b.certificates = {std::string(600, '\x30'), std::string(500, '\x31')};
  for (size_t i = 0; i < records; ++i) b.records.push_back(Fake(static_cast<char>('a' + i % 26)));
  b.objects = {{"crl", "-----BEGIN X509 CRL-----\n...\n"}, {"notice", std::string(200, '\x07')}};
  return b;
}

void ExpectSame(const Bundle& a, const Bundle& b) {
  EXPECT_EQ(a.consortium, b.consortium);
  EXPECT_EQ(a.certificates, b.certificates);
  EXPECT_EQ(a.objects, b.objects);
  ASSERT_EQ(a.records.size(), b.records.size());
  for (size_t i = 0; i < a.records.size(); ++i) {
    EXPECT_EQ(a.records[i].bytes, b.records[i].bytes) << i;
    EXPECT_EQ(a.records[i].signature, b.records[i].signature) << i;
  }
}

void ExpectRefused(std::string_view file, std::string_view words) {
  Result<Bundle> b = DecodeBundle(file);
  ASSERT_FALSE(b.ok()) << "expected a refusal mentioning: " << words;
  EXPECT_EQ(b.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(b.error().message.find(words), std::string::npos) << b.error().message;
  EXPECT_EQ(b.error().message.find('\n'), std::string::npos) << b.error().message;
}

TEST(BundleTest, RoundTripsExactly) {
  const Bundle b = Sample(3);
  const std::string file = EncodeBundle(b);
  EXPECT_EQ(file.substr(0, kBundleMagic.size()), kBundleMagic);
  Result<Bundle> back = DecodeBundle(file);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(*back, b);
}

TEST(BundleTest, ObjectsOverTheLimitsAreRefusedInOneLine) {
  Bundle b = Sample(1);
  b.objects.push_back({std::string(kMaxObjectNameBytes + 1, 'x'), "body"});
  ExpectRefused(EncodeBundle(b), "name is not 1 to 32 of a-z and '-'");
  b = Sample(1);
  b.objects.push_back({"CRL", "body"});
  ExpectRefused(EncodeBundle(b), "name is not 1 to 32 of a-z and '-'");
  b = Sample(1);
  b.objects.push_back({"crl", std::string(kMaxBundleObjectBytes + 1, 'x')});
  ExpectRefused(EncodeBundle(b), "larger than 4 MiB");
}

TEST(BundleTest, AConsortiumNameWithControlCharactersIsRefused) {
  Bundle b = Sample(1);
  b.consortium = "TEST\x01NET";
  ExpectRefused(EncodeBundle(b), "consortium name is not UTF-8 text without control characters");
}

TEST(BundleTest, EmptyBundleRoundTrips) {
  Bundle b;
  b.consortium = "TESTNET";
  Result<Bundle> back = DecodeBundle(EncodeBundle(b));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(*back, b);
}

TEST(BundleTest, LargeBundleSpansSeveralMessagesAndRoundTrips) {
  const Bundle b = Sample(kBundleRecordsPerMessage * 2 + 5);
  Result<Bundle> back = DecodeBundle(EncodeBundle(b));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(*back, b);
}

TEST(BundleTest, ForeignTruncatedOrPaddedFilesAreRefusedInOneLine) {
  const std::string file = EncodeBundle(Sample(3));
  ExpectRefused("", "bundle");
  ExpectRefused("-----BEGIN X509 CRL-----\n", "bundle");
  ExpectRefused(std::string(kBundleMagic), "");
  for (size_t cut :
       {kBundleMagic.size() + 1, kBundleMagic.size() + 5, file.size() / 2, file.size() - 1}) {
    SCOPED_TRACE(cut);
    Result<Bundle> b = DecodeBundle(std::string_view(file).substr(0, cut));
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error().kind, ErrorKind::kMalformed);
    EXPECT_EQ(b.error().message.find('\n'), std::string::npos) << b.error().message;
  }
  Result<Bundle> padded = DecodeBundle(file + "garbage");
  ASSERT_FALSE(padded.ok());
  EXPECT_EQ(padded.error().message.find("garbage"), std::string::npos) << padded.error().message;
}

}  // namespace
}  // namespace duanka::protocol
