#include "node/daemon/sync_core.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "node/common/consortium_objects.h"
#include "node/common/human_time.h"
#include "node/daemon/log.h"
#include "node/daemon/pepper_epochs.h"
#include "protocol/message.h"

namespace duanka::daemon {
namespace {

using protocol::Message;
namespace msg = protocol::msg;

// How often outstanding wants are checked for hedging and timeouts: well inside the default
// want_hedge_ms, so a hedge goes out within a fifth of it after it is due.
constexpr std::chrono::milliseconds kWantCheckInterval{100};
// How often the peers snapshot (status, lag metrics) is rebuilt when something changed: building
// it costs peers × feeds, too much for every message.
constexpr std::chrono::milliseconds kSnapshotInterval{250};
// Notices a peer sends that this node cannot take through no fault of the peer (dated ahead of
// our clock, or signed by a certificate revoked since) are logged up to this many per connection.
constexpr uint64_t kUntrustedNoticesLoggedPerPeer = 16;
// A batch dated ahead of this node's clock is asked for again after this long.
constexpr std::chrono::milliseconds kNotYetRetry{1000};
// Record hashes whose own signature was checked, when serving them as the end of a range or on
// their way in (ingest); cleared when full (a cache: re-checking costs one verification).
constexpr size_t kServedSignatureCache = 4096;
// Certificates refused here that one connection may pass on (a member revoked here but not yet at
// the relay): more is not a relay's honest mistake.
constexpr size_t kMaxRefusedCertsPerPeer = 64;
// Refused certificates remembered, so that a copy sent again costs a lookup, not a verification.
constexpr size_t kRefusedCertCache = 4096;

struct RemoteHead {
  uint64_t seq = 0;
  crypto::Hash256 hash;
  bool frozen = false;
};

// A want sent and not yet answered. Kept in its feed (to see what is covered) and, by id, in its
// peer's queue (peers answer in order).
struct Want {
  uint64_t id = 0;
  PeerLink* peer = nullptr;
  uint64_t from = 0;
  uint32_t count = 0;
  uint64_t claimed = 0;  // the head the peer claimed when asked: what it promised to serve
  SteadyTime sent;
  // A fork resolution moved the feed back since it was sent: the peer may have rolled back too
  // and owes nothing of what it claimed.
  bool excused = false;
  uint64_t last() const { return from + count - 1; }
};

struct Peer {
  std::shared_ptr<PeerLink> conn;
  bool hello = false;
  std::map<std::string, RemoteHead> heads;             // only feeds of issuers certified here
  std::deque<std::pair<std::string, uint64_t>> wants;  // (issuer, want id), oldest first
  uint64_t unknown_feeds = 0;   // heads naming issuers without a certificate here
  uint64_t evidence_pairs = 0;  // evidence pairs received on this connection
  uint64_t answers = 0;         // non-empty answers to our wants: a record of keeping promises
  bool refused = false;         // penalised: nothing it sends after that is read (one penalty each)
  uint64_t untrusted_notices = 0;  // notices it sent this node could not take, not its fault
  std::set<crypto::Hash256> refused_certs;  // certificates it sent that the CA does not vouch for
  std::optional<int64_t> clock_skew;        // its hello's node_time minus ours
};

// This node's view of one feed while syncing it.
struct Feed {
  uint64_t seq = 0;
  crypto::Hash256 hash;
  bool frozen = false;
  uint64_t fork_seq = 0;
  std::vector<Want> wants;
  // Answered ranges on their way through verification and commit.
  std::vector<std::pair<uint64_t, uint64_t>> committing;
  SteadyTime retry_after{};  // records dated ahead of our clock: not before this
  bool not_yet_logged = false;
};

// Penalties are kept per institution, except a read replica's: per certificate, so that one
// misbehaving replica does not keep its institution's others out.
std::string PenaltyKey(const PeerLink& link) {
  if (!link.replica()) return link.institution();
  return link.institution() + "/replica/" + link.certificate_serial();
}

struct Penalty {
  uint32_t strikes = 0;
  SteadyTime banned_until{};
  int64_t banned_until_wall = 0;  // the same moment on the wall clock, for the status
  std::string why;
};

}  // namespace

struct SyncCore::Impl {
  Impl(SyncContext context, SyncOptions options)
      : ctx(std::move(context)),
        store(ctx.store),
        ca(ctx.ca),
        trust(ctx.trust),
        ingest(ctx.ingest),
        metrics(ctx.metrics),
        options(std::move(options)) {}

  SyncContext ctx;
  store::Store& store;
  crypto::TrustStore& ca;
  TrustHolder& trust;
  Ingest& ingest;
  Metrics& metrics;
  SyncOptions options;
  // Ingest completions come back later through ctx.post; they hold this weakly, so that a core
  // destroyed meanwhile is not touched.
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  int64_t now() const { return ctx.clock.wall_seconds(); }
  SteadyTime steady() const { return ctx.clock.steady(); }

  // Runs `f` on the core's thread later, unless the core is gone by then.
  void Later(std::function<void(Impl&)> f) {
    ctx.post([this, token = std::weak_ptr<int>(alive), f = std::move(f)] {
      if (!token.expired()) f(*this);
    });
  }

  std::map<PeerLink*, Peer> peers;
  std::map<std::string, Feed> feeds;
  // Records answered to this node's wants and not yet committed, all feeds together.
  uint64_t uncommitted_records = 0;
  std::map<std::string, Penalty> penalties;
  // Institutions with a signing certificate the CA vouches for: the only feeds peers may name.
  std::set<std::string> certified;
  // Feeds whose wants need another look (their heads, wants or commits changed).
  std::set<std::string> dirty;
  uint64_t next_want_id = 0;
  // Evidence pairs (hash ‖ hash) whose records both verify alone, and those that do not (kept
  // here, never passed on: a receiver would have to refuse them).
  std::set<std::string> evidence_ok, evidence_unverifiable, evidence_sent;
  bool evidence_broadcast_due = false;
  std::set<crypto::Hash256> served_signature_ok;
  // Hashes of certificates the CA does not vouch for (another CA's, revoked): not checked again.
  std::set<crypto::Hash256> refused_certs;
  // Signing keys a CRL revoked while this node ran: records they signed are not taken, but the
  // relay (which may not have the CRL yet) is sent it rather than blamed.
  std::set<crypto::Hash256> revoked_keys;
  // Every signing certificate (DER) of the store looked at: trusted and passed on when the CA
  // vouches for it, else never looked at again (the CA and CRL do not change while running).
  std::set<std::string> certs_seen;
  bool stopped = false;
  bool snapshot_stale = true;
  uint64_t ping_nonce = 0;
  // Peers whose pepper holds epochs this node's lacks: entries under them are unfindable here.
  PepperEpochWatch pepper_watch{options.pepper_epochs};
  // Consortium notices held (as carried): what peers are sent at the greeting, and how a notice
  // echoed back is told from a new one without verifying it again.
  std::set<std::string> notices_known;
  // Read from other threads (status, health); written on the strand.
  mutable std::mutex snapshot_mutex;
  std::string peers_json = "[]";
  std::string pepper_json = "{}";
  std::atomic<size_t> ready_peers{0};
  std::map<std::string, InstitutionLinkState> institution_states;

  // ---- Sending ----

  void Send(Peer& p, const Message& m) { p.conn->Send(protocol::EncodeMessage(m)); }

  void SendError(Peer& p, msg::ErrorCode code, const std::string& text) {
    Send(p, msg::Error{code, text.substr(0, protocol::kMaxErrorMessageBytes)});
  }

  msg::Head ToWire(const std::string& issuer, const Feed& f) {
    return msg::Head{issuer, f.seq, f.hash, f.frozen};
  }

  void SendGreeting(Peer& p) {
    Send(p, msg::Hello{protocol::kProtocolVersion, options.consortium, options.institution,
                       options.pepper_epochs, now()});
    Result<std::vector<std::string>> certs = store.Certificates();
    if (certs) {
      protocol::MessageLimits limits;
      for (size_t i = 0; i < certs->size(); i += limits.max_certs) {
        msg::Certs m;
        for (size_t j = i; j < std::min(certs->size(), i + limits.max_certs); ++j) {
          m.certificates.push_back((*certs)[j]);
        }
        Send(p, m);
      }
    }
    if (std::optional<crypto::CrlInfo> crl = ca.crl()) {
      Send(p, msg::Objects{{msg::ConsortiumObject{std::string(node::kCrlObject), crl->pem}}});
    }
    // The notices in force (not every one seen: a superseded notice helps nobody).
    if (Result<std::vector<std::string>> held = node::HeldNotices(store)) SendNotices(p, *held);
    SendHeads(p);
    // Evidence found before this peer connected reaches it too.
    std::vector<msg::EvidencePair> pairs = PassableEvidence(/*only_unsent=*/false);
    for (const Message& m : SplitEvidence(std::move(pairs))) Send(p, m);
  }

