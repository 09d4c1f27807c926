// Entry ids "ISSUER:SEQ".
#include <charconv>

#include "protocol/record.h"

namespace duanka::protocol {

std::string EntryId::ToString() const {
  return issuer + ":" + std::to_string(seq);
}

Result<EntryId> ParseEntryId(std::string_view text) {
  static constexpr const char* kExpected =
      "expected ISSUER:SEQ, e.g. BANKA:42 (issuer [A-Z0-9]{2,16}, sequence number from 1)";
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return MakeError(ErrorKind::kInvalidInput, std::string("entry id has no ':'; ") + kExpected);
  }
  std::string_view issuer = text.substr(0, colon);
  std::string_view number = text.substr(colon + 1);
  if (!base::IsValidInstitutionCode(issuer)) {
    return MakeError(ErrorKind::kInvalidInput,
                     std::string("entry id's issuer is not an institution code; ") + kExpected);
  }
  uint64_t seq = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), seq);
  if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() || seq == 0 ||
      number.front() == '0') {
    return MakeError(
        ErrorKind::kInvalidInput,
        std::string("entry id's sequence number is not a number from 1; ") + kExpected);
  }
  return EntryId{std::string(issuer), seq};
}

}  // namespace duanka::protocol
