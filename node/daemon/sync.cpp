#include "node/daemon/sync.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "node/common/audit.h"
#include "node/daemon/log.h"

namespace duanka::daemon {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::Message;
namespace msg = protocol::msg;

// How often outstanding wants are checked for hedging and timeouts: well inside the default
// want_hedge_ms, so a hedge goes out within a fifth of it after it is due.
constexpr std::chrono::milliseconds kWantCheckInterval{100};

struct RemoteHead {
  uint64_t seq = 0;
  crypto::Hash256 hash;
  bool frozen = false;
};

struct OutstandingWant {
  std::string issuer;
  uint64_t from = 0;
  uint32_t count = 0;
  Clock::time_point sent;
  bool Covers(const std::string& feed, uint64_t seq) const {
    return issuer == feed && from <= seq && seq - from < count;
  }
};

struct Peer {
  std::shared_ptr<Connection> conn;
  bool hello = false;
  std::map<std::string, RemoteHead> heads;
  std::vector<OutstandingWant> wants;
};

// This node's view of one feed while syncing it.
struct Feed {
  uint64_t seq = 0;
  crypto::Hash256 hash;
  bool frozen = false;
  uint64_t fork_seq = 0;
  uint64_t requested_to = 0;  // highest seq asked for (≥ seq)
  uint32_t in_flight = 0;     // wants and batches not yet committed
};

struct Penalty {
  uint32_t strikes = 0;
  Clock::time_point banned_until{};
};

}  // namespace

struct Sync::Impl : std::enable_shared_from_this<Sync::Impl> {
  Impl(asio::io_context& io, store::Store& store, const crypto::TrustStore& ca, TrustHolder& trust,
       IngestPipeline& ingest, Metrics& metrics, SyncOptions options, std::function<int64_t()> now)
      : strand(asio::make_strand(io)),
        store(store),
        ca(ca),
        trust(trust),
        ingest(ingest),
        metrics(metrics),
        options(std::move(options)),
        now(std::move(now)),
        heads_timer(strand),
        ping_timer(strand),
        want_timer(strand) {}

  asio::strand<asio::io_context::executor_type> strand;
  store::Store& store;
  const crypto::TrustStore& ca;
  TrustHolder& trust;
  IngestPipeline& ingest;
  Metrics& metrics;
  SyncOptions options;
  std::function<int64_t()> now;
  asio::steady_timer heads_timer, ping_timer, want_timer;

  std::map<Connection*, Peer> peers;
  std::map<std::string, Feed> feeds;
  std::map<std::string, Penalty> penalties;
  std::set<std::string> evidence_sent;  // hashes of evidence pairs already passed on
  // Every signing certificate (DER) of the store looked at: trusted and passed on when the CA
  // vouches for it, else never looked at again (the CA and CRL do not change while running).
  std::set<std::string> certs_seen;
  bool stopped = false;
  uint64_t ping_nonce = 0;
  // Read from other threads (status, health); written on the strand.
  mutable std::mutex snapshot_mutex;
  std::string peers_json = "[]";
  std::atomic<size_t> ready_peers{0};
  std::mt19937_64 rng{std::random_device{}()};

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
    SendHeads(p);
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
  void Broadcast(const Message& m, const Connection* except = nullptr) {
    std::string payload = protocol::EncodeMessage(m);
    for (auto& [conn, p] : peers) {
      if (conn != except) p.conn->Send(payload);
    }
  }

  // ---- Local state ----

