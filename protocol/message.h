// Messages between nodes: the payload of one frame (protocol/frame.h), one Cap'n Proto message
// whose root is `Message` in schema/messages.capnp. The layout, limits and conversation order are
// written down in protocol/README.md section 6.
//
// This is a pure layer: plain structs, an encoder and a decoder, no sockets and no state. The
// decoder is the boundary for bytes from a peer: it refuses anything out of range with kMalformed
// (penalise the peer and close), and never throws. It checks shapes, not meaning: the records a
// message carries are bounded in size but not verified (that is Verify's job, record.h), and
// whether a `want` or a `hello` makes sense is the sync layer's business.
//
// Everything here is safe to call from any thread; nothing is shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/record.h"

namespace duanka::protocol {

// The version this node speaks, sent in Hello. A node answers another with
// msg::ErrorCode::kVersionMismatch; the decoder accepts any non-zero version.
inline constexpr uint16_t kProtocolVersion = 1;

// Bounds that do not vary by deployment.
// The consortium name is the CA certificate's O: X.520 bounds it at 64 characters, which UTF-8
// spells in at most 256 bytes.
inline constexpr size_t kMaxConsortiumBytes = 256;
// An error message is one line for the peer's log, not a document.
inline constexpr size_t kMaxErrorMessageBytes = 256;

// Per-message bounds the decoder enforces. The frame limit (kDefaultMaxFrameBytes, 8 MiB) bounds
// every message's total size as well; these bound the counts that drive work and memory per item.
struct MessageLimits {
  // Records in one `records` message: 4096 records of at most kMaxRecordBytes (1 KiB) and a 64-byte
  // signature encode to about 4.5 MiB, inside one 8 MiB frame; and a batch that size is what one
  // VerifyChain call and one store transaction comfortably take.
  size_t max_records = 4096;
  // Heads in one `heads` message: one per issuer, and a consortium has a few hundred members. A
  // node with more issuers sends several `heads` messages.
  size_t max_heads = 4096;
  // Certificates in one `certs` message: one or two signing certificates per member.
  size_t max_certs = 1024;
  // One DER certificate: ours are about 600 bytes; 16 KiB admits long extensions, not padding.
  size_t max_cert_bytes = 16 << 10;
  // A `want` may ask for at most what one `records` message can carry, so that one want is
  // answered by one message.
  uint32_t max_want_count = 4096;
  // Evidence pairs in one message: forks are rare events, and each pair is up to 2.2 KiB.
  size_t max_evidence = 256;
  // Pepper epochs in a hello: rotated yearly at most, so 256 is centuries.
  size_t max_pepper_epochs = 256;
  // Consortium objects in one message: one of each name a node holds.
  size_t max_objects = 16;
  // One object: a CRL listing every member of a large consortium is a few hundred KiB.
  size_t max_object_bytes = 4 << 20;
};

// A consortium object's name: a short lowercase word ("crl"), 1 … kMaxObjectNameBytes of a-z, '-'.
inline constexpr size_t kMaxObjectNameBytes = 32;

// The message kinds, mirroring schema/messages.capnp field for field.
namespace msg {

struct Hello {
  uint16_t protocol_version = kProtocolVersion;
  std::string consortium;
  std::string institution;
  std::vector<uint32_t> pepper_epochs;  // ascending, each ≥ 1
  int64_t node_time = 0;                // Unix seconds, > 0
  bool operator==(const Hello&) const = default;
};

struct Certs {
  std::vector<std::string> certificates;  // DER, each 1 … max_cert_bytes
  bool operator==(const Certs&) const = default;
};

struct Head {
  std::string issuer;
  uint64_t seq = 0;  // ≥ 1
  Hash256 hash;
  bool frozen = false;
  bool operator==(const Head&) const = default;
};

struct Heads {
  std::vector<Head> heads;  // at most one per issuer
  bool operator==(const Heads&) const = default;
};

struct Want {
  std::string issuer;
  uint64_t from_seq = 0;  // ≥ 1
  uint32_t count = 0;     // 1 … max_want_count
  bool operator==(const Want&) const = default;
};

struct Records {
  std::vector<SignedRecord> records;  // each issuer's in seq order; may be empty
  bool operator==(const Records& other) const;
};

struct Announce {
  Head head;
  bool operator==(const Announce&) const = default;
};

struct EvidencePair {
  SignedRecord held;
  SignedRecord other;
  bool operator==(const EvidencePair& o) const;
};

struct Evidence {
  std::vector<EvidencePair> pairs;
  bool operator==(const Evidence&) const = default;
};

struct Ping {
  uint64_t nonce = 0;
  bool operator==(const Ping&) const = default;
};

struct Pong {
  uint64_t nonce = 0;
  bool operator==(const Pong&) const = default;
};

struct ConsortiumObject {
  std::string name;  // "crl"
  std::string body;  // its exact bytes (a CRL: PEM)
  bool operator==(const ConsortiumObject&) const = default;
};

struct Objects {
  std::vector<ConsortiumObject> objects;
  bool operator==(const Objects&) const = default;
};

enum class ErrorCode : uint16_t {
  kUnspecified = 0,  // also what a code this node does not know decodes to
  kVersionMismatch = 1,
  kConsortiumMismatch = 2,
  kMalformed = 3,
  kLimitExceeded = 4,
  kUnauthorized = 5,
  kShuttingDown = 6,
};
std::string_view ErrorCodeName(ErrorCode code);  // "version-mismatch", …

struct Error {
  ErrorCode code = ErrorCode::kUnspecified;
  std::string message;  // one line, ≤ kMaxErrorMessageBytes, no control characters
  bool operator==(const Error&) const = default;
};

}  // namespace msg

// One message. The alternatives' order is not the wire order; use the types, not index().
using Message =
    std::variant<msg::Hello, msg::Certs, msg::Heads, msg::Want, msg::Records, msg::Announce,
                 msg::Evidence, msg::Ping, msg::Pong, msg::Error, msg::Objects>;

// "hello", "certs", "heads", "want", "records", "announce", "evidence", "ping", "pong", "error":
// for logs and metrics.
std::string_view MessageKindName(const Message& message);

// The payload of one frame: a Cap'n Proto message with its segment table
// (capnp::messageToFlatArray), a whole number of 8-byte words.
// REQUIRES: the message obeys the ranges DecodeMessage checks (with the receiver's limits), or the
// peer will refuse it and close. Not checked here, so that tests can build hostile messages.
std::string EncodeMessage(const Message& message);

// Decodes one payload. `payload` need not be aligned (it is copied when it is not) and is not
// retained. kMalformed with a one-line reason for bytes that are not exactly one well-formed Cap'n
// Proto message within tight read limits (traversal limit twice the payload's words, nesting
// limit 8), an unknown or unspecified kind, or any field out of range: institution codes not
// [A-Z0-9]{2,16}, hashes not 32 bytes, seqs of 0, counts over `limits`, records over
// kMaxRecordBytes or signatures not 64 bytes, text with control characters or too long.
// Fields added by a newer version of the schema are ignored.
Result<Message> DecodeMessage(std::string_view payload, const MessageLimits& limits = {});

}  // namespace duanka::protocol
