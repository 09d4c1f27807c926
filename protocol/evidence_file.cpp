#include "protocol/evidence_file.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <optional>

#include "protocol/detail/text.h"
#include "protocol/schema/record.capnp.h"

namespace duanka::protocol {
namespace {

constexpr uint16_t kEvidenceFileVersion = 1;
// Nesting: EvidenceFile → List(EvidencePair) → EvidencePair → SignedRecord → Data.
constexpr int kEvidenceNestingLimit = 8;
// The consortium's name is the CA's O; a long one is not a name.
constexpr size_t kMaxConsortiumBytes = 256;

Error Malformed(std::string what) {
  return MakeError(ErrorKind::kMalformed, "evidence file: " + std::move(what));
}

Error OverLimit(std::string what) {
  return MakeError(ErrorKind::kInvalidInput, "evidence file: " + std::move(what));
}

// The name is printed by verify and compared with the CA's; a control character (a NUL above
// all, which Cap'n Proto's Text cannot carry through std::string) is never part of one.
std::optional<std::string> ConsortiumProblem(std::string_view name) {
  if (name.size() > kMaxConsortiumBytes) {
    return "the consortium's name is over " + std::to_string(kMaxConsortiumBytes) + " bytes";
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return std::string("the consortium's name holds a control character");
    }
  }
  return std::nullopt;
}

kj::ArrayPtr<const kj::byte> Bytes(std::string_view s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::string_view View(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

// The size checks both directions share, so that Encode never writes what Decode refuses.
std::optional<std::string> RecordProblem(const SignedRecord& r) {
  if (r.bytes.empty() || r.bytes.size() > kMaxRecordBytes) {
    return "a record is " + std::to_string(r.bytes.size()) + " bytes; expected 1 to " +
           std::to_string(kMaxRecordBytes);
  }
  if (r.signature.size() != crypto::kSignatureSize) {
    return "a signature is " + std::to_string(r.signature.size()) + " bytes; expected " +
           std::to_string(crypto::kSignatureSize);
  }
  return std::nullopt;
}

std::optional<std::string> CountProblem(size_t pairs, size_t certificates, size_t losing) {
  if (pairs > kMaxEvidenceFilePairs) {
    return std::to_string(pairs) + " pairs; at most " + std::to_string(kMaxEvidenceFilePairs);
  }
  if (certificates > kMaxEvidenceFileCertificates) {
    return std::to_string(certificates) + " certificates; at most " +
           std::to_string(kMaxEvidenceFileCertificates);
  }
  if (losing > kMaxEvidenceFileLosingRecords) {
    return std::to_string(losing) + " losing-branch records; at most " +
           std::to_string(kMaxEvidenceFileLosingRecords);
  }
  return std::nullopt;
}

void SetRecord(wire::SignedRecord::Builder out, const SignedRecord& r) {
  out.setRecord(Bytes(r.bytes));
  out.setSignature(Bytes(r.signature));
}

Result<SignedRecord> ReadRecord(wire::SignedRecord::Reader r) {
  SignedRecord out{std::string(View(r.getRecord())), std::string(View(r.getSignature()))};
  if (auto problem = RecordProblem(out)) return Malformed(*problem);
  return out;
}

Result<EvidenceFile> ReadRoot(wire::EvidenceFile::Reader root) {
  if (root.getVersion() != kEvidenceFileVersion) {
    return Malformed("version " + std::to_string(root.getVersion()) +
                     " is not the version 1 this duanka reads");
  }
  if (auto problem = CountProblem(root.getPairs().size(), root.getCertificates().size(),
                                  root.getLosing().size())) {
    return Malformed(*problem);
  }
  EvidenceFile out;
  out.consortium.assign(root.getConsortium().cStr(), root.getConsortium().size());
  if (auto problem = ConsortiumProblem(out.consortium)) return Malformed(*problem);
  for (capnp::Data::Reader cert : root.getCertificates()) {
    if (cert.size() == 0 || cert.size() > kMaxBundleCertificateBytes) {
      return Malformed("a certificate is " + std::to_string(cert.size()) +
                       " bytes; expected 1 to " + std::to_string(kMaxBundleCertificateBytes));
    }
    out.certificates.emplace_back(View(cert));
  }
  for (wire::EvidencePair::Reader pair : root.getPairs()) {
    Result<SignedRecord> a = ReadRecord(pair.getA());
    if (!a) return std::move(a).error();
    Result<SignedRecord> b = ReadRecord(pair.getB());
    if (!b) return std::move(b).error();
    out.pairs.push_back(EvidencePair{std::move(*a), std::move(*b)});
  }
  for (wire::SignedRecord::Reader r : root.getLosing()) {
    Result<SignedRecord> record = ReadRecord(r);
    if (!record) return std::move(record).error();
    out.losing.push_back(std::move(*record));
  }
  return out;
}

}  // namespace

Result<std::string> EncodeEvidenceFile(const EvidenceFile& file) {
  if (auto problem =
          CountProblem(file.pairs.size(), file.certificates.size(), file.losing.size())) {
    return OverLimit(*problem);
  }
  if (auto problem = ConsortiumProblem(file.consortium)) return OverLimit(*problem);
  for (const std::string& cert : file.certificates) {
    if (cert.empty() || cert.size() > kMaxBundleCertificateBytes) {
      return OverLimit("a certificate is " + std::to_string(cert.size()) +
                       " bytes; expected 1 to " + std::to_string(kMaxBundleCertificateBytes));
    }
  }
  for (const EvidencePair& pair : file.pairs) {
    for (const SignedRecord* r : {&pair.a, &pair.b}) {
      if (auto problem = RecordProblem(*r)) return OverLimit(*problem);
    }
  }
  for (const SignedRecord& r : file.losing) {
    if (auto problem = RecordProblem(r)) return OverLimit(*problem);
  }

  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::EvidenceFile>();
  root.setVersion(kEvidenceFileVersion);
  root.setConsortium(file.consortium);
  auto certs = root.initCertificates(static_cast<unsigned>(file.certificates.size()));
  for (size_t i = 0; i < file.certificates.size(); ++i) {
    certs.set(static_cast<unsigned>(i), Bytes(file.certificates[i]));
  }
  auto pairs = root.initPairs(static_cast<unsigned>(file.pairs.size()));
  for (size_t i = 0; i < file.pairs.size(); ++i) {
    SetRecord(pairs[static_cast<unsigned>(i)].initA(), file.pairs[i].a);
    SetRecord(pairs[static_cast<unsigned>(i)].initB(), file.pairs[i].b);
  }
  auto losing = root.initLosing(static_cast<unsigned>(file.losing.size()));
  for (size_t i = 0; i < file.losing.size(); ++i) {
    SetRecord(losing[static_cast<unsigned>(i)], file.losing[i]);
  }
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  const size_t message_bytes = flat.size() * sizeof(capnp::word);
  if (kEvidenceFileMagic.size() + message_bytes > kMaxEvidenceFileBytes) {
    return OverLimit("it would be " + std::to_string(kEvidenceFileMagic.size() + message_bytes) +
                     " bytes; at most " + std::to_string(kMaxEvidenceFileBytes));
  }
  std::string out(kEvidenceFileMagic);
  out.append(reinterpret_cast<const char*>(flat.begin()), message_bytes);
  return out;
}

Result<EvidenceFile> DecodeEvidenceFile(std::string_view bytes) {
  if (bytes.substr(0, kEvidenceFileMagic.size()) != kEvidenceFileMagic) {
    return Malformed("not a duanka evidence file (it does not start with \"duanka-evidence-1\")");
  }
  if (bytes.size() > kMaxEvidenceFileBytes) {
    return Malformed(std::to_string(bytes.size()) + " bytes; at most " +
                     std::to_string(kMaxEvidenceFileBytes));
  }
  bytes.remove_prefix(kEvidenceFileMagic.size());
  if (bytes.empty()) return Malformed("truncated: no content after the header");
  if (bytes.size() < sizeof(capnp::word)) return Malformed("truncated in the message header");
  try {
    // Copy into aligned words: the file's bytes are not 8-byte aligned after the magic line.
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
    // The segment table says how long the message is; check it before trusting it.
    const size_t expected_words = capnp::expectedSizeInWordsFromPrefix(words.asPtr());
    if (expected_words > words.size()) return Malformed("truncated: the message is cut short");
    if (expected_words * sizeof(capnp::word) != bytes.size()) {
      return Malformed(std::to_string(bytes.size() - expected_words * sizeof(capnp::word)) +
                       " bytes after the end of the message");
    }
    capnp::ReaderOptions options;
    options.traversalLimitInWords = 2 * expected_words;
    options.nestingLimit = kEvidenceNestingLimit;
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    return ReadRoot(reader.getRoot<wire::EvidenceFile>());
  } catch (const kj::Exception& e) {
    return Malformed("does not decode: " + detail::OneLine(e.getDescription().cStr()));
  }
}

}  // namespace duanka::protocol
