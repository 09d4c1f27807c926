#include "crypto/base/base.h"

namespace duanka::base {

bool IsValidInstitutionCode(std::string_view code) {
  if (code.size() < 2 || code.size() > kMaxInstitutionCodeLength) return false;
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace duanka::base
