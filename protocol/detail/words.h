// Private to protocol/: bytes from outside as the 8-byte words Cap'n Proto reads in place.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace duanka::protocol::detail {

// The whole words of `bytes` (a trailing partial word is left out), in place when the bytes are
// aligned, else copied into `storage`, which must outlive the result.
inline kj::ArrayPtr<const capnp::word> AlignedWords(std::string_view bytes,
                                                    kj::Array<capnp::word>& storage) {
  const size_t count = bytes.size() / sizeof(capnp::word);
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
    return kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.data()), count);
  }
  storage = kj::heapArray<capnp::word>(count);
  std::memcpy(storage.begin(), bytes.data(), count * sizeof(capnp::word));
  return storage.asPtr();
}

}  // namespace duanka::protocol::detail
