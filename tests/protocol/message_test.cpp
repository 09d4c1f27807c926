// Messages between nodes: every kind round-trips, and hostile payloads are refused with
// kMalformed instead of crashing, hanging or allocating what they announce.
#include "protocol/message.h"

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>
#include <set>

#include "protocol/frame.h"
#include "protocol/schema/messages.capnp.h"

namespace duanka::protocol {
namespace {

Hash256 HashOf(std::string_view s) {
  return crypto::Sha256(crypto::AsBytes(s));
}

// Records are not verified by the decoder, so any bytes of a plausible size do.
SignedRecord FakeRecord(char fill, size_t size = 240) {
  return SignedRecord{std::string(size, fill), std::string(crypto::kSignatureSize, 's')};
}

msg::Head SomeHead(std::string issuer, uint64_t seq) {
  return msg::Head{std::move(issuer), seq, HashOf("head"), false};
}

std::vector<Message> OneOfEachKind() {
  return {
      msg::Hello{kProtocolVersion, "华东银行业反诈联盟", "BANKA", {1, 2, 7}, 1'790'000'000},
      msg::Certs{{std::string(600, '\x30'), std::string("\x30\x82\x01\x00", 4)}},
      msg::Heads{{SomeHead("BANKA", 42), msg::Head{"REG01", 7, HashOf("reg"), true}}},
      msg::Want{"BANKB", 1001, 4096},
      msg::Records{{FakeRecord('a'), FakeRecord('b', kMaxRecordBytes)}},
      msg::Announce{SomeHead("BANKC", 1)},
      msg::Evidence{{msg::EvidencePair{FakeRecord('h'), FakeRecord('o')}}},
      msg::Ping{0xfedcba9876543210},
      msg::Pong{0},
      msg::Error{msg::ErrorCode::kShuttingDown, "node is restarting; 稍后重试"},
      msg::Objects{{msg::ConsortiumObject{"crl", "-----BEGIN X509 CRL-----\n..."}}},
  };
}

std::string Flatten(capnp::MessageBuilder& builder) {
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  return std::string(reinterpret_cast<const char*>(flat.begin()), flat.size() * 8);
}

// A payload built directly with the Cap'n Proto builder, bypassing EncodeMessage's types, so that
// fields can be given values the C++ structs cannot hold.
std::string Raw(const std::function<void(wire::Message::Builder)>& build) {
  capnp::MallocMessageBuilder builder;
  build(builder.initRoot<wire::Message>());
  return Flatten(builder);
}

uint64_t WordAt(const std::string& payload, size_t index) {
  uint64_t w;
  std::memcpy(&w, payload.data() + 8 * index, 8);
  return w;
}

void SetWordAt(std::string& payload, size_t index, uint64_t w) {
  std::memcpy(payload.data() + 8 * index, &w, 8);
}

// The index of the only word equal to `value`; fails the test if there is not exactly one.
size_t FindWord(const std::string& payload, uint64_t value) {
  size_t found = SIZE_MAX;
  for (size_t i = 0; i < payload.size() / 8; ++i) {
    if (WordAt(payload, i) == value) {
      EXPECT_EQ(found, SIZE_MAX) << "word found twice";
      found = i;
    }
  }
  EXPECT_NE(found, SIZE_MAX) << "word not found";
  return found;
}

// Expects kMalformed whose message contains `needle`.
void ExpectMalformed(std::string_view payload, std::string_view needle,
                     const MessageLimits& limits = {}) {
  Result<Message> m = DecodeMessage(payload, limits);
  ASSERT_FALSE(m.ok()) << "decoded as " << MessageKindName(*m);
  EXPECT_EQ(m.error().kind, ErrorKind::kMalformed);
  EXPECT_NE(m.error().message.find(needle), std::string::npos) << m.error().message;
  EXPECT_EQ(m.error().message.find('\n'), std::string::npos) << "not one line";
}

// ---- Round trips ---------------------------------------------------------------------------

TEST(MessageTest, EveryMessageKindRoundTrips) {
  const std::vector<Message> all = OneOfEachKind();
  std::set<std::string_view> kinds;
  for (const Message& m : all) {
    SCOPED_TRACE(std::string(MessageKindName(m)));
    kinds.insert(MessageKindName(m));
    const std::string payload = EncodeMessage(m);
    EXPECT_EQ(payload.size() % 8, 0u);
    Result<Message> decoded = DecodeMessage(payload);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_TRUE(*decoded == m);
    // From memory that is not 8-byte aligned, as a payload inside a larger buffer may be.
    const std::string shifted = " " + payload;
    Result<Message> unaligned = DecodeMessage(std::string_view(shifted).substr(1));
    ASSERT_TRUE(unaligned.ok()) << unaligned.error().message;
    EXPECT_TRUE(*unaligned == m);
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<Message>) << "a kind is missing from the test";
}

TEST(MessageTest, EmptyListsRoundTrip) {
  for (const Message& m : std::vector<Message>{msg::Certs{}, msg::Heads{}, msg::Records{},
                                               msg::Evidence{}, msg::Error{}}) {
    Result<Message> decoded = DecodeMessage(EncodeMessage(m));
    ASSERT_TRUE(decoded.ok()) << MessageKindName(m) << ": " << decoded.error().message;
    EXPECT_TRUE(*decoded == m) << MessageKindName(m);
  }
}

TEST(MessageTest, FullRecordsMessageFitsOneFrame) {
  // A peer answering the largest want with the largest records must stay within the frame
  // limit, or honest nodes would disconnect each other.
  const MessageLimits limits;
  msg::Records full;
  full.records.assign(limits.max_records, FakeRecord('r', kMaxRecordBytes));
  const std::string payload = EncodeMessage(full);
  EXPECT_LE(payload.size(), kDefaultMaxFrameBytes);
  Result<Message> decoded = DecodeMessage(payload, limits);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(std::get<msg::Records>(*decoded).records.size(), limits.max_records);
}

// ---- Not a message -------------------------------------------------------------------------

TEST(MessageTest, GarbageMessageRejected) {
  ExpectMalformed("", "empty");
  ExpectMalformed("1234567", "whole number of 8-byte words");
  ExpectMalformed(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n\0\0\0\0\0", 32),
                  "does not decode");
  // A segment table announcing 0xffffffff segments.
  ExpectMalformed(std::string("\xff\xff\xff\xff\0\0\0\0", 8), "does not decode");
  // A segment table announcing a segment far longer than the payload.
  ExpectMalformed(std::string("\0\0\0\0\xff\xff\xff\x0f", 8) + std::string(8, '\0'),
                  "does not decode");
  // Random words: whatever they decode to, the answer is kMalformed or a valid message, and
  // nothing crashes (the fuzz target explores this further).
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 2000; ++i) {
    std::string payload((1 + rng() % 16) * 8, '\0');
    for (char& c : payload) c = static_cast<char>(rng());
    // Half of them with a segment table that fits, so that the words are read as a message.
    if (i % 2 == 0) SetWordAt(payload, 0, uint64_t{payload.size() / 8 - 1} << 32);
    Result<Message> m = DecodeMessage(payload);
    if (!m.ok()) {
      EXPECT_EQ(m.error().kind, ErrorKind::kMalformed);
    }
  }
}

TEST(MessageTest, TrailingBytesRejected) {
  std::string payload = EncodeMessage(msg::Ping{1});
  payload += std::string(8, '\0');
  ExpectMalformed(payload, "bytes after the end");
}

TEST(MessageTest, UnspecifiedKindRejected) {
  // A root struct with every bit zero: the union's 0.
  capnp::MallocMessageBuilder builder;
  builder.initRoot<wire::Message>();
  ExpectMalformed(Flatten(builder), "unspecified");
  // A null root pointer reads as the default (all-zero) struct.
  ExpectMalformed(std::string(16, '\0').replace(4, 1, "\1"), "unspecified");
}

TEST(MessageTest, UnknownKindFromNewerPeerRejected) {
  std::string payload = EncodeMessage(msg::Ping{5});
  // The root's data section is the union discriminant only: segment table, root pointer, then it.
  capnp::FlatArrayMessageReader reader(
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload.data()), payload.size() / 8));
  auto root = reader.getRoot<capnp::AnyStruct>();
  ASSERT_EQ(root.getDataSection().size(), 8u);
  const size_t data_word =
      (reinterpret_cast<const char*>(root.getDataSection().begin()) - payload.data()) / 8;
  SetWordAt(payload, data_word, 99);
  ExpectMalformed(payload, "kind 99 is unknown");
}

