// The status page (GET /, issue 18 section 4) as an operator's browser shows it: Debian's real
// chromium, headless, loads each node's page of a running 2-node consortium; the DOM it built must
// hold that consortium's figures, and its screenshot is kept beside this test's binary
// (status_page_BANKA.png) for a person to look at.
//
// The consortium's APIs are plain HTTP on loopback without API clients, which the daemon allows
// on loopback only: chromium can send neither a bearer token nor (without a managed policy and an
// NSS database) a client certificate from its command line.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace duanka::integration {
namespace {

const std::string kChromium = CHROMIUM_BIN;
const std::string kCurl = CURL_BIN;
const std::filesystem::path kScreenshotDir = SCREENSHOT_DIR;
// Chromium's start, one page load and its exit take a few seconds; this bounds a hung browser.
constexpr int kBrowserTimeoutSeconds = 90;
constexpr int kCurlTimeoutSeconds = 30;
constexpr const char* kWindowSize = "--window-size=1280,900";
constexpr uint32_t kScreenshotWidth = 1280;
constexpr uint32_t kScreenshotHeight = 900;
// A PNG's signature, then its first chunk (IHDR): type, width and height (big-endian).
constexpr std::string_view kPngSignature = "\x89PNG\r\n\x1a\n";
constexpr size_t kPngFirstChunkTypeOffset = 12;
constexpr size_t kPngWidthOffset = 16;
constexpr size_t kPngHeightOffset = 20;
// A page of tables and text is tens of kilobytes as PNG; a blank or error page is far less.
constexpr uintmax_t kMinScreenshotBytes = 10000;

std::vector<std::string> Browser(const testing::TempDir& profile) {
  // Its own profile: the tests run in parallel, and a browser profile is not shared.
  return {kChromium,       "--headless",     "--no-sandbox",
          "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile.path().string(),
          kWindowSize};
}

std::string PageUrl(const Node& n) {
  return "http://127.0.0.1:" + std::to_string(n.api_port) + "/";
}

// The DOM chromium built from the node's page, or "" with a test failure.
std::string DumpDom(const Node& n) {
  testing::TempDir profile;
  std::vector<std::string> argv = Browser(profile);
  argv.push_back("--dump-dom");
  argv.push_back(PageUrl(n));
  testing::RunResult r = testing::RunProgram(argv, "", kBrowserTimeoutSeconds);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.timed_out);
  return r.out;
}

nlohmann::json Status(const Node& n) {
  std::optional<std::string> body = HttpGet(n.api_port, "/v1/status");
  return body ? nlohmann::json::parse(*body, nullptr, false) : nlohmann::json();
}

// The seq of `issuer`'s feed in the node's status (the cached statistics), or 0.
uint64_t StatusSeq(const nlohmann::json& status, const std::string& issuer) {
  if (!status.is_object() || !status["feeds"].is_array()) return 0;
  for (const nlohmann::json& f : status["feeds"]) {
    if (f.value("issuer", "") == issuer && f.contains("seq")) return f["seq"].get<uint64_t>();
  }
  return 0;
}

bool PeerReady(const nlohmann::json& status, const std::string& peer) {
  if (!status.is_object() || !status["peers"].is_array()) return false;
  for (const nlohmann::json& p : status["peers"]) {
    if (p.value("institution", "") == peer && p.value("ready", false)) return true;
  }
  return false;
}

bool Has(const std::string& dom, const std::string& text) {
  return dom.find(text) != std::string::npos;
}

uint32_t BigEndian32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

