// Bundles: certificates and signed records in a file, for institutions without a network link
// (`duanka-admin export` / `import`). Format in protocol/README.md section 4.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/record.h"

namespace duanka::protocol {

inline constexpr std::string_view kBundleMagic = "duanka-bundle-1\n";
// Records per Cap'n Proto message, so that a bundle of a million-record feed is read message by
// message instead of as one huge message that needs an enormous traversal limit.
inline constexpr size_t kBundleRecordsPerMessage = 4096;
// One message holds at most kBundleRecordsPerMessage records of ≤ 1 KiB plus certificates.
inline constexpr size_t kMaxBundleMessageBytes = 16 << 20;
// Certificates are a few hundred bytes; a consortium has at most a few hundred members.
inline constexpr size_t kMaxBundleCertificateBytes = 16 << 10;
inline constexpr size_t kMaxBundleCertificates = 4096;
// Consortium objects: one CRL and a notice per withdrawn key or resolved feed.
inline constexpr size_t kMaxBundleObjects = 4096;
// A CRL listing every member of a large consortium is a few hundred KiB; notices are < 8 KiB.
inline constexpr size_t kMaxBundleObjectBytes = 4 << 20;

// A consortium-signed object, unverified: "crl" (PEM) or "notice" (protocol/notice.h).
struct BundleObject {
  std::string name;
  std::string body;
  bool operator==(const BundleObject&) const = default;
};

struct Bundle {
  std::string consortium;
  std::vector<std::string> certificates;  // DER
  std::vector<SignedRecord> records;      // each issuer's in seq order
  std::vector<BundleObject> objects;      // verified by the importer before use
};

// The file's bytes: the magic line, then one or more framed Cap'n Proto messages.
std::string EncodeBundle(const Bundle& bundle);

// kMalformed with a clear message for a foreign file ("not a duanka bundle"), a truncated one, or
// one that breaks a limit. Records are not verified here.
Result<Bundle> DecodeBundle(std::string_view bytes);

}  // namespace duanka::protocol