  void SendHeads(Peer& p) {
    protocol::MessageLimits limits;
    msg::Heads m;
    for (const auto& [issuer, f] : feeds) {
      if (f.seq == 0) continue;
      m.heads.push_back(ToWire(issuer, f));
      if (m.heads.size() == limits.max_heads) {
        Send(p, m);
        m.heads.clear();
      }
    }
    if (!m.heads.empty()) Send(p, m);
  }

  // To every peer in the map, whether or not its hello has come: each was sent our greeting
  // (hello, certs, heads) when it joined, so this follows it on the wire. Waiting for its hello
  // would lose what happens in between: a certificate learned then would never reach it, and
  // it would refuse the records that certificate vouches for from an honest relay.
  void Broadcast(const Message& m, const PeerLink* except = nullptr) {
    std::string payload = protocol::EncodeMessage(m);
    for (auto& [conn, p] : peers) {
      if (conn != except) p.conn->Send(payload);
    }
  }

  // A feed grew here: its new head goes to every peer but those that have claimed it already
  // (usually the peer it came from, and the others that announced it first). The simulated
  // consortium (docs/scale.md) spends most of its bytes on announces a peer did not need.
  void AnnounceToPeersBehind(const std::string& issuer, const Feed& f) {
    std::string payload = protocol::EncodeMessage(msg::Announce{ToWire(issuer, f)});
    for (auto& [conn, p] : peers) {
      auto claim = p.heads.find(issuer);
      if (claim != p.heads.end() && claim->second.seq == f.seq && claim->second.hash == f.hash) {
        continue;
      }
      p.conn->Send(payload);
    }
  }

  // ---- Local state ----

  // Takes the certificates that reached the store since the last call (from a peer's `certs`, an
  // imported bundle, the admin tool), trusts those the CA vouches for, and passes them to every
  // ready peer but `from`. Peers learn a signer before anything it signed is announced to them:
  // an honest relay is never refused for records whose certificate only it had.
  void ShareNewCertificates(const PeerLink* from = nullptr) {
    Result<std::vector<std::string>> held = store.Certificates();
    if (!held) {
      LogError("cannot read certificates: {}", held.error().message);
      return;
    }
    std::vector<protocol::Signer> signers;
    std::vector<std::string> fresh;
    for (std::string& der : *held) {
      if (!certs_seen.insert(der).second) continue;
      Result<crypto::CertificateInfo> cert =
          ca.Verify(der, crypto::CertKind::kSigning, std::nullopt);
      if (!cert) continue;  // e.g. revoked: records it signed are refused anyway
      certified.insert(cert->institution);
      signers.push_back(protocol::Signer{cert->institution, cert->role, cert->public_key,
                                         cert->not_before, cert->not_after});
      fresh.push_back(std::move(der));
    }
    if (signers.empty()) return;
    trust.Add(signers);
    protocol::MessageLimits limits;
    for (size_t i = 0; i < fresh.size(); i += limits.max_certs) {
      msg::Certs m;
      for (size_t j = i; j < std::min(fresh.size(), i + limits.max_certs); ++j) {
        m.certificates.push_back(fresh[j]);
      }
      Broadcast(m, from);
    }
  }

  // A head a peer claims at a seq this node holds, with another hash, is a fork: fetch that
  // record, and the store keeps the pair as evidence. Checked when the claim arrives, and again
  // when this node's own head passes the claimed seq (it may have taken the other branch since).
  void ProbeFork(Peer& p, const std::string& issuer, Feed& f, uint64_t seq,
                 const crypto::Hash256& hash) {
    if (seq > f.seq || seq == 0 || f.frozen) return;
    bool differs = seq == f.seq ? hash != f.hash : false;
    if (seq < f.seq) {
      Result<std::vector<protocol::SignedRecord>> ours = store.Range(issuer, seq, 1);
      differs = ours && !ours->empty() && protocol::RecordHash(ours->front()) != hash;
    }
    bool asked = std::any_of(f.wants.begin(), f.wants.end(), [&](const Want& w) {
      return w.peer == p.conn.get() && w.from == seq;
    });
    if (differs && !asked && p.wants.size() < options.limits.wants_per_peer) {
      SendWant(p, issuer, f, seq, 1, seq);
    }
  }

  // Takes one feed's head as the store has it now.
  void NoteLocalHead(const store::Head& h, bool announce) {
    Feed& f = feeds[h.issuer];
    bool grew = h.seq > f.seq;
    bool froze = h.frozen && !f.frozen;
    const uint64_t old_seq = f.seq;
    f.seq = h.seq;
    f.hash = h.hash;
    f.frozen = h.frozen;
    f.fork_seq = h.fork_seq;
    if (grew) {
      for (auto& [conn, p] : peers) {
        auto claim = p.heads.find(h.issuer);
        if (claim != p.heads.end() && claim->second.seq > old_seq) {
          ProbeFork(p, h.issuer, f, claim->second.seq, claim->second.hash);
        }
      }
    }
    if (froze) {
      LogAlert("feed {} is FROZEN: its issuer signed two different records at seq {}", h.issuer,
               h.fork_seq);
      BroadcastEvidence();
    }
    if (announce && grew && f.seq > 0) AnnounceToPeersBehind(h.issuer, f);
    if (grew || froze) dirty.insert(h.issuer);
  }

  void RefreshLocalHeads(bool announce) {
    Result<std::vector<store::Head>> heads = store.Heads();
    if (!heads) {
      LogError("cannot read heads: {}", heads.error().message);
      return;
    }
    for (const store::Head& h : *heads) NoteLocalHead(h, announce);
    snapshot_stale = true;
  }

  void RefreshLocalHead(const std::string& issuer, bool announce) {
    Result<std::optional<store::Head>> head = store.GetHead(issuer);
    if (!head) {
      LogError("cannot read the head of {}: {}", issuer, head.error().message);
      return;
    }
    if (*head) NoteLocalHead(**head, announce);
    snapshot_stale = true;
  }

  // ---- Evidence ----

  static std::string EvidenceKey(const store::Evidence& e) {
    return protocol::RecordHash(e.held).Hex() + protocol::RecordHash(e.other).Hex();
  }

  // Held evidence whose two records each verify on their own signature. A fork can be found
  // between records whose own signatures nobody checked (inside chains vouched for by a later
  // record); a receiver verifies evidence record by record and would penalise the relay, so such
  // pairs stay here (the feed is frozen here all the same).
  std::vector<msg::EvidencePair> PassableEvidence(bool only_unsent) {
    std::vector<msg::EvidencePair> out;
    Result<std::vector<store::Evidence>> all = store.AllEvidence();
    if (!all) return out;
    std::shared_ptr<const protocol::Trust> signers = trust.Get();
    protocol::VerifyOptions verify{now(), INT64_MAX / 4};
    for (store::Evidence& e : *all) {
      std::string key = EvidenceKey(e);
      if (evidence_unverifiable.count(key)) continue;
      if (!evidence_ok.count(key)) {
        if (!protocol::Verify(e.held, *signers, verify) ||
            !protocol::Verify(e.other, *signers, verify)) {
          evidence_unverifiable.insert(key);
          LogWarn(
              "fork evidence of {} is not passed on: one of its records does not verify on "
              "its own signature (the issuer signed a chain over it)",
              protocol::DecodeRecord(e.held.bytes) ? protocol::DecodeRecord(e.held.bytes)->issuer
                                                   : std::string("an unknown issuer"));
          continue;
        }
        evidence_ok.insert(key);
      }
      if (only_unsent && !evidence_sent.insert(key).second) continue;
      out.push_back(msg::EvidencePair{std::move(e.held), std::move(e.other)});
    }
    return out;
  }

  static std::vector<Message> SplitEvidence(std::vector<msg::EvidencePair> pairs) {
    std::vector<Message> out;
    const size_t limit = protocol::MessageLimits{}.max_evidence;
    for (size_t i = 0; i < pairs.size(); i += limit) {
      msg::Evidence m;
      for (size_t j = i; j < std::min(pairs.size(), i + limit); ++j) {
        m.pairs.push_back(std::move(pairs[j]));
      }
      out.emplace_back(std::move(m));
    }
    return out;
  }

  void BroadcastEvidence() {
    for (const Message& m : SplitEvidence(PassableEvidence(/*only_unsent=*/true))) Broadcast(m);
  }

  // ---- Status ----

