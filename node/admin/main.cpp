// duanka-admin: the administrators' tool. This file only parses arguments (design section 7)
// and dispatches; each command lives in its own file.
#include <CLI/CLI.hpp>
#include <iostream>

#include "crypto/crypto.h"
#include "node/admin/api_client_commands.h"
#include "node/admin/audit_commands.h"
#include "node/admin/context.h"
#include "node/admin/evidence_commands.h"
#include "node/admin/hold_commands.h"
#include "node/admin/notice_commands.h"
#include "node/admin/policy_commands.h"
#include "node/admin/profile_commands.h"
#include "node/admin/watch_commands.h"
#include "node/common/version.h"
#include "protocol/identifier.h"
#include "protocol/record.h"

namespace {

using namespace duanka::admin;

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  duanka::crypto::EnsureInitialized();
  CLI::App app{
      "duanka-admin: stand up a consortium and an institution's node, report and revoke "
      "entries, move feeds by file"};
  app.require_subcommand(1);
  app.fallthrough();
  std::optional<std::string> home;
  app.add_option("--home", home,
                 "the institution's HOME (default $DUANKA_HOME, else /var/lib/duanka)");
  app.set_version_flag("--version", std::string("duanka-admin ") + duanka::node::kVersion,
                       "print the version and exit");
  app.footer(
      "Example: duanka-admin --home /var/lib/duanka report phone 13800138000 --category rented-out "
      "--basis psb-identified");

  int code = kExitOk;

  // pki init-ca / pki issue
  CLI::App* pki =
      app.add_subcommand("pki", "the consortium's certificates (run by the consortium operator)");
  pki->require_subcommand(1);
  InitCaOptions init_ca;
  CLI::App* init_ca_cmd = pki->add_subcommand("init-ca", "create the consortium CA");
  init_ca_cmd->add_option("--dir", init_ca.dir, "directory for ca.pem and ca.key (created 0700)")
      ->required();
  init_ca_cmd->add_option("--consortium", init_ca.consortium, "the consortium's name")->required();
  init_ca_cmd->footer("Example: duanka-admin pki init-ca --dir ./ca --consortium TESTNET");
  init_ca_cmd->callback([&] { code = InitCa(init_ca); });

  IssueOptions issue;
  CLI::App* issue_cmd = pki->add_subcommand(
      "issue", "issue an institution's signing and TLS keys and certificates into its HOME");
  issue_cmd->add_option("--ca-dir", issue.ca_dir, "the CA directory")->required();
  issue_cmd->add_option("--institution", issue.institution, "institution code, [A-Z0-9]{2,16}")
      ->required();
  issue_cmd->add_option("--role", issue.role, "member (default), regulator or replica");
  issue_cmd->add_option(
      "--host", issue.hosts,
      "DNS name or IP address of the node (repeatable; default localhost, 127.0.0.1)");
  issue_cmd->add_flag("--force", issue.force, "replace existing keys");
  issue_cmd->footer(
      "Example: duanka-admin pki issue --ca-dir ./ca --institution BANKA --home ./banka --host "
      "127.0.0.1");
  issue_cmd->callback([&] {
    if (!home) {
      code = Fail(duanka::ErrorKind::kInvalidInput, "pki issue: --home is required");
      return;
    }
    issue.home = *home;
    code = Issue(issue);
  });

  PkiRevokeOptions revoke_cert;
  CLI::App* pki_revoke_cmd = pki->add_subcommand(
      "revoke", "revoke certificates: write a new CRL listing them and every earlier revocation");
  pki_revoke_cmd->add_option("--ca-dir", revoke_cert.ca_dir, "the CA directory")->required();
  pki_revoke_cmd->add_option("--serial", revoke_cert.serials, "a certificate serial (repeatable)");
  pki_revoke_cmd->add_option("--institution", revoke_cert.institution,
                             "revoke every certificate issued to this institution");
  pki_revoke_cmd
      ->add_option("--reason", revoke_cert.reason,
                   "key-compromise, ca-compromise, affiliation-changed, superseded, "
                   "cessation-of-operation or privilege-withdrawn")
      ->required();
  pki_revoke_cmd->add_option("--next-update-days", revoke_cert.next_update_days,
                             "days until nodes need a newer CRL (default 30)");
  pki_revoke_cmd->footer(
      "Example: duanka-admin pki revoke --ca-dir ./ca --institution BANKC --reason key-compromise");
  pki_revoke_cmd->callback([&] { code = PkiRevoke(revoke_cert); });