// ---- Fields out of range -------------------------------------------------------------------

TEST(MessageTest, ConsortiumObjectsOutsideTheirBoundsRejected) {
  MessageLimits limits;
  limits.max_objects = 1;
  limits.max_object_bytes = 8;
  auto object = [](std::string name, std::string body) {
    return EncodeMessage(msg::Objects{{msg::ConsortiumObject{std::move(name), std::move(body)}}});
  };
  EXPECT_TRUE(DecodeMessage(object("crl", "12345678"), limits).ok());
  ExpectMalformed(object("crl", "123456789"), "expected 1 to 8", limits);
  ExpectMalformed(object("crl", ""), "expected 1 to 8", limits);
  ExpectMalformed(object("CRL", "x"), "name", limits);
  ExpectMalformed(object("", "x"), "name", limits);
  ExpectMalformed(object(std::string(kMaxObjectNameBytes + 1, 'a'), "x"), "name", limits);
  msg::Objects two{{{"crl", "a"}, {"crl", "b"}}};
  ExpectMalformed(EncodeMessage(two), "consortium objects has 2 entries; the limit is 1", limits);
}

TEST(MessageTest, TooManyRecordsRejected) {
  MessageLimits limits;
  limits.max_records = 3;
  msg::Records records{{FakeRecord('a'), FakeRecord('b'), FakeRecord('c')}};
  EXPECT_TRUE(DecodeMessage(EncodeMessage(records), limits).ok());
  records.records.push_back(FakeRecord('d'));
  ExpectMalformed(EncodeMessage(records), "records has 4 entries; the limit is 3", limits);
}

