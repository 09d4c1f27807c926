// The hostile members of the simulation. Each is a consortium member with a real signing
// certificate (so honest nodes connect to it and trust what it signs), scripted to break the
// protocol in one way while speaking it well enough to be heard.
#include <algorithm>
#include <map>

#include "tests/sim/sim_node.h"

namespace duanka::sim {

namespace msg = protocol::msg;

namespace {

crypto::Hash256 RandomHash(std::mt19937_64& rng) {
  crypto::Hash256 h;
  for (uint8_t& b : h.bytes) b = static_cast<uint8_t>(rng());
  return h;
}

std::vector<protocol::SignedRecord> Slice(const std::vector<protocol::SignedRecord>& chain,
                                          uint64_t from, uint32_t count) {
  std::vector<protocol::SignedRecord> out;
  for (uint64_t seq = from; seq < from + count && seq >= 1 && seq <= chain.size(); ++seq) {
    out.push_back(chain[seq - 1]);
  }
  return out;
}

// Signs two different records at one seq and gives each to different neighbours: even-numbered
// neighbours see one branch, odd-numbered the other. Honest nodes must find the fork between
// them, freeze the feed everywhere and never blame each other for relaying either branch.
class Equivocator final : public Adversary {
 public:
  Equivocator(World& w, SimTime publish_at) : Adversary(w, "EQUIV"), publish_at_(publish_at) {
    const SimIdentity& id = w.pki.Identity(institution_);
    const size_t prefix = 1 + w.rng() % 3;
    prefix_ = SignRun(id, 1, crypto::Hash256{}, prefix, 0);
    const crypto::Hash256 fork_prev = protocol::RecordHash(prefix_.back());
    branch_[0] = prefix_;
    branch_[1] = prefix_;
    for (int b = 0; b < 2; ++b) {
      std::vector<protocol::SignedRecord> tail =
          SignRun(id, prefix + 1, fork_prev, 1 + w.rng() % 3, b + 1);
      branch_[b].insert(branch_[b].end(), tail.begin(), tail.end());
    }
  }

  void Start() override {
    w_.loop.At(publish_at_, [this] {
      published_ = true;
      std::string sides;
      for (size_t i = 0; i < neighbours.size(); ++i) {
        sides += " " + neighbours[i] + (i % 2 == 0 ? ":A" : ":B");
      }
      SimLog(w_, institution_,
             "forks at seq " + std::to_string(prefix_.size() + 1) + " (A to seq " +
                 std::to_string(branch_[0].size()) + ", B to seq " +
                 std::to_string(branch_[1].size()) + "):" + sides);
      w_.equivocations.push_back(World::Equivocation{
          institution_, prefix_.size() + 1, std::min(branch_[0].size(), branch_[1].size())});
      for (const auto& link : links_) Send(*link, msg::Announce{HeadFor(link->institution())});
    });
  }

 private:
  const std::vector<protocol::SignedRecord>& ChainFor(const std::string& peer) const {
    if (!published_) return prefix_;
    auto it = std::find(neighbours.begin(), neighbours.end(), peer);
    return branch_[it == neighbours.end() ? 0 : (it - neighbours.begin()) % 2];
  }
  msg::Head HeadFor(const std::string& peer) const {
    const auto& chain = ChainFor(peer);
    return msg::Head{institution_, chain.size(), protocol::RecordHash(chain.back()), false};
  }
  void Greet(SimLink& link) override { Send(link, msg::Heads{{HeadFor(link.institution())}}); }
  void OnWant(SimLink& link, const msg::Want& want) override {
    if (want.issuer != institution_) return Send(link, msg::Records{});
    Send(link, msg::Records{Slice(ChainFor(link.institution()), want.from_seq, want.count)});
  }

  SimTime publish_at_;
  bool published_ = false;
  std::vector<protocol::SignedRecord> prefix_;
  std::vector<protocol::SignedRecord> branch_[2];
};

// Claims heads it does not hold (far ahead, or a different record at seq 1) and answers every
// want with nothing.
class Liar final : public Adversary {
 public:
  explicit Liar(World& w) : Adversary(w, "LIAR") {}

 private:
  void Greet(SimLink& link) override {
    msg::Heads heads;
    for (const std::string& issuer : HonestIssuers()) {
      const bool ahead = w_.rng() % 2 == 0;
      heads.heads.push_back(
          msg::Head{issuer, ahead ? 1000 + w_.rng() % 100 : 1, RandomHash(w_.rng), false});
    }
    Send(link, heads);
  }
  void OnWant(SimLink& link, const msg::Want&) override { Send(link, msg::Records{}); }
};

// Claims heads and never answers a want.
class Withholder final : public Adversary {
 public:
  explicit Withholder(World& w) : Adversary(w, "WITHHOLD") {}

 private:
  void Greet(SimLink& link) override {
    msg::Heads heads;
    for (const std::string& issuer : HonestIssuers()) {
      heads.heads.push_back(msg::Head{issuer, 50, RandomHash(w_.rng), false});
    }
    Send(link, heads);
  }
};

// Names many issuers nobody certified (on some connections) and asks for everything, often.
class Flooder final : public Adversary {
 public:
  explicit Flooder(World& w) : Adversary(w, "FLOOD") {}

 private:
  static constexpr size_t kUnknownIssuers = 100;
  static constexpr size_t kWantsPerBurst = 32;

