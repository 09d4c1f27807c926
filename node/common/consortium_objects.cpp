#include "node/common/consortium_objects.h"

#include <map>

#include "node/common/audit.h"
#include "node/common/profile.h"

namespace duanka::node {

Result<crypto::CrlInfo> AdmitCrl(store::Store& store, crypto::TrustStore& ca,
                                 std::string_view pem) {
  Result<crypto::CrlInfo> info = ca.InspectCrl(pem);
  if (!info) return std::move(info).error();
  if (std::optional<crypto::CrlInfo> held = ca.crl(); held && info->number <= held->number) {
    return MakeError(ErrorKind::kConflict, "CRL number " + std::to_string(info->number) +
                                               " is not newer than the one in force (number " +
                                               std::to_string(held->number) + ")");
  }
  // Kept before it is put in force: a CRL in force here but lost at a restart would let a
  // revoked member back in.
  if (Status kept = store.PutObject(kCrlObject, pem); !kept) return std::move(kept).error();
  return ca.UpdateCrl(pem);
}

Result<bool> ApplyHeldCrl(const store::Store& store, crypto::TrustStore& ca) {
  Result<std::optional<std::string>> held = store.GetObject(kCrlObject);
  if (!held) return std::move(held).error();
  if (!*held) return false;
  // The usual case (called at every commit the daemon sees): the held CRL is the one in force,
  // and nothing needs parsing or a signature check.
  if (std::optional<crypto::CrlInfo> in_force = ca.crl(); in_force && in_force->pem == **held) {
    return false;
  }
  Result<crypto::CrlInfo> info = ca.InspectCrl(**held);
  if (!info) return MakeError(ErrorKind::kIo, "the store's CRL: " + info.error().message);
  if (std::optional<crypto::CrlInfo> in_force = ca.crl();
      in_force && info->number <= in_force->number) {
    return false;
  }
  Result<crypto::CrlInfo> applied = ca.UpdateCrl(**held);
  if (!applied) return std::move(applied).error();
  return true;
}

}  // namespace duanka::node

