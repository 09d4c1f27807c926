#include "protocol/bundle.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "protocol/detail/text.h"
#include "protocol/schema/record.capnp.h"

namespace duanka::protocol {
namespace {

constexpr uint16_t kBundleVersion = 1;
// Nesting: Bundle → List(SignedRecord) → SignedRecord → Data.
constexpr int kBundleNestingLimit = 8;

Error Malformed(std::string what) {
  return MakeError(ErrorKind::kMalformed, "bundle: " + std::move(what));
}

kj::ArrayPtr<const kj::byte> Bytes(std::string_view s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::string_view View(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

void AppendMessage(const Bundle& bundle, size_t from, size_t to, bool with_certs,
                   std::string& out) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::Bundle>();
  root.setVersion(kBundleVersion);
  root.setConsortium(bundle.consortium);
  if (with_certs) {
    auto certs = root.initCertificates(static_cast<unsigned>(bundle.certificates.size()));
    for (size_t i = 0; i < bundle.certificates.size(); ++i) {
      certs.set(static_cast<unsigned>(i), Bytes(bundle.certificates[i]));
    }
    auto objects = root.initObjects(static_cast<unsigned>(bundle.objects.size()));
    for (size_t i = 0; i < bundle.objects.size(); ++i) {
      objects[static_cast<unsigned>(i)].setName(bundle.objects[i].name);
      objects[static_cast<unsigned>(i)].setBody(Bytes(bundle.objects[i].body));
    }
  }
  auto records = root.initRecords(static_cast<unsigned>(to - from));
  for (size_t i = from; i < to; ++i) {
    auto r = records[static_cast<unsigned>(i - from)];
    r.setRecord(Bytes(bundle.records[i].bytes));
    r.setSignature(Bytes(bundle.records[i].signature));
  }
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  out.append(reinterpret_cast<const char*>(flat.begin()), flat.size() * sizeof(capnp::word));
}

Status ReadMessage(wire::Bundle::Reader root, bool first, Bundle& out) {
  if (root.getVersion() != kBundleVersion) {
    return Malformed("version " + std::to_string(root.getVersion()) +
                     " is not the version 1 this duanka reads");
  }
  std::string consortium(root.getConsortium().cStr(), root.getConsortium().size());
  // A NUL or control character would not survive re-encoding, and the name reaches messages.
  if (!detail::IsCleanUtf8Text(consortium)) {
    return Malformed("the consortium name is not UTF-8 text without control characters");
  }
  if (first) {
    out.consortium = consortium;
  } else if (consortium != out.consortium) {
    return Malformed("its parts name different consortia");
  }
  for (capnp::Data::Reader cert : root.getCertificates()) {
    if (cert.size() > kMaxBundleCertificateBytes) return Malformed("a certificate is too large");
    if (out.certificates.size() >= kMaxBundleCertificates)
      return Malformed("too many certificates");
    out.certificates.emplace_back(View(cert));
  }
  for (wire::BundleObject::Reader o : root.getObjects()) {
    if (out.objects.size() >= kMaxBundleObjects) return Malformed("too many consortium objects");
    // Names are words (as in `objects`): a NUL or other byte would not survive re-encoding.
    if (!detail::IsObjectName(std::string_view(o.getName().begin(), o.getName().size()))) {
      return Malformed("a consortium object's name is not 1 to 32 of a-z and '-'");
    }
    if (o.getBody().size() > kMaxBundleObjectBytes) {
      return Malformed("a consortium object is larger than 4 MiB");
    }
    out.objects.push_back(BundleObject{std::string(o.getName().cStr(), o.getName().size()),
                                       std::string(View(o.getBody()))});
  }
  for (wire::SignedRecord::Reader r : root.getRecords()) {
    if (r.getRecord().size() > kMaxRecordBytes) return Malformed("a record is too large");
    out.records.push_back(
        SignedRecord{std::string(View(r.getRecord())), std::string(View(r.getSignature()))});
  }
  return Ok();
}

}  // namespace

std::string EncodeBundle(const Bundle& bundle) {
  std::string out(kBundleMagic);
  size_t from = 0;
  do {
    size_t to = std::min(bundle.records.size(), from + kBundleRecordsPerMessage);
    AppendMessage(bundle, from, to, from == 0, out);
    from = to;
  } while (from < bundle.records.size());
  return out;
}

Result<Bundle> DecodeBundle(std::string_view bytes) {
  if (bytes.substr(0, kBundleMagic.size()) != kBundleMagic) {
    return Malformed("not a duanka bundle (it does not start with \"duanka-bundle-1\")");
  }
  bytes.remove_prefix(kBundleMagic.size());
  if (bytes.empty()) return Malformed("truncated: no content after the header");
  Bundle out;
  bool first = true;
  try {
    while (!bytes.empty()) {
      if (bytes.size() < sizeof(capnp::word)) return Malformed("truncated in a message header");
      // Copy into aligned words: the file's bytes are not 8-byte aligned after the magic line.
      size_t take = std::min(bytes.size(), kMaxBundleMessageBytes + 8 * sizeof(capnp::word));
      kj::Array<capnp::word> words = kj::heapArray<capnp::word>(take / sizeof(capnp::word));
      std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
      // The segment table says how long the message is; check it before trusting it.
      size_t expected = capnp::expectedSizeInWordsFromPrefix(words.asPtr()) * sizeof(capnp::word);
      if (expected > kMaxBundleMessageBytes) return Malformed("a message exceeds 16 MiB");
      if (expected > bytes.size() || expected > words.size() * sizeof(capnp::word)) {
        return Malformed("truncated: a message is cut short");
      }
      capnp::ReaderOptions options;
      options.traversalLimitInWords = 2 * expected / sizeof(capnp::word);
      options.nestingLimit = kBundleNestingLimit;
      capnp::FlatArrayMessageReader reader(words.slice(0, expected / sizeof(capnp::word)), options);
      Status read = ReadMessage(reader.getRoot<wire::Bundle>(), first, out);
      if (!read) return std::move(read).error();
      first = false;
      bytes.remove_prefix(expected);
    }
  } catch (const kj::Exception& e) {
    return Malformed("does not decode: " + detail::OneLine(e.getDescription().cStr()));
  }
  return out;
}

}  // namespace duanka::protocol