  void Greet(SimLink& link) override {
    if (w_.rng() % 2 == 0) {
      msg::Heads heads;
      for (size_t i = 0; i < kUnknownIssuers; ++i) {
        heads.heads.push_back(msg::Head{"FAKE" + std::to_string(1000 + i), 1 + w_.rng() % 1000,
                                        RandomHash(w_.rng), false});
      }
      Send(link, heads);
    }
    Burst(link);
  }
  void OnHeads(SimLink& link) override { Burst(link); }
  void Burst(SimLink& link) {
    std::vector<std::string> issuers = HonestIssuers();
    if (issuers.empty()) return;
    for (size_t i = 0; i < kWantsPerBurst; ++i) {
      Send(link, msg::Want{issuers[w_.rng() % issuers.size()], 1,
                           uint32_t(protocol::MessageLimits{}.max_want_count)});
    }
  }
};

// Relays honest records (copied from the most advanced live node's store) with one signature
// byte flipped.
class Tamperer final : public Adversary {
 public:
  explicit Tamperer(World& w) : Adversary(w, "TAMPER") {}

 private:
  void Greet(SimLink& link) override {
    Refresh();
    msg::Heads heads;
    for (const auto& [issuer, chain] : mirror_) {
      if (chain.empty()) continue;
      heads.heads.push_back(
          msg::Head{issuer, chain.size(), protocol::RecordHash(chain.back()), false});
    }
    if (!heads.heads.empty()) Send(link, heads);
  }
  void OnHeads(SimLink& link) override { Greet(link); }
  void OnWant(SimLink& link, const msg::Want& want) override {
    auto it = mirror_.find(want.issuer);
    std::vector<protocol::SignedRecord> records;
    if (it != mirror_.end()) {
      records = Slice(it->second, want.from_seq, std::min(want.count, w_.limits.records_per_want));
    }
    if (!records.empty()) {
      protocol::SignedRecord& victim = records[w_.rng() % records.size()];
      victim.signature[w_.rng() % victim.signature.size()] ^= 0x20;
    }
    Send(link, msg::Records{std::move(records)});
  }
  void Refresh() {
    store::Store* best = nullptr;
    uint64_t best_total = 0;
    for (const auto& n : w_.nodes) {
      if (!n->up()) continue;
      Result<std::vector<store::Head>> heads = n->store()->Heads();
      if (!heads) continue;
      uint64_t total = 0;
      for (const store::Head& h : *heads) total += h.seq;
      if (best == nullptr || total > best_total) {
        best = n->store();
        best_total = total;
      }
    }
    if (best == nullptr) return;
    mirror_.clear();
    for (const std::string& issuer : HonestIssuers()) {
      Result<std::optional<store::Head>> head = best->GetHead(issuer);
      if (!head || !*head || (*head)->frozen) continue;
      Result<std::vector<protocol::SignedRecord>> records = best->Range(issuer, 1, (*head)->seq);
      if (records) mirror_[issuer] = std::move(*records);
    }
  }

  std::map<std::string, std::vector<protocol::SignedRecord>> mirror_;
};

}  // namespace

// ---- Adversary ----

Adversary::Adversary(World& w, std::string institution)
    : w_(w), institution_(std::move(institution)) {}

std::vector<std::string> Adversary::HonestIssuers() const {
  return std::vector<std::string>(w_.honest.begin(), w_.honest.end());
}

void Adversary::Send(SimLink& link, const protocol::Message& m) {
  link.Send(protocol::EncodeMessage(m));
}

void Adversary::Opened(const std::shared_ptr<SimLink>& link) {
  links_.push_back(link);
  const SimIdentity& id = w_.pki.Identity(institution_);
  Send(*link,
       msg::Hello{
           protocol::kProtocolVersion, w_.pki.consortium(), institution_, {1}, w_.wall_now()});
  Send(*link, msg::Certs{{id.cert_der}});
  Greet(*link);
}

void Adversary::Frame(SimLink& link, const std::string& payload) {
  Result<protocol::Message> m = protocol::DecodeMessage(payload);
  if (!m) return;
  if (auto* want = std::get_if<msg::Want>(&*m)) {
    OnWant(link, *want);
  } else if (std::holds_alternative<msg::Heads>(*m) || std::holds_alternative<msg::Announce>(*m)) {
    OnHeads(link);
  } else if (auto* ping = std::get_if<msg::Ping>(&*m)) {
    Send(link, msg::Pong{ping->nonce});
  }
}

void Adversary::Closed(SimLink& link, const std::string&) {
  std::erase_if(links_, [&](const std::shared_ptr<SimLink>& l) { return l.get() == &link; });
}

std::unique_ptr<Adversary> MakeEquivocator(World& w, SimTime publish_at) {
  return std::make_unique<Equivocator>(w, publish_at);
}
std::unique_ptr<Adversary> MakeLiar(World& w) {
  return std::make_unique<Liar>(w);
}
std::unique_ptr<Adversary> MakeWithholder(World& w) {
  return std::make_unique<Withholder>(w);
}
std::unique_ptr<Adversary> MakeFlooder(World& w) {
  return std::make_unique<Flooder>(w);
}
std::unique_ptr<Adversary> MakeTamperer(World& w) {
  return std::make_unique<Tamperer>(w);
}

}  // namespace duanka::sim