  std::string crl_ca_dir;
  CLI::App* pki_crl_cmd = pki->add_subcommand("crl", "show the CA's current CRL");
  pki_crl_cmd->add_option("--ca-dir", crl_ca_dir, "the CA directory")->required();
  pki_crl_cmd->callback([&] { code = PkiShowCrl(crl_ca_dir); });

  // pepper new
  CLI::App* pepper = app.add_subcommand("pepper", "the consortium's subject-hashing pepper");
  pepper->require_subcommand(1);
  PepperNewOptions pepper_new;
  CLI::App* pepper_new_cmd = pepper->add_subcommand("new", "write a new pepper file (epoch 1)");
  pepper_new_cmd->add_option("--out", pepper_new.out, "the file to write (mode 0600)")->required();
  pepper_new_cmd->add_flag("--force", pepper_new.force, "replace an existing file");
  pepper_new_cmd->footer("Example: duanka-admin pepper new --out ./pepper.key");
  pepper_new_cmd->callback([&] { code = PepperNew(pepper_new); });

  PepperRotateOptions pepper_rotate;
  CLI::App* pepper_rotate_cmd = pepper->add_subcommand(
      "rotate", "write a copy of a pepper file with one more epoch, the new current one");
  pepper_rotate_cmd->add_option("--in", pepper_rotate.in, "the pepper file in use")->required();
  pepper_rotate_cmd
      ->add_option("--out", pepper_rotate.out, "the new file (mode 0600; must not exist)")
      ->required();
  pepper_rotate_cmd->footer(
      "Example: duanka-admin pepper rotate --in ./pepper.key --out ./pepper-2.key");
  pepper_rotate_cmd->callback([&] { code = PepperRotate(pepper_rotate); });

  PepperInstallOptions pepper_install;
  CLI::App* pepper_install_cmd = pepper->add_subcommand(
      "install",
      "replace HOME's pepper file with FILE if FILE follows it (same keys for the epochs both "
      "hold, no older current epoch, no epoch dropped that active entries use)");
  pepper_install_cmd->add_option("FILE", pepper_install.file, "the pepper file from the operator")
      ->required();
  pepper_install_cmd->footer(
      "Example: duanka-admin --home /var/lib/duanka pepper install /tmp/pepper-2.key");
  pepper_install_cmd->callback([&] {
    pepper_install.home = home;
    code = PepperInstall(pepper_install);
  });

  PepperRetireOptions pepper_retire;
  CLI::App* pepper_retire_cmd = pepper->add_subcommand(
      "retire",
      "write a copy of a pepper file without an old epoch, once no active entry in HOME's store "
      "uses it");
  pepper_retire_cmd->add_option("--in", pepper_retire.in, "the pepper file in use")->required();
  pepper_retire_cmd
      ->add_option("--out", pepper_retire.out, "the new file (mode 0600; must not exist)")
      ->required();
  pepper_retire_cmd->add_option("--epoch", pepper_retire.epoch, "the epoch to drop")->required();
  pepper_retire_cmd->footer(
      "Example: duanka-admin --home /var/lib/duanka pepper retire --in ./pepper-2.key --out "
      "./pepper-3.key --epoch 1");
  pepper_retire_cmd->callback([&] {
    if (!home) {
      code = Fail(duanka::ErrorKind::kInvalidInput,
                  "pepper retire: --home is required (its store must hold no active entry under "
                  "the epoch)");
      return;
    }
    pepper_retire.home = home;
    code = PepperRetire(pepper_retire);
  });

