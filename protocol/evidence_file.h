// Evidence files: a self-contained proof that issuers forked their feeds (`duanka-admin evidence
// export` / `verify`). It carries the signing certificates the records need, so anyone holding the
// consortium CA certificate can check it offline. Format in protocol/README.md section 4.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol/bundle.h"
#include "protocol/record.h"

namespace duanka::protocol {

inline constexpr std::string_view kEvidenceFileMagic = "duanka-evidence-1\n";
// A node keeps a few pairs per feed (store::kMaxEvidencePerFeed) and a consortium has at most a
// few hundred members, so more pairs than this is not a node's export.
inline constexpr size_t kMaxEvidenceFilePairs = 4096;
// The signers of those pairs: at most two keys per pair, and a consortium's keys are far fewer.
inline constexpr size_t kMaxEvidenceFileCertificates = kMaxBundleCertificates;
// A losing branch runs from the fork to where the feed was frozen or resolved; a branch this long
// is beyond any institution's day of reports.
inline constexpr size_t kMaxEvidenceFileLosingRecords = 32768;
// The whole file: the records above at ≤ 1 KiB each plus certificates, with room to spare. It is
// one Cap'n Proto message, read into memory at once.
inline constexpr size_t kMaxEvidenceFileBytes = size_t{64} << 20;

struct EvidencePair {
  SignedRecord a;
  SignedRecord b;
};

struct EvidenceFile {
  std::string consortium;
  std::vector<std::string> certificates;  // DER signing certificates
  std::vector<EvidencePair> pairs;
  std::vector<SignedRecord> losing;  // may be empty
};

// The file's bytes: the magic line, then one Cap'n Proto message. kInvalidInput when a limit above
// is broken, so that nothing is ever written that DecodeEvidenceFile would refuse.
Result<std::string> EncodeEvidenceFile(const EvidenceFile& file);

// kMalformed with one line for a foreign file ("not a duanka evidence file"), a truncated or
// padded one, or one that breaks a limit. Records and certificates are not verified here.
Result<EvidenceFile> DecodeEvidenceFile(std::string_view bytes);

}  // namespace duanka::protocol
