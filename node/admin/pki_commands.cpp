// pki revoke and pki crl: the consortium operator's certificate revocation list. The CA keeps a
// ledger of why each serial was revoked (revoked.txt beside issued.txt); the CRL itself is what
// nodes check, and it reaches them as a file handed to any one node (`duanka-admin import`).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "crypto/crypto.h"
#include "crypto/pki.h"
#include "node/admin/admin.h"
#include "node/admin/context.h"

namespace duanka::admin {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRevokedLedger = "revoked.txt";
constexpr const char* kRevokedLedgerHeader = "# serial institution kind reason revoked_at (UTC)\n";
constexpr mode_t kLedgerMode = 0600;
// Why a certificate is revoked, in RFC 5280's terms (CRLReason) as an operator says them.
const std::set<std::string> kReasons = {"key-compromise",         "ca-compromise",
                                        "affiliation-changed",    "superseded",
                                        "cessation-of-operation", "privilege-withdrawn"};
constexpr size_t kMaxLedgerBytes = 64 << 20;
// A CRL of every member revoked in a consortium of thousands is well under a megabyte.
constexpr size_t kMaxCrlBytes = 16 << 20;

std::string UtcTime(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ReasonList() {
  std::string out;
  for (const std::string& r : kReasons) out += (out.empty() ? "" : ", ") + r;
  return out;
}

// serial → the rest of its ledger line (institution kind reason time).
std::map<std::string, std::string> ReadLedger(const fs::path& path) {
  std::map<std::string, std::string> out;
  Result<std::string> text = base::ReadFile(path, kMaxLedgerBytes);
  if (!text) return out;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() == '#') continue;
    size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

Status AppendLedger(const fs::path& path, const std::string& lines) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, kLedgerMode);
  if (fd < 0) return MakeError(ErrorKind::kIo, "cannot open " + path.string());
  struct stat info {};
  std::string text = (::fstat(fd, &info) == 0 && info.st_size == 0) ? kRevokedLedgerHeader : "";
  text += lines;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return MakeError(ErrorKind::kIo, "cannot append to " + path.string());
  return Ok();
}

}  // namespace

