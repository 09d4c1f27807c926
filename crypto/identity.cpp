#include "crypto/crypto.h"

namespace duanka::crypto {

const char* RoleName(Role role) { return role == Role::kRegulator ? "regulator" : "member"; }

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "member") return Role::kMember;
  if (name == "regulator") return Role::kRegulator;
  return std::nullopt;
}

bool IsValidInstitutionCode(std::string_view code) {
  if (code.size() < 2 || code.size() > kMaxInstitutionCodeLength) return false;
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace duanka::crypto