  // Takes the certificates that reached the store since the last call (from a peer's `certs`, an
  // imported bundle, the admin tool), trusts those the CA vouches for, and passes them to every
  // ready peer but `from`. Peers learn a signer before anything it signed is announced to them:
  // an honest relay is never refused for records whose certificate only it had.
  void ShareNewCertificates(const Connection* from = nullptr) {
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

  void RefreshLocalHeads(bool announce) {
    Result<std::vector<store::Head>> heads = store.Heads();
    if (!heads) {
      LogError("cannot read heads: {}", heads.error().message);
      return;
    }
    for (const store::Head& h : *heads) {
      Feed& f = feeds[h.issuer];
      bool grew = h.seq > f.seq;
      bool froze = h.frozen && !f.frozen;
      f.seq = h.seq;
      f.hash = h.hash;
      f.frozen = h.frozen;
      f.fork_seq = h.fork_seq;
      if (f.requested_to < f.seq) f.requested_to = f.seq;
      if (froze) {
        LogAlert("feed {} is FROZEN: its issuer signed two different records at seq {}", h.issuer,
                 h.fork_seq);
        BroadcastEvidence();
      }
      if (announce && grew && f.seq > 0) Broadcast(msg::Announce{ToWire(h.issuer, f)});
    }
    UpdateLag();
  }

  void BroadcastEvidence() {
    Result<std::vector<store::Evidence>> all = store.AllEvidence();
    if (!all) return;
    msg::Evidence m;
    for (const store::Evidence& e : *all) {
      std::string key = protocol::RecordHash(e.held).Hex() + protocol::RecordHash(e.other).Hex();
      if (!evidence_sent.insert(key).second) continue;
      m.pairs.push_back(msg::EvidencePair{e.held, e.other});
    }
    if (!m.pairs.empty()) Broadcast(m);
  }

  uint64_t LagOf(const Peer& p) const {
    uint64_t lag = 0;
    for (const auto& [issuer, rh] : p.heads) {
      auto it = feeds.find(issuer);
      uint64_t have = it == feeds.end() ? 0 : it->second.seq;
      if (rh.seq > have) lag += rh.seq - have;
    }
    return lag;
  }

  // Metrics and the status snapshot, after anything about peers changed.
  void UpdateLag() {
    nlohmann::json list = nlohmann::json::array();
    for (auto& [conn, p] : peers) {
      uint64_t lag = LagOf(p);
      if (p.hello) metrics.SetSyncLag(p.conn->institution(), lag);
      list.push_back({{"institution", p.conn->institution()},
                      {"address", p.conn->address()},
                      {"direction", p.conn->side() == Connection::Side::kClient ? "out" : "in"},
                      {"ready", p.hello},
                      {"lag_records", lag},
                      {"wants_in_flight", p.wants.size()}});
    }
    size_t ready = CountReady();
    ready_peers = ready;
    metrics.SetPeersConnected(static_cast<int64_t>(ready));
    std::lock_guard<std::mutex> lock(snapshot_mutex);
    peers_json = list.dump();
  }

  // ---- Fetching ----

  // Asks peers for what they have and this node lacks, within the limits.
  void Pump() {
    const auto& l = options.limits;
    for (auto& [issuer, f] : feeds) {
      uint64_t stop_before = f.frozen ? f.fork_seq : UINT64_MAX;
      while (f.in_flight < l.wants_in_flight) {
        uint64_t from = f.requested_to + 1;
        if (from >= stop_before) break;
        Peer* best = nullptr;
        uint64_t best_seq = 0;
        for (auto& [conn, p] : peers) {
          if (!p.hello) continue;
          auto it = p.heads.find(issuer);
          if (it == p.heads.end() || it->second.seq < from) continue;
          if (best == nullptr || p.wants.size() < best->wants.size()) {
            best = &p;
            best_seq = it->second.seq;
          }
        }
        if (best == nullptr) break;
        uint64_t last = std::min({best_seq, from + l.records_per_want - 1, stop_before - 1});
        auto count = static_cast<uint32_t>(last - from + 1);
        SendWant(*best, issuer, from, count);
        f.requested_to = last;
        ++f.in_flight;
      }
      Hedge(issuer, f, stop_before);
    }
  }

  void SendWant(Peer& p, const std::string& issuer, uint64_t from, uint32_t count) {
    p.wants.push_back(OutstandingWant{issuer, from, count, Clock::now()});
    Send(p, msg::Want{issuer, from, count});
  }

  // The shared cursor hands each range to one peer, so a peer that claims a long feed and then
  // does not answer (or answers slowly) would hold the feed back until want_timeout_ms. When
  // the next record this node needs has been asked of peers that have not answered within
  // want_hedge_ms, it is asked again of one more peer that holds it and was not asked; the
  // first answer is committed, the other is a harmless duplicate.
  void Hedge(const std::string& issuer, Feed& f, uint64_t stop_before) {
    const uint64_t next = f.seq + 1;
    if (next >= stop_before) return;
    const auto due = Clock::now() - std::chrono::milliseconds(options.limits.want_hedge_ms);
    bool asked = false;
    for (auto& [conn, p] : peers) {
      for (const OutstandingWant& w : p.wants) {
        if (!w.Covers(issuer, next)) continue;
        if (w.sent > due) return;  // still within its time: no hedge yet
        asked = true;
      }
    }
    if (!asked) return;
    Peer* best = nullptr;
    uint64_t best_seq = 0;
    for (auto& [conn, p] : peers) {
      if (!p.hello) continue;
      auto it = p.heads.find(issuer);
      if (it == p.heads.end() || it->second.seq < next) continue;
      bool already = std::any_of(p.wants.begin(), p.wants.end(),
                                 [&](const OutstandingWant& w) { return w.Covers(issuer, next); });
      if (already) continue;
      if (best == nullptr || p.wants.size() < best->wants.size()) {
        best = &p;
        best_seq = it->second.seq;
      }
    }
    if (best == nullptr) return;
    uint64_t last =
        std::min({best_seq, next + options.limits.records_per_want - 1, stop_before - 1});
    SendWant(*best, issuer, next, static_cast<uint32_t>(last - next + 1));
    ++f.in_flight;
  }

  void WantDone(const std::string& issuer) {
    Feed& f = feeds[issuer];
    if (f.in_flight > 0) --f.in_flight;
    // With nothing in flight, ask again from what is actually held (a short answer or a refused
    // batch leaves requested_to ahead of it).
    if (f.in_flight == 0) f.requested_to = f.seq;
  }

  // ---- Penalties ----

  bool Banned(const std::string& institution) {
    auto it = penalties.find(institution);
    return it != penalties.end() && Clock::now() < it->second.banned_until;
  }

  // Refuses `who` for ban_base_seconds, doubling with each strike up to ban_max_seconds, and
  // closes every connection it has here.
  // `reason` is counted as rejected data; a peer refused for silence sent none.
  void Ban(const std::string& who, const std::string& address, std::optional<RejectReason> reason,
           const std::string& why) {
    Penalty& pen = penalties[who];
    ++pen.strikes;
    const auto& l = options.limits;
    uint64_t seconds = l.ban_base_seconds;
    for (uint32_t i = 1; i < pen.strikes && seconds < l.ban_max_seconds; ++i) seconds *= 2;
    seconds = std::min<uint64_t>(seconds, l.ban_max_seconds);
    pen.banned_until = Clock::now() + std::chrono::seconds(seconds);
    if (reason) metrics.CountRejected(*reason, 1);
    LogWarn("peer {} ({}) refused for {} s: {}", who, address, seconds, why);
    for (auto& [conn, other] : peers) {
      if (other.conn->institution() == who) other.conn->Close("penalised: " + why);
    }
  }

  // Bans the peer's institution after telling it why.
  void Penalise(Peer& p, RejectReason reason, const std::string& why) {
    SendError(p,
              reason == RejectReason::kMalformed ? msg::ErrorCode::kMalformed
                                                 : msg::ErrorCode::kUnauthorized,
              why);
    Ban(p.conn->institution(), p.conn->address(), reason, why);
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
    LogInfo("peer {} ({}) ready", p.conn->institution(), p.conn->address());
    UpdateLag();
  }

  void On(Peer& p, msg::Certs& c) {
    for (const std::string& der : c.certificates) {
      if (certs_seen.count(der)) continue;
      Result<crypto::CertificateInfo> cert =
          ca.Verify(der, crypto::CertKind::kSigning, std::nullopt);
      if (!cert) continue;  // e.g. revoked since; records it signed will be refused
      Status kept = store.PutCertificate(protocol::KeyId(cert->public_key), der);
      if (!kept) LogError("cannot keep a certificate: {}", kept.error().message);
    }
    // Trusts them, and passes them on before any record they vouch for can be announced.
    ShareNewCertificates(p.conn.get());
  }

  void On(Peer& p, msg::Heads& h) {
    for (const msg::Head& head : h.heads) NoteRemoteHead(p, head);
    UpdateLag();
    Pump();
  }

  void On(Peer& p, msg::Announce& a) {
    NoteRemoteHead(p, a.head);
    UpdateLag();
    Pump();
  }

  void NoteRemoteHead(Peer& p, const msg::Head& head) {
    p.heads[head.issuer] = RemoteHead{head.seq, head.hash, head.frozen};
    Feed& f = feeds[head.issuer];
    // A head at a seq this node holds but with another hash is a fork: fetch that record, and the
    // store keeps the pair as evidence.
    if (head.seq <= f.seq && head.seq > 0 && !f.frozen) {
      bool differs = head.seq == f.seq ? head.hash != f.hash : false;
      if (head.seq < f.seq) {
        Result<std::vector<protocol::SignedRecord>> ours = store.Range(head.issuer, head.seq, 1);
        differs = ours && !ours->empty() && protocol::RecordHash(ours->front()) != head.hash;
      }
      if (differs) {
        SendWant(p, head.issuer, head.seq, 1);
        ++f.in_flight;
      }
    }
  }

  void On(Peer& p, msg::Want& w) {
    uint32_t count = std::min(w.count, options.limits.records_per_want);
    Result<std::vector<protocol::SignedRecord>> records = store.Range(w.issuer, w.from_seq, count);
    if (!records) {
      LogError("cannot serve {} from {}: {}", w.issuer, w.from_seq, records.error().message);
      records = std::vector<protocol::SignedRecord>{};
    }
    Send(p, msg::Records{std::move(*records)});
  }

  void On(Peer& p, msg::Records& r) {
    if (r.records.empty()) {
      // The peer had nothing for the oldest want, though its head said it had: believe the
      // answer over the head until it announces again, or it would be asked the same forever.
      if (!p.wants.empty()) {
        OutstandingWant w = p.wants.front();
        p.wants.erase(p.wants.begin());
        auto head = p.heads.find(w.issuer);
        if (head != p.heads.end() && head->second.seq >= w.from) head->second.seq = w.from - 1;
        WantDone(w.issuer);
        UpdateLag();
        Pump();
      }
      return;
    }
    Result<protocol::Record> first = protocol::DecodeRecord(r.records.front().bytes);
    if (!first) {
      Penalise(p, RejectReason::kMalformed, "records: " + first.error().message);
      return;
    }
    auto want = std::find_if(p.wants.begin(), p.wants.end(), [&](const OutstandingWant& w) {
      return w.issuer == first->issuer && w.from == first->seq;
    });
    if (want == p.wants.end() || r.records.size() > want->count) {
      Penalise(p, RejectReason::kMalformed, "records that were not asked for");
      return;
    }
    std::string issuer = want->issuer;
    p.wants.erase(want);
    metrics.CountRecordsReceived(r.records.size());
    std::weak_ptr<Connection> from = p.conn;
    ingest.Submit(std::move(r.records),
                  [self = shared_from_this(), issuer, from](const BatchOutcome& outcome) {
                    asio::post(self->strand, [self, issuer, from, outcome] {
                      self->BatchCommitted(issuer, from, outcome);
                    });
                  });
  }

  void BatchCommitted(const std::string& issuer, const std::weak_ptr<Connection>& from,
                      const BatchOutcome& outcome) {
    WantDone(issuer);
    if (stopped) return;
    if (outcome.refused) {
      const Error& e = *outcome.refused;
      std::shared_ptr<Connection> conn = from.lock();
      Peer* p = conn ? FindPeer(conn.get()) : nullptr;
      if (e.kind == ErrorKind::kMalformed || e.kind == ErrorKind::kUnauthorized) {
        if (p != nullptr) {
          Penalise(*p,
                   e.kind == ErrorKind::kMalformed ? RejectReason::kMalformed
                                                   : RejectReason::kUnauthorized,
                   e.message);
        }
      } else if (e.kind == ErrorKind::kConflict) {
        metrics.CountRejected(RejectReason::kChainBreak, 1);
        LogWarn("feed {}: {}", issuer, e.message);
      } else if (e.kind == ErrorKind::kFrozen) {
        metrics.CountRejected(RejectReason::kFrozen, 1);
      } else if (e.kind == ErrorKind::kIo) {
        LogError("store: {}", e.message);
      }
    }
    RefreshLocalHeads(/*announce=*/true);
    if (outcome.forks > 0) BroadcastEvidence();
    Pump();
  }

  void On(Peer& p, msg::Evidence& e) {
    for (msg::EvidencePair& pair : e.pairs) {
      std::weak_ptr<Connection> from = p.conn;
      ingest.SubmitEvidence(std::move(pair.held), std::move(pair.other),
                            [self = shared_from_this(), from](const BatchOutcome& outcome) {
                              asio::post(self->strand, [self, from, outcome] {
                                if (outcome.refused) {
                                  std::shared_ptr<Connection> conn = from.lock();
                                  Peer* p = conn ? self->FindPeer(conn.get()) : nullptr;
                                  if (p != nullptr) {
                                    self->Penalise(*p, RejectReason::kUnauthorized,
                                                   "evidence: " + outcome.refused->message);
                                  }
                                  return;
                                }
                                if (outcome.forks > 0) self->RefreshLocalHeads(true);
                              });
                            });
    }
  }

  void On(Peer& p, msg::Ping& ping) { Send(p, msg::Pong{ping.nonce}); }
  void On(Peer&, msg::Pong&) {}

  void On(Peer& p, msg::Error& e) {
    LogWarn("peer {} says {}: {}", p.conn->institution(), protocol::msg::ErrorCodeName(e.code),
            e.message);
    p.conn->Close("peer reported an error");
  }

  Peer* FindPeer(Connection* c) {
    auto it = peers.find(c);
    return it == peers.end() ? nullptr : &it->second;
  }

  size_t CountReady() const {
    size_t n = 0;
    for (const auto& [c, p] : peers) n += p.hello ? 1 : 0;
    return n;
  }

  // ---- Timers ----

  void Every(asio::steady_timer& timer, std::chrono::milliseconds period,
             std::function<void()> tick) {
    timer.expires_after(period);
    timer.async_wait([self = shared_from_this(), &timer, period,
                      tick = std::move(tick)](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      tick();
      self->Every(timer, period, tick);
    });
  }

  // A peer that leaves a want unanswered for want_timeout_ms is refused like one that sends
  // invalid data: it could otherwise reconnect, claim the feed again and be asked again. Then
  // hedges go out for wants that are merely late.
  void CheckWants() {
    auto limit = std::chrono::milliseconds(options.limits.want_timeout_ms);
    std::vector<std::pair<std::string, std::string>> silent;  // institution, address
    for (auto& [conn, p] : peers) {
      for (const OutstandingWant& w : p.wants) {
        if (Clock::now() - w.sent > limit) {
          silent.emplace_back(p.conn->institution(), p.conn->address());
          break;
        }
      }
    }
    for (const auto& [who, address] : silent) {
      Ban(who, address, std::nullopt, "did not answer a want within limits.want_timeout_ms");
    }
    Pump();
  }
};

Sync::Sync(asio::io_context& io, store::Store& store, const crypto::TrustStore& ca,
           TrustHolder& trust, IngestPipeline& ingest, Metrics& metrics, SyncOptions options,
           std::function<int64_t()> now)
    : impl_(std::make_shared<Impl>(io, store, ca, trust, ingest, metrics, std::move(options),
                                   std::move(now))) {}

Sync::~Sync() = default;

void Sync::Start() {
  asio::post(impl_->strand, [impl = impl_] {
    impl->ShareNewCertificates();
    impl->RefreshLocalHeads(false);
    const auto& l = impl->options.limits;
    impl->Every(impl->heads_timer, std::chrono::milliseconds(l.heads_interval_ms), [impl] {
      // Our own state first: a commit by another process can become visible after the last
      // change notice it caused (see StoreWatch), and this is what repairs that too.
      impl->ShareNewCertificates();
      impl->RefreshLocalHeads(/*announce=*/true);
      for (auto& [c, p] : impl->peers) {
        if (p.hello) impl->SendHeads(p);
      }
    });
    impl->Every(impl->ping_timer, std::chrono::milliseconds(l.ping_interval_ms),
                [impl] { impl->Broadcast(protocol::msg::Ping{++impl->ping_nonce}); });
    impl->Every(impl->want_timer, kWantCheckInterval, [impl] { impl->CheckWants(); });
  });
}

void Sync::Stop() {
  asio::post(impl_->strand, [impl = impl_] {
    impl->stopped = true;
    impl->heads_timer.cancel();
    impl->ping_timer.cancel();
    impl->want_timer.cancel();
    for (auto& [c, p] : impl->peers) {
      impl->SendError(p, protocol::msg::ErrorCode::kShuttingDown, "node shutting down");
      p.conn->Close("node shutting down");
    }
  });
}

void Sync::OnLocalChange() {
  asio::post(impl_->strand, [impl = impl_] {
    if (impl->stopped) return;
    // Certificates before heads: an imported bundle's signers must reach peers before its feeds.
    impl->ShareNewCertificates();
    impl->RefreshLocalHeads(true);
  });
}

std::string Sync::PeersJson() const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  return impl_->peers_json;
}

