// Validation of the arguments that several commands share. Messages never quote the argument:
// a user who swapped TYPE and VALUE would otherwise see the identifier echoed into a log.
#pragma once

#include <string_view>

#include "crypto/base/result.h"
#include "node/common/lookup.h"
#include "protocol/identifier.h"

namespace duanka::lookup {

// kInvalidInput "unknown identifier type; expected one of cn-id, phone, …".
Result<protocol::IdType> ParseTypeArg(std::string_view type);

// kInvalidInput "--purpose: unknown purpose; expected one of account-opening, …".
Result<node::Purpose> ParsePurposeArg(std::string_view purpose);

}  // namespace duanka::lookup
