// Consortium-signed objects (design section 9): signed by the consortium's authority, carried
// like records and certificates (over the peer protocol, or as a file handed to any one node),
// verified by every node before use, the newest of each name winning, and kept in the store so
// that every program of the node applies the same. The CRL is one kind; consortium notices
// (protocol/notice.h: key withdrawals, fork resolutions, hold releases, the grading policy) are
// the others, each kept under its subject ("notice:withdrawal:BANKA:1F2E…", "notice:policy") so
// that a newer notice about one thing replaces the older (a policy: the higher version).
#pragma once

#include <string_view>
#include <vector>

#include "crypto/pki.h"
#include "protocol/notice.h"
#include "store/store.h"

namespace duanka::node {

// The store's name for the consortium CA's newest CRL (PEM), and the peer protocol's.
inline constexpr std::string_view kCrlObject = "crl";

// Verifies `pem` as a CRL of the CA newer than the one in force, keeps it in the store and puts
// it in force in `ca`. kInvalidInput (not a CRL of this CA), kConflict (not newer), kIo (store).
Result<crypto::CrlInfo> AdmitCrl(store::Store& store, crypto::TrustStore& ca, std::string_view pem);

// Puts the store's CRL in force in `ca` when it is newer than the one `ca` has (every program
// does this after opening its store: a CRL imported or received since the node's crl.pem was
// written). True when it changed anything.
Result<bool> ApplyHeldCrl(const store::Store& store, crypto::TrustStore& ca);

// The store's names of notices start with this, then the notice's Subject().
inline constexpr std::string_view kNoticeObjectPrefix = "notice:";

// A notice whose signature, signer and consortium this node checked.
struct VerifiedNotice {
  protocol::SignedNotice signed_notice;
  protocol::Notice notice;
  std::string signer;  // "the consortium CA" or "regulator PBOC"
};

// Checks a SignedNotice's bytes (as carried in `objects` or a notice file): of this consortium,
// not dated ahead of `now` by more than the records' clock skew, signed by the CA's own key or by
// a regulator whose signing certificate the CA issued and this node trusts (valid at the notice's
// time, not on the CRL in force); a fork resolution or a hold release by a regulator only. A
// withdrawal's compromise time must not be in the future. kMalformed (does not decode),
// kUnauthorized (a member signer, a CA-signed resolution or release, a bad signature, another
// consortium), kNotYet (dated ahead of `now`: this clock may be the slow one), kConflict (the
// signer's certificate is not trusted here, e.g. revoked since the notice was made: a relay may
// have taken it before).
Result<VerifiedNotice> VerifyNotice(const crypto::TrustStore& ca, std::string_view bytes,
                                    int64_t now);

// Keeps a verified notice when it is newer than the one held about its subject: a later issue
// time, or an equal one and SignedNotice bytes (as kept, EncodeSignedNotice) that compare greater
// (std::string order); of two grading policies, the higher version first. The order is total,
// so every node keeps the same one of two notices of one second. True when kept; false when this
// very notice is held already. kConflict when the held one wins, kIo (store).
Result<bool> KeepNotice(store::Store& store, const VerifiedNotice& notice);

// What applying a notice did, for the log.
struct NoticeEffect {
  uint64_t suspended = 0;          // withdrawal: entries now suspended under the key
  bool key_known = false;          // withdrawal: a certificate with that serial is held here
  store::ResolveOutcome resolved;  // resolution
  uint64_t released = 0;           // hold release: entries no longer held
};

// Puts a kept notice in force in the store: a withdrawal suspends what the withdrawn key signed
// since the compromise time (the key found among the signing certificates held, by serial and
// institution); a resolution unfreezes the feed on the kept branch. Idempotent.
Result<NoticeEffect> ApplyNotice(store::Store& store, const protocol::Notice& notice, int64_t now);

// Every notice the store holds, newest kept of each subject, as carried (SignedNotice bytes).
Result<std::vector<std::string>> HeldNotices(const store::Store& store);

// Applies every held notice again (idempotent; cheap when in force already): after new signing
// certificates arrive a withdrawal may find the key it names by serial, and at a program's start
// a notice kept but not applied (an I/O failure between the two) is put in force. Returns how
// many withdrawals found their key.
Result<size_t> ApplyHeldNotices(store::Store& store, int64_t now);

}  // namespace duanka::node