TEST(MessageTest, TooManyHeadsCertsEvidenceOrEpochsRejected) {
  MessageLimits limits;
  limits.max_heads = 2;
  limits.max_certs = 2;
  limits.max_evidence = 1;
  limits.max_pepper_epochs = 2;
  ExpectMalformed(
      EncodeMessage(msg::Heads{{SomeHead("AA", 1), SomeHead("BB", 1), SomeHead("CC", 1)}}),
      "heads has 3 entries", limits);
  ExpectMalformed(EncodeMessage(msg::Certs{{"1", "2", "3"}}), "certs has 3 entries", limits);
  const msg::EvidencePair pair{FakeRecord('h'), FakeRecord('o')};
  ExpectMalformed(EncodeMessage(msg::Evidence{{pair, pair}}), "evidence has 2 entries", limits);
  ExpectMalformed(EncodeMessage(msg::Hello{1, "C", "BANKA", {1, 2, 3}, 1}), "pepper epoch list",
                  limits);
}

TEST(MessageTest, OversizeCertificateRejected) {
  const MessageLimits limits;
  EXPECT_TRUE(
      DecodeMessage(EncodeMessage(msg::Certs{{std::string(limits.max_cert_bytes, 'c')}})).ok());
  ExpectMalformed(EncodeMessage(msg::Certs{{std::string(limits.max_cert_bytes + 1, 'c')}}),
                  "certificate is 16385 bytes");
  ExpectMalformed(EncodeMessage(msg::Certs{{""}}), "certificate is 0 bytes");
}

