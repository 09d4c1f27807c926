// Reference implementation of protocol/identifiers.md. The order of the steps here is the order of
// the steps there; a change to either is a protocol change.
//
// Every function works on bounded stack buffers and builds the returned string once, because this
// runs on the lookup path (target: canonical form + HMAC at 3,000,000/s per core).
#include "protocol/identifier.h"

#include <algorithm>
#include <array>
#include <utility>

namespace duanka::protocol {
namespace {

// Why an input was refused, as two fixed phrases. Messages are assembled only from these constants
// and the type name, which is what guarantees that no part of the input reaches a message or log.
struct Refusal {
  std::string_view what;
  std::string_view expected;  // empty: the type's general description is used
};

struct Outcome {
  std::string canonical;
  std::optional<Refusal> refusal;
};

Outcome Accept(std::string canonical) {
  return Outcome{std::move(canonical), std::nullopt};
}
Outcome Refuse(const Refusal& refusal) {
  return Outcome{{}, refusal};
}

// ---- Refusals (identifiers.md, "Error messages") ----

constexpr Refusal kTooLong{"input is too long", "at most 256 bytes"};
constexpr Refusal kInvalidUtf8{"input is not valid UTF-8", "UTF-8 text"};
constexpr Refusal kControlCharacter{"input contains a control character", {}};
constexpr Refusal kNonAscii{"input contains a character outside ASCII and its full-width forms",
                            {}};
constexpr Refusal kEmpty{"input is empty", {}};

constexpr Refusal kCnIdLength{"wrong length", {}};
constexpr Refusal kCnIdCharacters{
    "contains a character other than digits and a final check character",
    "17 digits and a check character 0-9 or X, or 15 digits"};
constexpr Refusal kCnIdCheckCharacter{
    "check character does not match",
    "18 characters per GB 11643-1999 with a valid MOD 11-2 check character"};
constexpr Refusal kCnIdBirthDate{"birth date is not a real date between 1900 and 2100",
                                 "YYYYMMDD at positions 7-14 (YYMMDD at 7-12 for 15 digits)"};

constexpr Refusal kPhoneCharacters{
    "contains a character other than digits, spaces, dashes, a leading + and parentheses around "
    "the country code",
    {}};
constexpr Refusal kPhoneParentheses{
    "has parentheses that do not enclose just a leading country code",
    "(+86), (0086), (86) or (+ and 1-3 digits) at the start"};
constexpr Refusal kPhoneNotMobile{"is not a mainland mobile number", {}};
constexpr Refusal kPhoneCountryCode86NotMobile{
    "has country code 86 but is not a mainland mobile number",
    "+86 and 11 digits starting 13 to 19"};
constexpr Refusal kPhoneCountryCodeZero{"country code starts with 0",
                                        "+ and a country code starting 1 to 9"};
constexpr Refusal kPhoneE164Length{"has the wrong number of digits for E.164",
                                   "+ and at most 15 digits"};
constexpr Refusal kPhoneCountryCodeUnassigned{"country code is not in use",
                                              "+ and a country calling code in use (ITU-T E.164)"};
constexpr Refusal kPhoneNationalLength{
    "has a number of digits that its country code does not use",
    "+, the country code and a national number of a length libphonenumber calls possible there"};

constexpr Refusal kBankCardCharacters{"contains a character other than digits, spaces and dashes",
                                      {}};
constexpr Refusal kBankCardLength{"wrong number of digits", {}};
constexpr Refusal kBankCardLuhn{"fails the Luhn check",
                                "a card number whose last digit is its Luhn check digit"};

constexpr Refusal kBankAccountCharacters{
    "contains a character other than ASCII letters, digits and spaces", {}};
constexpr Refusal kBankAccountLength{"wrong length", {}};

constexpr Refusal kWechatLength{"wrong length", {}};
constexpr Refusal kWechatFirstCharacter{"does not start with an ASCII letter", {}};
constexpr Refusal kWechatCharacters{
    "contains a character other than ASCII letters, digits, _ and -", {}};

constexpr Refusal kQqCharacters{"contains a character other than digits", {}};
constexpr Refusal kQqLength{"wrong number of digits", {}};
constexpr Refusal kQqLeadingZero{"starts with 0", {}};

constexpr Refusal kUsccLength{"wrong length", {}};
constexpr Refusal kUsccCharacters{
    "contains a character outside the GB 32100-2015 character set",
    "digits and the letters A-H, J-N, P-R, T, U, W-Y, with digits at positions 3-8"};
constexpr Refusal kUsccCheckCharacter{
    "check character does not match",
    "18 characters per GB 32100-2015 with a valid mod 31 check character"};

constexpr Refusal kEmailLength{"is longer than 254 bytes", {}};
constexpr Refusal kEmailSpace{"contains a space", {}};
constexpr Refusal kEmailAt{"does not contain exactly one @", {}};
constexpr Refusal kEmailLocalPart{"local part is empty or longer than 64 bytes",
                                  "1 to 64 bytes before the @"};
constexpr Refusal kEmailDomain{
    "domain is not a domain name",
    "two or more dot-separated labels of 1 to 63 ASCII letters, digits or - after the @"};

constexpr Refusal kAlipayNotLogin{"is not a mobile number, an e-mail address or a user id", {}};

constexpr Refusal kPassportCharacters{"contains a character other than ASCII letters and digits",
                                      {}};
constexpr Refusal kPassportLength{"wrong length", {}};

constexpr Refusal kPassportIcaoNoState{
    "has no issuing state",
    "the issuing state's ICAO 9303 code, a colon and the number, e.g. CHN:E01234567"};
constexpr Refusal kPassportIcaoUnknownState{
    "issuing state is not an ICAO 9303 code",
    "an ISO 3166-1 alpha-3 code, D for Germany, or an ICAO code of an issuing organisation such "
    "as UNO before the colon"};
constexpr Refusal kPassportIcaoNationalityOnly{
    "issuing state is a code ICAO 9303 uses only for nationalities",
    "the code of the state or organisation that issued the passport, e.g. GBR, not GBN"};
constexpr Refusal kPassportIcaoNumberCharacters{
    "number contains a character other than ASCII letters and digits",
    "5 to 20 ASCII letters and digits after the colon"};
constexpr Refusal kPassportIcaoNumberLength{"number has the wrong length",
                                            "5 to 20 ASCII letters and digits after the colon"};

constexpr Refusal kEcnyWalletCharacters{"contains a character other than digits and spaces", {}};
constexpr Refusal kEcnyWalletLength{"wrong number of digits", {}};

// ---- ASCII helpers (no locale: the canonical forms must not depend on the host) ----

constexpr bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool IsLetter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
constexpr bool IsLetterOrDigit(char c) {
  return IsDigit(c) || IsLetter(c);
}
constexpr char ToUpper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}
constexpr char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
constexpr bool IsAsciiWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

// REQUIRES: AllDigits(s), s.size() <= 9.
int DigitsValue(std::string_view s) {
  int value = 0;
  for (char c : s) value = value * 10 + (c - '0');
  return value;
}

std::string Uppercased(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToUpper(c);
  return out;
}

std::string Lowercased(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

// A bounded scratch buffer: no input that passed the length limit can overflow it, because every
// step only removes or maps characters (and the widest addition, "19" or "+86", happens on output).
class Scratch {
 public:
  void Push(char c) { bytes_[size_++] = c; }
  // Appends the characters of `text` for which keep(c) holds. A local cursor, because each char
  // store could alias size_ and would force it through memory on every iteration.
  template <typename Keep>
  void AppendIf(std::string_view text, Keep keep) {
    char* end = bytes_.data() + size_;
    for (char c : text) {
      if (keep(c)) *end++ = c;
    }
    size_ = static_cast<size_t>(end - bytes_.data());
  }
  // REQUIRES: pos < size.
  void Erase(size_t pos) {
    std::copy(bytes_.begin() + pos + 1, bytes_.begin() + size_, bytes_.begin() + pos);
    --size_;
  }
  std::string_view view() const { return {bytes_.data(), size_}; }

 private:
  std::array<char, kMaxIdentifierInputBytes> bytes_;
  size_t size_ = 0;
};

// `text` without the separators that the type ignores: spaces, and dashes if `dashes_too`.
Scratch WithoutSeparators(std::string_view text, bool dashes_too) {
  Scratch out;
  if (dashes_too) {
    out.AppendIf(text, [](char c) { return c != ' ' && c != '-'; });
  } else {
    out.AppendIf(text, [](char c) { return c != ' '; });
  }
  return out;
}

constexpr bool kSpacesOnly = false;
constexpr bool kSpacesAndDashes = true;

// ---- Pre-normalisation (identifiers.md section 2) ----

// Stand-ins for decoded code points that have no ASCII form. Both are >= 0x80, so they can never be
// confused with an ASCII character, and the order of the checks in PreNormalize stays the spec's.
constexpr char kC1ControlMark = static_cast<char>(0x80);
constexpr char kOtherNonAsciiMark = static_cast<char>(0xFF);

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF) starting at s[i], with its code point in *cp; 0 if it is not well-formed.
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    *cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    *cp = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    *cp = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < length) return 0;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char next = byte(i + k);
    const unsigned char min = k == 1 ? second_min : 0x80;
    const unsigned char max = k == 1 ? second_max : 0xBF;
    if (next < min || next > max) return 0;
    *cp = (*cp << 6) | (next & 0x3F);
  }
  return length;
}

