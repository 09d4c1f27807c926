#include "crypto/base/result.h"

namespace duanka {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
      return "invalid-input";
    case ErrorKind::kMalformed:
      return "malformed";
    case ErrorKind::kUnauthorized:
      return "unauthorized";
    case ErrorKind::kNotFound:
      return "not-found";
    case ErrorKind::kGap:
      return "gap";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kFrozen:
      return "frozen";
    case ErrorKind::kIo:
      return "io";
    case ErrorKind::kOverloaded:
      return "overloaded";
    case ErrorKind::kNotYet:
      return "not-yet";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "unknown";
}

}  // namespace duanka
