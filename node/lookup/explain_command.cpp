// duanka explain TYPE VALUE: what to tell the person at the counter, in Chinese and English.
#include "node/common/audit.h"
#include "node/common/explain.h"
#include "node/common/lookup.h"
#include "node/lookup/args.h"
#include "node/lookup/cli.h"
#include "node/lookup/home.h"
#include "node/lookup/text.h"

namespace duanka::lookup {

int RunExplain(const ExplainOptions& o) {
  Result<protocol::IdType> type = ParseTypeArg(o.type);
  if (!type) return Fail(type.error());
  if (Result<std::string> canonical = protocol::Canonicalize(*type, o.value); !canonical) {
    return Fail(canonical.error());
  }
  Result<Home> home = OpenHome(o.home, kNeedPepper | kNeedStore);
  if (!home) return Fail(home.error());
  const int64_t now = node::SystemNow();
  const node::Lookuper lookuper(*home->store, *home->pepper);
  Result<node::LookupAnswer> answer = lookuper.Lookup(*type, o.value, now, /*details=*/true);
  if (!answer) return Fail(ErrorKind::kIo, answer.error().message);
  // Telling a person about their own listing is a look at it like any other: audited first.
  duanka::Status audited = AuditLookup(
      *home, node::LookupAuditJson(now, kProgram, AuditUserName(), node::Purpose::kAppeal, *type,
                                   answer->subject, answer->result(), "explain"));
  if (!audited) return Fail(audited.error());
  const std::string out = o.json ? node::ExplainJson(*answer, now) + "\n"
                                 : node::ExplainText(*answer, now, node::Language::kZh) + "\n" +
                                       node::ExplainText(*answer, now, node::Language::kEn);
  if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write the notice to stdout");
  return answer->listed() ? kExitListed : kExitNotListed;
}

}  // namespace duanka::lookup