  // init
  InitOptions init;
  CLI::App* init_cmd =
      app.add_subcommand("init", "create an institution's HOME: duanka.toml, CA, pepper, store");
  init_cmd->add_option("--institution", init.institution, "institution code")->required();
  init_cmd->add_option("--ca", init.ca, "the consortium CA certificate (ca.pem)")->required();
  init_cmd->add_option("--pepper", init.pepper, "the pepper file")->required();
  init_cmd->add_option("--listen", init.listen, "HOST:PORT to accept peers on");
  init_cmd->add_option("--api", init.api,
                       "HOST:PORT of the local HTTP API (default 127.0.0.1:7480)");
  init_cmd->add_option("--peer", init.peers,
                       "CODE@HOST:PORT of a peer to dial: the institution expected there and its "
                       "address, e.g. BANKB@10.0.0.2:7400 (repeatable)");
  init_cmd->add_flag("--force", init.force, "overwrite an existing duanka.toml");
  init_cmd->footer(
      "Example: duanka-admin init --home ./banka --institution BANKA --ca ./ca/ca.pem --pepper "
      "./pepper.key --listen 127.0.0.1:7401");
  init_cmd->callback([&] {
    if (!home) {
      code = Fail(duanka::ErrorKind::kInvalidInput, "init: --home is required");
      return;
    }
    init.home = *home;
    code = Init(init);
  });

  // report (one identifier from the arguments, or many from a file with --batch)
  static constexpr const char* kIKnowHelp =
      "publish although a peer holds this institution's feed past this store's head (after "
      "restoring a backup, wait for duankad to fetch it instead: signing there forks the feed)";
  ReportOptions report;
  BatchReportOptions batch;
  CLI::App* report_cmd = app.add_subcommand(
      "report",
      "list an identifier in this institution's feed and print the entry id; or, with --batch, "
      "every line of a file");
  report_cmd->add_option("TYPE", report.type,
                         duanka::protocol::IdTypeNames(/*new_reports_only=*/true));
  report_cmd->add_option("VALUE", report.value,
                         "the identifier (never stored or logged; only its keyed hash is)");
  report_cmd->add_option("--category", report.category, duanka::protocol::AllCategoryNames());
  report_cmd->add_option("--basis", report.basis,
                         duanka::protocol::AllBasisNames() + " (default institution)");
  report_cmd->add_option("--case-ref", report.case_ref,
                         "decision or case reference, at most 64 bytes");
  report_cmd->add_option(
      "--expires", report.expires,
      "YYYY-MM-DD; default from the basis (2 years PSB-identified, 3 convicted, 1 institution)");
  report_cmd->add_option("--batch", batch.input,
                         "FILE or - (stdin): one entry per line, "
                         "TYPE,VALUE,CATEGORY[,BASIS[,CASE_REF[,EXPIRES]]]; instead of TYPE, "
                         "VALUE and the options above");
  report_cmd->add_option("--threads", batch.threads,
                         "with --batch: 1, or 2 to sign on one core while the other reads and "
                         "writes (default 2 on a machine with two cores or more)");
  report_cmd->add_flag("--json", report.json,
                       "print {\"entry\",\"subject\",\"expires_at\"}; with --batch one "
                       "{\"line\",\"result\",\"entry\"|\"reason\"} per line");
  report_cmd->add_flag("--i-know", report.i_know, kIKnowHelp);
  report_cmd->footer(
      "Example: duanka-admin report phone '+86 138 0013 8000' --category rented-out --basis "
      "psb-identified --case-ref 'PSB-2026-0042'\n"
      "Example: duanka-admin report --batch existing-list.csv > published.csv\n"
      "\n"
      "--batch input, one entry per line: TYPE,VALUE,CATEGORY[,BASIS[,CASE_REF[,EXPIRES]]]\n"
      "  phone,13800138000,rented-out,psb-identified,\"(2026)京01刑初7号, 二\",2028-06-30\n"
      "  qq,12345678,sold\n"
      "A first line starting with \"type,\" is a header; it and blank lines are skipped.\n"
      "A field in double quotes may hold commas (\"\" is a quote inside it). BASIS defaults\n"
      "to institution, EXPIRES to the basis's period. A line is not published again when this\n"
      "institution already lists it actively under the same category (so a run can be\n"
      "repeated or resumed), nor when it withdrew that listing as wrong (appeal-upheld,\n"
      "issued-in-error, court-order, sanction-lifted).\n"
      "Output on stdout, one line per data line, in input order, once committed:\n"
      "  LINE,published,BANKA:7    LINE,already-listed,BANKA:3    LINE,withdrawn,BANKA:2\n"
      "  LINE,invalid,REASON       (the reason names the field, never the value)\n"
      "or with --json {\"line\":7,\"result\":\"published\",\"entry\":\"BANKA:7\"},\n"
      "{\"line\":9,\"result\":\"invalid\",\"reason\":\"...\"}. A summary goes to stderr and one\n"
      "line to the audit log.\n"
      "Exit 0: every line published, already listed or withdrawn; 2: some lines invalid (the\n"
      "others were published); 3: operational failure or interrupted (what was committed\n"
      "stays; run the same command again to finish). More in node/admin/README.md.");
  report_cmd->callback([&] {
    if (report_cmd->count("--batch") > 0) {
      for (const char* single :
           {"TYPE", "VALUE", "--category", "--basis", "--case-ref", "--expires"}) {
        if (report_cmd->count(single) > 0) {
          code = Fail(duanka::ErrorKind::kInvalidInput,
                      std::string("report --batch: ") + single +
                          " comes from each line of the file, not from the command line");
          return;
        }
      }
      batch.home = home;
      batch.json = report.json;
      batch.i_know = report.i_know;
      code = ReportBatch(batch);
      return;
    }
    if (report_cmd->count("--threads") > 0) {
      code = Fail(duanka::ErrorKind::kInvalidInput, "report: --threads goes with --batch");
      return;
    }
    if (report_cmd->count("TYPE") == 0 || report_cmd->count("VALUE") == 0) {
      code = Fail(duanka::ErrorKind::kInvalidInput,
                  "report: TYPE and VALUE are required (or --batch FILE)");
      return;
    }
    if (report_cmd->count("--category") == 0) {
      code = Fail(duanka::ErrorKind::kInvalidInput, "report: --category is required");
      return;
    }
    report.home = home;
    code = Report(report);
  });

