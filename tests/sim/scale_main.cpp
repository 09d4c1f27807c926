// sim_scale: a benchmark, not a test. Builds a consortium of N honest nodes (the real sync core
// over real LMDB stores, as in `sim`) in a random graph of about 8 links each plus a few hubs that
// many nodes dial, publishes one listing at one node, and prints how far and how fast it spread
// (hops, simulated ms), what it cost in bytes and messages against the ideal of one copy per node,
// and the memory and wall time of the run. Then the same with 5% of the nodes silent (they take
// connections and never answer) and the simulator's hostile members (liar, withholder, flooder).
// Each scenario runs in a child process, so that its max RSS is its own.
// A hop or time of -1: that share of the honest nodes was not reached within the window.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "protocol/message.h"
#include "tests/sim/sim_node.h"

namespace duanka::sim {
namespace {

// Startup (dials, handshakes, the first heads) settles well within this.
constexpr SimTime kWarmup = 10 * kSecond;
// Background traffic is measured over one window before the publication, the listing's over one
// window after it; a window covers a heads round (heads_interval_ms, 30 s) that repairs misses.
constexpr SimTime kDefaultWindow = 40 * kSecond;
constexpr SimTime kLatency = 50 * kMillisecond;
constexpr SimTime kLatencyJitter = 10 * kMillisecond;  // per link: 40..60 ms one way
constexpr size_t kDefaultNodes = 200;
constexpr size_t kMaxNodes = 5000;
constexpr size_t kDials = 4;            // random links each node dials: about 8 links per node
constexpr size_t kHubPercent = 1;       // of the nodes are hubs...
constexpr size_t kHubDialsPerNode = 1;  // ...and every other node dials this many of them
constexpr size_t kSilentPercent = 5;
constexpr size_t kHostileDegree = 8;  // honest nodes each hostile member dials
// As HonestNode opens its stores.
constexpr uint64_t kStoreInitialMapBytes = 1 << 20;
constexpr size_t kKinds = std::variant_size_v<protocol::Message>;

std::string Name(const char* prefix, size_t i) {
  char text[32];
  std::snprintf(text, sizeof text, "%s%04zu", prefix, i);
  return text;
}

struct Counts {
  std::array<uint64_t, kKinds> bytes{};
  std::array<uint64_t, kKinds> messages{};
  uint64_t all_bytes() const { return std::accumulate(bytes.begin(), bytes.end(), uint64_t{0}); }
  uint64_t all_messages() const {
    return std::accumulate(messages.begin(), messages.end(), uint64_t{0});
  }
};

struct Probe;

// What the run measures, shared by the probes.
struct Meter {
  World* w = nullptr;
  std::string issuer;
  uint64_t seq = 0;
  crypto::Hash256 hash;  // of the listing
  SimTime published_at = -1;
  SimTime window = 0;
  std::map<std::string, size_t> index;  // honest institution → node index
  std::vector<int> hop;                 // -1: not reached
  std::vector<SimTime> reached_at;
  std::vector<uint64_t> copies;  // records messages holding the listing, received
  std::vector<Counts> before, after;
  size_t record_wire_bytes = 0;  // a records message holding just the listing
  int Window() const {
    const SimTime now = w->loop.now();
    if (published_at < 0 || now < published_at - window || now >= published_at + window) return -1;
    return now < published_at ? 0 : 1;
  }
};

// Stands between the network and an honest node, to see what it sends and receives.
struct Probe final : Endpoint {
  Probe(Meter& m, HonestNode& n) : meter(m), node(n) {}
  const std::string& institution() const override { return node.institution(); }
  bool up() const override { return node.up(); }
  void Opened(const std::shared_ptr<SimLink>& link) override { node.Opened(link); }
  void Closed(SimLink& link, const std::string& reason) override { node.Closed(link, reason); }
  void Outgoing(std::string& payload) override {
    node.Outgoing(payload);
    const int window = meter.Window();
    if (window < 0) return;
    Result<protocol::Message> m = protocol::DecodeMessage(payload);
    if (!m) return;
    Counts& c = (window == 0 ? meter.before : meter.after)[node.index()];
    c.bytes[m->index()] += payload.size();
    ++c.messages[m->index()];
  }
  void Frame(SimLink& link, const std::string& payload) override {
    const size_t me = node.index();
    if (meter.published_at >= 0) {
      Result<protocol::Message> m = protocol::DecodeMessage(payload);
      auto* records = m ? std::get_if<protocol::msg::Records>(&*m) : nullptr;
      if (records != nullptr) {
        for (const protocol::SignedRecord& r : records->records) {
          if (protocol::RecordHash(r) != meter.hash) continue;
          ++meter.copies[me];
          if (records->records.size() == 1) meter.record_wire_bytes = payload.size();
          auto from = meter.index.find(link.institution());
          if (meter.hop[me] < 0 && from != meter.index.end() && meter.hop[from->second] >= 0) {
            meter.hop[me] = meter.hop[from->second] + 1;
            meter.reached_at[me] = meter.w->loop.now();
          }
        }
      }
    }
    node.Frame(link, payload);
  }
  Meter& meter;
  HonestNode& node;
};

// A member that takes connections and never says a word: hung, or firewalled after the accept.
struct Silent final : Endpoint {
  explicit Silent(std::string name) : name_(std::move(name)) {}
  const std::string& institution() const override { return name_; }
  bool up() const override { return true; }
  void Opened(const std::shared_ptr<SimLink>&) override {}
  void Frame(SimLink&, const std::string&) override {}
  void Closed(SimLink&, const std::string&) override {}
  std::string name_;
};

struct Options {
  uint64_t seed = 1;
  size_t nodes = kDefaultNodes;
  SimTime window = kDefaultWindow;
  bool faulty = false;
};

// Plain numbers, so that a child can hand them to its parent through a pipe.
struct Figures {
  double honest = 0, silent = 0, hostile = 0, hubs = 0, links = 0;
  double reached = 0, hop50 = -1, hop99 = -1, hop100 = -1, ms50 = -1, ms99 = -1, ms100 = -1;
  double record_bytes = 0, ideal_bytes = 0, net_bytes = 0, record_kind_bytes = 0;
  double net_messages = 0, copies = 0, max_node_bytes = 0, hub_node_bytes = 0;
  double background_bytes_per_node_s = 0;
  std::array<double, kKinds> kind_bytes{}, kind_messages{};  // net of background, all nodes
  double store_bytes_mean = 0, store_bytes_max = 0;
  double heads_all_bytes = 0, certs_all_bytes = 0;  // one heads of every feed; every certificate
  double setup_s = 0, wall_s = 0, max_rss_mb = 0, events = 0;
};

// The value reached by `fraction` of `total` nodes, from the sorted values of those reached.
double Quantile(std::vector<double> v, size_t total, double fraction) {
  std::sort(v.begin(), v.end());
  const size_t need = size_t(std::ceil(fraction * double(total)));
  if (need == 0 || need > v.size()) return -1;
  return v[need - 1];
}

uint64_t DiskBytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::stat(e.path().c_str(), &st) == 0) total += uint64_t(st.st_blocks) * 512;
  }
  return total;
}

