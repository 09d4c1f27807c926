// duanka hash TYPE VALUE: the canonical form and the subject under the current pepper epoch, for
// checking by hand what a record or another institution's tool holds. It reads no store, so it
// is not a lookup and writes no audit line.
#include <nlohmann/json.hpp>

#include "node/lookup/args.h"
#include "node/lookup/cli.h"
#include "node/lookup/home.h"
#include "node/lookup/text.h"

namespace duanka::lookup {

int RunHash(const HashOptions& o) {
  Result<protocol::IdType> type = ParseTypeArg(o.type);
  if (!type) return Fail(type.error());
  Result<std::string> canonical = protocol::Canonicalize(*type, o.value);
  if (!canonical) return Fail(canonical.error());
  Result<Home> home = OpenHome(o.home, kNeedPepper);
  if (!home) return Fail(home.error());
  const crypto::Pepper& pepper = *home->pepper;
  const uint32_t epoch = pepper.current_epoch();
  const std::string type_name(protocol::IdTypeName(*type));
  const std::string subject = pepper.Subject(epoch, type_name, *canonical).Hex();
  std::string out;
  if (o.json) {
    nlohmann::json j = {
        {"type", type_name}, {"canonical", *canonical}, {"epoch", epoch}, {"subject", subject}};
    out = j.dump() + "\n";
  } else {
    out = "type       " + type_name + "\ncanonical  " + *canonical + "\nepoch      " +
          std::to_string(epoch) + "\nsubject    " + subject + "\n";
  }
  if (!WriteAll(1, out)) return Fail(ErrorKind::kIo, "cannot write to stdout");
  return kExitListed;
}

}  // namespace duanka::lookup
