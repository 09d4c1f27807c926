#include "node/admin/batch_report_parse.h"

#include <utility>

#include "node/admin/batch_input.h"
#include "node/common/audit.h"
#include "protocol/identifier.h"

namespace duanka::admin::batch {
namespace {

// TYPE,VALUE,CATEGORY[,BASIS[,CASE_REF[,EXPIRES]]]
constexpr size_t kMinFields = 3;
constexpr size_t kMaxFields = 6;

const char* const kFormat = "TYPE,VALUE,CATEGORY[,BASIS[,CASE_REF[,EXPIRES]]]";

// Splits on commas. A field may be in double quotes (RFC 4180 style, "" for a quote inside), so
// that a case reference can hold commas; quoted fields never span lines. Surrounding spaces and
// tabs of every field are dropped. Returns a reason (never quoting the line) on failure.
std::optional<std::string> SplitFields(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  size_t i = 0;
  for (;;) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field.push_back(line[i++]);
      }
      if (!closed) return "a double quote is not closed";
      while (i < line.size() && IsBlank(line[i])) ++i;
      if (i < line.size() && line[i] != ',') return "text after a closing double quote";
    } else {
      size_t comma = line.find(',', i);
      size_t end = comma == std::string_view::npos ? line.size() : comma;
      field = std::string(Trim(line.substr(i, end - i)));
      i = end;
    }
    if (fields.size() == kMaxFields) {
      return "more than 6 fields; expected " + std::string(kFormat) +
             " (put a case reference that holds commas in double quotes)";
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return std::nullopt;
    ++i;  // the comma
  }
}

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPublished:
      return "published";
    case Outcome::kAlreadyListed:
      return "already-listed";
    case Outcome::kWithdrawn:
      return "withdrawn";
    case Outcome::kInvalid:
      return "invalid";
  }
  return "invalid";
}

LineParser::LineParser(const crypto::Pepper& pepper, int64_t now) : pepper_(pepper), now_(now) {
  for (uint32_t epoch : pepper.epochs()) {
    if (epoch != pepper.current_epoch()) earlier_epochs_.push_back(epoch);
  }
}

std::optional<bool> LineParser::Parse(uint64_t number, std::string_view line, Pending& pending,
                                      LineResult& invalid) {
  if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // Excel's BOM
  if (Trim(line).empty()) return std::nullopt;
  if (number == 1 && Lower(line.substr(0, 5)) == "type,") return std::nullopt;
  auto refuse = [&](std::string reason) {
    invalid = LineResult{number, Outcome::kInvalid, {}, std::move(reason)};
    return false;
  };
  if (std::optional<std::string> bad = SplitFields(line, fields_)) return refuse(*bad);
  if (fields_.size() < kMinFields) {
    return refuse("expected " + std::string(kFormat) + ", found " + std::to_string(fields_.size()) +
                  (fields_.size() == 1 ? " field" : " fields"));
  }
  std::optional<protocol::IdType> type = protocol::ParseIdType(Lower(fields_[0]));
  if (!type) {
    return refuse("TYPE: unknown identifier type; expected one of " +
                  protocol::IdTypeNames(/*new_reports_only=*/true));
  }
  if (!protocol::AcceptsNewReports(*type)) return refuse(protocol::NoNewReportsMessage(*type));
  // The message names the type and the reason, never the value.
  Result<std::string> canonical = protocol::Canonicalize(*type, fields_[1]);
  if (!canonical) return refuse(canonical.error().message);
  std::optional<protocol::Category> category = protocol::ParseCategory(Lower(fields_[2]));
  if (!category) return refuse("CATEGORY: expected one of " + protocol::AllCategoryNames());
  protocol::Basis basis = protocol::Basis::kInstitution;
  if (fields_.size() > 3 && !fields_[3].empty()) {
    std::optional<protocol::Basis> b = protocol::ParseBasis(Lower(fields_[3]));
    if (!b) return refuse("BASIS: expected one of " + protocol::AllBasisNames());
    basis = *b;
  }
  std::string case_ref;
  if (fields_.size() > 4) {
    case_ref = std::move(fields_[4]);
    if (case_ref.size() > protocol::kMaxCaseRefBytes) {
      return refuse("CASE_REF: longer than 64 bytes");
    }
    for (char c : case_ref) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return refuse("CASE_REF: holds a control character");
      }
    }
  }
  int64_t expires = 0;
  if (fields_.size() > 5 && !fields_[5].empty()) {
    Result<int64_t> parsed = node::ParseExpiryDate(fields_[5]);
    if (!parsed) {
      std::string why = parsed.error().message;
      if (why.starts_with("--expires: ")) why.erase(0, 11);
      return refuse("EXPIRES: " + why);
    }
    if (*parsed <= now_) return refuse("EXPIRES: the date has passed");
    if (*parsed - now_ > protocol::kMaxEntryLifetimeSeconds) {
      return refuse("EXPIRES: at most 10 years from today");
    }
    expires = *parsed;
  }
  pending.line = number;
  protocol::EntryBody& e = pending.entry;
  e.id_type = *type;
  e.pepper_epoch = pepper_.current_epoch();
  e.subject = pepper_.Subject(e.pepper_epoch, protocol::IdTypeName(*type), *canonical);
  pending.earlier_subjects.clear();
  for (uint32_t epoch : earlier_epochs_) {
    pending.earlier_subjects.push_back(
        pepper_.Subject(epoch, protocol::IdTypeName(*type), *canonical));
  }
  e.category = *category;
  e.basis = basis;
  e.expires_at = expires;
  e.case_ref = std::move(case_ref);
  return true;
}

}  // namespace duanka::admin::batch
