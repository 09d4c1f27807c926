// duanka lookup TYPE VALUE: one identifier, one read of the store, one audit line, one answer.
#include <cstdio>

#include "node/common/audit.h"
#include "node/common/lookup.h"
#include "node/common/risk.h"
#include "node/lookup/args.h"
#include "node/lookup/cli.h"
#include "node/lookup/home.h"
#include "node/lookup/human.h"
#include "node/lookup/text.h"

namespace duanka::lookup {

int RunLookup(const LookupOptions& o) {
  // The command line is checked before HOME is touched, so a typing mistake is exit 2 even on
  // a machine without a node.
  Result<protocol::IdType> type = ParseTypeArg(o.type);
  if (!type) return Fail(type.error());
  Result<node::Purpose> purpose = ParsePurposeArg(o.purpose);
  if (!purpose) return Fail(purpose.error());
  // The audit line is written before the answer is shown: if it cannot be, there is no answer.
  Result<AuditedAnswer> looked = LookUpAudited(o.home, *type, o.value, *purpose, "lookup");
  if (!looked) return Fail(looked.error());
  const Home& home = looked->home;
  const node::LookupAnswer& answer = looked->answer;
  const int64_t now = looked->now;
  Result<std::vector<store::Head>> heads = home.store->Heads();
  if (!heads) return Fail(heads.error());
  // Held entries (the flood guard) are not listed: exit 1, with "held" in the answer.
  const bool listed = answer.listed();
  Result<node::GradingPolicy> policy = node::HeldPolicy(*home.store);
  if (!policy) return Fail(ErrorKind::kIo, policy.error().message);
  const node::GradingPolicy& local = home.config.local_grading;
  const node::RiskSummary risk = node::Summarize(
      answer.listings, now, *policy, local.purposes.empty() ? nullptr : &local, *purpose);

  std::string out = o.json ? node::AnswerJson(answer, o.all, &*heads, &risk) + "\n"
                           : HumanAnswer(answer, o.all, *heads, now);
  // The tier right below the verdict line, for a listed subject (unlisted ones have none).
  if (!o.json && risk.tier != node::Tier::kNone) {
    out.insert(out.find('\n') + 1, node::RiskLine(risk) + "\n");
  }
  if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write the answer to stdout");
  if (o.tier_exit) {
    if (risk.tier == node::Tier::kDeny) return kExitTierDeny;
    return risk.tier == node::Tier::kReview ? kExitTierReview : kExitTierOther;
  }
  return listed ? kExitListed : kExitNotListed;
}

}  // namespace duanka::lookup
