#include "node/lookup/args.h"

#include "node/lookup/text.h"

namespace duanka::lookup {

Result<protocol::IdType> ParseTypeArg(std::string_view type) {
  std::optional<protocol::IdType> t = protocol::ParseIdType(type);
  if (!t) {
    return MakeError(ErrorKind::kInvalidInput,
                     "unknown identifier type; expected one of " + TypeNames());
  }
  return *t;
}

Result<node::Purpose> ParsePurposeArg(std::string_view purpose) {
  std::optional<node::Purpose> p = node::ParsePurpose(purpose);
  if (!p) {
    return MakeError(ErrorKind::kInvalidInput,
                     "--purpose: unknown purpose; expected one of " + node::AllPurposeNames());
  }
  return *p;
}

}  // namespace duanka::lookup
