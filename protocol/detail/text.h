// Private to protocol/: checks on text that comes from outside (case references, peer messages).
#pragma once

#include <string>
#include <string_view>

namespace duanka::protocol::detail {

// Strict UTF-8 with no control characters (C0, DEL, C1): such text may go into logs and tables,
// where a newline or escape could forge a line or a column.
bool IsCleanUtf8Text(std::string_view s);

// A library's error description (Cap'n Proto's can quote the bytes it choked on) as one bounded
// line for a refusal message: control characters become spaces, the length is capped.
std::string OneLine(std::string_view text);

// A consortium object's name, as in `objects` and bundles: 1 to kMaxObjectNameBytes of a-z and
// '-' (message.h).
bool IsObjectName(std::string_view name);

}  // namespace duanka::protocol::detail