// Full-width forms U+FF01..U+FF5E are ASCII U+0021..U+007E shifted by 0xFEE0.
char MapNonAscii(char32_t cp) {
  if (cp >= 0xFF01 && cp <= 0xFF5E) return static_cast<char>(cp - 0xFEE0);
  if (cp == 0x3000) return ' ';
  if (cp >= 0x80 && cp <= 0x9F) return kC1ControlMark;
  return kOtherNonAsciiMark;
}

std::string_view TrimAsciiWhitespace(std::string_view s) {
  while (!s.empty() && IsAsciiWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsControl(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b < 0x20 || b == 0x7F || c == kC1ControlMark;
}

// Step 2 and 3 of section 2 for text that is not plain ASCII: decodes UTF-8 strictly and maps
// each code point to one byte of `mapped` (one byte per code point, so `mapped` never outgrows
// the input).
std::optional<Refusal> DecodeAndMap(std::string_view raw, Scratch& mapped) {
  for (size_t i = 0; i < raw.size();) {
    if (static_cast<unsigned char>(raw[i]) < 0x80) {
      mapped.Push(raw[i++]);
      continue;
    }
    char32_t cp = 0;
    const size_t length = DecodeUtf8(raw, i, &cp);
    if (length == 0) return kInvalidUtf8;
    mapped.Push(MapNonAscii(cp));
    i += length;
  }
  return std::nullopt;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Steps 1-6 of section 2: on success `out` holds printable ASCII without leading or trailing
// whitespace (possibly empty), pointing into `raw` or `mapped`.
std::optional<Refusal> PreNormalize(std::string_view raw, Scratch& mapped, std::string_view* out) {
  if (raw.size() > kMaxIdentifierInputBytes) return kTooLong;
  // Most input is ASCII already: it needs no decoding or mapping, and no copy.
  const bool ascii = IsAscii(raw);
  if (!ascii) {
    if (const std::optional<Refusal> refusal = DecodeAndMap(raw, mapped)) return refusal;
  }
  const std::string_view text = TrimAsciiWhitespace(ascii ? raw : mapped.view());
  for (char c : text) {
    if (IsControl(c)) return kControlCharacter;
  }
  if (!ascii && text.find(kOtherNonAsciiMark) != std::string_view::npos) return kNonAscii;
  *out = text;
  return std::nullopt;
}

// ---- cn-id (section 3.1) ----

bool IsLeapYear(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// The century bounds keep the rule independent of today's date, so every institution and every
// replay of a record gives the same answer.
bool IsRealDate(int year, int month, int day) {
  static constexpr std::array<int, 12> kDaysInMonth{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1900 || year > 2100 || month < 1 || month > 12) return false;
  const int days = kDaysInMonth[month - 1] + (month == 2 && IsLeapYear(year) ? 1 : 0);
  return day >= 1 && day <= days;
}

// ISO 7064 MOD 11-2 over 17 digits; weight i is 2^(17-i) mod 11.
char CnIdCheckCharacter(std::string_view seventeen_digits) {
  static constexpr std::array<int, 17> kWeights{7, 9, 10, 5,  8, 4, 2, 1, 6,
                                                3, 7, 9,  10, 5, 8, 4, 2};
  int sum = 0;
  for (size_t i = 0; i < kWeights.size(); ++i) sum += (seventeen_digits[i] - '0') * kWeights[i];
  const int check = (12 - sum % 11) % 11;
  return check == 10 ? 'X' : static_cast<char>('0' + check);
}

Outcome CanonicalCnIdFirstGeneration(std::string_view text) {
  if (!AllDigits(text)) return Refuse(kCnIdCharacters);
  const std::string_view yymmdd = text.substr(6, 6);
  if (!IsRealDate(1900 + DigitsValue(yymmdd.substr(0, 2)), DigitsValue(yymmdd.substr(2, 2)),
                  DigitsValue(yymmdd.substr(4, 2)))) {
    return Refuse(kCnIdBirthDate);
  }
  std::string out;
  out.reserve(18);
  out.append(text.substr(0, 6)).append("19").append(text.substr(6));
  out.push_back(CnIdCheckCharacter(out));
  return Accept(std::move(out));
}

Outcome CanonicalCnId(std::string_view text) {
  if (text.size() == 15) return CanonicalCnIdFirstGeneration(text);
  if (text.size() != 18) return Refuse(kCnIdLength);
  const char last = ToUpper(text[17]);
  if (!AllDigits(text.substr(0, 17)) || !(IsDigit(last) || last == 'X')) {
    return Refuse(kCnIdCharacters);
  }
  if (last != CnIdCheckCharacter(text)) return Refuse(kCnIdCheckCharacter);
  const std::string_view date = text.substr(6, 8);
  if (!IsRealDate(DigitsValue(date.substr(0, 4)), DigitsValue(date.substr(4, 2)),
                  DigitsValue(date.substr(6, 2)))) {
    return Refuse(kCnIdBirthDate);
  }
  std::string out(text);
  out[17] = last;
  return Accept(std::move(out));
}

// ---- phone (section 3.2) ----

// The national number of a mainland mobile, without the trunk prefix 0 that callers dialling from
// another city's landline used to put before it. The trunk form "01[3-9]..." can be nothing else:
// no area code starts 013-019.
std::string_view WithoutTrunkZero(std::string_view national) {
  if (national.size() == 12 && national[0] == '0' && national[1] == '1') national.remove_prefix(1);
  return national;
}

bool IsMainlandMobile(std::string_view national) {
  return national.size() == 11 && national[0] == '1' && national[1] >= '3' && national[1] <= '9' &&
         AllDigits(national);
}

bool IsCountryCodeInParentheses(std::string_view inner) {
  if (inner == "86" || inner == "0086") return true;
  return inner.size() >= 2 && inner.size() <= 4 && inner[0] == '+' && AllDigits(inner.substr(1));
}

// Drops the parentheses of a leading "(+86)", "(0086)", "(86)" or "(+CC)"; false if any other
// parenthesis is present. "+44 (0)20 ..." is refused rather than guessed: the (0) is a trunk
// prefix there, while "+39 (06) ..." keeps its 0, and only per-country metadata could tell.
bool DropCountryCodeParentheses(Scratch& number) {
  const std::string_view s = number.view();
  size_t rest = 0;
  if (!s.empty() && s[0] == '(') {
    const size_t close = s.find(')');
    if (close == std::string_view::npos || !IsCountryCodeInParentheses(s.substr(1, close - 1))) {
      return false;
    }
    rest = close + 1;
  }
  for (char c : s.substr(rest)) {
    if (c == '(' || c == ')') return false;
  }
  if (rest != 0) {
    number.Erase(rest - 1);
    number.Erase(0);
  }
  return true;
}

std::string E164(std::string_view country_code, std::string_view national) {
  std::string out;
  out.reserve(1 + country_code.size() + national.size());
  out.append("+").append(country_code).append(national);
  return out;
}

// ITU-T E.164: country code and national number together.
constexpr size_t kE164MaxDigits = 15;
constexpr size_t kMaxCountryCodeDigits = 3;
constexpr size_t kCountryCodeLimit = 1000;  // country codes have at most 3 digits

// libphonenumber's possible national-number lengths per country calling code, as data (see
// make_phone_lengths.py): the library itself stays out of the lookup path.
struct CallingCodeLengths {
  uint16_t code;
  uint32_t national_lengths;  // bit n: n digits are possible
};
constexpr CallingCodeLengths kCallingCodeLengths[] = {
#include "protocol/phone_lengths.inc"
};

constexpr std::array<uint32_t, kCountryCodeLimit> kNationalLengths = [] {
  std::array<uint32_t, kCountryCodeLimit> lengths{};
  for (const CallingCodeLengths& c : kCallingCodeLengths) lengths[c.code] = c.national_lengths;
  return lengths;
}();

Outcome CanonicalInternationalPhone(std::string_view digits) {
  if (!AllDigits(digits)) return Refuse(kPhoneCharacters);
  if (digits.starts_with("86")) {
    const std::string_view national = WithoutTrunkZero(digits.substr(2));
    if (!IsMainlandMobile(national)) return Refuse(kPhoneCountryCode86NotMobile);
    return Accept(E164("86", national));
  }
  if (digits.empty() || digits.size() > kE164MaxDigits) return Refuse(kPhoneE164Length);
  if (digits[0] == '0') return Refuse(kPhoneCountryCodeZero);
  // Country codes are prefix-free, so the first of the 1-, 2- and 3-digit prefixes that is one
  // is the country code.
  for (size_t n = 1; n <= kMaxCountryCodeDigits && n <= digits.size(); ++n) {
    const uint32_t lengths =
        kNationalLengths[static_cast<size_t>(DigitsValue(digits.substr(0, n)))];
    if (lengths == 0) continue;
    if (((lengths >> (digits.size() - n)) & 1u) == 0) return Refuse(kPhoneNationalLength);
    return Accept(E164("", digits));
  }
  return Refuse(kPhoneCountryCodeUnassigned);
}

Outcome CanonicalMainlandPhone(std::string_view digits) {
  if (!AllDigits(digits)) return Refuse(kPhoneCharacters);
  // Without a +, a national number starts 1 (or 01 with the trunk prefix), so a leading 0086 or
  // 86 can only be the country code.
  std::string_view national = digits;
  if (national.starts_with("0086")) {
    national.remove_prefix(4);
  } else if (national.starts_with("86")) {
    national.remove_prefix(2);
  }
  national = WithoutTrunkZero(national);
  if (!IsMainlandMobile(national)) return Refuse(kPhoneNotMobile);
  return Accept(E164("86", national));
}

Outcome CanonicalPhone(std::string_view text) {
  Scratch number = WithoutSeparators(text, kSpacesAndDashes);
  if (number.view().empty()) return Refuse(kEmpty);
  if (!DropCountryCodeParentheses(number)) return Refuse(kPhoneParentheses);
  const std::string_view s = number.view();
  if (s[0] == '+') return CanonicalInternationalPhone(s.substr(1));
  return CanonicalMainlandPhone(s);
}

// ---- bank-card, bank-account, ecny-wallet, qq (sections 3.3, 3.4, 3.7, 3.11) ----

bool PassesLuhn(std::string_view digits) {
  int sum = 0;
  bool doubled = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (doubled) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    doubled = !doubled;
  }
  return sum % 10 == 0;
}

Outcome CanonicalBankCard(std::string_view text) {
  const Scratch compact = WithoutSeparators(text, kSpacesAndDashes);
  const std::string_view digits = compact.view();
  if (!AllDigits(digits)) return Refuse(kBankCardCharacters);
  if (digits.size() < 12 || digits.size() > 19) return Refuse(kBankCardLength);
  if (!PassesLuhn(digits)) return Refuse(kBankCardLuhn);
  return Accept(std::string(digits));
}

Outcome CanonicalBankAccount(std::string_view text) {
  const Scratch compact = WithoutSeparators(text, kSpacesOnly);
  const std::string_view s = compact.view();
  for (char c : s) {
    if (!IsLetterOrDigit(c)) return Refuse(kBankAccountCharacters);
  }
  if (s.size() < 6 || s.size() > 34) return Refuse(kBankAccountLength);
  return Accept(Uppercased(s));
}

Outcome CanonicalEcnyWallet(std::string_view text) {
  const Scratch compact = WithoutSeparators(text, kSpacesOnly);
  const std::string_view digits = compact.view();
  if (!AllDigits(digits)) return Refuse(kEcnyWalletCharacters);
  if (digits.size() != 16) return Refuse(kEcnyWalletLength);
  return Accept(std::string(digits));
}

Outcome CanonicalQq(std::string_view text) {
  if (!AllDigits(text)) return Refuse(kQqCharacters);
  if (text.size() < 5 || text.size() > 11) return Refuse(kQqLength);
  if (text[0] == '0') return Refuse(kQqLeadingZero);
  return Accept(std::string(text));
}

// ---- wechat, passport (sections 3.5, 3.10) ----

Outcome CanonicalWechat(std::string_view text) {
  if (text.size() < 6 || text.size() > 20) return Refuse(kWechatLength);
  if (!IsLetter(text[0])) return Refuse(kWechatFirstCharacter);
  for (char c : text) {
    if (!IsLetterOrDigit(c) && c != '_' && c != '-') return Refuse(kWechatCharacters);
  }
  return Accept(Lowercased(text));
}

Outcome CanonicalPassport(std::string_view text) {
  for (char c : text) {
    if (!IsLetterOrDigit(c)) return Refuse(kPassportCharacters);
  }
  if (text.size() < 5 || text.size() > 20) return Refuse(kPassportLength);
  return Accept(Uppercased(text));
}

// ---- passport-icao (section 3.12) ----

// ISO 3166-1 alpha-3 (iso-codes 4.15, 249 codes), which ICAO 9303 Part 3 uses for states.
constexpr std::string_view kIso3166Alpha3 =
    "ABWAFGAGOAIAALAALBANDAREARGARMASMATAATFATGAUSAUTAZEBDIBELBENBESBFABGDBGRBHRBHSBIHBLMBLRBLZ"
    "BMUBOLBRABRBBRNBTNBVTBWACAFCANCCKCHECHLCHNCIVCMRCODCOGCOKCOLCOMCPVCRICUBCUWCXRCYMCYPCZEDEU"
    "DJIDMADNKDOMDZAECUEGYERIESHESPESTETHFINFJIFLKFRAFROFSMGABGBRGEOGGYGHAGIBGINGLPGMBGNBGNQGRC"
    "GRDGRLGTMGUFGUMGUYHKGHMDHNDHRVHTIHUNIDNIMNINDIOTIRLIRNIRQISLISRITAJAMJEYJORJPNKAZKENKGZKHM"
    "KIRKNAKORKWTLAOLBNLBRLBYLCALIELKALSOLTULUXLVAMACMAFMARMCOMDAMDGMDVMEXMHLMKDMLIMLTMMRMNEMNG"
    "MNPMOZMRTMSRMTQMUSMWIMYSMYTNAMNCLNERNFKNGANICNIUNLDNORNPLNRUNZLOMNPAKPANPCNPERPHLPLWPNGPOL"
    "PRIPRKPRTPRYPSEPYFQATREUROURUSRWASAUSDNSENSGPSGSSHNSJMSLBSLESLVSMRSOMSPMSRBSSDSTPSURSVKSVN"
    "SWESWZSXMSYCSYRTCATCDTGOTHATJKTKLTKMTLSTONTTOTUNTURTUVTWNTZAUGAUKRUMIURYUSAUZBVATVCTVENVGB"
    "VIRVNMVUTWLFWSMYEMZAFZMBZWE";

// ICAO 9303 Part 3's codes of organisations that issue travel documents (EU, UN, its agencies and
// UNMIK for Kosovo residents, regional bodies, INTERPOL, the Order of Malta), and RKS, printed on
// the Republic of Kosovo's passports though neither ISO nor ICAO lists it.
constexpr std::string_view kIcaoIssuingOrganisations =
    "EUEUNAUNKUNOXBAXCCXCEXCOXDCXECXESXIMXMPXOMXPORKS";

// Codes ICAO 9303 gives only to nationalities (British nationals of several kinds, stateless
// persons, refugees, unspecified): the passport's issuing state is another code (GBR, or the
// state that issued the travel document), so accepting these would give one passport two forms.
constexpr std::string_view kIcaoNationalityOnly = "GBDGBNGBOGBPGBSXXAXXBXXCXXX";

constexpr size_t kLetterCodes = 26 * 26 * 26;

constexpr size_t LetterCodeIndex(std::string_view three_uppercase_letters) {
  size_t index = 0;
  for (char c : three_uppercase_letters) index = index * 26 + static_cast<size_t>(c - 'A');
  return index;
}

enum class StateCode : uint8_t { kUnknown, kIssuer, kNationalityOnly };

constexpr std::array<StateCode, kLetterCodes> kStateCodes = [] {
  std::array<StateCode, kLetterCodes> codes{};
  const auto mark = [&](std::string_view list, StateCode kind) {
    for (size_t i = 0; i + 3 <= list.size(); i += 3) {
      codes[LetterCodeIndex(list.substr(i, 3))] = kind;
    }
  };
  mark(kIso3166Alpha3, StateCode::kIssuer);
  mark(kIcaoIssuingOrganisations, StateCode::kIssuer);
  mark(kIcaoNationalityOnly, StateCode::kNationalityOnly);
  return codes;
}();

// Germany's passports print D (padded "D<<") where ISO 3166 has DEU; both mean one state, so both
// give DEU.
constexpr std::string_view kGermanyIcao = "D";
constexpr std::string_view kGermanyIso = "DEU";

Outcome CanonicalPassportIcao(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return Refuse(kPassportIcaoNoState);
  std::string state = Uppercased(text.substr(0, colon));
  if (state == kGermanyIcao) state = kGermanyIso;
  if (state.size() != 3 ||
      !std::all_of(state.begin(), state.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return Refuse(kPassportIcaoUnknownState);
  }
  switch (kStateCodes[LetterCodeIndex(state)]) {
    case StateCode::kUnknown:
      return Refuse(kPassportIcaoUnknownState);
    case StateCode::kNationalityOnly:
      return Refuse(kPassportIcaoNationalityOnly);
    case StateCode::kIssuer:
      break;
  }
  const std::string_view number = text.substr(colon + 1);
  for (char c : number) {
    if (!IsLetterOrDigit(c)) return Refuse(kPassportIcaoNumberCharacters);
  }
  if (number.size() < 5 || number.size() > 20) return Refuse(kPassportIcaoNumberLength);
  return Accept(state + ":" + Uppercased(number));
}

// ---- uscc (section 3.8) ----

constexpr std::string_view kUsccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";

// Value of each uppercase character in the GB 32100-2015 alphabet, -1 for any other byte.
constexpr std::array<int8_t, 256> kUsccValues = [] {
  std::array<int8_t, 256> values{};
  values.fill(-1);
  for (size_t i = 0; i < kUsccAlphabet.size(); ++i) {
    values[static_cast<unsigned char>(kUsccAlphabet[i])] = static_cast<int8_t>(i);
  }
  return values;
}();

int UsccValue(char c) {
  return kUsccValues[static_cast<unsigned char>(c)];
}

Outcome CanonicalUscc(std::string_view text) {
  if (text.size() != 18) return Refuse(kUsccLength);
  std::string out = Uppercased(text);
  // Weight i is 3^i mod 31.
  static constexpr std::array<int, 17> kWeights{1,  3,  9,  27, 19, 26, 16, 17, 20,
                                                29, 25, 13, 8,  24, 10, 30, 28};
  int sum = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const int value = UsccValue(out[i]);
    const bool division_code = i >= 2 && i < 8;  // administrative division: digits only
    if (value < 0 || (division_code && !IsDigit(out[i]))) return Refuse(kUsccCharacters);
    if (i < kWeights.size()) sum += value * kWeights[i];
  }
  if (out[17] != kUsccAlphabet[(31 - sum % 31) % 31]) return Refuse(kUsccCheckCharacter);
  return Accept(std::move(out));
}

// ---- email (section 3.9) ----

bool IsDomainName(std::string_view domain) {
  size_t labels = 0;
  while (true) {
    const size_t dot = domain.find('.');
    const std::string_view label = domain.substr(0, dot);
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      if (!IsLetterOrDigit(c) && c != '-') return false;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return labels >= 2;
}

Outcome CanonicalEmail(std::string_view text) {
  if (text.size() > 254) return Refuse(kEmailLength);
  if (text.find(' ') != std::string_view::npos) return Refuse(kEmailSpace);
  const size_t at = text.find('@');
  if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) {
    return Refuse(kEmailAt);
  }
  const std::string_view local = text.substr(0, at);
  if (local.empty() || local.size() > 64) return Refuse(kEmailLocalPart);
  if (!IsDomainName(text.substr(at + 1))) return Refuse(kEmailDomain);
  return Accept(Lowercased(text));
}

// ---- alipay (section 3.6) ----

bool IsAlipayUserId(std::string_view text) {
  return text.size() == 16 && text.starts_with("2088") && AllDigits(text);
}

Outcome CanonicalAlipay(std::string_view text) {
  if (text.find('@') != std::string_view::npos) return CanonicalEmail(text);
  if (IsAlipayUserId(text)) return Accept(std::string(text));
  Outcome phone = CanonicalPhone(text);
  // Text that is no phone number at all (a nickname, say) is better described as no Alipay login;
  // other phone refusals keep their specific reason. Either way the expectation is the login's.
  if (phone.refusal && phone.refusal->what == kPhoneCharacters.what) {
    phone.refusal->what = kAlipayNotLogin.what;
  }
  if (phone.refusal) phone.refusal->expected = {};
  return phone;
}

// ---- the type table ----

struct TypeRules {
  IdType type;
  std::string_view name;
  std::string_view expected;  // used in messages whose refusal has no specific expectation
  Outcome (*canonicalize)(std::string_view text);
};

constexpr std::array<TypeRules, 12> kTypeRules{{
    {IdType::kCnId, "cn-id",
     "18 characters per GB 11643-1999 (17 digits and a MOD 11-2 check character 0-9 or X) or a "
     "15-digit first-generation number",
     CanonicalCnId},
    {IdType::kPhone, "phone",
     "a mainland mobile number (11 digits starting 13 to 19, optionally after +86, 0086 or 86) or "
     "another number in E.164 form (+, a country code and a national number of a length used "
     "there, at most 15 digits)",
     CanonicalPhone},
    {IdType::kBankCard, "bank-card",
     "12 to 19 digits passing the Luhn check (spaces and dashes ignored)", CanonicalBankCard},
    {IdType::kBankAccount, "bank-account", "6 to 34 ASCII letters and digits (spaces ignored)",
     CanonicalBankAccount},
    {IdType::kWechat, "wechat",
     "a WeChat ID of 6 to 20 characters: an ASCII letter, then letters, digits, _ or -",
     CanonicalWechat},
    {IdType::kAlipay, "alipay",
     "an Alipay login: a mobile number, an e-mail address or a 16-digit user id starting 2088",
     CanonicalAlipay},
    {IdType::kQq, "qq", "a QQ number of 5 to 11 digits not starting with 0", CanonicalQq},
    {IdType::kUscc, "uscc",
     "18 characters per GB 32100-2015 (digits and letters except I, O, S, V, Z, ending in a valid "
     "check character)",
     CanonicalUscc},
    {IdType::kEmail, "email",
     "an e-mail address of printable ASCII without spaces, at most 254 bytes: local part, one @, "
     "domain name",
     CanonicalEmail},
    {IdType::kPassport, "passport", "5 to 20 ASCII letters and digits", CanonicalPassport},
    {IdType::kEcnyWallet, "ecny-wallet", "an e-CNY wallet id of 16 digits (spaces ignored)",
     CanonicalEcnyWallet},
    {IdType::kPassportIcao, "passport-icao",
     "the issuing state's ICAO 9303 code, a colon and the passport number of 5 to 20 ASCII letters "
     "and digits, e.g. CHN:E01234567",
     CanonicalPassportIcao},
}};

constexpr std::array<IdType, 12> kAllIdTypes{
    IdType::kCnId,   IdType::kPhone,    IdType::kBankCard,   IdType::kBankAccount,
    IdType::kWechat, IdType::kAlipay,   IdType::kQq,         IdType::kUscc,
    IdType::kEmail,  IdType::kPassport, IdType::kEcnyWallet, IdType::kPassportIcao,
};

// The table is indexed by wire value - 1; this keeps it from drifting out of order.
constexpr bool TableMatchesWireValues() {
  for (size_t i = 0; i < kTypeRules.size(); ++i) {
    if (static_cast<size_t>(kTypeRules[i].type) != i + 1 || kAllIdTypes[i] != kTypeRules[i].type) {
      return false;
    }
  }
  return true;
}
static_assert(TableMatchesWireValues());

const TypeRules* RulesFor(IdType type) {
  const auto index = static_cast<size_t>(type) - 1;  // wraps for 0, so one comparison suffices
  return index < kTypeRules.size() ? &kTypeRules[index] : nullptr;
}

Error RefusalError(const TypeRules& rules, const Refusal& refusal) {
  const std::string_view expected = refusal.expected.empty() ? rules.expected : refusal.expected;
  std::string message;
  message.reserve(rules.name.size() + refusal.what.size() + expected.size() + 13);
  message.append(rules.name)
      .append(": ")
      .append(refusal.what)
      .append("; expected ")
      .append(expected);
  return Error{ErrorKind::kInvalidInput, std::move(message)};
}

}  // namespace

std::string_view IdTypeName(IdType type) {
  const TypeRules* rules = RulesFor(type);
  return rules ? rules->name : "unknown";
}

std::optional<IdType> ParseIdType(std::string_view name) {
  for (const TypeRules& rules : kTypeRules) {
    if (rules.name == name) return rules.type;
  }
  return std::nullopt;
}

std::optional<IdType> IdTypeFromWire(uint8_t value) {
  const auto type = static_cast<IdType>(value);
  return RulesFor(type) ? std::optional<IdType>(type) : std::nullopt;
}

std::span<const IdType> AllIdTypes() {
  return kAllIdTypes;
}

bool AcceptsNewReports(IdType type) {
  return type != IdType::kPassport;
}

std::string IdTypeNames(bool new_reports_only) {
  std::string out;
  for (IdType type : kAllIdTypes) {
    if (new_reports_only && !AcceptsNewReports(type)) continue;
    if (!out.empty()) out += ", ";
    out += IdTypeName(type);
  }
  return out;
}

std::string NoNewReportsMessage(IdType type) {
  if (type != IdType::kPassport) return {};
  return "passport: new reports need the issuing state; report passport-icao with the state's "
         "ICAO 9303 code, a colon and the number, e.g. CHN:E01234567 (passport stays for looking "
         "up "
         "entries made before)";
}

std::optional<LegacyForm> LegacyFormOf(IdType type, std::string_view canonical) {
  if (type != IdType::kPassportIcao) return std::nullopt;
  const size_t colon = canonical.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return LegacyForm{IdType::kPassport, canonical.substr(colon + 1)};
}

Result<std::string> Canonicalize(IdType type, std::string_view raw) {
  const TypeRules* rules = RulesFor(type);
  if (!rules) {
    return Error{ErrorKind::kInvalidInput,
                 "identifier: unknown identifier type; expected one of the types in "
                 "protocol/identifiers.md"};
  }
  Scratch mapped;
  std::string_view text;
  if (const std::optional<Refusal> refusal = PreNormalize(raw, mapped, &text)) {
    return RefusalError(*rules, *refusal);
  }
  if (text.empty()) return RefusalError(*rules, kEmpty);
  Outcome outcome = rules->canonicalize(text);
  if (outcome.refusal) return RefusalError(*rules, *outcome.refusal);
  return std::move(outcome.canonical);
}

}  // namespace duanka::protocol
