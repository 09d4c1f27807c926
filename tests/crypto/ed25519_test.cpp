// Ed25519 through duanka's crypto module: RFC 8032 section 7.1 vectors and round trips.
#include <gtest/gtest.h>

#include "crypto/crypto.h"

namespace duanka::crypto {
namespace {

Bytes Hex(std::string_view hex) {
  return FromHex(hex).value();
}

struct Rfc8032Vector {
  const char* name;
  const char* secret;
  const char* public_key;
  std::string message_hex;
  const char* signature;
};

std::vector<Rfc8032Vector> Rfc8032Vectors() {
  // TEST SHA(abc) signs the 64-byte SHA-512 of "abc".
  const std::string sha512_abc =
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
  return {
      {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
       "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
       "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
       "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
      {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
       "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf", sha512_abc,
       "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
       "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"},
  };
}

TEST(Ed25519, Rfc8032VectorsSignAndVerify) {
  for (const Rfc8032Vector& v : Rfc8032Vectors()) {
    SCOPED_TRACE(v.name);
    Result<SigningKey> key = SigningKey::FromSeed(Hex(v.secret));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(ToHex(key->public_key().bytes), v.public_key);
    Bytes message = Hex(v.message_hex);
    Signature sig = key->Sign(message);
    EXPECT_EQ(ToHex(sig.bytes), v.signature);
    EXPECT_TRUE(VerifySignature(key->public_key(), message, sig.bytes));
  }
}

TEST(Ed25519, GeneratedKeyRoundTrips) {
  SigningKey key = SigningKey::Generate();
  const std::string message = "BANKA:1";
  Signature sig = key.Sign(AsBytes(message));
  EXPECT_TRUE(VerifySignature(key.public_key(), AsBytes(message), sig.bytes));
  Result<SigningKey> again = SigningKey::FromSeed(key.seed());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key(), key.public_key());
}

TEST(Ed25519, EveryFlippedSignatureBitRefused) {
  SigningKey key = SigningKey::Generate();
  const std::string message = "a record's exact bytes";
  Signature sig = key.Sign(AsBytes(message));
  for (size_t bit = 0; bit < sig.bytes.size() * 8; ++bit) {
    Signature bad = sig;
    bad.bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(VerifySignature(key.public_key(), AsBytes(message), bad.bytes)) << "bit " << bit;
  }
}

TEST(Ed25519, OtherKeyOrMessageRefused) {
  SigningKey key = SigningKey::Generate();
  SigningKey other = SigningKey::Generate();
  Signature sig = key.Sign(AsBytes(std::string_view("m")));
  EXPECT_FALSE(VerifySignature(other.public_key(), AsBytes(std::string_view("m")), sig.bytes));
  EXPECT_FALSE(VerifySignature(key.public_key(), AsBytes(std::string_view("n")), sig.bytes));
}

TEST(Ed25519, WrongLengthSignatureRefused) {
  SigningKey key = SigningKey::Generate();
  Signature sig = key.Sign(AsBytes(std::string_view("m")));
  EXPECT_FALSE(VerifySignature(key.public_key(), AsBytes(std::string_view("m")),
                               ByteView(sig.bytes.data(), 63)));
  Bytes longer(sig.bytes.begin(), sig.bytes.end());
  longer.push_back(0);
  EXPECT_FALSE(VerifySignature(key.public_key(), AsBytes(std::string_view("m")), longer));
  EXPECT_FALSE(VerifySignature(key.public_key(), AsBytes(std::string_view("m")), ByteView()));
}

TEST(Ed25519, WrongLengthSeedRefused) {
  Bytes seed(31, 7);
  Result<SigningKey> key = SigningKey::FromSeed(seed);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().kind, ErrorKind::kInvalidInput);
}

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(Sha256(ByteView()).Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256(AsBytes(std::string_view("abc"))).Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256(AsBytes(std::string_view("ab")), AsBytes(std::string_view("c"))).Hex(),
            Sha256(AsBytes(std::string_view("abc"))).Hex());
}

TEST(Hex, RoundTripAndRejects) {
  EXPECT_EQ(ToHex(Hex("00ff10Ab")), "00ff10ab");
  EXPECT_FALSE(FromHex("abc").has_value());
  EXPECT_FALSE(FromHex("zz").has_value());
  EXPECT_TRUE(FromHex("").has_value());
}

}  // namespace
}  // namespace duanka::crypto
