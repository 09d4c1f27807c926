// A canonical record's bytes packed for storage (Cap'n Proto's packing: runs of zero bytes
// coded away) and restored exactly, so that hashes and signatures over them are untouched.
#include <capnp/serialize-packed.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstring>

#include "protocol/detail/words.h"
#include "protocol/record.h"

namespace duanka::protocol {
namespace {

// A packed record unpacks to one segment of at most kMaxRecordBytes, plus its segment table.
constexpr uint64_t kUnpackLimitWords = kMaxRecordBytes / sizeof(capnp::word) + 1;

}  // namespace

std::string PackRecordBytes(std::string_view canonical) {
  kj::Array<capnp::word> aligned;
  kj::ArrayPtr<const capnp::word> segments[1] = {detail::AlignedWords(canonical, aligned)};
  kj::VectorOutputStream out(canonical.size() + sizeof(capnp::word));
  capnp::writePackedMessage(out, kj::arrayPtr(segments, 1));
  kj::ArrayPtr<kj::byte> packed = out.getArray();
  return std::string(reinterpret_cast<const char*>(packed.begin()), packed.size());
}

std::optional<std::string> UnpackRecordBytes(std::string_view packed) {
  try {
    kj::ArrayInputStream in(
        kj::arrayPtr(reinterpret_cast<const kj::byte*>(packed.data()), packed.size()));
    capnp::ReaderOptions options;
    options.traversalLimitInWords = kUnpackLimitWords;
    capnp::PackedMessageReader reader(in, options);
    kj::ArrayPtr<const capnp::word> segment = reader.getSegment(0);
    // One segment, and nothing after it: anything else is not what PackRecordBytes wrote.
    if (segment.size() == 0 || reader.getSegment(1).size() != 0 ||
        in.tryGetReadBuffer().size() != 0) {
      return std::nullopt;
    }
    return std::string(reinterpret_cast<const char*>(segment.begin()),
                       segment.size() * sizeof(capnp::word));
  } catch (const kj::Exception&) {
    return std::nullopt;
  }
}

}  // namespace duanka::protocol
