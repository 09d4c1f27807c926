# duanka messages between nodes: what travels inside one frame (protocol/README.md section 6).
# Ordinals are never renumbered or reused; a field is only ever added with the next ordinal. Every
# enum's 0 is "unspecified", and so is the Message union's 0, so that an empty or zeroed message
# reads as invalid instead of silently as the first real kind. Each kind is a struct of its own
# (not a bare list or number) so that fields can be added to it later.
@0xba268cee1c33393c;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("duanka::protocol::wire");

using import "record.capnp".SignedRecord;

# Sent in Hello. A node closes with error.versionMismatch when it does not speak the peer's.
const protocolVersion :UInt16 = 1;

# First message on a connection, from both sides.
struct Hello {
  protocolVersion @0 :UInt16;
  consortium @1 :Text;          # the consortium CA's O; must equal the receiver's
  institution @2 :Text;         # the sender's institution code; must equal its TLS certificate's CN
  pepperEpochs @3 :List(UInt32);  # epochs the sender holds, ascending, each ≥ 1
  nodeTime @4 :Int64;           # the sender's clock, Unix seconds: lets the peer warn of skew
}

# Signing certificates (DER X.509) the sender knows, so that the receiver can verify records of
# issuers it has never met.
struct Certs {
  certificates @0 :List(Data);
}

# One issuer's feed as the sender holds it.
struct Head {
  issuer @0 :Text;              # institution code [A-Z0-9]{2,16}
  seq @1 :UInt64;               # the newest record held, ≥ 1 (empty feeds are not sent)
  hash @2 :Data;                # its record hash, 32 bytes
  frozen @3 :Bool;              # the feed forked; the sender takes nothing more of it
}

struct Heads {
  heads @0 :List(Head);         # at most one per issuer
}

# "Send me `count` records of `issuer` from `fromSeq` on."
struct Want {
  issuer @0 :Text;
  fromSeq @1 :UInt64;           # ≥ 1
  count @2 :UInt32;             # 1 … the receiver's records-per-message limit
}

# Signed records, each issuer's in seq order: the answer to a Want (empty when the sender holds
# none of them).
struct Records {
  records @0 :List(SignedRecord);
}

# Two different validly signed records with one (issuer, seq): the issuer equivocated.
struct Evidence {
  held @0 :SignedRecord;        # the record in the sender's feed
  other @1 :SignedRecord;       # the one that contradicts it
}

struct EvidenceList {
  evidence @0 :List(Evidence);
}

struct Ping {
  nonce @0 :UInt64;
}

struct Pong {
  nonce @0 :UInt64;             # the nonce of the Ping it answers
}

enum ErrorCode {
  unspecified @0;
  versionMismatch @1;
  consortiumMismatch @2;
  malformed @3;
  limitExceeded @4;
  unauthorized @5;
  shuttingDown @6;
}

# The last message before the sender closes the connection.
struct Error {
  code @0 :ErrorCode;
  message @1 :Text;             # one line for the peer's log, at most 256 bytes
}

# The root of every frame's payload.
# An object signed by the consortium's authority (the CA or a regulator), carried as it is; the
# receiver verifies it before use, and the newest of each name wins. Added in the second wave.
struct ConsortiumObject {
  name @0 :Text;                # what it is: "crl" (the consortium CA's CRL, PEM)
  body @1 :Data;                # its exact bytes
}

struct ConsortiumObjects {
  objects @0 :List(ConsortiumObject);
}

struct Message {
  union {
    unspecified @0 :Void;       # refused: a zeroed message is not any kind
    hello @1 :Hello;
    certs @2 :Certs;
    heads @3 :Heads;
    want @4 :Want;
    records @5 :Records;
    announce @6 :Head;          # a feed grew: sent at once to every peer
    evidence @7 :EvidenceList;
    ping @8 :Ping;
    pong @9 :Pong;
    error @10 :Error;
    objects @11 :ConsortiumObjects;  # sent after certs in the greeting, and when one is newer
  }
}
