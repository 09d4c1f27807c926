// The exit codes of duankad, duanka-admin and duanka, and the one mapping from an ErrorKind to
// them (design.md section 7). Banks script against these numbers: never renumber.
#pragma once

#include "crypto/base/result.h"

namespace duanka::node {

inline constexpr int kExitOk = 0;        // done; duanka: listed (batch: at least one line)
inline constexpr int kExitNotFound = 1;  // as grep's: nothing of what was asked for is held
inline constexpr int kExitInvalid = 2;   // usage error or invalid input
inline constexpr int kExitFailure = 3;   // operational: HOME, store, keys, disk, our own bug

// 3 for what the operator must fix or retry (kIo, kOverloaded) and for our own bugs (kInternal);
// 2 for every refusal of what was asked (the input, or what it contradicts: kInvalidInput,
// kMalformed, kUnauthorized, kNotFound, kGap, kConflict, kFrozen, kNotYet). Callers that load
// HOME's own files (CA, pepper, store, keys) report any failure there as operational: those
// files are the operator's, not the command line's, so they pass kIo whatever the cause.
constexpr int ExitCodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kIo:
    case ErrorKind::kOverloaded:
    case ErrorKind::kInternal:
      return kExitFailure;
    case ErrorKind::kInvalidInput:
    case ErrorKind::kMalformed:
    case ErrorKind::kUnauthorized:
    case ErrorKind::kNotFound:
    case ErrorKind::kGap:
    case ErrorKind::kConflict:
    case ErrorKind::kFrozen:
    case ErrorKind::kNotYet:
      return kExitInvalid;
  }
  return kExitFailure;  // not reached: the switch names every kind
}

// duanka.toml as the three programs load it: missing (kNotFound: no node set up in HOME) is
// operational; present but wrong is the operator's invalid input.
constexpr int ConfigExitCodeFor(ErrorKind kind) {
  return kind == ErrorKind::kNotFound ? kExitFailure : ExitCodeFor(kind);
}

}  // namespace duanka::node
