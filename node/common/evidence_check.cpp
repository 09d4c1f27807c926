#include "node/common/evidence_check.h"

#include <map>

#include "node/common/identity.h"

namespace duanka::node {
namespace {

// A failure line names at most this many refused certificates, so that it stays one readable line
// however many the file holds.
constexpr size_t kMaxRefusalsNamed = 3;

// Verify's messages start "record ISSUER:SEQ: "; the pair's label already says which record.
std::string WithoutRecordPrefix(const std::string& message, const protocol::Record& r) {
  const std::string prefix = "record " + r.id().ToString() + ": ";
  return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
}

std::string RefusalsNote(const std::vector<std::string>& refused) {
  if (refused.empty()) return "";
  std::string note = "; the CA refused ";
  for (size_t i = 0; i < refused.size() && i < kMaxRefusalsNamed; ++i) {
    note += (i ? "; " : "") + refused[i];
  }
  if (refused.size() > kMaxRefusalsNamed) {
    note += "; and " + std::to_string(refused.size() - kMaxRefusalsNamed) + " more certificates";
  }
  return note;
}

struct Checker {
  const protocol::Trust& trust;
  const std::map<crypto::Hash256, std::string>& serials;
  const std::vector<std::string>& refused;
  protocol::VerifyOptions options;

  // The record verified on its own, or why not (one line, without the record's id).
  std::optional<std::string> Problem(const protocol::SignedRecord& signed_record,
                                     const protocol::Record& decoded) const {
    Result<protocol::VerifiedRecord> v = protocol::Verify(signed_record, trust, options);
    if (v) return std::nullopt;
    std::string why = WithoutRecordPrefix(v.error().message, decoded);
    if (trust.Find(decoded.signer_key_id) == nullptr) why += RefusalsNote(refused);
    return why;
  }

  PairVerdict Check(size_t index, const protocol::EvidencePair& pair) const {
    PairVerdict out;
    out.pair = index;
    const std::string name = "pair " + std::to_string(index);
    auto fail = [&](std::string what) {
      out.failure = std::move(what);
      return out;
    };
    Result<protocol::Record> a = protocol::DecodeRecord(pair.a.bytes);
    if (!a) return fail(name + ", record a: " + a.error().message);
    Result<protocol::Record> b = protocol::DecodeRecord(pair.b.bytes);
    if (!b) return fail(name + ", record b: " + b.error().message);
    if (a->issuer != b->issuer || a->seq != b->seq) {
      return fail(name + ": records " + a->id().ToString() + " and " + b->id().ToString() +
                  " are not of one issuer and seq, so they prove no fork");
    }
    const std::string label = name + " (" + a->issuer + " at seq " + std::to_string(a->seq) + ")";
    const crypto::Hash256 hash_a = protocol::RecordHash(pair.a);
    const crypto::Hash256 hash_b = protocol::RecordHash(pair.b);
    if (hash_a == hash_b) {
      return fail(label + ": both are the same record (" + hash_a.Hex() + "), which is no fork");
    }
    if (pair.a.bytes == pair.b.bytes) {
      // Two signatures over one statement contradict nothing.
      return fail(label + ": both carry the same record bytes, signed twice, which is no fork");
    }
    if (auto problem = Problem(pair.a, *a)) return fail(label + ", record a: " + *problem);
    if (auto problem = Problem(pair.b, *b)) return fail(label + ", record b: " + *problem);
    ProvenFork fork{a->issuer, a->seq, hash_a, hash_b, {}};
    for (const crypto::Hash256* key : {&a->signer_key_id, &b->signer_key_id}) {
      auto serial = serials.find(*key);
      const std::string s = serial == serials.end() ? "?" : serial->second;
      if (fork.certificate_serials.empty() || fork.certificate_serials.front() != s) {
        fork.certificate_serials.push_back(s);
      }
    }
    out.fork = std::move(fork);
    return out;
  }
};

}  // namespace

std::string ProvenFork::Describe() const {
  std::string signed_by = certificate_serials.size() == 1
                              ? "both signed by " + issuer + "'s key (certificate serial " +
                                    certificate_serials.front() + ")"
                              : "signed by two of " + issuer + "'s keys (certificate serials " +
                                    certificate_serials.front() + " and " +
                                    certificate_serials.back() + ")";
  return "fork of " + issuer + " at seq " + std::to_string(seq) + ": records " + hash_a.Hex() +
         " and " + hash_b.Hex() + ", " + signed_by;
}

bool EvidenceVerdict::proven() const {
  if (!consortium_failure.empty() || pairs.empty() || !losing_failures.empty()) return false;
  for (const PairVerdict& p : pairs) {
    if (!p.fork) return false;
  }
  return true;
}

EvidenceVerdict VerifyEvidence(const protocol::EvidenceFile& file, const crypto::TrustStore& ca,
                               int64_t now) {
  EvidenceVerdict verdict;
  if (file.consortium != ca.consortium()) {
    verdict.consortium_failure = "the file is evidence of consortium " + file.consortium +
                                 ", but the CA is consortium " + ca.consortium() + "'s";
  }
  protocol::Trust trust;
  std::map<crypto::Hash256, std::string> serials;
  for (const std::string& der : file.certificates) {
    // Validity is checked per record at its issue time: a certificate that has since expired
    // still vouches for what it signed while valid.
    Result<crypto::CertificateInfo> cert = ca.Verify(der, crypto::CertKind::kSigning, std::nullopt);
    if (!cert) {
      verdict.refused_certificates.push_back(cert.error().message);
      continue;
    }
    trust.Add(SignerOf(*cert));
    serials[protocol::KeyId(cert->public_key)] = cert->serial_hex;
  }
  Checker checker{trust, serials, verdict.refused_certificates, protocol::VerifyOptions{now}};
  for (size_t i = 0; i < file.pairs.size(); ++i) {
    verdict.pairs.push_back(checker.Check(i + 1, file.pairs[i]));
  }
  for (size_t i = 0; i < file.losing.size(); ++i) {
    const std::string name = "losing record " + std::to_string(i + 1);
    Result<protocol::Record> decoded = protocol::DecodeRecord(file.losing[i].bytes);
    if (!decoded) {
      verdict.losing_failures.push_back(name + ": " + decoded.error().message);
      continue;
    }
    if (auto problem = checker.Problem(file.losing[i], *decoded)) {
      verdict.losing_failures.push_back(name + " (" + decoded->id().ToString() + "): " + *problem);
      continue;
    }
    ++verdict.losing_verified;
  }
  return verdict;
}

}  // namespace duanka::node
