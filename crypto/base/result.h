// The one error vocabulary at duanka's module boundaries.
//
// A Result<T> holds either a value or an Error. An Error's kind says what the caller should do
// about it; its message is one line a person reads (it names what was wrong and what is expected)
// and never contains a raw identifier.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace duanka {

enum class ErrorKind {
  kInvalidInput,  // the caller's (or user's) input is wrong: report it, exit 2 / HTTP 400
  kMalformed,     // bytes from outside do not decode or do not verify: penalise the sender
  kUnauthorized,  // well-formed but not allowed (wrong role, unknown signer, foreign entry)
  kNotFound,      // the thing asked for does not exist
  kGap,           // a record does not follow its feed's head: fetch what is missing first
  kConflict,      // contradicts what is held (equivocation, already revoked)
  kFrozen,        // the feed is frozen after a fork; nothing more is taken from it
  kIo,            // disk, file or OS failure: alert the operator
  kOverloaded,    // temporary: retry later
  kNotYet,        // dated ahead of this node's clock: not wrong, hold it back and retry later
  kInternal,      // our own bug
};

const char* ErrorKindName(ErrorKind kind);

struct Error {
  ErrorKind kind;
  std::string message;
};

inline Error MakeError(ErrorKind kind, std::string message) {
  return Error{kind, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design, like std::expected
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // REQUIRES: !ok().
  const Error& error() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& {
    assert(!ok_);
    return error_;
  }
  Error&& error() && {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_{ErrorKind::kInternal, {}};
  bool ok_ = true;
};

using Status = Result<void>;

inline Status Ok() {
  return Status();
}

}  // namespace duanka
