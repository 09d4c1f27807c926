// Signing and verification of records: the only path to a VerifiedRecord.
#include "protocol/record.h"

#include "protocol/detail/record_codec.h"

namespace duanka::protocol {
namespace {

Error Refuse(ErrorKind kind, const Record& r, const std::string& why) {
  return MakeError(kind, "record " + r.id().ToString() + ": " + why);
}

// Everything Verify checks except the signature itself.
Result<Record> Admit(const SignedRecord& in, const Trust& trust, const VerifyOptions& options,
                     const Signer** signer_out) {
  if (in.signature.size() != crypto::kSignatureSize) {
    return MakeError(
        ErrorKind::kMalformed,
        "record signature is " + std::to_string(in.signature.size()) + " bytes; expected 64");
  }
  Result<Record> decoded = DecodeRecord(in.bytes);
  if (!decoded) return decoded;
  const Record& r = *decoded;
  const Signer* signer = trust.Find(r.signer_key_id);
  if (signer == nullptr) {
    return Refuse(ErrorKind::kUnauthorized, r,
                  "signed by key " + r.signer_key_id.Hex().substr(0, 16) +
                      "…, which has no verified consortium certificate here");
  }
  if (signer->institution != r.issuer) {
    return Refuse(ErrorKind::kUnauthorized, r,
                  "signed with a key certified for " + signer->institution);
  }
  if (r.issued_at < signer->not_before || r.issued_at > signer->not_after) {
    return Refuse(ErrorKind::kUnauthorized, r,
                  "issued outside its signing certificate's validity period");
  }
  if (r.issued_at > options.now + options.max_clock_skew_seconds) {
    // Not proof of anything: this node's clock may be the one that is wrong.
    return Refuse(ErrorKind::kNotYet, r,
                  "dated ahead of this node's clock (more than the allowed clock skew)");
  }
  if (const RevocationBody* v = r.revocation()) {
    if (v->target.issuer != r.issuer && signer->role != crypto::Role::kRegulator) {
      return Refuse(ErrorKind::kUnauthorized, r,
                    "a member may revoke only its own entries, not " + v->target.ToString());
    }
  }
  if (const ProfileBody* p = r.profile(); p != nullptr && p->kind == InstitutionKind::kRegulator &&
                                          signer->role != crypto::Role::kRegulator) {
    return Refuse(ErrorKind::kUnauthorized, r,
                  "a member's profile may not describe it as a regulator");
  }
  *signer_out = signer;
  return decoded;
}

bool SignatureValid(const SignedRecord& in, const Signer& signer) {
  return crypto::VerifySignature(signer.key, crypto::AsBytes(in.bytes),
                                 crypto::AsBytes(in.signature));
}

}  // namespace

Hash256 RecordHash(const SignedRecord& record) {
  return crypto::Sha256(crypto::AsBytes(record.bytes), crypto::AsBytes(record.signature));
}

Hash256 KeyId(const crypto::PublicKey& key) {
  return crypto::Sha256(key.bytes);
}

Result<SignedRecord> SignRecord(const Record& record, const crypto::SigningKey& key) {
  if (record.signer_key_id != KeyId(key.public_key())) {
    return MakeError(ErrorKind::kInvalidInput, "record's signer key id is not the signing key's");
  }
  Result<std::string> bytes = EncodeRecord(record);
  if (!bytes) return std::move(bytes).error();
  crypto::Signature sig = key.Sign(crypto::AsBytes(*bytes));
  return SignedRecord{
      std::move(*bytes),
      std::string(reinterpret_cast<const char*>(sig.bytes.data()), sig.bytes.size())};
}

void Trust::Add(const Signer& signer) {
  signers_[KeyId(signer.key)] = signer;
}

std::vector<Hash256> Trust::KeyIds() const {
  std::vector<Hash256> out;
  out.reserve(signers_.size());
  for (const auto& [id, signer] : signers_) out.push_back(id);
  return out;
}

const Signer* Trust::Find(const Hash256& key_id) const {
  auto it = signers_.find(key_id);
  return it == signers_.end() ? nullptr : &it->second;
}

Result<VerifiedRecord> Verify(const SignedRecord& in, const Trust& trust,
                              const VerifyOptions& options) {
  const Signer* signer = nullptr;
  Result<Record> admitted = Admit(in, trust, options, &signer);
  if (!admitted) return std::move(admitted).error();
  if (!SignatureValid(in, *signer)) {
    return Refuse(ErrorKind::kUnauthorized, *admitted, "signature does not verify");
  }
  VerifiedRecord out;
  out.record_ = std::move(*admitted);
  out.signed_ = in;
  out.hash_ = RecordHash(in);
  out.signer_role_ = signer->role;
  out.signature_checked_ = true;
  return out;
}

bool IssueTimeFollows(int64_t prev_issued_at, int64_t next_issued_at) {
  return prev_issued_at < kIssueTimesRiseFrom || next_issued_at >= prev_issued_at;
}

Result<std::vector<VerifiedRecord>> VerifyChain(std::span<const SignedRecord> records,
                                                const Trust& trust, const VerifyOptions& options) {
  std::vector<VerifiedRecord> out;
  out.reserve(records.size());
  const Signer* newest_signer = nullptr;
  for (const SignedRecord& in : records) {
    const Signer* signer = nullptr;
    Result<Record> admitted = Admit(in, trust, options, &signer);
    if (!admitted) return std::move(admitted).error();
    VerifiedRecord v;
    v.record_ = std::move(*admitted);
    v.signed_ = in;
    v.hash_ = RecordHash(in);
    v.signer_role_ = signer->role;
    if (!out.empty()) {
      const VerifiedRecord& before = out.back();
      if (v.record_.issuer != before.record_.issuer) {
        return Refuse(ErrorKind::kMalformed, v.record_,
                      "a chain holds records of one issuer only, but follows " +
                          before.record_.id().ToString());
      }
      if (v.record_.seq != before.record_.seq + 1) {
        return Refuse(ErrorKind::kMalformed, v.record_,
                      "does not follow " + before.record_.id().ToString() + " (gap or reorder)");
      }
      if (v.record_.prev != before.hash_) {
        return Refuse(ErrorKind::kMalformed, v.record_,
                      "prev does not match the hash of " + before.record_.id().ToString() +
                          " (broken chain or altered record)");
      }
      if (!IssueTimeFollows(before.record_.issued_at, v.record_.issued_at)) {
        return Refuse(ErrorKind::kMalformed, v.record_,
                      "is dated before " + before.record_.id().ToString() +
                          ", which it follows (issue times rise along a feed)");
      }
    }
    newest_signer = signer;
    out.push_back(std::move(v));
  }
  if (out.empty()) return out;
  VerifiedRecord& newest = out.back();
  if (!SignatureValid(newest.signed_, *newest_signer)) {
    return Refuse(ErrorKind::kUnauthorized, newest.record_,
                  "signature does not verify (it vouches for the whole chain)");
  }
  newest.signature_checked_ = true;
  return out;
}

}  // namespace duanka::protocol
