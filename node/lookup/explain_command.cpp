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
  // Telling a person about their own listing is a look at it like any other: audited first.
  Result<AuditedAnswer> looked =
      LookUpAudited(o.home, *type, o.value, node::Purpose::kAppeal, "explain");
  if (!looked) return Fail(looked.error());
  const node::LookupAnswer& answer = looked->answer;
  const int64_t now = looked->now;
  const std::string out = o.json ? node::ExplainJson(answer, now) + "\n"
                                 : node::ExplainText(answer, now, node::Language::kZh) + "\n" +
                                       node::ExplainText(answer, now, node::Language::kEn);
  if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write the notice to stdout");
  return answer.listed() ? kExitListed : kExitNotListed;
}

}  // namespace duanka::lookup
