// Identifier canonical forms: part of the consortium's wire protocol.
//
// A subject is a keyed hash of (type, canonical form), so two institutions that canonicalize the
// same identifier differently would never see each other's listings. protocol/identifiers.md is
// the normative, byte-exact specification; this is its reference implementation, and the two
// must change together (any change to a canonical form is a protocol change needing a new pepper
// epoch, since existing subjects would stop matching).
//
// Everything here is a pure function: thread-safe, no locale, no global state, and no heap
// allocation apart from the returned string. Error messages never contain the input, so they may
// be logged and shown as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/base/result.h"

namespace duanka::protocol {

// The numeric values travel in records: never renumber or reuse one.
enum class IdType : uint8_t {
  kCnId = 1,           // resident identity number, GB 11643-1999
  kPhone = 2,          // mainland mobile or other E.164 number
  kBankCard = 3,       // payment card number (PAN), Luhn-valid
  kBankAccount = 4,    // bank account number (domestic or IBAN)
  kWechat = 5,         // WeChat ID
  kAlipay = 6,         // Alipay login: mobile, e-mail or 2088 user id
  kQq = 7,             // QQ number
  kUscc = 8,           // unified social credit code, GB 32100-2015
  kEmail = 9,          // e-mail address
  kPassport = 10,      // passport number without its issuing state: kept for existing entries
  kEcnyWallet = 11,    // e-CNY wallet id
  kPassportIcao = 12,  // passport number qualified by its issuing state's ICAO 9303 code
};

// Inputs longer than this many bytes are refused before any other work. The longest canonical
// form is a 254-byte e-mail address (the RFC 5321 path limit), so nothing valid is lost, and the
// bound lets normalisation run in a fixed stack buffer instead of allocating for hostile input.
inline constexpr size_t kMaxIdentifierInputBytes = 256;

// The type's protocol name, e.g. "cn-id"; "unknown" for a value outside the enum (which can come
// from decoding bytes). The returned view points to static storage.
std::string_view IdTypeName(IdType type);

// The type with exactly this protocol name (lowercase, as IdTypeName returns), else nullopt.
std::optional<IdType> ParseIdType(std::string_view name);

// The type with this wire value, else nullopt: for decoding a type byte from outside.
std::optional<IdType> IdTypeFromWire(uint8_t value);

// Every type, in wire-value order. The span points to static storage.
std::span<const IdType> AllIdTypes();

// The canonical form of `raw` as an identifier of `type` (UTF-8 text, as typed or pasted), or an
// Error{ErrorKind::kInvalidInput, "<type>: <what is wrong>; expected <what>"}. The message is one
// line and never contains the input or any part of it. Canonicalize(type, canonical) returns
// `canonical` again, and a canonical form is never longer than kMaxIdentifierInputBytes.
Result<std::string> Canonicalize(IdType type, std::string_view raw);

// "cn-id, phone, …": the names of every type, or of those that accept new reports, for help and
// messages.
std::string IdTypeNames(bool new_reports_only);

// The one-line refusal for a report of a type that accepts none (see AcceptsNewReports), naming
// its successor.
std::string NoNewReportsMessage(IdType type);

// False for a type kept only so that existing entries stay found (today: kPassport, whose numbers
// lack the issuing state): lookups accept it, new reports must use its successor.
bool AcceptsNewReports(IdType type);

// An identifier in the form an older type gave it, under which entries made before that type's
// successor existed are stored.
struct LegacyForm {
  IdType type;
  std::string_view canonical;  // points into the canonical form it was derived from
};

// For the canonical form of a type that succeeded another (kPassportIcao "CHN:E12345678"), the
// form the old type gave the same identifier (kPassport "E12345678"), so that a lookup also finds
// entries listed before the successor existed; nullopt for every other type.
// REQUIRES: `canonical` is Canonicalize(type, ...)'s output.
std::optional<LegacyForm> LegacyFormOf(IdType type, std::string_view canonical);

}  // namespace duanka::protocol