  uint64_t LagOf(const Peer& p) const {
    uint64_t lag = 0;
    for (const auto& [issuer, rh] : p.heads) {
      auto it = feeds.find(issuer);
      uint64_t have = it == feeds.end() ? 0 : it->second.seq;
      // A frozen feed takes nothing past its fork: what a peer holds beyond it is not lag.
      if (rh.frozen || (it != feeds.end() && it->second.frozen)) continue;
      if (rh.seq > have) lag += rh.seq - have;
    }
    return lag;
  }

  // The feeds LagOf counts, each with the peer's seq and ours: the status page shows where the
  // lag is. Only feeds behind, so its size follows the lag, not the consortium's size.
  nlohmann::json BehindOf(const Peer& p) const {
    nlohmann::json behind = nlohmann::json::array();
    for (const auto& [issuer, rh] : p.heads) {
      auto it = feeds.find(issuer);
      uint64_t have = it == feeds.end() ? 0 : it->second.seq;
      if (rh.frozen || (it != feeds.end() && it->second.frozen) || rh.seq <= have) continue;
      behind.push_back({{"issuer", issuer}, {"their_seq", rh.seq}, {"our_seq", have}});
    }
    return behind;
  }

  // Metrics and the status snapshot; rebuilt at most every kSnapshotInterval.
  void UpdateSnapshot() {
    snapshot_stale = false;
    nlohmann::json list = nlohmann::json::array();
    for (auto& [conn, p] : peers) {
      uint64_t lag = LagOf(p);
      if (p.hello && !p.conn->replica()) metrics.SetSyncLag(p.conn->institution(), lag);
      nlohmann::json peer = {{"institution", p.conn->institution()},
                             {"replica", p.conn->replica()},
                             {"address", p.conn->address()},
                             {"direction", p.conn->outbound() ? "out" : "in"},
                             {"ready", p.hello},
                             {"lag_records", lag},
                             {"behind", BehindOf(p)},
                             {"wants_in_flight", p.wants.size()}};
      if (p.clock_skew) peer["clock_skew_seconds"] = *p.clock_skew;
      list.push_back(std::move(peer));
    }
    std::map<std::string, InstitutionLinkState> states;
    for (const auto& [conn, p] : peers) {
      // A replica of this node is not a peer institution reached: it is listed in `peers` only.
      if (p.conn->replica()) continue;
      InstitutionLinkState& st = states[p.conn->institution()];
      ++st.connections;
      st.ready = st.ready || p.hello;
    }
    for (const auto& [who, pen] : penalties) {
      InstitutionLinkState& st = states[who];
      st.refused_until = pen.banned_until_wall;
      st.refused_why = pen.why;
    }
    // Institutions, not connections: two links to one peer (one each way) are one peer reached.
    size_t ready = 0;
    for (const auto& [who, st] : states) ready += st.ready ? 1 : 0;
    ready_peers = ready;
    metrics.SetPeersConnected(static_cast<int64_t>(ready));
    metrics.SetPeerConnections(static_cast<int64_t>(peers.size()));
    nlohmann::json pepper = {{"epochs", pepper_watch.ours()},
                             {"epochs_missing", pepper_watch.Missing()},
                             {"peers_ahead", pepper_watch.PeersAhead()}};
    std::lock_guard<std::mutex> lock(snapshot_mutex);
    peers_json = list.dump();
    pepper_json = pepper.dump();
    institution_states = std::move(states);
  }

  // ---- Fetching ----

  bool Fresh(const Want& w, SteadyTime at) const {
    return at - w.sent < std::chrono::milliseconds(options.limits.want_hedge_ms);
  }

  // The first seq after the feed's head that no fresh want and no batch in commit covers, and the
  // last seq before the next covered range (UINT64_MAX if none follows).
  std::pair<uint64_t, uint64_t> FirstUncovered(const Feed& f, SteadyTime at) const {
    std::vector<std::pair<uint64_t, uint64_t>> ranges = f.committing;
    for (const Want& w : f.wants) {
      if (Fresh(w, at)) ranges.emplace_back(w.from, w.last());
    }
    std::sort(ranges.begin(), ranges.end());
    uint64_t covered = f.seq;
    for (const auto& [from, last] : ranges) {
      if (last <= covered) continue;
      if (from > covered + 1) return {covered + 1, from - 1};
      covered = last;
    }
    return {covered + 1, UINT64_MAX};
  }

  // Asks for what this feed lacks. Wants count against the feed's in-flight limit only while
  // fresh: a want unanswered for want_hedge_ms (a slow peer, or a liar holding the feed) no longer
  // blocks, and its range is asked of another peer that claims it.
  void Pump(const std::string& issuer) {
    auto it = feeds.find(issuer);
    if (it == feeds.end()) return;
    Feed& f = it->second;
    const auto at = steady();
    if (at < f.retry_after) return;
    const auto& l = options.limits;
    const uint64_t stop_before = f.frozen ? f.fork_seq : UINT64_MAX;
    // Wants at or below the head (a fork probe: a record this node holds, asked for because a
    // peer's head names another hash) do not fetch anything new and do not count.
    size_t asking = 0;
    for (const Want& w : f.wants) asking += Fresh(w, at) && w.last() > f.seq ? 1 : 0;
    // A feed's share: wants_in_flight wants, answered or not, until committed. Beyond it the
    // node keeps asking while earlier answers commit, within the budget of uncommitted records,
    // so that a catch-up's commits grow as large as the store's pace needs (a bulk load: fewer
    // pages rewritten per record) instead of the fetch waiting for every commit.
    auto may_ask = [&] {
      if (asking >= l.wants_in_flight) return false;
      return asking + f.committing.size() < l.wants_in_flight ||
             uncommitted_records + l.records_per_want <= l.max_uncommitted_records;
    };
    while (may_ask()) {
      auto [from, gap_last] = FirstUncovered(f, at);
      if (from >= stop_before) break;
      Peer* best = nullptr;
      uint64_t best_seq = 0;
      for (auto& [conn, p] : peers) {
        if (!p.hello || p.wants.size() >= l.wants_per_peer) continue;
        auto h = p.heads.find(issuer);
        if (h == p.heads.end() || h->second.seq < from) continue;
        bool asked = std::any_of(f.wants.begin(), f.wants.end(), [&](const Want& w) {
          return w.peer == conn && w.from <= from && from <= w.last();
        });
        if (asked) continue;  // never the same range twice of one peer
        // The least busy; among those, the one that has answered most: a newcomer's claims
        // (perhaps a liar's) are tried after those of peers that kept theirs.
        if (best == nullptr || p.wants.size() < best->wants.size() ||
            (p.wants.size() == best->wants.size() && p.answers > best->answers)) {
          best = &p;
          best_seq = h->second.seq;
        }
      }
      if (best == nullptr) break;
      uint64_t last =
          std::min({best_seq, from + l.records_per_want - 1, stop_before - 1, gap_last});
      SendWant(*best, issuer, f, from, static_cast<uint32_t>(last - from + 1), best_seq);
      ++asking;
    }
  }

  void PumpDirty() {
    std::set<std::string> now_dirty;
    now_dirty.swap(dirty);
    for (const std::string& issuer : now_dirty) Pump(issuer);
  }

  void SendWant(Peer& p, const std::string& issuer, Feed& f, uint64_t from, uint32_t count,
                uint64_t claimed) {
    Want w{++next_want_id, p.conn.get(), from, count, claimed, steady()};
    f.wants.push_back(w);
    p.wants.emplace_back(issuer, w.id);
    Send(p, msg::Want{issuer, from, count});
  }

  // Takes the peer's oldest want off both lists.
  std::optional<std::pair<std::string, Want>> PopOldestWant(Peer& p) {
    if (p.wants.empty()) return std::nullopt;
    auto [issuer, id] = p.wants.front();
    p.wants.pop_front();
    Feed& f = feeds[issuer];
    auto it =
        std::find_if(f.wants.begin(), f.wants.end(), [&](const Want& w) { return w.id == id; });
    if (it == f.wants.end()) return std::nullopt;
    Want w = *it;
    f.wants.erase(it);
    dirty.insert(issuer);
    return std::make_pair(issuer, w);
  }

  void DropWantsOf(Peer& p) {
    for (const auto& [issuer, id] : p.wants) {
      Feed& f = feeds[issuer];
      std::erase_if(f.wants, [id = id](const Want& w) { return w.id == id; });
      dirty.insert(issuer);
    }
    p.wants.clear();
  }

  // ---- Penalties ----

  bool Banned(const std::string& key) {
    auto it = penalties.find(key);
    return it != penalties.end() && steady() < it->second.banned_until;
  }

