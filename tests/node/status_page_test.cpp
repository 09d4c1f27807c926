// GET /, the operators' status page (issue 18, section 4): the renderer on snapshots shaped as
// GET /v1/status answers, hostile names escaped, every section present, the router serving it
// with the API's authentication; and the minute window behind "lookups per minute".
#include "node/daemon/status_page.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/crypto.h"
#include "node/common/audit.h"
#include "node/common/lookup.h"
#include "node/daemon/http_router.h"
#include "node/daemon/metrics.h"
#include "node/daemon/minute_rate.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"

namespace duanka::daemon {
namespace {

using nlohmann::json;

const char* const kHead = "3f1c0a9d2b7e4c5a8f6e1d0c9b8a7f6e5d4c3b2a1908f7e6d5c4b3a291807f6e";

// A snapshot as a node of a 3-member consortium gives it: BANKB ready and ahead on one feed,
// PAYC refused, a stranger dialled in, one fork held and that feed frozen, a CRL in force.
json Snapshot() {
  return json::parse(R"({
    "institution": "BANKA", "consortium": "TESTNET", "now": "2026-12-06T12:00:00Z",
    "feeds": [
      {"issuer": "BANKA", "records": 3, "entries": 2, "active": 1, "revoked": 1, "expired": 0,
       "revocations": 1, "frozen": false, "last_grew_at": "2026-12-06T11:59:30Z", "seq": 3,
       "head": ")" + std::string(kHead) +
                     R"("},
      {"issuer": "BANKB", "records": 7, "entries": 7, "active": 7, "revoked": 0, "expired": 0,
       "revocations": 0, "frozen": false, "last_grew_at": "2026-12-06T10:00:00Z", "seq": 7,
       "head": "aa"},
      {"issuer": "PAYC", "records": 4, "entries": 4, "active": 4, "revoked": 0, "expired": 0,
       "revocations": 0, "frozen": true, "last_grew_at": "1970-01-01T00:00:00Z", "seq": 4,
       "head": "bb", "fork_seq": 3}
    ],
    "totals": {"feeds": 3, "frozen_feeds": 1, "records": 14, "entries": 13, "active": 12,
               "revoked": 1, "expired": 0, "revocations": 1},
    "pending_revocations": 0, "evidence": 1, "forks": [{"issuer": "PAYC", "seq": 3}],
    "store": {"bytes_on_disk": 65536, "map_bytes": 1073741824}, "store_bytes": 65536,
    "peers": [
      {"institution": "BANKB", "address": "127.0.0.1:7401", "direction": "out", "ready": true,
       "lag_records": 5, "behind": [{"issuer": "BANKB", "their_seq": 12, "our_seq": 7}],
       "wants_in_flight": 1, "clock_skew_seconds": -2},
      {"institution": "BANKD", "address": "127.0.0.1:55012", "direction": "in", "ready": true,
       "lag_records": 0, "behind": [], "wants_in_flight": 0}
    ],
    "configured_peers": [
      {"institution": "BANKB", "address": "127.0.0.1:7401", "connections": 1, "state": "ready"},
      {"institution": "PAYC", "address": "127.0.0.1:7402", "connections": 0, "state": "refused",
       "until": "2026-12-06T12:05:00Z", "reason": "connection refused"}
    ],
    "pepper": {"epochs": [1, 2], "epochs_missing": [], "peers_ahead": []},
    "crl": {"number": 4, "this_update": "2026-12-06T08:00:00Z",
            "next_update": "2026-12-13T08:00:00Z", "revoked": 2, "expired": false}
  })");
}

StatusPageFigures Figures() {
  StatusPageFigures f;
  f.lookups_last_minute = 42;
  return f;
}

bool Has(const std::string& page, const std::string& text) {
  return page.find(text) != std::string::npos;
}

size_t Count(const std::string& page, const std::string& text) {
  size_t n = 0;
  for (size_t at = page.find(text); at != std::string::npos; at = page.find(text, at + 1)) ++n;
  return n;
}

TEST(StatusPage, EverySectionAndFigureIsThere) {
  const std::string page = RenderStatusPage(Snapshot(), Figures());
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(Has(page, "<meta charset=\"utf-8\">"));
  for (const char* id : {"node", "peers", "feeds", "lag", "forks", "epochs", "alerts"}) {
    EXPECT_EQ(Count(page, "id=\"" + std::string(id) + "\""), 1U) << id;
  }
  EXPECT_TRUE(Has(page, "<title>BANKA · duanka status</title>"));
  EXPECT_TRUE(Has(page, "id=\"institution\" data-value=\"BANKA\">BANKA<"));
  EXPECT_TRUE(Has(page, "id=\"consortium\" data-value=\"TESTNET\">TESTNET<"));
  EXPECT_TRUE(Has(page, "id=\"lookups-per-minute\" class=\"figure\" data-value=\"42\">42<"));
  // Every configured peer in the config's order, then the institution that dialled in.
  EXPECT_TRUE(Has(page,
                  "data-peer=\"BANKB\" data-state=\"ready\" data-configured=\"true\" "
                  "data-lag=\"5\""));
  EXPECT_TRUE(Has(page, "data-peer=\"PAYC\" data-state=\"refused\" data-configured=\"true\">"));
  EXPECT_TRUE(Has(page, "connection refused; until 2026-12-06T12:05:00Z"));
  EXPECT_TRUE(Has(page,
                  "data-peer=\"BANKD\" data-state=\"ready\" data-configured=\"false\" "
                  "data-lag=\"0\""));
  EXPECT_LT(page.find("data-peer=\"PAYC\""), page.find("data-peer=\"BANKD\""));
  EXPECT_TRUE(Has(page, "-2 s"));
  // Feeds: head, when it grew (in the operators' zone, and how long before `now`), frozen.
  EXPECT_TRUE(Has(page, "data-feed=\"BANKA\" data-seq=\"3\" data-head=\"" + std::string(kHead) +
                            "\" data-frozen=\"false\" data-last-grew=\"2026-12-06T11:59:30Z\""));
  EXPECT_TRUE(Has(page, ">2026-12-06 19:59 CST</time> <span class=\"muted\">(30 s ago)</span>"));
  EXPECT_TRUE(Has(page, ">2026-12-06 18:00 CST</time> <span class=\"muted\">(2 h ago)</span>"));
  EXPECT_TRUE(Has(page, "data-feed=\"PAYC\" data-seq=\"4\""));
  EXPECT_TRUE(Has(page, "frozen</span> at the fork at seq 3"));
  EXPECT_TRUE(Has(page, "<span class=\"muted\">never</span>"));  // PAYC's last_grew_at is 0
  // Lag: BANKB holds 5 records of its own feed that this node lacks; BANKD none.
  EXPECT_TRUE(Has(page, "id=\"lag-total\" class=\"figure\" data-value=\"5\">5<"));
  EXPECT_TRUE(Has(page,
                  "data-peer=\"BANKB\" data-feed=\"BANKB\" data-their-seq=\"12\" "
                  "data-our-seq=\"7\""));
  EXPECT_FALSE(Has(page, "data-peer=\"BANKD\" data-feed="));
  // Forks and frozen feeds.
  EXPECT_TRUE(Has(page,
                  "id=\"frozen-feeds\" class=\"figure bad\" data-value=\"1\">1</span> "
                  "(PAYC)"));
  EXPECT_TRUE(Has(page, "<li data-fork=\"PAYC\" data-seq=\"3\">"));
  EXPECT_TRUE(Has(page, "id=\"evidence\" data-value=\"1\""));
  // CRL and pepper epochs.
  EXPECT_TRUE(Has(page, "id=\"crl-number\" class=\"figure\" data-value=\"4\">4<"));
  EXPECT_TRUE(Has(page, "id=\"crl-revoked\" data-value=\"2\""));
  EXPECT_FALSE(Has(page, "crl-expired"));
  EXPECT_TRUE(Has(page, "id=\"pepper-epochs\" class=\"figure\" data-value=\"1 2\">1, 2<"));
  EXPECT_FALSE(Has(page, "pepper-missing"));
  // No alert feed exists: 0, saying so, not a count nobody kept.
  EXPECT_TRUE(Has(page,
                  "id=\"alerts-pending\" class=\"figure\" data-value=\"0\" "
                  "data-configured=\"false\">0</span>"));
  EXPECT_TRUE(Has(page, "alert webhook: not configured"));
  // Figures the store did not give are unknown, not 0.
  EXPECT_TRUE(Has(page, "id=\"watch-entries\" class=\"figure\"><span class=\"muted\">unknown"));
  // Self-contained: no script, no asset fetched from anywhere.
  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, "src="));
  EXPECT_FALSE(Has(page, "<link"));
  EXPECT_TRUE(Has(page, "content=\"default-src 'none'; style-src 'unsafe-inline'\""));
  EXPECT_EQ(Count(page, "<tr"), Count(page, "</tr>"));
  EXPECT_EQ(Count(page, "<section"), Count(page, "</section>"));
}

