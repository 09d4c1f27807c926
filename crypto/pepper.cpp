// The pepper file: the consortium's subject-hashing keys, one per epoch (format in
// protocol/README.md). Parse errors name the line, never a key.
#include <sodium.h>

#include <charconv>
#include <limits>

#include "crypto/crypto.h"

namespace duanka::crypto {
namespace {

constexpr std::string_view kMagic = "duanka-pepper 1";
// A pepper file holds a handful of 64-hex-digit keys; anything much larger is not one.
constexpr size_t kMaxPepperFileBytes = 64 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// 64 hex digits into `key`, without the heap copy FromHex would make (and leave unwiped when a
// digit is bad half-way). False on anything else; `key` is then partly written, and the caller
// wipes it either way.
bool DecodeKeyHex(std::string_view hex, std::array<uint8_t, kPepperKeySize>& key) {
  if (hex.size() != 2 * kPepperKeySize) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < kPepperKeySize; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    key[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

Error ParseError(size_t line, const std::string& what) {
  return MakeError(ErrorKind::kInvalidInput,
                   "pepper file line " + std::to_string(line) + ": " + what);
}

}  // namespace

struct Pepper::Epoch {
  std::array<uint8_t, kPepperKeySize> key_bytes{};
  HmacKey hmac;
  explicit Epoch(ByteView key) : hmac(key) { std::copy(key.begin(), key.end(), key_bytes.begin()); }
  ~Epoch() { sodium_memzero(key_bytes.data(), key_bytes.size()); }
};

Status Pepper::Add(uint32_t epoch, ByteView key_bytes) {
  if (epoch == 0) return MakeError(ErrorKind::kInvalidInput, "pepper epochs start at 1");
  if (key_bytes.size() != kPepperKeySize) {
    return MakeError(ErrorKind::kInvalidInput, "a pepper key must be 32 bytes (64 hex digits)");
  }
  if (epochs_.count(epoch)) {
    return MakeError(ErrorKind::kInvalidInput, "epoch " + std::to_string(epoch) + " appears twice");
  }
  epochs_.emplace(epoch, std::make_shared<const Epoch>(key_bytes));
  current_ = std::max(current_, epoch);
  return Ok();
}

Pepper Pepper::Generate(uint32_t epoch) {
  EnsureInitialized();
  std::array<uint8_t, kPepperKeySize> key;
  randombytes_buf(key.data(), key.size());
  Pepper pepper;
  (void)pepper.Add(epoch == 0 ? 1 : epoch, key);
  sodium_memzero(key.data(), key.size());
  return pepper;
}

uint32_t Pepper::Rotate() {
  if (current_ == std::numeric_limits<uint32_t>::max()) return 0;
  EnsureInitialized();
  std::array<uint8_t, kPepperKeySize> key;
  randombytes_buf(key.data(), key.size());
  uint32_t next = current_ + 1;
  Status added = Add(next, key);
  sodium_memzero(key.data(), key.size());
  return added ? next : 0;
}

Status Pepper::Retire(uint32_t epoch) {
  auto it = epochs_.find(epoch);
  if (it == epochs_.end()) {
    return MakeError(ErrorKind::kInvalidInput,
                     "the pepper holds no epoch " + std::to_string(epoch));
  }
  if (epoch == current_) {
    return MakeError(ErrorKind::kInvalidInput,
                     "epoch " + std::to_string(epoch) +
                         " is the current one; new entries use it (rotate first, then retire the "
                         "old epoch)");
  }
  epochs_.erase(it);
  return Ok();
}

std::optional<uint32_t> Pepper::KeyConflict(const Pepper& other) const {
  for (const auto& [epoch, mine] : epochs_) {
    auto theirs = other.epochs_.find(epoch);
    if (theirs == other.epochs_.end()) continue;
    if (sodium_memcmp(mine->key_bytes.data(), theirs->second->key_bytes.data(), kPepperKeySize) !=
        0) {
      return epoch;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Pepper::NotExtending(const Pepper& older) const {
  if (std::optional<uint32_t> e = KeyConflict(older)) {
    return "epoch " + std::to_string(*e) +
           " has a different key in each file (not the same consortium pepper)";
  }
  for (const auto& [epoch, e] : older.epochs_) {
    if (!epochs_.count(epoch)) return "epoch " + std::to_string(epoch) + " is missing";
  }
  if (current_ <= older.current_) {
    return "it adds no epoch after " + std::to_string(older.current_);
  }
  return std::nullopt;
}

Result<Pepper> Pepper::Parse(std::string_view text) {
  Pepper pepper;
  bool seen_magic = false;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    if (!seen_magic) {
      if (line != kMagic) {
        return ParseError(line_no,
                          "expected the header \"duanka-pepper 1\" (not a pepper file, "
                          "or a newer format)");
      }
      seen_magic = true;
      continue;
    }
    // "epoch <N> <64 hex digits>"
    if (!line.starts_with("epoch ")) return ParseError(line_no, "expected \"epoch N KEYHEX\"");
    line.remove_prefix(6);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return ParseError(line_no, "expected \"epoch N KEYHEX\"");
    uint32_t epoch = 0;
    std::string_view number = line.substr(0, space);
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), epoch);
    if (ec != std::errc() || ptr != number.data() + number.size() || epoch == 0) {
      return ParseError(line_no, "epoch must be a whole number from 1 to 4294967295");
    }
    std::array<uint8_t, kPepperKeySize> key{};
    bool decoded = DecodeKeyHex(Trim(line.substr(space + 1)), key);
    Status added = decoded ? pepper.Add(epoch, key) : Ok();
    sodium_memzero(key.data(), key.size());
    if (!decoded) return ParseError(line_no, "key must be 64 hex digits");
    if (!added) return ParseError(line_no, added.error().message);
  }
  if (!seen_magic) return ParseError(line_no, "empty; expected the header \"duanka-pepper 1\"");
  if (pepper.epochs_.empty()) return ParseError(line_no, "no epochs; expected \"epoch N KEYHEX\"");
  return pepper;
}

Result<Pepper> Pepper::Load(const std::filesystem::path& path) {
  Result<std::string> text = base::ReadSecretFile(path, kMaxPepperFileBytes);
  if (!text) return std::move(text).error();
  Result<Pepper> pepper = Parse(*text);
  sodium_memzero(text->data(), text->size());
  if (!pepper) return MakeError(pepper.error().kind, path.string() + ": " + pepper.error().message);
  return pepper;
}

std::string Pepper::Serialize() const {
  static constexpr std::string_view kComment =
      "# duanka pepper: the consortium's secret subject-hashing keys. Keep this file 0600.\n";
  // "epoch " + at most 10 digits + " " + 64 hex digits + "\n", with room to spare.
  static constexpr size_t kMaxEpochLineBytes = 96;
  std::string out;
  // Reserved once so that the text never moves: a reallocation would free a copy of the keys
  // that nobody wipes.
  out.reserve(kComment.size() + kMagic.size() + 1 + epochs_.size() * kMaxEpochLineBytes);
  out += kComment;
  out += kMagic;
  out += '\n';
  static constexpr char kDigits[] = "0123456789abcdef";
  for (const auto& [epoch, e] : epochs_) {
    out += "epoch ";
    out += std::to_string(epoch);
    out += ' ';
    for (uint8_t b : e->key_bytes) {
      out += kDigits[b >> 4];
      out += kDigits[b & 0xf];
    }
    out += '\n';
  }
  return out;
}

Status Pepper::Save(const std::filesystem::path& path, bool overwrite) const {
  std::string text = Serialize();
  Status status = base::WriteFileAtomic(path, text, 0600, overwrite);
  sodium_memzero(text.data(), text.size());
  return status;
}

std::vector<uint32_t> Pepper::epochs() const {
  std::vector<uint32_t> out;
  for (const auto& [epoch, e] : epochs_) out.push_back(epoch);
  return out;
}

const HmacKey* Pepper::key(uint32_t epoch) const {
  auto it = epochs_.find(epoch);
  return it == epochs_.end() ? nullptr : &it->second->hmac;
}

Hash256 Pepper::Subject(uint32_t epoch, std::string_view type_tag,
                        std::string_view canonical) const {
  static constexpr uint8_t kSeparator = 0;
  return key(epoch)->Mac({AsBytes(type_tag), ByteView(&kSeparator, 1), AsBytes(canonical)});
}

}  // namespace duanka::crypto