int PkiRevoke(const PkiRevokeOptions& o) {
  if (o.serials.empty() == o.institution.empty()) {
    return Fail(ErrorKind::kInvalidInput,
                "pki revoke: give --serial S (repeatable) or --institution CODE, not both");
  }
  if (!kReasons.count(o.reason)) {
    return Fail(ErrorKind::kInvalidInput,
                "pki revoke: --reason \"" + o.reason + "\" is not one of " + ReasonList());
  }
  const fs::path ca_dir(o.ca_dir);
  Result<crypto::TrustStore> ca = crypto::TrustStore::Load(ca_dir / "ca.pem", std::nullopt);
  if (!ca) return Fail(ErrorKind::kIo, ca.error().message);
  Result<std::vector<crypto::IssuedCertificate>> issued = crypto::IssuedCertificates(ca_dir);
  if (!issued) return Fail(issued.error());
  std::map<std::string, crypto::IssuedCertificate> by_serial;
  for (const crypto::IssuedCertificate& c : *issued) by_serial[c.serial_hex] = c;

  // What to add: the serials named, or every certificate of the institution.
  std::vector<std::string> adding;
  if (!o.institution.empty()) {
    for (const crypto::IssuedCertificate& c : *issued) {
      if (c.institution == o.institution) adding.push_back(c.serial_hex);
    }
    if (adding.empty()) {
      return Fail(ErrorKind::kInvalidInput, "pki revoke: this CA issued no certificate to " +
                                                o.institution + " (see " +
                                                (ca_dir / "issued.txt").string() + ")");
    }
  } else {
    for (std::string serial : o.serials) {
      for (char& ch : serial) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size() - 1));
      if (!by_serial.count(serial)) {
        return Fail(ErrorKind::kInvalidInput, "pki revoke: serial " + serial +
                                                  " was not issued by this CA (not in " +
                                                  (ca_dir / "issued.txt").string() + ")");
      }
      adding.push_back(serial);
    }
  }

  // Every CRL lists all revocations so far: a node needs only the newest.
  std::set<std::string> revoked;
  std::optional<crypto::CrlInfo> previous;
  if (Result<std::string> held = base::ReadFile(ca_dir / "crl.pem", kMaxCrlBytes)) {
    Result<crypto::CrlInfo> info = ca->InspectCrl(*held);
    if (!info)
      return Fail(ErrorKind::kIo, (ca_dir / "crl.pem").string() + ": " + info.error().message);
    previous = *info;
    revoked.insert(info->revoked_serials.begin(), info->revoked_serials.end());
  }
  std::vector<std::string> fresh;
  for (const std::string& s : adding) {
    if (revoked.insert(s).second) fresh.push_back(s);
  }
  if (fresh.empty()) {
    std::cout << "nothing to revoke: already on the CRL (number " << previous->number << ")\n";
    return kExitOk;
  }
  // The CRL number is the issue second, and nodes take only a higher number than they hold.
  while (previous && static_cast<int64_t>(std::time(nullptr)) <= previous->number) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Result<std::string> crl = crypto::CreateCrl(
      ca_dir, std::vector<std::string>(revoked.begin(), revoked.end()), o.next_update_days);
  if (!crl) return Fail(crl.error());
  Result<crypto::CrlInfo> made = ca->InspectCrl(*crl);
  if (!made) return Fail(made.error());
  std::string lines;
  for (const std::string& s : fresh) {
    const crypto::IssuedCertificate& c = by_serial[s];
    lines += s + " " + c.institution + " " + c.kind + " " + o.reason + " " +
             UtcTime(made->this_update) + "\n";
  }
  if (Status s = AppendLedger(ca_dir / kRevokedLedger, lines); !s) return Fail(s.error());
  std::cout << "CRL number " << made->number << " written to " << (ca_dir / "crl.pem").string()
            << ": " << fresh.size() << " certificate(s) newly revoked (" << o.reason << "), "
            << revoked.size() << " in all; next update " << UtcTime(made->next_update)
            << ". Hand it to any one node: duanka-admin import " << (ca_dir / "crl.pem").string()
            << "\n";
  return kExitOk;
}

int PkiShowCrl(const std::string& ca_dir_text) {
  const fs::path ca_dir(ca_dir_text);
  Result<crypto::TrustStore> ca = crypto::TrustStore::Load(ca_dir / "ca.pem", std::nullopt);
  if (!ca) return Fail(ErrorKind::kIo, ca.error().message);
  Result<std::string> text = base::ReadFile(ca_dir / "crl.pem", kMaxCrlBytes);
  if (!text) {
    return Fail(ErrorKind::kNotFound,
                "no CRL in " + ca_dir.string() + " yet (duanka-admin pki revoke makes one)");
  }
  Result<crypto::CrlInfo> info = ca->InspectCrl(*text);
  if (!info)
    return Fail(ErrorKind::kIo, (ca_dir / "crl.pem").string() + ": " + info.error().message);
  std::map<std::string, std::string> why = ReadLedger(ca_dir / kRevokedLedger);
  std::map<std::string, crypto::IssuedCertificate> by_serial;
  if (Result<std::vector<crypto::IssuedCertificate>> issued = crypto::IssuedCertificates(ca_dir)) {
    for (const crypto::IssuedCertificate& c : *issued) by_serial[c.serial_hex] = c;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::cout << "CRL number " << info->number << " of " << ca->consortium() << ", issued "
            << UtcTime(info->this_update) << ", next update " << UtcTime(info->next_update)
            << (info->next_update < now ? " (EXPIRED: every node now refuses every certificate)"
                                        : "")
            << "\n"
            << info->revoked_serials.size() << " revoked:\n";
  for (const std::string& s : info->revoked_serials) {
    auto c = by_serial.find(s);
    auto w = why.find(s);
    std::cout << "  " << s << "  "
              << (w != why.end()
                      ? w->second
                      : (c != by_serial.end() ? c->second.institution + " " + c->second.kind
                                              : std::string("(not in issued.txt)")))
              << "\n";
  }
  return kExitOk;
}

}  // namespace duanka::admin