  // revoke
  RevokeOptions revoke;
  CLI::App* revoke_cmd =
      app.add_subcommand("revoke", "withdraw an entry (members: their own; the regulator: any)");
  BulkRevokeOptions bulk_revoke;
  revoke_cmd->add_option("ENTRY_ID", revoke.entry, "ISSUER:SEQ, e.g. BANKA:42");
  revoke_cmd->add_option("--reason", revoke.reason, duanka::protocol::AllRevocationReasonNames())
      ->required();
  revoke_cmd->add_option("--batch", bulk_revoke.input,
                         "revoke every entry id of FILE (one a line; - for stdin)");
  revoke_cmd->add_option("--issuer", bulk_revoke.issuer,
                         "revoke every active entry of this issuer issued in [--from, --to)");
  revoke_cmd->add_option("--from", bulk_revoke.from,
                         "with --issuer: 2026-12-06T10:00:00Z (UTC) or \"2026-12-06 18:00\" (CST)");
  revoke_cmd->add_option("--to", bulk_revoke.to, "with --issuer: the end, excluded");
  revoke_cmd->add_option("--note", bulk_revoke.note,
                         "with --batch/--issuer: why, kept in the audit log with the run");
  revoke_cmd->add_flag("--json", revoke.json, "print JSON");
  revoke_cmd->add_flag("--i-know", revoke.i_know, kIKnowHelp);
  revoke_cmd->footer(
      "Example: duanka-admin revoke BANKA:42 --reason appeal-upheld\n"
      "         duanka-admin revoke --batch ids.txt --reason issued-in-error\n"
      "         duanka-admin revoke --issuer BANKB --from \"2026-12-06 08:00\" --to \"2026-12-06 "
      "12:00\" --reason issued-in-error");
  revoke_cmd->callback([&] {
    const bool bulk = !bulk_revoke.input.empty() || !bulk_revoke.issuer.empty();
    if (bulk && !revoke.entry.empty()) {
      code = Fail(duanka::ErrorKind::kInvalidInput,
                  "revoke: give an ENTRY_ID, --batch FILE or --issuer CODE, not more than one");
      return;
    }
    if (bulk) {
      bulk_revoke.home = home;
      bulk_revoke.reason = revoke.reason;
      bulk_revoke.json = revoke.json;
      bulk_revoke.i_know = revoke.i_know;
      code = RevokeBulk(bulk_revoke);
      return;
    }
    if (revoke.entry.empty()) {
      code = Fail(duanka::ErrorKind::kInvalidInput,
                  "revoke: give an ENTRY_ID (ISSUER:SEQ), --batch FILE or --issuer CODE");
      return;
    }
    if (!bulk_revoke.from.empty() || !bulk_revoke.to.empty() || !bulk_revoke.note.empty()) {
      code = Fail(duanka::ErrorKind::kInvalidInput,
                  "revoke: --from, --to and --note go with --batch or --issuer");
      return;
    }
    revoke.home = home;
    code = Revoke(revoke);
  });

