// duankad: an institution's node. main() wires the store, the trust anchors, the clock, the TLS
// context, the sync layer and the HTTP API, and passes them in; nothing here is a singleton.
#include <utility>  // Boost 1.74's asio/awaitable.hpp needs it first on GCC 12

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/common/audit.h"
#include "node/common/config.h"
#include "node/common/consortium_objects.h"
#include "node/common/exit_codes.h"
#include "node/common/identity.h"
#include "node/common/lookup.h"
#include "node/common/profile.h"
#include "node/common/status_json.h"
#include "node/common/version.h"
#include "node/daemon/alert_feed.h"
#include "node/daemon/api_setup.h"
#include "node/daemon/crl_reload.h"
#include "node/daemon/daemon_options.h"
#include "node/daemon/http_api.h"
#include "node/daemon/ingest_pipeline.h"
#include "node/daemon/links.h"
#include "node/daemon/log.h"
#include "node/daemon/metrics.h"
#include "node/daemon/store_watch.h"
#include "node/daemon/sync.h"
#include "node/daemon/webhook.h"

namespace duanka::daemon {
namespace {

// The codes shared by the three programs (node/common/exit_codes.h).
using node::kExitFailure;
using node::kExitInvalid;
using node::kExitOk;
// /v1/status and /metrics count expired entries with a pass over the index; a scrape every few
// seconds must not turn into a full scan each time.
constexpr int64_t kStatsCacheSeconds = 5;
// A stop checks this often whether every peer is closed.
constexpr std::chrono::milliseconds kStopPollInterval{20};
// Beyond shutdown_timeout_ms, for the connections' own watchdogs to cut off the slow peers.
constexpr std::chrono::milliseconds kStopGrace{200};

int Fail(int code, const std::string& message) {
  LogError("{}", message);
  return code;
}

// The statistics, recomputed at most every kStatsCacheSeconds.
class StatsCache {
 public:
  StatsCache(const store::Store& store, std::function<int64_t()> now)
      : store_(store), now_(std::move(now)) {}
  // `feeds_held`: the feeds the store holds now; a cache that counts fewer is recomputed, so
  // that a feed new since is never missing from the status (its counts may still trail).
  store::Stats Get(size_t feeds_held = 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    int64_t now = now_();
    if (now - computed_at_ >= kStatsCacheSeconds || feeds_held > stats_.issuers.size()) {
      Result<store::Stats> s = store_.GetStats(now);
      if (s) {
        stats_ = std::move(*s);
        computed_at_ = now;
      }
    }
    return stats_;
  }

