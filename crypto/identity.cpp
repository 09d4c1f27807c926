#include "crypto/crypto.h"

namespace duanka::crypto {

const char* RoleName(Role role) {
  return role == Role::kRegulator ? "regulator" : "member";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "member") return Role::kMember;
  if (name == "regulator") return Role::kRegulator;
  return std::nullopt;
}

}  // namespace duanka::crypto