  // Refuses `who` (a PenaltyKey) for ban_base_seconds, doubling with each strike up to
  // ban_max_seconds, and closes every connection it has here.
  // `reason` is counted as rejected data; a peer refused for silence sent none.
  void Ban(const std::string& who, const std::string& address, std::optional<RejectReason> reason,
           const std::string& why) {
    if (reason) metrics.CountRejected(*reason, 1);
    if (options.replica) {
      // Its institution's node is a replica's one source, and answerable to the same operator:
      // refusing it for an hour would only leave the replica's lookups stale. The link is closed
      // and redialled with the dialer's backoff.
      LogWarn("{} ({}), this replica's node, closed: {}", who, address, why);
      CloseLinksOf(who, "closed: " + why);
      return;
    }
    Penalty& pen = penalties[who];
    ++pen.strikes;
    const auto& l = options.limits;
    uint64_t seconds = l.ban_base_seconds;
    for (uint32_t i = 1; i < pen.strikes && seconds < l.ban_max_seconds; ++i) seconds *= 2;
    seconds = std::min<uint64_t>(seconds, l.ban_max_seconds);
    pen.banned_until = steady() + std::chrono::seconds(seconds);
    pen.banned_until_wall = now() + static_cast<int64_t>(seconds);
    pen.why = why;
    snapshot_stale = true;
    LogWarn("peer {} ({}) refused for {} s: {}", who, address, seconds, why);
    if (ctx.on_penalty) ctx.on_penalty(who, why);
    CloseLinksOf(who, "penalised: " + why);
  }

  // Closes every link of `who` (a PenaltyKey), its wants asked elsewhere at once, not after the
  // hedge delay. What it claimed of our own feed is forgotten, as for a want it left unanswered:
  // a peer penalised for bad data must not keep duanka-admin from publishing.
  void CloseLinksOf(const std::string& who, const std::string& why) {
    std::vector<uint64_t> own_claims;
    for (auto& [conn, other] : peers) {
      if (PenaltyKey(*other.conn) != who) continue;
      other.refused = true;
      if (other.heads.count(options.institution)) own_claims.push_back(OwnClaimOf(other, 0));
      DropWantsOf(other);
      other.conn->Close(why);
    }
    for (uint64_t claimed : own_claims) {
      if (claimed > 0) OwnFeedClaimBroken(claimed, "came from a peer refused for misbehaving");
    }
  }

  // Bans the peer's institution after telling it why.
  void Penalise(Peer& p, RejectReason reason, const std::string& why) {
    SendError(p,
              reason == RejectReason::kMalformed ? msg::ErrorCode::kMalformed
                                                 : msg::ErrorCode::kUnauthorized,
              why);
    Ban(PenaltyKey(*p.conn), p.conn->address(), reason, why);
  }

  // ---- Handling messages ----

  void Handle(Peer& p, Message& m) {
    if (!p.hello && !std::holds_alternative<msg::Hello>(m)) {
      Penalise(p, RejectReason::kMalformed,
               "sent " + std::string(protocol::MessageKindName(m)) + " before hello");
      return;
    }
    std::visit([&](auto& body) { On(p, body); }, m);
  }

  void On(Peer& p, msg::Hello& h) {
    if (h.protocol_version != protocol::kProtocolVersion) {
      SendError(p, msg::ErrorCode::kVersionMismatch,
                "protocol version " + std::to_string(protocol::kProtocolVersion) + " expected");
      p.conn->Close("protocol version " + std::to_string(h.protocol_version) + " not spoken here");
      return;
    }
    if (h.consortium != options.consortium) {
      SendError(p, msg::ErrorCode::kConsortiumMismatch, "this node is of " + options.consortium);
      p.conn->Close("peer is of consortium " + h.consortium);
      return;
    }
    if (h.institution != p.conn->institution()) {
      // protocol/README.md section 6: answered with `error unauthorized`.
      Penalise(p, RejectReason::kUnauthorized,
               "hello names " + h.institution + " but the certificate is " + p.conn->institution());
      return;
    }
    p.hello = true;
    // Either clock may be the wrong one; neither is a reason to refuse the peer. Records it
    // relays that are dated ahead of ours wait here until our clock reaches them.
    const int64_t skew = h.node_time - now();
    p.clock_skew = skew;
    if (!p.conn->replica()) metrics.SetPeerClockSkew(p.conn->institution(), skew);
    const int64_t tolerance = options.limits.max_clock_skew_seconds;
    if (skew > tolerance || skew < -tolerance) {
      LogWarn(
          "peer {} ({}): its clock differs from this node's by {} s (more than "
          "limits.max_clock_skew_seconds = {}); check NTP on both: records dated ahead of "
          "this node's clock wait until it reaches them",
          p.conn->institution(), p.conn->address(), skew, tolerance);
    }
    std::vector<uint32_t> missing =
        pepper_watch.OnHello(p.conn.get(), p.conn->institution(), h.pepper_epochs);
    if (!missing.empty()) {
      LogAlert(
          "peer {} ({}) holds pepper epoch(s) {} that this node's pepper lacks: entries made "
          "under them are stored here but no lookup here finds them; install the "
          "consortium's current pepper (duanka-admin pepper install FILE) and restart duankad",
          p.conn->institution(), p.conn->address(), EpochListText(missing));
    }
    metrics.SetPepperEpochsMissing(pepper_watch.Missing().size());
    LogInfo("peer {} ({}) ready", p.conn->institution(), p.conn->address());
    snapshot_stale = true;
  }

  void On(Peer& p, msg::Certs& c) {
    bool kept_any = false;
    for (const std::string& der : c.certificates) {
      if (certs_seen.count(der)) continue;
      const crypto::Hash256 id = crypto::Sha256(crypto::AsBytes(der));
      // A relay may pass on a certificate this node does not take (revoked here, say), once per
      // connection; checking the same refusal again and again is a way to burn this node's CPU.
      if (!p.refused_certs.insert(id).second || p.refused_certs.size() > kMaxRefusedCertsPerPeer) {
        Penalise(p, RejectReason::kUnauthorized,
                 "sent certificates refused here over and over (more than " +
                     std::to_string(kMaxRefusedCertsPerPeer) + ", or one twice)");
        return;
      }
      if (refused_certs.count(id)) continue;
      Result<crypto::CertificateInfo> cert =
          ca.Verify(der, crypto::CertKind::kSigning, std::nullopt);
      if (!cert) {
        // e.g. revoked since; records it signed will be refused
        if (refused_certs.size() >= kRefusedCertCache) refused_certs.clear();
        refused_certs.insert(id);
        continue;
      }
      p.refused_certs.erase(id);  // not refused after all
      Status kept = store.PutCertificate(protocol::KeyId(cert->public_key), der);
      if (!kept) LogError("cannot keep a certificate: {}", kept.error().message);
      kept_any = kept_any || kept.ok();
    }
    // Trusts them, and passes them on before any record they vouch for can be announced.
    if (kept_any) ShareNewCertificates(p.conn.get());
    // A withdrawal held here may name one of them by serial.
    if (kept_any) {
      if (Result<size_t> applied = node::ApplyHeldNotices(store, now()); !applied) {
        LogError("cannot apply the held notices: {}", applied.error().message);
      }
    }
  }

  void On(Peer& p, msg::Heads& h) {
    for (const msg::Head& head : h.heads) {
      if (!NoteRemoteHead(p, head)) return;  // penalised
    }
    snapshot_stale = true;
    PumpDirty();
  }

  void On(Peer& p, msg::Announce& a) {
    if (!NoteRemoteHead(p, a.head)) return;
    snapshot_stale = true;
    PumpDirty();
  }

  // ---- Our own feed as peers hold it ----
  // A store restored from a backup is behind what peers hold of our own feed; duanka-admin
  // refuses to sign there (a second record at a held seq is a fork) while the store's seen head
  // is above its own head. The seen head the store keeps, mirrored once read, so that only a
  // claim that passes it costs a write.
  std::optional<uint64_t> own_seen;

  std::optional<uint64_t> OwnSeen() {
    if (!own_seen) {
      Result<std::optional<std::pair<uint64_t, int64_t>>> held =
          store.SeenHead(options.institution);
      if (!held) {
        LogError("cannot read the seen head of {}: {}", options.institution, held.error().message);
        return std::nullopt;
      }
      own_seen = *held ? (*held)->first : 0;
    }
    return own_seen;
  }

