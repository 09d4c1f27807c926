// Notice <-> canonical Cap'n Proto bytes, and the notice file.
#include "protocol/notice.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "protocol/detail/text.h"
#include "protocol/schema/notice.capnp.h"

namespace duanka::protocol {
namespace {

constexpr uint64_t kNoticeTraversalLimitWords = 2 * kMaxNoticeBytes / sizeof(capnp::word);
// SignedNotice → Notice → body → fields: a few levels, with slack for future fields.
constexpr int kNoticeNestingLimit = 8;
// Certificate serials are at most 20 octets (RFC 5280), so 40 hex digits.
constexpr size_t kMaxSerialHexChars = 40;
// Consortium names are short words; the CA's O.
constexpr size_t kMaxConsortiumBytes = 64;

Error Malformed(std::string what) {
  return MakeError(ErrorKind::kMalformed, "notice: " + std::move(what));
}

bool IsUpperHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  }
  return !s.empty();
}

bool IsGradingName(std::string_view s) {
  if (s.empty() || s.size() > kMaxGradingNameChars) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

constexpr uint8_t kHighestCategoryValue = static_cast<uint8_t>(Category::kFraudUse);
constexpr uint8_t kHighestBasisValue = static_cast<uint8_t>(Basis::kInstitution);

Status CheckNotice(const Notice& n) {
  if (n.consortium.empty() || n.consortium.size() > kMaxConsortiumBytes) {
    return Malformed("consortium name is empty or longer than 64 bytes");
  }
  if (n.issued_at <= 0) return Malformed("issue time is not after 1970");
  if (const KeyWithdrawal* w = n.withdrawal()) {
    if (!base::IsValidInstitutionCode(w->issuer)) {
      return Malformed("withdrawal's issuer is not an institution code [A-Z0-9]{2,16}");
    }
    if (w->certificate_serial.size() > kMaxSerialHexChars || !IsUpperHex(w->certificate_serial)) {
      return Malformed("certificate serial is not 1 to 40 uppercase hex digits");
    }
    if (w->since <= 0) return Malformed("compromise time is not after 1970");
    if (w->since > n.issued_at) return Malformed("compromise time is after the notice's own time");
    return Ok();
  }
  if (const GradingPolicy* p = n.policy()) {
    if (p->version == 0) return Malformed("policy's version is 0 (the built-in default's)");
    if (Status checked = CheckGradingPolicy(*p); !checked) {
      return Malformed(checked.error().message);
    }
    return Ok();
  }
  if (const HoldRelease* h = n.release()) {
    if (!base::IsValidInstitutionCode(h->issuer)) {
      return Malformed("release's issuer is not an institution code [A-Z0-9]{2,16}");
    }
    if (h->day == 0) return Malformed("release's day is 0 (1970-01-01)");
    return Ok();
  }
  const ForkResolution& r = *n.resolution();
  if (!base::IsValidInstitutionCode(r.issuer)) {
    return Malformed("resolution's issuer is not an institution code [A-Z0-9]{2,16}");
  }
  if (r.seq == 0) return Malformed("resolution's sequence number is 0");
  return Ok();
}

kj::ArrayPtr<const kj::byte> Blob(std::string_view s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::string Text(capnp::Text::Reader t) {
  return std::string(t.cStr(), t.size());
}

template <typename Builder>
std::string Canonical(Builder root) {
  kj::Array<capnp::word> words = capnp::canonicalize(root.asReader());
  return std::string(reinterpret_cast<const char*>(words.begin()),
                     words.size() * sizeof(capnp::word));
}

std::string EncodeNotice(const Notice& n) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<wire::Notice>();
  out.setVersion(kNoticeVersion);
  out.setConsortium(n.consortium);
  out.setIssuedAt(n.issued_at);
  out.setSignerCertificate(Blob(n.signer_certificate));
  if (const KeyWithdrawal* w = n.withdrawal()) {
    auto body = out.getBody().initKeyWithdrawal();
    body.setIssuer(w->issuer);
    body.setCertificateSerial(w->certificate_serial);
    body.setSince(w->since);
  } else if (const GradingPolicy* p = n.policy()) {
    auto body = out.getBody().initGradingPolicy();
    body.setVersion(p->version);
    auto purposes = body.initPurposes(static_cast<unsigned>(p->purposes.size()));
    for (unsigned i = 0; i < p->purposes.size(); ++i) {
      const PurposeRules& pr = p->purposes[i];
      purposes[i].setPurpose(pr.purpose);
      auto rules = purposes[i].initRules(static_cast<unsigned>(pr.rules.size()));
      for (unsigned j = 0; j < pr.rules.size(); ++j) {
        const GradingRule& r = pr.rules[j];
        rules[j].setName(r.name);
        rules[j].setTier(static_cast<uint8_t>(r.tier));
        rules[j].setMinEntries(r.min_entries);
        rules[j].setMinIssuers(r.min_issuers);
        rules[j].setMinBasis(static_cast<uint8_t>(r.min_basis));
        auto cats = rules[j].initCategories(static_cast<unsigned>(r.categories.size()));
        for (unsigned k = 0; k < r.categories.size(); ++k) {
          cats.set(k, static_cast<uint8_t>(r.categories[k]));
        }
        rules[j].setWithinDays(r.within_days);
      }
    }
  } else if (const HoldRelease* h = n.release()) {
    auto body = out.getBody().initHoldRelease();
    body.setIssuer(h->issuer);
    body.setDay(h->day);
  } else {
    const ForkResolution& r = *n.resolution();
    auto body = out.getBody().initForkResolution();
    body.setIssuer(r.issuer);
    body.setSeq(r.seq);
    body.setKeep(kj::arrayPtr(r.keep.bytes.data(), r.keep.bytes.size()));
  }
  return Canonical(out);
}

Result<Notice> ReadNotice(wire::Notice::Reader in) {
  if (in.getVersion() != kNoticeVersion) {
    return Malformed("version " + std::to_string(in.getVersion()) +
                     " is not the version 1 this node understands");
  }
  Notice n;
  n.consortium = Text(in.getConsortium());
  n.issued_at = in.getIssuedAt();
  auto cert = in.getSignerCertificate();
  n.signer_certificate.assign(reinterpret_cast<const char*>(cert.begin()), cert.size());
  auto body = in.getBody();
  switch (body.which()) {
    case wire::Notice::Body::KEY_WITHDRAWAL: {
      auto w = body.getKeyWithdrawal();
      n.body = KeyWithdrawal{Text(w.getIssuer()), Text(w.getCertificateSerial()), w.getSince()};
      break;
    }
    case wire::Notice::Body::FORK_RESOLUTION: {
      auto r = body.getForkResolution();
      ForkResolution out{Text(r.getIssuer()), r.getSeq(), {}};
      if (r.getKeep().size() != out.keep.bytes.size())
        return Malformed("kept hash is not 32 bytes");
      std::memcpy(out.keep.bytes.data(), r.getKeep().begin(), out.keep.bytes.size());
      n.body = std::move(out);
      break;
    }
    case wire::Notice::Body::HOLD_RELEASE: {
      auto h = body.getHoldRelease();
      n.body = HoldRelease{Text(h.getIssuer()), h.getDay()};
      break;
    }
    case wire::Notice::Body::GRADING_POLICY: {
      auto in_policy = body.getGradingPolicy();
      if (in_policy.getPurposes().size() > kMaxGradingPurposes) {
        return Malformed("policy has more than " + std::to_string(kMaxGradingPurposes) +
                         " purposes");
      }
      GradingPolicy p;
      p.version = in_policy.getVersion();
      for (auto in_purpose : in_policy.getPurposes()) {
        if (in_purpose.getRules().size() > kMaxGradingRulesPerPurpose) {
          return Malformed("policy has more than " + std::to_string(kMaxGradingRulesPerPurpose) +
                           " rules for one purpose");
        }
        PurposeRules pr{Text(in_purpose.getPurpose()), {}};
        for (auto in_rule : in_purpose.getRules()) {
          GradingRule r;
          r.name = Text(in_rule.getName());
          if (in_rule.getTier() < 1 || in_rule.getTier() > static_cast<uint8_t>(GradeTier::kDeny)) {
            return Malformed("policy rule's tier is not 1 (watch) to 3 (deny)");
          }
          r.tier = static_cast<GradeTier>(in_rule.getTier());
          r.min_entries = in_rule.getMinEntries();
          r.min_issuers = in_rule.getMinIssuers();
          if (in_rule.getMinBasis() < 1 || in_rule.getMinBasis() > kHighestBasisValue) {
            return Malformed("policy rule's basis is of a kind this node does not know");
          }
          r.min_basis = static_cast<Basis>(in_rule.getMinBasis());
          for (uint8_t c : in_rule.getCategories()) {
            if (c < 1 || c > kHighestCategoryValue) {
              return Malformed("policy rule's category is of a kind this node does not know");
            }
            r.categories.push_back(static_cast<Category>(c));
          }
          r.within_days = in_rule.getWithinDays();
          pr.rules.push_back(std::move(r));
        }
        p.purposes.push_back(std::move(pr));
      }
      n.body = std::move(p);
      break;
    }
    default:
      return Malformed("body is of a kind this node does not know");
  }
  if (Status checked = CheckNotice(n); !checked) return std::move(checked).error();
  return n;
}

// Reads `bytes` as one canonical Cap'n Proto message and hands its root to `read`.
template <typename Root, typename Read>
auto ReadCanonical(std::string_view bytes, std::string_view what, Read read)
    -> decltype(read(std::declval<typename Root::Reader>())) {
  if (bytes.empty() || bytes.size() > kMaxNoticeBytes || bytes.size() % sizeof(capnp::word) != 0) {
    return Malformed(std::string(what) + " is " + std::to_string(bytes.size()) +
                     " bytes; expected a whole number of 8-byte words, at most " +
                     std::to_string(kMaxNoticeBytes));
  }
  // Notices are rare: always copy into aligned words.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = kNoticeTraversalLimitWords;
  options.nestingLimit = kNoticeNestingLimit;
  kj::ArrayPtr<const capnp::word> segments[1] = {words.asPtr()};
  try {
    capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
    if (!reader.isCanonical()) return Malformed(std::string(what) + " is not canonical");
    return read(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    return Malformed(std::string(what) +
                     " does not decode: " + detail::OneLine(e.getDescription().cStr()));
  }
}

}  // namespace

std::string Notice::Subject() const {
  if (const KeyWithdrawal* w = withdrawal()) {
    return "withdrawal:" + w->issuer + ":" + w->certificate_serial;
  }
  if (policy() != nullptr) return "policy";
  if (const HoldRelease* h = release())
    return "release:" + h->issuer + ":" + std::to_string(h->day);
  return "resolution:" + resolution()->issuer + ":" + std::to_string(resolution()->seq);
}

Status CheckGradingPolicy(const GradingPolicy& policy) {
  const auto bad = [](std::string what) {
    return MakeError(ErrorKind::kInvalidInput, "policy: " + std::move(what));
  };
  if (policy.purposes.size() > kMaxGradingPurposes) {
    return bad("more than " + std::to_string(kMaxGradingPurposes) + " purposes");
  }
  for (size_t i = 0; i < policy.purposes.size(); ++i) {
    const PurposeRules& pr = policy.purposes[i];
    if (!IsGradingName(pr.purpose)) {
      return bad("purpose #" + std::to_string(i + 1) + "'s name is not 1 to 32 of [a-z0-9-]");
    }
    for (size_t j = 0; j < i; ++j) {
      if (policy.purposes[j].purpose == pr.purpose) {
        return bad("purpose " + pr.purpose + " has two lists of rules; expected one");
      }
    }
    if (pr.rules.size() > kMaxGradingRulesPerPurpose) {
      return bad("purpose " + pr.purpose + " has more than " +
                 std::to_string(kMaxGradingRulesPerPurpose) + " rules");
    }
    for (size_t k = 0; k < pr.rules.size(); ++k) {
      const GradingRule& r = pr.rules[k];
      const std::string where = "purpose " + pr.purpose + ", rule #" + std::to_string(k + 1);
      if (!IsGradingName(r.name)) return bad(where + ": name is not 1 to 32 of [a-z0-9-]");
      const std::string named = "purpose " + pr.purpose + ", rule " + r.name;
      if (r.tier == GradeTier::kNone || r.tier > GradeTier::kDeny) {
        return bad(named + ": tier is not watch, review or deny");
      }
      if (r.min_entries == 0) return bad(named + ": min_entries is 0; expected 1 or more");
      if (r.min_issuers == 0) return bad(named + ": min_issuers is 0; expected 1 or more");
      if (r.within_days > kMaxGradingWithinDays) {
        return bad(named + ": within_days is more than " + std::to_string(kMaxGradingWithinDays));
      }
      if (r.categories.size() > kHighestCategoryValue) {
        return bad(named + ": more categories than there are");
      }
    }
  }
  return Ok();
}

Result<SignedNotice> SignNotice(const Notice& notice, const crypto::SigningKey& key) {
  if (Status checked = CheckNotice(notice); !checked) {
    return MakeError(ErrorKind::kInvalidInput, checked.error().message);
  }
  SignedNotice out;
  try {
    out.bytes = EncodeNotice(notice);
  } catch (const kj::Exception& e) {
    return MakeError(ErrorKind::kInvalidInput,
                     "notice does not encode: " + detail::OneLine(e.getDescription().cStr()));
  }
  if (out.bytes.size() > kMaxNoticeBytes) {
    // A grading policy is the one notice whose size its author chooses: say what to cut.
    return MakeError(ErrorKind::kInvalidInput,
                     "notice encodes to " + std::to_string(out.bytes.size()) +
                         " bytes, more than the " + std::to_string(kMaxNoticeBytes) +
                         " every node accepts" +
                         (notice.policy() != nullptr
                              ? "; expected fewer rules (about 100 fit beside the signer's "
                                "certificate)"
                              : ""));
  }
  crypto::Signature sig = key.Sign(crypto::AsBytes(out.bytes));
  out.signature.assign(reinterpret_cast<const char*>(sig.bytes.data()), sig.bytes.size());
  return out;
}

std::string EncodeSignedNotice(const SignedNotice& notice) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<wire::SignedNotice>();
  out.setNotice(Blob(notice.bytes));
  out.setSignature(Blob(notice.signature));
  return Canonical(out);
}