TEST(StatusPageBrowser, ChromiumShowsTheRunningConsortiumsFigures) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB"});
  Node& a = *line[0];
  Node& b = *line[1];
  ASSERT_TRUE(c.StartAll());
  constexpr uint64_t kListed = 2;
  ASSERT_FALSE(c.Report(a, "qq", "71001").empty());
  ASSERT_FALSE(c.Report(a, "phone", "13700137011").empty());
  ASSERT_TRUE(Eventually([&] { return static_cast<bool>(c.SameHeads({&a, &b})); }));

  // One lookup through BANKA's API, for "lookups in the last minute".
  testing::RunResult lookup =
      testing::RunProgram({kCurl, "-sS", "--fail", "-H", "Content-Type: application/json", "--data",
                           R"({"type":"qq","value":"71001","purpose":"account-opening"})",
                           "http://127.0.0.1:" + std::to_string(a.api_port) + "/v1/lookup"},
                          "", kCurlTimeoutSeconds);
  ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
  ASSERT_NE(lookup.out.find("\"listed\":true"), std::string::npos) << lookup.out;

  // The status statistics are cached for a few seconds, and the peer snapshot is rebuilt on a
  // timer: wait until both nodes' status shows the feed at its head and the other node ready.
  ASSERT_TRUE(Eventually([&] {
    nlohmann::json sa = Status(a);
    nlohmann::json sb = Status(b);
    return StatusSeq(sa, "BANKA") == kListed && StatusSeq(sb, "BANKA") == kListed &&
           PeerReady(sa, "BANKB") && PeerReady(sb, "BANKA");
  })) << Status(a).dump()
      << "\n"
      << Status(b).dump();

  // BANKA dials BANKB: BANKB is a configured peer, ready, with nothing BANKA lacks.
  const std::string dom = DumpDom(a);
  ASSERT_TRUE(Has(dom, "</html>")) << dom;
  EXPECT_TRUE(Has(dom, "<title>BANKA · duanka status</title>")) << dom;
  EXPECT_TRUE(Has(dom, "id=\"institution\" data-value=\"BANKA\">BANKA</span>")) << dom;
  EXPECT_TRUE(Has(dom, "id=\"consortium\" data-value=\"" + c.name() + "\"")) << dom;
  EXPECT_TRUE(Has(dom,
                  "data-peer=\"BANKB\" data-state=\"ready\" data-configured=\"true\" "
                  "data-lag=\"0\""))
      << dom;
  EXPECT_TRUE(Has(dom, "data-feed=\"BANKA\" data-seq=\"" + std::to_string(kListed) + "\" " +
                           "data-head=\"" + c.Head(a, "BANKA")->hash.Hex() + "\""))
      << dom;
  EXPECT_TRUE(Has(dom, "id=\"lag-total\" class=\"figure\" data-value=\"0\"")) << dom;
  EXPECT_TRUE(Has(dom, "id=\"lookups-per-minute\" class=\"figure\" data-value=\"1\"")) << dom;
  EXPECT_TRUE(Has(dom, "id=\"frozen-feeds\" class=\"figure\" data-value=\"0\"")) << dom;
  EXPECT_TRUE(Has(dom, "id=\"forks-none\"")) << dom;
  EXPECT_TRUE(Has(dom, "id=\"pepper-epochs\" class=\"figure\" data-value=\"1\"")) << dom;
  EXPECT_TRUE(Has(dom, "data-configured=\"false\">0</span>")) << dom;
  EXPECT_TRUE(Has(dom, "alert webhook: not configured")) << dom;
  // Nothing ran: the page has no script for chromium to have executed.
  EXPECT_FALSE(Has(dom, "<script")) << dom;

  // BANKB does not dial: BANKA is on its page as the institution that dialled in.
  const std::string dom_b = DumpDom(b);
  EXPECT_TRUE(Has(dom_b, "id=\"institution\" data-value=\"BANKB\"")) << dom_b;
  EXPECT_TRUE(Has(dom_b, "data-peer=\"BANKA\" data-state=\"ready\" data-configured=\"false\""))
      << dom_b;
  EXPECT_TRUE(Has(dom_b, "data-feed=\"BANKA\" data-seq=\"" + std::to_string(kListed) + "\""))
      << dom_b;
  EXPECT_TRUE(Has(dom_b, "id=\"lookups-per-minute\" class=\"figure\" data-value=\"0\"")) << dom_b;

  // The screenshot, kept for a person to look at.
  const std::filesystem::path png = kScreenshotDir / "status_page_BANKA.png";
  std::filesystem::remove(png);
  testing::TempDir profile;
  std::vector<std::string> argv = Browser(profile);
  argv.push_back("--screenshot=" + png.string());
  argv.push_back(PageUrl(a));
  testing::RunResult shot = testing::RunProgram(argv, "", kBrowserTimeoutSeconds);
  ASSERT_EQ(shot.exit_code, 0) << shot.err;
  ASSERT_TRUE(std::filesystem::exists(png)) << shot.err;
  EXPECT_GE(std::filesystem::file_size(png), kMinScreenshotBytes);
  const std::string bytes = ReadAll(png);
  ASSERT_GT(bytes.size(), kPngHeightOffset + 4);
  EXPECT_EQ(bytes.substr(0, kPngSignature.size()), kPngSignature);
  EXPECT_EQ(bytes.substr(kPngFirstChunkTypeOffset, 4), "IHDR");
  EXPECT_EQ(BigEndian32(bytes, kPngWidthOffset), kScreenshotWidth);
  EXPECT_EQ(BigEndian32(bytes, kPngHeightOffset), kScreenshotHeight);
}

}  // namespace
}  // namespace duanka::integration