  void NoteOwnFeedClaim(const Peer& p, uint64_t seq) {
    std::optional<uint64_t> seen = OwnSeen();
    if (!seen || seq <= *seen || seq <= feeds[options.institution].seq) return;
    if (Status kept = store.NoteSeenHead(options.institution, seq, now()); !kept) {
      LogError("cannot keep the head of {} seen at a peer: {}", options.institution,
               kept.error().message);
      return;
    }
    own_seen = seq;
    LogWarn(
        "peer {} ({}) holds this node's own feed {} up to seq {}, past this store's seq {} (a "
        "store restored from a backup?): duanka-admin refuses to publish until it is fetched",
        p.conn->institution(), p.conn->address(), options.institution, seq,
        feeds[options.institution].seq);
  }

  // What a peer that broke a promise about our own feed claimed of it: the want's claim or a
  // higher one it made since. Read before the penalty, which may drop the peer.
  uint64_t OwnClaimOf(const Peer& p, uint64_t asked) const {
    auto it = p.heads.find(options.institution);
    return it == p.heads.end() ? asked : std::max(asked, it->second.seq);
  }

  // A claim of our own feed at `claimed` was found false. If it was the one noted, the seen head
  // falls back to what the peers still in good standing claim.
  void OwnFeedClaimBroken(uint64_t claimed, std::string_view why = "was false") {
    std::optional<uint64_t> seen = OwnSeen();
    if (!seen || *seen != claimed) return;
    if (Status cleared = store.ClearSeenHead(options.institution); !cleared) {
      LogError("cannot forget the seen head of {}: {}", options.institution,
               cleared.error().message);
      return;
    }
    own_seen = 0;
    LogWarn("the claim of {} up to seq {} {}: forgotten", options.institution, claimed, why);
    for (const auto& [conn, other] : peers) {
      auto it = other.heads.find(options.institution);
      if (!other.refused && it != other.heads.end()) NoteOwnFeedClaim(other, it->second.seq);
    }
  }

  // False when the peer was penalised for it.
  bool NoteRemoteHead(Peer& p, const msg::Head& head) {
    if (!certified.count(head.issuer) && !feeds.count(head.issuer)) {
      // Nothing is kept for a feed this node could not verify a record of: a peer cannot grow
      // our state by naming issuers. An honest peer names a few (e.g. one revoked here).
      metrics.CountUnknownFeeds(1);
      if (++p.unknown_feeds > options.limits.max_unknown_feeds_per_peer) {
        Penalise(p, RejectReason::kMalformed,
                 "named more than " + std::to_string(options.limits.max_unknown_feeds_per_peer) +
                     " feeds of issuers without a certificate here");
        return false;
      }
      return true;
    }
    p.heads[head.issuer] = RemoteHead{head.seq, head.hash, head.frozen};
    // A replica publishes nothing: its institution's node being ahead of it is its normal state.
    if (head.issuer == options.institution && !options.replica) NoteOwnFeedClaim(p, head.seq);
    Feed& f = feeds[head.issuer];
    dirty.insert(head.issuer);
    ProbeFork(p, head.issuer, f, head.seq, head.hash);
    return true;
  }

  // Serves up to `count` records, ending on a record whose own signature verifies: inner records
  // of a chain were stored on their successor's signature, and a receiver checks the last
  // record of an answer on its own. Runs past `count` (by fewer than kMaxUncheckedRun records,
  // within the wire limit) when it must; see protocol/README.md.
  std::vector<protocol::SignedRecord> ServeRange(const std::string& issuer, uint64_t from,
                                                 uint32_t count) {
    Result<std::vector<protocol::SignedRecord>> records = store.Range(issuer, from, count);
    if (!records) {
      LogError("cannot serve {} from {}: {}", issuer, from, records.error().message);
      return {};
    }
    if (records->empty() || EndsOnCheckedSignature(*records)) return std::move(*records);
    const size_t wire_limit = protocol::MessageLimits{}.max_records;
    const size_t extra = std::min(protocol::kMaxUncheckedRun - 1, wire_limit - records->size());
    Result<std::vector<protocol::SignedRecord>> more =
        store.Range(issuer, from + records->size(), extra);
    if (more) {
      for (protocol::SignedRecord& r : *more) {
        records->push_back(std::move(r));
        if (EndsOnCheckedSignature(*records)) return std::move(*records);
      }
      records->resize(records->size() - more->size());
    }
    // Not found ahead (a store from before runs were verified in segments): end earlier instead.
    while (records->size() > 1 && !EndsOnCheckedSignature(*records)) records->pop_back();
    return std::move(*records);
  }

  bool EndsOnCheckedSignature(const std::vector<protocol::SignedRecord>& records) {
    const protocol::SignedRecord& last = records.back();
    crypto::Hash256 hash = protocol::RecordHash(last);
    if (served_signature_ok.count(hash)) return true;
    std::shared_ptr<const protocol::Trust> signers = trust.Get();
    metrics.CountServeSignatureCheck();
    if (!protocol::Verify(last, *signers, protocol::VerifyOptions{now(), INT64_MAX / 4})) {
      return false;
    }
    NoteSignatureChecked(hash);
    return true;
  }

  void NoteSignatureChecked(const crypto::Hash256& hash) {
    if (served_signature_ok.size() >= kServedSignatureCache) served_signature_ok.clear();
    served_signature_ok.insert(hash);
  }

  void On(Peer& p, msg::Want& w) {
    // An honest peer keeps a few wants outstanding (wants_per_peer) and reads each answer; one
    // that asks on and on without reading would have this node build answers for nobody.
    const size_t unread = p.conn->send_backlog();
    if (unread > options.limits.max_unprocessed_bytes_per_peer) {
      Penalise(p, RejectReason::kMalformed,
               "asks for records faster than it reads the answers (" + std::to_string(unread) +
                   " bytes unread)");
      return;
    }
    uint32_t count = std::min(w.count, options.limits.records_per_want);
    Send(p, msg::Records{ServeRange(w.issuer, w.from_seq, count)});
  }

  void On(Peer& p, msg::Records& r) {
    // Peers answer wants in the order they were sent.
    std::optional<std::pair<std::string, Want>> popped = PopOldestWant(p);
    if (!popped) {
      Penalise(p, RejectReason::kMalformed, "records that were not asked for");
      return;
    }
    auto& [issuer, want] = *popped;
    if (r.records.empty() && want.excused) {
      PumpDirty();
      return;
    }
    if (r.records.empty()) {
      // It claimed this feed up to want.claimed ≥ want.from, and serves nothing of it: a broken
      // promise (heads never move backwards), and the way to hold a feed back. Penalised.
      metrics.CountBrokenClaim();
      // Forgotten first, as false (the penalty would forget it too, as a misbehaving peer's),
      // with the peer already out of those whose claims count again.
      const uint64_t own_claim = issuer == options.institution ? OwnClaimOf(p, want.claimed) : 0;
      p.refused = true;
      if (own_claim > 0) OwnFeedClaimBroken(own_claim);
      Penalise(p, RejectReason::kMalformed,
               "claimed head " + std::to_string(want.claimed) + " of " + issuer +
                   " but served nothing from " + std::to_string(want.from));
      PumpDirty();
      return;
    }
    Result<protocol::Record> first = protocol::DecodeRecord(r.records.front().bytes);
    if (!first) {
      Penalise(p, RejectReason::kMalformed, "records: " + first.error().message);
      return;
    }
    if (revoked_keys.count(first->signer_key_id)) {
      // Signed with a key the CRL in force revokes: an honest relay without that CRL yet still
      // holds it. Not taken, not blamed; the relay gets the CRL.
      LogInfo("records of {} from {} via {} are signed by a revoked key: not taken; CRL sent",
              issuer, want.from, p.conn->institution());
      if (std::optional<crypto::CrlInfo> crl = ca.crl()) {
        Send(p, msg::Objects{{msg::ConsortiumObject{std::string(node::kCrlObject), crl->pem}}});
      }
      // Not asked again of it for what it claimed there, until it claims anew.
      if (auto claim = p.heads.find(issuer); claim != p.heads.end() && want.from > 0) {
        claim->second.seq = std::min(claim->second.seq, want.from - 1);
      }
      return;
    }
    if (first->issuer != issuer || first->seq != want.from ||
        r.records.size() > size_t{want.count} + protocol::kMaxUncheckedRun - 1) {
      Penalise(p, RejectReason::kMalformed, "records that were not asked for");
      return;
    }
    ++p.answers;
    const uint64_t last = want.from + r.records.size() - 1;
    feeds[issuer].committing.emplace_back(want.from, last);
    uncommitted_records += r.records.size();
    metrics.SetRecordsUncommitted(uncommitted_records);
    metrics.CountRecordsReceived(r.records.size());
    std::weak_ptr<PeerLink> from = p.conn;
    std::pair<uint64_t, uint64_t> range{want.from, last};
    ingest.Submit(std::move(r.records), [this, issuer, range, from](const BatchOutcome& outcome) {
      Later([issuer, range, from, outcome](Impl& self) {
        self.BatchCommitted(issuer, range, from, outcome);
      });
    });
  }