TEST(MessageTest, WantCountOverLimitOrZeroRejected) {
  MessageLimits limits;
  limits.max_want_count = 100;
  EXPECT_TRUE(DecodeMessage(EncodeMessage(msg::Want{"BANKA", 1, 100}), limits).ok());
  ExpectMalformed(EncodeMessage(msg::Want{"BANKA", 1, 101}), "count is 101", limits);
  ExpectMalformed(EncodeMessage(msg::Want{"BANKA", 1, 0}), "count is 0");
  ExpectMalformed(EncodeMessage(msg::Want{"BANKA", 0, 10}), "from-seq is 0");
}

TEST(MessageTest, BadIssuerCodeRejected) {
  for (const std::string& bad :
       std::vector<std::string>{"", "B", "banka", "BANK-A", "BANKA ", "ABCDEFGHIJKLMNOPQ",
                                std::string("BANK\0A", 6), "银行"}) {
    SCOPED_TRACE(bad);
    ExpectMalformed(EncodeMessage(msg::Want{bad, 1, 1}), "want's issuer is not an institution");
    ExpectMalformed(EncodeMessage(msg::Heads{{SomeHead(bad, 1)}}), "head's issuer");
    ExpectMalformed(EncodeMessage(msg::Announce{SomeHead(bad, 1)}), "announce's issuer");
    ExpectMalformed(EncodeMessage(msg::Hello{1, "C", bad, {1}, 1}), "hello's institution");
  }
}

TEST(MessageTest, ShortHashRejected) {
  for (size_t size : {0, 31, 33}) {
    SCOPED_TRACE(size);
    const std::string hash(size, 'h');
    const auto set_head = [&](wire::Head::Builder head) {
      head.setIssuer("BANKA");
      head.setSeq(3);
      head.setHash(kj::arrayPtr(reinterpret_cast<const kj::byte*>(hash.data()), hash.size()));
    };
    ExpectMalformed(Raw([&](wire::Message::Builder m) { set_head(m.initAnnounce()); }),
                    "hash is " + std::to_string(size) + " bytes, not 32");
    ExpectMalformed(Raw([&](wire::Message::Builder m) { set_head(m.initHeads().initHeads(1)[0]); }),
                    "hash is " + std::to_string(size) + " bytes, not 32");
  }
}

TEST(MessageTest, HeadWithSeqZeroRejected) {
  ExpectMalformed(EncodeMessage(msg::Announce{SomeHead("BANKA", 0)}), "seq is 0");
}

TEST(MessageTest, DuplicateHeadIssuerRejected) {
  ExpectMalformed(
      EncodeMessage(msg::Heads{{SomeHead("BANKA", 1), SomeHead("BANKB", 1), SomeHead("BANKA", 2)}}),
      "issuer twice");
}

TEST(MessageTest, BadSignatureOrRecordSizeRejected) {
  SignedRecord short_signature = FakeRecord('a');
  short_signature.signature.pop_back();
  ExpectMalformed(EncodeMessage(msg::Records{{FakeRecord('a'), short_signature}}),
                  "signature is 63 bytes");
  SignedRecord oversize = FakeRecord('a', kMaxRecordBytes + 8);
  ExpectMalformed(EncodeMessage(msg::Records{{oversize}}), "record is 1032 bytes");
  ExpectMalformed(EncodeMessage(msg::Records{{FakeRecord('a', 0)}}), "record is 0 bytes");
  ExpectMalformed(
      EncodeMessage(msg::Evidence{{msg::EvidencePair{FakeRecord('h'), short_signature}}}),
      "evidence pair's other signature is 63 bytes");
}

