// Private to protocol/: the canonical encoder. Decoding is public (DecodeRecord in record.h).
#pragma once

#include <string>

#include "protocol/record.h"

namespace duanka::protocol {

// Range-checks the record (kInvalidInput) and returns its canonical Cap'n Proto bytes.
Result<std::string> EncodeRecord(const Record& record);

}  // namespace duanka::protocol