  void BatchCommitted(const std::string& issuer, std::pair<uint64_t, uint64_t> range,
                      const std::weak_ptr<PeerLink>& from, const BatchOutcome& outcome) {
    Feed& f = feeds[issuer];
    // A relay serves what it just took in: its ingest checked these signatures already.
    for (const crypto::Hash256& hash : outcome.signature_checked) NoteSignatureChecked(hash);
    auto it = std::find(f.committing.begin(), f.committing.end(), range);
    if (it != f.committing.end()) {
      f.committing.erase(it);
      uncommitted_records -= range.second - range.first + 1;
      metrics.SetRecordsUncommitted(uncommitted_records);
    }
    dirty.insert(issuer);
    if (stopped) return;
    if (outcome.refused) {
      const Error& e = *outcome.refused;
      std::shared_ptr<PeerLink> conn = from.lock();
      Peer* p = conn ? FindPeer(conn.get()) : nullptr;
      if (e.kind == ErrorKind::kMalformed || e.kind == ErrorKind::kUnauthorized) {
        if (p != nullptr) {
          Penalise(*p,
                   e.kind == ErrorKind::kMalformed ? RejectReason::kMalformed
                                                   : RejectReason::kUnauthorized,
                   e.message);
        }
      } else if (e.kind == ErrorKind::kNotYet) {
        // Our clock may be the slow one: the relay is not to blame. Asked again later.
        metrics.CountRecordsNotYet();
        f.retry_after = steady() + kNotYetRetry;
        if (!f.not_yet_logged) {
          f.not_yet_logged = true;
          LogWarn(
              "feed {}: records from seq {} are dated ahead of this node's clock; held back "
              "and asked again every {} ms (check this node's NTP): {}",
              issuer, range.first, kNotYetRetry.count(), e.message);
        }
      } else if (outcome.losing) {
        // It lacks the resolution that discarded this branch: it gets it, and is not blamed.
        LogInfo("feed {}: {} served records of a discarded branch; resolution sent", issuer,
                p != nullptr ? p->conn->institution() : "a peer");
        if (p != nullptr) SendNotices(*p, NoticesAbout(issuer));
      } else if (e.kind == ErrorKind::kConflict) {
        metrics.CountRejected(RejectReason::kChainBreak, 1);
        LogWarn("feed {}: {}", issuer, e.message);
        // The sender's chain does not link to our head: it holds another record at the seq
        // before. Asking it for that record (it claimed past it) finds the fork: the store keeps
        // the pair as evidence and freezes the feed, and nothing is asked in a loop.
        const uint64_t before = range.first - 1;
        if (p != nullptr && before >= 1 && !f.frozen &&
            p->wants.size() < options.limits.wants_per_peer) {
          SendWant(*p, issuer, f, before, 1, range.first);
        }
      } else if (e.kind == ErrorKind::kFrozen) {
        metrics.CountRejected(RejectReason::kFrozen, 1);
      } else if (e.kind == ErrorKind::kIo) {
        LogError("store: {}", e.message);
      }
    } else {
      f.not_yet_logged = false;
    }
    RefreshLocalHead(issuer, /*announce=*/true);
    if (outcome.forks > 0) BroadcastEvidence();
    PumpDirty();
  }

  void On(Peer& p, msg::Evidence& e) {
    // Each pair costs two signature checks: a peer passes on at most what it can hold, a few
    // pairs per feed it can name.
    const uint64_t budget = store::kMaxEvidencePerFeed * (certified.size() + feeds.size() + 1);
    p.evidence_pairs += e.pairs.size();
    if (p.evidence_pairs > budget) {
      Penalise(p, RejectReason::kMalformed,
               "sent more evidence pairs than " + std::to_string(store::kMaxEvidencePerFeed) +
                   " per feed");
      return;
    }
    for (msg::EvidencePair& pair : e.pairs) {
      std::weak_ptr<PeerLink> from = p.conn;
      ingest.SubmitEvidence(
          std::move(pair.held), std::move(pair.other), [this, from](const BatchOutcome& outcome) {
            Later([from, outcome](Impl& self) { self.EvidenceCommitted(from, outcome); });
          });
    }
  }

  void EvidenceCommitted(const std::weak_ptr<PeerLink>& from, const BatchOutcome& outcome) {
    if (stopped) return;
    if (outcome.refused) {
      std::shared_ptr<PeerLink> conn = from.lock();
      Peer* p = conn ? FindPeer(conn.get()) : nullptr;
      if (p != nullptr) {
        Penalise(*p, RejectReason::kUnauthorized, "evidence: " + outcome.refused->message);
      }
      return;
    }
    if (outcome.forks == 0) return;
    RefreshLocalHeads(true);
    // More evidence against a feed already frozen freezes nothing anew, so nothing else passes it
    // on; one broadcast after the pairs committed together covers them all.
    if (!evidence_broadcast_due) {
      evidence_broadcast_due = true;
      Later([](Impl& self) {
        self.evidence_broadcast_due = false;
        if (!self.stopped) self.BroadcastEvidence();
      });
    }
  }

  void On(Peer& p, msg::Objects& o) {
    for (const msg::ConsortiumObject& object : o.objects) {
      if (object.name == protocol::kNoticeObjectName) {
        if (!OnNotice(p, object.body)) return;  // penalised
        continue;
      }
      if (object.name != node::kCrlObject) continue;  // a kind this version does not know yet
      Result<crypto::CrlInfo> crl = node::AdmitCrl(store, ca, object.body);
      if (!crl) {
        const Error& e = crl.error();
        if (e.kind == ErrorKind::kConflict) continue;  // ours is as new: the usual echo
        if (e.kind == ErrorKind::kIo) {
          LogError("cannot keep a CRL from {}: {}", p.conn->institution(), e.message);
          continue;
        }
        // A relay passes on only CRLs it verified: one that is not the CA's is its doing.
        Penalise(p, RejectReason::kUnauthorized, "CRL: " + e.message);
        return;
      }
      CrlInForce(*crl, p.conn.get());
    }
  }

  // A newer CRL is in force in `ca` (from a peer, or from the store after an import): signers it
  // revokes are trusted no more, links whose certificate it revokes are closed, and every other
  // peer gets it.
  void CrlInForce(const crypto::CrlInfo& crl, const PeerLink* from) {
    const std::set<std::string> revoked(crl.revoked_serials.begin(), crl.revoked_serials.end());
    LogWarn("CRL number {} in force: {} certificate(s) revoked{}", crl.number, revoked.size(),
            crl.next_update < now() ? "; its nextUpdate is PAST, so every certificate is refused "
                                      "until the CA issues a newer one"
                                    : "");
    metrics.SetCrl(crl.number, crl.this_update, crl.next_update);
    // Trust anew from every certificate held: the CA's Verify now consults the newer CRL.
    std::vector<protocol::Signer> signers;
    certified.clear();
    certs_seen.clear();
    refused_certs.clear();
    if (Result<std::vector<std::string>> held = store.Certificates()) {
      for (std::string& der : *held) {
        Result<crypto::CertificateInfo> cert =
            ca.Verify(der, crypto::CertKind::kSigning, std::nullopt);
        certs_seen.insert(std::move(der));
        if (!cert) continue;
        certified.insert(cert->institution);
        signers.push_back(protocol::Signer{cert->institution, cert->role, cert->public_key,
                                           cert->not_before, cert->not_after});
      }
    }
    const std::vector<crypto::Hash256> before = trust.Get()->KeyIds();
    trust.Replace(signers);
    std::shared_ptr<const protocol::Trust> now_trusted = trust.Get();
    for (const crypto::Hash256& id : before) {
      if (now_trusted->Find(id) == nullptr) revoked_keys.insert(id);
    }
    for (auto& [conn, p] : peers) {
      if (revoked.count(p.conn->certificate_serial())) {
        LogWarn("peer {} ({}) closed: its certificate {} is revoked by CRL {}",
                p.conn->institution(), p.conn->address(), p.conn->certificate_serial(), crl.number);
        p.refused = true;
        DropWantsOf(p);
        p.conn->Close("certificate revoked by CRL " + std::to_string(crl.number));
      }
    }
    Broadcast(msg::Objects{{msg::ConsortiumObject{std::string(node::kCrlObject), crl.pem}}}, from);
    snapshot_stale = true;
  }

  // ---- Consortium notices (key withdrawals, fork resolutions) ----