namespace duanka::node {
namespace {

Error Unauthorized(std::string what) {
  return MakeError(ErrorKind::kUnauthorized, "notice: " + std::move(what));
}

// The signing keys of the certificates held, by (institution, serial): how a withdrawal, which
// names a certificate by serial, finds its key. One pass over the certificates.
using KeysBySerial = std::map<std::pair<std::string, std::string>, crypto::Hash256>;
Result<KeysBySerial> HeldSigningKeys(const store::Store& store) {
  Result<std::vector<std::string>> certs = store.Certificates();
  if (!certs) return std::move(certs).error();
  KeysBySerial out;
  for (const std::string& der : *certs) {
    if (Result<crypto::CertificateInfo> info = crypto::InspectCertificate(der)) {
      out[{info->institution, info->serial_hex}] = protocol::KeyId(info->public_key);
    }
  }
  return out;
}

Result<NoticeEffect> ApplyWithdrawal(store::Store& store, const protocol::KeyWithdrawal& w,
                                     const KeysBySerial& keys, int64_t now) {
  NoticeEffect effect;
  auto key = keys.find({w.issuer, w.certificate_serial});
  if (key == keys.end()) return effect;  // not held here: no record it signed can be either
  effect.key_known = true;
  Result<std::optional<int64_t>> since = store.WithdrawnSince(key->second);
  if (!since) return std::move(since).error();
  if (*since == w.since) return effect;  // in force already
  Result<uint64_t> suspended = store.WithdrawKey(key->second, w.issuer, w.since, now);
  if (!suspended) return std::move(suspended).error();
  effect.suspended = *suspended;
  // A profile the key signed since is no profile any more: readers find the issuer's older one
  // from a saved scan, not by scanning its feed again.
  if (Status saved = SaveProfileScans(store, {w.issuer}); !saved) return std::move(saved).error();
  return effect;
}

}  // namespace

Result<VerifiedNotice> VerifyNotice(const crypto::TrustStore& ca, std::string_view bytes,
                                    int64_t now) {
  Result<std::pair<protocol::SignedNotice, protocol::Notice>> decoded =
      protocol::DecodeSignedNotice(bytes);
  if (!decoded) return std::move(decoded).error();
  VerifiedNotice out{std::move(decoded->first), std::move(decoded->second), ""};
  const protocol::Notice& n = out.notice;
  if (n.consortium != ca.consortium()) {
    return Unauthorized("of consortium " + n.consortium + ", not " + ca.consortium());
  }
  const int64_t latest = now + protocol::kDefaultMaxClockSkewSeconds;
  if (n.issued_at > latest) {
    return MakeError(ErrorKind::kNotYet, "notice: dated in the future (check the clocks)");
  }
  if (const protocol::KeyWithdrawal* w = n.withdrawal(); w && w->since > latest) {
    return MakeError(ErrorKind::kNotYet, "notice: compromise time is in the future");
  }
  crypto::PublicKey key;
  if (n.signer_certificate.empty()) {
    std::optional<crypto::PublicKey> ca_key = ca.ca_key();
    if (!ca_key) return Unauthorized("signed by the CA, whose key is not Ed25519");
    key = *ca_key;
    out.signer = "the consortium CA";
  } else {
    Result<crypto::CertificateInfo> signer =
        ca.Verify(n.signer_certificate, crypto::CertKind::kSigning, n.issued_at);
    if (!signer) {
      // Trusted when the relay checked it, perhaps, and revoked by a CRL since: not the relay's
      // doing, so told apart from a notice no honest node could have passed on.
      return MakeError(
          ErrorKind::kConflict,
          "notice: its signer's certificate is not trusted here: " + signer.error().message);
    }
    // Members speak for their own feeds only, in records; notices are the authority's.
    if (signer->role != crypto::Role::kRegulator) {
      return Unauthorized("signed by " + signer->institution +
                          ", a member; only the CA or a regulator signs notices");
    }
    key = signer->public_key;
    out.signer = "regulator " + signer->institution;
  }
  if (n.resolution() != nullptr && n.signer_certificate.empty()) {
    return Unauthorized("a fork resolution is the regulator's to sign, not the CA's");
  }
  if (n.release() != nullptr && n.signer_certificate.empty()) {
    return Unauthorized("a hold release is the regulator's to sign, not the CA's");
  }
  if (n.policy() != nullptr && n.signer_certificate.empty()) {
    return Unauthorized("a grading policy is the regulator's to sign, not the CA's");
  }
  if (!crypto::VerifySignature(key, crypto::AsBytes(out.signed_notice.bytes),
                               crypto::AsBytes(out.signed_notice.signature))) {
    return Unauthorized("signature does not verify (altered, or not signed by " + out.signer + ")");
  }
  return out;
}

namespace {

// A regulator's key withdrawn since before the notice was signed: what a thief holding the key
// signs is not the regulator's word (design section 9), for notices as for records.
Status CheckSignerNotWithdrawn(const store::Store& store, const protocol::Notice& notice) {
  if (notice.signer_certificate.empty()) return Ok();  // the CA's own key: no withdrawal applies
  Result<crypto::CertificateInfo> signer = crypto::InspectCertificate(notice.signer_certificate);
  if (!signer) return Ok();  // verified already; a certificate that no longer parses is not ours
  Result<std::optional<int64_t>> since = store.WithdrawnSince(protocol::KeyId(signer->public_key));
  if (!since) return std::move(since).error();
  if (*since && notice.issued_at >= **since) {
    return Unauthorized("signed by " + signer->institution + " with a key withdrawn since " +
                        IsoTime(**since) + " (certificate serial " + signer->serial_hex + ")");
  }
  return Ok();
}

}  // namespace

Result<bool> KeepNotice(store::Store& store, const VerifiedNotice& notice) {
  const std::string name = std::string(kNoticeObjectPrefix) + notice.notice.Subject();
  const std::string bytes = protocol::EncodeSignedNotice(notice.signed_notice);
  if (Status signer = CheckSignerNotWithdrawn(store, notice.notice); !signer) {
    return std::move(signer).error();
  }
  Result<std::optional<std::string>> held = store.GetObject(name);
  if (!held) return std::move(held).error();
  if (const protocol::GradingPolicy* p = notice.notice.policy()) {
    uint32_t held_version = 0;
    if (*held) {
      Result<std::pair<protocol::SignedNotice, protocol::Notice>> old =
          protocol::DecodeSignedNotice(**held);
      if (old && old->second.policy() != nullptr) held_version = old->second.policy()->version;
    }
    if (p->version > held_version && p->version - held_version > protocol::kMaxPolicyVersionStep) {
      return MakeError(ErrorKind::kConflict,
                       "grading policy version " + std::to_string(p->version) + " passes version " +
                           std::to_string(held_version) + " held here by more than " +
                           std::to_string(protocol::kMaxPolicyVersionStep));
    }
  }
  if (*held) {
    if (**held == bytes) return false;
    Result<std::pair<protocol::SignedNotice, protocol::Notice>> old =
        protocol::DecodeSignedNotice(**held);
    // Policies are ordered by version first: a regulator's policy 2 replaces 1 whatever the
    // clocks said when each was signed.
    if (old && old->second.policy() != nullptr && notice.notice.policy() != nullptr &&
        old->second.policy()->version != notice.notice.policy()->version) {
      if (old->second.policy()->version > notice.notice.policy()->version) {
        return MakeError(ErrorKind::kConflict, "grading policy version " +
                                                   std::to_string(notice.notice.policy()->version) +
                                                   " is older than version " +
                                                   std::to_string(old->second.policy()->version) +
                                                   " held here");
      }
    } else if (old &&
               // Equal times are ordered by the bytes, so that every node keeps the same one of
               // two notices issued in one second and none sends its own back forever.
               (old->second.issued_at > notice.notice.issued_at ||
                (old->second.issued_at == notice.notice.issued_at && **held > bytes))) {
      return MakeError(ErrorKind::kConflict, "notice about " + notice.notice.Subject() +
                                                 " is not newer than the one held (issued at " +
                                                 std::to_string(old->second.issued_at) + ")");
    }
  }
  if (Status kept = store.PutObject(name, bytes); !kept) return std::move(kept).error();
  return true;
}

Result<NoticeEffect> ApplyNotice(store::Store& store, const protocol::Notice& notice, int64_t now) {
  NoticeEffect effect;
  if (const protocol::KeyWithdrawal* w = notice.withdrawal()) {
    Result<KeysBySerial> keys = HeldSigningKeys(store);
    if (!keys) return std::move(keys).error();
    return ApplyWithdrawal(store, *w, *keys, now);
  }
  if (const protocol::HoldRelease* h = notice.release()) {
    Result<uint64_t> released = store.ReleaseHeld(h->issuer, h->day, now);
    if (!released) return std::move(released).error();
    effect.released = *released;
    return effect;
  }
  // Lookups read the policy from the store (node::HeldPolicy): kept is in force.
  if (notice.policy() != nullptr) return effect;
  const protocol::ForkResolution& r = *notice.resolution();
  Result<std::vector<std::pair<uint64_t, crypto::Hash256>>> held = store.Resolutions(r.issuer);
  if (!held) return std::move(held).error();
  for (const auto& [seq, kept] : *held) {
    if (seq == r.seq && kept == r.keep) return effect;  // in force already
  }
  Result<store::ResolveOutcome> outcome = store.ResolveFork(r.issuer, r.seq, r.keep, now);
  if (!outcome) return std::move(outcome).error();
  effect.resolved = *outcome;
  return effect;
}

Result<std::vector<std::string>> HeldNotices(const store::Store& store) {
  Result<std::vector<std::pair<std::string, std::string>>> held =
      store.ObjectsWithPrefix(kNoticeObjectPrefix);
  if (!held) return std::move(held).error();
  std::vector<std::string> out;
  for (auto& [name, bytes] : *held) out.push_back(std::move(bytes));
  return out;
}

Result<size_t> ApplyHeldNotices(store::Store& store, int64_t now) {
  Result<std::vector<std::string>> held = HeldNotices(store);
  if (!held) return std::move(held).error();
  std::optional<KeysBySerial> keys;  // read only when some withdrawal is held
  size_t known = 0;
  for (const std::string& bytes : *held) {
    Result<std::pair<protocol::SignedNotice, protocol::Notice>> n =
        protocol::DecodeSignedNotice(bytes);
    if (!n) continue;
    if (n->second.withdrawal() == nullptr) {
      Result<NoticeEffect> effect = ApplyNotice(store, n->second, now);
      if (!effect) return std::move(effect).error();
      continue;
    }
    if (!keys) {
      Result<KeysBySerial> read = HeldSigningKeys(store);
      if (!read) return std::move(read).error();
      keys = std::move(*read);
    }
    Result<NoticeEffect> effect = ApplyWithdrawal(store, *n->second.withdrawal(), *keys, now);
    if (!effect) return std::move(effect).error();
    if (effect->key_known) ++known;
  }
  return known;
}

}  // namespace duanka::node
