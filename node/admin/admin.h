// duanka-admin's commands. main.cpp parses arguments into these option structs; each command
// returns the process exit code (0 done, 2 usage or invalid input, 3 operational failure) and
// prints its one-line error itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "node/common/exit_codes.h"

namespace duanka::admin {

// The codes shared by the three programs (node/common/exit_codes.h).
inline constexpr int kExitOk = node::kExitOk;
// As grep's 1 (design section 7): nothing of what was asked for is held (evidence export).
inline constexpr int kExitNotFound = node::kExitNotFound;
inline constexpr int kExitInvalid = node::kExitInvalid;
inline constexpr int kExitFailure = node::kExitFailure;

struct InitCaOptions {
  std::string dir;
  std::string consortium;
};
int InitCa(const InitCaOptions& o);

struct IssueOptions {
  std::string ca_dir;
  std::string institution;
  std::string role = "member";
  std::string home;
  std::vector<std::string> hosts;
  bool force = false;
};
int Issue(const IssueOptions& o);

// pki revoke: a new CRL in CA_DIR/crl.pem listing every certificate revoked so far plus these.
struct PkiRevokeOptions {
  std::string ca_dir;
  std::vector<std::string> serials;  // hex
  std::string institution;           // or every certificate issued to it
  std::string reason;                // key-compromise, affiliation-changed, superseded, ...
  int next_update_days = 30;
};
int PkiRevoke(const PkiRevokeOptions& o);
// pki crl: what CA_DIR/crl.pem says, with the institution and reason of each revoked serial.
int PkiShowCrl(const std::string& ca_dir);

struct PepperNewOptions {
  std::string out;
  bool force = false;
};
int PepperNew(const PepperNewOptions& o);

// pepper rotate / install / retire: node/admin/pepper_commands.cpp.
struct PepperRotateOptions {
  std::string in;
  std::string out;
};
int PepperRotate(const PepperRotateOptions& o);

struct PepperInstallOptions {
  std::optional<std::string> home;
  std::string file;
};
int PepperInstall(const PepperInstallOptions& o);

struct PepperRetireOptions {
  std::optional<std::string> home;
  std::string in;
  std::string out;
  uint32_t epoch = 0;
};
int PepperRetire(const PepperRetireOptions& o);

struct InitOptions {
  std::string home;
  std::string institution;
  std::string ca;
  std::string pepper;
  std::string listen;
  std::string api;
  std::vector<std::string> peers;
  bool force = false;
};
int Init(const InitOptions& o);

struct ReportOptions {
  std::optional<std::string> home;
  std::string type;
  std::string value;
  std::string category;
  std::string basis = "institution";
  std::string case_ref;
  std::string expires;
  bool json = false;
  // Publish although a peer has claimed the own feed past this store's head (a fork if true).
  bool i_know = false;
};
int Report(const ReportOptions& o);

// report --batch FILE|-: publishes every valid line of FILE (or stdin) as an entry of the
// institution's own feed, idempotently, in large transactions. Input, outputs and exit codes
// (0 all lines done, 2 some lines invalid, 3 operational failure or interrupted) are described in
// node/admin/README.md; the implementation is node/admin/batch_report.cpp.
struct BatchReportOptions {
  std::optional<std::string> home;
  std::string input;  // a file, or "-" for stdin
  bool json = false;
  // 1: everything on the calling thread. 2: for two cores: one thread reads and canonicalises,
  // one plans and signs (signing a feed is sequential, so it gets a core to itself), and the
  // calling thread verifies and writes. 0: 2 when the machine has two cores or more, else 1.
  unsigned threads = 0;
  bool i_know = false;  // as ReportOptions::i_know
};
int ReportBatch(const BatchReportOptions& o);

struct RevokeOptions {
  std::optional<std::string> home;
  std::string entry;
  std::string reason;
  bool json = false;
  bool i_know = false;  // as ReportOptions::i_know
};
int Revoke(const RevokeOptions& o);

// revoke --batch FILE|- (entry ids, one a line) or revoke --issuer I --from T1 --to T2 (every
// active entry of I issued in [T1, T2)): many revocations signed as one chain and appended in
// large transactions, idempotently (the store is the state: a run again does only the rest).
// Outputs and exit codes (0 done, 2 some lines bad, 3 operational failure or interrupted) are in
// node/admin/README.md; the implementation is node/admin/bulk_revoke.cpp.
struct BulkRevokeOptions {
  std::optional<std::string> home;
  std::string input;   // --batch: a file, or "-" for stdin; empty with --issuer
  std::string issuer;  // --issuer
  std::string from;    // --from / --to: times as node::ParseMoment takes them
  std::string to;
  std::string reason;
  std::string note;  // kept in the audit log with the run (the records carry no free text)
  bool json = false;
  bool i_know = false;  // as ReportOptions::i_know
};
int RevokeBulk(const BulkRevokeOptions& o);

struct ListOptions {
  std::optional<std::string> home;
  std::string issuer;
  bool all = false;
  bool json = false;
};
int List(const ListOptions& o);

// stats: the transparency report (issue 17, section 2) from the store, opened read-only: entries
// per issuer, type, category, basis and month, expiries due and revocations per reason; counts
// only. The JSON shape is in node/admin/README.md. Implementation: node/admin/stats_command.cpp.
struct StatsOptions {
  std::optional<std::string> home;
  bool json = false;
};
int Stats(const StatsOptions& o);

struct ExportOptions {
  std::optional<std::string> home;
  std::string out;
  std::string issuer;
  uint64_t from = 1;
};
int Export(const ExportOptions& o);

struct ImportOptions {
  std::optional<std::string> home;
  std::string file;
};
int Import(const ImportOptions& o);

}  // namespace duanka::admin