 private:
  const store::Store& store_;
  std::function<int64_t()> now_;
  std::mutex mutex_;
  store::Stats stats_;
  int64_t computed_at_ = 0;
};

// ---- Descriptor budget ----
// Every connection costs a descriptor; a daemon that runs out cannot accept, dial, or open a file.
// So the connection budgets are made to fit the descriptor limit at start, leaving this many for
// everything else: stdio, the store (LMDB's data and lock files), the audit log (held open), two
// event loops (epoll, eventfd, timerfd each), the signal pipe, the store watch (inotify), two
// listening sockets, files read at start, and connections accepted only to be refused at once.
constexpr uint64_t kReservedDescriptors = 64;
// Per configured peer: its connection, and the next one while the old one is being closed.
constexpr uint64_t kDescriptorsPerDialer = 2;
// The least of each budget a node is worth running with. Below these the daemon refuses to
// start: a node that could hold only a handful of peers and API clients would fail under the
// first load, long after it was set up; a one-line refusal names the fix (LimitNOFILE) at once.
constexpr uint64_t kMinInboundConnections = 8;
constexpr uint64_t kMinHandshakingConnections = 2;
constexpr uint64_t kMinApiConnections = 4;

struct ConnectionBudget {
  const char* key;  // its config key, for the warning
  uint32_t* value;
  uint64_t minimum;
};

// Raises the soft RLIMIT_NOFILE to the hard one, then lowers the connection budgets in `limits`,
// in proportion and none below its minimum, until they fit beside the reserve. kInvalidInput
// (one line) when even the minimums do not fit.
Status FitDescriptorBudget(node::DaemonLimits& limits, size_t dialers) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) {
    return MakeError(ErrorKind::kIo,
                     std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  if (nofile.rlim_cur < nofile.rlim_max && nofile.rlim_max != RLIM_INFINITY) {
    rlimit raised{nofile.rlim_max, nofile.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) nofile = raised;
  }
  const uint64_t limit = nofile.rlim_cur;
  std::vector<ConnectionBudget> budgets = {
      {"limits.max_inbound_connections", &limits.max_inbound_connections, kMinInboundConnections},
      {"limits.max_handshaking_connections", &limits.max_handshaking_connections,
       kMinHandshakingConnections},
      {"limits.max_api_connections", &limits.max_api_connections, kMinApiConnections},
  };
  const uint64_t reserved = kReservedDescriptors + kDescriptorsPerDialer * dialers;
  uint64_t wanted = 0, minimum = 0;
  for (const ConnectionBudget& b : budgets) {
    wanted += *b.value;
    minimum += std::min<uint64_t>(b.minimum, *b.value);
  }
  if (limit >= reserved + wanted) return Ok();
  if (limit < reserved + minimum) {
    return MakeError(ErrorKind::kInvalidInput,
                     "the descriptor limit (RLIMIT_NOFILE) is " + std::to_string(limit) +
                         ", below the " + std::to_string(reserved + minimum) +
                         " duankad needs at the least (" + std::to_string(reserved) +
                         " reserved, " + std::to_string(minimum) +
                         " for connections); raise LimitNOFILE (duankad.service) or ulimit -n");
  }
  // Shares the room left in proportion to the configured values; a budget that would fall below
  // its minimum gets the minimum, and the rest share what remains.
  std::vector<uint64_t> fitted(budgets.size(), 0);
  std::vector<bool> fixed(budgets.size(), false);
  uint64_t room = limit - reserved;
  for (bool changed = true; changed;) {
    changed = false;
    uint64_t share_of = 0;
    for (size_t i = 0; i < budgets.size(); ++i) {
      if (!fixed[i]) share_of += *budgets[i].value;
    }
    for (size_t i = 0; i < budgets.size(); ++i) {
      if (fixed[i]) continue;
      fitted[i] = share_of == 0 ? 0 : *budgets[i].value * room / share_of;
      const uint64_t floor = std::min<uint64_t>(budgets[i].minimum, *budgets[i].value);
      if (fitted[i] < floor) {
        fitted[i] = floor;
        fixed[i] = true;
        room -= floor;
        changed = true;
        break;
      }
    }
  }
  std::string lowered;
  for (size_t i = 0; i < budgets.size(); ++i) {
    if (fitted[i] >= *budgets[i].value) continue;
    lowered += (lowered.empty() ? "" : ", ") + std::string(budgets[i].key) + " " +
               std::to_string(*budgets[i].value) + " -> " + std::to_string(fitted[i]);
    *budgets[i].value = static_cast<uint32_t>(fitted[i]);
  }
  LogWarn(
      "the descriptor limit (RLIMIT_NOFILE) is {}, too low for the configured connection "
      "budgets ({} wanted beside {} reserved); lowered {}; raise LimitNOFILE to keep them",
      limit, wanted, reserved, lowered);
  return Ok();
}

// ---- What the start loads before it opens the store ----

// Everything duankad reads from HOME before it opens the store for writing or binds a port.
// LoadForStart is the one path both the start and --check-config take, so a check that passes
// means the start gets past every one of these.
struct Loaded {
  node::Config config;
  crypto::TrustStore ca;
  crypto::Pepper pepper;
  // The certificates of files.signing_cert (DER), when it exists and parses: this node's own
  // signing certificate, trusted beside those in the store.
  std::vector<std::string> signing_ders;
  boost::asio::ssl::context tls;
  ApiOptions api_options;
  // [alerts] webhook_url over https: its client context (the CA file read here); else null.
  std::shared_ptr<boost::asio::ssl::context> webhook_tls;
  // Its TLS certificate has the replica role: it follows its institution's own node only.
  bool replica = false;
};

// The institution a certificate names must be this node's: a node that presented another
// member's certificates (or signed with another member's key) would get that member banned by
// its peers. kUnauthorized, one line naming both codes.
Status CheckCertificateInstitution(const node::Config& config, const std::filesystem::path& file,
                                   const std::string& der) {
  Result<crypto::CertificateInfo> info = crypto::InspectCertificate(der);
  // HOME's own file unreadable as a certificate: operational, as for the other files of HOME.
  if (!info) return MakeError(ErrorKind::kIo, file.string() + ": " + info.error().message);
  if (info->institution == config.institution) return Ok();
  return MakeError(ErrorKind::kUnauthorized,
                   file.string() + " is issued to institution " + info->institution +
                       ", but duanka.toml says institution = \"" + config.institution +
                       "\"; install " + config.institution +
                       "'s certificates, or correct institution in duanka.toml");
}

// Loads and checks what the start needs before the store: kExitOk with `out` set, or the exit
// code after logging the one-line reason.
int LoadForStart(const std::filesystem::path& home, std::optional<Loaded>& out) {
  Result<node::Config> config = node::LoadConfig(home);
  if (!config) {
    return Fail(node::ConfigExitCodeFor(config.error().kind), config.error().message);
  }
  if (Status fits = FitDescriptorBudget(config->limits, config->network.peers.size()); !fits) {
    return Fail(node::ExitCodeFor(fits.error().kind), fits.error().message);
  }
  // HOME's own files (CA, pepper, store, TLS key) are the operator's: whatever is wrong with
  // them is operational, whatever the error's kind (node/common/exit_codes.h).
  Result<crypto::TrustStore> ca = node::LoadTrustStore(*config);
  if (!ca) return Fail(kExitFailure, ca.error().message);
  Result<crypto::Pepper> pepper = crypto::Pepper::Load(config->pepper);
  if (!pepper) return Fail(kExitFailure, pepper.error().message);

  Result<ssl_ctx_st*> tls_native = crypto::CreateTlsContext(*ca, config->tls_cert, config->tls_key);
  if (!tls_native) return Fail(kExitFailure, tls_native.error().message);
  boost::asio::ssl::context tls(*tls_native);
  // Read once more for its name: CreateTlsContext has just read the same file.
  Result<std::vector<std::string>> tls_ders = node::ReadCertificates(config->tls_cert);
  if (!tls_ders) return Fail(kExitFailure, tls_ders.error().message);
  if (Status s = CheckCertificateInstitution(*config, config->tls_cert, tls_ders->front()); !s) {
    return Fail(node::ExitCodeFor(s.error().kind), s.error().message);
  }
  const bool replica = node::ReplicaOfCertificate(tls_ders->front()).has_value();
  if (replica) {
    // The machine that answers lookups for a replica must not hold the key that signs listings.
    if (std::filesystem::exists(config->signing_key)) {
      return Fail(kExitFailure, "this node is a read replica of " + config->institution + " (" +
                                    config->tls_cert.string() + " has the replica role), but " +
                                    config->signing_key.string() +
                                    " exists: a replica must hold no signing key; move it off "
                                    "this machine");
    }
    // It follows its institution's node only: any other entry could never be spoken to.
    if (config->network.peers.empty()) {
      return Fail(node::ConfigExitCodeFor(ErrorKind::kInvalidInput),
                  "network.peers is empty, but a read replica of " + config->institution +
                      " needs one entry naming " + config->institution + "'s own node (" +
                      config->institution + "@HOST:PORT)");
    }
    for (const std::string& entry : config->network.peers) {
      Result<node::PeerEntry> peer = node::ParsePeerEntry(entry);
      if (peer && peer->institution != config->institution) {
        return Fail(node::ConfigExitCodeFor(ErrorKind::kInvalidInput),
                    "network.peers entry \"" + entry + "\": a read replica of " +
                        config->institution + " dials " + config->institution +
                        "'s own node only (" + config->institution + "@HOST:PORT)");
      }
    }
    if (!config->network.listen.empty()) {
      LogWarn(
          "network.listen is set, but a read replica takes no peers: every connection there "
          "is refused");
    }
  }
  std::vector<std::string> signing_ders;
  if (std::filesystem::exists(config->signing_cert)) {
    Result<std::vector<std::string>> der = node::ReadCertificates(config->signing_cert);
    if (der) {
      Status s = CheckCertificateInstitution(*config, config->signing_cert, der->front());
      if (!s) return Fail(node::ExitCodeFor(s.error().kind), s.error().message);
      signing_ders = std::move(*der);
    } else {
      LogWarn("{}; this node's own signing certificate is not trusted", der.error().message);
    }
  }

  // TLS, named clients, Host names, rate limit; refused off loopback without TLS and clients.
  Result<ApiOptions> api_options = ApiOptionsFromConfig(*config);
  if (!api_options) {
    return Fail(node::ExitCodeFor(api_options.error().kind), api_options.error().message);
  }
  std::shared_ptr<boost::asio::ssl::context> webhook_tls;
  if (!config->alerts.webhook_url.empty()) {
    Result<std::shared_ptr<boost::asio::ssl::context>> made =
        CreateWebhookTlsContext(config->alerts);
    if (!made) return Fail(node::ConfigExitCodeFor(made.error().kind), made.error().message);
    webhook_tls = std::move(*made);
  }
  out.emplace(Loaded{std::move(*config), std::move(*ca), std::move(*pepper),
                     std::move(signing_ders), std::move(tls), std::move(*api_options),
                     std::move(webhook_tls), replica});
  return kExitOk;
}

// --check-config: LoadForStart, and the store opened read-only (the start creates a missing one,
// so that is no error); nothing is written, no port is bound.
int CheckConfig(const std::filesystem::path& home) {
  std::optional<Loaded> loaded;
  if (int code = LoadForStart(home, loaded); code != kExitOk) return code;
  store::Options options = node::StoreOptionsFrom(loaded->config);
  options.read_only = true;
  options.create_if_missing = false;
  Result<std::unique_ptr<store::Store>> opened = store::Store::Open(options);
  if (!opened && opened.error().kind != ErrorKind::kNotFound) {
    return Fail(kExitFailure, opened.error().message);
  }
  std::cout << (home / node::kConfigFileName).string() << ": configuration OK (institution "
            << loaded->config.institution << ")\n";
  return kExitOk;
}

int Run(const std::filesystem::path& home) {
  std::optional<Loaded> loaded;
  if (int code = LoadForStart(home, loaded); code != kExitOk) return code;
  // Pointers, so that the start below reads as before the split.
  node::Config* config = &loaded->config;
  crypto::TrustStore* ca = &loaded->ca;
  crypto::Pepper* pepper = &loaded->pepper;
  boost::asio::ssl::context& tls = loaded->tls;
  ApiOptions* api_options = &loaded->api_options;
  const node::DaemonLimits& limits = config->limits;
  std::function<int64_t()> now = node::SystemNow;

  Result<std::unique_ptr<store::Store>> opened =
      store::Store::Open(node::StoreOptionsFrom(*config));
  if (!opened) return Fail(kExitFailure, opened.error().message);
  store::Store& store = **opened;
  // A CRL imported or received since crl.pem was written is in the store: it counts from the start.
  if (Result<bool> applied = node::ApplyHeldCrl(store, *ca); !applied) {
    return Fail(kExitFailure, applied.error().message);
  }

  // A store written before profiles (or whose saved scans were lost) has none saved: scan each
  // feed once here, before any lookup, rather than in every lookup CLI process and on the ingest
  // thread. Later starts find the saved scans current and read nothing.
  {
    Result<std::vector<store::Head>> heads = store.Heads();
    std::vector<std::string> issuers;
    for (const store::Head& h : heads ? *heads : std::vector<store::Head>{}) {
      issuers.push_back(h.issuer);
    }
    if (Status saved = node::SaveProfileScans(store, issuers); !saved) {
      LogWarn("cannot save the feeds' profile scans: {}; lookups scan the feeds themselves",
              saved.error().message);
    }
  }

  // Signers: every certificate held, and our own.
  TrustHolder trust;
  {
    protocol::Trust initial;
    Result<std::vector<std::string>> certs = store.Certificates();
    if (!certs) return Fail(kExitFailure, certs.error().message);
    for (const Error& e : node::AddSigners(*ca, *certs, initial)) {
      LogWarn("a stored certificate is no longer trusted: {}", e.message);
    }
    if (const std::vector<std::string>& der = loaded->signing_ders; !der.empty()) {
      for (const Error& e : node::AddSigners(*ca, der, initial)) {
        LogWarn("our signing certificate is not trusted: {}", e.message);
      }
      Result<crypto::CertificateInfo> info =
          ca->Verify(der.front(), crypto::CertKind::kSigning, std::nullopt);
      if (info) (void)store.PutCertificate(protocol::KeyId(info->public_key), der.front());
    }
    std::vector<protocol::Signer> signers;
    Result<std::vector<std::string>> all = store.Certificates();
    for (const std::string& der : all ? *all : std::vector<std::string>{}) {
      Result<crypto::CertificateInfo> info =
          ca->Verify(der, crypto::CertKind::kSigning, std::nullopt);
      if (info) signers.push_back(node::SignerOf(*info));
    }
    trust.Add(signers);
  }

  boost::asio::io_context net_io;
  boost::asio::io_context api_io;
  Metrics metrics;
  IngestPipeline ingest(store, trust, metrics, now, IngestOptionsFrom(limits));
  SyncOptions sync_options{config->institution, ca->consortium(), pepper->epochs(), limits,
                           loaded->replica};
  Sync sync(net_io, store, *ca, trust, ingest, metrics, sync_options, now);

  LinkContext links{net_io, tls, *ca, ConnectionOptionsFrom(limits), sync, metrics};

  std::unique_ptr<Listener> listener;
  if (!config->network.listen.empty()) {
    // Inbound budgets: handshakes apart from established links (issue 11, item 4).
    listener = std::make_unique<Listener>(links, InboundBudgetsFrom(limits));
    Status s = listener->Start(config->network.listen);
    if (!s) return Fail(node::ExitCodeFor(s.error().kind), s.error().message);
  }
  std::vector<std::unique_ptr<Dialer>> dialers;
  for (const std::string& peer : config->network.peers) {
    dialers.push_back(std::make_unique<Dialer>(links, peer, BackoffOptionsFrom(limits)));
  }

  // [alerts] webhook_url: made once the audit log is, started with sync.
  std::unique_ptr<Webhook> webhook;
  // GET /v1/alerts long polls wait here for the store's commits (any process's).
  AlertNotifier alert_notifier(api_io, store);
  StoreWatch watch(net_io, config->store, [&sync, &webhook, &alert_notifier] {
    sync.OnLocalChange();
    alert_notifier.Notify();
    if (webhook) webhook->Wake();
  });
  if (Status s = watch.Start(); !s) return Fail(kExitFailure, s.error().message);

  StatsCache stats(store, now);
  node::Lookuper lookuper(store, *pepper);
  node::AuditLog audit(config->audit_log, config->institution);
  // Checkpoints are signed with the key the node signs records with; a node whose key is kept
  // elsewhere still chains its lines, and `audit verify` says they are not yet signed.
  if (std::filesystem::exists(config->signing_key)) {
    if (Result<node::SigningIdentity> id = node::LoadSigningIdentity(*config, *ca); id) {
      audit.SetCheckpointKey(std::make_shared<const crypto::SigningKey>(std::move(id->key)),
                             node::kAuditCheckpointEveryLines);
    } else {
      LogWarn("{}; audit log checkpoints are not signed", id.error().message);
    }
  }
  audit.OnNotice([](const std::string& notice) { LogWarn("{}", notice); });
  // Once per episode, not per refused lookup; /healthz fails meanwhile (http_router.cpp).
  audit.OnStateChange([](bool writable, const std::string& reason) {
    if (writable) {
      LogInfo("the audit log can be written again; API lookups are served");
    } else {
      LogError("{}; API lookups are refused (503) and /healthz fails until it can be written",
               reason);
    }
  });
  // Held open from the start: at the descriptor limit, a lookup must not need a new descriptor.
  (void)audit.Open();
  if (Status s = audit.Checkpoint("start"); !s) LogWarn("{}", s.error().message);
  // Lookup lines are synced in groups; this bounds the wait of the last group (and of lines the
  // other programs appended) to kAuditSyncWindow.
  boost::asio::steady_timer audit_sync(net_io);
  std::function<void()> await_audit_sync = [&] {
    audit_sync.expires_after(node::kAuditSyncWindow);
    audit_sync.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      (void)audit.SyncPending();
      await_audit_sync();
    });
  };
  await_audit_sync();
  if (!config->alerts.webhook_url.empty()) {
    webhook = std::make_unique<Webhook>(store, audit, metrics, WebhookOptionsFrom(config->alerts),
                                        loaded->webhook_tls, now);
    metrics.EnableWebhook();
  }
  // Set here, not in ApiOptionsFromConfig: FitDescriptorBudget may have lowered it.
  api_options->max_connections = limits.max_api_connections;
  const node::PolicyCache policy_cache(store);
  ApiBackend backend;
  backend.lookuper = &lookuper;
  backend.policy = &policy_cache;
  if (!config->local_grading.purposes.empty()) backend.local_grading = &config->local_grading;
  backend.audit = &audit;
  backend.metrics = &metrics;
  backend.now = now;
  backend.heads = [&store] {
    Result<std::vector<store::Head>> h = store.Heads();
    return h ? *h : std::vector<store::Head>{};
  };
  backend.metrics_text = [&] {
    Result<uint64_t> raised = store.LastAlertId();
    Result<uint64_t> watched = store.WatchCount();
    if (raised && watched) metrics.SetAlertStore(*raised, *watched);
    if (webhook) {
      if (Result<AlertBacklog> backlog = webhook->Backlog(); backlog) {
        metrics.SetWebhookBacklog(backlog->pending, backlog->oldest_pending_age_seconds);
      }
    }
    return metrics.Render(stats.Get());
  };
  backend.alerts_pending = [&]() -> std::optional<uint64_t> {
    if (!webhook) return std::nullopt;
    Result<AlertBacklog> backlog = webhook->Backlog();
    return backlog ? std::optional<uint64_t>(backlog->pending) : std::nullopt;
  };
  backend.alerts = &alert_notifier;
  backend.healthy = [&store] { return store.Heads().ok(); };
  backend.log = [](const std::string& line) { LogWarn("{}", line); };
  backend.status_json = [&] {
    // The shape `duanka status --json` shares, from the cached statistics and the live heads.
    const int64_t at = now();
    Result<std::vector<store::Head>> held = store.Heads();
    Result<node::StatusFacts> facts =
        node::ReadStatusFacts(store, config->institution, stats.Get(held ? held->size() : 0), at);
    if (!facts) {
      LogWarn("GET /v1/status: {}; feeds are shown without heads or forks", facts.error().message);
      facts = node::StatusFacts{config->institution, at, stats.Get(), {}, {}};
      if (auto policy = policy_cache.Get(); policy) facts->policy_version = (*policy)->version;
    }
    for (const protocol::PurposeRules& pr : config->local_grading.purposes) {
      facts->local_rules += pr.rules.size();
    }
    nlohmann::json j = node::StatusJson(*facts);
    j["consortium"] = ca->consortium();
    j["peers"] = nlohmann::json::parse(sync.PeersJson());
    // Every network.peers entry, reached or not: "peers" above lists only open sessions.
    std::vector<DialerStatus> dialing;
    for (const auto& d : dialers) dialing.push_back(d->status());
    j["configured_peers"] =
        nlohmann::json::parse(ConfiguredPeersJson(dialing, sync.InstitutionStates(), at));
    j["pepper"] = nlohmann::json::parse(sync.PepperJson());
    if (loaded->replica) {
      // Its one source: how far behind it the lookups served here are.
      nlohmann::json source = {{"of", config->institution}, {"connected", false}};
      for (const nlohmann::json& peer : j["peers"]) {
        if (peer["institution"] == config->institution && peer["ready"] == true) {
          source["connected"] = true;
          source["lag_records"] = peer["lag_records"];
        }
      }
      j["replica"] = std::move(source);
    }
    if (std::optional<crypto::CrlInfo> crl = ca->crl()) {
      j["crl"] = {{"number", crl->number},
                  {"this_update", node::IsoTime(crl->this_update)},
                  {"next_update", node::IsoTime(crl->next_update)},
                  {"revoked", crl->revoked_serials.size()},
                  {"expired", crl->next_update < node::SystemNow()}};
    }
    return j.dump();
  };
  ApiServer api(api_io, *api_options, backend);
  if (Status s = api.Start(); !s) {
    return Fail(node::ExitCodeFor(s.error().kind), s.error().message);
  }