  void SendNotices(Peer& p, const std::vector<std::string>& notices) {
    const size_t per_message = protocol::MessageLimits{}.max_objects;
    for (size_t i = 0; i < notices.size(); i += per_message) {
      msg::Objects m;
      for (size_t j = i; j < std::min(notices.size(), i + per_message); ++j) {
        m.objects.push_back(
            msg::ConsortiumObject{std::string(protocol::kNoticeObjectName), notices[j]});
      }
      Send(p, m);
    }
  }

  // The held notices about `issuer`'s feed (its resolutions), as carried.
  std::vector<std::string> NoticesAbout(const std::string& issuer) {
    std::vector<std::string> out;
    const std::string prefix =
        std::string(node::kNoticeObjectPrefix) + "resolution:" + issuer + ":";
    if (auto held = store.ObjectsWithPrefix(prefix)) {
      for (auto& [name, bytes] : *held) out.push_back(std::move(bytes));
    }
    return out;
  }

  // False when `p` was penalised (nothing more of its message is read).
  bool OnNotice(Peer& p, const std::string& bytes) {
    if (notices_known.count(bytes)) return true;  // the usual echo
    Result<node::VerifiedNotice> notice = node::VerifyNotice(ca, bytes, now());
    if (!notice) {
      const Error& e = notice.error();
      if (e.kind == ErrorKind::kNotYet || e.kind == ErrorKind::kConflict) {
        // Dated ahead of our clock (ours may be the slow one; it comes again at the next
        // greeting), or signed by a certificate trusted when the relay took it and revoked
        // since: not the relay's doing, however many it holds. Each costs one certificate
        // check, as a record costs a signature check; the log names the first few.
        if (++p.untrusted_notices <= kUntrustedNoticesLoggedPerPeer) {
          LogWarn("notice from {} not taken: {}", p.conn->institution(), e.message);
        }
        return true;
      }
      // Bytes that do not decode, a bad signature, a member's or a foreign consortium's notice:
      // no honest relay passes these on, since it verified what it passes on.
      Penalise(
          p,
          e.kind == ErrorKind::kMalformed ? RejectReason::kMalformed : RejectReason::kUnauthorized,
          e.message);
      return false;
    }
    Result<bool> kept = node::KeepNotice(store, *notice);
    if (!kept) {
      if (kept.error().kind == ErrorKind::kConflict) {
        // It holds an older notice about the same thing: it gets ours.
        SendNotices(p, HeldNoticeLike(notice->notice));
        return true;
      }
      LogError("cannot keep a notice from {}: {}", p.conn->institution(), kept.error().message);
      return true;
    }
    NoticeInForce(bytes, notice->notice, notice->signer, p.conn.get());
    return true;
  }

  std::vector<std::string> HeldNoticeLike(const protocol::Notice& n) {
    const std::string name = std::string(node::kNoticeObjectPrefix) + n.Subject();
    if (Result<std::optional<std::string>> held = store.GetObject(name); held && *held) {
      return {std::move(**held)};
    }
    return {};
  }

  // A notice newly kept in the store (from a peer, or imported by duanka-admin): applied, logged,
  // passed on to every other peer.
  void NoticeInForce(const std::string& bytes, const protocol::Notice& n, const std::string& signer,
                     const PeerLink* from) {
    notices_known.insert(bytes);
    Result<node::NoticeEffect> effect = node::ApplyNotice(store, n, now());
    if (!effect) {
      LogError("cannot apply a notice: {}", effect.error().message);
      return;
    }
    if (const protocol::KeyWithdrawal* w = n.withdrawal()) {
      LogAlert(
          "key withdrawal by {}: {}'s signing certificate {} is compromised since {}; {} "
          "entries it signed since are SUSPENDED (not answered as listed){}",
          signer, w->issuer, w->certificate_serial, w->since, effect->suspended,
          effect->key_known ? "" : " (that certificate is not held here)");
    } else if (const protocol::HoldRelease* h = n.release()) {
      LogWarn("hold on {}'s entries of {} (UTC) released by {}: {} entries listed again", h->issuer,
              node::UtcDay(h->day), signer, effect->released);
    } else if (const protocol::GradingPolicy* policy = n.policy()) {
      LogWarn("grading policy version {} by {} in force: lookups are graded by it", policy->version,
              signer);
    } else {
      const protocol::ForkResolution& r = *n.resolution();
      LogWarn(
          "fork of {} at seq {} resolved by {}: kept record {}, {} record(s) set aside as "
          "evidence{}",
          r.issuer, r.seq, signer, r.keep.Hex().substr(0, 16), effect->resolved.set_aside,
          effect->resolved.unfrozen ? "; the feed is unfrozen" : "");
      FeedMovedBack(r.issuer);
    }
    metrics.CountNotice();
    Broadcast(
        msg::Objects{{msg::ConsortiumObject{std::string(protocol::kNoticeObjectName), bytes}}},
        from);
    snapshot_stale = true;
  }

  // A resolution may have moved the feed's head back: claims of it made before are void (peers
  // roll back too), wants for it are excused, and every peer hears our head as it is now.
  void FeedMovedBack(const std::string& issuer) {
    for (auto& [conn, p] : peers) p.heads.erase(issuer);
    // The store forgot the seen head of the resolved feed (it may be the discarded branch's).
    if (issuer == options.institution) own_seen.reset();
    Feed& f = feeds[issuer];
    for (Want& w : f.wants) w.excused = true;
    Result<std::optional<store::Head>> head = store.GetHead(issuer);
    if (head && *head) {
      NoteLocalHead(**head, /*announce=*/false);
      Broadcast(msg::Announce{ToWire(issuer, f)});
    }
    dirty.insert(issuer);
    PumpDirty();
  }

  // Notices imported into the store by another process (duanka-admin import, fork resolve,
  // withdraw-key): applied there already; here they are passed on.
  void CheckHeldNotices() {
    Result<std::vector<std::string>> held = node::HeldNotices(store);
    if (!held) {
      LogError("cannot read the store's notices: {}", held.error().message);
      return;
    }
    for (const std::string& bytes : *held) {
      if (notices_known.count(bytes)) continue;
      Result<std::pair<protocol::SignedNotice, protocol::Notice>> n =
          protocol::DecodeSignedNotice(bytes);
      if (!n) continue;
      NoticeInForce(bytes, n->second, "duanka-admin (this node)", nullptr);
    }
  }

  // A CRL imported into the store by another process (duanka-admin import).
  void CheckHeldCrl() {
    Result<bool> applied = node::ApplyHeldCrl(store, ca);
    if (!applied) {
      LogError("cannot apply the store's CRL: {}", applied.error().message);
      return;
    }
    if (*applied) {
      if (std::optional<crypto::CrlInfo> crl = ca.crl()) CrlInForce(*crl, nullptr);
    }
  }

  void On(Peer& p, msg::Ping& ping) { Send(p, msg::Pong{ping.nonce}); }
  void On(Peer&, msg::Pong&) {}

  void On(Peer& p, msg::Error& e) {
    // A peer stopping says goodbye first: the routine end of a session, not a fault of anyone's.
    if (e.code == msg::ErrorCode::kShuttingDown) {
      LogInfo("peer {} ({}) is shutting down: {}", p.conn->institution(), p.conn->address(),
              e.message);
      p.conn->Close("peer shutting down");
      return;
    }
    LogWarn("peer {} says {}: {}", p.conn->institution(), protocol::msg::ErrorCodeName(e.code),
            e.message);
    p.conn->Close("peer reported an error");
  }

  Peer* FindPeer(PeerLink* c) {
    auto it = peers.find(c);
    return it == peers.end() ? nullptr : &it->second;
  }

  // ---- Timers ----

