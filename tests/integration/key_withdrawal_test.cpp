// A stolen signing key (issue 12, section 2), with real daemons in a 4-node line: the CA signs a
// key-withdrawal notice, it is handed to the node at the far end and spreads; every node
// suspends exactly the entries the key signed at or after the compromise time (the thief's and
// the institution's own), and after the institution re-affirms its genuine ones with a new key,
// every node lists those again and still suspends the thief's.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/crypto.h"
#include "crypto/pki.h"
#include "node/common/audit.h"
#include "tests/integration/consortium.h"
#include "tests/integration/http_probe.h"

namespace duanka::integration {
namespace {

namespace fs = std::filesystem;
using protocol::IdType;
using testing::RunResult;

// The states of the qq entries about `value` at `n`, e.g. {"BANKA:3 suspended"}.
std::vector<std::string> States(const Consortium& c, const Node& n, const std::string& value) {
  std::vector<std::string> out;
  for (const store::Listing& l : c.Find(n, IdType::kQq, value)) {
    out.push_back(l.id.ToString() + " " + store::EntryStateName(l.state));
  }
  return out;
}

std::string SigningSerial(const Node& n) {
  Result<std::string> pem = base::ReadFile(n.home / "signing.pem", 1 << 16);
  if (!pem) return "";
  Result<std::vector<std::string>> der = crypto::PemCertificatesToDer(*pem);
  if (!der) return "";
  Result<crypto::CertificateInfo> info = crypto::InspectCertificate(der->front());
  return info ? info->serial_hex : "";
}

TEST(KeyWithdrawal, SuspendsWhatTheKeySignedSinceTAndReaffirmationRestoresTheGenuine) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "BANKB", "BANKC", "BANKD"});
  Node& a = *line[0];
  Node& far = *line[3];
  ASSERT_TRUE(c.StartAll());
  ASSERT_EQ(c.Report(a, "qq", "51001", "sold"), "BANKA:1");
  ASSERT_EQ(c.Report(a, "qq", "51002", "sold"), "BANKA:2");
  // Issue times have one-second resolution: T falls strictly after BANKA:2.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const int64_t compromised = static_cast<int64_t>(std::time(nullptr));
  // After T the key signs one genuine entry (BANKA:3) and one the thief made (BANKA:4); the
  // network cannot tell them apart.
  ASSERT_EQ(c.Report(a, "qq", "51003", "sold"), "BANKA:3");
  ASSERT_EQ(c.Report(a, "qq", "51004", "sold"), "BANKA:4");
  ASSERT_TRUE(Eventually([&] { return c.SameHeads(line); })) << c.SameHeads(line);

  const std::string serial = SigningSerial(a);
  ASSERT_FALSE(serial.empty());
  const fs::path notice = c.dir() / "withdraw.notice";
  RunResult signed_notice =
      c.AdminTool({"pki", "withdraw-key", "--ca-dir", c.ca_dir().string(), "--serial", serial,
                   "--since", node::IsoTime(compromised), "--out", notice.string()});
  ASSERT_EQ(signed_notice.exit_code, 0) << signed_notice.err;
  RunResult imported = c.Admin(far, {"import", notice.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_NE(imported.out.find("2 entries of BANKA"), std::string::npos) << imported.out;

  // Every node: the two entries before T listed, the two at or after it suspended.
  for (Node* n : line) {
    EXPECT_TRUE(Eventually([&] {
      return States(c, *n, "51003") == std::vector<std::string>{"BANKA:3 suspended"} &&
             States(c, *n, "51004") == std::vector<std::string>{"BANKA:4 suspended"};
    })) << n->code
        << ": " << c.Log(*n);
    EXPECT_TRUE(c.Listed(*n, IdType::kQq, "51001")) << n->code;
    EXPECT_TRUE(c.Listed(*n, IdType::kQq, "51002")) << n->code;
  }
  // `duanka show` says why.
  RunResult shown = c.Duanka(*line[1], {"show", "BANKA:4"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("Suspended"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("(not listed)"), std::string::npos) << shown.out;

  // Re-affirming with the withdrawn key is refused: it would only suspend the new entries too.
  const fs::path not_ours = c.dir() / "not-ours.txt";
  ASSERT_TRUE(base::WriteFileAtomic(not_ours, "# the thief's\nBANKA:4\n", 0600, false).ok());
  RunResult too_early = c.Admin(
      a, {"reaffirm", "--since", node::IsoTime(compromised), "--except", not_ours.string()});
  EXPECT_EQ(too_early.exit_code, 2) << too_early.err;
  EXPECT_NE(too_early.err.find("withdrawn"), std::string::npos) << too_early.err;

  // BANKA gets a new signing key and certificate, and re-affirms its genuine entry.
  c.Stop(a);
  RunResult reissued =
      c.AdminTool({"--home", a.home.string(), "pki", "issue", "--ca-dir", c.ca_dir().string(),
                   "--institution", "BANKA", "--host", "127.0.0.1", "--force"});
  ASSERT_EQ(reissued.exit_code, 0) << reissued.err;
  ASSERT_TRUE(c.Start(a));
  RunResult reaffirmed = c.Admin(
      a, {"reaffirm", "--since", node::IsoTime(compromised), "--except", not_ours.string()});
  ASSERT_EQ(reaffirmed.exit_code, 0) << reaffirmed.err;
  EXPECT_EQ(reaffirmed.out, "BANKA:3,BANKA:5\n");
  // Run again: nothing more to do.
  RunResult again = c.Admin(
      a, {"reaffirm", "--since", node::IsoTime(compromised), "--except", not_ours.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "");

  for (Node* n : line) {
    EXPECT_TRUE(Eventually([&] {
      return States(c, *n, "51003") ==
             std::vector<std::string>{"BANKA:3 suspended", "BANKA:5 active"};
    })) << n->code
        << ": " << c.Log(*n);
    EXPECT_EQ(States(c, *n, "51004"), std::vector<std::string>{"BANKA:4 suspended"}) << n->code;
    EXPECT_TRUE(c.Listed(*n, IdType::kQq, "51001")) << n->code;
  }
  // A node that joins later gets the notice with the feed and suspends the same.
  Node& late = c.Add("BANKE");
  c.Dial(late, far);
  ASSERT_TRUE(c.Start(late));
  EXPECT_TRUE(Eventually([&] {
    return States(c, late, "51004") == std::vector<std::string>{"BANKA:4 suspended"} &&
           c.Listed(late, IdType::kQq, "51003");
  })) << ::testing::PrintToString(States(c, late, "51004"))
      << ::testing::PrintToString(States(c, late, "51003")) << c.Log(late);
}

TEST(KeyWithdrawal, ABundleCarriesTheCrlAndTheNoticesToANodeWithoutANetwork) {
  Consortium c;
  Node& a = c.Add("BANKA");
  Node& gone = c.Add("BANKX");     // leaves the consortium: its certificates revoked
  Node& offline = c.Add("BANKO");  // fed by bundles only
  ASSERT_TRUE(c.Start(a));
  ASSERT_EQ(c.Report(a, "qq", "53001", "sold"), "BANKA:1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const int64_t compromised = static_cast<int64_t>(std::time(nullptr));
  ASSERT_EQ(c.Report(a, "qq", "53002", "sold"), "BANKA:2");
  RunResult revoked = c.AdminTool({"pki", "revoke", "--ca-dir", c.ca_dir().string(),
                                   "--institution", gone.code, "--reason", "affiliation-changed"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  ASSERT_EQ(c.Admin(a, {"import", (c.ca_dir() / "crl.pem").string()}).exit_code, 0);
  const fs::path notice = c.dir() / "withdraw.notice";
  ASSERT_EQ(c.AdminTool({"pki", "withdraw-key", "--ca-dir", c.ca_dir().string(), "--serial",
                         SigningSerial(a), "--since", node::IsoTime(compromised), "--out",
                         notice.string()})
                .exit_code,
            0);
  ASSERT_EQ(c.Admin(a, {"import", notice.string()}).exit_code, 0);

  const fs::path bundle = c.dir() / "banka.bundle";
  RunResult exported = c.Admin(a, {"export", "--out", bundle.string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("2 consortium objects"), std::string::npos) << exported.out;
  RunResult imported = c.Admin(offline, {"import", bundle.string()});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(States(c, offline, "53001"), std::vector<std::string>{"BANKA:1 active"});
  EXPECT_EQ(States(c, offline, "53002"), std::vector<std::string>{"BANKA:2 suspended"});
  bool crl_held = false;
  ASSERT_TRUE(c.WithStore(offline, [&](const store::Store& s) {
    Result<std::optional<std::string>> crl = s.GetObject("crl");
    crl_held = crl.ok() && crl->has_value();
  }));
  EXPECT_TRUE(crl_held);
  // The CRL is in force there once its daemon starts.
  ASSERT_TRUE(c.Start(offline));
  std::optional<std::string> status = HttpGet(offline.api_port, "/v1/status");
  ASSERT_TRUE(status.has_value());
  nlohmann::json crl = nlohmann::json::parse(*status, nullptr, false)["crl"];
  EXPECT_TRUE(crl.is_object() && crl.value("number", 0) > 0) << *status;
}

// A notice signed by a regulator whose certificate a CRL revoked later reaches a node that joins
// afterwards: it cannot take the notice, but its relay did nothing wrong and is not refused.
TEST(KeyWithdrawal, ANoticeOfARegulatorRevokedSinceGetsNoRelayBlamed) {
  Consortium c;
  std::vector<Node*> line = c.Line({"BANKA", "PBOC"});
  Node& a = *line[0];
  Node& regulator = *line[1];
  RunResult role = c.AdminTool({"--home", regulator.home.string(), "pki", "issue", "--ca-dir",
                                c.ca_dir().string(), "--institution", "PBOC", "--role", "regulator",
                                "--host", "127.0.0.1", "--force"});
  ASSERT_EQ(role.exit_code, 0) << role.err;
  ASSERT_TRUE(c.StartAll());
  ASSERT_EQ(c.Report(a, "qq", "54001", "sold"), "BANKA:1");
  // The regulator names a certificate it holds: BANKA's arrives with its record.
  ASSERT_TRUE(Eventually([&] { return c.HeadSeq(regulator, "BANKA") == 1; }));
  RunResult withdrawn =
      c.Admin(regulator, {"withdraw-key", "--institution", "BANKA", "--serial", SigningSerial(a),
                          "--since", node::IsoTime(static_cast<int64_t>(std::time(nullptr)))});
  ASSERT_EQ(withdrawn.exit_code, 0) << withdrawn.err;
  ASSERT_TRUE(Eventually([&] { return c.Logged(a, "key withdrawal by regulator PBOC"); }))
      << c.Log(a);
  // The regulator's signing certificate is revoked afterwards.
  RunResult revoked = c.AdminTool({"pki", "revoke", "--ca-dir", c.ca_dir().string(), "--serial",
                                   SigningSerial(regulator), "--reason", "superseded"});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  ASSERT_EQ(c.Admin(a, {"import", (c.ca_dir() / "crl.pem").string()}).exit_code, 0);

  Node& late = c.Add("BANKC");
  c.Dial(late, a);
  ASSERT_TRUE(c.Start(late));
  EXPECT_TRUE(Eventually([&] { return c.Logged(late, "notice from BANKA not taken"); }))
      << c.Log(late);
  EXPECT_TRUE(Eventually([&] { return c.HeadSeq(late, "BANKA") == 1; })) << c.Log(late);
  EXPECT_FALSE(c.Logged(late, ") refused for ")) << "BANKA was refused: " << c.Log(late);
}

TEST(KeyWithdrawal, BadNoticesAreRefusedInOneLineAndChangeNothing) {
  Consortium c;
  Node& a = c.Add("BANKA");
  ASSERT_TRUE(c.Start(a));
  ASSERT_EQ(c.Report(a, "qq", "52001", "sold"), "BANKA:1");
  const std::string serial = SigningSerial(a);
  const std::string now = node::IsoTime(static_cast<int64_t>(std::time(nullptr)));
  // An unknown serial.
  RunResult unknown = c.AdminTool({"pki", "withdraw-key", "--ca-dir", c.ca_dir().string(),
                                   "--serial", "ABCDEF0123", "--since", now});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("not issued by this CA"), std::string::npos) << unknown.err;
  // A compromise time in the future.
  RunResult future = c.AdminTool({"pki", "withdraw-key", "--ca-dir", c.ca_dir().string(),
                                  "--serial", serial, "--since", "2099-01-01T00:00:00Z"});
  EXPECT_EQ(future.exit_code, 2);
  EXPECT_NE(future.err.find("in the future"), std::string::npos) << future.err;
  // A time that is no time.
  RunResult garbled = c.AdminTool({"pki", "withdraw-key", "--ca-dir", c.ca_dir().string(),
                                   "--serial", serial, "--since", "yesterday"});
  EXPECT_EQ(garbled.exit_code, 2);
  EXPECT_NE(garbled.err.find("--since: expected"), std::string::npos) << garbled.err;
  // A member's node does not sign notices.
  RunResult member =
      c.Admin(a, {"withdraw-key", "--institution", "BANKA", "--serial", serial, "--since", now});
  EXPECT_EQ(member.exit_code, 2);
  EXPECT_NE(member.err.find("only a regulator"), std::string::npos) << member.err;

  // A notice signed by another consortium's CA.
  Consortium other("OTHERNET");
  Node& other_bank = other.Add("BANKA");
  const fs::path foreign = c.dir() / "foreign.notice";
  RunResult made =
      other.AdminTool({"pki", "withdraw-key", "--ca-dir", other.ca_dir().string(), "--serial",
                       SigningSerial(other_bank), "--since", now, "--out", foreign.string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  RunResult refused = c.Admin(a, {"import", foreign.string()});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("nothing imported"), std::string::npos) << refused.err;
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
  // A notice with one byte of its signature changed.
  const fs::path good = c.dir() / "good.notice";
  ASSERT_EQ(c.AdminTool({"pki", "withdraw-key", "--ca-dir", c.ca_dir().string(), "--serial", serial,
                         "--since", now, "--out", good.string()})
                .exit_code,
            0);
  Result<std::string> bytes = base::ReadFile(good, 1 << 16);
  ASSERT_TRUE(bytes.ok());
  std::string tampered = *bytes;
  tampered[tampered.size() - 10] ^= 0x01;
  const fs::path bad = c.dir() / "bad.notice";
  ASSERT_TRUE(base::WriteFileAtomic(bad, tampered, 0600, false).ok());
  RunResult altered = c.Admin(a, {"import", bad.string()});
  EXPECT_EQ(altered.exit_code, 2);
  EXPECT_NE(altered.err.find("nothing imported"), std::string::npos) << altered.err;
  // Nothing changed: the entry is listed.
  EXPECT_TRUE(c.Listed(a, IdType::kQq, "52001"));
  // The good one applies; the same file again is not newer.
  RunResult applied = c.Admin(a, {"import", good.string()});
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  RunResult twice = c.Admin(a, {"import", good.string()});
  EXPECT_EQ(twice.exit_code, 0) << twice.err;  // held already: nothing to do, not an error
}

}  // namespace
}  // namespace duanka::integration