  // Expiry changes no entry, so nothing else raises its `cleared` alert.
  AlertSweeper alert_sweeper(store, now, [&](const Result<uint64_t>& raised) {
    if (!raised) {
      LogWarn("alert expiry sweep: {}", raised.error().message);
    } else if (*raised > 0) {
      LogInfo("alert expiry sweep: {} cleared alert(s) raised for expired listings", *raised);
      alert_notifier.Notify();
      if (webhook) webhook->Wake();
    }
  });
  alert_sweeper.Start();
  sync.Start();
  for (auto& d : dialers) d->Start();
  if (webhook) webhook->Start();
  // SIGTERM/SIGINT: stop accepting, finish the batch in hand, close peers within the deadline.
  boost::asio::signal_set signals(net_io, SIGTERM, SIGINT);
  boost::asio::steady_timer stop_timer(net_io);
  std::function<void()> await_peers_closed;
  // SIGHUP: log rotation (logrotate moves the audit log away, then sends it) — new lines go to a
  // new file at the configured path; until then they went to the moved one, so none is lost.
  boost::asio::signal_set hangup(net_io, SIGHUP);
  std::function<void()> await_hangup = [&] {
    hangup.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      if (Status s = audit.Reopen(); s) {
        LogInfo("SIGHUP: audit log {} reopened", audit.path().string());
      } else {
        LogWarn("SIGHUP: {}; audit lines still go to the file held open", s.error().message);
      }
      // `duanka-admin api-client add|remove` takes effect here; a broken file keeps the old set.
      if (Result<ApiClients> clients = LoadConfiguredClients(*config); clients) {
        api.SetClients(*clients);
        LogInfo("SIGHUP: {} API client(s) from {}", clients->clients.size(),
                config->api_clients.string());
      } else {
        LogWarn("SIGHUP: {}; the API clients stay as they were", clients.error().message);
      }
      // A newer CRL the operator put in files.crl: kept in the store, where the sync strand
      // finds it (as after `duanka-admin import`) and puts it in force.
      LogInfo("SIGHUP: {}", ReloadCrlFile(*config, store));
      sync.OnLocalChange();
      await_hangup();
    });
  };
  await_hangup();
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    LogInfo("signal {}: stopping", signal);
    hangup.cancel();
    audit_sync.cancel();
    if (listener) listener->Stop();
    for (auto& d : dialers) d->Stop();
    watch.Stop();
    // Pending long polls are answered (with what is held) before the API stops serving.
    alert_notifier.Stop();
    api.Stop();
    sync.Stop();
    // Its POST in hand is cut off; that alert stays behind the cursor and goes after the restart.
    if (webhook) webhook->Stop();
    // Over as soon as every peer is closed; a peer that does not finish its TLS close is cut off
    // at shutdown_timeout_ms, so the deadline only bounds a stop that something else holds up.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(limits.shutdown_timeout_ms) + kStopGrace;
    await_peers_closed = [&, deadline] {
      if ((sync.StopDone() && alert_notifier.Stopped()) ||
          std::chrono::steady_clock::now() >= deadline) {
        net_io.stop();
        api_io.stop();
        return;
      }
      stop_timer.expires_after(kStopPollInterval);
      stop_timer.async_wait([&](boost::system::error_code) { await_peers_closed(); });
    };
    await_peers_closed();
  });
  // Only now: a SIGTERM sent by someone who saw this line must reach the handler above, not
  // the default action (which would kill the daemon without its clean stop).
  LogInfo("duankad {}{} of {} started: peers on {}, API on {}, {} peer(s) to dial",
          config->institution, loaded->replica ? " (read replica)" : "", ca->consortium(),
          config->network.listen.empty() ? "(not listening)" : config->network.listen,
          config->network.api, dialers.size());

  std::vector<std::thread> threads;
  for (uint32_t i = 0; i < limits.api_threads; ++i) threads.emplace_back([&] { api_io.run(); });
  for (uint32_t i = 1; i < limits.api_threads; ++i) threads.emplace_back([&] { net_io.run(); });
  net_io.run();
  api_io.stop();
  for (std::thread& t : threads) t.join();
  alert_sweeper.Stop();
  if (webhook) webhook->Stop();
  ingest.Stop();
  if (Status s = audit.Checkpoint("shutdown"); !s) LogWarn("{}", s.error().message);
  LogInfo("stopped");
  return kExitOk;
}

}  // namespace
}  // namespace duanka::daemon

