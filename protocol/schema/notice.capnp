# Consortium notices: objects signed by the consortium's authority (the CA key or a regulator),
# carried over the peer protocol (`objects`, name "notice") and in files, verified by every node
# before use; of notices about one thing the newest (issuedAt) wins. Ordinals are never renumbered
# or reused. See protocol/README.md section 6.
@0x85b3be5a410a659b;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("duanka::protocol::wire");

const noticeVersion :UInt16 = 1;

# A stolen signing key: every record that key signed at or after `since` is suspended.
struct KeyWithdrawal {
  issuer @0 :Text;             # the institution the certificate names
  certificateSerial @1 :Text;  # its signing certificate's serial, uppercase hex
  since @2 :Int64;             # compromise time, Unix seconds
}

# A forked feed: of the records at `seq`, the one hashing to `keep` (and its successors) stays.
struct ForkResolution {
  issuer @0 :Text;
  seq @1 :UInt64;
  keep @2 :Data;               # record hash, 32 bytes
}

# The flood guard: `issuer`'s entries of `day` (days since 1970-01-01, UTC, by issue time) held
# for passing its daily limit are released, and that day holds nothing more.
struct HoldRelease {
  issuer @0 :Text;
  day @1 :UInt32;
}

# A grading policy (node/common/risk.h): per purpose name ("default" for purposes without their
# own list), ordered rules that grade a subject's active entries none < watch < review < deny. The
# highest version wins; version 0 is every node's built-in default and is never signed.
struct GradingRule {
  name @0 :Text;               # [a-z0-9-], 1 to 32 characters
  tier @1 :UInt8;              # 1 watch, 2 review, 3 deny
  minEntries @2 :UInt32;       # >= 1
  minIssuers @3 :UInt32;       # >= 1
  minBasis @4 :UInt8;          # record.capnp's Basis values; strength institution < psb < convicted
  categories @5 :List(UInt8);  # record.capnp's Category values; empty: any
  withinDays @6 :UInt32;       # issued within this many days; 0: any age
}

struct PurposeRules {
  purpose @0 :Text;            # a lookup purpose's name, or "default"
  rules @1 :List(GradingRule);
}

struct GradingPolicy {
  version @0 :UInt32;          # >= 1; a node keeps the highest
  purposes @1 :List(PurposeRules);
}

struct Notice {
  version @0 :UInt16;          # noticeVersion
  consortium @1 :Text;         # the CA's O: a notice of one consortium is no use in another
  issuedAt @2 :Int64;          # Unix seconds; the newest notice about one thing wins
  signerCertificate @3 :Data;  # DER signing certificate of a regulator; empty: the CA's own key
  body :union {
    keyWithdrawal @4 :KeyWithdrawal;
    forkResolution @5 :ForkResolution;
    holdRelease @6 :HoldRelease;
    gradingPolicy @7 :GradingPolicy;
  }
}

struct SignedNotice {
  notice @0 :Data;             # canonical bytes of a Notice
  signature @1 :Data;          # Ed25519 over `notice`, 64 bytes
}
