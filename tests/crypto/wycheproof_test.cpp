// Every Wycheproof Ed25519 and HMAC-SHA256 case (tests/vectors/wycheproof, see SOURCE.md) gives
// its expected result through duanka's crypto module.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/crypto.h"

namespace duanka::crypto {
namespace {

nlohmann::json LoadVectors(const std::string& name) {
  std::ifstream in(std::string(DUANKA_TEST_DATA_DIR) + "/wycheproof/" + name);
  EXPECT_TRUE(in.good()) << "missing test data " << name;
  return nlohmann::json::parse(in);
}

Bytes Hex(const nlohmann::json& field) {
  return FromHex(field.get<std::string>()).value();
}

TEST(Wycheproof, Ed25519AllCasesGiveExpectedResult) {
  nlohmann::json doc = LoadVectors("ed25519_test.json");
  int cases = 0;
  for (const auto& group : doc["testGroups"]) {
    Bytes pk = Hex(group["publicKey"]["pk"]);
    ASSERT_EQ(pk.size(), kPublicKeySize);
    PublicKey key;
    std::copy(pk.begin(), pk.end(), key.bytes.begin());
    for (const auto& test : group["tests"]) {
      ++cases;
      const std::string expected = test["result"];
      ASSERT_NE(expected, "acceptable") << "Ed25519 cases are valid or invalid";
      bool accepted = VerifySignature(key, Hex(test["msg"]), Hex(test["sig"]));
      EXPECT_EQ(accepted, expected == "valid")
          << "tcId " << test["tcId"] << ": " << test["comment"].get<std::string>();
    }
  }
  EXPECT_EQ(cases, 151);
  EXPECT_EQ(cases, doc["numberOfTests"].get<int>());
}

TEST(Wycheproof, HmacSha256AllCasesGiveExpectedResult) {
  nlohmann::json doc = LoadVectors("hmac_sha256_test.json");
  int cases = 0;
  for (const auto& group : doc["testGroups"]) {
    const size_t tag_bytes = group["tagSize"].get<size_t>() / 8;
    for (const auto& test : group["tests"]) {
      ++cases;
      Bytes key = Hex(test["key"]);
      Bytes tag = Hex(test["tag"]);
      Hash256 mac = HmacSha256(key, Hex(test["msg"]));
      // A truncated tag is compared on its length; a tag of any other length never matches.
      bool matches =
          tag.size() == tag_bytes && std::equal(tag.begin(), tag.end(), mac.bytes.begin());
      // Prepared-state HMAC must agree with the one-shot one.
      EXPECT_EQ(HmacKey(key).Mac({Hex(test["msg"])}), mac);
      EXPECT_EQ(matches, test["result"] == "valid")
          << "tcId " << test["tcId"] << ": " << test["comment"].get<std::string>();
    }
  }
  EXPECT_EQ(cases, 174);
  EXPECT_EQ(cases, doc["numberOfTests"].get<int>());
}

}  // namespace
}  // namespace duanka::crypto
