// The pepper file and subject derivation.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "crypto/crypto.h"
#include "tests/support/temp_dir.h"

namespace duanka::crypto {
namespace {

constexpr std::string_view kKey1 =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
constexpr std::string_view kKey2 =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

std::string PepperText() {
  return "# comment\nduanka-pepper 1\n\nepoch 1 " + std::string(kKey1) + "\nepoch 2 " +
         std::string(kKey2) + "\n";
}

TEST(Pepper, ParsesEpochsAndPicksNewestAsCurrent) {
  Result<Pepper> pepper = Pepper::Parse(PepperText());
  ASSERT_TRUE(pepper.ok()) << pepper.error().message;
  EXPECT_EQ(pepper->current_epoch(), 2u);
  EXPECT_EQ(pepper->epochs(), (std::vector<uint32_t>{1, 2}));
  EXPECT_NE(pepper->key(1), nullptr);
  EXPECT_EQ(pepper->key(3), nullptr);
}

TEST(Pepper, SubjectIsHmacOfTagZeroCanonical) {
  Result<Pepper> pepper = Pepper::Parse(PepperText());
  ASSERT_TRUE(pepper.ok());
  std::string message = std::string("phone") + '\0' + "+8613800138000";
  EXPECT_EQ(pepper->Subject(1, "phone", "+8613800138000"),
            HmacSha256(FromHex(kKey1).value(), AsBytes(message)));
  // Different epochs, types or values give different subjects.
  EXPECT_NE(pepper->Subject(1, "phone", "+8613800138000"),
            pepper->Subject(2, "phone", "+8613800138000"));
  EXPECT_NE(pepper->Subject(1, "qq", "12345"), pepper->Subject(1, "wechat", "12345"));
}

TEST(Pepper, SerializeParseRoundTrip) {
  Pepper pepper = Pepper::Generate(1);
  uint32_t next = pepper.Rotate();
  EXPECT_EQ(next, 2u);
  Result<Pepper> again = Pepper::Parse(pepper.Serialize());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->current_epoch(), 2u);
  EXPECT_EQ(again->Subject(1, "qq", "12345"), pepper.Subject(1, "qq", "12345"));
  EXPECT_EQ(again->Subject(2, "qq", "12345"), pepper.Subject(2, "qq", "12345"));
}

TEST(Pepper, MalformedFilesRefusedWithLineAndNoKey) {
  const std::vector<std::string> bad = {
      "",
      "duanka-pepper 2\nepoch 1 " + std::string(kKey1),
      "duanka-pepper 1\n",
      "duanka-pepper 1\nepoch 0 " + std::string(kKey1),
      "duanka-pepper 1\nepoch x " + std::string(kKey1),
      "duanka-pepper 1\nepoch 1 " + std::string(kKey1.substr(2)),
      "duanka-pepper 1\nepoch 1 " + std::string(kKey1) + "zz",
      "duanka-pepper 1\nepoch 1 " + std::string(kKey1) + "\nepoch 1 " + std::string(kKey2),
      "duanka-pepper 1\nkey " + std::string(kKey1),
  };
  for (const std::string& text : bad) {
    Result<Pepper> pepper = Pepper::Parse(text);
    ASSERT_FALSE(pepper.ok()) << text;
    EXPECT_EQ(pepper.error().kind, ErrorKind::kInvalidInput);
    EXPECT_NE(pepper.error().message.find("pepper file"), std::string::npos);
    EXPECT_EQ(pepper.error().message.find(kKey1.substr(0, 16)), std::string::npos);
    EXPECT_EQ(pepper.error().message.find('\n'), std::string::npos);
  }
}

TEST(Pepper, SavedFileIsPrivateAndNotOverwritten) {
  testing::TempDir dir;
  Pepper pepper = Pepper::Generate(1);
  ASSERT_TRUE(pepper.Save(dir / "pepper.key", false).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "pepper.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Status again = Pepper::Generate(1).Save(dir / "pepper.key", false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::kConflict);
  Result<Pepper> loaded = Pepper::Load(dir / "pepper.key");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->Subject(1, "qq", "12345"), pepper.Subject(1, "qq", "12345"));
}

TEST(Pepper, MissingFileIsIoErrorNamingPath) {
  testing::TempDir dir;
  Result<Pepper> pepper = Pepper::Load(dir / "absent.key");
  ASSERT_FALSE(pepper.ok());
  EXPECT_EQ(pepper.error().kind, ErrorKind::kIo);
  EXPECT_NE(pepper.error().message.find("absent.key"), std::string::npos);
}

TEST(Files, OversizeFileRefused) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "big", std::string(100, 'x'), 0600, false).ok());
  Result<std::string> read = ReadFile(dir / "big", 99);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().kind, ErrorKind::kInvalidInput);
  EXPECT_TRUE(ReadFile(dir / "big", 100).ok());
}

TEST(Files, WriteIntoMissingDirectoryIsIoError) {
  testing::TempDir dir;
  Status s = WriteFileAtomic(dir / "no" / "such" / "file", "x", 0600, false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kIo);
}

TEST(Files, OverwriteReplacesAtomically) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", "one", 0644, false).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "f", "two", 0644, true).ok());
  EXPECT_EQ(ReadFile(dir / "f", 10).value(), "two");
  // No temporary files left behind.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(Institution, CodesAndRoles) {
  EXPECT_TRUE(IsValidInstitutionCode("BANKA"));
  EXPECT_TRUE(IsValidInstitutionCode("B1"));
  EXPECT_FALSE(IsValidInstitutionCode("banka"));
  EXPECT_FALSE(IsValidInstitutionCode("A"));
  EXPECT_FALSE(IsValidInstitutionCode("BANK-A"));
  EXPECT_FALSE(IsValidInstitutionCode(std::string(17, 'A')));
  EXPECT_EQ(ParseRole("regulator"), Role::kRegulator);
  EXPECT_EQ(ParseRole("admin"), std::nullopt);
}

}  // namespace
}  // namespace duanka::crypto