size_t Sync::connected() const {
  return impl_->ready_peers.load();
}

void Sync::OnOpen(const std::shared_ptr<Connection>& c) {
  asio::post(impl_->strand, [impl = impl_, c] {
    const std::string& who = c->institution();
    auto refuse = [&](const std::string& why) {
      impl->metrics.CountPeerRefused();
      LogWarn("peer {} ({}) refused: {}", who, c->address(), why);
      c->Close(why);
    };
    if (impl->stopped) return refuse("node shutting down");
    if (who == impl->options.institution) return refuse("connected to itself");
    if (impl->Banned(who)) return refuse(who + " is penalised for misbehaving");
    size_t same = 0;
    for (const auto& [conn, p] : impl->peers) same += conn->institution() == who ? 1 : 0;
    if (same >= impl->options.limits.connections_per_peer) {
      return refuse("already " + std::to_string(same) + " connections to " + who);
    }
    Peer& p = impl->peers[c.get()];
    p.conn = c;
    impl->SendGreeting(p);
    LogInfo("peer {} connected ({}, {})", who, c->address(),
            c->side() == Connection::Side::kClient ? "outbound" : "inbound");
    impl->UpdateLag();
  });
}

void Sync::OnFrame(const std::shared_ptr<Connection>& c, std::string payload) {
  asio::post(impl_->strand, [impl = impl_, c, payload = std::move(payload)] {
    Peer* p = impl->FindPeer(c.get());
    if (p == nullptr || impl->stopped) return;
    Result<protocol::Message> m = protocol::DecodeMessage(payload);
    if (!m) {
      impl->Penalise(*p, RejectReason::kMalformed, m.error().message);
      return;
    }
    impl->Handle(*p, *m);
  });
}

void Sync::OnClose(const std::shared_ptr<Connection>& c, const std::string& reason) {
  const bool misbehaved = c->peer_misbehaved();  // read on the connection's strand
  asio::post(impl_->strand, [impl = impl_, c, reason, misbehaved] {
    auto it = impl->peers.find(c.get());
    if (it == impl->peers.end()) return;
    // Bytes that are not frames are invalid data like any other (design section 6).
    if (misbehaved) impl->Ban(c->institution(), c->address(), RejectReason::kMalformed, reason);
    for (const OutstandingWant& w : it->second.wants) impl->WantDone(w.issuer);
    impl->metrics.ForgetPeer(c->institution());
    impl->peers.erase(it);
    impl->UpdateLag();
    LogInfo("peer {} ({}) disconnected: {}", c->institution(), c->address(), reason);
    impl->Pump();
  });
}

}  // namespace duanka::daemon