int main(int argc, char** argv) {
  duanka::crypto::EnsureInitialized();
  CLI::App app{"duankad: an institution's duanka node (peer sync over mutual TLS, local HTTP API)"};
  std::optional<std::string> home;
  bool verbose = false;
  bool check_config = false;
  app.add_option("--home", home,
                 "the institution's HOME (default $DUANKA_HOME, else /var/lib/duanka)");
  app.add_flag("--verbose", verbose, "debug logging");
  std::string log_format = duanka::daemon::kLogFormatText;
  app.add_option("--log-format", log_format,
                 "text (default): one line per event; json: one JSON object per line "
                 "({\"ts\",\"level\",\"msg\"}) for journald and log shippers")
      ->check(CLI::IsMember({duanka::daemon::kLogFormatText, duanka::daemon::kLogFormatJson}));
  app.add_flag("--check-config", check_config,
               "load and check duanka.toml and every file the start reads (CA, CRL, pepper, "
               "certificates and keys, API options), then exit: 0 if the node would start; "
               "opens the store read-only and binds no port");
  app.set_version_flag("--version", std::string("duankad ") + duanka::node::kVersion,
                       "print the version and exit");
  app.footer("Example: duankad --home /var/lib/duanka");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "duankad: " << e.what() << "; see duankad --help\n";
    return duanka::node::kExitInvalid;
  }
  duanka::daemon::InitLog(verbose, log_format == duanka::daemon::kLogFormatJson
                                       ? duanka::daemon::LogFormat::kJson
                                       : duanka::daemon::LogFormat::kText);
  if (check_config) return duanka::daemon::CheckConfig(duanka::node::ResolveHome(home));
  return duanka::daemon::Run(duanka::node::ResolveHome(home));
}