  // list
  ListOptions list;
  CLI::App* list_cmd = app.add_subcommand("list", "entries held, with their state");
  list_cmd->add_option("--issuer", list.issuer, "only this issuer's entries");
  list_cmd->add_flag("--all", list.all, "also revoked and expired entries");
  list_cmd->add_flag("--json", list.json, "one JSON object per line");
  list_cmd->footer("Example: duanka-admin list --issuer BANKA --all");
  list_cmd->callback([&] {
    list.home = home;
    code = List(list);
  });

  // stats
  StatsOptions stats;
  CLI::App* stats_cmd = app.add_subcommand(
      "stats", "transparency report: counts per issuer, type, category, basis, month and reason");
  stats_cmd->add_flag("--json", stats.json, "one JSON object (shape: node/admin/README.md)");
  stats_cmd->footer("Example: duanka-admin --home /var/lib/duanka stats --json");
  stats_cmd->callback([&] {
    stats.home = home;
    code = Stats(stats);
  });

  // export / import
  ExportOptions exp;
  CLI::App* export_cmd =
      app.add_subcommand("export", "write a bundle of certificates and signed records");
  export_cmd->add_option("--out", exp.out, "the bundle file")->required();
  export_cmd->add_option("--issuer", exp.issuer, "only this issuer's feed");
  export_cmd->add_option("--from", exp.from, "first sequence number (default 1)");
  export_cmd->footer("Example: duanka-admin export --out banka.bundle --issuer BANKA --from 100");
  export_cmd->callback([&] {
    exp.home = home;
    code = Export(exp);
  });

  ImportOptions imp;
  CLI::App* import_cmd =
      app.add_subcommand("import", "verify and take in a bundle, exactly as from a peer");
  import_cmd->add_option("FILE", imp.file, "the bundle file")->required();
  import_cmd->footer("Example: duanka-admin import banka.bundle");
  import_cmd->callback([&] {
    imp.home = home;
    code = Import(imp);
  });

  AddApiClientCommands(app, home, code);     // api-client add|list|remove
  AddEvidenceCommands(app, home, code);      // evidence export|verify
  AddNoticeCommands(app, *pki, home, code);  // pki withdraw-key, withdraw-key, fork, reaffirm
  AddHoldCommands(app, home, code);          // hold list|release
  AddPolicyCommands(app, home, code);        // policy set|show
  AddAuditCommands(app, home, code);         // audit verify|export
  AddWatchCommands(app, home, code);         // watch [--batch]|remove|count
  AddProfileCommands(app, home, code);       // profile set|show

  // CLI11 only says "a subcommand is required" for a misspelt one; name it instead.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--home") {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known = known || sub->check_name(arg);
    if (!known) {
      std::cerr << "duanka-admin: unknown command \"" << OneLine(arg)
                << "\"; expected one of pki, pepper, init, report, revoke, list, stats, export, "
                   "import, api-client, evidence, hold, policy, audit, watch, profile\n";
      return kExitInvalid;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "duanka-admin: " << OneLine(e.what()) << "; see duanka-admin --help\n";
    return kExitInvalid;
  }
  return code;
}
