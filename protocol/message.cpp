// Message <-> Cap'n Proto flat array (message.h). This is the one place that knows the wire layout
// of messages between nodes; the field rules are in protocol/README.md section 6.
#include "protocol/message.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>

#include <cstring>
#include <set>
#include "protocol/detail/text.h"
#include "protocol/detail/words.h"

#include "protocol/frame.h"
#include "protocol/schema/messages.capnp.h"

namespace duanka::protocol {
namespace {

// The deepest path the schema has is Message → EvidenceList → List(Evidence) → SignedRecord →
// Data: four pointers below the root. 8 leaves room for fields added later and refuses anything
// built to make a traversal recurse.
constexpr int kMessageNestingLimit = 8;
// The decoder walks the message twice: once over every pointer (targetSize, which proves the
// whole message well-formed within the limits, including fields this version does not read) and
// once over the fields it reads, each object once. Twice the payload's words is therefore enough
// for any honest message, and refuses a small message whose pointers share one object to make
// the reader visit it thousands of times.
constexpr uint64_t kTraversalWordsPerPayloadWord = 2;

// A `records` message at the default limits must fit in one default frame, or a peer answering a
// full `want` would exceed the frame limit. Per record: the list element (2 pointer words), the
// record and the signature.
static_assert(MessageLimits{}.max_records * (2 * 8 + kMaxRecordBytes + crypto::kSignatureSize) +
                      4096 <
                  kDefaultMaxFrameBytes,
              "a full records message must fit in one frame");
static_assert(MessageLimits{}.max_want_count == MessageLimits{}.max_records,
              "one want must be answerable by one records message");

Error Malformed(std::string what) {
  return MakeError(ErrorKind::kMalformed, "message: " + std::move(what));
}

kj::ArrayPtr<const kj::byte> Bytes(std::string_view s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

// Text with its exact length: converting a std::string implicitly would stop at an embedded NUL.
capnp::Text::Reader Text(const std::string& s) {
  return capnp::Text::Reader(s.c_str(), s.size());
}

std::string String(capnp::Data::Reader d) {
  return std::string(reinterpret_cast<const char*>(d.begin()), d.size());
}

std::string String(capnp::Text::Reader t) {
  return std::string(t.begin(), t.size());
}

// "heads has 5000 entries; the limit is 4096"
std::string TooMany(std::string_view what, size_t n, size_t limit) {
  return std::string(what) + " has " + std::to_string(n) + " entries; the limit is " +
         std::to_string(limit);
}

// ---- Encoding ------------------------------------------------------------------------------

void WriteSignedRecord(const SignedRecord& in, wire::SignedRecord::Builder out) {
  out.setRecord(Bytes(in.bytes));
  out.setSignature(Bytes(in.signature));
}

void WriteHead(const msg::Head& in, wire::Head::Builder out) {
  out.setIssuer(Text(in.issuer));
  out.setSeq(in.seq);
  out.setHash(kj::arrayPtr(in.hash.bytes.data(), in.hash.bytes.size()));
  out.setFrozen(in.frozen);
}

struct Writer {
  wire::Message::Builder out;

  void operator()(const msg::Hello& m) {
    auto hello = out.initHello();
    hello.setProtocolVersion(m.protocol_version);
    hello.setConsortium(Text(m.consortium));
    hello.setInstitution(Text(m.institution));
    auto epochs = hello.initPepperEpochs(static_cast<unsigned>(m.pepper_epochs.size()));
    for (size_t i = 0; i < m.pepper_epochs.size(); ++i) {
      epochs.set(static_cast<unsigned>(i), m.pepper_epochs[i]);
    }
    hello.setNodeTime(m.node_time);
  }
  void operator()(const msg::Certs& m) {
    auto certs = out.initCerts().initCertificates(static_cast<unsigned>(m.certificates.size()));
    for (size_t i = 0; i < m.certificates.size(); ++i) {
      certs.set(static_cast<unsigned>(i), Bytes(m.certificates[i]));
    }
  }
  void operator()(const msg::Heads& m) {
    auto heads = out.initHeads().initHeads(static_cast<unsigned>(m.heads.size()));
    for (size_t i = 0; i < m.heads.size(); ++i) {
      WriteHead(m.heads[i], heads[static_cast<unsigned>(i)]);
    }
  }
  void operator()(const msg::Want& m) {
    auto want = out.initWant();
    want.setIssuer(Text(m.issuer));
    want.setFromSeq(m.from_seq);
    want.setCount(m.count);
  }
  void operator()(const msg::Records& m) {
    auto records = out.initRecords().initRecords(static_cast<unsigned>(m.records.size()));
    for (size_t i = 0; i < m.records.size(); ++i) {
      WriteSignedRecord(m.records[i], records[static_cast<unsigned>(i)]);
    }
  }
  void operator()(const msg::Announce& m) { WriteHead(m.head, out.initAnnounce()); }
  void operator()(const msg::Evidence& m) {
    auto pairs = out.initEvidence().initEvidence(static_cast<unsigned>(m.pairs.size()));
    for (size_t i = 0; i < m.pairs.size(); ++i) {
      WriteSignedRecord(m.pairs[i].held, pairs[static_cast<unsigned>(i)].initHeld());
      WriteSignedRecord(m.pairs[i].other, pairs[static_cast<unsigned>(i)].initOther());
    }
  }
  void operator()(const msg::Objects& m) {
    auto objects = out.initObjects().initObjects(static_cast<unsigned>(m.objects.size()));
    for (size_t i = 0; i < m.objects.size(); ++i) {
      objects[static_cast<unsigned>(i)].setName(Text(m.objects[i].name));
      objects[static_cast<unsigned>(i)].setBody(
          capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(m.objects[i].body.data()),
                              m.objects[i].body.size()));
    }
  }
  void operator()(const msg::Ping& m) { out.initPing().setNonce(m.nonce); }
  void operator()(const msg::Pong& m) { out.initPong().setNonce(m.nonce); }
  void operator()(const msg::Error& m) {
    auto error = out.initError();
    error.setCode(static_cast<wire::ErrorCode>(m.code));
    error.setMessage(Text(m.message));
  }
};

// ---- Decoding ------------------------------------------------------------------------------
// Each reader below reads every field once: the traversal limit counts every visit.

Result<std::string> ReadIssuer(capnp::Text::Reader text, std::string_view where) {
  std::string issuer = String(text);
  if (!base::IsValidInstitutionCode(issuer)) {
    return Malformed(std::string(where) + " issuer is not an institution code [A-Z0-9]{2,16}");
  }
  return issuer;
}

Result<msg::Head> ReadHead(wire::Head::Reader in, std::string_view where) {
  msg::Head out;
  Result<std::string> issuer = ReadIssuer(in.getIssuer(), where);
  if (!issuer) return std::move(issuer).error();
  out.issuer = std::move(*issuer);
  out.seq = in.getSeq();
  if (out.seq == 0) return Malformed(std::string(where) + " seq is 0; feeds start at 1");
  capnp::Data::Reader hash = in.getHash();
  if (hash.size() != out.hash.bytes.size()) {
    return Malformed(std::string(where) + " hash is " + std::to_string(hash.size()) +
                     " bytes, not 32");
  }
  std::memcpy(out.hash.bytes.data(), hash.begin(), hash.size());
  out.frozen = in.getFrozen();
  return out;
}

Result<SignedRecord> ReadSignedRecord(wire::SignedRecord::Reader in, std::string_view where) {
  capnp::Data::Reader record = in.getRecord();
  capnp::Data::Reader signature = in.getSignature();
  if (record.size() == 0 || record.size() > kMaxRecordBytes) {
    return Malformed(std::string(where) + " record is " + std::to_string(record.size()) +
                     " bytes; expected 1 to " + std::to_string(kMaxRecordBytes));
  }
  if (signature.size() != crypto::kSignatureSize) {
    return Malformed(std::string(where) + " signature is " + std::to_string(signature.size()) +
                     " bytes, not 64");
  }
  return SignedRecord{String(record), String(signature)};
}

Result<Message> ReadHello(wire::Hello::Reader in, const MessageLimits& limits) {
  msg::Hello out;
  out.protocol_version = in.getProtocolVersion();
  if (out.protocol_version == 0) return Malformed("hello's protocol version is 0");
  out.consortium = String(in.getConsortium());
  if (out.consortium.empty() || out.consortium.size() > kMaxConsortiumBytes) {
    return Malformed("hello's consortium name is " + std::to_string(out.consortium.size()) +
                     " bytes; expected 1 to " + std::to_string(kMaxConsortiumBytes));
  }
  if (!detail::IsCleanUtf8Text(out.consortium)) {
    return Malformed("hello's consortium name is not UTF-8 text without control characters");
  }
  out.institution = String(in.getInstitution());
  if (!base::IsValidInstitutionCode(out.institution)) {
    return Malformed("hello's institution is not an institution code [A-Z0-9]{2,16}");
  }
  auto epochs = in.getPepperEpochs();
  if (epochs.size() > limits.max_pepper_epochs) {
    return Malformed(TooMany("hello's pepper epoch list", epochs.size(), limits.max_pepper_epochs));
  }
  out.pepper_epochs.reserve(epochs.size());
  for (uint32_t epoch : epochs) {
    // Ascending without repeats: one way to say one set, and no duplicates to reason about.
    if (epoch == 0) return Malformed("hello names pepper epoch 0; epochs start at 1");
    if (!out.pepper_epochs.empty() && epoch <= out.pepper_epochs.back()) {
      return Malformed("hello's pepper epochs are not strictly ascending");
    }
    out.pepper_epochs.push_back(epoch);
  }
  out.node_time = in.getNodeTime();
  if (out.node_time <= 0) return Malformed("hello's node time is not after 1970");
  return Message(std::move(out));
}

Result<Message> ReadCerts(wire::Certs::Reader in, const MessageLimits& limits) {
  auto certs = in.getCertificates();
  if (certs.size() > limits.max_certs) {
    return Malformed(TooMany("certs", certs.size(), limits.max_certs));
  }
  msg::Certs out;
  out.certificates.reserve(certs.size());
  for (capnp::Data::Reader cert : certs) {
    if (cert.size() == 0 || cert.size() > limits.max_cert_bytes) {
      return Malformed("a certificate is " + std::to_string(cert.size()) +
                       " bytes; expected 1 to " + std::to_string(limits.max_cert_bytes));
    }
    out.certificates.push_back(String(cert));
  }
  return Message(std::move(out));
}

Result<Message> ReadObjects(wire::ConsortiumObjects::Reader in, const MessageLimits& limits) {
  auto objects = in.getObjects();
  if (objects.size() > limits.max_objects) {
    return Malformed(TooMany("consortium objects", objects.size(), limits.max_objects));
  }
  msg::Objects out;
  for (wire::ConsortiumObject::Reader o : objects) {
    std::string name = String(o.getName());
    if (!detail::IsObjectName(name)) {
      return Malformed("a consortium object's name is not 1 to 32 of a-z and '-'");
    }
    capnp::Data::Reader body = o.getBody();  // read once: the traversal limit counts visits
    if (body.size() == 0 || body.size() > limits.max_object_bytes) {
      return Malformed("consortium object " + name + " is " + std::to_string(body.size()) +
                       " bytes; expected 1 to " + std::to_string(limits.max_object_bytes));
    }
    out.objects.push_back(msg::ConsortiumObject{std::move(name), String(body)});
  }
  return Message(std::move(out));
}

Result<Message> ReadHeads(wire::Heads::Reader in, const MessageLimits& limits) {
  auto heads = in.getHeads();
  if (heads.size() > limits.max_heads) {
    return Malformed(TooMany("heads", heads.size(), limits.max_heads));
  }
  msg::Heads out;
  out.heads.reserve(heads.size());
  std::set<std::string_view> issuers;
  for (wire::Head::Reader head : heads) {
    Result<msg::Head> h = ReadHead(head, "a head's");
    if (!h) return std::move(h).error();
    out.heads.push_back(std::move(*h));
  }
  // After the loop: the vector no longer reallocates, so the views stay valid.
  for (const msg::Head& h : out.heads) {
    if (!issuers.insert(h.issuer).second) return Malformed("heads names issuer twice");
  }
  return Message(std::move(out));
}

Result<Message> ReadWant(wire::Want::Reader in, const MessageLimits& limits) {
  msg::Want out;
  Result<std::string> issuer = ReadIssuer(in.getIssuer(), "want's");
  if (!issuer) return std::move(issuer).error();
  out.issuer = std::move(*issuer);
  out.from_seq = in.getFromSeq();
  if (out.from_seq == 0) return Malformed("want's from-seq is 0; feeds start at 1");
  out.count = in.getCount();
  if (out.count == 0 || out.count > limits.max_want_count) {
    return Malformed("want's count is " + std::to_string(out.count) + "; expected 1 to " +
                     std::to_string(limits.max_want_count));
  }
  return Message(std::move(out));
}

Result<Message> ReadRecords(wire::Records::Reader in, const MessageLimits& limits) {
  auto records = in.getRecords();
  if (records.size() > limits.max_records) {
    return Malformed(TooMany("records", records.size(), limits.max_records));
  }
  msg::Records out;
  out.records.reserve(records.size());
  for (wire::SignedRecord::Reader record : records) {
    Result<SignedRecord> r = ReadSignedRecord(record, "a");
    if (!r) return std::move(r).error();
    out.records.push_back(std::move(*r));
  }
  return Message(std::move(out));
}

Result<Message> ReadEvidence(wire::EvidenceList::Reader in, const MessageLimits& limits) {
  auto pairs = in.getEvidence();
  if (pairs.size() > limits.max_evidence) {
    return Malformed(TooMany("evidence", pairs.size(), limits.max_evidence));
  }
  msg::Evidence out;
  out.pairs.reserve(pairs.size());
  for (wire::Evidence::Reader pair : pairs) {
    Result<SignedRecord> held = ReadSignedRecord(pair.getHeld(), "an evidence pair's held");
    if (!held) return std::move(held).error();
    Result<SignedRecord> other = ReadSignedRecord(pair.getOther(), "an evidence pair's other");
    if (!other) return std::move(other).error();
    out.pairs.push_back(msg::EvidencePair{std::move(*held), std::move(*other)});
  }
  return Message(std::move(out));
}

Result<Message> ReadError(wire::Error::Reader in) {
  msg::Error out;
  const auto code = static_cast<uint16_t>(in.getCode());
  // A code added by a newer version reads as unspecified: the message still reaches the log, and
  // the connection closes either way.
  out.code = code <= static_cast<uint16_t>(msg::ErrorCode::kShuttingDown)
                 ? static_cast<msg::ErrorCode>(code)
                 : msg::ErrorCode::kUnspecified;
  out.message = String(in.getMessage());
  if (out.message.size() > kMaxErrorMessageBytes) {
    return Malformed("error's text is " + std::to_string(out.message.size()) +
                     " bytes; the limit is " + std::to_string(kMaxErrorMessageBytes));
  }
  if (!detail::IsCleanUtf8Text(out.message)) {
    return Malformed("error's text is not UTF-8 without control characters");
  }
  return Message(std::move(out));
}

Result<Message> ReadMessage(wire::Message::Reader in, const MessageLimits& limits) {
  switch (in.which()) {
    case wire::Message::UNSPECIFIED:
      return Malformed("kind is unspecified");
    case wire::Message::HELLO:
      return ReadHello(in.getHello(), limits);
    case wire::Message::CERTS:
      return ReadCerts(in.getCerts(), limits);
    case wire::Message::HEADS:
      return ReadHeads(in.getHeads(), limits);
    case wire::Message::WANT:
      return ReadWant(in.getWant(), limits);
    case wire::Message::RECORDS:
      return ReadRecords(in.getRecords(), limits);
    case wire::Message::ANNOUNCE: {
      Result<msg::Head> head = ReadHead(in.getAnnounce(), "announce's");
      if (!head) return std::move(head).error();
      return Message(msg::Announce{std::move(*head)});
    }
    case wire::Message::EVIDENCE:
      return ReadEvidence(in.getEvidence(), limits);
    case wire::Message::PING:
      return Message(msg::Ping{in.getPing().getNonce()});
    case wire::Message::PONG:
      return Message(msg::Pong{in.getPong().getNonce()});
    case wire::Message::ERROR:
      return ReadError(in.getError());
    case wire::Message::OBJECTS:
      return ReadObjects(in.getObjects(), limits);
  }
  // A kind added by a newer version: it is introduced with a new protocol version, which hello
  // negotiates, so a peer that sends one to us is broken.
  return Malformed("kind " + std::to_string(static_cast<unsigned>(in.which())) +
                   " is unknown to protocol version 1");
}

}  // namespace

namespace msg {

bool Records::operator==(const Records& o) const {
  return std::equal(records.begin(), records.end(), o.records.begin(), o.records.end(),
                    [](const SignedRecord& a, const SignedRecord& b) {
                      return a.bytes == b.bytes && a.signature == b.signature;
                    });
}

bool EvidencePair::operator==(const EvidencePair& o) const {
  return held.bytes == o.held.bytes && held.signature == o.held.signature &&
         other.bytes == o.other.bytes && other.signature == o.other.signature;
}

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnspecified:
      return "unspecified";
    case ErrorCode::kVersionMismatch:
      return "version-mismatch";
    case ErrorCode::kConsortiumMismatch:
      return "consortium-mismatch";
    case ErrorCode::kMalformed:
      return "malformed";
    case ErrorCode::kLimitExceeded:
      return "limit-exceeded";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kShuttingDown:
      return "shutting-down";
  }
  return "unspecified";
}

}  // namespace msg