Figures Run(const Options& o) {
  const auto wall_start = std::chrono::steady_clock::now();
  std::string base = "/dev/shm";
  std::error_code ec;
  if (!std::filesystem::is_directory(base, ec)) base = std::filesystem::temp_directory_path();
  std::string pattern = base + "/duanka-scale-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create " + pattern);
  const std::filesystem::path dir = pattern;

  SimOptions so;
  so.seed = o.seed;
  so.nodes = o.nodes;
  so.faults = false;
  so.adversaries = o.faulty;
  Figures f;
  {
    World w(so, dir);
    // As the daemon's defaults (config.h), not the small wants `sim` uses to stress catch-up.
    const size_t silent = o.faulty ? o.nodes * kSilentPercent / 100 : 0;
    const size_t honest = o.nodes - silent;
    for (size_t i = 0; i < honest; ++i) w.honest.insert(Name("BANK", i));
    if (o.faulty) {
      w.adversaries.push_back(MakeLiar(w));
      w.adversaries.push_back(MakeWithholder(w));
      w.adversaries.push_back(MakeFlooder(w));
    }
    for (const std::string& who : w.honest) w.trust.Add(w.pki.Identity(who).signer);
    for (const auto& a : w.adversaries) w.trust.Add(w.pki.Identity(a->institution()).signer);
    w.certified = w.honest.size() + w.adversaries.size();

    Meter meter;
    meter.w = &w;
    meter.window = o.window;
    meter.hop.assign(honest, -1);
    meter.reached_at.assign(honest, -1);
    meter.copies.assign(honest, 0);
    meter.before.assign(honest, Counts{});
    meter.after.assign(honest, Counts{});
    std::vector<std::unique_ptr<Probe>> probes;
    std::vector<std::unique_ptr<Silent>> silents;
    std::vector<size_t> endpoint;  // node i (honest first, then silent) → network endpoint
    for (size_t i = 0; i < honest; ++i) {
      w.nodes.push_back(std::make_unique<HonestNode>(w, i, Name("BANK", i), w.limits));
      probes.push_back(std::make_unique<Probe>(meter, *w.nodes.back()));
      w.nodes.back()->endpoint = w.network.AddEndpoint(probes.back().get());
      endpoint.push_back(w.nodes.back()->endpoint);
      meter.index[w.nodes.back()->institution()] = i;
    }
    for (size_t i = 0; i < silent; ++i) {
      silents.push_back(std::make_unique<Silent>(Name("SILENT", i)));
      endpoint.push_back(w.network.AddEndpoint(silents.back().get()));
    }
    for (auto& a : w.adversaries) a->endpoint = w.network.AddEndpoint(a.get());

    // The silent nodes are spread among the honest ones by a shuffle of who dials whom.
    const size_t n = o.nodes;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), w.rng);
    std::set<std::pair<size_t, size_t>> linked;
    auto link = [&](size_t a, size_t b) {
      if (a == b || !linked.insert({std::min(a, b), std::max(a, b)}).second) return;
      const SimTime latency =
          kLatency - kLatencyJitter + SimTime(w.rng() % uint64_t(2 * kLatencyJitter + 1));
      w.network.AddLink(endpoint[a], endpoint[b], latency);
    };
    const size_t hubs = std::max<size_t>(1, n * kHubPercent / 100);
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < kDials; ++k) link(order[i], order[w.rng() % n]);
      // The hubs are the first honest nodes; everyone else dials some of them.
      for (size_t k = 0; k < kHubDialsPerNode; ++k) link(order[i], w.rng() % hubs);
    }
    for (auto& a : w.adversaries) {
      std::set<size_t> picked;
      while (picked.size() < std::min(kHostileDegree, honest)) {
        const size_t b = w.rng() % honest;
        if (!picked.insert(b).second) continue;
        a->neighbours.push_back(w.nodes[b]->institution());
        w.network.AddLink(a->endpoint, endpoint[b], kLatency);
      }
    }
    f.honest = double(honest);
    f.silent = double(silent);
    f.hostile = double(w.adversaries.size());
    f.hubs = double(hubs);
    f.links = double(w.network.links().size());

    // Every store starts as a copy of one holding every member's certificate: what HonestNode
    // would write into each fresh store itself, one commit per certificate, N² commits in all.
    {
      store::Options so_template;
      so_template.path = dir / "template";
      so_template.initial_map_bytes = kStoreInitialMapBytes;
      Result<std::unique_ptr<store::Store>> t = store::Store::Open(so_template);
      if (!t) throw std::runtime_error("cannot open a store: " + t.error().message);
      auto put = [&](const std::string& who) {
        const SimIdentity& id = w.pki.Identity(who);
        if (!(*t)->PutCertificate(id.key_id, id.cert_der)) throw std::runtime_error("certs");
      };
      for (const std::string& who : w.honest) put(who);
      for (const auto& a : w.adversaries) put(a->institution());
    }
    // What every heads round and every greeting carries once each member has published: computed
    // here, since the run has one feed only.
    {
      protocol::msg::Heads all;
      for (const std::string& who : w.honest) {
        all.heads.push_back(
            protocol::msg::Head{who, 1000, crypto::Sha256(crypto::AsBytes(who)), false});
      }
      f.heads_all_bytes = double(protocol::EncodeMessage(all).size());
      for (const std::string& who : w.honest)
        f.certs_all_bytes += double(w.pki.Identity(who).cert_der.size());
    }
    for (auto& node : w.nodes) {
      std::filesystem::copy(dir / "template", dir / node->institution(),
                            std::filesystem::copy_options::recursive);
      node->Boot();
    }
    for (auto& a : w.adversaries) a->Start();
    f.setup_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    w.network.DialAll();

    // The publisher: an ordinary honest node, not a hub.
    const size_t publisher = hubs + w.rng() % (honest - hubs);
    const SimTime publish_at = kWarmup + o.window;
    meter.published_at = publish_at;  // opens the "before" window from publish_at - window
    w.loop.At(publish_at, [&] {
      HonestNode& p = *w.nodes[publisher];
      Result<std::vector<store::Head>> heads = p.store()->Heads();
      uint64_t seq = 0;
      if (heads) {
        for (const store::Head& h : *heads) {
          if (h.issuer == p.institution()) seq = h.seq;
        }
      }
      meter.issuer = p.institution();
      meter.seq = seq + 1;
      meter.hop[publisher] = 0;
      meter.reached_at[publisher] = publish_at;
      p.PublishEntries(1);
      Result<std::vector<store::Head>> after = p.store()->Heads();
      if (!after) throw std::runtime_error("the publisher's heads: " + after.error().message);
      for (const store::Head& h : *after) {
        if (h.issuer == p.institution()) meter.hash = h.hash;
      }
    });
    w.loop.RunUntil(publish_at + o.window);

    std::vector<double> hops, ms;
    for (size_t i = 0; i < honest; ++i) {
      if (meter.hop[i] < 0) continue;
      hops.push_back(meter.hop[i]);
      ms.push_back(double(meter.reached_at[i] - publish_at) / kMillisecond);
    }
    f.reached = double(hops.size());
    f.hop50 = Quantile(hops, honest, 0.5);
    f.hop99 = Quantile(hops, honest, 0.99);
    f.hop100 = Quantile(hops, honest, 1.0);
    f.ms50 = Quantile(ms, honest, 0.5);
    f.ms99 = Quantile(ms, honest, 0.99);
    f.ms100 = Quantile(ms, honest, 1.0);
    f.record_bytes = double(meter.record_wire_bytes);
    f.ideal_bytes = double(honest) * f.record_bytes;
    const auto records = protocol::Message(protocol::msg::Records{}).index();
    const auto want = protocol::Message(protocol::msg::Want{}).index();
    const auto announce = protocol::Message(protocol::msg::Announce{}).index();
    double before_all = 0, after_all = 0, before_msgs = 0, after_msgs = 0;
    for (size_t i = 0; i < honest; ++i) {
      const Counts& b = meter.before[i];
      const Counts& a = meter.after[i];
      before_all += double(b.all_bytes());
      after_all += double(a.all_bytes());
      before_msgs += double(b.all_messages());
      after_msgs += double(a.all_messages());
      const double kinds = double(a.bytes[records] + a.bytes[want] + a.bytes[announce]) -
                           double(b.bytes[records] + b.bytes[want] + b.bytes[announce]);
      f.record_kind_bytes += kinds;
      const double net = double(a.all_bytes()) - double(b.all_bytes());
      f.max_node_bytes = std::max(f.max_node_bytes, net);
      if (i < hubs) f.hub_node_bytes += net / double(hubs);
      f.copies += double(meter.copies[i]);
      for (size_t k = 0; k < kKinds; ++k) {
        f.kind_bytes[k] += double(a.bytes[k]) - double(b.bytes[k]);
        f.kind_messages[k] += double(a.messages[k]) - double(b.messages[k]);
      }
    }
    f.net_bytes = after_all - before_all;
    f.net_messages = after_msgs - before_msgs;
    f.background_bytes_per_node_s = before_all / double(honest) / (double(o.window) / kSecond);
    for (auto& node : w.nodes) {
      const double bytes = double(DiskBytes(w.dir / node->institution()));
      f.store_bytes_mean += bytes / double(honest);
      f.store_bytes_max = std::max(f.store_bytes_max, bytes);
    }
    f.events = double(w.loop.events_run());
    w.loop.Clear();
  }
  std::filesystem::remove_all(dir, ec);
  f.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  f.max_rss_mb = double(usage.ru_maxrss) / 1024.0;
  return f;
}

