// Private to protocol/: checks on text that comes from outside (case references, peer messages).
#pragma once

#include <string_view>

namespace duanka::protocol::detail {

// Strict UTF-8 with no control characters (C0, DEL, C1): such text may go into logs and tables,
// where a newline or escape could forge a line or a column.
bool IsCleanUtf8Text(std::string_view s);

}  // namespace duanka::protocol::detail
