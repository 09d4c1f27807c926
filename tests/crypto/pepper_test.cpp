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
  ASSERT_TRUE(base::WriteFileAtomic(dir / "big", std::string(100, 'x'), 0600, false).ok());
  Result<std::string> read = base::ReadFile(dir / "big", 99);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().kind, ErrorKind::kInvalidInput);
  EXPECT_TRUE(base::ReadFile(dir / "big", 100).ok());
}

TEST(Files, WriteIntoMissingDirectoryIsIoError) {
  testing::TempDir dir;
  Status s = base::WriteFileAtomic(dir / "no" / "such" / "file", "x", 0600, false);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kIo);
}

TEST(Files, OverwriteReplacesAtomically) {
  testing::TempDir dir;
  ASSERT_TRUE(base::WriteFileAtomic(dir / "f", "one", 0644, false).ok());
  ASSERT_TRUE(base::WriteFileAtomic(dir / "f", "two", 0644, true).ok());
  EXPECT_EQ(base::ReadFile(dir / "f", 10).value(), "two");
  // No temporary files left behind.
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

// ---- Rotation -------------------------------------------------------------------------------

TEST(PepperRotation, RotateAddsTheNextEpochAndExtendsTheOld) {
  Pepper old = Pepper::Generate(1);
  Pepper next = old;  // copies share the old keys
  EXPECT_EQ(next.Rotate(), 2u);
  EXPECT_EQ(old.epochs(), (std::vector<uint32_t>{1}));  // the copy rotated, not the original
  EXPECT_EQ(next.epochs(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(next.NotExtending(old), std::nullopt);
  EXPECT_EQ(next.Subject(1, "qq", "12345"), old.Subject(1, "qq", "12345"));
  // The old does not extend the new, nor a pepper itself.
  ASSERT_TRUE(old.NotExtending(next).has_value());
  EXPECT_NE(old.NotExtending(next)->find("missing"), std::string::npos) << *old.NotExtending(next);
  ASSERT_TRUE(old.NotExtending(old).has_value());
  EXPECT_NE(old.NotExtending(old)->find("adds no epoch"), std::string::npos);
}

TEST(PepperRotation, AnotherConsortiumsPepperDoesNotExtend) {
  Pepper ours = Pepper::Generate(1);
  Pepper theirs = Pepper::Generate(1);
  theirs.Rotate();
  EXPECT_EQ(theirs.KeyConflict(ours), 1u);
  ASSERT_TRUE(theirs.NotExtending(ours).has_value());
  EXPECT_NE(theirs.NotExtending(ours)->find("different key"), std::string::npos);
  EXPECT_EQ(ours.KeyConflict(ours), std::nullopt);
}

TEST(PepperRotation, RotateStopsAtTheLastEpoch) {
  Result<Pepper> last = Pepper::Parse("duanka-pepper 1\nepoch 4294967295 " + std::string(kKey1));
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_EQ(last->Rotate(), 0u);
  EXPECT_EQ(last->epochs(), (std::vector<uint32_t>{4294967295u}));
}

TEST(PepperRotation, RetireDropsAnOldEpochButNeverTheCurrent) {
  Result<Pepper> pepper = Pepper::Parse(PepperText());
  ASSERT_TRUE(pepper.ok());
  Status current = pepper->Retire(2);
  ASSERT_FALSE(current.ok());
  EXPECT_NE(current.error().message.find("current"), std::string::npos);
  EXPECT_FALSE(pepper->Retire(7).ok());
  ASSERT_TRUE(pepper->Retire(1).ok());
  EXPECT_EQ(pepper->epochs(), (std::vector<uint32_t>{2}));
  EXPECT_EQ(pepper->key(1), nullptr);
  Result<Pepper> again = Pepper::Parse(pepper->Serialize());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->epochs(), (std::vector<uint32_t>{2}));
}

// ---- Secrets at rest ----------------------------------------------------------------------

TEST(SecretFiles, PepperOpenToGroupOrOthersIsRefusedWithTheChmodToRun) {
  testing::TempDir dir;
  const std::filesystem::path path = dir / "pepper.key";
  ASSERT_TRUE(Pepper::Generate(1).Save(path, false).ok());
  for (mode_t mode : {0640, 0644, 0604, 0620, 0660, 0601}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    Result<Pepper> pepper = Pepper::Load(path);
    ASSERT_FALSE(pepper.ok()) << std::oct << mode;
    EXPECT_EQ(pepper.error().kind, ErrorKind::kIo);
    const std::string& m = pepper.error().message;
    EXPECT_NE(m.find("run `chmod 600 " + path.string() + "`"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  for (mode_t mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    EXPECT_TRUE(Pepper::Load(path).ok()) << std::oct << mode;
  }
}

TEST(SecretFiles, ReadSecretFileNamesTheModeAndReadsWhatReadFileReads) {
  testing::TempDir dir;
  ASSERT_TRUE(base::WriteFileAtomic(dir / "s", "secret", 0640, false).ok());
  Result<std::string> refused = base::ReadSecretFile(dir / "s", 100);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("(mode 0640)"), std::string::npos)
      << refused.error().message;
  // Ordinary files stay readable whatever their mode.
  EXPECT_EQ(base::ReadFile(dir / "s", 100).value(), "secret");
  ASSERT_EQ(::chmod((dir / "s").c_str(), 0600), 0);
  EXPECT_EQ(base::ReadSecretFile(dir / "s", 100).value(), "secret");
  // Larger than the first read buffer, exactly at the limit, and one byte over.
  const std::string big(100'000, 'k');
  ASSERT_TRUE(base::WriteFileAtomic(dir / "big", big, 0600, false).ok());
  EXPECT_EQ(base::ReadSecretFile(dir / "big", big.size()).value(), big);
  EXPECT_FALSE(base::ReadSecretFile(dir / "big", big.size() - 1).ok());
}

TEST(Files, ReadsAFileThatReportsNoSizeAndBoundsIt) {
  // /proc files report size 0 and grow while read: the buffer must grow, and stop at the limit.
  Result<std::string> self = base::ReadFile("/proc/self/maps", size_t{1} << 20);
  ASSERT_TRUE(self.ok()) << self.error().message;
  EXPECT_GT(self->size(), 0u);
  Result<std::string> small = base::ReadFile("/proc/self/maps", 16);
  EXPECT_FALSE(small.ok());
}

TEST(Institution, CodesAndRoles) {
  EXPECT_TRUE(base::IsValidInstitutionCode("BANKA"));
  EXPECT_TRUE(base::IsValidInstitutionCode("B1"));
  EXPECT_FALSE(base::IsValidInstitutionCode("banka"));
  EXPECT_FALSE(base::IsValidInstitutionCode("A"));
  EXPECT_FALSE(base::IsValidInstitutionCode("BANK-A"));
  EXPECT_FALSE(base::IsValidInstitutionCode(std::string(17, 'A')));
  EXPECT_EQ(ParseRole("regulator"), Role::kRegulator);
  EXPECT_EQ(ParseRole("admin"), std::nullopt);
}

}  // namespace
}  // namespace duanka::crypto