Result<std::pair<SignedNotice, Notice>> DecodeSignedNotice(std::string_view bytes) {
  Result<SignedNotice> outer = ReadCanonical<wire::SignedNotice>(
      bytes, "signed notice", [](wire::SignedNotice::Reader in) -> Result<SignedNotice> {
        SignedNotice s;
        s.bytes.assign(reinterpret_cast<const char*>(in.getNotice().begin()),
                       in.getNotice().size());
        s.signature.assign(reinterpret_cast<const char*>(in.getSignature().begin()),
                           in.getSignature().size());
        return s;
      });
  if (!outer) return std::move(outer).error();
  if (EncodeSignedNotice(*outer) != bytes) {
    return Malformed("signed notice carries bytes outside its version-1 fields");
  }
  if (outer->signature.size() != crypto::kSignatureSize) {
    return Malformed("signature is not 64 bytes");
  }
  Result<Notice> notice = ReadCanonical<wire::Notice>(outer->bytes, "notice", ReadNotice);
  if (!notice) return std::move(notice).error();
  // One notice, one byte string: bits outside version 1's fields would give it many.
  if (EncodeNotice(*notice) != outer->bytes) {
    return Malformed("carries bytes outside its version-1 fields");
  }
  return std::make_pair(std::move(*outer), std::move(*notice));
}

std::string EncodeNoticeFile(const SignedNotice& notice) {
  return std::string(kNoticeFileMagic) + EncodeSignedNotice(notice);
}

Result<std::pair<SignedNotice, Notice>> DecodeNoticeFile(std::string_view bytes) {
  if (bytes.substr(0, kNoticeFileMagic.size()) != kNoticeFileMagic) {
    return MakeError(ErrorKind::kMalformed,
                     "not a duanka notice (expected a file starting with \"duanka-notice-1\")");
  }
  return DecodeSignedNotice(bytes.substr(kNoticeFileMagic.size()));
}

}  // namespace duanka::protocol