// Runs one scenario in a child process: its max RSS is then its own.
std::optional<Figures> RunInChild(const Options& o) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  const pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    try {
      Figures f = Run(o);
      if (::write(fds[1], &f, sizeof f) != ssize_t(sizeof f)) code = 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sim_scale: the simulator failed: %s\n", e.what());
      code = 1;
    }
    ::close(fds[1]);
    std::exit(code);
  }
  ::close(fds[1]);
  Figures f;
  const bool got = ::read(fds[0], &f, sizeof f) == ssize_t(sizeof f);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return f;
}

template <size_t... I>
protocol::Message MessageOfIndexImpl(size_t k, std::index_sequence<I...>) {
  protocol::Message m;
  ((k == I ? (void)m.emplace<I>() : (void)0), ...);
  return m;
}
protocol::Message MessageOfIndex(size_t k) {
  return MessageOfIndexImpl(k, std::make_index_sequence<kKinds>{});
}

void Print(const std::vector<std::pair<std::string, Figures>>& runs, const Options& o) {
  auto row = [&](const char* what, auto value, const char* format) {
    std::printf("%-44s", what);
    for (const auto& [name, f] : runs) {
      char cell[64];
      std::snprintf(cell, sizeof cell, format, value(f));
      std::printf(" %18s", cell);
    }
    std::printf("\n");
  };
  std::printf("sim_scale --seed %llu --nodes %zu --window-s %lld\n",
              static_cast<unsigned long long>(o.seed), o.nodes,
              static_cast<long long>(o.window / kSecond));
  std::printf("%-44s", "");
  for (const auto& r : runs) std::printf(" %18s", r.first.c_str());
  std::printf("\n");
  row(
      "honest nodes", [](const Figures& f) { return f.honest; }, "%.0f");
  row(
      "  silent", [](const Figures& f) { return f.silent; }, "%.0f");
  row(
      "  hostile (liar, withholder, flooder)", [](const Figures& f) { return f.hostile; }, "%.0f");
  row(
      "hubs", [](const Figures& f) { return f.hubs; }, "%.0f");
  row(
      "  links", [](const Figures& f) { return f.links; }, "%.0f");
  row(
      "honest nodes reached", [](const Figures& f) { return f.reached; }, "%.0f");
  row(
      "hops to 50% / 99% / 100% of honest", [](const Figures& f) { return f.hop50; }, "%.0f");
  row(
      "", [](const Figures& f) { return f.hop99; }, "%.0f");
  row(
      "", [](const Figures& f) { return f.hop100; }, "%.0f");
  row(
      "sim ms to 50% / 99% / 100% of honest", [](const Figures& f) { return f.ms50; }, "%.1f");
  row(
      "", [](const Figures& f) { return f.ms99; }, "%.1f");
  row(
      "", [](const Figures& f) { return f.ms100; }, "%.1f");
  row(
      "record size on the wire (B, records msg)", [](const Figures& f) { return f.record_bytes; },
      "%.0f");
  row(
      "ideal bytes (honest x record)", [](const Figures& f) { return f.ideal_bytes; }, "%.0f");
  row(
      "copies of the record received", [](const Figures& f) { return f.copies; }, "%.0f");
  row(
      "  per honest node", [](const Figures& f) { return f.copies / f.honest; }, "%.2f");
  row(
      "announce+want+records bytes (net)", [](const Figures& f) { return f.record_kind_bytes; },
      "%.0f");
  row(
      "  amplification vs ideal",
      [](const Figures& f) { return f.record_kind_bytes / std::max(1.0, f.ideal_bytes); }, "%.1fx");
  row(
      "all bytes sent, net of background", [](const Figures& f) { return f.net_bytes; }, "%.0f");
  row(
      "  per node per record (B)", [](const Figures& f) { return f.net_bytes / f.honest; }, "%.0f");
  row(
      "  amplification vs ideal",
      [](const Figures& f) { return f.net_bytes / std::max(1.0, f.ideal_bytes); }, "%.1fx");
  row(
      "  busiest node (B)", [](const Figures& f) { return f.max_node_bytes; }, "%.0f");
  row(
      "  mean over hubs (B)", [](const Figures& f) { return f.hub_node_bytes; }, "%.0f");
  row(
      "messages per node per record (net)",
      [](const Figures& f) { return f.net_messages / f.honest; }, "%.1f");
  for (size_t k = 0; k < kKinds; ++k) {
    bool any = false;
    for (const auto& r : runs) any = any || r.second.kind_messages[k] != 0;
    if (!any) continue;
    const std::string label =
        "  " + std::string(protocol::MessageKindName(MessageOfIndex(k))) + ": msgs, B per node";
    row(
        label.c_str(), [k](const Figures& f) { return f.kind_messages[k] / f.honest; }, "%.2f");
    row(
        "", [k](const Figures& f) { return f.kind_bytes[k] / f.honest; }, "%.0f");
  }
  row(
      "heads msg naming every honest feed (B)", [](const Figures& f) { return f.heads_all_bytes; },
      "%.0f");
  row(
      "every certificate, DER (B)", [](const Figures& f) { return f.certs_all_bytes; }, "%.0f");
  row(
      "background B/node/s (before publishing)",
      [](const Figures& f) { return f.background_bytes_per_node_s; }, "%.0f");
  row(
      "store on disk per node, mean (KiB)",
      [](const Figures& f) { return f.store_bytes_mean / 1024; }, "%.0f");
  row(
      "  max (KiB)", [](const Figures& f) { return f.store_bytes_max / 1024; }, "%.0f");
  row(
      "events run", [](const Figures& f) { return f.events; }, "%.0f");
  row(
      "setup wall s (stores, certs, boot)", [](const Figures& f) { return f.setup_s; }, "%.1f");
  row(
      "wall s (whole scenario)", [](const Figures& f) { return f.wall_s; }, "%.1f");
  row(
      "max RSS (MiB)", [](const Figures& f) { return f.max_rss_mb; }, "%.0f");
}

