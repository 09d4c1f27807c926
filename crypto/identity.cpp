#include "crypto/crypto.h"

namespace duanka::crypto {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kRegulator:
      return "regulator";
    case Role::kReplica:
      return "replica";
    case Role::kMember:
      break;
  }
  return "member";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "member") return Role::kMember;
  if (name == "regulator") return Role::kRegulator;
  if (name == "replica") return Role::kReplica;
  return std::nullopt;
}

}  // namespace duanka::crypto