std::string_view MessageKindName(const Message& message) {
  struct Namer {
    std::string_view operator()(const msg::Hello&) const { return "hello"; }
    std::string_view operator()(const msg::Certs&) const { return "certs"; }
    std::string_view operator()(const msg::Heads&) const { return "heads"; }
    std::string_view operator()(const msg::Want&) const { return "want"; }
    std::string_view operator()(const msg::Records&) const { return "records"; }
    std::string_view operator()(const msg::Announce&) const { return "announce"; }
    std::string_view operator()(const msg::Evidence&) const { return "evidence"; }
    std::string_view operator()(const msg::Ping&) const { return "ping"; }
    std::string_view operator()(const msg::Pong&) const { return "pong"; }
    std::string_view operator()(const msg::Error&) const { return "error"; }
    std::string_view operator()(const msg::Objects&) const { return "objects"; }
  };
  return std::visit(Namer{}, message);
}

std::string EncodeMessage(const Message& message) {
  capnp::MallocMessageBuilder builder;
  std::visit(Writer{builder.initRoot<wire::Message>()}, message);
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  return std::string(reinterpret_cast<const char*>(flat.begin()),
                     flat.size() * sizeof(capnp::word));
}

Result<Message> DecodeMessage(std::string_view payload, const MessageLimits& limits) {
  if (payload.empty()) return Malformed("is empty");
  if (payload.size() % sizeof(capnp::word) != 0) {
    return Malformed("is " + std::to_string(payload.size()) +
                     " bytes, not a whole number of 8-byte words");
  }
  const size_t word_count = payload.size() / sizeof(capnp::word);
  kj::Array<capnp::word> aligned;
  kj::ArrayPtr<const capnp::word> words = detail::AlignedWords(payload, aligned);
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kTraversalWordsPerPayloadWord * word_count;
  options.nestingLimit = kMessageNestingLimit;
  try {
    // The constructor checks the segment table against the payload's size.
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      return Malformed("has bytes after the end of its Cap'n Proto message");
    }
    // Walk every pointer once, including fields this version does not know, so that a message is
    // accepted only when all of it is well-formed within the limits.
    reader.getRoot<capnp::AnyPointer>().targetSize();
    return ReadMessage(reader.getRoot<wire::Message>(), limits);
  } catch (const kj::Exception& e) {
    return Malformed("does not decode: " + detail::OneLine(e.getDescription().cStr()));
  }
}

}  // namespace duanka::protocol
