// Checking an audit log's hash chain and signed checkpoints (audit.h; the format is in
// docs/operations.md section 7): `duanka-admin audit verify` over a HOME's log and its rotated
// files, or over an excerpt made by `duanka-admin audit export`. libsodium only: the caller
// finds the institution's certified keys.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/crypto.h"

namespace duanka::node {

struct AuditFileText {
  std::string name;  // as messages show it (file:line)
  std::string text;
  uint64_t first_line_number = 1;  // of text's first line in the file (an export's header is 1)
};

struct AuditVerifyOptions {
  std::string institution;  // whose genesis the chain starts from and whose key signs
  // The institution's signing key with this key id (hex SHA-256 of the raw key, as records name
  // signers), nullopt for a key not certified for it.
  std::function<std::optional<crypto::PublicKey>(std::string_view key_id_hex)> key;
  // An excerpt (audit export) starts anywhere in the chain, but must start at a checkpoint or at
  // the chain's first line, and end at a checkpoint, so that both ends are signed.
  bool excerpt = false;
};

enum class AuditVerdict { kIntact, kTampered, kNotAuditLog };

struct AuditVerifyReport {
  AuditVerdict verdict = AuditVerdict::kIntact;
  // kTampered: "FILE:LINE: what is wrong" of the first line found changed, removed or reordered;
  // kNotAuditLog: "FILE: not an audit log: expected …".
  std::string problem;
  uint64_t lines = 0;  // chained lines read
  uint64_t checkpoints = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::vector<std::string>
      notes;  // what is not tampering but worth saying (torn tail, unsigned lines)
};

// The files in chain order (oldest first), each whole.
AuditVerifyReport VerifyAuditChain(std::span<const AuditFileText> files,
                                   const AuditVerifyOptions& options);

// The first line of an export file starts with this.
inline constexpr std::string_view kAuditExportMarker = "{\"duanka_audit_export\":";

}  // namespace duanka::node
