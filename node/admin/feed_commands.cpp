// Reading and moving feeds: list, export, import.
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "node/admin/context.h"
#include "node/admin/notice_commands.h"
#include "node/common/consortium_objects.h"
#include "node/common/human_time.h"
#include "node/common/ingest.h"
#include "node/common/lookup.h"
#include "protocol/bundle.h"

namespace duanka::admin {
namespace {

// A bundle holds at most a few million records of ~300 bytes.
constexpr size_t kMaxBundleFileBytes = size_t{4} << 30;
// Records fetched from the store per Range call while exporting.
constexpr size_t kExportPage = 4096;
// Records ingested per transaction while importing: large enough for one signature per batch to
// dominate nothing, small enough to bound memory.
constexpr size_t kImportBatch = 4096;

void PrintListing(const store::Listing& l) {
  std::printf("%-16s %-8s %-12s %-14s %-15s %s  %s  %s%s%s\n", l.id.ToString().c_str(),
              store::EntryStateName(l.state), std::string(protocol::IdTypeName(l.id_type)).c_str(),
              std::string(protocol::CategoryName(l.category)).c_str(),
              std::string(protocol::BasisName(l.basis)).c_str(),
              node::HumanDate(l.issued_at).c_str(), node::HumanDate(l.expires_at).c_str(),
              l.subject.Hex().substr(0, 16).c_str(), l.case_ref.empty() ? "" : "  ",
              l.case_ref.c_str());
}

}  // namespace

int List(const ListOptions& o) {
  if (!o.issuer.empty() && !base::IsValidInstitutionCode(o.issuer)) {
    return Fail(ErrorKind::kInvalidInput, "--issuer: expected an institution code, e.g. BANKA");
  }
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  const int64_t now = node::SystemNow();
  size_t shown = 0;
  if (!o.json) {
    std::printf("%-16s %-8s %-12s %-14s %-15s %-10s  %-10s  %s\n", "ENTRY", "STATE", "TYPE",
                "CATEGORY", "BASIS", "ISSUED", "EXPIRES", "SUBJECT");
  }
  Status s = home->store->ForEachListing(o.issuer, now, [&](const store::Listing& l) {
    if (!o.all && !store::Stands(l.state)) return;
    ++shown;
    if (o.json) {
      std::cout << node::ListingJson(l) << "\n";
    } else {
      PrintListing(l);
    }
  });
  if (!s) return Fail(s.error());
  if (!o.json) {
    std::fprintf(stderr, "%zu entries%s. %s\n", shown,
                 o.all ? "" : " (active; --all for every state)",
                 std::string(node::kHumanTimeZoneNote).c_str());
  }
  return kExitOk;
}

int Export(const ExportOptions& o) {
  if (!o.issuer.empty() && !base::IsValidInstitutionCode(o.issuer)) {
    return Fail(ErrorKind::kInvalidInput, "--issuer: expected an institution code, e.g. BANKA");
  }
  if (o.from == 0) return Fail(ErrorKind::kInvalidInput, "--from: sequence numbers start at 1");
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  // Include our own signing certificate even if nothing was reported yet.
  if (std::filesystem::exists(home->config.signing_key)) {
    Result<node::SigningIdentity> id = LoadIdentity(*home);
    if (!id) return Fail(id.error());
  }
  protocol::Bundle bundle;
  bundle.consortium = home->ca->consortium();
  Result<std::vector<std::string>> certs = home->store->Certificates();
  if (!certs) return Fail(certs.error());
  bundle.certificates = std::move(*certs);
  Result<std::vector<store::Head>> heads = home->store->Heads();
  if (!heads) return Fail(heads.error());
  std::map<std::string, size_t> per_issuer;
  for (const store::Head& head : *heads) {
    if (!o.issuer.empty() && head.issuer != o.issuer) continue;
    for (uint64_t seq = o.from; seq <= head.seq;) {
      Result<std::vector<protocol::SignedRecord>> page =
          home->store->Range(head.issuer, seq, kExportPage);
      if (!page) return Fail(page.error());
      if (page->empty()) break;
      seq += page->size();
      per_issuer[head.issuer] += page->size();
      for (auto& r : *page) bundle.records.push_back(std::move(r));
    }
  }
  // The CRL and the notices held travel with the records, so that a node fed by bundles alone
  // refuses revoked members and suspends withdrawn keys' entries as a networked node does.
  Result<std::optional<std::string>> crl = home->store->GetObject(node::kCrlObject);
  if (!crl) return Fail(crl.error());
  if (*crl) bundle.objects.push_back({std::string(node::kCrlObject), **crl});
  Result<std::vector<std::string>> notices = node::HeldNotices(*home->store);
  if (!notices) return Fail(notices.error());
  for (std::string& n : *notices) {
    bundle.objects.push_back({std::string(protocol::kNoticeObjectName), std::move(n)});
  }
  Status written =
      base::WriteFileAtomic(o.out, protocol::EncodeBundle(bundle), 0600, /*overwrite=*/true);
  if (!written) return Fail(written.error());
  nlohmann::json counts = per_issuer;
  Status audited = Audit(*home, nlohmann::json{{"time", node::IsoTime(node::SystemNow())},
                                               {"program", "duanka-admin"},
                                               {"user", node::OsUserName()},
                                               {"action", "export"},
                                               {"file", o.out},
                                               {"records", counts},
                                               {"certificates", bundle.certificates.size()},
                                               {"objects", bundle.objects.size()}}
                                    .dump());
  if (!audited) return Fail(audited.error());
  std::cout << "exported " << bundle.records.size() << " records of " << per_issuer.size()
            << " feeds, " << bundle.certificates.size() << " certificates and "
            << bundle.objects.size() << " consortium objects (CRL, notices) to " << o.out << "\n";
  return kExitOk;
}

namespace {

// A CRL handed to this node by the consortium operator: verified, kept, and spread by the daemon
// to every peer (which puts it in force at once).
int ImportCrl(const ImportOptions& o, const std::string& pem) {
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  Result<crypto::CrlInfo> crl = node::AdmitCrl(*home->store, *home->ca, pem);
  if (!crl) {
    return Fail(crl.error().kind == ErrorKind::kIo ? ErrorKind::kIo : ErrorKind::kInvalidInput,
                o.file + ": " + crl.error().message + "; nothing imported");
  }
  const int64_t now = node::SystemNow();
  std::cout << "CRL number " << crl->number << " in force: " << crl->revoked_serials.size()
            << " certificate(s) revoked, next update " << node::HumanMinute(crl->next_update)
            << (crl->next_update < now ? " (ALREADY PAST: every certificate is refused)" : "")
            << "; the daemon passes it to every peer\n";
  Status audited = Audit(*home, nlohmann::json{{"time", node::IsoTime(now)},
                                               {"program", "duanka-admin"},
                                               {"user", node::OsUserName()},
                                               {"action", "import-crl"},
                                               {"file", o.file},
                                               {"crl_number", crl->number},
                                               {"revoked", crl->revoked_serials}}
                                    .dump());
  if (!audited) return Fail(audited.error());
  return kExitOk;
}

}  // namespace

int Import(const ImportOptions& o) {
  Result<std::string> bytes = base::ReadFile(o.file, kMaxBundleFileBytes);
  // The file is the user's input: a missing or unreadable one is a usage error, like grep's.
  if (!bytes) return Fail(ErrorKind::kInvalidInput, bytes.error().message);
  // A bundle may hold a CRL among its objects: its magic line decides first.
  if (bytes->starts_with(protocol::kNoticeFileMagic)) return ImportNotice(o.home, o.file, *bytes);
  if (!bytes->starts_with(protocol::kBundleMagic) &&
      bytes->find("-----BEGIN X509 CRL-----") != std::string::npos) {
    return ImportCrl(o, *bytes);
  }
  Result<protocol::Bundle> bundle = protocol::DecodeBundle(*bytes);
  if (!bundle) return Fail(ErrorKind::kInvalidInput, o.file + ": " + bundle.error().message);
  Result<Home> home = OpenHome(o.home);
  if (!home) return Fail(home.error());
  if (bundle->consortium != home->ca->consortium()) {
    return Fail(ErrorKind::kInvalidInput, o.file + " is from consortium \"" + bundle->consortium +
                                              "\", this node belongs to \"" +
                                              home->ca->consortium() + "\"; nothing imported");
  }
  int exit_code = kExitOk;
  auto refused_object = [&](const std::string& what, const Error& e) {
    std::cerr << "duanka-admin: " << o.file << ": " << what << " not taken: " << e.message << "\n";
    exit_code = kExitInvalid;
  };
  // The CRL first: certificates it revokes are not trusted below.
  for (const protocol::BundleObject& object : bundle->objects) {
    if (object.name != node::kCrlObject) continue;
    Result<crypto::CrlInfo> crl = node::AdmitCrl(*home->store, *home->ca, object.body);
    if (!crl && crl.error().kind == ErrorKind::kIo) return Fail(crl.error());
    if (!crl && crl.error().kind != ErrorKind::kConflict) refused_object("the CRL", crl.error());
  }
  // Certificates next: records are verified against the signers they make known.
  size_t trusted = 0;
  for (const std::string& der : bundle->certificates) {
    // Validity is checked per record against its issue time (see node::AddSigners).
    Result<crypto::CertificateInfo> cert =
        home->ca->Verify(der, crypto::CertKind::kSigning, std::nullopt);
    if (!cert) {
      std::cerr << "duanka-admin: warning: " << o.file
                << ": a certificate is not trusted: " << cert.error().message << "\n";
      continue;
    }
    home->trust.Add(node::SignerOf(*cert));
    Status kept = home->store->PutCertificate(protocol::KeyId(cert->public_key), der);
    if (!kept) return Fail(kept.error());
    ++trusted;
  }
  // Notices before records: a withdrawal suspends entries as they are taken, a resolution
  // refuses a discarded branch's records.
  const int64_t now = node::SystemNow();
  size_t notices = 0;
  for (const protocol::BundleObject& object : bundle->objects) {
    if (object.name != protocol::kNoticeObjectName) continue;
    Result<node::VerifiedNotice> notice = node::VerifyNotice(*home->ca, object.body, now);
    if (!notice) {
      refused_object("a notice", notice.error());
      continue;
    }
    Result<bool> kept = node::KeepNotice(*home->store, *notice);
    if (!kept && kept.error().kind == ErrorKind::kIo) return Fail(kept.error());
    if (!kept || !*kept) continue;  // this one, or a newer one about the same thing, is held
    Result<node::NoticeEffect> applied = node::ApplyNotice(*home->store, notice->notice, now);
    if (!applied) return Fail(applied.error());
    ++notices;
  }
  // A key withdrawal held here may name one of these certificates by serial: in force before
  // the records it suspends are taken.
  if (Result<size_t> applied = node::ApplyHeldNotices(*home->store, node::SystemNow()); !applied) {
    return Fail(applied.error());
  }
  // Each issuer's records, in bundle order (which export writes in seq order).
  std::map<std::string, std::vector<protocol::SignedRecord>> feeds;
  std::vector<std::string> order;
  std::string issuer = "?";
  for (protocol::SignedRecord& r : bundle->records) {
    // A record that does not decode stays in the feed it stands in, where IngestFeed refuses it.
    if (Result<protocol::Record> decoded = protocol::DecodeRecord(r.bytes))
      issuer = decoded->issuer;
    if (!feeds.count(issuer)) order.push_back(issuer);
    feeds[issuer].push_back(std::move(r));
  }
  nlohmann::json summary = nlohmann::json::object();
  for (const std::string& feed : order) {
    const std::string& issuer = feed;
    const std::vector<protocol::SignedRecord>& records = feeds[issuer];
    node::IngestReport total;
    for (size_t i = 0; i < records.size() && !total.refused; i += kImportBatch) {
      size_t n = std::min(kImportBatch, records.size() - i);
      Result<node::IngestReport> r =
          node::IngestFeed(*home->store, home->trust, std::span(records).subspan(i, n), now);
      if (!r) return Fail(r.error());
      total.appended += r->appended;
      total.duplicates += r->duplicates;
      total.forks += r->forks;
      total.refused = r->refused;
    }
    summary[issuer] = {
        {"imported", total.appended}, {"already_held", total.duplicates}, {"forks", total.forks}};
    std::cout << issuer << ": " << total.appended << " imported, " << total.duplicates
              << " already held";
    if (total.forks) std::cout << ", " << total.forks << " FORKS (feed frozen, evidence kept)";
    std::cout << "\n";
    if (total.refused) {
      summary[issuer]["refused"] = total.refused->message;
      std::cerr << "duanka-admin: " << o.file << ": " << issuer << ": refused at "
                << total.refused->message << "; nothing after it in this feed was taken\n";
      exit_code = kExitInvalid;
    }
  }
  Status audited = Audit(*home, nlohmann::json{{"time", node::IsoTime(now)},
                                               {"program", "duanka-admin"},
                                               {"user", node::OsUserName()},
                                               {"action", "import"},
                                               {"file", o.file},
                                               {"certificates_trusted", trusted},
                                               {"notices_taken", notices},
                                               {"feeds", summary}}
                                    .dump());
  if (!audited) return Fail(audited.error());
  return exit_code;
}

}  // namespace duanka::admin