// The snapshot with every name, address and reason replaced through `name`: hostile values, or
// harmless ones of the same shape for comparison.
json WithNames(const std::function<std::string(const std::string&)>& name) {
  json s = Snapshot();
  s["institution"] = name("institution");
  s["consortium"] = name("consortium");
  s["configured_peers"][0]["institution"] = name("peer");
  s["configured_peers"][1]["reason"] = name("reason");
  s["peers"][0]["institution"] = name("peer");
  s["peers"][1]["address"] = name("address");
  s["peers"][1]["institution"] = name("inbound");
  s["feeds"][1]["issuer"] = name("issuer");
  s["feeds"][1]["head"] = name("head");
  s["peers"][0]["behind"][0]["issuer"] = name("issuer");
  s["forks"][0]["issuer"] = name("issuer");
  s["pepper"]["epochs_missing"] = {3};
  s["pepper"]["peers_ahead"] = {name("peer")};
  return s;
}

TEST(StatusPage, HostileNamesAreEscapedInTextAndAttributes) {
  const std::string evil = "<script>alert('x')</script>\"&";
  const std::string escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;";
  const std::map<std::string, std::string> hostile = {
      {"institution", evil},  {"consortium", evil},
      {"peer", evil},         {"reason", "\"><img src=x onerror=alert(1)>"},
      {"address", "<b>"},     {"inbound", "B\"D"},
      {"issuer", evil + "'"}, {"head", "\" onmouseover=\"x"}};
  const std::string page =
      RenderStatusPage(WithNames([&](const std::string& k) { return hostile.at(k); }), Figures());

  EXPECT_FALSE(Has(page, "<script"));
  EXPECT_FALSE(Has(page, "<img"));
  EXPECT_FALSE(Has(page, "<b>"));
  EXPECT_FALSE(Has(page, "\" onmouseover"));
  EXPECT_TRUE(Has(page, "<title>" + escaped + " · duanka status</title>"));
  EXPECT_TRUE(Has(page, "id=\"institution\" data-value=\"" + escaped + "\">" + escaped + "<"));
  EXPECT_TRUE(Has(page, "data-peer=\"" + escaped + "\" data-state=\"ready\""));
  EXPECT_TRUE(Has(page, "data-peer=\"B&quot;D\""));
  EXPECT_TRUE(Has(page, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_TRUE(Has(page, "&lt;b&gt;"));
  EXPECT_TRUE(Has(page, "data-head=\"&quot; onmouseover=&quot;x\""));
  EXPECT_TRUE(Has(page, "data-feed=\"" + escaped + "&#39;\" data-their-seq"));
  EXPECT_TRUE(Has(page, "<li data-fork=\"" + escaped + "&#39;\""));
  EXPECT_TRUE(Has(page, "id=\"pepper-missing\" class=\"bad\">missing epochs 3, held by " + escaped +
                            "</span>"));
  // Every markup character on the page is the renderer's own: there are exactly as many as on
  // the page of a snapshot whose names hold none.
  const std::string plain =
      RenderStatusPage(WithNames([](const std::string& k) { return "X" + k; }), Figures());
  for (const char* c : {"<", ">", "\"", "'"}) {
    EXPECT_EQ(Count(page, c), Count(plain, c)) << c;
  }
}

TEST(StatusPage, AnyJsonRendersWithoutThrowingAndSaysWhatIsUnknown) {
  for (const json& s : {json(), json::array({1, 2}), json("text"), json::object(),
                        json{{"institution", 5},
                             {"feeds", "x"},
                             {"peers", {{{"ready", "yes"}}}},
                             {"configured_peers", {json(), {{"state", 7}}}},
                             {"crl", {{"number", -1}}},
                             {"pepper", {{"epochs", {"a", 1}}}},
                             {"forks", {json()}}}}) {
    SCOPED_TRACE(s.dump());
    std::string page;
    ASSERT_NO_THROW(page = RenderStatusPage(s, StatusPageFigures{}));
    for (const char* id : {"node", "peers", "feeds", "lag", "forks", "epochs", "alerts"}) {
      EXPECT_TRUE(Has(page, "id=\"" + std::string(id) + "\"")) << id;
    }
    EXPECT_TRUE(Has(page, "id=\"lookups-per-minute\" class=\"figure\">not counted<"));
    EXPECT_TRUE(page.ends_with("</html>\n"));
  }
  const std::string empty = RenderStatusPage(json::object(), StatusPageFigures{});
  EXPECT_TRUE(Has(empty, "id=\"peers-none\""));
  EXPECT_TRUE(Has(empty, "id=\"feeds-none\""));
  EXPECT_TRUE(Has(empty, "id=\"lag-unknown\""));
  EXPECT_TRUE(Has(empty, "id=\"crl-none\""));
  EXPECT_TRUE(Has(empty, "id=\"forks-none\""));
}

TEST(StatusPage, LagCountsTheFurthestPeerPerFeedAndMergesAnInstitutionsSessions) {
  json s = Snapshot();
  // A second session to BANKB (it dialled too), further on BANKB's feed and on PAYC's; a third
  // peer level with us; one session not past its hello, which says nothing yet.
  s["peers"].push_back({{"institution", "BANKB"},
                        {"ready", true},
                        {"lag_records", 9},
                        {"behind",
                         {{{"issuer", "BANKB"}, {"their_seq", 14}, {"our_seq", 7}},
                          {{"issuer", "BANKA"}, {"their_seq", 5}, {"our_seq", 3}}}}});
  s["peers"].push_back({{"institution", "BANKD"},
                        {"ready", true},
                        {"behind", {{{"issuer", "BANKA"}, {"their_seq", 4}, {"our_seq", 3}}}}});
  s["peers"].push_back({{"institution", "BANKE"},
                        {"ready", false},
                        {"behind", {{{"issuer", "BANKA"}, {"their_seq", 99}, {"our_seq", 3}}}}});
  const std::string page = RenderStatusPage(s, Figures());
  // BANKB's feed: 14 - 7; BANKA's: 5 - 3 (BANKB is further than BANKD).
  EXPECT_TRUE(Has(page, "id=\"lag-total\" class=\"figure\" data-value=\"9\">9<")) << page;
  EXPECT_TRUE(Has(page, "data-peer=\"BANKB\" data-feed=\"BANKB\" data-their-seq=\"14\""));
  EXPECT_TRUE(Has(page, "data-peer=\"BANKB\" data-feed=\"BANKA\" data-their-seq=\"5\""));
  EXPECT_TRUE(Has(page, "data-peer=\"BANKD\" data-feed=\"BANKA\" data-their-seq=\"4\""));
  EXPECT_FALSE(Has(page, "data-their-seq=\"99\""));
  EXPECT_TRUE(Has(page, "(from 2 connected peers)"));
  // The peers table shows an institution once, with its largest lag.
  EXPECT_EQ(Count(page, "<tr data-peer=\"BANKB\" data-state="), 1U);
  EXPECT_TRUE(Has(page,
                  "data-peer=\"BANKB\" data-state=\"ready\" data-configured=\"true\" "
                  "data-lag=\"9\""));
  EXPECT_TRUE(
      Has(page, "data-peer=\"BANKE\" data-state=\"connecting\" data-configured=\"false\">"));
}

TEST(StatusPage, InSyncSaysSoAndAnExpiredCrlAndMissingEpochsStandOut) {
  json s = Snapshot();
  s["peers"][0]["behind"] = json::array();
  s["crl"]["expired"] = true;
  s["pepper"]["epochs_missing"] = {3};
  s["pepper"]["peers_ahead"] = {"BANKB"};
  StatusPageFigures f;
  f.alerts_pending = 3;
  f.watch_entries = 12;
  f.alerts_raised = 5;
  const std::string page = RenderStatusPage(s, f);
  EXPECT_TRUE(Has(page, "id=\"lag-total\" class=\"figure\" data-value=\"0\">0<"));
  EXPECT_TRUE(Has(page, "id=\"lag-none\""));
  EXPECT_TRUE(Has(page, "id=\"crl-expired\" class=\"bad\""));
  EXPECT_TRUE(Has(page, "missing epochs 3, held by BANKB"));
  EXPECT_TRUE(Has(page,
                  "id=\"alerts-pending\" class=\"figure\" data-value=\"3\" "
                  "data-configured=\"true\">3</span>"));
  EXPECT_FALSE(Has(page, "not configured"));
  EXPECT_TRUE(Has(page, "id=\"watch-entries\" class=\"figure\" data-value=\"12\">12</span>"));
  EXPECT_TRUE(Has(page, "id=\"alerts-raised\" class=\"figure\" data-value=\"5\">5</span>"));
}

TEST(StatusPage, HtmlEscapeReplacesEachSpecialCharacterAndKeepsUtf8) {
  EXPECT_EQ(HtmlEscape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  EXPECT_EQ(HtmlEscape("中国工商银行"), "中国工商银行");
  EXPECT_EQ(HtmlEscape(""), "");
}

// ---- The route: GET / with the API's Host check and authentication ----

class StatusPageRoute : public ::testing::Test {
 protected:
  StatusPageRoute() : pepper_(crypto::Pepper::Generate(1)), audit_(dir_ / "audit.log", "BANKA") {
    store::Options so;
    so.path = dir_ / "store";
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(so);
    if (!s) throw std::runtime_error(s.error().message);
    store_ = std::move(*s);
    lookuper_ = std::make_unique<node::Lookuper>(*store_, pepper_);
  }

  ApiBackend Backend() {
    ApiBackend b;
    b.lookuper = lookuper_.get();
    b.audit = &audit_;
    b.metrics = &metrics_;
    b.status_json = [] { return Snapshot().dump(); };
    return b;
  }

  static ApiRequest Get(std::string_view target, std::string_view authorization = "",
                        std::string_view host = "127.0.0.1:7480") {
    return ApiRequest{"GET", target, authorization, "", "127.0.0.1", host, ""};
  }

  testing::TempDir dir_;
  crypto::Pepper pepper_;
  node::AuditLog audit_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<node::Lookuper> lookuper_;
  Metrics metrics_;
};

TEST_F(StatusPageRoute, ServesTheSnapshotAsHtmlWithTheLookupsOfTheLastMinute) {
  for (int i = 0; i < 3; ++i) metrics_.CountLookup(/*listed=*/false, /*invalid=*/false, 1e-6);
  ApiRouter router(ApiOptions{}, Backend());
  ApiReply r = router.Handle(Get("/"));
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(Has(r.body, "id=\"institution\" data-value=\"BANKA\""));
  EXPECT_TRUE(Has(r.body, "id=\"lookups-per-minute\" class=\"figure\" data-value=\"3\""));
  EXPECT_EQ(router.Handle(Get("/?refresh=1")).status, 200U);
  ApiRequest post = Get("/");
  post.method = "POST";
  ApiReply wrong = router.Handle(post);
  EXPECT_EQ(wrong.status, 405U);
  EXPECT_EQ(wrong.allow, "GET");
}

TEST_F(StatusPageRoute, AuthenticatesAsEveryOtherEndpoint) {
  ApiOptions o;
  ApiClient token;
  token.name = "ops";
  token.token_sha256 = crypto::Sha256(crypto::AsBytes(std::string("dka_ops")));
  ApiClient certificate;
  certificate.name = "ops.browser";
  certificate.certificate = true;
  o.clients.clients = {token, certificate};
  ApiRouter router(o, Backend());
  EXPECT_EQ(router.Handle(Get("/")).status, 401U);
  EXPECT_EQ(router.Handle(Get("/", "Bearer wrong")).status, 401U);
  EXPECT_EQ(router.Handle(Get("/", "Bearer dka_ops")).status, 200U);
  ApiRequest by_certificate = Get("/");
  by_certificate.certificate_name = "ops.browser";
  EXPECT_EQ(router.Handle(by_certificate).status, 200U);
  by_certificate.certificate_name = "stranger";
  EXPECT_EQ(router.Handle(by_certificate).status, 403U);
  // A page of another site that a rebinding DNS name points here is refused like the rest.
  EXPECT_EQ(router.Handle(Get("/", "Bearer dka_ops", "evil.example")).status, 421U);
}

TEST_F(StatusPageRoute, WithoutAStatusSourceIs503) {
  ApiBackend b = Backend();
  b.status_json = nullptr;
  ApiRouter router(ApiOptions{}, b);
  EXPECT_EQ(router.Handle(Get("/")).status, 503U);
}

// ---- The minute window ----

TEST(MinuteRate, CountsTheLastSixtySecondsOnly) {
  MinuteRate r;
  EXPECT_EQ(r.Count(1000), 0U);
  r.Add(1000);
  r.Add(1000);
  r.Add(1030);
  r.Add(1059);
  EXPECT_EQ(r.Count(1059), 4U);
  EXPECT_EQ(r.Count(1060), 2U);  // the two at 1000 are a minute old
  EXPECT_EQ(r.Count(1089), 2U);
  EXPECT_EQ(r.Count(1090), 1U);
  EXPECT_EQ(r.Count(1119), 0U);
  // A slot one ring later starts again rather than adding to the old second's count.
  r.Add(1120);  // the slot of 1000, 1060 and 1120
  EXPECT_EQ(r.Count(1120), 1U);
  // Asked about a time before the events, the window holds none of them.
  EXPECT_EQ(r.Count(900), 0U);
}

}  // namespace
}  // namespace duanka::daemon