TEST(MessageTest, HelloOutOfRangeRejected) {
  const msg::Hello good{1, "华东银行业反诈联盟", "BANKA", {1, 2}, 1'790'000'000};
  ASSERT_TRUE(DecodeMessage(EncodeMessage(good)).ok());
  msg::Hello h = good;
  h.protocol_version = 0;
  ExpectMalformed(EncodeMessage(h), "protocol version is 0");
  h = good;
  h.consortium = "";
  ExpectMalformed(EncodeMessage(h), "consortium name is 0 bytes");
  h.consortium = std::string(kMaxConsortiumBytes + 1, 'c');
  ExpectMalformed(EncodeMessage(h), "consortium name is 257 bytes");
  h.consortium = "Consortium\n2024-01-01 forged log line";
  ExpectMalformed(EncodeMessage(h), "control characters");
  h = good;
  h.pepper_epochs = {2, 1};
  ExpectMalformed(EncodeMessage(h), "not strictly ascending");
  h.pepper_epochs = {1, 1};
  ExpectMalformed(EncodeMessage(h), "not strictly ascending");
  h.pepper_epochs = {0, 1};
  ExpectMalformed(EncodeMessage(h), "epoch 0");
  h = good;
  h.node_time = -1;
  ExpectMalformed(EncodeMessage(h), "node time");
}

TEST(MessageTest, ErrorTextWithControlCharactersOrTooLongRejected) {
  ExpectMalformed(EncodeMessage(msg::Error{msg::ErrorCode::kMalformed, "bad\x1b[31m red"}),
                  "control characters");
  ExpectMalformed(EncodeMessage(msg::Error{msg::ErrorCode::kMalformed, "\xc2\x85 (NEL)"}),
                  "control characters");
  ExpectMalformed(EncodeMessage(msg::Error{msg::ErrorCode::kMalformed, "\xff\xfe not UTF-8"}),
                  "control characters");
  ExpectMalformed(EncodeMessage(msg::Error{msg::ErrorCode::kMalformed, std::string(257, 'e')}),
                  "257 bytes");
  EXPECT_TRUE(
      DecodeMessage(EncodeMessage(msg::Error{msg::ErrorCode::kMalformed, std::string(256, 'e')}))
          .ok());
}

TEST(MessageTest, UnknownErrorCodeReadsAsUnspecified) {
  const std::string payload = Raw([](wire::Message::Builder m) {
    auto e = m.initError();
    e.setCode(static_cast<wire::ErrorCode>(77));
    e.setMessage("from the future");
  });
  Result<Message> m = DecodeMessage(payload);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(*m == Message(msg::Error{msg::ErrorCode::kUnspecified, "from the future"}));
  EXPECT_EQ(MessageKindName(*m), "error");
  EXPECT_EQ(msg::ErrorCodeName(std::get<msg::Error>(*m).code), "unspecified");
  EXPECT_EQ(msg::ErrorCodeName(msg::ErrorCode::kVersionMismatch), "version-mismatch");
}

// ---- Amplification -------------------------------------------------------------------------

// A Ping whose struct carries one extra pointer, as a newer schema might, pointing to a chain of
// `depth` nested structs.
std::string PingWithExtraPointerChain(int depth) {
  const std::string ping = EncodeMessage(msg::Ping{7});
  capnp::FlatArrayMessageReader original(
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(ping.data()), ping.size() / 8));
  auto root = original.getRoot<capnp::AnyStruct>();
  auto ping_struct = root.getPointerSection()[0].getAs<capnp::AnyStruct>();

  capnp::MallocMessageBuilder builder;
  auto new_root = builder.getRoot<capnp::AnyPointer>().initAsAnyStruct(
      root.getDataSection().size() / 8, root.getPointerSection().size());
  std::memcpy(new_root.getDataSection().begin(), root.getDataSection().begin(),
              root.getDataSection().size());
  auto new_ping = new_root.getPointerSection()[0].initAsAnyStruct(
      ping_struct.getDataSection().size() / 8, ping_struct.getPointerSection().size() + 1);
  std::memcpy(new_ping.getDataSection().begin(), ping_struct.getDataSection().begin(),
              ping_struct.getDataSection().size());
  capnp::AnyPointer::Builder link = new_ping.getPointerSection()[0];
  for (int i = 0; i < depth; ++i) {
    link = link.initAsAnyStruct(1, 1).getPointerSection()[0];
  }
  return Flatten(builder);
}

