# duanka records: the consortium's contract. Ordinals are never renumbered or reused; a field is
# only ever added with the next ordinal. Every enum's 0 is "unspecified" so that a field left out
# reads as invalid instead of silently as the first real value. See protocol/README.md.
@0xe618f0d94119bef2;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("duanka::protocol::wire");

const recordVersion :UInt16 = 1;
const bundleVersion :UInt16 = 1;

enum IdType {
  unspecified @0;
  cnId @1;
  phone @2;
  bankCard @3;
  bankAccount @4;
  wechat @5;
  alipay @6;
  qq @7;
  uscc @8;
  email @9;
  passport @10;
  ecnyWallet @11;
  passportIcao @12;  # passport with its issuing state; passport (10) stays for older entries
}

enum Category {
  unspecified @0;
  rentedOut @1;
  lent @2;
  sold @3;
  bought @4;
  broker @5;
  impersonation @6;
  fraudUse @7;
}

enum Basis {
  unspecified @0;
  psbIdentified @1;
  convicted @2;
  institution @3;
}

enum RevocationReason {
  unspecified @0;
  appealUpheld @1;
  issuedInError @2;
  courtOrder @3;
  sanctionLifted @4;
  rehashed @5;
  superseded @6;
}

# A listing: the keyed hash of one identifier, never the identifier.
struct Entry {
  subject @0 :Data;          # HMAC-SHA256(pepper[pepperEpoch], type tag ‖ 0x00 ‖ canonical), 32 bytes
  idType @1 :IdType;
  pepperEpoch @2 :UInt32;
  category @3 :Category;
  basis @4 :Basis;
  expiresAt @5 :Int64;       # Unix seconds, after issuedAt
  caseRef @6 :Text;          # decision or case reference, at most 64 bytes, may be empty
}

# What kind of institution a profile describes.
enum InstitutionKind {
  unspecified @0;
  bank @1;
  paymentInstitution @2;
  regulator @3;
}

# Who the issuer is and where a listed person appeals: the newest profile in its feed wins.
# Nodes of the first wave refuse a record with this body as malformed (docs/threat-model.md).
struct Profile {
  legalNameZh @0 :Text;      # at most 96 bytes
  legalNameEn @1 :Text;      # at most 128 bytes
  kind @2 :InstitutionKind;
  appealPhone @3 :Text;      # at most 32 bytes, may be empty
  appealAddress @4 :Text;    # at most 192 bytes, may be empty
  appealWeb @5 :Text;        # http(s) URL, at most 192 bytes, may be empty
}

# Withdraws the entry (issuer, seq).
struct Revocation {
  issuer @0 :Text;
  seq @1 :UInt64;
  reason @2 :RevocationReason;
}

struct Record {
  version @0 :UInt16;        # recordVersion
  issuer @1 :Text;           # institution code [A-Z0-9]{2,16}
  seq @2 :UInt64;            # 1, 2, 3 … per issuer, no gaps
  prev @3 :Data;             # record hash of the issuer's record seq-1; 32 zero bytes for seq 1
  issuedAt @4 :Int64;        # Unix seconds
  signerKeyId @5 :Data;      # SHA-256 of the signer's raw Ed25519 public key
  body :union {
    entry @6 :Entry;
    revocation @7 :Revocation;
    profile @8 :Profile;
  }
}

# The record's exact canonical bytes and the Ed25519 signature over them. Nobody re-encodes the
# record before verifying or storing it.
struct SignedRecord {
  record @0 :Data;
  signature @1 :Data;
}

# A file for institutions without a network link: certificates, signed records, and the
# consortium-signed objects (CRL, notices) a node holds.
struct Bundle {
  version @0 :UInt16;        # bundleVersion
  consortium @1 :Text;
  certificates @2 :List(Data);   # DER X.509 signing certificates
  records @3 :List(SignedRecord);
  objects @4 :List(BundleObject);  # in the first message only; older readers skip it
}

# A consortium object as the peer protocol's `objects` carries it: "crl" (PEM) or "notice".
struct BundleObject {
  name @0 :Text;
  body @1 :Data;
}

const evidenceFileVersion :UInt16 = 1;

# Two records one issuer signed for one seq.
struct EvidencePair {
  a @0 :SignedRecord;
  b @1 :SignedRecord;
}

# A self-contained proof of forks (`duanka-admin evidence export`), checkable offline by anyone
# holding the consortium CA certificate.
struct EvidenceFile {
  version @0 :UInt16;        # evidenceFileVersion
  consortium @1 :Text;
  certificates @2 :List(Data);   # DER X.509 signing certificates of the records' signers
  pairs @3 :List(EvidencePair);
  losing @4 :List(SignedRecord); # records of a losing branch a fork resolution set aside
}
