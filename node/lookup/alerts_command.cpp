// duanka alerts [--after ID] [--follow] [--json]: the store's alert log (a watched customer
// listed or cleared), read-only, in pages of node::kAlertPageSize. Resumable: the caller passes
// the last id it saw. With --follow it waits for new alerts until SIGINT or SIGTERM.
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "node/common/alerts.h"
#include "node/common/audit.h"
#include "node/lookup/cli.h"
#include "node/lookup/home.h"
#include "node/lookup/text.h"

namespace duanka::lookup {
namespace {

// How often --follow asks the store whether an alert was appended. A read of one key in a read
// transaction; 200 ms is well below how fast anyone acts on an alert.
constexpr struct timespec kFollowPollInterval = {0, 200'000'000};

volatile sig_atomic_t g_stop = 0;

extern "C" void OnStopSignal(int) {
  g_stop = 1;
}

// SIGINT and SIGTERM end --follow between pages, so that a page is never half printed after its
// audit line. No SA_RESTART: the wait's nanosleep returns at once.
void CatchStopSignals() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string HumanAlert(const store::Alert& a) {
  std::string refs;
  for (const std::string& r : a.refs) {
    if (!refs.empty()) refs += ',';
    refs += r;
  }
  char head[160];
  std::snprintf(head, sizeof head, "%-8llu %s  %-7s  %-18s %-13s %-13s %-14s",
                static_cast<unsigned long long>(a.id), CstMinute(a.at).c_str(),
                store::AlertKindName(a.kind), a.entry.ToString().c_str(),
                std::string(protocol::IdTypeName(a.id_type)).c_str(),
                std::string(protocol::CategoryName(a.category)).c_str(),
                std::string(protocol::BasisName(a.basis)).c_str());
  std::string line = head;
  line += " refs ";
  line += refs.empty() ? "-" : refs;
  if (!a.reason.empty()) line += "  reason " + a.reason;
  line += '\n';
  return line;
}

Result<uint64_t> ParseAfter(const std::string& text) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return MakeError(ErrorKind::kInvalidInput,
                     "--after: expected an alert id, a whole number (the id of the last alert "
                     "you saw; 0 for every alert)");
  }
  return v;
}

}  // namespace

int RunAlerts(const AlertsOptions& o) {
  uint64_t after = 0;
  if (o.after) {
    Result<uint64_t> parsed = ParseAfter(*o.after);
    if (!parsed) return Fail(parsed.error());
    after = *parsed;
  }
  Result<Home> home = OpenHome(o.home, kNeedStore);
  if (!home) return Fail(home.error());
  const std::string user = AuditUserName();
  const node::AuditLog audit(home->config.audit_log, home->config.institution);
  // Opened first: alerts that cannot be audited are not shown.
  if (duanka::Status opened = AuditLines(audit, {}); !opened) return Fail(opened.error());
  if (o.follow) CatchStopSignals();

  bool shown = false;
  for (;;) {
    Result<std::vector<store::Alert>> page = home->store->Alerts(after, node::kAlertPageSize);
    if (!page) return Fail(page.error());
    if (!page->empty()) {
      const std::string line =
          node::AlertDeliveryAuditJson(node::SystemNow(), kProgram, user, "alerts-read", *page) +
          "\n";
      if (duanka::Status audited = AuditLines(audit, line); !audited) {
        return Fail(audited.error());
      }
      std::string out;
      for (const store::Alert& a : *page) {
        out += o.json ? node::AlertJson(a) + "\n" : HumanAlert(a);
      }
      if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write to stdout");
      shown = true;
      after = page->back().id;
      if (page->size() == node::kAlertPageSize) continue;  // perhaps more at once
    }
    if (!o.follow) {
      if (!shown && !o.json && !WriteAll(1, "No alerts after " + std::to_string(after) + ".\n")) {
        return Fail(ErrorKind::kIo, "cannot write to stdout");
      }
      break;
    }
    // Up to date: wait until the store holds a newer alert, or a signal ends the wait.
    for (;;) {
      if (g_stop) return kExitListed;
      Result<uint64_t> last = home->store->LastAlertId();
      if (!last) return Fail(last.error());
      if (*last > after) break;
      struct timespec left = kFollowPollInterval;
      ::nanosleep(&left, nullptr);
    }
  }
  return kExitListed;
}

}  // namespace duanka::lookup