TEST(MessageTest, FieldsFromANewerVersionIgnored) {
  Result<Message> m = DecodeMessage(PingWithExtraPointerChain(2));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(*m == Message(msg::Ping{7}));
}

TEST(MessageTest, NestingBombRejected) {
  // 40 levels: within Cap'n Proto's default nesting limit of 64, so only a tight limit, applied
  // to the whole message and not just the fields this version reads, refuses it.
  ExpectMalformed(PingWithExtraPointerChain(40), "too deeply-nested");
}

TEST(MessageTest, TraversalBombRejected) {
  // A records message whose elements all point at the same 1 KiB record and signature: a few
  // words per element on the wire, 1 KiB of reading and copying per element for the decoder.
  const auto bomb = [](unsigned copies) {
    capnp::MallocMessageBuilder builder(64 << 10);  // one segment
    auto records = builder.initRoot<wire::Message>().initRecords().initRecords(copies);
    const SignedRecord r = FakeRecord('r', kMaxRecordBytes);
    records[0].setRecord(kj::arrayPtr(reinterpret_cast<const kj::byte*>(r.bytes.data()), 1024));
    records[0].setSignature(
        kj::arrayPtr(reinterpret_cast<const kj::byte*>(r.signature.data()), 64));
    std::string payload = Flatten(builder);
    // The composite list's tag: `copies` elements of 0 data words and 2 pointers.
    const size_t tag = FindWord(payload, uint64_t{copies} << 2 | uint64_t{2} << 48);
    for (size_t field = 0; field < 2; ++field) {
      const uint64_t first = WordAt(payload, tag + 1 + field);
      const int64_t target = static_cast<int64_t>(tag + 1 + field) + 1 +
                             (static_cast<int32_t>(static_cast<uint32_t>(first)) >> 2);
      for (size_t i = 1; i < copies; ++i) {
        const size_t at = tag + 1 + 2 * i + field;
        const int64_t offset = target - static_cast<int64_t>(at) - 1;
        SetWordAt(payload, at,
                  (first & 0xffffffff00000000) | static_cast<uint32_t>(offset << 2) | 1);
      }
    }
    return payload;
  };
  // 4000 of them: within the records limit, about 64 KiB on the wire, 4 MiB to read.
  const std::string payload = bomb(4000);
  EXPECT_LT(payload.size(), 70'000u);
  // The bomb is built right: read without a traversal limit, every element is the full record.
  {
    capnp::ReaderOptions unlimited;
    unlimited.traversalLimitInWords = uint64_t{1} << 40;
    capnp::FlatArrayMessageReader reader(
        kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload.data()), payload.size() / 8),
        unlimited);
    auto records = reader.getRoot<wire::Message>().getRecords().getRecords();
    ASSERT_EQ(records.size(), 4000u);
    for (auto r : records) {
      ASSERT_EQ(r.getRecord().size(), kMaxRecordBytes);
      ASSERT_EQ(r.getSignature().size(), 64u);
    }
  }
  ExpectMalformed(payload, "traversal limit");
}

TEST(MessageTest, ZeroSizedStructListBombRejected) {
  // A heads list claiming 500 million elements of zero bytes each: nothing on the wire, but a
  // decoder that trusted the count would loop or allocate for each.
  std::string payload = Raw([](wire::Message::Builder m) { m.initHeads().initHeads(1); });
  const size_t tag = FindWord(payload, uint64_t{1} << 2 | uint64_t{2} << 32 | uint64_t{2} << 48);
  SetWordAt(payload, tag, uint64_t{500'000'000} << 2);
  // The list pointer (composite element size 7) now covers no words.
  for (size_t i = 0; i < payload.size() / 8; ++i) {
    const uint64_t w = WordAt(payload, i);
    if ((w & 3) == 1 && (w >> 32 & 7) == 7) SetWordAt(payload, i, w & 0x7ffffffff);
  }
  ExpectMalformed(payload, "does not decode");
}

}  // namespace
}  // namespace duanka::protocol