constexpr const char* kUsage =
    "usage: sim_scale [--seed S] [--nodes N] [--window-s W] [--scenario clean|faulty|both]\n";

int Usage(const std::string& problem) {
  std::cerr << "sim_scale: " << problem << "\n" << kUsage;
  return 2;
}

std::optional<uint64_t> Number(const char* text) {
  if (text == nullptr || *text == '\0' || text[0] == '-') return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (*end != '\0') return std::nullopt;
  return v;
}

}  // namespace
}  // namespace duanka::sim

int main(int argc, char** argv) {
  using namespace duanka::sim;
  Options o;
  std::string scenario = "both";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    std::optional<uint64_t> v = Number(value);
    if (arg == "--seed") {
      if (!v) return Usage("--seed: expected a number");
      o.seed = *v;
    } else if (arg == "--nodes") {
      if (!v || *v < 100 || *v > kMaxNodes) {
        return Usage("--nodes: expected 100.." + std::to_string(kMaxNodes));
      }
      o.nodes = *v;
    } else if (arg == "--window-s") {
      if (!v || *v < 1 || *v > 600) return Usage("--window-s: expected 1..600 seconds");
      o.window = SimTime(*v) * kSecond;
    } else if (arg == "--scenario") {
      scenario = value ? value : "";
      if (scenario != "clean" && scenario != "faulty" && scenario != "both") {
        return Usage("--scenario: expected clean, faulty or both");
      }
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      return Usage("unknown argument \"" + arg + "\"");
    }
    ++i;
  }
  spdlog::set_level(spdlog::level::off);
  std::vector<std::pair<std::string, Figures>> runs;
  for (bool faulty : {false, true}) {
    if (scenario == (faulty ? "clean" : "faulty")) continue;
    Options one = o;
    one.faulty = faulty;
    std::optional<Figures> f = RunInChild(one);
    if (!f) return 2;
    runs.emplace_back(faulty ? "5% silent+hostile" : "clean", *f);
  }
  Print(runs, o);
  return 0;
}
