// Offline verification of an evidence file (protocol/evidence_file.h): does each pair prove that
// its issuer signed two different records for one seq? Needs only the consortium CA (and, when
// one is given, its CRL): the file carries the signing certificates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto/pki.h"
#include "protocol/evidence_file.h"

namespace duanka::node {

// What one pair proves.
struct ProvenFork {
  std::string issuer;
  uint64_t seq = 0;
  crypto::Hash256 hash_a;
  crypto::Hash256 hash_b;
  // Serials of the certificates of the key(s) that signed a and b: one when one key signed both.
  std::vector<std::string> certificate_serials;

  // "fork of BANKA at seq 7: records HASH1 and HASH2, both signed by BANKA's key (certificate
  // serial 1F)".
  std::string Describe() const;
};

struct PairVerdict {
  size_t pair = 0;  // 1-based, in file order
  std::optional<ProvenFork> fork;
  // When !fork: one line naming the pair and what failed, e.g. "pair 2 (BANKA at seq 7), record
  // b: signature does not verify".
  std::string failure;
};

struct EvidenceVerdict {
  std::vector<PairVerdict> pairs;
  size_t losing_verified = 0;
  // One line per losing-branch record that does not verify ("losing record 3: …").
  std::vector<std::string> losing_failures;
  // The CA's reason for each certificate of the file it does not vouch for (one line each, naming
  // the certificate by CN and serial).
  std::vector<std::string> refused_certificates;
  // When the file names another consortium than the CA's: one line naming both. Such a file
  // proves nothing here, whatever its certificates.
  std::string consortium_failure;

  // True when the file is of the CA's consortium, holds at least one pair, every pair proves a
  // fork and every losing-branch record verifies.
  bool proven() const;
};

// Checks every certificate of the file against `ca` as a signing certificate (validity is then
// checked per record at its issue time), then every pair: both records decode, name one issuer
// and seq, differ, and verify (protocol::Verify: signer certified for the issuer, issued within
// the certificate's validity, signature valid) at `now`; then every losing-branch record likewise.
EvidenceVerdict VerifyEvidence(const protocol::EvidenceFile& file, const crypto::TrustStore& ca,
                               int64_t now);

}  // namespace duanka::node