  // A peer that leaves a want unanswered for want_timeout_ms is refused like one that sends
  // invalid data: it could otherwise reconnect, claim the feed again and be asked again. Wants
  // that just turned late make their feeds look again (the range goes to another holder), and
  // feeds held back for their dates are retried.
  void CheckWants() {
    const auto at = steady();
    const auto limit = std::chrono::milliseconds(options.limits.want_timeout_ms);
    const auto hedge = std::chrono::milliseconds(options.limits.want_hedge_ms);
    std::vector<std::pair<std::string, std::string>> silent;  // institution, address
    std::vector<uint64_t> broken_own_claims;  // heads of our own feed claimed by silent peers
    for (auto& [issuer, f] : feeds) {
      for (const Want& w : f.wants) {
        if (at - w.sent >= hedge) dirty.insert(issuer);
      }
      if (f.retry_after != SteadyTime{} && at >= f.retry_after) {
        f.retry_after = {};
        dirty.insert(issuer);
      }
    }
    for (auto& [conn, p] : peers) {
      if (p.wants.empty()) continue;
      const auto& [issuer, id] = p.wants.front();
      const Feed& f = feeds[issuer];
      for (const Want& w : f.wants) {
        if (w.id == id && at - w.sent > limit) {
          silent.emplace_back(PenaltyKey(*p.conn), p.conn->address());
          p.refused = true;  // its claims no longer count, below
          if (issuer == options.institution) broken_own_claims.push_back(OwnClaimOf(p, w.claimed));
        }
      }
    }
    for (uint64_t claimed : broken_own_claims) OwnFeedClaimBroken(claimed);
    for (const auto& [who, address] : silent) {
      Ban(who, address, std::nullopt, "did not answer a want within limits.want_timeout_ms");
    }
    PumpDirty();
  }
};

SyncCore::SyncCore(SyncContext context, SyncOptions options)
    : impl_(std::make_unique<Impl>(std::move(context), std::move(options))) {
  // The API may answer GET /v1/status before Start: its pepper and peers are then the
  // constructor's (no peers yet), never an empty object the contract does not allow.
  impl_->UpdateSnapshot();
}

SyncCore::~SyncCore() = default;

SyncCore::Intervals SyncCore::intervals() const {
  const auto& l = impl_->options.limits;
  return Intervals{std::chrono::milliseconds(l.heads_interval_ms),
                   std::chrono::milliseconds(l.ping_interval_ms), kWantCheckInterval,
                   kSnapshotInterval};
}

void SyncCore::Start() {
  if (Result<std::vector<std::string>> held = node::HeldNotices(impl_->store)) {
    impl_->notices_known.insert(held->begin(), held->end());
  }
  if (Result<size_t> applied = node::ApplyHeldNotices(impl_->store, impl_->now()); !applied) {
    LogError("cannot apply the held notices: {}", applied.error().message);
  }
  if (std::optional<crypto::CrlInfo> crl = impl_->ca.crl()) {
    impl_->metrics.SetCrl(crl->number, crl->this_update, crl->next_update);
  }
  impl_->ShareNewCertificates();
  impl_->RefreshLocalHeads(false);
  impl_->UpdateSnapshot();
}

void SyncCore::Stop() {
  Impl& impl = *impl_;
  impl.stopped = true;
  for (auto& [c, p] : impl.peers) {
    impl.SendError(p, protocol::msg::ErrorCode::kShuttingDown, "node shutting down");
    p.conn->Close("node shutting down");
  }
}

void SyncCore::OnLocalChange() {
  Impl& impl = *impl_;
  if (impl.stopped) return;
  impl.CheckHeldCrl();
  impl.CheckHeldNotices();
  // Certificates before heads: an imported bundle's signers must reach peers before its feeds.
  impl.ShareNewCertificates();
  impl.RefreshLocalHeads(true);
  impl.PumpDirty();
}

void SyncCore::TickHeads() {
  Impl& impl = *impl_;
  if (impl.stopped) return;
  // Our own state first: a commit by another process can become visible after the last change
  // notice it caused (see StoreWatch), and this is what repairs that too.
  impl.ShareNewCertificates();
  impl.RefreshLocalHeads(/*announce=*/true);
  for (auto& [c, p] : impl.peers) {
    if (p.hello) impl.SendHeads(p);
  }
  impl.PumpDirty();
}

void SyncCore::TickPing() {
  if (impl_->stopped) return;
  impl_->Broadcast(protocol::msg::Ping{++impl_->ping_nonce});
}

void SyncCore::TickWants() {
  if (impl_->stopped) return;
  impl_->CheckWants();
}

void SyncCore::TickSnapshot() {
  if (impl_->snapshot_stale) impl_->UpdateSnapshot();
}

std::string SyncCore::PeersJson() const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  return impl_->peers_json;
}

std::string SyncCore::PepperJson() const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  return impl_->pepper_json;
}

std::map<std::string, InstitutionLinkState> SyncCore::InstitutionStates() const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  return impl_->institution_states;
}

size_t SyncCore::connected() const {
  return impl_->ready_peers.load();
}

size_t SyncCore::outstanding_wants() const {
  size_t n = 0;
  for (const auto& [c, p] : impl_->peers) n += p.wants.size();
  return n;
}

size_t SyncCore::feeds_tracked() const {
  return impl_->feeds.size();
}

void SyncCore::OnOpen(const std::shared_ptr<PeerLink>& c) {
  Impl& impl = *impl_;
  const std::string& who = c->institution();
  auto refuse = [&](const std::string& why) {
    impl.metrics.CountPeerRefused();
    LogWarn("peer {} ({}) refused: {}", who, c->address(), why);
    c->Close(why);
  };
  if (impl.stopped) return refuse("node shutting down");
  const std::string& own = impl.options.institution;
  if (impl.options.replica) {
    // Its institution's node is its one source: another member's data reaches it through there.
    if (!c->outbound()) {
      return refuse("this node is a read replica of " + own + ": it takes no peers");
    }
    if (who != own || c->replica()) {
      return refuse("a read replica of " + own + " follows " + own + "'s own node only");
    }
  } else if (c->replica()) {
    if (who != own) return refuse("a read replica of " + who + " is served by " + who + " only");
  } else if (who == own) {
    return refuse("connected to itself");
  }
  if (impl.Banned(PenaltyKey(*c))) return refuse(PenaltyKey(*c) + " is penalised for misbehaving");
  if (c->replica()) {
    // One link per replica (per certificate, as its penalties are kept): a replica that
    // restarts before its old session timed out replaces it rather than being refused.
    impl.CloseLinksOf(PenaltyKey(*c), "replaced by a newer connection of the same replica");
    size_t replicas = 0;
    for (const auto& [conn, other] : impl.peers) {
      replicas += conn->replica() && !other.refused ? 1 : 0;
    }
    const uint32_t limit = impl.options.limits.max_replicas;
    if (limit == 0) return refuse("this node serves no read replicas (limits.max_replicas = 0)");
    if (replicas >= limit) {
      return refuse("serving " + std::to_string(replicas) + " of limits.max_replicas = " +
                    std::to_string(limit) + " read replicas of " + who);
    }
  } else {
    size_t same = 0;
    for (const auto& [conn, p] : impl.peers) same += conn->institution() == who ? 1 : 0;
    if (same >= impl.options.limits.connections_per_peer) {
      return refuse("already " + std::to_string(same) + " connections to " + who);
    }
  }
  Peer& p = impl.peers[c.get()];
  p.conn = c;
  impl.SendGreeting(p);
  LogInfo("peer {} connected ({}, {})", who, c->address(), c->outbound() ? "outbound" : "inbound");
  impl.snapshot_stale = true;
}

void SyncCore::OnFrame(PeerLink& c, const std::string& payload) {
  Impl& impl = *impl_;
  Peer* p = impl.FindPeer(&c);
  if (p == nullptr || p->refused || impl.stopped) return;
  Result<protocol::Message> m = protocol::DecodeMessage(payload);
  if (!m) {
    impl.Penalise(*p, RejectReason::kMalformed, m.error().message);
    return;
  }
  impl.Handle(*p, *m);
}

void SyncCore::OnClose(PeerLink& c, const std::string& reason, bool misbehaved) {
  Impl& impl = *impl_;
  auto it = impl.peers.find(&c);
  if (it == impl.peers.end()) return;
  // Keeps the link alive through this call (the map held the last reference, perhaps).
  std::shared_ptr<PeerLink> link = it->second.conn;
  // Bytes that are not frames are invalid data like any other (design section 6).
  if (misbehaved) impl.Ban(PenaltyKey(c), c.address(), RejectReason::kMalformed, reason);
  // A peer gone before serving what it claimed of our own feed proved nothing: its claim must
  // not keep duanka-admin from publishing (peers still here that claim as much note it again).
  uint64_t own_claim = 0;
  for (const auto& [issuer, id] : it->second.wants) {
    if (issuer == impl.options.institution) own_claim = impl.OwnClaimOf(it->second, 0);
  }
  impl.DropWantsOf(it->second);
  impl.pepper_watch.OnGone(&c);
  impl.metrics.SetPepperEpochsMissing(impl.pepper_watch.Missing().size());
  impl.metrics.ForgetPeer(c.institution());
  impl.peers.erase(it);
  if (own_claim > 0) impl.OwnFeedClaimBroken(own_claim, "went unserved (its peer left)");
  impl.snapshot_stale = true;
  LogInfo("peer {} ({}) disconnected: {}", c.institution(), c.address(), reason);
  impl.PumpDirty();
}

}  // namespace duanka::daemon
